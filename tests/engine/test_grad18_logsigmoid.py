"""logsigmoid's gradient as aten's log_sigmoid_backward kernel on the forward's buffer exp(-|x|):
`(max_deriv - sign * (b / (1 + b))) * grad`, against live torch 2.13 with a random upstream gradient: float16
bit for bit (the buffer stored as float16, the rest in float); float32 / float64 bit for bit where the
exponential agrees (torch's vector exp is SLEEF's), and far fewer differing elements than grad * sigmoid(-x)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine


def _grads(x, g):
    out = []
    for lib in (torch, engine):
        t = lib.tensor(x, requires_grad=True)
        (gx,) = lib.autograd.grad(lib.nn.functional.logsigmoid(t), t, lib.tensor(g))
        out.append(gx.numpy())
    return out


def test_float16_bits():
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.standard_normal(5000) * 4, [0.0, -0.0, 20.0, -20.0, np.inf, -np.inf]]).astype("float16")
    g = rng.standard_normal(x.shape).astype("float16")
    want, got = _grads(x, g)
    assert (want == got).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernel_formula(dtype):
    """Where NumPy's exp(-|x|) is torch's (the forward's buffer checks it), the gradient is torch's bit for bit;
    elsewhere within 2 ulps of the upstream gradient (the factor is in [0, 1])."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(5000) * 4).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    want, got = _grads(x, g)
    _, buffer = torch.ops.aten.log_sigmoid_forward(torch.from_numpy(x))
    b = np.exp(-np.abs(x.astype(np.float64))).astype(dtype)
    same_exp = buffer.numpy() == b
    assert same_exp.mean() > 0.9
    assert (want[same_exp] == got[same_exp]).all()
    assert (np.abs(want - got) <= 2 * np.spacing(np.abs(g))).all()
