"""An op's forward charge on the unrolled call path (engine/ops/fastcall.py: Budget.charge's comparisons written out
for a plain Budget) against Budget.charge itself (a subclass of Budget, which the call path calls the method on):
the same error with the same message at the same op, the same counts afterwards (used flops, peak, live bytes),
the same values, for limits set before the forward at points across its own flops, bytes and elements, the
process's limit, and a cancel."""
from __future__ import annotations

import numpy as np
import pytest

import engine as E
from engine import budget as B
from engine.budget import Budget, Spill
from engine.errors import EngineError
from tests.engine.inline_charge_cases import MethodBudget, X, budget_cases


def _forward(cls, tweak, start=0):
    """A chain of mul by a 0-d leaf, add of the vector leaf, tanh, sin, exp (one and two operands on the unrolled
    path) under a budget of class `cls`: the leaves made, then `tweak(b, used, peak)` sets limits on it, then the
    ops, the cycle begun at its `start`-th (2: a one-operand op first): (its outcome, the number of ops that ran,
    used_flops, peak, live, the last value's bytes)."""
    b = cls()
    done, y = 0, None
    with B.active(b):
        x = E.tensor(X, requires_grad=True)
        w = E.tensor(0.9, requires_grad=True)
        tweak(b, b.used_flops, b.peak)
        try:
            y = x
            for i in range(start, start + 12):
                k = i % 5
                y = y * w if k == 0 else (y + x if k == 1 else (y.tanh() if k == 2 else (y.sin() if k == 3
                                                                                         else y.exp())))
                done += 1
            out = "ok"
        except (EngineError, Spill) as e:
            out = (type(e).__name__, str(e))
    return out, done, b.used_flops, b.peak, b.live, np.asarray(y._data).tobytes()


def _totals():
    """The ops' own flops, and the peak they reach (with no limits)."""
    seen = {}

    def note(b, used, peak):
        seen["used"] = used

    _, _, used, peak, _, _ = _forward(Budget, note)
    return used - seen["used"], peak


FLOPS, PEAK = _totals()
CASES = budget_cases(FLOPS, 6, peak=PEAK, elements=(-1, 0, 1, 7, 8, 9))


def test_the_cases_reach_the_forward():
    assert FLOPS > 0 and PEAK > 0
    outcomes = {_forward(Budget, CASES[k])[0] for k in CASES}
    assert "ok" in outcomes and len(outcomes) >= 6  # several limits fail in the forward, with their own messages
    assert len({_forward(Budget, CASES[k])[1] for k in CASES}) >= 4  # at several ops


@pytest.mark.parametrize("start", [0, 2])
@pytest.mark.parametrize("case", list(CASES))
def test_inline_charge_is_budget_charge(case, start):
    assert _forward(Budget, CASES[case], start) == _forward(MethodBudget, CASES[case], start)


@pytest.mark.parametrize("start", [0, 2])
@pytest.mark.parametrize("room", [1, 16, 31, 32, 33, 63, 64, 65, 1000])
def test_process_limit(room, start, monkeypatch):
    def run(cls):
        def tweak(b, used, peak):
            monkeypatch.setattr(B.PROCESS, "max_bytes", B.PROCESS.live + room)
        try:
            return _forward(cls, tweak, start)
        finally:
            monkeypatch.setattr(B.PROCESS, "max_bytes", 0)

    assert run(Budget) == run(MethodBudget)
