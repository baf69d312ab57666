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


class MethodBudget(Budget):
    """A Budget whose charges go through Budget.charge (the array loop writes the charge out for Budget only)."""

    __slots__ = ()


X = [0.25, -1.5, 0.75, 2.0, -0.5, 1.25, -2.5, 0.125]


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
FRACTIONS = [0.0, 0.1, 0.33, 0.5, 0.77, 0.99, 1.0, 1.5]


def _setter(attr, value_of):
    def tweak(b, used, peak):
        setattr(b, attr, value_of(used, peak))
    return tweak


CASES = {"none": lambda b, used, peak: None, "cancelled": lambda b, used, peak: b.cancel()}
for f in FRACTIONS:
    CASES[f"max_flops {f}"] = _setter("max_flops", lambda used, peak, f=f: used + f * BWD_FLOPS)
    CASES[f"spill_flops {f}"] = _setter("spill_flops", lambda used, peak, f=f: used + f * BWD_FLOPS)
    CASES[f"op_max_flops {f}"] = _setter("op_max_flops", lambda used, peak, f=f: f * BWD_FLOPS / 8)
    CASES[f"spill_op_flops {f}"] = _setter("spill_op_flops", lambda used, peak, f=f: f * BWD_FLOPS / 8)
    CASES[f"max_bytes {f}"] = _setter("max_bytes", lambda used, peak, f=f: int(peak * f))
    CASES[f"spill_bytes {f}"] = _setter("spill_bytes", lambda used, peak, f=f: int(peak * f))
    CASES[f"held {f}"] = _setter("held", lambda used, peak, f=f: int(peak * (1 - f)))
CASES["max_elements -1"] = _setter("max_elements", lambda used, peak: -1)
CASES["max_flops float"] = _setter("max_flops", lambda used, peak: float(used + BWD_FLOPS / 2))
CASES["max_bytes float"] = _setter("max_bytes", lambda used, peak: float(peak) / 2)


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


# ----- the array loop's per-class copies of its step (backward_loop._step_of) against the one shared step -----

class RecordingBudget(Budget):
    """A Budget that notes the name of every node it is charged for, in order (through Budget.charge)."""

    __slots__ = ("seen",)

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.seen = []

    def charge(self, nbytes, flops=0.0, what="the op", elements=0):
        self.seen.append(what)
        return super().charge(nbytes, flops, what, elements)


def _shared_step(monkeypatch):
    """Every node through backward_loop._step itself (no class gets a copy): the loop as one function."""
    from engine.autograd import backward_loop as L  # noqa: PLC0415

    monkeypatch.setattr(L, "_STEPS", {})
    monkeypatch.setattr(L, "_step_of", lambda cls: L._step)


@pytest.mark.parametrize("cls", [Budget, MethodBudget])
@pytest.mark.parametrize("case", list(CASES))
def test_class_steps_are_the_shared_step(case, cls, monkeypatch):
    """The same outcome (error and message), counts and gradients with each class's copy as with the one step."""
    copies = _backward(cls, CASES[case])
    _shared_step(monkeypatch)
    assert _backward(cls, CASES[case]) == copies


def _order(with_hooks):
    """The nodes' names in the order they were charged, the leaves' grads: a graph with branches (a node made
    ready while another is held), a leaf used by many nodes, and (with_hooks) a tensor hook on the way."""
    b = RecordingBudget()
    with B.active(b):
        x = E.tensor(X, requires_grad=True)
        w = E.tensor(0.9, requires_grad=True)
        a = (x * w).tanh()
        c = (x + w).sin()
        if with_hooks:
            c.register_hook(lambda g: g * 2)
        d = (a * c).exp() + a.cos() + (c - a).sigmoid()
        d.sum().backward()
    return b.seen, [np.asarray(t.grad._data).tobytes() for t in (x, w)]


@pytest.mark.parametrize("with_hooks", [False, True])
def test_class_steps_run_the_nodes_in_the_shared_steps_order(with_hooks, monkeypatch):
    copies = _order(with_hooks)
    assert len(copies[0]) >= 12 and "AccumulateGrad" in copies[0]
    _shared_step(monkeypatch)
    assert _order(with_hooks) == copies


def _twice():
    """A custom Function's class, made anew each call (as a program's function is made per program)."""

    class Twice(E.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    return Twice


def test_each_op_class_has_its_own_copy_and_a_custom_function_none():
    from engine.autograd import backward_loop as L  # noqa: PLC0415
    from engine.autograd.nodes import AccumulateGrad  # noqa: PLC0415

    loss, x, w = _forward()
    kinds, todo = set(), [loss.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None and type(node) not in kinds:
            kinds.add(type(node))
            todo.extend(n for n, _ in node.next_functions)
    loss.backward()
    assert AccumulateGrad in kinds and len(kinds) >= 7
    codes = set()
    for k in kinds:
        step = L._STEPS[k]
        assert step.__code__ is not L._step.__code__ and step.__code__.co_code == L._step.__code__.co_code
        assert step.__globals__ is L._step.__globals__
        codes.add(id(step.__code__))
    assert len(codes) == len(kinds)
    for _ in range(3):  # a custom Function's node runs the shared step: nothing kept for its class
        before = dict(L._STEPS)
        y = _twice().apply(E.tensor(X, requires_grad=True))
        y.sum().backward()
        assert type(y.grad_fn) not in L._STEPS and L._STEPS == before
    assert all(k is AccumulateGrad or "_release_kind" in vars(k) for k in L._STEPS)
