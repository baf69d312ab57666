"""mvlgamma below (p-1)/2: torch 2.13 has no domain check and answers the lgamma terms' sum (inf at a pole), where
the engine raised the old "All elements must be greater than (p-1)/2" (redteam15 F9)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

V = [0.9, 0.2, 1.0, -0.5, 0.5, -1.25, 3.3, 0.0, -2.0, 2.5]


@pytest.mark.parametrize("p", [1, 2, 3, 5])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mvlgamma_answers_below_the_old_domain(p, dtype):
    out = []
    for L in (torch, engine):
        x = L.tensor(V, dtype=getattr(L, dtype), requires_grad=True)
        y = L.mvlgamma(x, p)
        (y * L.tensor(np.linspace(0.5, 1.5, len(V)).tolist(), dtype=getattr(L, dtype))).sum().backward()
        out.append((y.detach().numpy(), x.grad.numpy()))
    (ty, tg), (ey, eg) = out
    assert np.array_equal(np.isfinite(ty), np.isfinite(ey)) and np.array_equal(np.isinf(ty), np.isinf(ey))
    assert np.array_equal(tg, eg, equal_nan=True)
    if dtype == "float32":
        assert np.array_equal(ty, ey, equal_nan=True)
    else:  # (float64 lgamma: glibc's against torch's own, last ulps; docs/ENGINE.md)
        np.testing.assert_allclose(ey, ty, rtol=1e-14, equal_nan=True)


def test_p_below_one_still_raises_torchs_error():
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        engine.mvlgamma(engine.tensor([1.0]), 0)
