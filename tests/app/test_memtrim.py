"""A compute worker gives back what a big call freed (app/core/memtrim.py; redteam10 O1): glibc keeps freed memory in
its arenas, and a worker idled at 539 MiB after one request. Real worker processes (app.core.workers.WorkerPool),
their memory read from /proc; the same call with GRADSERVE_MALLOC_TRIM=0 shows what the worker keeps without it."""
from __future__ import annotations

import asyncio
import platform
import resource
import threading
from pathlib import Path

import pytest

from app.core import memtrim
from app.core.workers import WorkerPool
from tests.app.conftest import TEST_KEY, Server, wait_until

MiB = 1 << 20
pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")


def _bloat() -> int:
    """In the worker: ~400 MB of 100 KB blocks allocated by four threads, 2% kept (as a request's leftovers keep
    pieces of its arenas), the rest freed; the worker's RSS (bytes) before it returns."""
    kept: list = []

    def work():
        blocks = [bytes(100_000) + b"x" for _ in range(1000)]
        kept.append(blocks[::50])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _bloat.kept = kept  # lives on in the worker, as a cache would
    return _rss(None)


def _rss(pid: int | None) -> int:
    for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _after_big_call(monkeypatch, trim: str) -> tuple[int, int, int]:
    """(RSS before, inside the call, and after it settled) of a fresh worker making one big call."""
    monkeypatch.setenv("GRADSERVE_MALLOC_TRIM", trim)

    async def main():
        pool = WorkerPool(1)
        await pool.start()
        try:
            pid = pool.stats()["processes"][0]["pid"]
            base = _rss(pid)
            inside = await pool.run(_bloat, timeout=60)
            # after its reply the worker trims (or not) before it waits for the next call: wait for that
            await pool.run(int, timeout=60)
            return base, inside, _rss(pid)
        finally:
            await pool.close()

    return asyncio.run(main())


def test_a_worker_gives_back_what_a_big_call_freed(monkeypatch):
    base, inside, after = _after_big_call(monkeypatch, "0")
    # (the 400 MB the threads allocate leave 280-350 MiB mapped, by how they interleave in the pinned worker's
    # one arena: a fresh clone's loaded run saw 287, so the bars are 200)
    assert inside - base > 200 * MiB, (base, inside)  # the call did bloat the worker
    assert after - base > 200 * MiB, (base, after)  # and, untrimmed, the worker keeps it
    base, inside, after = _after_big_call(monkeypatch, "1")
    assert inside - base > 200 * MiB, (base, inside)
    assert after - base < 64 * MiB, f"worker RSS {base / MiB:.0f} -> {inside / MiB:.0f} -> {after / MiB:.0f} MiB"


def _churn(rounds: int = 6) -> list[int]:
    """In the worker: a call's pattern of large blocks (two of 3 and 1 MB, their 4 MB join, one of 2 MB: 10 MB at
    once, as a batch call's body text, scan and answers' join), freed, `rounds` times; the minor page faults of
    each round."""
    out = []
    for _ in range(rounds):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = b"x" * (3 * MiB)
        b = b"y" * MiB
        c = a + b
        d = b"z" * (2 * MiB)
        del a, b, c, d
        out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return out


def _faults_of_churn(monkeypatch, pin: str) -> list[int]:
    monkeypatch.setenv("GRADSERVE_WORKER_HEAP", pin)
    for var in memtrim._OWN_SETTINGS:
        monkeypatch.delenv(var, raising=False)

    async def main():
        pool = WorkerPool(1)
        await pool.start()
        try:
            return await pool.run(_churn, timeout=60)
        finally:
            await pool.close()

    return asyncio.run(main())


def test_a_worker_keeps_its_heap_top_between_calls(monkeypatch):
    """A compute worker's allocator thresholds are pinned (memtrim.pin_worker_heap): a call's 10 MB of large blocks,
    freed, are not given back and faulted in again each time (docs/runs/batch10.md: ~590 faults a batch call at
    ~3.2 us each on glibc's own thresholds, which follow the largest block freed and trim past twice it)."""
    own = _faults_of_churn(monkeypatch, "0")
    assert sum(own[2:]) > 4 * 2000, own  # glibc's own: ~2,500 faults a round, every round
    pinned = _faults_of_churn(monkeypatch, "1")
    assert sum(pinned[2:]) < 200, pinned  # pinned: the first round's pages are used again


def test_a_pinned_worker_still_gives_back_a_big_requests_memory():
    """Over HTTP: a request of ~150 MB of 25 MB tensors (each under the pinned 32 MiB mmap threshold, so from the
    worker's heap) runs in the compute worker; afterwards the worker's RSS comes back within TRIM_ABOVE_BYTES (64
    MiB, also the pinned trim threshold) of what it held before, plus slack."""
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1"}, api_key=TEST_KEY)
    try:
        pid = s.worker_pids()[0]
        ops = [{"name": "x", "op": "ones", "args": [2500, 2500]}]
        ops += [{"name": f"y{i}", "op": "mul" if i % 2 else "add", "args": [f"y{i - 1}" if i else "x", 2.0]}
                for i in range(5)]
        ops.append({"name": "s", "op": "sum", "args": ["y4"]})
        before = _rss(pid)
        r = s.client.post("/v1/evaluate", json={"ops": ops, "outputs": ["s"]})
        assert r.status_code == 200, r.text
        assert s.worker_pids() == [pid]  # the worker lives on
        grew = [0]

        def back() -> bool:  # (the worker trims after its reply, before it reads its next call)
            grew[0] = _rss(pid) - before
            return grew[0] < memtrim.TRIM_ABOVE_BYTES + 32 * MiB

        assert wait_until(back, 10), f"the worker's RSS grew {grew[0] / MiB:.0f} MiB and stayed"
    finally:
        s.stop()
