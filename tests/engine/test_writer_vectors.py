"""The writer's vector reprs: a small float vector whose repr small_float_repr prints has its repr's format in
the whole response's text and its numbers formatted there (one '%' call for the response, a text per
combination of the rows' formats, at most _TEMPLATES_MAX kept); any other (a value not finite, a -0.0, int_mode
beside a non-finite value) its repr's own text in a hole. Every combination gives the full path's bytes."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.program import plans, writer
from tests.engine.test_lower import E, _bytes, _primed

N = 5
VECTORS = {"leaves": {"x": {"data": [0.5, -1.25, 2.0, 0.125, 3.5], "requires_grad": True},
                      "y": {"data": [1.5, 0.25, -0.75, 2.5, 1.0]}},
           "ops": [{"name": "m", "op": "mul", "args": ["x", "y"]}, {"name": "t", "op": "tanh", "args": ["m"]},
                   {"name": "s", "op": "sum", "args": ["t"]}],
           "retain_grad": ["m"],
           "backward": [{"tensor": "s"}]}

VALUE = st.one_of(st.floats(-1e3, 1e3), st.floats(-2.0, 2.0), st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from([0.0, -0.0, 1.0, -3.0, 1e-4, 9.99e-5, 1e8, 1.00001e8, 0.5, -0.5, 1e-30, 3e38,
                                   123456.0, 2.0 ** 0.5, 1e16, -7.0]))
VECTOR = st.lists(VALUE, min_size=N, max_size=N)


def _wire(v):
    return v if math.isfinite(v) else "NaN" if v != v else "Infinity" if v > 0 else "-Infinity"


def _program(dtype):
    doc = copy.deepcopy(VECTORS)
    for leaf in doc["leaves"].values():
        leaf["dtype"] = dtype
    cache, program = _primed(doc)
    w = program.lowered.writer
    assert w is not None and "template_of(" in w.source and ", *r0," in w.source  # vectors in the text
    return doc, cache, program


def _check(doc, cache, program, dtype, x, y):
    twin = copy.deepcopy(doc)
    twin["leaves"]["x"]["data"] = [_wire(v) for v in x]
    twin["leaves"]["y"]["data"] = [_wire(v) for v in y]
    full = _bytes(E.evaluate(copy.deepcopy(twin)))
    with np.errstate(all="ignore"):
        arrays = [np.asarray(x, dtype=dtype), np.asarray(y, dtype=dtype)]
        # the writer itself (evaluate_json would hide a writer that raised behind the Program's replay)
        got = program.lowered.writer.write(*plans._call_lowered(program.lowered, arrays))
    assert got == full
    if all(math.isfinite(v) for v in x + y):
        assert E.evaluate_json(copy.deepcopy(twin), cache=cache) == full


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=VECTOR, y=VECTOR)
@example(x=[0.5, -1.25, 2.0, 0.125, 3.5], y=[1.5, 0.25, -0.75, 2.5, 1.0])  # fractions, both signs
@example(x=[1.0, 2.0, 3.0, 4.0, 5.0], y=[1.0, 1.0, 2.0, 2.0, 3.0])  # int_mode
@example(x=[1e-5, 3.5, 0.75, 1.0, 2.0], y=[1.0] * 5)  # sci_mode
@example(x=[-0.0, 3.5, 0.75, 1.0, 2.0], y=[1.0] * 5)  # a -0.0: its own text
@example(x=[0.0, 3.5, 0.75, 1.0, 2.0], y=[1.0] * 5)  # a zero
@example(x=[math.nan, 3.0, 1.0, 1.0, 2.0], y=[1.0] * 5)  # int_mode beside a NaN
@example(x=[math.inf, 3.5, 1.0, 1.0, 2.0], y=[1.0] * 5)
@example(x=[123456.0, -98765.5, 1.0, 1.0, 2.0], y=[1.0] * 5)  # wide
def test_vector_rows_are_the_full_paths(dtype, x, y):
    doc, cache, program = _program(dtype)
    _check(doc, cache, program, dtype, x, y)


def test_templates_stay_bounded_and_right_as_combinations_churn():
    """More combinations of the rows' formats than a writer keeps: the kept texts are dropped, and every answer
    is still the full path's."""
    doc, cache, program = _program("float64")
    rng = np.random.default_rng(7)
    ns = program.lowered.writer.write.__globals__
    seen = set()
    for _ in range(300):
        scale = 10.0 ** rng.integers(-6, 9, size=2)
        x = (rng.uniform(-1, 1, N) * scale[0]).round(int(rng.integers(0, 6))).tolist()
        y = (rng.uniform(0.5, 1, N) * scale[1]).tolist()
        _check(doc, cache, program, "float64", x, y)
        seen.update(ns["TEMPLATES"])
        assert len(ns["TEMPLATES"]) <= writer._TEMPLATES_MAX
    assert len(seen) > writer._TEMPLATES_MAX  # the bound was reached and the texts remade
