"""float16 beside a Python number (redteam15 F6): div with a rounding mode divides in float32 and truncates or floors
before its one rounding to half, for an int number too (div(x16, -3, 'trunc') of -7012 is torch's 2336, not 2338);
hardtanh's backward compares float16 in float with its bounds as floats (x = half(0.1) is inside a max of 0.1)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

V = np.concatenate([np.random.default_rng(0).uniform(-65000, 65000, 500),
                    np.random.default_rng(1).uniform(-10, 10, 500), [-7012, 7012, -5000, 0.0, -0.0]]).astype(np.float16)


@pytest.mark.parametrize("number", [-3, 3, 7, 2049, 0.1, -2.5])
@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_float16_div_by_a_number_with_a_rounding_mode(number, mode):
    r = [L.div(L.tensor(V.astype(np.float32).tolist(), dtype=L.float16), number, rounding_mode=mode).numpy()
         for L in (torch, engine)]
    assert np.array_equal(r[0], r[1]) and np.array_equal(np.signbit(r[0]), np.signbit(r[1]))


@pytest.mark.parametrize("lo, hi, vals", [(-0.1, 0.1, [0.1, -0.1, 0.05, 0.2, -0.2]), (-1e-40, 1e-40, [0.0, 1e-5]),
                                          (-1.0, 1.0, [1.0, -1.0, 0.999, 2.0])])
def test_float16_hardtanh_gradient_at_its_bounds(lo, hi, vals):
    out = []
    for L in (torch, engine):
        x = L.tensor(vals, dtype=L.float16, requires_grad=True)
        L.nn.functional.hardtanh(x, lo, hi).sum().backward()
        out.append(x.grad.tolist())
    assert out[1] == out[0]
