"""vector_sum's result is its running sum's last item as a 0-d view (engine/ops/_torch_sum.py): what backward makes
of it must be what it made of the 0-d array before, against live torch: a 0-d leaf used once gets that sum as its
own .grad (a buffer of its own, base None: nodes._own copies a view), NaN and zero sums included."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.ops import _torch_sum


def _bits(a):
    return np.asarray(a).tobytes(), np.asarray(a).dtype.str


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("case", ["random", "zero", "negzero", "nan", "inf"])
def test_once_used_leaf_grad(dt, case):
    n = 16 if dt == "float32" else 8
    rng = np.random.default_rng(7)
    x = rng.uniform(-3, 3, n).astype(dt)
    if case == "zero":
        x[:] = 0
    elif case == "negzero":
        x[:] = -0.0
    elif case == "nan":
        x[3] = np.nan
    elif case == "inf":
        x[1], x[5] = np.inf, -np.inf
    w = engine.tensor(np.array(0.5, dt), requires_grad=True)
    xe = engine.from_numpy(x.copy())
    (xe * w).sum().backward()
    wt = torch.tensor(np.array(0.5, dt), requires_grad=True)
    (torch.from_numpy(x.copy()) * wt).sum().backward()
    got, want = w.grad.numpy(), wt.grad.numpy()
    assert got.shape == () and (_bits(got) == _bits(want) or (np.isnan(got) and np.isnan(want)))
    d = w.grad._data
    assert type(d) is np.ndarray and d.base is None and d.flags.writeable  # its own buffer, not a view of a temp
    w.grad.add_(1.0)  # in place: nothing else changes
    assert np.asarray(w.grad.numpy()) == np.asarray(got) + 1 or np.isnan(got)


def test_declines_other_byte_order():
    a = np.arange(16, dtype=">f4")
    assert _torch_sum.vector_sum(a) is None
    got = _torch_sum.vector_sum(np.arange(16, dtype="<f4"))
    assert type(got) is np.ndarray and got.shape == () and got == np.float32(120)
