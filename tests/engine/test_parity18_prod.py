"""prod's gradient where the input holds two or more zeros, against live torch 2.13 (redteam14 F5): aten's
prod_backward (all elements) answers zeros_like(input), +0.0 everywhere, when no graph is being built; with
create_graph it takes prod_safe_zeros_backward (the exclusive products: -0.0 where the other factors are
negative), and the dim form always takes the exclusive products. Signs are compared bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

VALUES = [
    [0.0, 0.0, -1.5, 2.0, 3.0],
    [0.0, -0.0, -1.5, -2.0, 3.0],
    [-0.0, 0.0, 0.0, -2.0, 3.0],
    [0.0, -1.5, 2.0, 3.0, -0.5],
    [1.5, -2.0, 3.0, 0.5, 0.25],
]


def _bits(t):
    a = np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)
    return a.tolist(), np.signbit(a).tolist()


def _grad(L, values, dtype, shape, dim, keepdim, create_graph, upstream):
    x = L.tensor(values, dtype=getattr(L, dtype)).reshape(shape).requires_grad_()
    out = x.prod() if dim is None else x.prod(dim, keepdim=keepdim)
    g = L.full(tuple(out.shape), upstream, dtype=getattr(L, dtype))
    (gx,) = L.autograd.grad(out, x, g, create_graph=create_graph)
    return _bits(gx)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("upstream", [1.25, -0.5])
@pytest.mark.parametrize("values", VALUES)
def test_prod_all_gradient_signs(values, upstream, create_graph, dtype):
    args = (values, dtype, (5,), None, False, create_graph, upstream)
    assert _grad(engine, *args) == _grad(torch, *args)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_prod_dim_gradient_signs(dim, keepdim, dtype):
    values = [0.0, 0.0, -1.5, 2.0, 0.0, -3.0, -0.0, 0.5, 0.0, 0.0, 1.0, -2.0]
    for create_graph in (False, True):
        args = (values, dtype, (3, 4), dim, keepdim, create_graph, -0.75)
        assert _grad(engine, *args) == _grad(torch, *args)


def test_prod_all_gradient_2d_under_no_graph():
    values = [0.0, -1.0, 0.0, -2.0, 3.0, -4.0]
    args = (values, "float32", (2, 3), None, False, False, 2.0)
    assert _grad(engine, *args) == _grad(torch, *args)


def test_prod_forward_ad_with_zeros():
    """torch's forward formula for prod calls prod_backward (grad mode on: the exclusive products)."""
    import torch.autograd.forward_ad as tfwd

    import engine.autograd.forward_ad as efwd

    values = [0.0, 0.0, -1.5, 2.0, 3.0]
    tangent = [1.0, -1.0, 0.5, 0.25, -2.0]
    res = []
    for L, fwd in ((engine, efwd), (torch, tfwd)):
        with fwd.dual_level():
            x = fwd.make_dual(L.tensor(values), L.tensor(tangent))
            res.append(_bits(fwd.unpack_dual(x.prod()).tangent))
    assert res[0] == res[1]
