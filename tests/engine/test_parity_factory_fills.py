"""Fills and range factories against live torch 2.13: a double stored into float16 rounds through float32 (c10's
Half: 1 + 2**-11 + 2**-40 fills 1.0, not 1.0009765625); a one-element fill stores into float16 unchecked (70000
is inf there, an overflow error for two elements); linspace's one step checks float32; logspace's ends are checked
as the dtype stores them, float16's difference is taken in float16, one step is libm's pow, a zero base a pole."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import engine

TIE = 1 + 2**-11 + 2**-40  # a float32 rounding lands on a float16 tie


def _out(lib, f):
    try:
        r = f(lib)
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    a = np.asarray(r.tolist(), dtype=float)
    return str(r.dtype), [("nan" if x != x else (x, bool(np.signbit(x)))) for x in a.ravel()]


def _z(L, shape):
    return L.zeros(shape, dtype=L.float16)


CASES = {
    "full": lambda L, v, s: L.full(s, v, dtype=L.float16),
    "fill_": lambda L, v, s: _z(L, s).fill_(v),
    "full_like": lambda L, v, s: L.full_like(_z(L, s), v),
    "masked_fill": lambda L, v, s: _z(L, s).masked_fill(L.ones(s, dtype=L.bool), v),
    "clamp_min": lambda L, v, s: L.clamp(_z(L, s), min=v),
    "index_fill": lambda L, v, s: _z(L, s).index_fill(0, L.tensor([0]), v) if s else _z(L, s),
    "scatter": lambda L, v, s: _z(L, s).scatter(0, L.tensor([0]), v) if s else _z(L, s),
}


@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (3,)], ids=repr)
@pytest.mark.parametrize("value", [TIE, -TIE, 0.5 + 2**-12 + 2**-41, 65504.0 + 16 + 2**-20, 70000.0, 1e300, 2.5],
                         ids=repr)
@pytest.mark.parametrize("op", sorted(CASES))
def test_float16_fills_as_torch(op, value, shape):
    assert _out(engine, lambda L: CASES[op](L, value, shape)) == _out(torch, lambda L: CASES[op](L, value, shape))


RANGES = [
    ("linspace", (TIE, 4, 4), {}, "float16"), ("linspace", (TIE, 4, 1), {}, "float16"),
    ("linspace", (1e300, 0, 1), {}, "float32"), ("linspace", (1e39, 0, 1), {}, "float32"),
    ("linspace", (1e300, 0, 1), {}, "float16"), ("linspace", (math.inf, 5, 1), {}, "bool"),
    ("linspace", (5, math.nan, 1), {}, "bool"), ("linspace", (-0.0, math.inf, 1), {}, "bool"),
    ("logspace", (1e5, 0, 2), {}, "float16"), ("logspace", (65504, -616, 8), {"base": 2.0}, "float16"),
    ("logspace", (1e300, -130, 3), {"base": -2.0}, "float64"),
    ("logspace", (-162, 70000, 3), {"base": -2.0}, "float64"),
    ("logspace", (math.inf, -1.5, 0), {}, "int16"), ("logspace", (math.inf, -1.5, 1), {"base": -2.0}, "int16"),
    ("logspace", (1e300, 0, 5), {"base": 0.5}, "float32"), ("logspace", (199, 200, 2), {"base": 1.1}, "int64"),
    ("logspace", (TIE, 3, 3), {}, "float16"), ("logspace", (-3, 0, 1), {"base": 0.0}, "float64"),
    ("logspace", (-3, -1, 3), {"base": -0.0}, "float64"), ("logspace", (39, 0, 1), {}, "float32"),
]


@pytest.mark.parametrize("name,args,kw,dtype", RANGES, ids=repr)
def test_range_factories_as_torch(name, args, kw, dtype):
    def f(L):
        return getattr(L, name)(*args, dtype=getattr(L, dtype), **kw)
    assert _out(engine, f) == _out(torch, f)
