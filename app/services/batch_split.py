"""The server's side of a batch answered partly by a compute worker (POST /v1/evaluate/batch, app/routers/batch.py):
when a batch may take a worker and how much of it (a chunk's rows: _tail_rows; the rest of a body's text:
_split), the worker's call (_part: columns in; _part_text: the body's rest in, through the call's memory file)
and its answers taken from that file where the worker wrote them (_read_part: a read-only mapping of the file,
kept with it from batch to batch; no copy until the batch's answer is joined). The worker's side is
app/services/batch_part.py; how a batch uses the pool, docs/RELIABILITY.md ("A batch and the compute pool")."""
from __future__ import annotations

import mmap
import os
import time

from app.core.workers import NoIdleWorker
from app.services import engine as eng
from app.services.batch_part import answer_part, answer_text
from engine.program import batch_text
from engine.program.batch import vectorizable
from engine.program.batch_write import Written


def _program_and_chunk(service, key, count: int):
    """The service's program of a structure and how many of its `count` documents one vectorized run takes;
    n < 2 where none runs vectorized: the first documents of a structure run alone (they record and lower its
    program), and a program found not to vectorize is decided once (its notes): no columns read nor thread taken
    for each of its documents."""
    program = eng.PLANS.get(key)
    if program is None or not program.lowered or not vectorizable(program):
        return program, 0
    return program, service.chunk_size(program, count)


def _split(service, body: bytes, t, pos: int):
    """Where the scan of a batch's body may stop, leaving the rest of a run of template t's documents from pos on
    to a compute worker (batch_text.scan's `split`; the worker reads them: batch_part.answer_text): at about
    _WORKER_SHARE of the text left (_WORKER_SHARE_BUSY beside another batch in flight), where at least
    SPLIT_MIN_ROWS documents of t seem to be left, t's program is lowered and vectorizes here in one chunk of
    that many, and a worker may be lent (as _tail_rows); else None."""
    pool = service.pool
    if not TEXT_SPLIT or pool is None or not hasattr(os, "memfd_create") or not pool.lendable(_KEEP_IDLE):
        return None
    first = (t.lax_next or t.next).match(body, pos)
    if first is None or (len(body) - pos) < SPLIT_MIN_ROWS * (first.end() - pos):
        return None
    program, n = _program_and_chunk(service, t.key, 1024)
    if n < 1024 or not service.vectorizes(t.doc):
        return None
    return batch_text.split_at(body, t, pos, _WORKER_SHARE_BUSY if _IN_FLIGHT[0] > 1 else _WORKER_SHARE)


async def _part_text(service, body: bytes, tail: tuple, n: int, state: dict):
    """The answers of the documents of the rest of the body (from tail's position: batch_text.Scan.tail) from a
    compute worker (batch_part.answer_text: it reads them, as documents of tail's template), as _part; None
    where it answered nothing."""
    t, at = tail
    s = service.settings
    deadline = time.monotonic() + s.time_limit_s
    fd = _TEXT_FILES.pop() if _TEXT_FILES else os.memfd_create("gradserve-batch-text", os.MFD_CLOEXEC)
    keep = False
    try:
        view = memoryview(body)[at:]
        done = 0
        while done < len(view):
            done += os.pwrite(fd, view[done:], done)
        try:
            got = await service.pool.run_idle(
                answer_text, t.fresh(), len(view), s.max_batch_documents - n, 1024, _WRAP, service.limits,
                s.plan_cache_entries, deadline, s.max_process_bytes, f"/proc/{os.getpid()}/fd/{fd}",
                s.max_batch_response_bytes, timeout=max(deadline - time.monotonic(), 0.001) + _KILL_GRACE_S,
                keep=_KEEP_IDLE)
        except NoIdleWorker:
            keep = True  # (nothing was sent: the file holds only the text)
            return None
        out = _read_part(fd, got, None)
        keep = True
        if out is not None and _hold(state, fd, _TEXT_FILES):
            fd = -1  # the batch's until its answer is joined (_give_back)
        return out
    finally:
        if fd >= 0:
            _release(fd, _TEXT_FILES, keep)




