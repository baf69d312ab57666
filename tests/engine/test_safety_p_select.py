"""safeP: the selection loops' free partition levels charge their elements (redteam14 F1's remainder). A level
within an op's free allowance (and the request's budget.FREE_STEPS) was charged nothing, whatever it touched: over
many tied rows one level works on every row's segment, so kthvalue of [2048, 188] tied rows ran ~40x past its
charge (0.3 s of CPU for 7.3e6 flops), topk with k near n and mode over many tied rows likewise. Now a level's
elements are charged at LEVEL_ELEMENT whether the level is free or not (only its fixed LEVEL_STEP is free)."""
from __future__ import annotations

import numpy as np
import torch

import engine
from bench.select_charges import killer_tied
from engine import budget as B
from engine.ops import sorting_select as SEL


def _charged(fn):
    b = B.Budget()
    with B.active(b):
        out = fn()
    return b.used_flops, out


def test_kthvalue_over_many_tied_rows_charges_its_levels_elements():
    rows, n = 2048, 188
    x = np.tile(killer_tied(n), (rows, 1))
    flops, (v, i) = _charged(lambda: engine.kthvalue(engine.tensor(x), n // 2 + 1))
    # the first level alone works on every row's n - 1 elements (47 levels in all); before: 7.3e6 flops in all
    assert flops >= SEL.LEVEL_ELEMENT * rows * (n - 1)
    ref = torch.kthvalue(torch.tensor(x), n // 2 + 1)
    assert np.array_equal(v._data, ref.values.numpy()) and np.array_equal(i._data, ref.indices.numpy())


def test_topk_k_near_n_over_tied_rows_charges_its_levels_elements():
    rows, n = 2048, 256
    x = np.tile(np.arange(n) % 64, (rows, 1)).astype(np.float64)
    flops, (v, i) = _charged(lambda: engine.topk(engine.tensor(x), 200))
    # nth_element's first level and sort's first level: every row's n and 199 elements (before: 9.96e6 in all)
    assert flops >= SEL.LEVEL_ELEMENT * rows * (n + 199)
    ref = torch.topk(torch.tensor(x), 200)
    assert np.array_equal(v._data, ref.values.numpy()) and np.array_equal(i._data, ref.indices.numpy())


def test_mode_over_many_tied_rows_charges_its_levels_elements():
    rows, n = 4096, 256
    x = np.random.default_rng(0).integers(0, 4, (rows, n))
    flops, (v, i) = _charged(lambda: engine.mode(engine.tensor(x)))
    # last_of's first level: every row's n elements (before: 2.1e7 flops in all, the rule's)
    assert flops >= SEL.LEVEL_ELEMENT * rows * n
    ref = torch.mode(torch.tensor(x))
    assert np.array_equal(v._data, ref.values.numpy()) and np.array_equal(i._data, ref.indices.numpy())


def test_a_selection_without_ties_takes_no_level():
    x = engine.tensor(np.random.default_rng(1).standard_normal((1000, 100)))
    flops, _ = _charged(lambda: engine.kthvalue(x, 50))
    assert flops < 2e7  # the one-answer shortcut: its rule's charge alone


def test_one_small_tied_selection_pays_its_levels_fixed_cost():
    # 47 levels of a 188-value tied row, ~200 us each: its rule's n log2 n (1.5e3 flops) covers none of them; they
    # had been free (48 an op, and 2,048 a request: a batch's documents each had their own, redteam15 F5)
    x = engine.tensor(killer_tied(188))
    flops, (v, i) = _charged(lambda: engine.kthvalue(x, 95))
    assert flops >= 40 * SEL.LEVEL_STEP
    ref = torch.kthvalue(torch.tensor(killer_tied(188)), 95)
    assert v.item() == ref.values.item() and i.item() == ref.indices.item()
