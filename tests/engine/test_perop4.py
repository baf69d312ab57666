"""The per-op work of branch perop4 (docs/runs/perop4.md): run_op's inline output bound, held to
engine.program.shapes.output_bound through the request's element limit; grad mode's count of threads that have it
off (engine/autograd/modes.py GRAD_OFF), which lets the op table's unrolled calls skip the thread-local read."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import engine
from engine.autograd import modes
from engine.errors import LimitExceeded
from engine.program.limits import Limits
from engine.program.shapes import output_bound
from engine.tensor import Tensor

SHAPES = [(), (1,), (4,), (3, 1), (1, 4), (3, 4), (2, 3, 4)]


def _leaf(shape, k):
    return {"data": (np.arange(int(np.prod(shape))) + k).reshape(shape).astype(float).tolist()}


def _cases():
    """(args as the document gives them, leaves, the op): unary, tensor with tensor (every pairing of SHAPES:
    equal, 0-d on either side, broadcast, mismatched), tensor with a Python number."""
    out = [("tanh", ["a"], {"a": _leaf(s, 1)}) for s in SHAPES]
    out += [(op, ["a", "b"], {"a": _leaf(s, 1), "b": _leaf(t, 2)}) for s in SHAPES for t in SHAPES
            for op in ("add", "mul")]
    out += [("mul", ["a", 2.5], {"a": _leaf(s, 1)}) for s in SHAPES] + [("add", ["a", 3], {"a": _leaf((3, 4), 1)})]
    return out


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"{c[0]}-" + "-".join(
    str(np.shape(c[2][a]["data"])) if isinstance(a, str) else type(a).__name__ for a in c[1]))
def test_the_element_limit_holds_at_output_bound(case):
    """A request whose tensors hold exactly the leaves' elements plus output_bound's count runs; one element
    less of max_total_elements is the limit's error, before the op runs (a bound that is off either way fails
    here: a broadcast bound taken as an operand's size lets the second request through)."""
    op, args, leaves = case
    tensors = {k: engine.tensor(v["data"]) for k, v in leaves.items()}
    bound = output_bound(op, [tensors[a] if isinstance(a, str) else a for a in args], {})
    total = sum(t.numel() for t in tensors.values()) + bound
    doc = {"leaves": leaves, "ops": [{"name": "y", "op": op, "args": args}], "outputs": ["y"]}
    try:
        expected = getattr(engine, op)(*[tensors[a] if isinstance(a, str) else a for a in args])
    except Exception:  # noqa: BLE001 - mismatched shapes: the op's own error, after the limit's check
        expected = None
    if expected is not None:
        r = engine.evaluate(doc, limits=Limits(max_total_elements=total))
        assert np.shape(r["tensors"]["y"]["data"]) == tuple(expected.shape)
    with pytest.raises(LimitExceeded, match=f"would hold {total} elements, over the limit of {total - 1} "):
        engine.evaluate(doc, limits=Limits(max_total_elements=total - 1))


def test_the_bound_of_a_tensor_subclass_and_of_kwargs_is_output_bound():
    """What run_op's inline case does not take (a Parameter operand, kwargs) still meets the limit."""
    doc = {"leaves": {"a": _leaf((3, 1), 1), "b": _leaf((1, 4), 2)},
           "ops": [{"name": "y", "op": "add", "args": ["a", "b"], "kwargs": {"alpha": 2}}], "outputs": ["y"]}
    engine.evaluate(doc, limits=Limits(max_total_elements=3 + 4 + 12))
    with pytest.raises(LimitExceeded, match="would hold 19 elements"):
        engine.evaluate(doc, limits=Limits(max_total_elements=18))


def _chain(x, w):
    y = x
    for _ in range(8):
        y = (y * w + x).tanh().sin()
    return y


def test_grad_mode_count_follows_the_threads():
    """One thread under no_grad while another records: each sees its own mode on the unrolled call path (the
    other's output has no grad_fn), the count says a thread has it off meanwhile, and back to where it was
    after (counted from a baseline: another test's thread may hold no_grad while this one runs)."""
    base = modes.GRAD_OFF[0]
    x = engine.tensor(np.linspace(-1, 1, 16, dtype=np.float32), requires_grad=True)
    w = engine.tensor(0.9, requires_grad=True)
    inside, leave, seen = threading.Event(), threading.Event(), {}

    def off():
        with engine.no_grad():
            seen["count inside"] = modes.GRAD_OFF[0]
            inside.set()
            leave.wait(10)
            seen["off"] = _chain(x, w)
            with engine.enable_grad():  # back on inside: not counted meanwhile
                seen["count enabled"] = modes.GRAD_OFF[0]
                seen["on inside"] = _chain(x, w)

    t = threading.Thread(target=off)
    t.start()
    assert inside.wait(10)
    on = _chain(x, w)  # this thread's mode is on while the other's is off
    assert modes.GRAD_OFF[0] == base + 1
    leave.set()
    t.join(10)
    assert on.grad_fn is not None and on.requires_grad
    assert seen["off"].grad_fn is None and not seen["off"].requires_grad
    assert seen["on inside"].grad_fn is not None
    assert (seen["count inside"], seen["count enabled"], modes.GRAD_OFF[0]) == (base + 1, base, base)
    off_here = None
    with engine.no_grad():
        off_here = _chain(x, w)
        assert modes.GRAD_OFF[0] == base + 1
    assert off_here.grad_fn is None and modes.GRAD_OFF[0] == base


def test_grad_mode_setter_counts_changes_only():
    """Setting the mode a thread already has changes no count (set_grad_enabled(True) twice, no_grad nested)."""
    base = modes.GRAD_OFF[0]
    with engine.set_grad_enabled(True), engine.set_grad_enabled(True):
        assert modes.GRAD_OFF[0] == base
    with engine.no_grad(), engine.no_grad():
        assert modes.GRAD_OFF[0] == base + 1
        y = Tensor._make(np.ones(3, np.float32)) * engine.tensor(2.0, requires_grad=True)
        assert y.grad_fn is None
    assert modes.GRAD_OFF[0] == base
