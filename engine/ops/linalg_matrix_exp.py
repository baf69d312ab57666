"""The matrix exponential: linalg.matrix_exp / matrix_exp, Higham's scaling and squaring with the [13/13] Pade
approximant (its squarings charged once their count is known), FunctionsManual's
differential_analytic_matrix_function for the backward. (Its catalog entries follow linalg_spectral's.)"""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget
from engine.ops import join as J
from engine.ops.linalg_common import _back, _mH, _np, _square, _t, per_matrix
from engine.ops.registry import defop, entry
from engine.ops.rules import PY_STEP, Cost, numel
from engine.tensor import Tensor

# ----- matrix_exp -----

_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
           10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)


def _expm(a):
    """exp of a batch of matrices: Higham's scaling and squaring with the [13/13] Pade approximant."""
    n = a.shape[-1]
    ident = np.broadcast_to(np.eye(n, dtype=a.dtype), a.shape)
    norm = np.abs(a).sum(-2).max(-1) if a.size else np.zeros(a.shape[:-2])
    with np.errstate(invalid="ignore"):
        lg = np.ceil(np.log2(np.maximum(norm, 1e-300) / 5.371920351148152))
    # a NaN or inf matrix: no squarings (its int cast had been INT64_MIN: s.max() of such a batch then charged
    # about -1e22 flops, the request's flop caps undone for the rest of its run; redteam14 F2). Its answer is
    # NaN either way (its Pade step's inf - inf), as before.
    s = np.where(np.isfinite(lg), np.maximum(lg, 0), 0).astype(int)
    scaled = a / (2.0 ** s)[..., None, None]
    b = _PADE13
    a2 = scaled @ scaled
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = scaled @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * ident)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * ident
    r = np.linalg.solve(v - u, v + u)
    smax = int(s.max()) if s.size else 0
    # the squarings' count depends on the values (up to ~1,000 at a norm near 1e300, every batch element each
    # time): charged when it is known, the deadline checked a squaring
    # (a squaring ~5 ns a 1x1 matrix, ~45 a 2x2: a matmul and a where over the batch, charged 2 n^3 before; safeL)
    budget.charge(0, 8, smax * (2 * r.size * n + 8 * r.size + 10 * (r.size // max(n * n, 1)) + PY_STEP),
                  "matrix_exp's squarings")
    for i in range(smax):
        budget.check()
        sq = r @ r
        r = np.where((s > i)[..., None, None], sq, r)
    return r


def _matrix_exp(a):
    _square(a, "linalg.matrix_exp")
    x = _np(a)
    if x.size == 0:
        return a.copy()
    with np.errstate(all="ignore"):
        return _back(_expm(x.astype(np.float64)), a.dtype)


def _matrix_exp_backward(grad, self):
    """FunctionsManual's differential_analytic_matrix_function (adjoint): the top-right block of exp of
    [[A^H, G], [0, A^H]]."""
    A = _mH(self)
    n = A.shape[-1]
    zeros = _t(B.xp.zeros(tuple(A.shape), dtype=grad._data.dtype))
    meta = J.cat([J.cat([A, grad], -1), J.cat([zeros, A], -1)], -2)
    return J.narrow(J.narrow(matrix_exp_op(meta), -2, 0, n), -1, n, n)


matrix_exp_op = defop("linalg_matrix_exp(Tensor self) -> Tensor", _matrix_exp, self=_matrix_exp_backward,
                      rule=lambda self: Cost(tuple(self.shape), 30 * numel(self.shape) * (
                          self.shape[-1] if self.shape else 1) + per_matrix(self.shape, *_EXPM_CALL),
                          _expm_temp(self)))

# the Pade step's ~15 batched matmuls, sums and its solve, beside their n^3 terms: 120-290 ns a matrix at 1x1,
# 520-1,045 at 2x2 (charged 30 and 240 before; docs/runs/safeL.md)
_EXPM_CALL = (500.0, 100.0)


def _expm_temp(self):
    """Elements (of self's itemsize, as charged) that _expm holds at its peak beside the output, in float64
    whatever self's dtype: the input's copy, scaled, a2, a4, a6, u and v (alive to the end), and during the
    squarings r, r @ r and np.where's result: ten matrices of float64 (eleven for one large matrix, whose solve
    copies its operands; redteam11 F6: 1.2-1.3x the charge in float64, 2.2-2.5x in float32), and a sixteenth
    more for the small ones (norms, counts, masks)."""
    n = numel(self.shape)
    return -(-(88 * n + 5 * n) // max(self.dtype.itemsize, 4))


def matrix_exp(A: Tensor) -> Tensor:  # noqa: N803
    return matrix_exp_op(A)


CATALOG = [
    entry("linalg.matrix_exp", matrix_exp, "The matrix exponential.", matrix_exp_op, method=False),
    entry("matrix_exp", matrix_exp, "Alias of linalg.matrix_exp.", matrix_exp_op),
]
