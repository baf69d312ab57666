"""A Python int past 2**24 beside a float32 tensor, against live torch: torch casts an int Scalar to float once
(static_cast<float>(int64_t)); NumPy goes through a double, which rounds twice where the double is a float32
midpoint (n = 2**60 + 2**36 + 1: 2**60 there, 2**60 + 2**37 in torch). redteam12 F9: 53 of 207 cases differed
(add, sub, mul, div, fills, where, clamp, addcmul, alpha, linspace, eq), and a float16 linspace past its range
gave NaN where torch raises."""
from __future__ import annotations

import pytest
import torch

import engine
from engine import dtypes as D

N = [2**60 + 2**36 + 1, -(2**60 + 2**36 + 1), 2**62 + 2**38 + 1, 2**24 + 1, 2**25 + 3, 2**63 - 1, 2**64 - 1,
     -(2**63) - 1, 2**64]
OPS = {
    "add": lambda L, x, v: L.add(x, v), "radd": lambda L, x, v: v + x, "sub": lambda L, x, v: L.sub(x, v),
    "rsub": lambda L, x, v: v - x, "mul": lambda L, x, v: L.mul(x, v), "div": lambda L, x, v: L.div(x, v),
    "rdiv": lambda L, x, v: v / (x + 1), "int_div": lambda L, x, v: L.div(L.tensor([3, 5]), v),
    "full": lambda L, x, v: L.full([2], v, dtype=x.dtype), "full_like": lambda L, x, v: L.full_like(x, v),
    "fill_": lambda L, x, v: x.clone().fill_(v), "masked_fill": lambda L, x, v: x.masked_fill(x > -1, v),
    "where": lambda L, x, v: L.where(x > -1, v, x), "clamp_min": lambda L, x, v: L.clamp(x, min=v),
    "clamp_max": lambda L, x, v: L.clamp(x, max=-v), "eq": lambda L, x, v: L.eq(x + 2.0**60, v),
    "gt": lambda L, x, v: L.gt(x + 2.0**60 + 2.0**37, v),
    "add_alpha": lambda L, x, v: L.add(x, L.ones_like(x), alpha=v),
    "add_": lambda L, x, v: x.clone().add_(v), "mul_": lambda L, x, v: x.clone().mul_(v),
    "index_fill": lambda L, x, v: x.index_fill(0, L.tensor([0]), v),
    "addcmul": lambda L, x, v: L.addcmul(x, L.ones_like(x), L.ones_like(x), value=v),
    "linspace": lambda L, x, v: L.linspace(v, v, 2, dtype=x.dtype),
    "linspace1": lambda L, x, v: L.linspace(v, 0, 1, dtype=x.dtype),
    "xlogy_int_self": lambda L, x, v: L.xlogy(v, x + 0.5), "xlogy_int_other": lambda L, x, v: L.xlogy(x + 0.5, v),
    "index_add_alpha": lambda L, x, v: L.zeros_like(x).index_add_(0, L.tensor([1]), L.ones(1, dtype=x.dtype), alpha=v),
}


def _run(lib, f, dt, v):
    try:
        t = f(lib, lib.tensor([0.0, 1.0], dtype=getattr(torch, dt) if lib is torch else D.BY_NAME[dt]), v)
    except Exception as e:  # noqa: BLE001
        return "error", type(e).__name__, str(e).split("\n")[0]
    return "ok", str(t.dtype).removeprefix("torch."), t.tolist()


@pytest.mark.parametrize("dt", ["float32", "float16", "float64"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_an_int_scalar_is_cast_as_torch_casts_it(name, dt):
    for v in N:
        assert repr(_run(engine, OPS[name], dt, v)) == repr(_run(torch, OPS[name], dt, v)), v  # (repr: NaN == NaN)
