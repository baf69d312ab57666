"""redteam7 F7: the special functions' host implementations (engine/ops/special.py `_host`, float64 series and
recurrences) hold a bounded amount of memory beyond their output, whatever the size: they work in chunks. Their
values are bit for bit those of one call over the whole array (every function is elementwise). mvlgamma's `p`
multiplies its elements: bounded by max_tensor_elements (413) before anything of that size is made.

`make test` compares polygamma(2) (a series per element, the slowest) chunked and whole in each layout once and
each dtype (three of its six cases); `make test-full` (GRADSERVE_TEST_FULL=1) in all six, like every other function."""
from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

import engine
from engine.errors import LimitExceeded
from engine.ops import _special as S
from engine.ops import special as SP
from engine.program import Limits

N = 1_000_000
HOST = {
    "lgamma": SP.lgamma_op, "digamma": SP.digamma_op, "erfinv": SP.erfinv_op, "i0": SP.i0_op,
    "special.i0e": SP.i0e_op, "special.i1": SP.i1_op, "special.i1e": SP.i1e_op, "special.ndtri": SP.ndtri_op,
    "special.log_ndtr": SP.log_ndtr_op, "special.erfcx": SP.erfcx_op,
}


def _peak(fn):
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", [*HOST, "polygamma(2)", "mvlgamma(3)"])
def test_host_temporaries_are_bounded_by_the_output(name):
    x = engine.full([N], 0.75)
    fn = {"polygamma(2)": lambda: engine.polygamma(2, x), "mvlgamma(3)": lambda: engine.mvlgamma(x + 1.0, 3)}.get(
        name, lambda: HOST[name](x))
    out, peak = _peak(fn)
    size = out.numel() * out.element_size()
    # the output, an input made contiguous (and mvlgamma's (N, p) lgamma terms, summed), and a few MB of chunk
    extra = 3 * size if name.startswith("mvlgamma") else 0
    assert peak <= 2 * size + extra + (24 << 20), f"{name}: peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB output"


FULL = os.environ.get("GRADSERVE_TEST_FULL") == "1"
CHUNKED = [(name, layout, dtype) for name in [*HOST, "polygamma(2)", "polygamma(1)"]
           for layout in ["contiguous", "transposed", "expanded"] for dtype in ["float32", "float64"]
           if FULL or name != "polygamma(2)"
           or (layout, dtype) in {("contiguous", "float64"), ("transposed", "float32"), ("expanded", "float32")}]


@pytest.mark.parametrize("name, layout, dtype", CHUNKED, ids=["-".join(c) for c in CHUNKED])
def test_chunked_values_are_the_whole_arrays_bit_for_bit(name, layout, dtype):
    rng = np.random.default_rng(0)
    n = 3 * SP._CHUNK + 123
    vals = np.concatenate([rng.uniform(-40, 40, n // 2), rng.uniform(-1, 1, n - n // 2 - 12),
                           [0.0, -0.0, 1.0, -1.0, 0.5, 30.0, 31.0, np.inf, -np.inf, np.nan, 1e-300, -2.0]])
    a = vals.astype(dtype)
    if layout == "transposed":
        a = a[: (n // 7) * 7].reshape(7, -1).T
    elif layout == "expanded":
        a = np.broadcast_to(a[:500, None], (500, 400))
    ref_fn = {"polygamma(2)": lambda v: S.polygamma_array(2, v, None, a.dtype.type),
              "polygamma(1)": lambda v: S.polygamma_array(1, v, None, a.dtype.type)}.get(name)
    if ref_fn is None:
        ref_fn = {"lgamma": S.lgamma_array, "digamma": S.digamma_array, "erfinv": S.erfinv_array,
                  "i0": lambda v: S.bessel_i_array(v, 0), "special.i0e": lambda v: S.bessel_ie_array(v, 0),
                  "special.i1": lambda v: S.bessel_i_array(v, 1), "special.i1e": lambda v: S.bessel_ie_array(v, 1),
                  "special.ndtri": S.ndtri_array, "special.log_ndtr": S.log_ndtr_array,
                  "special.erfcx": S.erfcx_array}[name]
    with np.errstate(all="ignore"):
        whole = np.asarray(ref_fn(np.asarray(a, dtype=np.float64))).astype(a.dtype)  # one call, as before
        got = (SP._polygamma(int(name[-2]), a) if name.startswith("polygamma")
               else SP._host(ref_fn)(a))
    got = np.asarray(got)
    assert got.shape == whole.shape and got.dtype == whole.dtype
    assert got.tobytes() == np.ascontiguousarray(whole).tobytes()


def test_mvlgamma_p_is_bounded_by_the_elements_it_multiplies():
    doc = {"leaves": {"x": {"data": [2e7, 2e7, 2e7, 2e7]}},
           "ops": [{"name": "y", "op": "mvlgamma", "args": ["x", 10_000_000]}], "outputs": ["y"]}
    _, peak = _peak(lambda: pytest.raises(LimitExceeded, engine.evaluate, doc, limits=Limits()))
    assert peak < 1 << 20
    small = {"leaves": {"x": {"data": [4.0, 5.0]}}, "ops": [{"name": "y", "op": "mvlgamma", "args": ["x", 5]}]}
    assert engine.evaluate(small)["tensors"]["y"]["shape"] == [2]


def test_mvlgamma_chunked_is_the_whole_arrays():
    a = np.linspace(20.0, 60.0, 7007, dtype=np.float32).reshape(7, 1001)
    p = 40  # 280,040 terms: several chunks
    args = a[..., None] + SP._mvlgamma_args(a.shape, p, a.dtype)
    whole = np.asarray(S.lgamma_array(np.asarray(args, np.float64))).astype(a.dtype)
    import math
    whole = (whole.sum(-1) + np.asarray(p * (p - 1) * math.log(math.pi) / 4, dtype=a.dtype)).astype(a.dtype)
    assert np.asarray(SP._mvlgamma(a, p)).tobytes() == whole.tobytes()


@pytest.mark.parametrize("name", ["lgamma", "erfinv", "special.log_ndtr"])
def test_an_expanded_input_is_not_copied_whole(name):
    """A stride-0 input (the red team's expand to 10^7 elements) is read a chunk at a time, not made contiguous
    first (np.ravel copied all of it, uncharged; the session review's finding): its peak is the contiguous
    input's, within a MB."""
    dense = engine.full([N], 0.25)
    _, contiguous = _peak(lambda: HOST[name](dense))
    wide = engine.full([1], 0.25).expand(N)
    _, expanded = _peak(lambda: HOST[name](wide))
    assert expanded <= contiguous + (1 << 20), f"{name}: {expanded / 1e6:.1f} MB expanded, {contiguous / 1e6:.1f}"
