"""Integer div (floor / trunc), floor_divide, fmod and remainder where the divisor holds a zero but the result has
no element, against live torch 2.13 (redteam11 F2): torch's kernel checks each element it computes
("ZeroDivisionError"), so an empty result is an empty tensor; the engine raised for any zero in the divisor.
Results with elements keep torch's ZeroDivisionError; shapes that do not broadcast keep torch's shape error."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine


def _call(m, name, a, b):
    if name in ("floor", "trunc"):
        return m.div(a, b, rounding_mode=name)
    if name == "floor_divide_":
        return a.clone().floor_divide_(b)
    if name == "remainder_":
        return a.clone().remainder_(b)
    return getattr(m, name)(a, b)


def _both(fn):
    out = []
    for m in (torch, engine):
        try:
            r = fn(m)
            out.append(("ok", str(r.dtype).replace("torch.", "").replace("engine.", ""), tuple(r.shape),
                        np.asarray(r.numpy()).tolist()))
        except Exception as e:  # noqa: BLE001 - the class and message compared with torch's
            out.append(("raise", type(e).__name__.replace("Torch", ""), str(e)))
    return out


OPS = ["floor", "trunc", "floor_divide", "fmod", "remainder", "floor_divide_", "remainder_"]
SHAPES = [  # (dividend's shape, divisor: the number 0, or a zeros tensor's shape)
    ([0], 0), ([2, 0], 0), ([0, 3], 0), ([0], [0]), ([0], [1]), ([0], []), ([2, 0], [1, 0]), ([2, 0], [3]),
    ([1], [0]), ([], [0]), ([3], 0), ([], 0), ([2], [1]), ([1, 0], [2, 1]), ([0], [2]), ([1], [2]), ([0, 1], [3]),
]


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "int8"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape,divisor", SHAPES, ids=[f"{s}-{d}" for s, d in SHAPES])
def test_a_zero_divisor_raises_only_where_an_element_is_computed(op, shape, divisor, dtype):
    def fn(m):
        dt = getattr(m, dtype)
        a = m.ones(shape, dtype=dt) if shape else m.tensor(5, dtype=dt)
        b = 0 if divisor == 0 else m.zeros(divisor, dtype=dt)
        return _call(m, op, a, b)

    t, e = _both(fn)
    assert e == t


@pytest.mark.parametrize("op", ["floor_divide", "fmod", "remainder"])
def test_an_empty_divisor_of_a_number_dividend(op):
    """remainder(Scalar, Tensor) and friends: a number over an empty integer tensor of zeros."""
    def fn(m):
        if op == "remainder":
            return m.remainder(7, m.zeros([0], dtype=m.int64))
        return getattr(m, op)(m.ones([0], dtype=m.int64), m.zeros([0], dtype=m.int64))

    t, e = _both(fn)
    assert e == t
