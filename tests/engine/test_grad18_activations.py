"""leaky_relu's float16 gradient computed in float and rounded once, as aten's reduced-float kernel does
(leaky_relu_backward: `float(grad) * negval` with the slope as a float), against live torch 2.13 with a random
upstream gradient; float32 / float64 unchanged. (It is leaky_relu_backward's own forward, so the create_graph
route gives the same values.)"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

CASES = [("leaky_relu", {"negative_slope": 0.01}), ("leaky_relu", {"negative_slope": 0.3})]


def _grad(lib, op, x, g, kw, create_graph=False):
    t = lib.tensor(x, requires_grad=True)
    y = getattr(lib.nn.functional, op)(t, **kw)
    (gx,) = lib.autograd.grad(y, t, lib.tensor(g), create_graph=create_graph)
    return gx


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("op,kw", CASES)
def test_gradient_bits(op, kw, dtype):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-5, 5, 3000), [-3, 3, -0.0, 0.0, np.inf, -np.inf, 2.9999]]).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    want, got = (_grad(lib, op, x, g, kw).numpy() for lib in (torch, engine))
    assert ((want == got) & (np.signbit(want) == np.signbit(got))).all()


@pytest.mark.parametrize("op,kw", CASES)
def test_create_graph_values(op, kw):
    """The create_graph route: the same first-order values (float16 included)."""
    rng = np.random.default_rng(2)
    x = rng.uniform(-5, 5, 64).astype("float16")
    g = rng.standard_normal(64).astype("float16")
    first = _grad(engine, op, x, g, kw).numpy()
    again = _grad(engine, op, x, g, kw, create_graph=True)
    assert again.requires_grad
    assert (again.detach().numpy() == first).all()
