"""The killable worker pool, with trivial callables from the standard library."""
from __future__ import annotations

import asyncio
import operator
import os
import time

import pytest

from app.core.workers import WorkerDied, WorkerPool, WorkerTimeout
from tests.app.conftest import pid_state, wait_until


def run(coro):
    return asyncio.run(coro)


async def started(size: int = 2) -> WorkerPool:
    pool = WorkerPool(size)
    await pool.start()
    return pool


def test_calls_run_in_the_workers_and_exceptions_come_back():
    async def main():
        pool = await started()
        try:
            pids = {p["pid"] for p in pool.stats()["processes"]}
            assert len(pids) == 2 and os.getpid() not in pids
            assert await pool.run(os.getpid, timeout=5) in pids
            with pytest.raises(ZeroDivisionError) as exc:
                await pool.run(operator.truediv, 1, 0, timeout=5)
            assert any("in compute worker" in n for n in exc.value.__notes__)
            assert {p["pid"] for p in pool.stats()["processes"]} == pids  # an exception costs no worker
            assert pool.stats()["restarts"] == 0
        finally:
            await pool.close()
        return pids

    pids = run(main())
    assert not any(pid_state(p) for p in pids)  # stopped and reaped


def test_timeout_kills_the_worker_and_others_go_on():
    async def main():
        pool = await started()
        try:
            t0 = time.monotonic()
            slow = asyncio.create_task(pool.run(time.sleep, 30, timeout=1.0))
            await asyncio.sleep(0.2)
            busy = [p["pid"] for p in pool.stats()["processes"] if p["busy"]]
            assert len(busy) == 1
            # The other worker answers while the first is stuck.
            assert await pool.run(operator.add, 2, 3, timeout=5) == 5
            assert time.monotonic() - t0 < 1.0
            with pytest.raises(WorkerTimeout, match="time limit of 1 s"):
                await slow
            assert time.monotonic() - t0 < 3.0
            # answered at once; killed, then reaped (no zombie) and replaced meanwhile
            for _ in range(200):
                if pid_state(busy[0]) is None and pool.stats()["restarts"] == 1:
                    break
                await asyncio.sleep(0.05)
            assert pid_state(busy[0]) is None
            assert pool.stats()["restarts"] == 1
            # The replacement comes up and the pool is whole again.
            for _ in range(100):
                if pool.stats()["alive"] == 2 and pool.stats()["idle"] == 2:
                    break
                await asyncio.sleep(0.05)
            assert busy[0] not in [p["pid"] for p in pool.stats()["processes"]]
            assert await pool.run(operator.mul, 6, 7, timeout=5) == 42
        finally:
            await pool.close()

    run(main())


def test_a_worker_that_dies_mid_call_is_replaced():
    async def main():
        pool = await started(1)
        try:
            (before,) = [p["pid"] for p in pool.stats()["processes"]]
            with pytest.raises(WorkerDied) as exc:
                await pool.run(os._exit, 3, timeout=5)
            assert exc.value.pid == before and exc.value.exitcode == 3
            assert await pool.run(os.getpid, timeout=10) != before
        finally:
            await pool.close()

    run(main())


def test_waiting_for_a_free_worker_counts_against_the_time_limit():
    async def main():
        pool = await started(1)
        try:
            busy = asyncio.create_task(pool.run(time.sleep, 2, timeout=5))
            await asyncio.sleep(0.1)
            with pytest.raises(WorkerTimeout, match="no compute worker became free"):
                await pool.run(os.getpid, timeout=0.3)
            assert await busy is None
        finally:
            await pool.close()

    run(main())


def test_close_ends_busy_workers_too():
    async def main():
        pool = await started(1)
        pids = [p["pid"] for p in pool.stats()["processes"]]
        task = asyncio.create_task(pool.run(time.sleep, 30, timeout=60))
        await asyncio.sleep(0.2)
        await pool.close()
        with pytest.raises(WorkerDied):
            await task
        return pids

    pids = run(main())
    assert wait_until(lambda: not any(pid_state(p) for p in pids), 5)
