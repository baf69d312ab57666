"""mvlgamma below (p-1)/2: torch 2.13 has no domain check and answers the lgamma terms' sum (inf at a pole, -inf
gradients there), where the engine raised the old "All elements must be greater than (p-1)/2" (redteam15 F9).
Values, infinities and gradients against live torch; float16 / integer inputs and special.multigammaln too."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from tests.engine import both

V = [0.9, 0.2, 1.0, -0.5, 0.5, -1.25, 3.3, 0.0, -2.0, 2.5, 1.5, -0.75, 7.0, 1e-3]


@pytest.mark.parametrize("p", [1, 2, 3, 5])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mvlgamma_answers_below_the_old_domain(p, dtype):
    out = []
    for L in (torch, engine):
        x = L.tensor(V, dtype=getattr(L, dtype), requires_grad=True)
        y = L.mvlgamma(x, p)
        (y * L.tensor(np.linspace(0.5, 1.5, len(V)).tolist(), dtype=getattr(L, dtype))).sum().backward()
        out.append((y.detach().numpy(), x.grad.numpy(), type(y.grad_fn).__name__))
    (ty, tg, tn), (ey, eg, en) = out
    assert tn == en
    assert np.isinf(ty).any() and np.array_equal(np.isinf(ty), np.isinf(ey))
    assert np.array_equal(ty == np.inf, ey == np.inf)
    assert np.array_equal(np.isnan(ty), np.isnan(ey)) and np.array_equal(np.isinf(tg), np.isinf(eg))
    assert np.array_equal(tg, eg, equal_nan=True)
    # the terms' lgamma: float32's is torch's glibc lgammaf (not correctly rounded: lgamma(1.5) one ulp off), the
    # engine's the float64 one rounded, as the plain lgamma op's; float64's the last ulps (docs/ENGINE.md)
    np.testing.assert_allclose(ey, ty, rtol=1e-6 if dtype == "float32" else 1e-14, equal_nan=True)


@pytest.mark.parametrize("p", [1, 3])
def test_float16_and_integer_inputs_below_the_old_domain(p):
    both.same(lambda m: m.mvlgamma(m.tensor(V, dtype=m.float16), p))
    both.same(lambda m: m.mvlgamma(m.tensor([0, 1, 2, -3, 5]), p))
    both.same(lambda m: m.special.multigammaln(m.tensor([0.2, -0.5, 0.5]), p + 1))


def test_p_below_one_still_raises_torchs_error():
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        engine.mvlgamma(engine.tensor([1.0]), 0)
    both.same(lambda m: m.mvlgamma(m.tensor([0.2]), 0))


def test_a_program_below_the_old_domain_answers():
    doc = {"leaves": {"x": {"data": [0.9, 0.2], "requires_grad": True}},
           "ops": [{"name": "y", "op": "mvlgamma", "args": ["x", 3]}, {"name": "s", "op": "sum", "args": ["y"]},
                   {"op": "backward", "args": ["s"]}], "outputs": ["x", "y"]}
    got = engine.evaluate(doc)
    x = torch.tensor([0.9, 0.2], requires_grad=True)
    y = torch.mvlgamma(x, 3)
    y.sum().backward()
    assert got["tensors"]["y"]["data"] == y.tolist()
    assert got["tensors"]["x"]["grad"] == x.grad.tolist()
