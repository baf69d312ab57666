"""mode over rows of at most 16 values with NaN (redteam12 F2): the insertion sort's steps ran over every NaN row
at once, allocating 1.05-1.09x the op's charge, with flops uncharged and no deadline check inside. Now a block of
rows at a time (engine/ops/sorting_select.py insertion_sort_rows), its flops charged, its deadline checked between
steps; the answers are torch's (values and indices, NaN included)."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

import engine
from engine import budget
from engine.budget import Budget, DeadlinePassed
from engine.errors import LimitExceeded
from engine.ops import sorting_select as SEL


def _rows(rows, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, (rows, n)).astype(dtype)  # ties, so that the order inside runs matters
    a[rng.random((rows, n)) < 0.2] = np.nan
    a[::3, 0] = np.nan
    return a


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mode_with_nan_is_torchs_across_blocks(dtype):
    a = _rows(2 * SEL.INSERTION_BLOCK + 37, 9, dtype)
    v, i = engine.mode(engine.from_numpy(a), 1)
    tv, ti = torch.mode(torch.from_numpy(a), 1)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_the_steps_flops_are_charged():
    raw = _rows(4000, 16, np.float64)
    a = engine.from_numpy(raw)
    clean = engine.from_numpy(np.arange(64000, dtype=np.float64).reshape(4000, 16))
    b = Budget()
    with budget.active(b):
        engine.mode(clean, 1)
    rule = b.used_flops  # the op's rule alone (no NaN row: no steps)
    steps = SEL.INSERTION_FLOPS * int(np.isnan(raw).any(1).sum()) * 16 * 17 / 2
    b = Budget()
    with budget.active(b):
        engine.mode(a, 1)
    assert b.used_flops == rule + steps
    with budget.active(Budget(max_flops=rule + steps / 2)), pytest.raises(LimitExceeded):
        engine.mode(a, 1)


def test_the_steps_check_the_deadline():
    b = Budget(time_limit_s=1.0)
    b.cancel()
    with budget.active(b), pytest.raises(DeadlinePassed):
        SEL.insertion_sorted(_rows(100, 16, np.float64))


def test_mode_with_nan_allocates_within_its_charge():
    a = engine.from_numpy(_rows(300_000, 8, np.float32))
    b = Budget(max_bytes=1 << 40)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        with budget.active(b):
            out = engine.mode(a, 1)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    del out
    assert peak <= b.peak, (peak, b.peak)
