"""The server's side of a batch answered partly by a compute worker (POST /v1/evaluate/batch, app/routers/batch.py):
when a batch may take a worker and how much of it (a chunk's rows: _tail_rows; the rest of a body's text:
_split), the worker's call (_part: columns in; _part_text: the body's rest in, through the call's memory file)
and the read of its answers back from that file (_read_part) into buffers reused from batch to batch. The
worker's side is app/services/batch_part.py; how a batch uses the pool, docs/RELIABILITY.md ("A batch and the
compute pool")."""
from __future__ import annotations

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
            return None
        out = _read_part(fd, got, None, state)
        keep = len(view) <= _SPARE_BYTES and (out is None or got[1] <= _SPARE_BYTES) and len(_TEXT_FILES) < _SPARE_MAX
        return out
    finally:
        if keep:
            _TEXT_FILES.append(fd)
        else:
            os.close(fd)




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
            return None
        out = _read_part(fd, got, k, state)
        keep = out is not None and got[1] <= _SPARE_BYTES and len(_FILES) < _SPARE_MAX  # (read: the next call
        return out  # may write it again)
    finally:
        if keep:
            _FILES.append(fd)
        else:
            os.close(fd)


def _read_part(fd: int, got, k: int | None, state: dict):
    """A worker's answers (answer_part's reply `got`: their sizes and total bytes, written into the file fd),
    read into one of this batch's buffers: a Written of one piece a document (views of the buffer); None where
    it answered nothing, or not k documents (any number where k is None), or too many bytes to keep a buffer."""
    if got is None:
        return None
    sizes, total = got
    wrapped = len(_WRAP[0]) + len(_WRAP[1])
    if (k is not None and len(sizes) != k) or not sizes or sum(sizes) + len(sizes) * wrapped != total:
        return None
    buf = _buffer(total, state)
    view = memoryview(buf)[:total]
    done = 0
    while done < total:
        got = os.preadv(fd, [view[done:]], done)
        if got <= 0:
            return None
        done += got
    return Written(None, 1, sizes, [], _WRAP, view)  # (its pieces, a view a document, made only where needed)


# Buffers the workers' answers are read into, reused from batch to batch: a fresh 1.4 MB object a batch cost
# ~1 ms more of page faults and malloc trims in the join than a buffer read into again (docs/runs/batch5.md).
# A buffer is a batch's until its answer is joined; _SPARE_MAX are kept, none past _SPARE_BYTES.
_SPARE: list[bytearray] = []
# Memory files the workers write their answers into (memfd), reused likewise: a fresh one's pages are allocated
# and zeroed by the worker's write (~0.6 ms for 1.4 MB), a used one's only copied into. One is a call's from
# before it is sent until its answer is read (no await between the worker's reply and the read: no other batch
# can take it meanwhile); the worker killed mid-write leaves a file the next call overwrites (it reads only
# the `total` bytes its own call reports).
_FILES: list[int] = []
_TEXT_FILES: list[int] = []  # the same for a worker's part of a body's text (_part_text): the text, then the answers
_SPARE_MAX = 2
_SPARE_BYTES = 8 << 20


def _buffer(size: int, state: dict) -> bytearray:
    """A buffer of at least `size` bytes for this batch (state["buffers"], given back by _give_back)."""
    buf = None
    while _SPARE and buf is None:
        b = _SPARE.pop()
        if len(b) >= size:
            buf = b
    if buf is None:
        buf = bytearray(size)
    state.setdefault("buffers", []).append(buf)
    return buf


def _give_back(state: dict) -> None:
    """The batch's buffers, its answer joined (nothing of it reads them any more), kept for the next batches."""
    for buf in state.pop("buffers", ()):
        if len(_SPARE) < _SPARE_MAX and len(buf) <= _SPARE_BYTES:
            _SPARE.append(buf)


_KILL_GRACE_S = 0.5  # as EvaluateService kills a worker past a request's deadline




_WRAP = (b'{"status":200,"body":', b"},")  # each document's answer in the batch's, as evaluate_batch writes it
