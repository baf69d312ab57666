"""The value-sized ops' charges against their measured peaks (review B4; docs/runs/fixrev.md): each call under
a fresh engine.budget.Budget, tracemalloc measuring the peak above the inputs (made outside the call), 2**20
elements. Not a test (tests/engine/test_fixrev_peaks.py holds the cases to their charge):

    .venv/bin/python -m tests.engine.fixrev_peaks
"""
from __future__ import annotations

import tracemalloc

import numpy as np

import engine
from engine import budget as _budget


def measured(fn):
    b = _budget.Budget()
    tracemalloc.reset_peak()
    start, _ = tracemalloc.get_traced_memory()
    with _budget.active(b):
        out = fn()
    _, peak = tracemalloc.get_traced_memory()
    del out  # alive until measured
    return b.peak, peak - start


def main():
    tracemalloc.start()
    n = 1 << 20
    rng = np.random.default_rng(0)
    e = engine.tensor(rng.integers(-2**62, 2**62, n, dtype=np.int64))
    t = engine.tensor(rng.integers(-2**62, 2**62, n, dtype=np.int64))
    ef = engine.tensor(rng.standard_normal(n).astype(np.float32))
    tf = engine.tensor(rng.standard_normal(n).astype(np.float32))
    e32 = engine.tensor(rng.integers(-2**30, 2**30, n, dtype=np.int32))
    cases = {
     "isin int64 wide": lambda: engine.isin(e, t),
     "isin int64 wide invert": lambda: engine.isin(e, t, invert=True),
     "isin float32": lambda: engine.isin(ef, tf),
     "isin int32 wide": lambda: engine.isin(e32, e32),
     "isin int64 small test": lambda: engine.isin(e, t[:10]),
     "unique float32 inv+counts": lambda: engine.unique(ef, return_inverse=True, return_counts=True),
     "unique int64 inv+counts": lambda: engine.unique(e, return_inverse=True, return_counts=True),
     "unique float32": lambda: engine.unique(ef),
     "unique_consecutive f32 inv+counts": lambda: engine.unique_consecutive(ef, return_inverse=True,
                                                                             return_counts=True),
     "logspace f32": lambda: engine.logspace(0, 1, n),
     "logspace f64": lambda: engine.logspace(0, 1, n, dtype=engine.float64),
     "logspace int64": lambda: engine.logspace(0, 1, n, dtype=engine.int64),
    }
    for k, f in cases.items():
        f()
        c, p = measured(f)
        print(f"{k:36s} charged {c/1e6:7.1f} MB  measured {p/1e6:7.1f} MB  {'UNDER' if c < p else ''}")


if __name__ == "__main__":
    main()
