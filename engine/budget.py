"""Per-request budgets: time, memory and compute, charged before they are spent.

A request (engine.evaluate, a sub-program, a worker's call) runs under a `Budget` installed for its thread
(`with budget.active(b):`). Every op entry's rule (engine.ops.rules) is charged to it before the forward
runs, every backward node before it runs, and code that allocates outside an entry (factories, glue)
charges itself with `charge`; long loops call `check()`. Library use (no budget installed) costs one
attribute read per op.

This module holds the API the op code calls; the accounting lives here too.
"""
from __future__ import annotations

import threading
import time

from engine.errors import EngineError, LimitExceeded


class DeadlinePassed(EngineError):
    """The request ran past its time limit, or was cancelled (its caller gave up): HTTP 504."""

    type = "timeout"


class _Local(threading.local):
    budget = None  # the Budget of the request this thread runs, or None (library use)


_local = _Local()


class Budget:
    """Limits of one request and what it has used. deadline: time.monotonic() value, or None."""

    __slots__ = ("max_bytes", "max_flops", "op_max_flops", "deadline", "cancelled", "used_flops", "live_bytes",
                 "peak_bytes")

    def __init__(self, *, max_bytes: int = 1 << 62, max_flops: float = float("inf"),
                 op_max_flops: float = float("inf"), deadline: float | None = None):
        self.max_bytes = max_bytes
        self.max_flops = max_flops
        self.op_max_flops = op_max_flops
        self.deadline = deadline
        self.cancelled = False
        self.used_flops = 0.0
        self.live_bytes = 0
        self.peak_bytes = 0

    def cancel(self) -> None:
        """Called from another thread: the request's next check raises DeadlinePassed."""
        self.cancelled = True

    def check(self) -> None:
        if self.cancelled or (self.deadline is not None and time.monotonic() > self.deadline):
            raise DeadlinePassed("the computation ran past the time limit (time_limit_s) and was stopped")

    def charge(self, nbytes: int, flops: float = 0.0, what: str = "the op") -> None:
        self.check()
        if flops > self.op_max_flops:
            raise LimitExceeded(f"{what} would cost {flops:.3g} flops, over the limit of {self.op_max_flops:.3g} "
                                "flops for one op (max_op_flops)")
        if self.used_flops + flops > self.max_flops:
            raise LimitExceeded(f"the request would cost {self.used_flops + flops:.3g} flops, over the limit of "
                                f"{self.max_flops:.3g} flops (max_flops)")
        if self.live_bytes + nbytes > self.max_bytes:
            raise LimitExceeded(f"{what} would bring the request's tensors to {self.live_bytes + nbytes} bytes, "
                                f"over the limit of {self.max_bytes} bytes (max_request_bytes)")
        self.used_flops += flops
        self.live_bytes += nbytes
        if self.live_bytes > self.peak_bytes:
            self.peak_bytes = self.live_bytes


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
