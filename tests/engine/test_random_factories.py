"""Seeded randomness: reproducible per seed (API.md's `seed`), right distributions, dropout's gradient."""
from __future__ import annotations

import numpy as np
import pytest

import engine
import engine.nn.functional as F


@pytest.mark.parametrize("op", ["rand", "randn"])
def test_same_seed_same_values_other_seed_other_values(op):
    def draw(seed):
        spec = {"seed": seed, "ops": [{"name": "x", "op": op, "args": [4, 5]}]}
        return engine.evaluate(spec)["tensors"]["x"]["data"]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_distributions():
    engine.manual_seed(0)
    u = engine.rand(200_000).numpy()
    n = engine.randn(200_000).numpy()
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    assert abs(n.mean()) < 0.01 and abs(n.std() - 1.0) < 0.01


@pytest.mark.parametrize("p", [0.25, 0.5])
def test_dropout_mask_scale_and_gradient(p):
    engine.manual_seed(3)
    x = engine.ones(10_000, dtype=engine.float64, requires_grad=True)
    y = F.dropout(x, p=p, training=True)
    assert y.grad_fn.name() == "MulBackward0"  # torch on the CPU records the mask multiply
    kept = y.detach().numpy() != 0
    np.testing.assert_allclose(y.detach().numpy()[kept], 1.0 / (1.0 - p))
    assert abs(kept.mean() - (1 - p)) < 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())  # d(sum)/dx is the scaled mask


def test_dropout_off():
    x = engine.ones(5, requires_grad=True)
    assert F.dropout(x, p=0.5, training=False) is x
    assert F.dropout(x, p=0.0) is x
