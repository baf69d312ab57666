"""randint's argument parsing and logspace / linspace / fill_diagonal_'s int arguments past int64, against live
torch 2.13 (review15 R4, R5): torch's PythonArgParser over randint's four overloads (the keyword forms, the
plausible overload's own message, the invalid combination with its keywords last to first, generator / out /
layout = None, the size list's element checks), the Scalar parser's OverflowError for ints >= 2**64 or below
-2**63, and the int64 unpack of steps."""
from __future__ import annotations

import pytest
import torch

import engine


def _run(L, f):
    try:
        r = f(L)
        return "ok", tuple(r.shape), str(r.dtype), r.requires_grad
    except Exception as e:  # noqa: BLE001 - the error is the answer compared
        return type(e).__name__, str(e)


RANDINT = [
    ((), {}), ((), {"high": 10}), ((), {"low": 0}), ((), {"size": (3,)}), ((), {"low": 0, "high": 10}),
    ((), {"high": 10, "low": 0}), ((), {"low": 0, "size": (3,)}), ((), {"size": (3,), "low": 0}),
    ((), {"high": 10, "size": (3,)}), ((), {"low": 0, "high": 10, "size": (3,)}), ((10,), {"low": 0, "size": (3,)}),
    ((10,), {"size": (3,), "low": 0}), ((10,), {"high": 5, "size": (3,)}), ((10,), {"size": (3,), "foo": 1}),
    ((10, (3,)), {"foo": 1}), ((10, (3,)), {"size": None}), ((10, (3,)), {"size": (3,)}),
    ((0, 10, (3,)), {"size": (3,)}), ((0, 10), {"size": None}), ((0, 10, (3,)), {"generator": None}),
    ((10, (3,)), {"out": None}), ((10, (3,)), {"layout": None}), ((10, (3,)), {"generator": None}),
    ((10, (3,)), {"layout": None, "pin_memory": False}), ((0, 10), {"size": (3,), "out": None}),
    ((10, (1.5,)), {}), ((10, (True,)), {}), ((10, (3, 2.0)), {}), ((0, 10, (3, 2.0)), {}), ((10,), {"size": (2.0,)}),
    ((0, 10), {"size": (2, True)}), ((10, (3,)), {"high": 4}), ((10,), {}), ((0, 10), {}), ((10, [3]), {}),
    ((10, 3), {}), ((0, 10, 3), {}), ((5,), {"high": 3}), ((10, (3,)), {"generator": None, "requires_grad": False}),
    ((0, 10, (2,)), {"requires_grad": True}), ((5, ()), {}), ((0, 5, []), {}), ((2**63, (3,)), {}),
]


@pytest.mark.parametrize(("args", "kwargs"), RANDINT, ids=[f"{a}-{k}" for a, k in RANDINT])
def test_randint_forms(args, kwargs):
    f = lambda L: L.randint(*args, **kwargs)  # noqa: E731
    assert _run(engine, f) == _run(torch, f)


@pytest.mark.parametrize("dtype", ["int32", "int16", "float32"])
def test_randint_dtype_keyword(dtype):
    for args, kwargs in (((0, 10), {}), ((10, (3,)), {}), ((0, 10, (2,)), {}), ((), {"high": 3, "size": [2, 2]})):
        f = lambda L, a=args, k=kwargs: L.randint(*a, dtype=getattr(L, dtype), **k)  # noqa: E731
        assert _run(engine, f) == _run(torch, f), (args, kwargs)


BIG = [
    lambda L: L.logspace(2**64, 1, 2), lambda L: L.logspace(0, 2**64, 2), lambda L: L.logspace(-2**64, 1, 2),
    lambda L: L.logspace(2**64, 1, 1), lambda L: L.logspace(0, 1, 2**64), lambda L: L.logspace(0, 1, 2**63),
    lambda L: L.logspace(0, 1, -2**64), lambda L: L.linspace(0, 1, 2**64), lambda L: L.linspace(0, 1, 2**63),
    lambda L: L.zeros(2, 2).fill_diagonal_(2**64), lambda L: L.zeros(2, 2).fill_diagonal_(-2**64),
    lambda L: L.zeros(2).fill_diagonal_(2**64), lambda L: L.zeros(2, 2, dtype=L.int64).fill_diagonal_(2**64 - 1),
    lambda L: L.zeros(2, 2, dtype=L.int8).fill_diagonal_(2**64),
]


@pytest.mark.parametrize("i", range(len(BIG)))
def test_big_int_arguments(i):
    assert _run(engine, BIG[i]) == _run(torch, BIG[i])
