"""review15 R11: softmax's backward along a long dim other than the last stepped through it in Python (an emulated
fused multiply-add a step, nothing charged, no deadline checked): a 338-byte program, a 1x1 leaf expanded to
(3e6, 1) and softmax over dim 0, ran ~55 s past its deadline. The modelled orders now step at most
_softmax_order.MAX_STEPS times; longer dims take NumPy's reduction, and the program finishes inside a deadline
~100x its real cost."""
from __future__ import annotations

import time

import pytest

import engine
from engine.budget import Budget
from engine.ops import _softmax_order


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_long_expanded_dim_stays_inside_its_deadline(dtype):
    n = 3_000_000
    doc = {"leaves": {"x": {"data": [[0.5]], "dtype": dtype, "requires_grad": True}},
           "ops": [{"name": "e", "op": "expand", "args": ["x", [n, 1]]},
                   {"name": "s", "op": "softmax", "args": ["e", 0]},
                   {"name": "t", "op": "sum", "args": ["s"]}],
           "backward": [{"tensor": "t"}], "outputs": ["t"]}
    out = engine.evaluate(doc, budget=Budget(deadline=time.monotonic() + 10.0))
    assert out["tensors"]["x"]["grad"] is not None, out


def test_the_modelled_order_declines_past_max_steps():
    import numpy as np
    g = np.ones((1, _softmax_order.MAX_STEPS + 1, 1), np.float32)
    assert _softmax_order.softmax_backward(g, g, 1) is None
    assert _softmax_order.softmax_backward(g[:, :8], g[:, :8], 1) is not None
