"""The writer's vector rows (engine.program.writer._vector_row and _grad_row) against live torch 2.13: the row's
repr text (its format in the response, filled with its numbers; or its own text) is repr() of torch's tensor of
the same values, and its data and gradient texts are encode_array's. The rows are kept across examples (one a
length and dtype), so the common case's kept keys (one per width) meet values other than the ones they were
made from: ints-as-floats, sci mode, NaN and the infinities, -0.0, zeros, float16/32/64, both widths, the
edges of the one-digit decade, of 1e-4 and of the 1000 ratio."""
from __future__ import annotations

import math

import numpy as np
import orjson
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.printing import tensor_repr
from engine.printing_fast import decade_table
from engine.program import writer
from engine.program.wire import encode_array

DTYPES = {"float16": torch.float16, "float32": torch.float32, "float64": torch.float64}
T0 = decade_table(4)[0]  # the least double printed '10.0000'
EDGES = [T0, math.nextafter(T0, 0), math.nextafter(T0, 20), 9.99995, 9.9999, 1e-4, math.nextafter(1e-4, 0),
         math.nextafter(1e-4, 1), 1e-1, 0.1 + 1e-9, 1000 * 1e-4, 0.0999, 1.0, 2.0, -3.0, 5.0, 0.5, 0.03125,
         0.0, -0.0, math.nan, math.inf, -math.inf, 1e8, 123.456, 65504.0, 1e-8]
VALUE = st.one_of(st.floats(-10.5, 10.5), st.floats(-1e-3, 1e-3), st.sampled_from(EDGES),
                  st.sampled_from(EDGES).map(lambda v: -v), st.integers(-9, 9).map(float),
                  st.floats(allow_nan=True, allow_infinity=True))
_ROWS: dict = {}


def _rows(n, dtype):
    key = (n, dtype)
    if key not in _ROWS:
        rep = tensor_repr((n,), dtype, ("requires_grad=True",))
        _ROWS[key] = (rep, writer._vector_row(rep), writer._grad_row((n,), np.dtype(dtype)))
    return _ROWS[key]


def _check(vals, dtype):
    arr = np.array(vals, dtype=dtype)
    rep, row, grad = _rows(len(vals), dtype)
    data, key, args = row(arr)
    if key is None:
        text = orjson.loads(b'"' + args[0] + b'"')
    else:
        text = orjson.loads(b'"' + key % tuple(args) + b'"')
    expected = repr(torch.from_numpy(arr.copy()).requires_grad_(True))
    assert text == expected, (vals, dtype)
    assert text == rep(arr)
    assert data == orjson.dumps(encode_array(arr))
    assert grad(arr) == orjson.dumps(encode_array(arr))


@pytest.mark.parametrize("dtype", list(DTYPES))
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vals=st.integers(1, 12).flatmap(lambda n: st.lists(VALUE, min_size=n, max_size=n)))
@example(vals=[0.5, -1.25, 2.0])  # both widths' keys made, then each met again below
@example(vals=[0.5, 1.25, 2.0])
@example(vals=[9.99995, 0.5, 1.25])  # '10.0000' in float64 (the decade), 9.99995 rounded to float16/32 too
@example(vals=[1.0, 2.0, -3.0])  # whole values: int_mode
@example(vals=[1.5, 2.0, 3.0])
@example(vals=[1e-4, 0.1, 0.05])  # the 1000 ratio at its edge
@example(vals=[1e-4, 0.10000001, 0.05])
@example(vals=[-0.0, 0.5, 1.5])
@example(vals=[0.0, -0.5, 1.5])
@example(vals=[math.nan, 0.5, 1.5])
@example(vals=[math.inf, -0.5, 1.5])
def test_vector_rows_print_as_torch(dtype, vals):
    with np.errstate(all="ignore"):
        _check(vals, dtype)


def test_a_kept_width_is_not_reused_across_widths():
    """Values of one width after the other's key is kept, in both orders."""
    for vals in ([0.5, 1.25, 2.5], [-0.5, 1.25, 2.5], [0.5, 1.25, 2.5], [9.5, -9.5, 0.125], [0.125, 0.25, 9.75]):
        _check(vals, "float32")
