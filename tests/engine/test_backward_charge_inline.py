"""The array loop's charge of an op node's backward (engine/autograd/backward_loop.py, `_run_arrays`: Budget.charge's
comparisons written out for a plain Budget) against Budget.charge itself (a subclass of Budget, which the loop
calls the method on): the same error with the same message at the same node, the same counts afterwards (used
flops, peak, live bytes), the same gradients, for limits set between the forward and the backward at points
across the backward's own flops and bytes, the process's limit, and a cancel."""
from __future__ import annotations

import numpy as np
import pytest

import engine as E
from engine import budget as B
from engine.budget import Budget, Spill
from engine.errors import EngineError
from tests.engine.inline_charge_cases import FRACTIONS, MethodBudget, X, budget_cases


def _forward():
    """A chain of mul by a 0-d leaf, add of the vector leaf, tanh, sin, exp and a sum: op nodes with saved
    tensors and costs, two leaves that take many gradients."""
    x = E.tensor(X, requires_grad=True)
    w = E.tensor(0.9, requires_grad=True)
    y = x
    for i in range(10):
        k = i % 5
        y = y * w if k == 0 else (y + x if k == 1 else (y.tanh() if k == 2 else (y.sin() if k == 3 else y.exp())))
    return y.sum(), x, w


def _backward(cls, tweak):
    """The forward under a budget of class `cls` without limits; then `tweak(b, used, peak)` sets limits on it;
    then the backward: (its outcome, used_flops, peak, live, the leaves' grads)."""
    b = cls()
    with B.active(b):
        loss, x, w = _forward()
        tweak(b, b.used_flops, b.peak)
        try:
            loss.backward()
            out = "ok"
        except (EngineError, Spill) as e:
            out = (type(e).__name__, str(e))
    grads = [None if t.grad is None else np.asarray(t.grad._data).tobytes() for t in (x, w)]
    return out, b.used_flops, b.peak, b.live, grads


def _totals():
    """The backward's own flops and the peak it reaches (with no limits)."""
    seen = {}

    def note(b, used, peak):
        seen["used"], seen["peak"] = used, peak

    _, used, peak, _, _ = _backward(Budget, note)
    return used - seen["used"], seen["used"], peak


BWD_FLOPS, FWD_FLOPS, PEAK = _totals()
CASES = budget_cases(BWD_FLOPS, 8)


def test_the_cases_reach_the_backward():
    assert BWD_FLOPS > 0 and FWD_FLOPS > 0 and PEAK > 0
    outcomes = {_backward(Budget, CASES[k])[0] for k in CASES}
    assert "ok" in outcomes and len(outcomes) >= 6  # several limits fail in the backward, with their own messages


@pytest.mark.parametrize("case", list(CASES))
def test_inline_charge_is_budget_charge(case):
    assert _backward(Budget, CASES[case]) == _backward(MethodBudget, CASES[case])


@pytest.mark.parametrize("f", FRACTIONS)
def test_process_limit(f, monkeypatch):
    def run(cls):
        def tweak(b, used, peak):
            monkeypatch.setattr(B.PROCESS, "max_bytes", B.PROCESS.live + int(f * 64))
        try:
            return _backward(cls, tweak)
        finally:
            monkeypatch.setattr(B.PROCESS, "max_bytes", 0)

    assert run(Budget) == run(MethodBudget)


def test_replaced_charge_is_called(monkeypatch):
    """Where Budget.charge is replaced, the array loop calls the replacement for every node it charges."""
    calls = []
    orig = Budget.charge

    def counting(self, nbytes, flops=0.0, what="the op", elements=0):
        calls.append(what)
        return orig(self, nbytes, flops, what, elements)

    b = Budget()
    with B.active(b):
        loss, x, w = _forward()
        monkeypatch.setattr(Budget, "charge", counting)
        loss.backward()
    assert "MulBackward0" in calls and "SumBackward0" in calls
