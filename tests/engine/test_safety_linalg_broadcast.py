"""Solvers with A broadcast beside a batch of B (safeJ, gap 3): lu_solve, cholesky_solve and solve solve by NumPy's
general solver, which factors A again for every matrix of the broadcast batch, and their rules charged A's
factorization once (A [1, 200, 200] beside B [500, 200, 1]: 6-9 s of CPU charged as 8e4 flops, inline);
triangular_solve's cloned coefficient is A copied to the broadcast batch (123 MiB traced, 1.2 MiB charged), and
the substitutions step over the broadcast batch. Measured as tests/engine/empty_dims_sweep measures (no clock);
values against torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from tests.engine.empty_dims_sweep import excess, measure

OPS = {  # op, output names, args, kwargs; the least work a matrix of the broadcast batch (k: A's size)
    "linalg.lu_solve": (["x"], ["lu", "p", "b"], {}, lambda k: 2 * k ** 3),
    "cholesky_solve": (["x"], ["b", "a"], {}, lambda k: 4 * k ** 3),
    "linalg.solve": (["x"], ["a", "b"], {}, lambda k: 2 * k ** 3),
    "linalg.solve_triangular": (["x"], ["a", "b"], {"upper": True}, lambda k: 2 * k * k),
    "triangular_solve": (["x", "c"], ["b", "a"], {}, lambda k: 2 * k * k),
}


def _doc(op, k, n, dtype):
    names, args, kwargs, _ = OPS[op]
    return {"ops": [{"name": "e", "op": "eye", "args": [k], "kwargs": {"dtype": dtype}},
                    {"name": "a", "op": "unsqueeze", "args": ["e", 0]},
                    {"name": ["lu", "p"], "op": "linalg.lu_factor", "args": ["a"]},
                    {"name": "b", "op": "ones", "args": [[n, k, 1]], "kwargs": {"dtype": dtype}},
                    {"name": names if len(names) > 1 else names[0], "op": op, "args": args,
                     **({"kwargs": kwargs} if kwargs else {})}], "outputs": []}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op", list(OPS))
def test_a_broadcast_a_is_charged_for_every_matrix_of_the_batch(op, dtype):
    k, n = 16, 800
    m = measure(_doc(op, k, n, dtype))
    assert m["status"] == "ok" and m["flops"] >= n * OPS[op][3](k) and excess(m) == [], m


def test_triangular_solve_clone_is_charged():
    """The cloned coefficient, A copied to the broadcast batch (200 x [200, 200]: 61 MiB in float64), within the
    charge (it was charged as A's one matrix)."""
    m = measure(_doc("triangular_solve", 200, 200, "float64"))
    assert m["status"] == "ok" and m["traced"] > 100 << 20 and excess(m) == [], m


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_broadcast_solvers_answer_as_torch(dtype):
    rng = np.random.default_rng(1)
    a = np.triu(rng.standard_normal((1, 4, 4))) + 4 * np.eye(4)
    spd = a @ np.swapaxes(a, -1, -2)
    chol = np.linalg.cholesky(spd)
    b = rng.standard_normal((3, 4, 2))
    ta, tb, tc = (torch.from_numpy(v.astype(dtype)) for v in (a, b, chol))
    ea, eb, ec = (engine.tensor(v.astype(dtype)) for v in (a, b, chol))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    pairs = [
        (torch.linalg.lu_solve(*torch.linalg.lu_factor(ta), tb),
         engine.linalg.lu_solve(*engine.linalg.lu_factor(ea), eb)),
        (torch.cholesky_solve(tb, tc), engine.cholesky_solve(eb, ec)),
        (torch.linalg.solve(ta, tb), engine.linalg.solve(ea, eb)),
        (torch.linalg.solve_triangular(ta, tb, upper=True), engine.linalg.solve_triangular(ea, eb, upper=True)),
    ]
    t_sol, t_clone = torch.triangular_solve(tb, ta)
    e_sol, e_clone = engine.triangular_solve(eb, ea)
    pairs += [(t_sol, e_sol), (t_clone, e_clone)]
    for t, e in pairs:
        assert tuple(t.shape) == tuple(e.shape) and np.allclose(np.asarray(e.numpy()), t.numpy(), **tol)
