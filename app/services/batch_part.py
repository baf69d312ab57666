"""A compute worker's part of a vectorized batch chunk (POST /v1/evaluate/batch, app/routers/batch.py).

The server's process runs on one core. A large chunk of documents of one text template (engine.program.
batch_text) is split: the router answers its first rows itself (in its thread, as before) while a compute worker
answers the rest with this module, on the machine's other core, from their stacked leaf values (the columns the
router read from the text): the same lowered program (the worker's own, recorded and lowered from the template
document in its own plan cache, once a structure), the same vectorized run and fast writer, the same check of
one document against its run alone (engine.program.batch.run), so the same bytes. The worker writes its
answers into a memory file the server made for the call (memfd: the pool's socket took ~2.8 ms of the server's
CPU for 1.4 MB) and returns their sizes; the worker keeps a mapping of the file, which the server reuses from batch
to batch: the worker copies its answers into it (_write: no kernel copy; batch9: a pwrite of 2.8 MB cost ~0.2-0.35
ms) and the server reads them back with one preadv into a kept buffer (batch_split._read_part).

A batch's body may also be split before it is read (answer_text): the worker gets the text of the body's rest
and the template, reads it with the router's own scan and checks, and answers it likewise.

Everything a worker's call is held to holds: the batch's limits and deadline as its budget (killable: the
server kills the worker past the deadline), this process's memory budget (worker_limits), and the answers'
size (at most `cap` bytes written, else nothing: the server answers those documents itself).
"""
from __future__ import annotations

import mmap
import os

import numpy as np

from app.services import engine as eng
from engine.program import batch_text
from engine.program.batch import Stacked, vectorizable
from engine.program.batch_text import Template
from engine.program.batch_write import Written

# The template document is evaluated at most this many times to record and lower its program in a worker (it
# is lowered at its lower_at()-th replay: the 5th sighting of a small program); past it, nothing is answered.
_SIGHTINGS = 12


def answer_part(doc: dict, columns: list, first: list, n: int, wrap: tuple, limits: eng.LimitsTuple,
                plan_entries: int, deadline: float, process_bytes: int, path: str, cap: int):
    """The answers of n documents of `doc`'s structure (their leaf values stacked in `columns`, the first one's
    arrays `first`), each wrapped in `wrap`, written into the file at `path`: (their sizes, without the wrap;
    the bytes written); None where they do not run vectorized here or pass `cap` bytes (nothing written)."""
    eng.worker_limits(limits, process_bytes)
    eng.configure_plans(plan_entries)
    program = _program(doc, limits, deadline)
    if program is None or not vectorizable(program):
        return None
    return _run_and_write(program, Stacked(columns, first, n, wrap, cap), wrap, limits, deadline, path, cap)


def answer_text(t: Template, size: int, max_docs: int, most: int, wrap: tuple, limits: eng.LimitsTuple,
                plan_entries: int, deadline: float, process_bytes: int, path: str, cap: int):
    """As answer_part, for the documents of template t in the `size` bytes of a batch's body at the start of the
    file at `path` (the server's scan stopped at the first of them: batch_text.scan's `split`), read here: the
    scan of them as the server's scan would read them (`{"requests":[` and that text, t known, fewer than
    max_docs documents: the same matches, lax check and limits), each one's values checked against its leaves'
    dtypes, then the same run and writer; their answers written over the text. None (nothing written) where
    that text is not documents of t to the body's end, or one of them would not run in the server's chunk
    (a value past an integer dtype, more than `most` documents): the server reads and answers them itself."""
    eng.worker_limits(limits, process_bytes)
    eng.configure_plans(plan_entries)
    fd = os.open(path, os.O_RDONLY)
    try:
        text = os.pread(fd, size, 0)
    finally:
        os.close(fd)
    if len(text) != size:
        return None
    s = batch_text.scan(b'{"requests":[' + text, max_docs, _no_template, [t])
    if s is None or s.tail is not None or not s.matched:
        return None
    mine = s.templates[0]
    if len(mine.rows) != len(s.matched) or len(s.matched) > most:
        return None  # a document of another structure among them
    program = _program(t.doc, limits, deadline)
    if program is None or not vectorizable(program):
        return None
    fit = fitting(mine, program.lowered.leaf_np)
    if fit is not True and not fit.all():
        return None
    columns = mine.columns()
    n = len(s.matched)
    return _run_and_write(program, Stacked(columns, mine.arrays(columns, 0), n, wrap, cap), wrap, limits, deadline,
                          path, cap)


