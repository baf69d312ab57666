"""Dead compute workers are replaced when they die, not when next used (issue 14, item 8): the pool watches
its idle workers, and a server whose idle worker was killed answers every request that follows."""
from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
import uvloop

from app.core.workers import WorkerPool
from app.examples import EXAMPLES
from tests.app.conftest import Server, children, pid_state, wait_until

WAIT_S = 30  # how long the tests wait for the pool to notice (never a time assertion)


async def _until(cond, timeout: float = WAIT_S) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond() and loop.time() < end:
        await asyncio.sleep(0.02)
    return cond()


def test_an_idle_worker_that_dies_is_reaped_and_replaced_without_a_call():
    async def main():
        pool = WorkerPool(2)
        await pool.start()
        try:
            pids = [p["pid"] for p in pool.stats()["processes"]]
            os.kill(pids[0], signal.SIGKILL)
            # no call is made: the pool notices the death by itself
            assert await _until(lambda: pool.stats()["restarts"] == 1), pool.stats()
            assert await _until(lambda: pool.stats()["idle"] == 2 and pool.stats()["alive"] == 2), pool.stats()
            now = [p["pid"] for p in pool.stats()["processes"]]
            assert pids[0] not in now and pids[1] in now
            assert pid_state(pids[0]) is None  # reaped: no zombie
            # every call lands on a live worker
            got = await asyncio.gather(*(pool.run(os.getpid, timeout=10) for _ in range(6)))
            assert set(got) <= set(now)
        finally:
            await pool.close()

    asyncio.run(main())


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_watch_leaves_replies_of_any_size_alone(loop):
    """The server runs on uvloop, whose add_reader makes a descriptor non-blocking: a watch on the worker's
    socket made every reply longer than one read fail (EAGAIN in the waiting thread: a 500, the worker
    killed). The watch is on the pidfd; replies of every size come back, on either loop."""
    async def main():
        pool = WorkerPool(1)
        await pool.start()
        try:
            for n in (10, 1 << 20, 16 << 20, 3 << 20, 10):
                assert len(await pool.run(bytes, n, timeout=WAIT_S)) == n
            assert pool.stats()["restarts"] == 0
        finally:
            await pool.close()

    (uvloop.run if loop == "uvloop" else asyncio.run)(main())


def test_a_worker_that_died_just_before_a_call_is_not_used():
    """Killed and the call made at once, before the watch can run: the call checks the worker it takes."""
    async def main():
        pool = WorkerPool(1)
        await pool.start()
        try:
            (pid,) = [p["pid"] for p in pool.stats()["processes"]]
            os.kill(pid, signal.SIGKILL)
            # dead, as far as the kernel goes (the loop is held, so the watch cannot run): its exit can be waited
            # for (WNOWAIT: left for the pool to reap). Not "Z" in /proc: a worker has threads, and its leader
            # shows Z while the others still exit, when it is not yet dead to waitpid (so not to the pool's check)
            # and a call sent then meets a worker that dies under it (WorkerDied, as it should).
            end = time.monotonic() + WAIT_S
            while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None and time.monotonic() < end:
                time.sleep(0.01)
            assert pid_state(pid) == "Z"  # exited, not reaped yet
            assert await pool.run(os.getpid, timeout=WAIT_S) != pid
            assert pool.stats()["restarts"] == 1
        finally:
            await pool.close()

    asyncio.run(main())


def test_a_server_whose_idle_worker_was_killed_answers_every_request():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "2", "GRADSERVE_ACCESS_LOG": "false"})
    try:
        workers = sorted(children(s.proc.pid))
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        assert wait_until(lambda: pid_state(workers[0]) is None and len(children(s.proc.pid)) == 2, WAIT_S)
        program = EXAMPLES["x_matmul_x"]["value"]  # runs in a compute worker
        for _ in range(4):
            r = s.client.post("/v1/evaluate", json=program)
            assert r.status_code == 200, r.text
        # and answers of several MB, which come back from a worker in many reads
        big = {"ops": [{"name": "x", "op": "ones", "args": [1000, 1000]},
                       {"name": "y", "op": "matmul", "args": ["x", "x"]}], "outputs": ["x"]}
        for _ in range(3):
            r = s.client.post("/v1/evaluate", json=big)
            assert r.status_code == 200 and len(r.json()["tensors"]["x"]["data"]) == 1000, r.text[:300]
        assert 'gradserve_compute_worker_restarts_total 1.0' in s.client.get("/metrics").text
    finally:
        s.stop()
