"""Forward AD through the decompositions and solvers against live torch 2.13: the tangent's values, reverse-over-
forward (the gradient of a function of the tangent with respect to the primal, and to a tangent that requires
grad), and func.jacfwd (a batched level). Most entries take their tangent from their own backward (engine/ops/
forward_more.py's via_vjp: one batched backward under a batched level, not a loop over rows); det, slogdet, solve
and eigh have torch's closed forms, whose reverse-over-forward differs from the exact one (torch reads the LU
factors as constants) and is torch's.

Left out, where torch 2.13 differs (see docs/ENGINE.md's forward-AD section): eigh's eigenvectors under reverse-
over-forward (torch's gradient is NaN), cholesky_inverse's tangent (torch's is off finite differences by ~1e-3).
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.engine.test_functional import same

R = np.random.default_rng(1618)
A = R.uniform(-1, 1, (3, 3)) + 3 * np.eye(3)
TA = R.uniform(-1, 1, (3, 3))
S = A @ A.T
TS = TA + TA.T
B = R.uniform(-1, 1, (3, 2))
TB = R.uniform(-1, 1, (3, 2))
L = np.tril(A)
TL = np.tril(TA)
G = R.uniform(-1, 1, (2, 4, 3))
TG = R.uniform(-1, 1, (2, 4, 3))


def mk(m, a, rg=False):
    return m.tensor(np.asarray(a).tolist(), dtype=m.float64, requires_grad=rg)


CASES = {
    "inv": (A, TA, lambda m, x: m.linalg.inv(x)),
    "solve_triangular": (L, TL, lambda m, x: m.linalg.solve_triangular(x, mk(m, B), upper=False)),
    "lu": (A, TA, lambda m, x: m.linalg.lu(x)[1:]),
    "lu_factor": (A, TA, lambda m, x: m.linalg.lu_factor(x)[0]),
    "eigh": (S, TS, lambda m, x: m.linalg.eigh(x)[0]),
    "matrix_exp": (TA, A * 0.1, lambda m, x: m.linalg.matrix_exp(x)),
    "pinv": (B, TB, lambda m, x: m.linalg.pinv(x)),
    "qr": (A, TA, lambda m, x: tuple(m.linalg.qr(x))),
    "svd_values": (B, TB, lambda m, x: m.linalg.svd(x, full_matrices=False)[1]),
    "svd": (A, TA, lambda m, x: m.linalg.svd(x)[1]),
    "group_norm": (G, TG, lambda m, x: m.nn.functional.group_norm(x, 1) * mk(m, G)),
}
CASES.update({
    "det": (A, TA, lambda m, x: m.linalg.det(x)),
    "slogdet": (A, TA, lambda m, x: m.linalg.slogdet(x)[1]),
    "solve_A": (A, TA, lambda m, x: m.linalg.solve(x, mk(m, B))),
    "solve_B": (B, TB, lambda m, x: m.linalg.solve(mk(m, A), x)),
    "solve_vector": (A, TA, lambda m, x: m.linalg.solve(x, mk(m, B[:, 0]))),
    "solve_right": (A, TA, lambda m, x: m.linalg.solve(x, mk(m, B.T), left=False)),
    "cholesky_solve": (B, TB, lambda m, x: m.cholesky_solve(x, mk(m, np.linalg.cholesky(S)))),
    "lstsq": (B, TB, lambda m, x: m.linalg.lstsq(mk(m, A), x).solution),
    "triangular_solve": (B, TB, lambda m, x: m.triangular_solve(x, mk(m, L), upper=False)[0]),
    "eigvalsh": (S, TS, lambda m, x: m.linalg.eigvalsh(x)),
    # singular: torch's tangent is det's zero times a finite trace (its LU's zero pivots nudged by eps)
    "det_singular_in_a_batch": (np.stack([[[1.0, 2.0], [2.0, 4.0]], A[:2, :2]]), TA[:2, :2] + np.zeros((2, 2, 2)),
                                lambda m, x: m.linalg.det(x)),
})
VALUE_ONLY = {  # torch's reverse-over-forward (or tangent) is not the engine's here (see the module docstring)
    "eigh_vectors": (S, TS, lambda m, x: m.linalg.eigh(x)[1].abs()),
}


def _tangents(m, case, x, t):
    fa = m.autograd.forward_ad
    r = case[2](m, fa.make_dual(x, t))
    return [fa.unpack_dual(o).tangent for o in (r if isinstance(r, tuple) else (r,))]


@pytest.mark.parametrize("name", list(CASES) + list(VALUE_ONLY))
def test_tangent_values(name):
    case = CASES.get(name) or VALUE_ONLY[name]

    def f(m):
        with m.autograd.forward_ad.dual_level():
            return [t.detach() for t in _tangents(m, case, mk(m, case[0]), mk(m, case[1]))]
    same(f, names=False)


@pytest.mark.parametrize("tangent_requires_grad", [False, True])
@pytest.mark.parametrize("name", list(CASES))
def test_reverse_over_forward(name, tangent_requires_grad):
    """autograd.grad(f(tangent), x): the tangent has a graph to the primal (and to a tangent that requires grad)."""
    case = CASES[name]

    def f(m):
        x, t = mk(m, case[0], True), mk(m, case[1], tangent_requires_grad)
        with m.autograd.forward_ad.dual_level():
            tans = _tangents(m, case, x, t)
        total = sum((u * u).sum() for u in tans)
        return tans, m.autograd.grad(total, [x, t] if tangent_requires_grad else [x])
    same(f, names=False)


@pytest.mark.parametrize("name", list(CASES) + ["eigh_vectors"])
def test_jacfwd(name):
    case = CASES.get(name) or VALUE_ONLY[name]
    same(lambda m: m.func.jacfwd(lambda x: case[2](m, x))(mk(m, case[0])), names=False)


def test_batched_level_runs_one_formula_per_call():
    """Under func.jacfwd's batched level a via_vjp entry runs its formula once (one batched backward), not once
    per row of the Jacobian (the per-row fallback)."""
    import engine
    from engine.ops import forward_more as FM

    calls = []
    orig = FM._jt

    def counting(op, vals, tangents, bsz):
        calls.append(bsz)
        return orig(op, vals, tangents, bsz)

    FM._jt = counting
    try:
        engine.func.jacfwd(lambda x: engine.linalg.inv(x))(mk(engine, np.eye(4) * 2 + 0.1))
    finally:
        FM._jt = orig
    assert calls == [16]
