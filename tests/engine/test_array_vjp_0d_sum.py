"""The array backward's sum of a 0-d input's gradient (engine/ops/array_vjp.py, the generated `raw`: a small
vector's gradient to a 0-d operand, mul by a 0-d w) taken by vector_sum without SUM_TO's frame: the same bits,
dtype and type as SUM_TO's sum (engine.ops.reduction_sum.sum_to_shape_array, the route before: a 0-d array where
vector_sum applies, 8 or 16 float32, 4 or 8 float64), and a 0-d leaf used once gets live torch's .grad, bit for
bit, in an array of its own."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine as E
from engine.ops.reduction_sum import sum_to_shape_array

DTYPES = {"float16": (np.float16, torch.float16), "float32": (np.float32, torch.float32),
          "float64": (np.float64, torch.float64)}
SIZES = [1, 3, 4, 8, 16, 32]
VALUES = {
    "random": lambda n: list(np.random.default_rng(n).standard_normal(n)),
    "negative zeros": lambda n: [-0.0] * n,
    "cancelling": lambda n: [1e4 if i % 2 else -1e4 for i in range(n - 1)] + [3.0],
    "overflow": lambda n: [3e38] * n,
    "nan": lambda n: [1.0] * (n - 1) + [float("nan")],
    "infinities": lambda n: [float("inf"), float("-inf")] * (n // 2) + [1.0] * (n % 2),
}


def _bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.reshape(-1).view(np.uint8).tobytes()


def _vector_sum_applies(dt, n):
    return (dt == "float32" and n in (8, 16)) or (dt == "float64" and n in (4, 8))


@pytest.mark.parametrize("case", sorted(VALUES))
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dt", sorted(DTYPES))
def test_raw_sum_to_0d_is_sum_tos(dt, n, case):
    """node._raw's gradient for the 0-d operand against SUM_TO of the same product (the generated code's route
    before): the same bits and SUM_TO's very type (a 0-d array where vector_sum takes it)."""
    np_dt = DTYPES[dt][0]
    with np.errstate(all="ignore"):
        x = E.tensor(VALUES[case](n), dtype=getattr(E, dt), requires_grad=True)
        w = E.tensor(0.5, dtype=getattr(E, dt), requires_grad=True)
        y = x * w
        g = np.full(n, 1.25, np_dt) if case != "overflow" else np.asarray(VALUES[case](n), np_dt)
        gx, gw = type(y.grad_fn)._raw(y.grad_fn, g)
        want = sum_to_shape_array(g * x._data, ())
    assert _bits(gw) == _bits(want) and type(gw) is type(want)
    if _vector_sum_applies(dt, n):
        assert type(gw) is np.ndarray and gw.shape == ()
    assert _bits(gx) == _bits(g * w._data)


@pytest.mark.parametrize("case", sorted(VALUES))
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dt", sorted(DTYPES))
def test_a_0d_leaf_used_once_gets_torchs_grad(dt, n, case):
    """w used once (its gradient reaches AccumulateGrad as the raw backward gave it), then once more (the
    accumulation into the .grad it made): live torch's .grad each time, bits, dtype and shape."""
    np_dt, t_dt = DTYPES[dt]
    vals = VALUES[case](n)

    def run(m, dtype):
        x = m.tensor(vals, dtype=dtype)
        w = m.tensor(0.5, dtype=dtype, requires_grad=True)
        (x * w).sum().backward()
        if m is E and _vector_sum_applies(dt, n):  # an array of its own (_own copies vector_sum's 0-d view)
            d = w.grad._data
            assert type(d) is np.ndarray and d.base is None and d.flags.writeable and d.flags.owndata
        first = w.grad.numpy().copy()
        (x * w * 3).sum().backward()
        return first, w.grad.numpy(), repr(w.grad)

    with np.errstate(all="ignore"):
        got = run(E, getattr(E, dt))
    want = run(torch, t_dt)
    assert _bits(got[0]) == _bits(want[0].astype(np_dt))
    assert _bits(got[1]) == _bits(want[1].astype(np_dt))
    assert got[2] == want[2]
