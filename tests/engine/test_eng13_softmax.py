"""softmax backward along another dim than the last, float32 (engine/ops/_softmax_order._fused_sum32: torch's
`sum += grad * output` fused a step, modelled in float64 a batch of steps at a time), against live torch 2.13:
step counts around the batch size (a quarter of the dim) and its remainders, and the sums the float64 model hands to
the exact route (a float32 tie, a subnormal sum)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.ops.nn_softmax import _softmax_bw_fwd


def _bits_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _torch(g, out, dim):
    return torch._softmax_backward_data(torch.from_numpy(g), torch.from_numpy(out), dim, torch.float32).numpy()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 9, 10, 13, 31, 64, 101])
@pytest.mark.parametrize("dim", [0, 1])
def test_fused_sum_steps_and_batches(n, dim):
    rng = np.random.default_rng(n * 7 + dim)
    shape = (n, 6, 5) if dim == 0 else (3, n, 11)
    g = rng.standard_normal(shape).astype(np.float32)
    out = torch.softmax(torch.from_numpy(rng.standard_normal(shape).astype(np.float32)), dim).numpy()
    assert _bits_equal(_torch(g, out, dim), _softmax_bw_fwd(g, out, dim))


def test_a_double_rounding_takes_the_exact_route():
    # step 0: s = (1 + 2**-23) * 1; step 1 adds -2**-24 * (1 + 2**-23) * (1 - 2**-23) = -2**-24 + 2**-70: the exact
    # sum 1 + 2**-24 + 2**-70 rounds (fused) to 1 + 2**-23, but in float64 to the float32 tie 1 + 2**-24, then to 1
    up, down = 1 + 2.0 ** -23, 1 - 2.0 ** -23
    g = np.array([[up, 0.5, up], [-(2.0 ** -24) * up, 0.25, -(2.0 ** -24) * up]], np.float32)
    out = np.array([[1.0, 0.125, 1.0], [down, 0.5, down]], np.float32)
    want = _torch(g, out, 0)
    assert want[0, 0] == np.float32(1.0) * (g[0, 0] - np.float32(up))  # torch's sum is the fused one
    assert _bits_equal(want, _softmax_bw_fwd(g, out, 0))
    g3, out3 = np.repeat(g[None], 3, 0), np.repeat(out[None], 3, 0)  # more rows beside it: (3, 2, 3) along dim 1
    assert _bits_equal(_torch(g3, out3, 1), _softmax_bw_fwd(g3, out3, 1))


def test_subnormal_sums_take_the_exact_route():
    rng = np.random.default_rng(5)
    g = (rng.standard_normal((7, 4, 3)) * 2.0 ** -66).astype(np.float32)
    out = (rng.random((7, 4, 3)) * 2.0 ** -64).astype(np.float32)
    assert _bits_equal(_torch(g, out, 1), _softmax_bw_fwd(g, out, 1))
