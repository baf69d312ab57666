"""mode with NaN, as live torch 2.13: aten sorts each row's (value, index) pairs with std::sort by `<`, which for
rows of at most 16 elements is libstdc++'s insertion sort alone; NaN (never less, never greater) stops an
element's walk where it meets it, so the sorted order, the runs (NaN != NaN) and the answer's value and index are
that sort's (engine/ops/sorting_select.py insertion_sorted). Longer rows: test_parity15_select."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

assert torch.__version__.startswith("2.13"), torch.__version__


def _same(t, e):
    tv, ev = t.values.numpy(), e.values.numpy()
    return (tv.dtype == ev.dtype and tv.shape == ev.shape
            and bool(((tv == ev) | (np.isnan(tv) & np.isnan(ev))).all())
            and np.array_equal(t.indices.numpy(), e.indices.numpy()))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 16])
def test_mode_with_nan_rows_up_to_16(dtype, n):
    rng = np.random.default_rng(n)
    x = rng.integers(0, 4, (1500, n)).astype(dtype)
    x[rng.random(x.shape) < rng.choice([0.1, 0.4, 0.8], (1500, 1))] = np.nan
    x[:3] = np.nan  # all-NaN rows
    t, e = torch.mode(torch.from_numpy(x)), engine.mode(engine.tensor(x))
    assert _same(t, e)


@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False)])
def test_mode_with_nan_along_a_dim(dim, keepdim):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 3, (6, 7, 5)).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    t = torch.mode(torch.from_numpy(x), dim, keepdim)
    e = engine.mode(engine.tensor(x), dim, keepdim)
    assert _same(t, e)


def test_mode_nan_cases():
    for row in ([np.nan, 1.0], [3.0, np.nan, 3.0, np.nan], [1.0, np.nan, np.nan, 2.0], [np.nan, np.nan, 1.0, 1.0],
                [2.0, np.nan, 1.0, 2.0, np.nan, 1.0, -0.0, 0.0], [np.inf, np.nan, -np.inf, np.inf]):
        x = np.array(row)
        assert _same(torch.mode(torch.from_numpy(x)), engine.mode(engine.tensor(x))), row
