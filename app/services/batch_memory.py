"""A batch's answers in the server's budgets (redteam10 F1): held as they accumulate, not only looked at when sent.

POST /v1/evaluate/batch keeps every document's answer until its last one, then joins them into one response (a
second copy). Each document is charged while it runs, but what it leaves was counted nowhere: 16 batches of
~64 MB of answers each (130 KB bodies) took a server process from 142 to 1,315 MiB, past its 512 MiB
`max_process_bytes`, and 14 of them computed ~30 s for the 503 that `max_buffered_response_bytes` gave them at
the end. The route's `parts` is an `Answers` (a list of the answer's pieces) instead of a plain list; what it
adds:

- before each document the route asks `size > parts.held` (one comparison) and, where its answers' bytes
  (`size`, its own count of them) passed what is held, `parts.hold(size)` holds them and a step more (`_MIN_STEP`
  64 KiB to 4 MiB, a quarter of what is held: a batch of small answers holds once): in the process's budget
  (engine.budget.reserve, the budget every request's tensors, parsed documents and responses are in:
  `max_process_bytes`), and, past a batch's first `RESPONSES.free` bytes (64 KiB, as for a written answer), in
  the room for answers (`BUILDING`, counted with the answers written and not yet taken against
  `max_buffered_response_bytes`): a batch answer being built is one that will wait to be taken, and one that
  could not be sent is not worth computing;
- the join's copy (`join`) is held in the process's budget too, before it is made, and the answers' final size
  in the room for answers (the last documents' answers may lie within the last hold's step: redteam11 F1);
- the batch is answered 503 (Retry-After) as soon as either room is gone, its held bytes given back at once (the
  other batches go on), and before any document runs where a room is full already (`Answers(...)`); whatever
  way the request ends, `release_answers` gives its holds back.

Why the whole batch and not its remaining documents: the room is the server's, not the documents' (a document
alone would run), the batch's answer could not be sent anyway where the room for answers is gone, and a client
of a 503 with Retry-After sends the batch again; `max_batch_response_bytes`, the batch's own limit, still
answers its remaining documents 413 (the route).

The answers held are the batch's own share of the process's budget (engine.budget.own_reserved, in the route's
context, which its documents' threads copy): a later document run in this process whose tensors, with them, pass
`max_process_bytes` alone is answered 413 naming it, not 503 "in use by other requests", which no retry could pass
on an idle server (redteam13 F5's remainder; safeN). A document run in a compute worker is in that process's budget,
where the answers are not.

What is not here: a vectorized chunk's answers (or a compute worker's, read into a buffer) are counted once
they are placed in the batch's answer (the route's `size`), not while they wait in the route's `ahead` for the
documents of other structures before them (at most one chunk a template, each under `offload_min_bytes` of
tensors while it ran); the workers' memory files and the read buffers kept between batches (batch_split.py
`_FILES`, `_TEXT_FILES`, `_SPARE`: two of each of at most 8 MiB; a worker keeps at most two of the files mapped,
batch_part.py `_MAPPED`) are outside.
"""
from __future__ import annotations

from app.core import memtrim
from app.core.errors import OverCapacity
from app.core.protocol import RESPONSES
from engine import budget
from engine.errors import LimitExceeded

# Bytes of batch answers being built in this process, past each batch's first RESPONSES.free: they count against
# max_buffered_response_bytes with the answers written and not yet taken (one event loop: no lock).
BUILDING = [0]
_KEY = "gradserve.batch_answers"  # the request scope's Answers (released by release_answers at the request's end)
_MIN_STEP = 64 * 1024  # a hold's margin past the answers: a quarter of them, within these two
_MAX_STEP = 4 << 20


