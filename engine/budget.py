"""Per-request budgets: time, memory and compute, charged before they are spent.

A request (engine.evaluate, a sub-program, a worker's call) runs under a `Budget` installed for its thread
(`with budget.active(b):`). Every op entry's rule (engine.ops.rules) is charged to it before the forward
runs, every backward node before it runs, and code that allocates outside an entry (factories, glue)
charges itself with `charge`; long loops call `check()`. Library use (no budget installed) costs one
attribute read per op.

Memory is accounted as live bytes: a charge checks that the request's live bytes plus what the op will
hold at its peak (outputs and temporaries) fit the request's limit and the process's; then the outputs the
op really made are added (`track`), and subtracted again when NumPy frees them (a weak reference on each
array of `TRACK_MIN_BYTES` or more; smaller ones stay counted until the request ends, which `max_ops`
bounds). Views own no memory and are not counted. Flops are counted per op (one op may not pass
`op_max_flops`: that bounds how long one uninterruptible NumPy call can run past the deadline) and per
request.

A budget may also carry the caps of where the request runs (`spill_flops`, `spill_bytes`): past them the
run raises `Spill`, and the service runs the request again where bigger work belongs (the event loop ->
a thread -> a worker process). A spill is not an error of the request; it derives from BaseException so
that no handler of the engine's takes it for one.
"""
from __future__ import annotations

import contextvars
import threading
import time
import weakref
from contextlib import contextmanager

from engine.errors import EngineError, LimitExceeded

TRACK_MIN_BYTES = 4096


class DeadlinePassed(EngineError):
    """The request ran past its time limit, or was cancelled (its caller gave up): HTTP 504."""

    type = "timeout"


def timeout_message(time_limit_s: float | None) -> str:
    """The one wording of a timeout, wherever it is found (a check between ops or inside a kernel's loop, the
    service's wait on a thread or a worker): the limit's value where it is known. `loc` says where it stopped."""
    limit = f" of {time_limit_s:g} s" if time_limit_s is not None else ""
    return f"the computation ran past the time limit{limit} (time_limit_s) and was stopped"


class ProcessBusy(EngineError):
    """The process's memory budget, shared by the requests it runs, is taken: HTTP 503, retry later."""

    type = "over_capacity"


class Spill(BaseException):  # noqa: N818 - not an error: the request belongs elsewhere
    """The request passed the caps of where it runs (the event loop, a thread): run it where it fits."""


class _Process:
    """Live tensor bytes of every request of this process, against `max_bytes` (0: no process limit)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.live = 0
        self.max_bytes = 0


PROCESS = _Process()
# Every tracked array's weak reference, until its array dies or its Budget closes. A weak reference dropped
# before its array never calls back: held only by its Budget's _refs, a Budget dropped without close() took
# them with it, and its arrays' bytes stayed in PROCESS.live for good (process capacity lost, later requests
# 503). Held here too, they call back as their arrays die whatever became of the Budget.
_TRACKING: dict = {}


def set_process_limit(max_bytes: int) -> None:
    PROCESS.max_bytes = int(max_bytes)


def _capped(n: int) -> int:
    """A count for a message, held at 2**63: a rule's product of a client's sizes (300 of 2**62) is a bigint of
    thousands of digits, past Python's int-to-str limit (a 500, redteam16 F9)."""
    return n if n < 1 << 63 else 1 << 63


def process_limit_error(own: int, nbytes: int, what: str) -> LimitExceeded:
    """The 413 where what a request holds of the process's budget itself (`own`) and `nbytes` more pass
    max_process_bytes: no retry can pass, even on an idle server, so no 503 (redteam12 F5)."""
    return LimitExceeded(f"{what} would bring the request's memory in this server process to {_capped(own + nbytes)} "
                         f"bytes, over the server's memory for requests ({PROCESS.max_bytes} bytes, "
                         "max_process_bytes)")


# What the request running in this context holds of the process's budget outside its Budget (its parsed document,
# `reserved`; a thread's run gets a copy of the context that started it, a compute worker reserves its own): its own
# share where a charge, hold or reserve passes max_process_bytes. Left out, a request whose parsed body and tensors
# passed the process's budget together (each under it) was told 503 "in use by other requests" on an idle server,
# every time (redteam13 F5).
_RESERVED = contextvars.ContextVar("gradserve_reserved", default=0)


