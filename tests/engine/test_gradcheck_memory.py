"""gradcheck's memory against its charge (redteam10 F2: a [3300] float64 `sin` took a worker 195 -> 815 MiB, ~2.4
times what it charged): a request's traced peak (tracemalloc, bytes above where it started) within the peak its
Budget charged, as tests/engine/empty_dims_sweep.py measures ops (bytes only, no clock); the comparisons made a
block at a time (the reentrancy check a row at a time) give torch's answers and messages byte for byte."""
from __future__ import annotations

import base64
import tracemalloc

import numpy as np
import pytest
import torch

import engine
from engine.autograd import gradcheck_jacobians as J
from engine.program import Limits, gradcheck
from tests.engine.test_gradcheck import polynomial_hooked, same

N = 600  # its Jacobians (2.7 MiB in float64, 1.4 in float32) are over a block (J.BLOCK_BYTES): compared in blocks;
# its rows and columns (4,800 bytes in float64) are over budget.TRACK_MIN_BYTES: counted as they die, not kept
SLACK = 1 << 20  # Python objects of the run (tensors, nodes, rows of N): before the fix it was ~4 N^2 * 8


def document(n, dtype="float64", **opts):
    data = np.full(n, 0.5, dtype=dtype)
    return {"leaves": {"x": {"data": {"dtype": dtype, "shape": [n], "b64": base64.b64encode(data.tobytes()).decode()},
                             "requires_grad": True}},
            "ops": [{"name": "y", "op": "sin", "args": ["x"]}], "function": {"inputs": "x", "output": "y"}, **opts}


def measure(doc):
    """(outcome, bytes charged at peak, bytes traced at peak) of POST /v1/gradcheck's document, run under the
    default limits' Budget without a deadline."""
    limits = Limits()
    b = limits.budget()
    b.deadline = None
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = gradcheck(doc, limits=limits, budget=b)
        traced = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    checks = [out["gradcheck"], out["gradgradcheck"]]
    return [c["ok"] for c in checks if c is not None], b.peak, traced


@pytest.mark.parametrize("dtype, opts, ok", [
    ("float64", {}, [True]),
    ("float64", {"gradgrad": True}, [True, True]),
    ("float64", {"fast_mode": True, "gradgrad": True}, [True, True]),
    ("float32", {}, [False]),  # float32's differences fail: the failing path (slow mode again, the message)
])
def test_traced_peak_within_charge(dtype, opts, ok):
    outcome, charged, traced = measure(document(N, dtype, **opts))
    assert outcome == ok
    assert traced <= charged + SLACK, f"{traced} bytes traced for {charged} charged"
    if not opts.get("fast_mode"):
        assert charged >= 2 * N * N * np.dtype(dtype).itemsize  # two Jacobians at once (numerical, analytical)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_big_failing_message_is_torchs(fast_mode):
    """A wrong gradient on a [600] input: the message prints both (summarised) Jacobians, as torch's."""
    x = np.linspace(-1, 1, N)
    same(lambda m: m.autograd.gradcheck(polynomial_hooked(2.0), m.tensor(x, dtype=m.float64, requires_grad=True),
                                        fast_mode=fast_mode), fast_scalars=fast_mode)


def _pairs(rng):
    """Arrays to compare, and a view of both: close and not, NaN and inf planted in different blocks, mixed
    dtypes, non-contiguous views (compared along their first dimension), 0-d."""
    a = rng.uniform(-1, 1, (40, 30))
    close = a + 1e-9
    far = a.copy()
    far[35, 3] += 1.0
    nan_then_far = far.copy()
    nan_then_far[2, 2] = np.nan
    infs = a.copy()
    infs[10, :] = np.inf
    infs_b = infs.copy()
    infs_b[10, 4] = -np.inf
    whole, t, every_other, column = (lambda v: v), (lambda v: v.t()), (lambda v: v[::2]), (lambda v: v[:, 3])
    return [(a, close, whole), (a, far, whole), (nan_then_far, a, whole), (a, nan_then_far, whole),
            (infs, infs, whole), (infs, infs_b, whole), (a.astype(np.float32), close, whole), (a, far, t),
            (a, close, t), (nan_then_far, a, t), (a, far, every_other), (a, far, column), (a[0, 0], far[0, 0], whole)]


@pytest.mark.parametrize("block", [64, 1 << 20])
def test_blocked_allclose_is_torchs(block, monkeypatch):
    """allclose a block at a time: torch's answers, whatever the block."""
    monkeypatch.setattr(J, "BLOCK_BYTES", block)
    for x, y, view in _pairs(np.random.default_rng(7)):
        ex, ey = (view(engine.tensor(v.tolist(), dtype=getattr(engine, v.dtype.name))) for v in (x, y))
        tx, ty = (view(torch.from_numpy(np.array(v))) for v in (x, y))
        for rtol, atol in ((1e-3, 1e-5), (0.0, 0.0)):
            assert J._allclose(ex, ey, rtol, atol) == torch.allclose(tx.to(ty.dtype), ty, rtol, atol), (x, y)


def test_reentrancy_rows_are_torchs_max():
    """The reentrancy check row by row against the first Jacobian: torch's `(a - b).abs().max() > atol` over the
    whole (a NaN in one column and a difference in another: the max is NaN, so no failure); a missing gradient
    (None) is a zero column."""
    for x, y, view in _pairs(np.random.default_rng(7)):
        a, b = (view(torch.from_numpy(np.array(v))).numpy() for v in (x, y))
        if x.dtype != y.dtype or a.ndim != 2:
            continue
        rows = [[engine.tensor(b[:, j].tolist(), dtype=engine.float64)] for j in range(b.shape[1])]
        for atol in (0.0, 0.5):
            expect = not bool((torch.from_numpy(a - b)).abs().max() > atol)
            assert J._check_rows_equal([engine.tensor(a.tolist(), dtype=engine.float64)], rows, atol) == expect
    a = np.array([[0.0, 1.0], [0.0, 2.0]])
    assert J._check_rows_equal([engine.tensor(a.tolist(), dtype=engine.float64)],
                               [[None], [engine.tensor([1.0, 2.0], dtype=engine.float64)]], 0.0)
    assert not J._check_rows_equal([engine.tensor(a.tolist(), dtype=engine.float64)],
                                   [[None], [None]], 0.5)


if __name__ == "__main__":  # python -m tests.engine.test_gradcheck_memory [N]: the table of docs/runs/safeH.md
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    for dtype in ("float64", "float32"):
        for fast in (False, True):
            for gg in (False, True):
                got, charged, traced = measure(document(n, dtype, fast_mode=fast, gradgrad=gg))
                print(f"N={n} {dtype} fast_mode={fast} gradgrad={gg}: ok {got}, charged {charged / 2**20:.1f} MiB, "
                      f"traced {traced / 2**20:.1f} MiB", flush=True)
