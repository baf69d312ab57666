"""engine.printing.format_tensor against live torch 2.13 repr() output."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.printing import format_tensor, format_value, value_repr

FLOATS = ["float32", "float64", "float16"]
INTS = ["int64", "int32", "int16", "int8", "uint8"]
ALL = FLOATS + INTS + ["bool"]


def np_dtype(name):
    return np.bool_ if name == "bool" else np.dtype(name)


def as_array(values, name, shape=None):
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        arr = np.asarray(values, dtype=np.float64 if name in FLOATS else None)
        arr = arr.astype(np_dtype(name))
    if shape is not None:
        arr = arr.reshape(shape)
    return arr


def torch_repr(arr, mode=None):
    t = torch.from_numpy(np.array(arr, copy=True))
    if mode == "requires_grad":
        t.requires_grad_(True)
    elif mode == "grad_fn":
        t = t.requires_grad_(True) * 1
    return repr(t)


SUFFIXES = {None: [], "requires_grad": ["requires_grad=True"], "grad_fn": ["grad_fn=<MulBackward0>"]}


def check(arr, name, mode=None):
    expected = torch_repr(arr, mode)
    got = format_tensor(arr, name, SUFFIXES[mode])
    assert got == expected, f"\n--- got ---\n{got}\n--- torch ---\n{expected}"
    return got


# --------------------------------------------------------------------------- basic cases

BASIC = {
    "int_like": [1.0, 2.0, -3.0, 0.0],
    "frac": [0.5, -1.25, 3.14159265, 2.0],
    "small": [1e-5, 2e-5, 3e-5],
    "large": [1e8, 2e9, 3.5e10],
    "mixed": [1e-5, 1.0, 1e5, -7.5],
    "ratio_edge": [1.0, 1000.0],
    "ratio_over": [1.0, 1000.5],
    "exact_1e8": [1e8, 1.0],
    "tiny_edge": [1e-4, 1.0],
    "special": [float("nan"), float("inf"), float("-inf"), 1.5],
    "special_int": [float("nan"), float("inf"), float("-inf"), 2.0],
    "only_special": [float("nan"), float("inf"), 0.0],
    "neg_zero": [-0.0, 0.0, 1.0],
    "neg_zero_frac": [-0.0, 0.5],
    "neg_zero_sci": [-0.0, 1e-7, 5.0],
    "zeros": [0.0, 0.0],
    "rounding": [0.00005, 0.00015, 1.99995, 2.5e-4],
    "big_int_valued": [123456789.0, 1.0],
    "neg": [-1.5, -100.25, 7.0],
}


@pytest.mark.parametrize("name", FLOATS)
@pytest.mark.parametrize("case", sorted(BASIC))
def test_float_cases(name, case):
    check(as_array(BASIC[case], name), name)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize(
    "shape", [(), (1,), (5,), (2, 3), (2, 3, 4), (2, 1, 3, 2), (1, 1, 1, 1)], ids=str
)
def test_every_dtype_shapes(name, shape):
    n = int(np.prod(shape))
    if name == "bool":
        values = (np.arange(n) % 3 == 0)
    elif name == "uint8":
        values = (np.arange(n) * 37) % 256
    elif name in INTS:
        values = (np.arange(n) - n // 2) * 11
    else:
        values = (np.arange(n) - n / 2) * 1.37
    check(as_array(values, name, shape), name)


ZERO_DIM = {
    **{f: [0.0, 1.0, -1.0, 7.0, 0.5, -0.0, 1e-6, 3e9, 123.456, float("nan"), float("inf"), float("-inf")]
       for f in FLOATS},
    **{i: [0, 1, -1, 7, -128, 127] for i in ("int8", "int16", "int32", "int64")},
    "uint8": [0, 1, 7, 255],
    "bool": [True, False],
}


@pytest.mark.parametrize(
    "name,value", [(n, v) for n, vs in ZERO_DIM.items() for v in vs], ids=lambda x: repr(x)
)
def test_zero_dim(name, value):
    check(as_array(value, name), name)


def _zero_dim_values():
    """Values at every boundary of the one-value formatter (sci below 1e-4 and above 1e8, integer-valued or
    not, each side of the float32 rounding of the boundary), and random ones over 24 decades."""
    edges = []
    for b in (1e-4, 1e8):
        for f in (np.nextafter(b, 0), b, np.nextafter(b, 2 * b), b * 0.999, b * 1.001):
            edges += [f, -f]
    rng = np.random.default_rng(11)
    rand = (np.sign(rng.standard_normal(300)) * 10.0 ** rng.uniform(-12, 12, 300)).tolist()
    return edges + rand + np.round(rand).tolist() + [2.0**24 + 1, 99999999.0, 100000001.0, 0.99995, 9.99995e-5]


@pytest.mark.parametrize("name", FLOATS)
@pytest.mark.parametrize("mode", [None, "requires_grad", "grad_fn"])
def test_zero_dim_fast_path_at_the_boundaries(name, mode):
    """A 0-d tensor's repr is printed without the Formatter (printing._scalar_text): torch's own repr at
    each boundary of its rules, for every float dtype and suffix."""
    for v in _zero_dim_values():
        check(as_array(v, name), name, mode)


@pytest.mark.parametrize("name", [*FLOATS, "int64", "int32", "bool"])
def test_value_repr_is_format_value(name):
    """printing.value_repr (a lowered replay's repr per row: the items and the line room worked out once)
    gives format_value's text for every value at every boundary, with suffixes that fit on the first line
    and ones that wrap, NaN, infinities and signed zeros included; and torch's own at the boundaries."""
    suffix_sets = [[], ["requires_grad=True"], ["grad_fn=<MulBackward0>"], ["grad_fn=<" + "X" * 48 + ">"],
                   ["grad_fn=<" + "X" * 60 + ">"], ["grad_fn=<AddBackward0>", "y" * 40]]
    values = _zero_dim_values() + [0.0, -0.0, float("nan"), float("inf"), -float("inf"), 1.0, -2.5, 1 / 3]
    if name in ("int64", "int32"):
        values = [int(v) for v in values if np.isfinite(v) and abs(v) < 2**31] + [0, -7]
    elif name == "bool":
        values = [True, False]
    for suffixes in suffix_sets:
        rep = value_repr(name, suffixes)
        for v in values:
            assert rep(v) == format_value(v, name, suffixes), (v, suffixes)
    rep = value_repr(name, ["requires_grad=True"] if name in FLOATS else [])
    for v in values[:40]:
        t = torch.tensor(v, dtype=getattr(torch, name), requires_grad=name in FLOATS)
        assert rep(t.item()) == repr(t), v


def test_zero_dim_long_suffix_wraps_as_torch():
    """dtype and a long grad_fn name pass 80 columns: torch moves the suffix to a new line, so must we."""
    x = torch.tensor(-20.123456, dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.binary_cross_entropy_with_logits(x, torch.tensor(1.0, dtype=torch.float64))
    expected = repr(out)
    got = format_tensor(out.detach().numpy(), "float64", [f"grad_fn=<{type(out.grad_fn).__name__}>"])
    assert got == expected and "\n" in got


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3, 4), (0, 0), (3, 0, 1)], ids=str)
def test_empty(name, shape):
    check(np.zeros(shape, dtype=np_dtype(name)), name)


