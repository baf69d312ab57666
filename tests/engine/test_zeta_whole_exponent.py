"""redteam16 F5: special.zeta with one whole exponent everywhere (a Python int x, or a tensor of one whole value)
took the whole-exponent power path built for polygamma (LM.pow_neg_int, double-double squaring), which is not
glibc's pow: 1 ulp off torch 2.13's std::pow on ~0.1% of q (x = 2: 94 of 100,000). special.zeta's powers are now
glibc's (math.pow) for whole exponents too, as for the others: bit for bit against live torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

N = 20_000
rng = np.random.default_rng(7)
Q = np.concatenate([rng.uniform(-40, 40, N // 2),
                    np.sign(rng.standard_normal(N // 2)) * 10.0 ** rng.uniform(-8, 3, N // 2)])


@pytest.mark.parametrize("form", ["int", "tensor"])
@pytest.mark.parametrize("x", [2, 3, 7])
def test_a_whole_exponent_answers_torchs_bits(x, form):
    xe = x if form == "int" else engine.from_numpy(np.full(Q.size, float(x)))
    xt = x if form == "int" else torch.full((Q.size,), float(x), dtype=torch.float64)
    e = engine.special.zeta(xe, engine.from_numpy(Q)).numpy()
    t = torch.special.zeta(xt, torch.from_numpy(Q)).numpy()
    assert np.array_equal(e, t, equal_nan=True), f"{int((~((e == t) | (np.isnan(e) & np.isnan(t)))).sum())} differ"