def _no_template(text: bytes):
    return None


def _run_and_write(program, stacked, wrap, limits, deadline, path, cap):
    """The vectorized run of `stacked`, its answers written into the file at `path`: (sizes, total), or None."""
    out = eng.evaluate_vectorized(program, stacked, eng.make_budget(limits, deadline, killable=True))
    if type(out) is Written:
        sizes = out.sizes
    elif type(out) is list:  # each document's response written alone (a program the fast writer does not take)
        sizes, pieces = [len(x) for x in out], [b"%b%b%b" % (wrap[0], x, wrap[1]) for x in out]
    else:
        return None
    total = sum(sizes) + len(sizes) * (len(wrap[0]) + len(wrap[1]))
    if total > cap:
        return None
    # joined first (the C filler's text is joined already): pwritev of the ~25,000 small pieces of 500
    # documents took ~5 ms in the kernel, one write of their join ~0.2 ms
    text = out.text() if type(out) is Written else b"".join(pieces)
    if len(text) != total:
        return None
    _write(path, text)
    return list(sizes), total


def _write(path: str, text: bytes) -> None:
    """`text` at the start of the server's memory file at `path`: copied into a shared mapping of the file kept
    for the next calls (_MAPPED: the server reuses its files, so its pages are then written in place, with no
    fault and no kernel copy: a pwrite of 2.8 MB cost ~0.2-0.35 ms, the copy ~0.07-0.13), where the file is at
    most _MAP_BYTES; else written with pwrite, as a larger one is not kept mapped here (its pages would outlive
    the server's file)."""
    fd = os.open(path, os.O_RDWR)
    try:
        st = os.fstat(fd)
        size = max(st.st_size, len(text))
        if size > _MAP_BYTES:
            known = _MAPPED.pop(path, None)
            if known is not None:
                known[1].close()
            view = memoryview(text)
            done = 0
            while done < len(text):
                done += os.pwrite(fd, view[done:], done)
            return
        known = _MAPPED.get(path)
        if known is None or known[0] != st.st_ino or len(known[1]) < len(text):
            if known is not None:
                known[1].close()
            if st.st_size < size:
                os.ftruncate(fd, size)
            while len(_MAPPED) >= _MAPPED_MAX:
                _MAPPED.pop(next(iter(_MAPPED)))[1].close()
            known = _MAPPED[path] = (st.st_ino, mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE))
        known[1][:len(text)] = text
    finally:
        os.close(fd)


# This worker's mappings of the server's memory files (_write), per path: (the file's inode, the mapping); at most
# _MAPPED_MAX, each of at most _MAP_BYTES (the server keeps its files up to 8 MiB: batch_split._SPARE_BYTES).
_MAPPED: dict[str, tuple] = {}
_MAPPED_MAX = 2
_MAP_BYTES = 8 << 20


def fitting(t, dtypes: list):
    """Per row of a template's documents, whether its values fit its leaves' integer dtypes (True: no leaf of
    an integer dtype): a cast past them would wrap silently where the document alone answers its overflow error
    (engine.program.wire.make_tensor). A float is taken only strictly inside (min - 1, max + 1), so that its
    truncation fits; NaN never."""
    dtypes = [np.dtype(d) for d in dtypes]
    if not any(d.kind in "iu" for d in dtypes):
        return True
    columns = t.columns()
    n = len(t.rows)
    ok = np.ones(n, bool)
    for col, dt in zip(columns, dtypes):
        if dt.kind not in "iu" or col.dtype == dt:
            continue
        info = np.iinfo(dt)
        with np.errstate(invalid="ignore"):
            if col.dtype.kind == "f":
                good = (col > float(info.min) - 1) & (col < float(info.max) + 1)
            else:
                good = (col >= info.min) & (col <= info.max)
        ok &= good.reshape(n, -1).all(1)
    return ok


def _program(doc: dict, limits: eng.LimitsTuple, deadline: float):
    """This worker's lowered Program of doc's structure: the template document evaluated (under the limits and
    the deadline, its answers dropped) until its program is lowered; None where it is not (does not lower, or
    not within _SIGHTINGS runs)."""
    for _ in range(_SIGHTINGS):
        hit = eng.lookup(doc, limits)
        if hit is None:
            return None
        program = hit[1]
        if program is not None and program.lowered is not None:
            return program if program.lowered else None
        eng.evaluate_json(doc, limits, budget=eng.make_budget(limits, deadline, killable=True))
    return None
