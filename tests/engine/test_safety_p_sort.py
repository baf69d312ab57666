"""safeP: the sort family's flops (redteam14 F8). Charged n log2 n, NumPy's sort ran 3-4x past an elementwise add's
ns a flop at 1-4M elements (8.7 ns a charged flop at 2^22), unique 5x, mode over a long row 5.6x; now a sort is
charged rules.SORT_LEVEL flops an element a level of its rows (log2 of the sorted dim's length, not of the whole
tensor's: a [250000, 4] sort along its rows of 4 had been charged 20 levels) plus SORT_ELEMENT an element, and
mode and unique their passes besides (docs/runs/safeP.md: 0.8-1.8 ns a charged flop from 2^10 to 2^22)."""
from __future__ import annotations

import numpy as np
import pytest

import engine
from engine import budget as B
from engine.ops import rules

N = 1 << 16  # 16 levels


def _charged(fn):
    b = B.Budget()
    with B.active(b):
        fn()
    return b.used_flops


@pytest.mark.parametrize("op", [
    lambda x: engine.sort(x), lambda x: engine.argsort(x), lambda x: engine.msort(x),
    lambda x: engine.median(x), lambda x: engine.median(x, 0), lambda x: engine.nanmedian(x),
    lambda x: engine.quantile(x, 0.25), lambda x: engine.mode(x), lambda x: engine.unique(x),
    lambda x: engine.unique(x, dim=0)])
def test_a_long_sort_is_charged_its_levels(op):
    x = engine.tensor(np.random.default_rng(0).standard_normal(N))
    assert _charged(lambda: op(x)) >= rules.SORT_LEVEL * N * 16  # before: N * 16 (+ 4 N for unique)


def test_mode_and_unique_charge_their_passes_beside_the_sort():
    x = engine.tensor(np.random.default_rng(0).integers(0, 1000, N))
    assert _charged(lambda: engine.mode(x)) >= rules.sort_flops(N, N) + 16 * N
    assert _charged(lambda: engine.unique(x)) >= rules.sort_flops(N, N) + 8 * N


def test_a_sort_along_short_rows_is_charged_their_levels_only():
    x = engine.tensor(np.random.default_rng(0).standard_normal((N // 4, 4)))
    flops = _charged(lambda: engine.sort(x))
    assert flops == rules.sort_flops(N, 4) < N * 16  # before: N * 16, the whole tensor's levels


def test_sorts_answer_as_before():
    import torch  # noqa: PLC0415

    a = np.random.default_rng(3).integers(0, 50, (64, 40)).astype(np.float64)
    for e, t in [(engine.sort(engine.tensor(a), 1), torch.sort(torch.tensor(a), dim=1, stable=True)),
                 (engine.mode(engine.tensor(a), 1), torch.mode(torch.tensor(a), 1)),
                 (engine.median(engine.tensor(a), 0), torch.median(torch.tensor(a), 0))]:
        assert np.array_equal(e[0]._data, t[0].numpy()) and np.array_equal(e[1]._data, t[1].numpy())
    assert np.array_equal(engine.unique(engine.tensor(a))._data, torch.unique(torch.tensor(a)).numpy())
