"""The special functions' host implementations (engine/ops/special.py `_host`: float64 series and recurrences, a
chunk of _CHUNK elements at a time) and mvlgamma's chunked lgamma terms: each rule charges the output, what the
forward holds beside it, and one chunk's float64 work arrays. Before, the rules charged the output alone (and
mvlgamma its (numel, p) terms), 4-14 MB under on a chunk: the empty-dims sweep's [1, N] / [2, N] pairs of the
host functions (test_safety_empty_dims.KNOWN) and, once mvlgamma's old domain check went (redteam15 F9), its
samples below (p-1)/2. Here the forward's traced peak (tracemalloc, bytes above the input) against the bytes
engine.ops.charging.cost_of charges for the same call: no clock. polygamma (digamma's backward) likewise."""
from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

from engine.ops import special as SP
from engine.ops.charging import cost_of

C = SP._CHUNK
HOST = {
    "lgamma": SP.lgamma_op, "digamma": SP.digamma_op, "erfinv": SP.erfinv_op, "i0": SP.i0_op,
    "special.i0e": SP.i0e_op, "special.i1": SP.i1_op, "special.i1e": SP.i1e_op, "special.ndtri": SP.ndtri_op,
    "special.log_ndtr": SP.log_ndtr_op, "special.erfcx": SP.erfcx_op,
}
DTYPES = ["float16", "float32", "float64", "int64"]


def _values(n, dtype, kind):
    if kind == "zeros":
        return np.zeros(n, dtype)
    rng = np.random.default_rng(n)
    m = max(n, 16)
    v = np.concatenate([[0.0, 0.5, 1.0, np.inf, -np.inf, np.nan], rng.uniform(-40, 40, m // 2),
                        rng.uniform(-1, 1, m - m // 2 - 6)])[:n]
    return (np.nan_to_num(v) if dtype == "int64" else v).astype(dtype)


def _traced_and_charged(op, vals):
    charged = cost_of(op, vals)[0]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            op.array_forward(*vals)
            traced = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    return traced, charged


@pytest.mark.parametrize("kind", ["zeros", "mixed"])
@pytest.mark.parametrize("n", [C, 2 * C + 5], ids=["chunk", "chunks"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(HOST))
def test_a_host_function_holds_no_more_than_it_charges(name, dtype, n, kind):
    traced, charged = _traced_and_charged(HOST[name], (_values(n, dtype, kind),))
    assert traced <= charged, f"{name} {dtype} n={n}: {traced} bytes traced for {charged} charged"


@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_polygamma_holds_no_more_than_it_charges(k, dtype):
    """digamma's backward (polygamma 1: trigamma, ~250 bytes an element of float16 work) and the zeta series
    (k >= 2: a quarter chunk, mixed values; its series is the slow one)."""
    for n in (C, 2 * C + 5) if k < 2 else (C // 4,):
        for kind in ("zeros", "mixed") if k < 2 else ("mixed",):
            traced, charged = _traced_and_charged(SP.polygamma_op, (k, _values(n, dtype, kind)))
            assert traced <= charged, f"polygamma({k}) {dtype} n={n} {kind}: {traced} traced for {charged} charged"


@pytest.mark.parametrize("p", [1, 3, 40, C + 7])
@pytest.mark.parametrize("dtype", DTYPES)
def test_mvlgamma_holds_no_more_than_it_charges(p, dtype):
    """Its terms a chunk at a time (index arrays, sums, lgamma's work arrays), the flat input copy, the sum, the p
    arguments; below (p-1)/2 too, which now runs (redteam15 F9)."""
    for terms in (C, 3 * C):
        vals = (_values(max(1, terms // p), dtype, "mixed"), p)
        traced, charged = _traced_and_charged(SP.mvlgamma_op, vals)
        assert traced <= charged, f"p={p} {dtype} terms={terms}: {traced} bytes traced for {charged} charged"


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("shapes", [((C // 16,), (C // 16,)), ((128, 1), (1, 128)), ((C // 16,), ()), ((16,), ())],
                         ids=str)
def test_zeta_holds_no_more_than_it_charges(shapes, dtype):
    """special.zeta (parity18): a chunk's series, the operands' copies and their flat broadcasts ((128, 1)
    against (1, 128): two 16,384-element copies of inputs of 128; its series is slow: a sixteenth chunk)."""
    x, q = (_values(int(np.prod(s)), dtype, "mixed").reshape(s) for s in shapes)
    q = np.abs(q) + 1
    traced, charged = _traced_and_charged(SP.zeta_tensor, (x, q))
    assert traced <= charged, f"zeta {shapes} {dtype}: {traced} bytes traced for {charged} charged"


def test_an_empty_input_charges_no_chunk():
    for op, vals in [(SP.lgamma_op, (np.zeros((0, 1 << 20), np.float32),)),
                     (SP.mvlgamma_op, (np.zeros((1 << 20, 0), np.float32), 1 << 20))]:
        assert cost_of(op, vals)[0] == 0
