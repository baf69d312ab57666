"""sign / sgn of NaN is 0 as torch's CPU kernel computes it, (0 < a) - (a < 0), and so are the gradients made
of it: abs, l1_loss, the 1-norm (redteam13 F9: np.sign's NaN had reached abs's backward). Against live torch."""
from __future__ import annotations

import math

import pytest
import torch

import engine

VALUES = [math.nan, -0.0, 0.0, 2.5, -3.0, math.inf, -math.inf, 1e-45, -1e-300]
FLOATS = ["float16", "float32", "float64"]


def _same(ours, theirs):
    assert str(ours.dtype) == str(theirs.dtype)
    a, b = ours.tolist(), theirs.tolist()
    assert [(x, math.copysign(1, x)) if x == x else "nan" for x in a] == \
        [(x, math.copysign(1, x)) if x == x else "nan" for x in b]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", ["sign", "sgn"])
def test_sign_of_nan_and_zeros_as_torch(name, dtype):
    x = engine.tensor(VALUES, dtype=getattr(engine, dtype))
    t = torch.tensor(VALUES, dtype=getattr(torch, dtype))
    _same(getattr(engine, name)(x), getattr(torch, name)(t))


@pytest.mark.parametrize("name", ["bool", "int8", "uint8", "int64"])
def test_sign_of_integers_and_bools_unchanged(name):
    vals = [1, 0, 1] if name in ("bool", "uint8") else [-5, 0, 7]
    for fn in ("sign", "sgn"):
        ours = getattr(engine, fn)(engine.tensor(vals, dtype=getattr(engine, name)))
        theirs = getattr(torch, fn)(torch.tensor(vals, dtype=getattr(torch, name)))
        assert (str(ours.dtype), ours.tolist()) == (str(theirs.dtype), theirs.tolist())


def _grad(lib, dtype, body):
    x = lib.tensor(VALUES, dtype=getattr(lib, dtype), requires_grad=True)
    body(lib, x).backward()
    return x.grad


BODIES = {
    "abs": lambda lib, x: lib.abs(x).sum(),
    "l1_loss": lambda lib, x: lib.nn.functional.l1_loss(x, lib.zeros_like(x)),
    "norm1": lambda lib, x: lib.linalg.vector_norm(x, 1),
    "smooth_l1": lambda lib, x: lib.nn.functional.smooth_l1_loss(x, lib.zeros_like(x), beta=0.5),
    "huber": lambda lib, x: lib.nn.functional.huber_loss(x, lib.zeros_like(x), delta=0.5),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("body", sorted(BODIES))
def test_gradients_through_sign_at_nan_as_torch(body, dtype):
    _same(_grad(engine, dtype, BODIES[body]), _grad(torch, dtype, BODIES[body]))


@pytest.mark.parametrize("value", [math.nan, -0.0, -2.0])
def test_sign_of_a_zero_dim_tensor_as_torch(value):
    for fn in ("sign", "sgn"):
        ours = getattr(engine, fn)(engine.tensor(value))
        theirs = getattr(torch, fn)(torch.tensor(value))
        assert ours.shape == theirs.shape
        _same(ours.reshape(1), theirs.reshape(1))
