"""ldexp against live torch 2.13: a floating self with an integer or bool exponent runs torch's own kernel (the
output is empty_like(self): self's dtype, torch's resize warning where the exponent broadcasts it larger, and a
bool exponent's NotImplementedError '"ldexp_cpu_exp" not implemented for 'Bool''), each element
static_cast<T>(std::ldexp(double(x), e)); any other pair is mul(self, _pow2(self, other)) with torch's
promotions. The engine had answered a bool exponent (float32 [3.0] for ldexp([1.5], [True])), made float64 of a
0-d float32 beside an int64 exponent, and overflowed 2**130 in float32 where torch's ldexp does not."""
from __future__ import annotations

import itertools
import warnings

import pytest
import torch

import engine
from engine import dtypes as D

DTYPES = ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"]
VALUES = {"f": [1.5, -0.75, 2.0**-10, 0.0, 3.0], "i": [3, -2, 130, 0, 1], "b": [True, False, True, True, False],
          "u": [3, 2, 130, 0, 1]}


def _t(L, dt, shape, requires_grad=False):
    kind = "b" if dt == "bool" else "u" if dt == "uint8" else "i" if dt.startswith("int") else "f"
    n = 1 if shape == () else shape[-1]
    vals = VALUES[kind][:n]
    data = vals[0] if shape == () else [vals] * (shape[0] if len(shape) == 2 else 1) if len(shape) == 2 else vals
    t = L.tensor(data, dtype=getattr(torch, dt) if L is torch else D.BY_NAME[dt])
    return t.requires_grad_() if requires_grad else t


def _run(L, a_dt, b_dt, a_shape, b_shape):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            grad = a_dt.startswith("float")
            a = _t(L, a_dt, a_shape, grad)
            r = L.ldexp(a, _t(L, b_dt, b_shape))
            out = str(r.dtype).removeprefix("torch."), r.tolist()
            if grad:
                r.sum().backward()
                out += (str(a.grad.dtype).removeprefix("torch."), a.grad.tolist())
        except Exception as e:  # noqa: BLE001
            out = "error", type(e).__name__, str(e).split("\n")[0]
    # (torch's C++ warnings end with where they were raised)
    return out, sorted(str(x.message).split(" (Triggered internally")[0] for x in w
                       if issubclass(x.category, UserWarning))


SHAPES = [((5,), (5,)), ((), (5,)), ((5,), ()), ((1, 5), (2, 5)), ((0,), (1,)), ((), ())]


@pytest.mark.parametrize("a_dt,b_dt", list(itertools.product(DTYPES, DTYPES)))
def test_ldexp_as_torch(a_dt, b_dt):
    for a_shape, b_shape in SHAPES:
        assert repr(_run(engine, a_dt, b_dt, a_shape, b_shape)) == repr(_run(torch, a_dt, b_dt, a_shape, b_shape)), \
            (a_shape, b_shape)
