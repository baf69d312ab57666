"""The unrolled calls (engine/ops/fastcall.py) write Tensor._make out for the tensor an op records: every slot that
Tensor._make sets must be set, to what it sets (its _req and grad_fn then as the op's result has them), and no
other. A slot added to Tensor._make and not there fails here."""
from __future__ import annotations

import numpy as np
import pytest

import engine
from engine import parallel
from engine.tensor import Tensor

_UNSET = object()


def _slots(t):
    return {s: getattr(t, s, _UNSET) for s in Tensor.__slots__ if s != "__weakref__"}


def _as_made(t):
    ref = Tensor._make(t._data)
    ref._req, ref.grad_fn = t._req, t.grad_fn
    return _slots(ref)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_recorded_outputs_are_made_tensors(threads, dtype):
    prev = parallel.configure(threads=threads)
    try:
        x = engine.tensor(np.linspace(-1, 1, 8), dtype=getattr(engine, dtype), requires_grad=True)
        w = engine.tensor(0.5, dtype=getattr(engine, dtype), requires_grad=True)
        outs = [x.tanh(), x.sin(), x * w, x + x, x - w, x.exp()]
    finally:
        parallel.configure(*prev)
    for t in outs:
        assert t.grad_fn is not None and t._req
        assert _slots(t) == _as_made(t)
        assert type(t) is Tensor
