"""engine.printing.tensor_repr (a writer row's repr, what its shape, dtype and suffixes decide made once) gives
format_tensor's text for every array, and format_tensor is held to live torch 2.13 (test_printing_fast.py);
here also against live torch on the small float tensors the route takes."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from engine.printing import format_tensor, tensor_repr
from tests.engine.test_printing_fast import SUFFIXES, torch_repr

SHAPES = st.sampled_from([(1,), (3,), (5,), (8,), (2, 3), (4, 2), (1, 1, 3), (47,), (6, 8), (48,), (0,), ()])
VALUES = st.one_of(st.floats(-1e3, 1e3, width=32), st.floats(width=32), st.integers(-9, 9).map(float),
                   st.sampled_from([0.0, -0.0, 1e-5, 1e9, float("nan"), float("inf"), -float("inf")]))


@st.composite
def cases(draw):
    shape = draw(SHAPES)
    dn = draw(st.sampled_from(["float32", "float64", "float16", "int64", "bool"]))
    mode = draw(st.sampled_from(sorted(SUFFIXES, key=str)))
    arr = draw(hnp.arrays(np.float64, shape, elements=VALUES))
    arr = arr.astype(np.dtype(dn) if dn != "bool" else np.bool_) if dn != "float64" else arr
    if draw(st.booleans()):  # now and then an array of another shape or dtype than the row's
        other = draw(st.sampled_from(["shape", "dtype", "scalar"]))
        if other == "shape" and arr.size:
            arr = arr.reshape(-1)[:1]
        elif other == "dtype" and dn.startswith("float"):
            arr = arr.astype(np.float32 if dn == "float64" else np.float64)
        elif other == "scalar" and arr.size:
            arr = arr.reshape(-1)[0]
    return shape, dn, mode, arr


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_tensor_repr_is_format_tensor(case):
    shape, dn, mode, arr = case
    rep = tensor_repr(shape, dn, SUFFIXES[mode])
    with np.errstate(all="ignore"):
        assert rep(arr) == format_tensor(arr, dn, SUFFIXES[mode])
        assert rep(arr) == format_tensor(arr, dn, SUFFIXES[mode])  # its formats kept: the same again


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([(3,), (8,), (2, 4)]), st.sampled_from(["float32", "float64"]),
       st.sampled_from(sorted(SUFFIXES, key=str)), st.data())
def test_tensor_repr_is_torchs(shape, dn, mode, data):
    arr = data.draw(hnp.arrays(np.dtype(dn), shape, elements=VALUES.map(lambda v: v if v == v else 1.0)))
    assert tensor_repr(shape, dn, SUFFIXES[mode])(arr) == torch_repr(arr, mode)
    assert torch.__version__.startswith("2.13")


def test_crafted_rows():
    """Texts of other widths than the row's numbers set: a -0.0 beside small positive numbers ('-0.0000' is
    wider than '0.1000'), non-finite among whole numbers, none finite, and arrays of another shape or dtype."""
    rows = [((2,), "float32", np.array([-0.0, 0.1], np.float32)), ((3,), "float64", np.array([0.5, -0.0, 0.25])),
            ((3,), "float32", np.array([1.0, np.inf, 2.0], np.float32)), ((2,), "float64", np.array([np.nan, -np.inf])),
            ((2,), "float64", np.array([1.5, 2.5], np.float32)), ((2,), "float64", np.array([1.5, 2.5, 3.5])),
            ((2, 2), "float32", np.zeros((4,), np.float32)), ((1,), "float64", np.float64(2.5))]
    for values in ([1.0, -0.0, 2.0], [0.5, -0.0, 0.25, np.inf], [1e-5, -0.0, 3e-5], [0.0, -0.0],
                   [-0.0, 1.5, 2.5, np.nan], [3.0, 0.0, 7.0, -0.0]):  # test_printing_fast's: suffixes wrapped
        arr = np.array(values * 4)
        rows += [(arr.shape, "float64", arr), ((2, arr.size // 2), "float64", arr.reshape(2, -1))]
    for shape, dn, arr in rows:
        for suffixes in SUFFIXES.values():
            assert tensor_repr(shape, dn, suffixes)(arr) == format_tensor(arr, dn, suffixes), (shape, dn, arr)