def reserve(nbytes: int, what: str = "the request", own: int = 0) -> None:
    """Hold `nbytes` of the process's budget for memory that no op charges (a request's parsed document,
    held from its parse to its answer); ProcessBusy (503) where the process has not that much left, or
    LimitExceeded (413) where `own` (what the caller holds of it already), what this context has `reserved`
    and `nbytes` alone pass it. Give it back with `release`."""
    if nbytes <= 0:
        return
    with PROCESS.lock:
        pmax = PROCESS.max_bytes
        if pmax and PROCESS.live + nbytes > pmax:
            own += _RESERVED.get()
            if own + nbytes > pmax:
                raise process_limit_error(own, nbytes, what)
            raise ProcessBusy(f"the server's memory for requests ({pmax} bytes, max_process_bytes) is in use by "
                              f"other requests and cannot hold {what} ({nbytes} bytes); retry later")
        PROCESS.live += nbytes


def release(nbytes: int) -> None:
    if nbytes > 0:
        with PROCESS.lock:
            PROCESS.live -= nbytes


@contextmanager
def reserved(nbytes: int, what: str = "the request"):
    """`reserve` nbytes for the life of the block, counted as this context's own (the request's) share of the
    process's budget by its Budget's process checks (`_RESERVED`); released at the block's end."""
    reserve(nbytes, what)
    token = _RESERVED.set(_RESERVED.get() + nbytes) if nbytes > 0 else None
    try:
        yield
    finally:
        if token is not None:
            _RESERVED.reset(token)
        release(nbytes)


def own_reserved(delta: int) -> None:
    """Count `delta` bytes, reserved with `reserve` by the caller, as this context's own share of the process's
    budget (as `reserved` does for a block), until counted off again (a negative delta) in the same context: a
    batch's answers held while its later documents run (app/services/batch_memory.py). Counted off in another
    context, the share there is only under-counted: a 503 where a 413 was due, never memory let through."""
    _RESERVED.set(_RESERVED.get() + delta)


class _Local(threading.local):
    budget = None  # the Budget of the request this thread runs, or None (library use)


_local = _Local()


_INF = float("inf")
_new = object.__new__
# The limits a charge compares with (and `held`, `cancelled`) are properties over their slots ("_" + name), whose
# setters recompute the folded caps (Budget._fold) that let a charge within every limit pass in one comparison chain.


