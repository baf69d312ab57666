"""The LU family's charges on a real server (real HTTP; safeJ, known gaps 2 and 3): requests whose linalg op was
charged far under its work ran inline, in a server thread that cannot be stopped at the time limit; they now
reach a compute worker (killable at the deadline). A small batch answers inline as before, with torch's values.
The engine's side: tests/engine/test_safety_linalg_inv.py."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.app.conftest import Server, run_where


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _solve_doc(k: int, n: int) -> dict:
    return {"ops": [{"name": "e", "op": "eye", "args": [k], "kwargs": {"dtype": "float64"}},
                    {"name": "a", "op": "mul", "args": ["e", 2.0]},
                    {"name": "a1", "op": "unsqueeze", "args": ["a", 0]},
                    {"name": "b", "op": "ones", "args": [[n, k, 1]], "kwargs": {"dtype": "float64"}},
                    {"name": "x", "op": "linalg.solve", "args": ["a1", "b"]},
                    {"name": "s", "op": "sum", "args": ["x"]}], "outputs": ["s"]}


def test_solve_with_a_broadcast_a_runs_in_a_worker(srv):
    """A [1, 64, 64] beside B [400, 64, 1]: 400 factorizations, charged as one before (inline)."""
    where, doc = run_where(srv, _solve_doc(64, 400))
    assert where == "worker"
    assert doc["tensors"]["s"]["data"] == torch.linalg.solve(
        2 * torch.eye(64, dtype=torch.float64)[None], torch.ones(400, 64, 1, dtype=torch.float64)).sum().item()


def test_inv_ex_of_a_singular_batch_runs_in_a_worker_in_one_call(srv):
    """[200000, 1, 1] zeros: 200,000 np.linalg.inv calls in a Python loop before, charged as 2e5 flops (inline)."""
    doc = {"ops": [{"name": "a", "op": "zeros", "args": [[200_000, 1, 1]], "kwargs": {"dtype": "float64"}},
                   {"name": ["i", "k"], "op": "linalg.inv_ex", "args": ["a"]},
                   {"name": "n", "op": "isnan", "args": ["i"]}, {"name": "c", "op": "sum", "args": ["n"]},
                   {"name": "s", "op": "sum", "args": ["k"]}], "outputs": ["c", "s"]}
    where, got = run_where(srv, doc)
    assert where == "worker"
    assert got["tensors"]["c"]["data"] == 200_000 and got["tensors"]["s"]["data"] == 200_000
    small = _solve_doc(2, 3)
    where, got = run_where(srv, small)
    assert where != "worker" and np.isclose(got["tensors"]["s"]["data"], 3.0)