def _observe(task) -> None:
    if not task.cancelled():
        task.exception()




# A vectorized chunk of at least this many documents is split with a compute worker (app/services/batch_part.py)
# where one is free: below it the hand-off (~0.3-0.5 ms of this process's time: the call, the memory file's read,
# the worker's own check run) costs more than the half of the run it saves (docs/runs/batch5.md).
SPLIT_MIN_ROWS = 512
# A batch takes at most one compute worker, only one idle now, and only while this many others stay idle for the
# pool's other users (/v1/evaluate requests, transforms); else its whole chunk runs here (never waits for one).
_KEEP_IDLE = 1
# The share of a split chunk's rows (or of a body's text left: _split) the worker answers (the rest run here at the
# same time): 0.6, as this process also reads and writes the whole batch over HTTP and joins its answer (over one
# connection 0.6 gave 1.13x and 1.26x share 0.5's docs/s, 0.75 0.79x: docs/runs/batch6.md); while another batch
# is in flight in this process (_IN_FLIGHT), _WORKER_SHARE_BUSY: the server's CPU then bounds the batches'
# throughput, and the whole chunk in the worker takes ~2 ms of it off a batch (docs/runs/batch5.md).
_WORKER_SHARE = 0.6
_WORKER_SHARE_BUSY = 1.0
_IN_FLIGHT = [0]  # batches being answered by this process now
# Whether a body's text is split (_split) at all; False: only chunks are (batch5's split). On the loaded machine of
# batch6 the text split took 0.3-2 ms a batch off the server's own CPU and added ~1.5 ms to the workers', and gave
# 0.78-0.99x main's docs/s in all seven A/Bs (docs/runs/batch6.md): to be decided on a quiet machine.
TEXT_SPLIT = True


def _tail_rows(service, n: int, state: dict) -> int:
    """How many of a chunk's n rows a compute worker answers: half, where the chunk is large enough, there is a
    pool with a worker it may take (WorkerPool.run_idle's rule), memory files exist (Linux), and no part of this
    batch failed in a worker; else 0."""
    pool = service.pool
    if n < SPLIT_MIN_ROWS or pool is None or not state.get("split", True) or not hasattr(os, "memfd_create"):
        return 0
    if not pool.lendable(_KEEP_IDLE):
        return 0
    return int(n * (_WORKER_SHARE_BUSY if _IN_FLIGHT[0] > 1 else _WORKER_SHARE))


async def _part(service, t, columns: list, k: int, state: dict):
    """The answers of k rows of template t (their columns) from a compute worker (batch_part.answer_part), as a
    Written of one piece a document (views of the text it wrote); None where it answered nothing (no worker
    free, did not vectorize, past the response limit); raises past the deadline (its worker killed) or where it
    died."""
    s = service.settings
    deadline = time.monotonic() + s.time_limit_s
    fd = _FILES.pop() if _FILES else os.memfd_create("gradserve-batch", os.MFD_CLOEXEC)
    keep = False
    try:
        try:
            got = await service.pool.run_idle(
                answer_part, t.doc, columns, t.arrays(columns, 0), k, _WRAP, service.limits, s.plan_cache_entries,
                deadline, s.max_process_bytes, f"/proc/{os.getpid()}/fd/{fd}", s.max_batch_response_bytes,
                timeout=max(deadline - time.monotonic(), 0.001) + _KILL_GRACE_S, keep=_KEEP_IDLE)
        except NoIdleWorker:
            keep = True  # (nothing was sent)
            return None
        out = _read_part(fd, got, k)
        keep = out is not None
        if keep and _hold(state, fd, _FILES):
            fd = -1  # the batch's until its answer is joined (_give_back)
        return out
    finally:
        if fd >= 0:
            _release(fd, _FILES, keep)


