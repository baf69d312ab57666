"""The review's limit findings in the value-sized ops (B2, B3): logspace's steps are held to max_tensor_elements
at the op as linspace's are, and outputs sized by values or arguments count their real elements into
max_total_elements."""
from __future__ import annotations

import pytest

import engine
from engine.errors import LimitExceeded
from engine.program import Limits


def _doc(op, args, kwargs=None, leaves=None):
    step = {"name": "y", "op": op, "args": args}
    if kwargs:
        step["kwargs"] = kwargs
    return {"leaves": leaves or {}, "ops": [step], "outputs": ["y"]}


@pytest.mark.parametrize("op", ["linspace", "logspace"])
def test_steps_over_max_tensor_elements_are_a_413_at_the_op(op):
    with pytest.raises(LimitExceeded) as e:
        engine.evaluate(_doc(op, [0, 1, 1000]), limits=Limits(max_tensor_elements=100))
    assert "max_tensor_elements" in e.value.msg and e.value.loc == ["body", "ops", 0], (e.value.msg, e.value.loc)
    out = engine.evaluate(_doc(op, [0, 1, 100]), limits=Limits(max_tensor_elements=100))
    assert len(out["tensors"]["y"]["data"]) == 100


VALUE_SIZED = {  # op, args, kwargs, leaves, names: each output far more elements than its inputs
    "bincount": ("bincount", ["x"], None, {"x": {"data": [99], "dtype": "int64"}}, 1),
    "histc": ("histc", ["f"], {"bins": 100}, {"f": {"data": [1.0, 2.0]}}, 1),
    "logspace": ("logspace", [0, 1, 100], None, {}, 1),
    "vander": ("vander", ["f"], {"N": 50}, {"f": {"data": [1.0, 2.0]}}, 1),
    "tril_indices": ("tril_indices", [10, 10], None, {}, 1),
    "unique": ("unique", ["g"], {"return_inverse": True, "return_counts": True},
               {"g": {"data": [[float(i) for i in range(10)]] * 10}}, 3),
    "repeat_interleave": ("repeat_interleave", ["f", 50], None, {"f": {"data": [1.0, 2.0]}}, 1),
}


def _copies(op, args, kwargs, leaves, names, k):
    ops = []
    for i in range(k):
        step = {"name": [f"y{i}_{j}" for j in range(names)] if names > 1 else f"y{i}", "op": op, "args": args}
        if kwargs:
            step["kwargs"] = kwargs
        ops.append(step)
    return {"leaves": leaves, "ops": ops, "outputs": []}


@pytest.mark.parametrize("case", sorted(VALUE_SIZED))
def test_value_sized_outputs_count_their_real_elements_in_max_total_elements(case):
    """Three copies of the op where the limit holds two and a half: the third is the 413 (before the fix, the
    op was counted at its input's size and all three were answered)."""
    op, args, kwargs, leaves, names = VALUE_SIZED[case]
    one = engine.evaluate({**_copies(op, args, kwargs, leaves, names, 1),
                           "outputs": [f"y0_{j}" for j in range(names)] if names > 1 else ["y0"]})
    per_op = sum(len(str(t["data"]).replace("[", "").replace("]", "").split(",")) for t in one["tensors"].values())
    leaf_n = sum(len(str(v["data"]).replace("[", "").replace("]", "").split(",")) for v in leaves.values())
    limit = leaf_n + 2 * per_op + per_op // 2
    lim = Limits(max_total_elements=limit)
    assert engine.evaluate(_copies(op, args, kwargs, leaves, names, 2), limits=lim)
    with pytest.raises(LimitExceeded) as e:
        engine.evaluate(_copies(op, args, kwargs, leaves, names, 3), limits=lim)
    assert "max_total_elements" in e.value.msg and e.value.loc == ["body", "ops", 2], (e.value.msg, e.value.loc)
