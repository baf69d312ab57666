"""Review B4: the value-sized ops' charges cover their measured peaks (tracemalloc: NumPy reports its buffers
to it) where the review found them short: isin of int64 over a wide range, unique / unique_consecutive with
return_inverse and return_counts, logspace. The table: docs/runs/fixrev.md."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import engine
from engine import budget as _budget

N = 1 << 18
_RNG = np.random.default_rng(0)
_A, _B = (engine.tensor(a) for a in _RNG.integers(-2**62, 2**62, (2, N), dtype=np.int64))
_F = engine.tensor(_RNG.standard_normal(N).astype(np.float32))

CASES = {  # the inputs are made outside the measured call
    "isin_int64_wide": lambda: engine.isin(_A, _B),
    "unique_inverse_counts_float32": lambda: engine.unique(_F, return_inverse=True, return_counts=True),
    "unique_inverse_counts_int64": lambda: engine.unique(_A, return_inverse=True, return_counts=True),
    "unique_consecutive_inverse_counts": lambda: engine.unique_consecutive(_F, return_inverse=True,
                                                                           return_counts=True),
    "logspace_float32": lambda: engine.logspace(0, 1, N),
    "logspace_float64": lambda: engine.logspace(0, 1, N, dtype=engine.float64),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_charge_covers_the_measured_peak(case):
    fn = CASES[case]
    fn()  # first-call imports and caches
    tracemalloc.start()
    try:
        b = _budget.Budget()
        start, _ = tracemalloc.get_traced_memory()
        with _budget.active(b):
            out = fn()
        _, peak = tracemalloc.get_traced_memory()
        del out
    finally:
        tracemalloc.stop()
    assert b.peak >= peak - start, f"charged {b.peak} bytes, measured {peak - start}"
