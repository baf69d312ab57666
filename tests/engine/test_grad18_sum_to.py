"""A broadcast gradient summed back over leading and trailing dims at once (expand / broadcast_to / a (C, 1, 1)
operand of (N, C, H, W) arithmetic) in torch's CPU order (engine/ops/_torch_sum.py `_ends_sum`), against live
torch 2.13 with a random upstream gradient: the trailing block's row sums added to the output in the leading
block's order."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

DTYPES = ["float32", "float64"]
CASES = [((5, 1), (5, 5, 5)), ((16, 1, 1), (2, 16, 4, 4)), ((3, 1, 1), (8, 3, 7, 9)), ((4, 1), (3, 4, 100)),
         ((5, 1), (7, 5, 33)), ((3, 1, 1), (64, 3, 40, 40))]


def _differ(a, b):
    same = ((a == b) & (np.signbit(a) == np.signbit(b))) | (np.isnan(a) & np.isnan(b))
    return ~same


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("small,big", CASES)
def test_expand_gradient_bits(small, big, dtype):
    rng = np.random.default_rng(len(big) + big[-1])
    x = rng.standard_normal(small).astype(dtype)
    g = rng.standard_normal(big).astype(dtype)
    grads = []
    for lib in (torch, engine):
        t = lib.tensor(x, requires_grad=True)
        (gx,) = lib.autograd.grad(t.expand(*big), t, lib.tensor(g))
        grads.append(gx.numpy())
    assert not _differ(*grads).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_of_a_product_gradient_bits(dtype):
    """(N, C, H, W) + a (C, 1, 1) bias: AddBackward0 sums the bias's gradient over dims (0, 2, 3)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6, 5, 7)).astype(dtype)
    b = rng.standard_normal((6, 1, 1)).astype(dtype)
    g = rng.standard_normal((4, 6, 5, 7)).astype(dtype)
    grads = []
    for lib in (torch, engine):
        tb = lib.tensor(b, requires_grad=True)
        (gb,) = lib.autograd.grad(lib.tensor(x) * 2 + tb, tb, lib.tensor(g))
        grads.append(gb.numpy())
    assert not _differ(*grads).any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_over_leading_and_trailing_dims_forward_bits(dtype):
    rng = np.random.default_rng(5)
    for shape, dims in [((5, 5, 5), (0, 2)), ((2, 16, 4, 4), (0, 2, 3)), ((300, 50, 5), (0, 2)),
                        ((3, 2, 4, 5), (0, 1, 3))]:
        a = rng.standard_normal(shape).astype(dtype)
        want = torch.from_numpy(a).sum(dims, keepdim=True).numpy()
        got = engine.tensor(a).sum(list(dims), keepdim=True).numpy()
        assert not _differ(want, got).any(), shape
