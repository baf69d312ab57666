"""A compute worker gives back what a big call freed (app/core/memtrim.py; redteam10 O1): glibc keeps freed memory in
its arenas, and a worker idled at 539 MiB after one request. Real worker processes (app.core.workers.WorkerPool),
their memory read from /proc; the same call with GRADSERVE_MALLOC_TRIM=0 shows what the worker keeps without it."""
from __future__ import annotations

import asyncio
import platform
import threading
from pathlib import Path

import pytest

from app.core.workers import WorkerPool

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
    assert inside - base > 300 * MiB, (base, inside)  # the call did bloat the worker
    assert after - base > 300 * MiB, (base, after)  # and, untrimmed, the worker keeps it
    base, inside, after = _after_big_call(monkeypatch, "1")
    assert inside - base > 300 * MiB, (base, inside)
    assert after - base < 64 * MiB, f"worker RSS {base / MiB:.0f} -> {inside / MiB:.0f} -> {after / MiB:.0f} MiB"
