"""printing_fast's decade tables (a fixed-point text's width without printing it) against the texts themselves
and against live torch 2.13 repr() of values on either side of every decade's rounding edge. `make test` draws half the
hypothesis examples of `make test-full` (GRADSERVE_TEST_FULL=1): 200 and 150."""
from __future__ import annotations

import functools
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import printing_fast
from engine.printing import DEFAULT_OPTIONS, print_options
from tests.engine.test_printing_fast import check

PRECISIONS = [0, 1, 2, 3, 4, 6, 8, 10, 12, 17, 25]
FULL = os.environ.get("GRADSERVE_TEST_FULL") == "1"  # make test-full: twice make test's examples


def _digits(text: str) -> int:
    return len(text.lstrip("-").partition(".")[0])


@pytest.mark.parametrize("p", PRECISIONS)
def test_each_threshold_is_the_first_double_of_its_decade(p):
    """T_k's text has k + 1 integer digits, the double just below it k: the table is the texts' own edge."""
    table = printing_fast._decade_table(p)
    assert len(table) == printing_fast._DECADES_TOP
    one = f"%.{p}f"
    for k, t in enumerate(table, start=1):
        assert _digits(one % t) == k + 1, (p, k, t)
        assert _digits(one % math.nextafter(t, 0.0)) == k, (p, k, t)
    assert table == sorted(table)


def _fixed_width(vals, p):
    """The width printing._Formatter gives finite, nonzero values in fixed point: the longest text."""
    return max(len(f"%.{p}f" % v) for v in vals if v and v - v == 0)


# The tables the values are drawn beside, built once per precision here (test_each_threshold_is_the_first_double_of_its
# decade checks them): a table is a bisection on texts, ~3 ms, and a case draws up to 60 values.
_edge_table = functools.lru_cache(maxsize=None)(printing_fast._decade_table)


def _near_edges(draw, p):
    """A value beside a decade edge of precision p (or anywhere below 1e16), either sign."""
    table = _edge_table(p)
    where = draw(st.sampled_from(["edge", "below", "above", "any", "power", "small"]))
    k = draw(st.integers(0, len(table) - 1))
    if where == "edge":
        v = table[k]
    elif where == "below":
        v = math.nextafter(table[k], 0.0)
    elif where == "above":
        v = math.nextafter(table[k], math.inf)
    elif where == "power":
        v = 10.0 ** (k + 1) * draw(st.sampled_from([1.0, 1 - 1e-16, 1 + 1e-15]))
    elif where == "small":  # one integer digit: the tables' first branch
        v = draw(st.floats(1e-4, 9.99995, allow_nan=False, allow_infinity=False))
    else:
        v = draw(st.floats(1e-300, 1.2e16, allow_nan=False, allow_infinity=False))
    return -v if draw(st.booleans()) else v


@st.composite
def fixed_cases(draw):
    p = draw(st.sampled_from(PRECISIONS))
    vals = [_near_edges(draw, p) for _ in range(draw(st.integers(1, 60)))]
    return p, vals


@settings(max_examples=400 if FULL else 200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fixed_cases())
def test_widths_are_the_longest_texts(case):
    """_float_spec's fixed-point width (sci_mode off, so every magnitude is printed in fixed point) is the
    longest text's, below and past the tables' end, through the Python-list and the NumPy statistics."""
    p, vals = case
    opts = print_options(precision=p, sci_mode=False)
    whole = all(float(v).is_integer() for v in vals)
    width, one, texts = printing_fast._float_spec(np.asarray(vals), vals, opts)
    if whole:  # int_mode: '%.0f' texts and a '.' torch appends
        assert width == max(len(f"{v:.0f}") for v in vals) + 1
    else:
        assert width == _fixed_width(vals, p)
        assert one == f"%{width}.{p}f" and texts is None


@settings(max_examples=300 if FULL else 150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_reprs_beside_the_edges_are_torchs(data):
    """Whole reprs against live torch: float64, float32 and float16 vectors of values beside the decade edges
    (and their roundings to the narrower dtypes), under the default options and others."""
    p = data.draw(st.sampled_from([None, 0, 1, 2, 4, 6]))
    q = 4 if p is None else p
    n = data.draw(st.integers(1, 60))
    vals = [_near_edges(data.draw, q) for _ in range(n)]
    name = data.draw(st.sampled_from(["float64", "float32", "float16"]))
    extra = data.draw(st.sampled_from([[], [0.0], [-0.0], [math.nan], [math.inf, -math.inf], [1e-5], [1e8]]))
    with np.errstate(over="ignore"):
        arr = np.asarray(vals + extra, dtype=np.float64).astype(name)
    options = {} if p is None else {"precision": p}
    options.update(data.draw(st.sampled_from([{}, {"sci_mode": False}, {"linewidth": 200}])))
    check(arr, name, data.draw(st.sampled_from([None, "requires_grad", "grad_fn"])), options or None)


def test_named_edges_are_torchs():
    """The edges of precision 4 (the default) one by one, alone and beside a negative value, at both dtypes."""
    for t in printing_fast._decade_table(DEFAULT_OPTIONS.precision)[:9]:
        for v in (t, math.nextafter(t, 0.0), -t, -math.nextafter(t, 0.0)):
            for name in ("float64", "float32"):
                check(np.array([v, 0.5], dtype=name), name)
                check(np.array([v, -0.5, 1.25], dtype=name), name, "requires_grad")


def test_tables_are_kept_per_precision_and_bounded():
    printing_fast._DECADES.clear()
    for p in range(printing_fast._FORMATS_MAX + 10):
        assert printing_fast._decades(p) is printing_fast._DECADES[p]
        assert len(printing_fast._DECADES) <= printing_fast._FORMATS_MAX
    assert printing_fast._decades(3) == printing_fast._decade_table(3)
    printing_fast._DECADES.clear()
