"""redteam16 F8: values added through np.add.at's general path (a target of 2+ dims: a tuple of index arrays, or rows)
cost ~12-16 ns each where an add costs ~0.5 ns an element (25-34x; the red team measured index_put accumulate with
two index arrays 45x under its charge, index_add of rows 13-19x, x[i, j]'s backward 7.4x, embedding's 8x). Their
rules now charge rules.ADD_AT flops a value; the 1-d path (one index into a vector, ~2.6x) one as before. Held
here by the flops a Budget is charged (no clock; the CPU ratios are in docs/runs/safeQ.md)."""
from __future__ import annotations

import numpy as np
import pytest

import engine
from engine import budget as B
from engine.ops.rules import ADD_AT

N = 10_000
rng = np.random.default_rng(0)
F = engine.from_numpy


def _charged(fn):
    b = B.Budget()
    with B.active(b):
        fn()
    return b.used_flops


def _ij():
    return F(rng.integers(0, 100, N)), F(rng.integers(0, 4, N))


CASES = {
    "index_put accumulate, two index arrays": lambda: engine.index_put(F(np.zeros((100, 4))), list(_ij()),
                                                                       F(rng.standard_normal(N)), True),
    "index_put accumulate, rows": lambda: engine.index_put(F(np.zeros((100, 4))), [_ij()[0]],
                                                           F(rng.standard_normal((N, 4))) / 4, True),
    "index_put accumulate, a broadcast value": lambda: engine.index_put(F(np.zeros((100, 4))), list(_ij()),
                                                                       F(np.ones(())) * N, True),
    "index_add rows": lambda: engine.index_add(F(np.zeros((100, 4))), 0, _ij()[0], F(rng.standard_normal((N, 4))) / 4),
}


def _x_ij_backward():
    x = F(np.zeros((100, 4))).requires_grad_()
    i, j = _ij()
    engine.sum(x[i, j]).backward()


def _embedding_backward():
    w = F(np.zeros((100, 4))).requires_grad_()
    engine.sum(engine.nn.functional.embedding(_ij()[0], w)).backward()


CASES["x[i, j] backward"] = _x_ij_backward
CASES["embedding backward (N rows of 4)"] = lambda: (_embedding_backward(), None)[1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_general_add_at_path_is_charged_its_rate(case):
    values = 4 * N if "rows" in case else N
    assert _charged(CASES[case]) >= ADD_AT * values


@pytest.mark.parametrize("form", ["index_put", "index_add", "put"])
def test_the_one_dimensional_path_keeps_its_charge(form):
    i, v = F(rng.integers(0, 100, N)), F(rng.standard_normal(N))
    fn = {"index_put": lambda: engine.index_put(F(np.zeros(100)), [i], v, True),
          "index_add": lambda: engine.index_add(F(np.zeros(100)), 0, i, v),
          "put": lambda: engine.put(F(np.zeros(100)), i, v, True)}[form]
    assert _charged(fn) < 8 * N
