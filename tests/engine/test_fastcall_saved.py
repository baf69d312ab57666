"""The unrolled calls (engine/ops/fastcall.py) build a node's saved dict as a literal for the commonest save plans
(one output; one input; two inputs, in either order) where no saved input has an in-place version, and through the
plan's loop otherwise. Either way the dict must be what the general path (OpDef._record) saves for the same call:
the same keys in the same order, the very same objects, and an input's version where it has one."""
from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.autograd import no_grad
from engine.ops.registry import REGISTRY


def _entries():
    out = {}
    for op in REGISTRY.values():
        if getattr(op, "fast", None) is not None and op.saves_tensors and op._plan_every:
            out.setdefault(op.qualname, op)
    return sorted(out.values(), key=lambda op: op.qualname)


ENTRIES = _entries()


def _operand(kind, rng):
    """A float64 operand in (0.2, 0.8) (inside every entry's domain), of one of four kinds: a leaf (its version
    counter at 0), a non-leaf (no counter), a non-leaf changed in place (version 1), a leaf changed in place under
    no_grad (version 1)."""
    base = engine.tensor(rng.uniform(0.2, 0.8, 6), requires_grad=True)
    if kind == "leaf":
        return base
    t = base * 1.0
    if kind == "inplace":
        t.mul_(1.0)
    elif kind == "leaf_inplace":
        with no_grad():
            base.mul_(1.0)
        return base
    return t


def _recorded(op, args, out):
    """What the general path saves for these operands and this output (OpDef._record, its own loop)."""
    t = op._record(tuple(args), [a._data for a in args], op.default_attrs, out)
    return t.grad_fn._saved


KINDS = ["leaf", "nonleaf", "inplace", "leaf_inplace"]


def test_the_plans_are_covered():
    """Every literal form has entries to run: one output, one input, two inputs either way round."""
    shapes = {(len(op._plan_every), tuple(k for _, k, _ in op._plan_every),
               tuple(i for _, _, i in op._plan_every)) for op in ENTRIES}
    assert (1, (1,), (0,)) in shapes
    assert (1, (0,), (0,)) in shapes
    assert (2, (0, 0), (0, 1)) in shapes or (2, (0, 0), (1, 0)) in shapes
    assert (2, (0, 0), (1, 0)) in shapes  # mul: other, self


@pytest.mark.parametrize("op", ENTRIES, ids=lambda op: op.qualname)
@pytest.mark.parametrize("ka", KINDS)
@pytest.mark.parametrize("kb", KINDS)
def test_saved_as_the_general_path(op, ka, kb):
    if op.n_lead == 1 and kb != "leaf":
        pytest.skip("one operand")
    rng = np.random.default_rng(21)
    args = [_operand(ka, rng)] if op.n_lead == 1 else [_operand(ka, rng), _operand(kb, rng)]
    try:
        t = op.fast(*args)
    except Exception:  # noqa: BLE001 - an entry that refuses these operands says nothing here
        pytest.skip("the entry refuses these operands")
    node = t.grad_fn
    if node is None or type(node) is not op.node_cls or node._saved is None:
        pytest.skip("not recorded by the unrolled call")
    got = node._saved
    ref = _recorded(op, args, t._data)
    assert list(got) == list(ref)
    for k in ref:
        if type(k) is tuple:  # ("v", name): an input's version
            assert got[k] == ref[k]
        else:
            assert got[k] is ref[k], k
    for name, k, idx in op._plan_every:  # a saved input changed in place has its version saved (the loop's case)
        if k == 0 and "inplace" in (ka, kb)[idx]:
            assert got[("v", name)] == 1