class Budget:
    """Limits of one request and what it has used. deadline: a time.monotonic() value, or None."""

    __slots__ = ("_max_bytes", "_max_flops", "_op_max_flops", "_max_elements", "_deadline", "_spill_flops",
                 "_spill_bytes", "_spill_op_flops", "time_limit_s", "_cancelled", "used_flops", "live", "peak",
                 "small", "_held", "_refs", "_dl", "_flop_cap", "_op_cap", "_byte_cap", "free_steps", "__weakref__")

    def __init__(self, *, max_bytes: int = 1 << 62, max_flops: float = float("inf"),
                 op_max_flops: float = float("inf"), max_elements: int = 1 << 62, deadline: float | None = None,
                 spill_flops: float = float("inf"), spill_bytes: int = 1 << 62,
                 spill_op_flops: float = float("inf"), time_limit_s: float | None = None):
        self._max_bytes = max_bytes
        self._max_elements = max_elements
        self._max_flops = max_flops
        self._op_max_flops = op_max_flops
        self._deadline = deadline
        self._spill_flops = spill_flops
        self._spill_bytes = spill_bytes
        self._spill_op_flops = spill_op_flops  # one op past it belongs where it can be killed (a worker process)
        self.time_limit_s = time_limit_s  # what `deadline` was set from, for the message
        self._cancelled = False
        self.used_flops = 0.0
        self.live = 0  # bytes of the request's arrays alive now (small ones: until the request ends)
        self.peak = 0  # the most `live` plus an op's peak has been
        self.small = 0  # bytes of arrays under TRACK_MIN_BYTES, never subtracted
        self._held = 0  # bytes held with `hold` (no array tracks them), until the request ends
        self._refs: dict = {}  # id(weakref) -> weakref of each tracked array, until it dies
        self.free_steps = FREE_STEPS  # the selection loops' uncharged steps left to the whole request (take_free)
        # _fold's caps, written out (a Budget is made per request): min(a, b) is `b if b < a else a`
        self._flop_cap = spill_flops if spill_flops < max_flops else max_flops
        self._op_cap = spill_op_flops if spill_op_flops < op_max_flops else op_max_flops
        if type(max_bytes) is int and type(spill_bytes) is int:  # held is 0
            self._byte_cap = spill_bytes if spill_bytes < max_bytes else max_bytes
        else:
            self._byte_cap = -1
        self._dl = _INF if deadline is None else deadline

    def fresh(self, deadline: float | None = None) -> Budget:
        """A new Budget of this one's limits and caps, with `deadline`, none of this one's use: what Budget()
        of the same arguments gives, made by copying (a service makes one a request from a prototype of its
        tier: no keyword call, no folding)."""
        if self._held or self._cancelled:  # caps folded with what this one holds: fold afresh
            return Budget(max_bytes=self._max_bytes, max_flops=self._max_flops, op_max_flops=self._op_max_flops,
                          max_elements=self._max_elements, deadline=deadline, spill_flops=self._spill_flops,
                          spill_bytes=self._spill_bytes, spill_op_flops=self._spill_op_flops,
                          time_limit_s=self.time_limit_s)
        b = _new(Budget)
        b._max_bytes = self._max_bytes
        b._max_elements = self._max_elements
        b._max_flops = self._max_flops
        b._op_max_flops = self._op_max_flops
        b._deadline = deadline
        b._spill_flops = self._spill_flops
        b._spill_bytes = self._spill_bytes
        b._spill_op_flops = self._spill_op_flops
        b.time_limit_s = self.time_limit_s
        b._cancelled = False
        b.used_flops = 0.0
        b.live = b.peak = b.small = b._held = 0
        b._refs = {}
        b.free_steps = FREE_STEPS
        b._flop_cap = self._flop_cap  # folded from the limits alone (held 0, not cancelled), as they are here
        b._op_cap = self._op_cap
        b._byte_cap = self._byte_cap
        b._dl = _INF if deadline is None else deadline
        return b

    def _fold(self) -> None:
        """The caps a charge compares with, folded from the limits (recomputed whenever one of them, `held` or
        `cancelled` changes): a charge under all of them passes every check of `_charge_checks`, and one that is
        not runs those checks, which raise the first that fails, in their order. _dl: the deadline (no deadline:
        inf; cancelled: -inf, so that the next charge or check raises)."""
        self._flop_cap = min(self._max_flops, self._spill_flops)
        self._op_cap = min(self._op_max_flops, self._spill_op_flops)
        mb, held, sb = self._max_bytes, self._held, self._spill_bytes
        # peak + held > max_bytes or peak > spill_bytes, as one comparison of peak; exact on ints only (a float
        # limit sends every charge through _charge_checks)
        if type(mb) is int and type(held) is int and type(sb) is int:
            self._byte_cap = min(mb - held, sb)
        else:
            self._byte_cap = -1
        self._dl = _INF if self._deadline is None else self._deadline
        if self._cancelled:  # read after _dl is written: a cancel() from another thread meanwhile is never lost
            self._dl = -_INF

    def _limit(name):  # noqa: N805 - builds the limits' properties in the class body
        slot = "_" + name

        def get(self):
            return getattr(self, slot)

        def set_(self, value):
            setattr(self, slot, value)
            self._fold()

        return property(get, set_)

    max_bytes = _limit("max_bytes")
    max_flops = _limit("max_flops")
    op_max_flops = _limit("op_max_flops")
    max_elements = _limit("max_elements")
    deadline = _limit("deadline")
    spill_flops = _limit("spill_flops")
    spill_bytes = _limit("spill_bytes")
    spill_op_flops = _limit("spill_op_flops")
    held = _limit("held")
    del _limit

    @property
    def cancelled(self):
        return self._cancelled

    @cancelled.setter
    def cancelled(self, value):  # from another thread: touches the deadline's cap only (_fold reads it last)
        self._cancelled = value
        if value:
            self._dl = -_INF
        else:
            self._fold()

    def cancel(self) -> None:
        """Called from another thread: the request's next check raises DeadlinePassed."""
        self.cancelled = True

    def check(self) -> None:
        if time.monotonic() > self._dl:  # past the deadline, or cancelled (_dl is -inf)
            raise DeadlinePassed(timeout_message(self.time_limit_s))

    def charge(self, nbytes: int, flops: float = 0.0, what: str = "the op", elements: int = 0) -> None:
        """Check that work of `flops` holding `nbytes` at its peak, its largest output of `elements`, fits, and
        count its flops. Raises DeadlinePassed, LimitExceeded (413: the request's limits), ProcessBusy (503) or
        Spill. Every check every charge: one comparison chain against the folded caps (_fold), and where any
        fails, _charge_checks finds which (the checks in their order, the first failing one raising)."""
        if not flops >= 0.0:  # a rule's negative or NaN count is no work: never budget handed back (redteam14 F2:
            flops = 0.0  # matrix_exp's -1e22 had undone max_flops and the spill caps for the rest of the request)
        used = self.used_flops + flops
        peak = self.live + nbytes
        if (elements > self._max_elements or time.monotonic() > self._dl or flops > self._op_cap
                or used > self._flop_cap or peak > self._byte_cap):
            self._charge_checks(nbytes, flops, what, elements, used, peak)
        pmax = PROCESS.max_bytes
        if pmax and PROCESS.live + nbytes > pmax:
            own = self.live - self.small + self._held + _RESERVED.get()  # this request's share of PROCESS.live
            if own + nbytes > pmax:  # past it alone: a retry cannot pass
                raise process_limit_error(own, nbytes, what)
            raise ProcessBusy(f"the server's memory for tensors ({pmax} bytes, max_process_bytes) is in use by "
                              "other requests; retry later")
        self.used_flops = used
        if peak > self.peak:
            self.peak = peak

    def _charge_checks(self, nbytes, flops, what, elements, used, peak) -> None:
        """charge's checks one by one, in order: raises the first that fails (where none does, the caps were
        stale: nothing raised, charge goes on to the process's check)."""
        if elements > self._max_elements:
            raise LimitExceeded(f"tensor of {_capped(elements)} elements exceeds the limit of {self._max_elements} "
                                "elements per tensor (max_tensor_elements)")
        if self._cancelled or (self._deadline is not None and time.monotonic() > self._deadline):
            raise DeadlinePassed(timeout_message(self.time_limit_s))
        if flops > self._op_max_flops:
            raise LimitExceeded(f"{what} would cost {flops:.3g} flops, over the limit of {self._op_max_flops:.3g} "
                                "flops for one op (max_op_flops)")
        if used > self._max_flops:
            raise LimitExceeded(f"the request would cost {used:.3g} flops, over the limit of {self._max_flops:.3g} "
                                "flops (max_flops)")
        if peak + self._held > self._max_bytes:
            raise LimitExceeded(f"{what} would bring the request's tensors to {_capped(peak + self._held)} bytes, "
                                f"over the limit of {self._max_bytes} bytes (max_request_bytes)")
        if used > self._spill_flops or peak > self._spill_bytes or flops > self._spill_op_flops:
            raise Spill(what)

    def hold(self, nbytes: int, flops: float = 0.0, what: str = "the op") -> None:
        """Keep `nbytes` counted, against the request's limit and the process's, until the request ends
        (close): memory that outlives the op that made it and that no array tracks (a response being
        written: Python's numbers for the JSON text, and the text). Not against the caps of where the request
        runs (`spill_bytes`, and `peak`, which a Program's replays and lowering charge again): those judge its
        tensors, and a response bounded by max_response_bytes spilled tiny requests off the loop."""
        self.charge(0, flops, what)  # the deadline and the flops
        total = self.live + self.held + nbytes
        if total > self.max_bytes:
            raise LimitExceeded(f"{what} would bring the request's memory to {total} bytes, over the limit of "
                                f"{self.max_bytes} bytes (max_request_bytes)")
        with PROCESS.lock:
            pmax = PROCESS.max_bytes
            if pmax and PROCESS.live + nbytes > pmax:
                own = self.live - self.small + self._held + _RESERVED.get()
                if own + nbytes > pmax:
                    raise process_limit_error(own, nbytes, what)
                raise ProcessBusy(f"the server's memory for requests ({pmax} bytes, max_process_bytes) is in use "
                                  f"by other requests and cannot hold {what} ({nbytes} bytes); retry later")
            PROCESS.live += nbytes
        self.held += nbytes

    def track(self, arr) -> None:
        """Count an array the request now holds (an op's output), until NumPy frees it."""
        if getattr(arr, "base", 0) is not None:  # a view (or not an array): no memory of its own
            return
        n = arr.nbytes
        if n < TRACK_MIN_BYTES:
            self.small += n
            self.live += n
            return
        self.live += n
        with PROCESS.lock:
            PROCESS.live += n
        try:
            ref = weakref.ref(arr, _Release(self, n))
        except TypeError:  # not weakly referenceable: counted until the request ends
            return
        self._refs[id(ref)] = ref
        _TRACKING[id(ref)] = ref  # alive while its array is, with or without this Budget (see _TRACKING)

    def close(self) -> None:
        """The request is over: what it still holds no longer counts against the process (its arrays die
        with its response, or live on only in a cache that holds no request's values)."""
        refs, self._refs = self._refs, {}
        n = self._held
        if n:
            self.held = 0  # (its setter folds the caps again)
        for key, ref in refs.items():
            _TRACKING.pop(key, None)
            cb = ref.__callback__
            if cb is not None and ref() is not None:
                cb.released = True
                n += cb.nbytes
        if n:
            with PROCESS.lock:
                PROCESS.live -= n