@pytest.mark.parametrize("mode", ["requires_grad", "grad_fn"])
@pytest.mark.parametrize("name", FLOATS)
@pytest.mark.parametrize(
    "shape", [(), (0,), (2, 0), (4,), (3, 3), (2, 2, 2), (14,), (30,), (2000,), (4, 300)], ids=str
)
def test_suffixes(name, mode, shape):
    n = int(np.prod(shape))
    values = np.linspace(-3.3, 7.7, n) if n else np.zeros(0)
    check(as_array(values, name, shape), name, mode)


# --------------------------------------------------------------------------- wrapping / summarising


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("n", [10, 13, 14, 15, 40, 200, 999, 1000, 1001, 5000])
def test_long_vectors(name, n):
    rng = np.random.default_rng(n)
    if name == "bool":
        values = rng.random(n) > 0.5
    elif name in INTS:
        info = np.iinfo(name)
        values = rng.integers(max(info.min, -1000), min(info.max, 100000), n, endpoint=True)
    else:
        values = rng.normal(0, 100, n)
    check(as_array(values, name), name)


@pytest.mark.parametrize("name", ["float32", "float64", "int64", "int8", "bool"])
@pytest.mark.parametrize(
    "shape",
    [(2, 40), (5, 25), (40, 30), (1, 1001), (1001, 1), (10, 10, 11), (7, 7, 7, 7), (3, 400), (2, 3, 200),
     (8, 2, 70)],
    ids=str,
)
def test_nd_wrap_and_summarise(name, shape):
    rng = np.random.default_rng(sum(shape))
    n = int(np.prod(shape))
    if name == "bool":
        values = rng.random(n) > 0.3
    elif name in INTS:
        values = rng.integers(-100, 100, n)
    else:
        values = rng.standard_normal(n) * 1e3
    check(as_array(values, name, shape), name)


