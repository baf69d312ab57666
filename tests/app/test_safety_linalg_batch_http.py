"""Many tiny matrices on a real server (real HTTP; safeL, brief B1): svd, slogdet, qr, linalg.lu, cholesky_inverse and
matrix_exp over [N, 1, 1] stacks were charged 1-30 flops a matrix for 40-600 ns of CPU each, so a request of a few
hundred thousand matrices stayed under offload_min_flops and ran inline, in a server thread the time limit cannot
stop. Their charges now hold a measured per-matrix constant (tests/engine/test_safety_linalg_per_matrix.py): such a
request reaches a compute worker (the placement metric), with torch's answer; a small stack still runs inline."""
from __future__ import annotations

import pytest
import torch

from tests.app.conftest import Server, run_where


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


# op, its outputs, the factory of its [N, 1, 1] float32 input, N; torch's call for the oracle
CASES = {
    "linalg.svdvals": (1, "zeros", 200_000, lambda x: (torch.linalg.svdvals(x),)),
    "linalg.slogdet": (2, "ones", 400_000, lambda x: tuple(torch.linalg.slogdet(x))),
    "linalg.qr": (2, "ones", 200_000, lambda x: tuple(torch.linalg.qr(x))),
    "linalg.lu": (3, "ones", 100_000, lambda x: tuple(torch.linalg.lu(x))[1:] + (torch.linalg.lu(x)[0],)),
    "cholesky_inverse": (1, "ones", 200_000, lambda x: (torch.cholesky_inverse(x),)),
    "linalg.matrix_exp": (1, "zeros", 100_000, lambda x: (torch.linalg.matrix_exp(x),)),
}


def _doc(op: str, n: int) -> dict:
    outs, factory, _, _ = CASES[op]
    names = [f"y{i}" for i in range(outs)]
    ops = [{"name": "x", "op": factory, "args": [[n, 1, 1]], "kwargs": {"dtype": "float32"}},
           {"name": names[0] if outs == 1 else names, "op": op, "args": ["x"]}]
    ops += [{"name": f"s{i}", "op": "sum", "args": [y]} for i, y in enumerate(names)]
    return {"ops": ops, "outputs": [f"s{i}" for i in range(outs)]}


def _oracle(op: str, n: int) -> list:
    _, factory, _, fn = CASES[op]
    x = getattr(torch, factory)(n, 1, 1, dtype=torch.float32)
    return [t.sum().item() for t in fn(x)]


@pytest.mark.parametrize("op", sorted(CASES))
def test_many_tiny_matrices_run_in_a_worker(srv, op):
    n = CASES[op][2]
    where, got = run_where(srv, _doc(op, n))
    assert where == "worker", op  # before: "thread" (charged 10-90x under its work)
    assert [got["tensors"][f"s{i}"]["data"] for i in range(CASES[op][0])] == _oracle(op, n)


def test_a_small_stack_still_runs_inline(srv):
    where, got = run_where(srv, _doc("linalg.svdvals", 100))
    assert where != "worker" and got["tensors"]["s0"]["data"] == 0.0
