"""A compute worker's part of a vectorized batch chunk (POST /v1/evaluate/batch, app/routers/batch.py).

The server's process runs on one core. A large chunk of documents of one text template (engine.program.
batch_text) is split: the router answers its first rows itself (in its thread, as before) while a compute worker
answers the rest with this module, on the machine's other core, from their stacked leaf values (the columns the
router read from the text): the same lowered program (the worker's own, recorded and lowered from the template
document in its own plan cache, once a structure), the same vectorized run and fast writer, the same check of
one document against its run alone (engine.program.batch.run), so the same bytes. The worker writes its
answers into a memory file the server made for the call (memfd, read back with one pread: ~0.1 ms for 1.4 MB,
where the pool's socket took ~2.8 ms of the server's CPU for the same bytes) and returns their sizes.

Everything a worker's call is held to holds: the batch's limits and deadline as its budget (killable: the
server kills the worker past the deadline), this process's memory budget (worker_limits), and the answers'
size (at most `cap` bytes written, else nothing: the server answers those documents itself).
"""
from __future__ import annotations

import os

from app.services import engine as eng
from engine.program.batch import Stacked, vectorizable
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
    out = eng.evaluate_vectorized(program, Stacked(columns, first, n, wrap),
                                  eng.make_budget(limits, deadline, killable=True))
    if type(out) is not Written:
        return None
    total = sum(out.sizes) + len(out.sizes) * (len(wrap[0]) + len(wrap[1]))
    if total > cap:
        return None
    text = b"".join(out.pieces)  # joined first: pwritev of the ~25,000 small pieces of 500 documents took ~5 ms
    fd = os.open(path, os.O_WRONLY)  # in the kernel, one write of their join ~0.2 ms
    try:
        view = memoryview(text)
        done = 0
        while done < total:
            done += os.pwrite(fd, view[done:], done)
    finally:
        os.close(fd)
    if len(text) != total:
        return None
    return list(out.sizes), total


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
