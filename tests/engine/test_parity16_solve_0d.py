"""linalg.solve / solve_ex with a 0-d B against live torch 2.13: torch's checkInputsSolver refuses it ("The input
tensor B must have at least 2 dimensions."); the engine raised IndexError "tuple index out of range" (fixed in
engine/ops/linalg_decomp.py _solve_shapes)."""
from __future__ import annotations

import pytest
import torch

import engine

CASES = {
    "solve_ex": lambda L: L.linalg.solve_ex(L.eye(2), L.tensor(1.0)),
    "solve": lambda L: L.linalg.solve(L.eye(2), L.tensor(1.0)),
    "solve_ex right": lambda L: L.linalg.solve_ex(L.eye(2), L.tensor(1.0), left=False),
    "solve batched A": lambda L: L.linalg.solve(L.eye(2)[None], L.tensor(1.0)),
}


def _run(L, f):
    try:
        r = f(L)
    except Exception as e:  # noqa: BLE001
        return "error", type(e).__name__, str(e).split("\n")[0]
    return "ok", repr(r)


@pytest.mark.parametrize("name", sorted(CASES))
def test_solve_0d_b_as_torch(name):
    assert _run(engine, CASES[name]) == _run(torch, CASES[name])


def test_a_not_a_matrix_beside_0d_b_is_already_torch():
    f = lambda L: L.linalg.solve_ex(L.tensor([1.0, 2.0]), L.tensor(1.0))  # noqa: E731
    assert _run(engine, f) == _run(torch, f)