def test_summarised_uses_only_visible_values_for_width():
    # The huge hidden value must not switch the formatter to sci mode.
    arr = np.arange(2000, dtype=np.float32) / 7
    arr[1000] = 1e20
    check(arr, "float32")
    arr2 = np.ones((20, 20, 20), dtype=np.float64)
    arr2[10, 10, 10] = 1e-9
    check(arr2, "float64")


def test_float16_values():
    vals = [65504.0, -65504.0, 6.1e-05, 5.96e-08, 0.1, 1 / 3, 2.0, float("inf"), float("nan"), -0.0]
    check(as_array(vals, "float16"), "float16")
    check(as_array([0.1, 0.2, 0.3], "float16"), "float16")
    check(as_array([1024.0, 2048.0, 3.0], "float16"), "float16")
    check(as_array(np.linspace(-2, 2, 50), "float16", (5, 10)), "float16")


def test_wide_sci_rows():
    vals = np.geomspace(1e-8, 1e8, 60)
    check(as_array(vals, "float64", (3, 20)), "float64")
    check(as_array(vals, "float32", (60,)), "float32", "grad_fn")


def test_int_extremes():
    for name in INTS:
        info = np.iinfo(name)
        check(np.array([info.min, 0, info.max], dtype=name), name)


# --------------------------------------------------------------------------- property test

SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0])


@st.composite
def tensors(draw):
    name = draw(st.sampled_from(ALL + FLOATS))  # floats weighted double
    rank = draw(st.integers(0, 4))
    max_dim = {0: 1, 1: 2000, 2: 45, 3: 13, 4: 7}[rank]
    if draw(st.integers(0, 9)) == 0:  # ~10%: dims may be empty
        dims = st.integers(0, max_dim)
    elif draw(st.booleans()):  # large enough to be summarised (> 1000 elements) for most ranks
        dims = st.integers(max(1, 2 * max_dim // 3), max_dim)
    else:
        dims = st.integers(1, max_dim)
    shape = tuple(draw(st.lists(dims, min_size=rank, max_size=rank)))
    n = int(np.prod(shape))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if name == "bool":
        arr = rng.random(n) < draw(st.floats(0, 1))
    elif name in INTS:
        info = np.iinfo(name)
        bits = draw(st.integers(1, info.bits))
        lo = max(int(info.min), -(2 ** (bits - 1)))
        hi = min(int(info.max), 2 ** (bits - 1))
        arr = rng.integers(lo, hi, n, endpoint=True)
    else:
        kind = draw(st.sampled_from(["normal", "int_valued", "log_mixed", "tiny", "huge", "const"]))
        scale = 10.0 ** draw(st.integers(-10, 12))
        if kind == "normal":
            arr = rng.standard_normal(n) * scale
        elif kind == "int_valued":
            arr = np.round(rng.standard_normal(n) * scale)
        elif kind == "log_mixed":
            arr = np.sign(rng.standard_normal(n)) * 10.0 ** rng.uniform(-8, 10, n)
        elif kind == "tiny":
            arr = rng.uniform(-1, 1, n) * 1e-5
        elif kind == "huge":
            arr = rng.uniform(-1, 1, n) * 1e9
        else:
            arr = np.full(n, draw(st.sampled_from([0.0, -0.0, 1.0, 2.5, 1e-4, 1e8, np.nan])))
        if n and draw(st.integers(0, 2)):
            k = draw(st.integers(1, max(1, n // 4)))
            pos = rng.integers(0, n, k)
            arr[pos] = rng.choice(SPECIALS, k)
    arr = as_array(arr, name, shape)
    mode = draw(st.sampled_from([None, "requires_grad", "grad_fn"])) if name in FLOATS else None
    return arr, name, mode


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tensors())
def test_property_matches_torch(case):
    arr, name, mode = case
    check(arr, name, mode)


@pytest.mark.parametrize("values", [[1e300, 1e-300], [-1.7e308, 5e-324, 1.0]])
def test_a_range_past_float64_formats_without_a_warning(values):
    """The formatter's max/min ratio overflows to inf (sci mode, as torch decides it) with no NumPy
    RuntimeWarning: under threads such a warning reached another request's `warnings`."""
    arr = np.array(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = format_tensor(arr, "float64")
    assert text == torch_repr(arr)
