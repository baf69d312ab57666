"""The selection loops' free steps (redteam14 F1): an op's steps within its rule's allowance were uncharged, and
so were the elements of those steps.
- F1a: 4,900 kthvalue ops of a 188-value tied row, each within its own 48 free levels (~27 ms of CPU an op), ran a
  330 KB body 30 s in a server thread charged ~1e7 flops: now the free steps are also the request's
  (budget.FREE_STEPS, shared by its ops), and the levels past them are charged at their measured cost.
- F1b: topk over many tied rows (k = 4, [R, 256]): heap_select's ~142 steps, all free, each touched R x 252
  elements (R = 16384: 2.6 s of CPU charged 9e7 flops): a heap step's elements are now always charged."""
from __future__ import annotations

import numpy as np
import torch

import engine
from bench.select_charges import killer_tied
from engine import budget as B


def test_many_small_selections_share_the_requests_free_steps():
    x = engine.tensor(killer_tied(188))
    ops = 60
    b = B.Budget()
    with B.active(b):
        for _ in range(ops):
            v, i = engine.kthvalue(x, 95)
    # ~47 levels an op, 2,048 of them free in all: the rest charged at LEVEL_STEP (before: ~1.5e3 flops an op)
    assert b.used_flops >= (ops * 40 - B.FREE_STEPS) * 200_000
    ref = torch.kthvalue(torch.tensor(killer_tied(188)), 95)
    assert v.item() == ref.values.item() and i.item() == ref.indices.item()


def test_one_small_selection_is_charged_as_before():
    x = engine.tensor(np.random.default_rng(0).standard_normal(4096))
    b = B.Budget()
    with B.active(b):
        engine.kthvalue(x, 2048)
    assert b.used_flops < 1e5 * 4  # within its free steps: its rule's n log n (placement unchanged)


def test_the_elements_of_free_heap_steps_are_charged():
    rows = 2048
    x = np.tile(np.arange(256) % 64, (rows, 1)).astype(np.float64)
    b = B.Budget()
    with B.active(b):
        v, i = engine.topk(engine.tensor(x), 4)
    # its window steps over rows x 252 elements at STEP_ELEMENT each: ~2.8e8 flops for ~0.26 s of CPU (redteam14
    # F1b's figure at load 8); before: 9.96e6 in all
    assert b.used_flops >= 1e8
    ref = torch.topk(torch.tensor(x), 4)
    assert np.array_equal(v._data, ref.values.numpy())
