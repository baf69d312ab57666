"""redteam16 F3: topk with a large k was charged n log2 n (one flop an element a level) where it sorts most of the row
and then its k results: k = 999,999 of 10^6 float64 ran 19-25x an add's ns per charged flop (~0.25 s charged as 2e7
flops: a thread's spill line). Now the selection is a sort's worth (rules.sort_flops) where k passes an eighth of
the row, plus the sort of each row's k results; a small k keeps its charge. Held by the flops a Budget is charged."""
from __future__ import annotations

import numpy as np
import pytest

import engine
from engine import budget as B
from engine.ops.rules import log2ceil, sort_flops


def _charged(x, k, dim=-1):
    b = B.Budget()
    with B.active(b):
        engine.topk(x, k, dim)
    return b.used_flops


@pytest.mark.parametrize("shape,k", [((1 << 16,), (1 << 16) - 1), ((1 << 16,), 1 << 14), ((256, 256), 256),
                                     ((256, 256), 40)], ids=str)
def test_a_large_k_is_charged_a_sort_and_the_sort_of_its_results(shape, k):
    x = engine.from_numpy(np.random.default_rng(0).standard_normal(shape))
    n, length = int(np.prod(shape)), shape[-1]
    assert _charged(x, k) >= sort_flops(n, length) + sort_flops(n // length * k, k)


def test_a_small_k_keeps_its_charge():
    n = 1 << 16
    x = engine.from_numpy(np.random.default_rng(0).standard_normal(n))
    assert _charged(x, 100) <= n * log2ceil(n) + sort_flops(100, 100)
