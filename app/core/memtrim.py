"""Memory the allocator keeps after big requests, given back to the system (redteam10 O1).

glibc's malloc keeps what a process freed in its arenas (its mmap threshold rises to the largest block freed, up to
32 MiB, so later blocks of that size come from the arenas, and a freed arena is given back only from its top):
after big requests a server idled at 467-522 MiB and a compute worker at 539 MiB, and the budgets, which count
charges, not RSS, let the next requests add their whole budget on top. `malloc_trim(0)` gives the free pages of
every arena back (madvise), at a cost that grows with what it gives back: 0.5 ms where there is nothing, ~0.7 s for
1.1 GB freed by four threads (2026-12-07, load 10; docs/runs/safeG.md), each arena locked while it is trimmed. So
it runs only where a process holds TRIM_ABOVE_BYTES more than it had when it started (`mark`) and than its requests
are charged for now (engine.budget.PROCESS.live): memory its requests freed and the allocator kept. It is asked
after a compute worker's call (`after_call`: one pread of /proc/self/statm on a file kept open, ~1.4 us, against
the ms a worker's call costs) and after a server's batch whose answers held a MiB or more (`after_batch`, in a
thread, one at a time: the event loop's own allocations wait only while the main arena is trimmed); never on the
server's small-request path. Off where the C library is not glibc (`_TRIM` None) and with GRADSERVE_MALLOC_TRIM=0.

A compute worker also pins glibc's two thresholds at its start (`pin_worker_heap`, mallopt): M_MMAP_THRESHOLD at
32 MiB and M_TRIM_THRESHOLD at 64 MiB, the ceilings glibc's own dynamic rule may reach. On the defaults a worker
gave its heap's top back after each batch call (the threshold follows the largest block freed, the trim threshold
twice it, and a call frees several 0.3-2.8 MB blocks at once) and faulted it in again in the next: 134-378 minor
faults a lent batch at ~3.2 us each on the test VM (docs/runs/batch9.md, batch10.md). Pinned, the worker keeps up
to 64 MiB of free heap top between calls, and `after_call` still trims all that a call freed past TRIM_ABOVE_BYTES
(malloc_trim does not heed the trim threshold). It also pins M_ARENA_MAX at 1: malloc_trim gives back the free
pages inside every arena but the top of the main arena's only (a thread's arena shrinks its top only in free(),
past the trim threshold), so with 64 MiB pinned each thread arena would keep up to that much out of the trim's
reach; in one arena every thread's frees are the trim's (a worker runs its calls in one thread; its BLAS threads
allocate their own buffers). Not in the server process (batch3: at par there). Off with GRADSERVE_WORKER_HEAP=0,
where glibc's own MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / MALLOC_ARENA_MAX / GLIBC_TUNABLES are set (the
operator's choice wins), and where the C library is not glibc.
"""
from __future__ import annotations

import asyncio
import ctypes
import os
import platform

from engine import budget

TRIM_ABOVE_BYTES = 64 << 20


def _libc_trim():
    if os.environ.get("GRADSERVE_MALLOC_TRIM", "1") == "0" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


_TRIM = _libc_trim()
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc's malloc.h
WORKER_MMAP_THRESHOLD = 32 << 20  # HEAP_MAX_SIZE / 2 on 64-bit: the most glibc takes
WORKER_TRIM_THRESHOLD = 64 << 20
_OWN_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "GLIBC_TUNABLES")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_BASE = [0]  # the process's RSS at `mark`
_FD = [-1]  # /proc/self/statm, kept open (a fresh open() of it costs ~60 us, a pread ~1.4 us)
_RUNNING = [False]  # a server trim in its thread
TRIMS = [0]  # trims run in this process (for tests and the run log)
BATCH_MIN_BYTES = 1 << 20  # a server batch whose answers held less asks nothing


def rss_bytes() -> int:
    """This process's resident set now (/proc/self/statm), 0 where it cannot be read."""
    try:
        if _FD[0] < 0:
            _FD[0] = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        return int(os.pread(_FD[0], 128, 0).split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def pin_worker_heap() -> bool:
    """A compute worker's allocator thresholds pinned (module docstring); whether they were."""
    if (os.environ.get("GRADSERVE_WORKER_HEAP", "1") == "0" or platform.libc_ver()[0] != "glibc"
            or any(os.environ.get(k) for k in _OWN_SETTINGS)):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, 1)) and bool(mallopt(_M_MMAP_THRESHOLD, WORKER_MMAP_THRESHOLD)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, WORKER_TRIM_THRESHOLD))


def mark() -> None:
    """The process's RSS now is its base (at import, and a compute worker once what it preloads is loaded)."""
    if _TRIM is not None:
        _BASE[0] = rss_bytes()


def after_call() -> bool:
    """Trim where the process holds TRIM_ABOVE_BYTES more than its base and its requests' charges; whether it did."""
    if _TRIM is None or _BASE[0] <= 0:
        return False
    if rss_bytes() - budget.PROCESS.live < _BASE[0] + TRIM_ABOVE_BYTES:
        return False
    _TRIM(0)
    TRIMS[0] += 1
    return True


def after_batch(held: int) -> None:
    """After a server batch whose answers held `held` bytes at most: after_call in a thread, where none runs."""
    if held < BATCH_MIN_BYTES or _TRIM is None or _RUNNING[0]:
        return
    _RUNNING[0] = True

    def run():
        try:
            after_call()
        finally:
            _RUNNING[0] = False

    try:
        asyncio.get_running_loop().run_in_executor(None, run)
    except RuntimeError:  # no loop: not in a server
        _RUNNING[0] = False


mark()
