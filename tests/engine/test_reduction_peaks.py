"""The reductions' real memory peaks (tracemalloc) against what they charge to the request's budget, at a
(512, 512) float32 input (tests/engine/reduction_peaks.py measures; docs/runs/split2.md has its table):

- nansum (its NaN-replaced copy and mask, its dtype= cast) charged only its output, var_mean / std_mean one
  input-sized array of var's two: now each peaks within its charge;
- every reduction of the table, forward and backward, peaks within twice its charge."""
from __future__ import annotations

import pytest

from tests.engine import reduction_peaks as RP

N = 512
# Python's objects around the arrays (Tensor and node objects, index tuples, 0-d constants) and NumPy's
# iterator buffers: far below the 1 MB input
SLACK = 64 * 1024

FIXED = ["nansum()", "nansum(dim=0)", "nansum(dim=1, keepdim, dtype=float64)", "var_mean()", "var_mean(dim=1)",
         "std_mean(dim=0, keepdim)"]


@pytest.mark.parametrize("label", FIXED)
def test_fixed_reductions_peak_within_their_charge(label):
    charged, peak = RP.measure(label, N, backward=False)["fwd"]
    assert peak <= charged + SLACK, f"{label} peaked at {peak} bytes, charged {charged}"


def test_every_reduction_peaks_within_twice_its_charge():
    over = []
    for label in RP.LABELS:
        r = RP.measure(label, N)
        for part in ("fwd", "bwd"):
            if r[part] is not None:
                charged, peak = r[part]
                if peak > 2 * charged + SLACK:
                    over.append(f"{label} {part}: peak {peak} bytes, charged {charged}")
    assert not over, "\n".join(over)
