"""redteam13 F7 / F11 (safeM): the selection loops' steps charged at their measured cost. F11: topk's partial_sort
heap on a tie-heavy row charges its make_heap and sort_heap steps (known from k) before any runs, so a flop limit
below them raises before the heap work; F7: kthvalue's quickselect on the antiquicksort row (n/4 partition levels)
charged its levels at ~200k flops and 48 an element (it was ~1000 and 8: ~20-40x under its CPU). Answers still
torch's."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from bench.select_charges import killer_tied
from engine import budget as B
from engine.budget import LimitExceeded
from engine.ops import sorting_heap as HEAP
from engine.ops import sorting_select as SEL


def _run(fn, **limits):
    b = B.Budget(**limits)
    with B.active(b):
        out = fn()
    return b, out


def test_the_quickselect_killer_is_charged_its_levels():
    n = 4000
    x = killer_tied(n)
    b, (v, i) = _run(lambda: engine.kthvalue(engine.tensor(x), n // 2 + 1))
    tv, ti = torch.kthvalue(torch.from_numpy(x), n // 2 + 1)
    assert v.item() == tv.item() and i.item() == ti.item()
    # ~1000 levels over ~3e6 elements: ~0.3 s of CPU here; charged ~3e8 (before: 1.7e7)
    assert b.used_flops >= 900 * SEL.LEVEL_STEP + 2e6 * SEL.LEVEL_ELEMENT, b.used_flops


def test_a_random_row_is_not_charged_more():
    x = np.random.default_rng(0).standard_normal(100_000).round(1)  # ties: the stepped quickselect
    b, (v, i) = _run(lambda: engine.kthvalue(engine.tensor(x), 50_000))
    tv, ti = torch.kthvalue(torch.from_numpy(x), 50_000)
    assert v.item() == tv.item() and i.item() == ti.item()
    assert b.used_flops < 1e8  # its levels within the free ones: the rule's charge (~1e7 here)


def test_the_f11_heap_is_charged_before_it_runs(monkeypatch):
    n, k = 1 << 16, 1 << 10
    x = np.arange(n) % 64.0
    calls = {"n": 0}
    real = HEAP._adjust_heap

    def counting(*a):
        calls["n"] += 1
        return real(*a)

    monkeypatch.setattr(HEAP, "_adjust_heap", counting)  # where make_heap and _pop_heap look it up
    ahead = SEL.heap_steps(k) * SEL.HEAP_STEP  # ~2.9e8 flops: ~1 s of CPU here (before: ~5e7 charged in all)
    with pytest.raises(LimitExceeded, match="max_flops"):
        _run(lambda: engine.topk(engine.tensor(x), k), max_flops=2e8)
    assert calls["n"] == 0  # refused before make_heap
    b, (v, i) = _run(lambda: engine.topk(engine.tensor(x), k))
    assert b.used_flops >= ahead > 2e8 and calls["n"] > 0
    assert np.array_equal(v.numpy(), torch.topk(torch.from_numpy(x), k).values.numpy())


def test_heap_steps_is_a_lower_bound():
    steps = {"n": 0}

    class Count(SEL._Steps):
        def __call__(self, elements=0, level=False):
            steps["n"] += 1

    for m in (2, 3, 5, 17, 100, 1000, 4097):
        for key in (np.arange(m)[::-1].astype(float), np.ones(m), np.arange(m) % 3.0):
            steps["n"] = 0
            k, i, t = key[None].copy(), np.arange(m)[None].copy(), Count(m)
            r, f, last = np.arange(1), np.zeros(1, dtype=np.int64), np.full(1, m)
            SEL.make_heap(k, i, r, f, last, t)
            SEL.sort_heap(k, i, r, f, last, t)
            assert steps["n"] >= SEL.heap_steps(m), (m, steps["n"])
