"""The writer's one-value reprs: a value in fixed point (with a fraction or whole) is formatted straight into
the whole response's text by its format (one '%' call, a text per combination of choices); any other (past
FIXED_RANGE, NaN, inf, 0.0, -0.0) as its repr's own text in a hole. Every combination gives the full path's
bytes."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.program import plans
from tests.engine.test_lower import E, _bytes, _primed

SCALARS = {"leaves": {"a": {"data": 1.5, "requires_grad": True}, "b": {"data": -2.25, "requires_grad": True},
                      "c": {"data": 0.75}},
           "ops": [{"name": "m", "op": "mul", "args": ["a", "b"]}, {"name": "d", "op": "div", "args": ["m", "c"]},
                   {"name": "s", "op": "sub", "args": ["d", "a"]}],
           "backward": [{"tensor": "s"}]}

VALUE = st.one_of(st.floats(-1e3, 1e3), st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from([0.0, -0.0, 1.0, -3.0, 1e-4, 9.99e-5, 1e8, 1.00001e8, 99999999.5, 0.5, -0.5,
                                   1e-30, 3e38, 123456.0, 2.0 ** 0.5]))


def _writer_source(doc, dtype):
    doc = copy.deepcopy(doc)
    for leaf in doc["leaves"].values():
        leaf["dtype"] = dtype
    cache, program = _primed(doc)
    writer = program.lowered.writer
    assert writer is not None and "template_of(" in writer.source
    return doc, cache, program


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.tuples(VALUE, VALUE, VALUE))
@example(values=(1.5, -2.25, 0.75))  # all fractions
@example(values=(2.0, -2.25, 0.75))  # a whole value
@example(values=(1e-5, 3.5, 0.75))  # past FIXED_RANGE
@example(values=(-0.0, 3.5, 0.75))
def test_scalar_rows_are_the_full_paths(dtype, values):
    doc, cache, program = _writer_source(SCALARS, dtype)
    twin = copy.deepcopy(doc)
    for name, v in zip("abc", values, strict=True):
        twin["leaves"][name]["data"] = v if math.isfinite(v) else ("NaN" if v != v else
                                                                   "Infinity" if v > 0 else "-Infinity")
    full = _bytes(E.evaluate(copy.deepcopy(twin)))
    with np.errstate(all="ignore"):
        arrays = [np.asarray(v, dtype=dtype) for v in values]
        # the writer itself (evaluate_json would hide a writer that raised behind the Program's replay)
        got = program.lowered.writer.write(*plans._call_lowered(program.lowered, arrays))
    assert got == full
    if all(math.isfinite(v) for v in values):
        assert E.evaluate_json(copy.deepcopy(twin), cache=cache) == full
