"""Decisions on values, as guards: a formula's branch on its operands' values that a lowered program makes again.

A lowered program (engine.program.lower) runs the entries again on new arrays, but not the Python code between
them: a branch that code took on values (cumprod's backward takes another formula where its input has a zero)
would be the recording's, and engine.program.glue declines a program whose code reads values. A formula that
decides through `decide(test, *tensors)` instead reads no values in its own lines: the test, a function of the
arrays alone, is logged under the lowering's op trace with its outcome, and the lowered function calls it again
on its own arrays (`guard`), raising GuardFailed where it comes out otherwise, so that the Program's own replay
answers (Program.run, replay_json: as for any lowered replay that raises). Outside a lowering's trace, decide is
the test's call and nothing else.
"""
from __future__ import annotations

from engine.ops import registry as _registry
from engine.ops.tracing import _trace_local

TESTS: set = set()  # value_test's functions: what a lowering's watch does not look into (glue._opaque_codes)


def value_test(fn):
    """A test of arrays for decide (`fn(*arrays) -> bool`, a function of its arguments alone): registered, so
    that a watch does not look into it (its lines read values, and a lowered function runs it again)."""
    TESTS.add(fn)
    return fn


class Guard:
    """A decision decide logged under a lowering's op trace: the test and the outcome the recording got."""

    __slots__ = ("test", "outcome")

    def __init__(self, test, outcome):
        self.test, self.outcome = test, outcome


class GuardFailed(Exception):
    """A lowered function's guard (decide's test on its own arrays) came out otherwise than at its recording:
    the lowered replay gives up and the Program's own replay answers, as for any lowered replay that raises."""


def decide(test, *tensors) -> bool:
    """test(*their arrays) (a value_test): a formula's branch on values (cumprod's backward: whether its input
    has a zero), without reading values in the formula's own lines. Under a lowering's op trace the decision is
    logged with its arrays, and the lowered function makes it again on its own arrays (guard): where it comes
    out otherwise it raises GuardFailed, so a lowered replay never answers by the branch the recording took for
    values that take the other (engine/program/lower.py)."""
    if test not in TESTS:
        raise TypeError(f"{test!r} is no value_test")
    arrays = tuple(t._data for t in tensors)
    out = test(*arrays)
    if type(out) is not bool:
        raise TypeError(f"{test.__name__} gave {type(out).__name__}, not bool")
    if _registry._tracing:
        log = getattr(_trace_local, "log", None)
        if log is not None:
            log.append((Guard(test, out), tensors, arrays, None, None))
    return out


def guard(test, outcome, *arrays):
    """A lowered function's line for a decide: None, or GuardFailed where test(*arrays) is not outcome."""
    if test(*arrays) is not outcome:
        raise GuardFailed(test.__name__)
