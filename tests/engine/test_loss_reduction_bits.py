"""Loss reductions to the bit against live torch 2.13: torch's apply_loss_reduction is loss.mean() / loss.sum(),
which add in torch's summation order (engine/ops/_torch_sum.py), so a loss whose elementwise terms are exact
(differences, squares, absolute values, comparisons) has torch's reduced value to the last bit."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine

LOSSES = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]
SIZES = list(range(1, 40)) + [63, 64, 65, 100, 257, 513, 1000, 4097, 20000]


def raw(x):
    x = np.asarray(x)
    return x.shape, x.dtype.str, x.tobytes()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LOSSES), st.sampled_from(["mean", "sum"]), st.sampled_from(["float32", "float64"]),
       st.sampled_from(SIZES), st.booleans(), st.integers(0, 2**32 - 1))
def test_loss_reduction_bits(name, reduction, dt, n, matrix, seed):
    rng = np.random.default_rng(seed)
    shape = (n // 4, 4) if matrix and n >= 4 else (n,)
    x = (rng.standard_normal(shape) * rng.choice([1e-3, 1, 1e3])).astype(dt)
    t = rng.standard_normal(shape).astype(dt)
    e = getattr(engine.nn.functional, name)(engine.from_numpy(x), engine.from_numpy(t), reduction=reduction)
    r = getattr(torch.nn.functional, name)(torch.from_numpy(x), torch.from_numpy(t), reduction=reduction)
    assert raw(e.numpy()) == raw(r.numpy())


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["mean", "sum"]), st.sampled_from(["float32", "float64"]), st.sampled_from(SIZES),
       st.integers(0, 2**32 - 1))
def test_bce_with_logits_reduction_is_torch_order(reduction, dt, n, seed):
    """binary_cross_entropy_with_logits: its elementwise losses differ from torch's in the last bit at some values
    (torch's log_sigmoid runs SLEEF's exp and log1p; docs/runs/exact.md), so torch's own elementwise losses are
    reduced here by the engine's sum / mean: the reduction must be torch's to the bit."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(dt)
    t = rng.random(n).astype(dt)
    lt = torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(x), torch.from_numpy(t),
                                                              reduction="none")
    r = getattr(lt, reduction)()
    from engine.ops import loss_common as loss
    e = loss._reduce_arr(lt.numpy(), {"mean": loss.MEAN, "sum": loss.SUM}[reduction])
    assert raw(e) == raw(r.numpy())
    ours = engine.nn.functional.binary_cross_entropy_with_logits(engine.from_numpy(x), engine.from_numpy(t),
                                                                 reduction=reduction).numpy()
    np.testing.assert_allclose(ours, r.numpy(), rtol=1e-5 if dt == "float32" else 1e-13)
