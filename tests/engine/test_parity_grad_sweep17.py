"""Gradients against live torch 2.13 with an upstream gradient that is not all ones (grad17's sweep,
bench/grad_sweep.py; docs/runs/grad17.md): bit for bit where the forward agrees. float16 rsqrt rounded once
from float (acos / asin / acosh / asinh's float16 gradients go through it)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine


def _differ(a, b):
    """Elements that differ as bits (NaN equal to NaN; -0.0 apart from 0.0)."""
    with np.errstate(invalid="ignore"):
        same = ((a == b) & (np.signbit(a) == np.signbit(b))) | (np.isnan(a) & np.isnan(b))
    return ~same


def _grads(lib, fn, arrays, g):
    ts = [lib.tensor(a, requires_grad=True) for a in arrays]
    y = fn(lib, *ts)
    y.backward(lib.tensor(g))
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


def _check(fn, arrays, seed=0, min_same=0.3, linear=False):
    """torch's and the engine's gradients of fn under one random upstream gradient, bitwise where the forward
    agrees (elementwise fn: per element; otherwise the whole forward must agree). linear: the gradient does not
    depend on the forward's values (compared everywhere)."""
    out = fn(torch, *[torch.tensor(a) for a in arrays])
    g = np.random.default_rng(seed).standard_normal(tuple(out.shape)).astype(arrays[0].dtype)
    ty, tg = _grads(torch, fn, arrays, g)
    ey, eg = _grads(engine, fn, arrays, g)
    same = np.ones(ty.shape, bool) if linear else ~_differ(ty, ey)
    assert same.mean() >= min_same
    for a, b in zip(tg, eg):
        keep = same if a.shape == same.shape else np.broadcast_to(same.all(), a.shape)
        assert not (_differ(a, b) & keep).any(), f"{(_differ(a, b) & keep).sum()} of {a.size} differ"


def test_float16_rsqrt_every_value():
    x = np.arange(65536, dtype=np.uint16).view(np.float16)
    with np.errstate(all="ignore"):
        assert not _differ(torch.tensor(x).rsqrt().numpy(), engine.tensor(x).rsqrt().numpy()).any()


@pytest.mark.parametrize("op, lo, hi", [("acos", -1, 1), ("asin", -1, 1), ("acosh", 1, 5), ("asinh", -4, 4),
                                        ("rsqrt", 0.01, 4)])
def test_float16_inverse_trig_gradients(op, lo, hi):
    x = np.random.default_rng(3).uniform(lo, hi, 4000).astype("float16")
    _check(lambda lib, t: getattr(lib, op)(t), [x], min_same=1.0)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("value", [3.14, 0.1, -2, 7])
def test_addcdiv_tensor1_gradient_divides_the_value(dtype, value):
    """derivatives.yaml's grad * (value / tensor2) is C++: a Scalar over a Tensor is a true division (fill, then
    div_), not Python's reciprocal times the value."""
    rng = np.random.default_rng(4)
    s, a, b = (rng.uniform(-2, 2, 3000).astype(dtype) for _ in range(3))
    _check(lambda lib, x, y, z: lib.addcdiv(x, y, z, value=value), [s, a, b], min_same=1.0)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("dims, kw", [
    (1, {"kernel_size": 3, "stride": 1, "padding": 1}),
    (1, {"kernel_size": 5, "stride": 2, "padding": 2, "ceil_mode": True, "count_include_pad": False}),
    (2, {"kernel_size": 3, "stride": 1, "padding": 1}),
    (2, {"kernel_size": (3, 4), "stride": (2, 1), "padding": (1, 2), "ceil_mode": True}),
    (2, {"kernel_size": (3, 2), "stride": (1, 2), "padding": 0}),
    (2, {"kernel_size": 4, "stride": 1, "divisor_override": 3}),
])
def test_avg_pool_backward_adds_in_torch_order(dtype, dims, kw):
    """cpu_avg_pool_backward adds grad / div into each window, outputs in row-major order."""
    shape = (2, 3, 17) if dims == 1 else (2, 3, 11, 13)
    x = np.random.default_rng(5).uniform(-2, 2, shape).astype(dtype)
    _check(lambda lib, t: getattr(lib.nn.functional, f"avg_pool{dims}d")(t, **kw), [x], linear=True)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_cumprod_backward_with_zeros(dtype, dim):
    """cumprod_backward's O(n) path (an input with zeros, no create_graph): its reversed cumsum and cumprod
    accumulate in acc_type (double for float, float for half) as cpu_cum_base_kernel, and the first zero's term
    is a .sum(dim) in torch's order."""
    rng = np.random.default_rng(6 + dim)
    x = rng.uniform(-2, 2, (6, 7, 8)).astype(dtype)
    x[rng.random(x.shape) < 0.15] = 0
    out = torch.cumprod(torch.tensor(x), dim)
    assert not _differ(out.numpy(), engine.cumprod(engine.tensor(x), dim).numpy()).any()
    _check(lambda lib, t: lib.cumprod(t, dim), [x], linear=True)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("n", [5, 25, 125, 3000])
def test_mse_loss_gradients(dtype, reduction, n):
    """mse_backward_cpu_kernel: alpha * (a - b) * grad with alpha = 2. / numel (or 2.) as scalar_t, for the input
    (a = input) and the target (a = target)."""
    rng = np.random.default_rng(n)
    x, t = (rng.uniform(-2, 2, n).astype(dtype) for _ in range(2))
    t[:2] = x[:2]  # equal elements: (target - input) is +0, not -(input - target)
    _check(lambda lib, a, b: lib.nn.functional.mse_loss(a, b, reduction=reduction), [x, t], linear=True)


@pytest.mark.parametrize("loss, kw", [("smooth_l1_loss", {"beta": 0.7}), ("smooth_l1_loss", {"beta": 1.5}),
                                      ("huber_loss", {"delta": 0.7}), ("huber_loss", {"delta": 1.5})])
def test_smooth_l1_and_huber_gradient_order_float64(loss, kw):
    """The kernels' order between the kinks: norm * x * grad (huber), x / beta * norm * grad (smooth_l1). float64
    only: float32 and float16 keep a few differences (docs/runs/grad17.md)."""
    rng = np.random.default_rng(8)
    x, t = (rng.uniform(-2, 2, 3000) for _ in range(2))
    _check(lambda lib, a, b: getattr(lib.nn.functional, loss)(a, b, **kw), [x, t], linear=True)
