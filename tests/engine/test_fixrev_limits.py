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