class Answers(list):
    """The pieces of a batch's answer (bytes-like), in order; what they hold is held in the budgets (module).
    `scope`: the request's, where it is recorded for `release_answers`; `retry_after_s`: the 503's Retry-After."""

    __slots__ = ("held", "peak", "building", "retry_after_s")

    def __init__(self, first: bytes, scope: dict, retry_after_s: int):
        super().__init__((first,))
        self.held = 0  # bytes held in the process's budget
        self.peak = 0  # the most it held (app/core/memtrim.py: a trim asked after a batch that held a MiB or more)
        self.building = 0  # bytes counted in BUILDING
        self.retry_after_s = retry_after_s
        scope.setdefault(_KEY, []).append(self)
        pmax = budget.PROCESS.max_bytes
        if pmax and budget.PROCESS.live >= pmax:  # before any document runs
            raise budget.ProcessBusy(f"the server's memory for requests ({pmax} bytes, max_process_bytes) is in "
                                     "use by other requests; no batch starts now; retry later")
        if not _room(0):
            raise self._full(0)

    def hold(self, size: int) -> None:
        """Hold the answers' `size` bytes (the route's count of them, checked before each document: `size >
        parts.held`) and a step more; ProcessBusy or OverCapacity (the batch's 503) where a room is gone, the
        batch's holds then given back."""
        want = size + min(max(size >> 2, _MIN_STEP), _MAX_STEP)
        try:
            budget.reserve(want - self.held, "the batch's answers")  # (its own: the held ones, own_reserved below)
        except (budget.ProcessBusy, LimitExceeded):
            self.release()
            raise
        budget.own_reserved(want - self.held)  # the batch's own: its later documents' 413, not 503 (below)
        self.held = want
        if want > self.peak:
            self.peak = want
        self._build(size)

    def _build(self, size: int) -> None:
        """Count the answers' `size` bytes, past the first RESPONSES.free, in BUILDING; OverCapacity where the
        room for answers cannot take them (the batch's holds then given back)."""
        build = max(size - RESPONSES.free, 0)
        if build > self.building:
            more = build - self.building
            if not _room(more):
                self.release()
                raise self._full(build)
            BUILDING[0] += more
            self.building = build

    def join(self, size: int) -> bytes:
        """The answer, one copy of the pieces (`size`: the route's count of their bytes), held while it is made;
        then every hold given back: the pieces die with the route's return, and the answer is counted by the
        front door's RESPONSES.admit once it is sent."""
        if size > self.held:  # the last documents' answers
            self.hold(size)
        else:  # within the last hold's step: held, but not yet in the room for answers (redteam11 F1)
            self._build(size)
        copy = self.held  # the answers' bytes and a step more: their wrappers (~24 bytes a document) in it
        try:
            budget.reserve(copy, "the batch's answer joined")  # (the answers held: this context's own already)
        except (budget.ProcessBusy, LimitExceeded):
            self.release()
            raise
        try:
            return b"".join(self)
        finally:
            budget.release(copy)
            self.release()

    def release(self) -> None:
        """Give back every hold (idempotent)."""
        if self.held:
            budget.release(self.held)
            budget.own_reserved(-self.held)
            self.held = 0
        if self.building:
            BUILDING[0] -= self.building
            self.building = 0

    def _full(self, size: int) -> OverCapacity:
        return OverCapacity(f"the server holds as many answers, written and not taken or being built by batches, "
                            f"as it may (max_buffered_response_bytes={RESPONSES.limit}) and cannot hold this "
                            f"batch's ({size} bytes past the first {RESPONSES.free}); retry later",
                            headers={"Retry-After": str(self.retry_after_s)})


def _room(more: int) -> bool:
    """Whether `more` bytes of batch answers fit the room for answers (RESPONSES, with BUILDING), which is not
    full; where they seem not to, what the connections hold is measured again first (as RESPONSES.admit does)."""
    limit = RESPONSES.limit
    if not limit:  # a server not run by `gradserve serve`: no room measured
        return True
    if RESPONSES.unsent + BUILDING[0] + more < limit:
        return True
    if RESPONSES.measure is not None:
        RESPONSES.unsent = RESPONSES.measure()
    return RESPONSES.unsent + BUILDING[0] + more < limit


def release_answers(scope: dict) -> None:
    """At the batch request's end, whatever way it ended (an error, a cancel): its answers' holds given back, and
    the memory a big batch freed given back to the system (app/core/memtrim.py)."""
    for answers in scope.pop(_KEY, ()):
        answers.release()
        memtrim.after_batch(answers.peak)
