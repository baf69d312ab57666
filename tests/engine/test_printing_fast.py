"""engine.printing_fast (a tensor's numbers printed at once) against live torch 2.13 repr() under its print
options, and against printing's port of torch's code (the slow path) on many more cases without torch."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import printing, printing_fast
from engine.printing import DEFAULT_OPTIONS, format_tensor, print_options

FLOATS = ["float32", "float64", "float16"]
INTS = ["int64", "int32", "int16", "int8", "uint8"]
ALL = FLOATS + INTS + ["bool"]
SUFFIXES = {None: [], "requires_grad": ["requires_grad=True"], "grad_fn": ["grad_fn=<MulBackward0>"]}
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0]
OPTION_KEYS = ("profile", "precision", "threshold", "edgeitems", "linewidth", "sci_mode")


def np_dtype(name):
    return np.bool_ if name == "bool" else np.dtype(name)


def torch_repr(arr, mode=None, options=None):
    """repr() of torch.tensor of the same data, under torch.set_printoptions(**options)."""
    t = torch.tensor(arr)
    if mode == "requires_grad":
        t.requires_grad_(True)
    elif mode == "grad_fn":
        t = t.requires_grad_(True) * 1
    torch.set_printoptions(**(options or {}))
    try:
        return repr(t)
    finally:
        torch.set_printoptions(profile="default")  # resets sci_mode to None too


def engine_repr(arr, name, mode=None, options=None, fast=True):
    opts = print_options(**options) if options else None
    if fast:
        return format_tensor(arr, name, SUFFIXES[mode], options=opts)
    floating = name in FLOATS
    return printing._format_array(np.asarray(arr), name, floating, SUFFIXES[mode], opts or DEFAULT_OPTIONS,
                                  fast=False)


def uses_fast_path(arr, options=None):
    """Whether printing_fast prints this tensor (not the port): where it must, it is what the tests test."""
    opts = print_options(**options) if options else DEFAULT_OPTIONS
    return printing_fast.fast_tensor_str(arr, 7, arr.dtype.kind == "f", opts) is not None


def check(arr, name, mode=None, options=None):
    expected = torch_repr(arr, mode, options)
    got = engine_repr(arr, name, mode, options)
    assert got == expected, f"options={options}\n--- engine ---\n{got}\n--- torch ---\n{expected}"


def make_values(rng, name, n, regime):
    """n values of dtype `name` in a regime: what makes the formatter choose int_mode, sci_mode, widths."""
    if name == "bool":
        return rng.random(n) < 0.5
    if name in INTS:
        info = np.iinfo(name)
        bits = int(rng.integers(1, info.bits + 1))
        return rng.integers(max(int(info.min), -(2 ** (bits - 1))), min(int(info.max), 2 ** (bits - 1)), n,
                            endpoint=True).astype(name)
    if regime == "normal":
        a = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4)
    elif regime == "int_valued":
        a = np.round(rng.standard_normal(n) * 10.0 ** rng.integers(0, 10))
    elif regime == "mixed":  # magnitudes across 1e-5 .. 1e9
        a = np.sign(rng.standard_normal(n)) * 10.0 ** rng.uniform(-5, 9, n)
    elif regime == "wide":  # three-digit exponents where the dtype holds them
        a = np.sign(rng.standard_normal(n)) * 10.0 ** rng.uniform(-120, 120, n)
    elif regime == "denormal":
        tiny = np.finfo(name).smallest_subnormal
        a = rng.integers(-50, 50, n) * float(tiny)
    elif regime == "zeros":
        a = np.where(rng.random(n) < 0.5, 0.0, -0.0)
    elif regime == "edges":  # either side of the sci_mode bounds and of the rounding of the 4th decimal
        a = rng.choice([1e-4, 9.9999e-5, 1e8, 1.0000001e8, 999.99995, 0.99995, 9.99995, 1000.0, 1.0, 0.5], n)
    else:
        a = np.full(n, rng.choice([0.0, 2.0, 1e-4, 1e8, 3.25]))
    a = np.asarray(a, dtype=np.float64)
    if n and rng.random() < 0.5:
        k = int(rng.integers(1, max(2, n // 4)))
        a[rng.integers(0, n, k)] = rng.choice(SPECIALS, k)
    with np.errstate(over="ignore", under="ignore"):
        return a.astype(name)


REGIMES = ["normal", "int_valued", "mixed", "wide", "denormal", "zeros", "edges", "const"]


@st.composite
def options(draw):
    opts = {
        "profile": draw(st.sampled_from([None, None, "default", "short", "full"])),
        "precision": draw(st.sampled_from([None, None, 0, 1, 2, 6, 10])),
        "threshold": draw(st.sampled_from([None, None, 0, 5, 50, 1000, math.inf])),
        "edgeitems": draw(st.sampled_from([None, None, 0, 1, 2, 3, 5])),
        "linewidth": draw(st.sampled_from([None, None, 1, 20, 50, 80, 150])),
        "sci_mode": draw(st.sampled_from([None, None, True, False])),
    }
    return {k: v for k, v in opts.items() if v is not None}


@st.composite
def cases(draw, with_options=True):
    name = draw(st.sampled_from(ALL + FLOATS + FLOATS))  # floats weighted
    rank = draw(st.integers(0, 4))  # 0-d: format_value at the default options, the port under others
    max_dim = {0: 1, 1: 2000, 2: 45, 3: 13, 4: 7}[rank]
    lo = 0 if draw(st.integers(0, 14)) == 0 else 1  # sometimes empty
    shape = tuple(draw(st.lists(st.integers(lo, max_dim), min_size=rank, max_size=rank)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    arr = make_values(rng, name, int(np.prod(shape)), draw(st.sampled_from(REGIMES))).reshape(shape)
    mode = draw(st.sampled_from([None, "requires_grad", "grad_fn"])) if name in FLOATS else None
    return arr, name, mode, (draw(options()) if with_options else {})


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_fast_path_matches_torch_under_print_options(case):
    arr, name, mode, opts = case
    check(arr, name, mode, opts)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(with_options=False))
def test_fast_path_matches_torch_at_default_options(case):
    arr, name, mode, _ = case
    check(arr, name, mode)


# --------------------------------------------------------------------------- named cases, against torch

NAMED = {
    "int_valued": [1.0, 2.0, -3.0, 0.0],
    "int_valued_nonfinite": [1.0, np.nan, -np.inf, 20.0, -0.0],
    "only_nonfinite_and_zeros": [np.nan, np.inf, 0.0, -0.0],
    "neg_zero_fixed": [-0.0, 0.5, 1.25],
    "neg_zero_sci": [-0.0, 1e-7, 5.0],
    "huge": [1e8, 2e9, -3.5e10],
    "tiny": [1e-5, -2e-5, 3e-5],
    "sci_switch_ratio": [1.0, 1000.5],
    "no_switch_ratio": [1.0, 1000.0],
    "three_digit_exponent_negative": [-1e-5, 1e120, 2.0],
    "three_digit_exponent_small": [-1e-120, 1e5],
    "rounding_widens": [9.99996, 0.5, -99.99996],
    "denormals": [5e-324, -1e-310, 1.0],
}


@pytest.mark.parametrize("name", ["float64", "float32", "float16"])
@pytest.mark.parametrize("case", sorted(NAMED))
@pytest.mark.parametrize("shape", [None, (1, -1), (-1, 1)], ids=str)
def test_named_cases(name, case, shape):
    with np.errstate(over="ignore", under="ignore"):
        arr = np.asarray(NAMED[case], dtype=np.float64).astype(name)
    if shape is not None:
        arr = arr.reshape(shape)
    assert uses_fast_path(arr)
    check(arr, name)
    check(arr, name, "grad_fn", {"precision": 2})


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("shape", [(3,), (4, 4), (16, 16), (100, 100), (2, 3, 4, 5), (1001,), (20, 3, 20)],
                         ids=str)
@pytest.mark.parametrize("opts", [{}, {"profile": "short"}, {"profile": "full"}, {"linewidth": 33},
                                  {"threshold": 10, "edgeitems": 1}, {"sci_mode": True}, {"sci_mode": False},
                                  {"precision": 7}], ids=str)
def test_shapes_and_options(name, shape, opts):
    rng = np.random.default_rng(sum(shape))
    arr = make_values(rng, name, int(np.prod(shape)), "normal").reshape(shape)
    assert uses_fast_path(arr, opts)
    check(arr, name, "requires_grad" if name in FLOATS else None, opts)


@pytest.mark.parametrize("opts", [{"edgeitems": 0, "threshold": 3}, {"edgeitems": 0}], ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (5,), (3, 4), (2, 0, 2)], ids=str)
def test_edgeitems_zero_and_empty_take_the_port(opts, shape):
    arr = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    check(arr, "float32", None, opts)


def test_print_options_is_torch_set_printoptions():
    """print_options(**kw) is the PRINT_OPTS that torch.set_printoptions(**kw) leaves, from the defaults."""
    for kw in [{}, {"profile": "short"}, {"profile": "full", "precision": 2}, {"threshold": 5, "sci_mode": True},
               {"edgeitems": 0, "linewidth": 10}, {"profile": "short", "edgeitems": 4}]:
        torch.set_printoptions(profile="default")
        torch.set_printoptions(**kw)
        try:
            expected = torch._tensor_str.get_printoptions()
        finally:
            torch.set_printoptions(profile="default")
        assert print_options(**kw)._asdict() == expected, kw
    for bad in [{"profile": "long"}, {"precision": -1}, {"precision": 2.5}, {"threshold": "x"},
                {"threshold": math.nan}, {"sci_mode": 1}]:
        with pytest.raises(ValueError):
            print_options(**bad)


# --------------------------------------------------------------------------- fast path vs the port, no torch


@pytest.mark.parametrize("seed", range(6))
def test_fast_path_is_the_port_on_many_random_cases(seed):
    """Thousands of cases, the fast path against printing's port of torch's code, each size either side of
    the switch from Python-list to NumPy statistics (printing_fast.NUMPY_STATS_FROM)."""
    rng = np.random.default_rng(seed)
    switch = printing_fast.NUMPY_STATS_FROM
    sizes = [1, 2, 3, 7, switch - 1, switch, switch + 1, 300, 1000, 1001, 1500]
    for i in range(700):
        name = ALL[i % len(ALL)] if i % 3 else FLOATS[i % 3]
        n = sizes[i % len(sizes)]
        rank = int(rng.integers(1, 4))
        shape = [n] + [1] * (rank - 1)
        rng.shuffle(shape)
        if i % 5 == 0 and n >= 4:  # a real second axis
            shape = [n // 2, 2] if n % 2 == 0 else [n]
        arr = make_values(rng, name, int(np.prod(shape)), REGIMES[i % len(REGIMES)]).reshape(shape)
        opts = {} if i % 2 else {k: v for k, v in zip(OPTION_KEYS, (
            rng.choice([None, "short", "full"]), rng.choice([None, 0, 2, 8]), rng.choice([None, 4, 1000]),
            rng.choice([None, 1, 2]), rng.choice([None, 15, 80, 200]), rng.choice([None, True, False]))
        ) if v is not None}
        opts = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in opts.items()}
        mode = [None, "grad_fn"][i % 2]
        fast, slow = engine_repr(arr, name, mode, opts), engine_repr(arr, name, mode, opts, fast=False)
        assert fast == slow, f"{name} {shape} {opts}\n--- fast ---\n{fast}\n--- port ---\n{slow}"


def test_layout_cache_is_bounded():
    """Any stream of shapes keeps the layout cache under its cap, and a layout with more numbers than
    _LAYOUT_HOLES_MAX (threshold=inf) is built for its call and not kept."""
    for n in range(1, printing_fast._LAYOUTS_MAX + 50):
        format_tensor(np.ones(n, dtype=np.float32), "float32")
        assert len(printing_fast._LAYOUTS) <= printing_fast._LAYOUTS_MAX
    printing_fast._LAYOUTS.clear()
    big = np.arange(printing_fast._LAYOUT_HOLES_MAX + 1, dtype=np.float64)
    text = format_tensor(big, "float64", options=print_options(profile="full"))
    assert text.count("e+") == big.size and not printing_fast._LAYOUTS  # sci_mode: every number printed


def test_no_numpy_warning_from_the_fast_statistics():
    """Overflowing ratios and non-finite values print without a NumPy warning on either statistics route."""
    for n in (3, printing_fast.NUMPY_STATS_FROM + 3):
        arr = np.resize(np.array([1e300, 1e-300, np.nan, -np.inf, 0.0]), n)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            text = format_tensor(arr, "float64")
        assert text == torch_repr(arr)


# --------------------------------------------------------------------------- the bench tools run


def test_repr_bench_tools_print_their_rows():
    """`python -m bench --groups repr` and `python -m bench.repr_ab` print a row per case, every text checked
    equal to torch's (or the two configurations' answers equal) before timing."""
    import re  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([sys.executable, "-m", "bench", "--groups", "repr", "--only", "0-d,4x4,100x100",
                        "--rounds", "1", "--target", "0.002"], cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "CHECK FAILED" not in r.stdout
    assert re.findall(r"^\| (0-d|4x4|100x100) +\| float32 +\|", r.stdout, re.M) == ["0-d", "4x4", "100x100"]
    r = subprocess.run([sys.executable, "-m", "bench.repr_ab", "--only", "04", "--rounds", "1", "--target", "0.002"],
                       cwd=root, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "CHECK FAILED" not in r.stdout and re.search(r"^\| tutorial_mean +\| [0-9.]+ (µs|ms|s) ", r.stdout, re.M)


def test_small_repr_formats_are_bounded_and_match_the_port():
    """printing_fast.small_float_repr (a small float tensor's whole repr from one cached format): any stream of
    shapes keeps its cache under its cap, and each text is the port's."""
    printing_fast._REPRS.clear()
    for n in range(1, printing_fast._REPRS_MAX + 50):
        shape = (n % 7 + 1, n % 5 + 1) if n % 2 else (n % printing_fast.NUMPY_STATS_FROM or 1,)
        arr = np.linspace(-n, n, int(np.prod(shape))).reshape(shape)
        got = format_tensor(arr, "float64", ["requires_grad=True"])
        assert printing_fast._REPRS  # it took the small route
        assert got == printing._format_array(arr, "float64", True, ["requires_grad=True"], DEFAULT_OPTIONS,
                                             fast=False)
        assert len(printing_fast._REPRS) <= printing_fast._REPRS_MAX


@pytest.mark.parametrize("values", [[1.0, -0.0, 2.0], [0.5, -0.0, 0.25, np.inf], [1e-5, -0.0, 3e-5], [0.0, -0.0],
                                    [-0.0, 1.5, 2.5, np.nan], [3.0, 0.0, 7.0, -0.0]])
@pytest.mark.parametrize("shape", [None, (2, -1)])
def test_negative_zero_wider_than_the_width(values, shape):
    """-0.0 prints one character wider than the width the nonzero values set ('-0.0000' beside '0.0001'):
    the small route's one-width layout must not take it (a line break of the suffixes moved, hypothesis found)."""
    arr = np.array(values * 4, dtype=np.float64)
    arr = arr.reshape(shape) if shape else arr
    for mode in (None, "grad_fn"):
        check(arr, "float64", mode)