def _read_part(fd: int, got, k: int | None):
    """A worker's answers (answer_part's reply `got`: their sizes and total bytes, written into the file fd),
    where it wrote them: a Written of one piece a document (views of a read-only mapping of the file, _mapped);
    None where it answered nothing, or not k documents (any number where k is None), or the file holds fewer
    bytes. The views are read until the batch's answer is joined: the file is the batch's until then (_hold)."""
    if got is None:
        return None
    sizes, total = got
    wrapped = len(_WRAP[0]) + len(_WRAP[1])
    if (k is not None and len(sizes) != k) or not sizes or sum(sizes) + len(sizes) * wrapped != total:
        return None
    view = _mapped(fd, total)
    if view is None:
        return None
    return Written(None, 1, sizes, [], _WRAP, view)  # (its pieces, a view a document, made only where needed)


def _mapped(fd: int, total: int):
    """The first `total` bytes of memory file fd, as a read-only view of a shared mapping of it (kept in _MAPS
    with the file: a file reused from batch to batch is mapped once, its pages then read in place with no
    fault: a read of 2.8 MB into a buffer, preadv, cost ~0.35-0.7 ms of this process's CPU, the same bytes in
    place ~0); None where the file holds fewer bytes. The mapping is made again where the file grew past it
    (the old one unmapped once nothing views it) or is another file's (the descriptor's number reused)."""
    st = os.fstat(fd)
    if st.st_size < total:
        return None
    known = _MAPS.get(fd)
    if known is None or known[0] != st.st_ino or len(known[1]) < total:
        known = _MAPS[fd] = (st.st_ino, mmap.mmap(fd, st.st_size, mmap.MAP_SHARED, mmap.PROT_READ))
    return memoryview(known[1])[:total]


def _hold(state: dict, fd: int, pool: list) -> bool:
    """File fd, whose mapping the batch's answer views, kept for the batch until its answer is joined
    (_give_back puts it back in `pool` or closes it); False where the batch is over already (its answer joined
    or dropped: nothing will read the views, and the caller gives it back itself)."""
    if state.get("over"):
        return False
    state.setdefault("files", []).append((fd, pool))
    return True


def _release(fd: int, pool: list, keep: bool) -> None:
    """A memory file done with: kept in `pool` for the next calls (`keep`, while the pool has room and the
    file is at most _SPARE_BYTES), else closed (its mapping dropped: unmapped once nothing views it)."""
    if keep and len(pool) < _SPARE_MAX:
        try:
            keep = os.fstat(fd).st_size <= _SPARE_BYTES
        except OSError:
            keep = False
        if keep:
            pool.append(fd)
            return
    _MAPS.pop(fd, None)
    os.close(fd)


# Memory files the workers write their answers into (memfd), reused from batch to batch: a fresh one's pages are
# allocated and zeroed by the worker's write (~0.6 ms for 1.4 MB), a used one's only copied into, and its
# mapping here (_MAPS) is made once. One is a call's from before it is sent until the batch's answer is joined
# (_hold, _give_back: the answer reads the worker's answers in place); the worker killed mid-write leaves a file
# the next call overwrites (it reads only the `total` bytes its own call reports). _SPARE_MAX are kept, none
# past _SPARE_BYTES.
_FILES: list[int] = []
_TEXT_FILES: list[int] = []  # the same for a worker's part of a body's text (_part_text): the text, then the answers
_MAPS: dict[int, tuple] = {}  # per kept or held file: (its inode, a read-only shared mapping of it)
_SPARE_MAX = 2
_SPARE_BYTES = 8 << 20


def _give_back(state: dict) -> None:
    """The batch's memory files, its answer joined or dropped (nothing of it reads them any more): kept for the
    next batches, or closed. Called once a batch, whatever way it ends; a worker's part that comes back later
    gives its file back itself (_hold)."""
    state["over"] = True
    for fd, pool in state.pop("files", ()):
        _release(fd, pool, True)


_KILL_GRACE_S = 0.5  # as EvaluateService kills a worker past a request's deadline




_WRAP = (b'{"status":200,"body":', b"},")  # each document's answer in the batch's, as evaluate_batch writes it