class _Release:
    """A tracked array's weak-reference callback: its bytes leave the request's and the process's count."""

    __slots__ = ("budget", "nbytes", "released")

    def __init__(self, budget, nbytes):
        self.budget = weakref.ref(budget)
        self.nbytes = nbytes
        self.released = False

    def __call__(self, ref):
        _TRACKING.pop(id(ref), None)
        b = self.budget()
        if b is not None:
            b.live -= self.nbytes
            b._refs.pop(id(ref), None)
        if not self.released:
            self.released = True
            with PROCESS.lock:
                PROCESS.live -= self.nbytes


def current() -> Budget | None:
    return _local.budget


class active:  # noqa: N801 - a context manager, used as `with active(b):`
    """Install `budget` for this thread (None: none), restoring the previous one on exit."""

    __slots__ = ("budget", "prev")

    def __init__(self, budget: Budget | None):
        self.budget = budget

    def __enter__(self):
        self.prev = _local.budget
        _local.budget = self.budget
        return self.budget

    def __exit__(self, *exc):
        _local.budget = self.prev
        return False


# The selection loops' (engine/ops/sorting_select.py) steps within an op's free allowance (its rule's n log n) are
# uncharged; each also takes one of these, shared by the whole request, and is charged where none is left:
# 4,900 kthvalue ops of a 188-value tied row, each within its own 48 free levels (~27 ms of CPU an op at ~200 us
# a level), had run a 330 KB body 30 s in a server thread, charged ~1e7 flops in all (redteam14 F1). 2,048 steps:
# ~0.1-0.4 s of CPU (20-200 us a step), the most an op's allowance gives ~5 ops of 2^20 values.
FREE_STEPS = 2048


def take_free(k: int) -> int:
    """Up to k of the request's free selection steps taken: how many there were (k without a budget)."""
    b = _local.budget
    if b is None:
        return k
    got = k if k <= b.free_steps else max(b.free_steps, 0)
    b.free_steps -= got
    return got


def check() -> None:
    """The deadline: call it inside any loop whose trip count a request decides."""
    b = _local.budget
    if b is not None:
        b.check()


def charge(elements: int, itemsize: int = 8, flops: float = 0.0, what: str = "the op") -> None:
    """Charge an allocation made outside an op entry (a factory, glue code) before it is made."""
    b = _local.budget
    if b is not None:
        b.charge(int(elements) * int(itemsize), flops, what)
