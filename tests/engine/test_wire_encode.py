"""engine.program.wire.encode_array: an array as the protocol's JSON-ready lists (non-finite floats as strings),
whichever route it takes (a short vector checked finite on its Python list, the rest by NumPy)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.program import wire

SPECIAL = {math.inf: "Infinity", -math.inf: "-Infinity"}


def expected(a):
    def one(v):
        if type(v) is float and v != v:
            return "NaN"
        return SPECIAL.get(v, v) if type(v) is float else v

    def walk(x):
        return [walk(y) for y in x] if isinstance(x, list) else one(x)

    return walk(a.tolist())


def same(x, y):
    """Equal, and of the same types (1 and 1.0 and True are equal in Python, not in JSON)."""
    if isinstance(x, list):
        return isinstance(y, list) and len(x) == len(y) and all(same(a, b) for a, b in zip(x, y))
    return type(x) is type(y) and (x == y or (x != x and y != y))


floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1e308, -1e308, 3e38, 0.0, -0.0]))


@settings(max_examples=300, deadline=None)
@given(st.lists(floats, min_size=1, max_size=wire._SUM_CHECK_MAX + 3),
       st.sampled_from(["float16", "float32", "float64"]))
def test_float_vectors_as_the_protocol_writes_them(values, dtype):
    with np.errstate(over="ignore"):
        a = np.array(values, dtype=dtype)
    assert same(wire.encode_array(a), expected(a))


@pytest.mark.parametrize("a", [
    np.array([1e308, 1e308]),  # finite values whose Python sum overflows
    np.array([np.float32(3e38)] * 4, dtype=np.float32),
    np.array([1, 2, 3]), np.array([True, False]), np.arange(6.0).reshape(2, 3),
    np.array([[np.nan, 1.0], [np.inf, -np.inf]]), np.zeros(0), np.array(2.5), np.array(np.nan),
])
def test_edge_arrays(a):
    got = wire.encode_array(a)
    assert same(got if isinstance(got, list) else [got], expected(a) if a.ndim else [expected(a)])
