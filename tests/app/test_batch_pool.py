"""WorkerPool.run_idle, the way a large batch borrows a compute worker (app/routers/batch.py): real worker
processes. It takes a worker only when one is idle now and `keep` others stay idle, never while a `run` waits
for one, and never waits itself; a call it makes is held to its deadline (the worker killed and replaced) as
`run`'s are."""
from __future__ import annotations

import asyncio
import os
import time

import pytest

from app.core.workers import NoIdleWorker, WorkerPool, WorkerTimeout


def _run(coro):
    return asyncio.run(coro)


async def _pool(size: int) -> WorkerPool:
    pool = WorkerPool(size)
    await pool.start()
    return pool


def test_run_idle_takes_a_worker_only_while_keep_others_stay_idle():
    async def main():
        pool = await _pool(2)
        try:
            pid = await pool.run_idle(os.getpid, timeout=30, keep=1)  # two idle: one lent, one kept
            assert pid in {w.pid for w in pool._workers} and pid != os.getpid()
            busy = asyncio.create_task(pool.run(time.sleep, 1.0, timeout=30))  # another user holds one
            while pool.idle_count() != 1:
                await asyncio.sleep(0.01)
            assert not pool.lendable(1)
            with pytest.raises(NoIdleWorker):
                await pool.run_idle(os.getpid, timeout=30, keep=1)  # the last idle one stays the pool's
            assert pool.idle_count() == 1  # nothing was taken
            assert await pool.run_idle(os.getpid, timeout=30, keep=0) in {w.pid for w in pool._workers}
            await busy
        finally:
            await pool.close()

    _run(main())


def test_run_idle_takes_no_worker_while_a_run_waits_for_one():
    async def main():
        pool = await _pool(2)
        try:
            # the second holder far longer: only the first's worker comes back while the call waits (two back
            # at once let run_idle rightly take the second while the woken call still runs on the first)
            holders = [asyncio.create_task(pool.run(time.sleep, t, timeout=30)) for t in (0.5, 3.0)]
            while pool.idle_count():
                await asyncio.sleep(0.01)
            waiter = asyncio.create_task(pool.run(os.getpid, timeout=30))  # waits for a worker
            while not pool._waiting:
                await asyncio.sleep(0.01)
            refused = 0
            while not waiter.done():  # a worker back in the queue, not yet taken by the call woken for it
                if pool.idle_count():
                    try:
                        await pool.run_idle(os.getpid, timeout=30, keep=0)
                    except NoIdleWorker:
                        refused += 1
                    else:
                        assert waiter.done(), "run_idle took a worker while a run waited"
                await asyncio.sleep(0)
            assert refused and await waiter  # (the moment was seen, and the waiting call got its worker)
            await asyncio.gather(*holders)
        finally:
            await pool.close()

    _run(main())


def test_a_run_idle_call_past_its_deadline_gets_its_worker_killed_and_replaced():
    async def main():
        pool = await _pool(2)
        try:
            before = {w.pid for w in pool._workers}
            with pytest.raises(WorkerTimeout):
                await pool.run_idle(time.sleep, 30, timeout=0.3, keep=0)
            while pool.stats()["alive"] < 2 or pool.idle_count() < 2:  # the replacement starts
                await asyncio.sleep(0.05)
            after = {w.pid for w in pool._workers}
            assert pool.restarts == 1 and len(before - after) == 1
            killed = (before - after).pop()
            with pytest.raises(ProcessLookupError):
                os.kill(killed, 0)  # reaped, gone
            assert await pool.run_idle(os.getpid, timeout=30, keep=0) in after
        finally:
            await pool.close()

    _run(main())
