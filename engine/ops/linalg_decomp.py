"""Determinants and solvers: det / slogdet / logdet, inv / inv_ex, solve / solve_ex, and the family's CATALOG; the
cholesky family (cholesky, cholesky_ex, cholesky_inverse, cholesky_solve) is engine/ops/linalg_cholesky.py, the
triangular solves (solve_triangular, triangular_solve) engine/ops/linalg_triangular.py, and the helpers they share
with LAPACK's getrf (LU with partial pivoting) in NumPy engine/ops/linalg_common.py. Forwards are NumPy's LAPACK
(the algorithms torch's CPU kernels call), batched; outputs torch writes column-major are returned with those
strides, so that a later reshape records what torch's does. Backward formulas are FunctionsManual.cpp's, written
with these entries so that grad-of-grad works."""
from __future__ import annotations

import math

import numpy as np
from numpy.linalg import _umath_linalg  # np.linalg.inv's ufunc (_inv_array)

from engine import _backend as B
from engine.errors import TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops import pointwise as P
from engine.ops import shape as S
from engine.ops._returns import make
from engine.ops.linalg_common import (
    _back,
    _det_array,
    _fortran,
    _mH,
    _np,
    _raise_info,
    _square,
    _t,
    _word,
    lu_factor_array,
    per_matrix,
)
from engine.ops.reduction_prod import _exclusive_prods
from engine.ops.registry import defop, entry
from engine.ops.rules import Cost, numel, wide
from engine.tensor import Tensor

# ----- det, slogdet, logdet -----

# lu_factor_array's work beside its multiply-adds (what det, inv_ex and solve_ex run on A): each of its k column
# steps makes ~12 whole-batch NumPy calls with gathers, ~50 ns a matrix element in all, and a matrix costs ~150 ns
# more (its pivots, info, LAPACK's call in inv / solve): a [10^7, 1, 1] batch took 1.9 s charged as 2e7 flops
# (safeJ; /tmp-script figures in docs/runs/safeJ.md). In flops (rules.PY_STEP: 1,000 a microsecond).
_LU_ELEMENT = 50
_LU_MATRIX = 150


def _lu_overhead(shape) -> float:
    """The flops charged for lu_factor_array's steps over a (..., m, n) stack, beside its multiply-adds."""
    return _LU_ELEMENT * numel(shape) + _LU_MATRIX * numel(shape[:-2])


def _lu_temp(A, extra: int = 0) -> int:
    """What lu_factor_array (and LAPACK's float64 work in inv / solve) holds besides the outputs, in A's elements:
    its copy of A, a step's update and gathers, float64 results before their cast (3 float64 numel in all), and
    ~48 bytes a matrix of pivots, info and int64 row indices; extra: more float64 elements (solve's B). Traced
    peaks were up to 3.8x the charge over [N, 1, 1] float32 stacks (safeJ: docs/runs/safeJ.md)."""
    return wide(3 * numel(A.shape) + 6 * numel(A.shape[:-2]) + extra, A, itemsize=8)



def _det(a):
    _square(a, "linalg.det")
    if a.shape[-1] == 0:
        return B.xp.ones(a.shape[:-2], dtype=a.dtype)
    return _back(_det_array(_np(a)), a.dtype)


def _det_backward(grad, A, result):
    """FunctionsManual's linalg_det_backward: grad * det * A^{-T} for invertible A, the adjugate through the SVD
    where |det| < 100 eps (det is C^1, so the singular case still has a gradient)."""
    if A.numel() == 0:
        return None
    eps = float(np.finfo(A._data.dtype).eps)
    d = (grad * result).unsqueeze(-1).unsqueeze(-1)
    singular = np.abs(_np(result._data)) < 100 * eps

    def non_singular():
        return d * _mH(inv_ex_op(A, False)[0])

    def singular_formula():
        from engine.ops.linalg_spectral import svd_op  # noqa: PLC0415

        U, Svals, Vh = svd_op(A, False, True, None)
        alpha = det_op(U) * det_op(Vh) * grad
        Dg = alpha.unsqueeze(-1) * _exclusive_prods(Svals, Svals.ndim - 1)
        return L.matmul(U * Dg.unsqueeze(-2), Vh)

    if not singular.any():
        return non_singular()
    if singular.all():
        return singular_formula()
    mask = _t(B.xp.asarray(singular))[..., None, None] if singular.ndim else _t(B.xp.asarray(singular))
    return P.where(mask, singular_formula(), non_singular())


det_op = defop("linalg_det(Tensor A) -> Tensor", _det, A=_det_backward,
               rule=lambda A: Cost(tuple(A.shape[:-2]), numel(A.shape) * (A.shape[-1] if A.shape else 1)
                                   + _lu_overhead(A.shape), _lu_temp(A)))


def _slogdet(a):
    _square(a, "linalg.slogdet")
    sign, logabs = np.linalg.slogdet(_np(a))
    return _back(sign, a.dtype), _back(logabs, a.dtype)


# np.linalg.slogdet's call a matrix (getrf and the sign / log sum): ~42 ns a matrix at 1x1, 65 at 2x2, 150 at 4x4
# (float32 and float64, docs/runs/safeL.md), charged 1, 8, 64 flops a matrix before
SLOGDET_CALL = (60.0, 5.0)


def _slogdet_backward(grad, A):
    g = grad[1]
    if g is None:
        return None
    d = J.diag_embed_op(S.expand(g.unsqueeze(-1), *A.shape[:-1]), 0, -2, -1)
    return solve_ex_op(_mH(A), d, True, False)[0]


slogdet_op = defop("linalg_slogdet(Tensor A) -> (Tensor sign, Tensor logabsdet)", _slogdet, nout=2,
                   A=_slogdet_backward,
                   rule=lambda A: Cost((tuple(A.shape[:-2]),) * 2, numel(A.shape) * (A.shape[-1] if A.shape else 1)
                                       + per_matrix(A.shape, *SLOGDET_CALL), numel(A.shape)))


def det(A: Tensor) -> Tensor:  # noqa: N803
    return det_op(A)


def slogdet(A: Tensor) -> tuple:  # noqa: N803
    return make("slogdet", ("sign", "logabsdet"), slogdet_op(A))


def logdet(input: Tensor) -> Tensor:
    _square(input._data, "logdet")
    sign, logabs = slogdet_op(input)
    return P.where(sign == -1.0, math.nan, logabs)


# ----- inv, inv_ex -----


def _singular_info(a):
    """LAPACK's info for getrf: the first zero pivot (1-based), 0 where the matrix is invertible."""
    _, _, info = lu_factor_array(_np(a))
    return info


def _inv_ex(a, check_errors=False):
    _square(a, "linalg.inv_ex")
    x = _np(a)
    info = _singular_info(x) if x.size else np.zeros(x.shape[:-2], dtype=np.int32)
    if check_errors:  # (linalg.inv's check: inv_ex's own, check_errors=True, is made after the op, by its name)
        _raise_inv_info(info, "linalg.inv", a.ndim == 2)
    out = _inv_array(x) if x.size else x.copy()
    return _back(_fortran(out), a.dtype), B.xp.asarray(info.astype(np.int32))


def _inv_array(x):
    """np.linalg.inv of each matrix of the stack x, NaN where it is singular to LAPACK (gesv's zero pivot), in one
    call: np.linalg.inv's own ufunc (computed in float64, cast to x's dtype, as np.linalg.inv does) with the
    singular-matrix error off. It fills a matrix that fails with NaN and goes on, so each matrix's result is the
    one np.linalg.inv(m) gives, or NaN where that raises (what a Python loop over the stack gave here before: an
    uncharged step a matrix, 4.5 s for a [10^6, 1, 1] stack, safeJ)."""
    with np.errstate(all="ignore"):
        return _umath_linalg.inv(x, signature="d->d").astype(np.result_type(x.dtype, np.float32), copy=False)


def _raise_inv_info(info, name, matrix):
    _raise_info(info, name, "The diagonal element {} is zero, the inversion could not be completed because the "
                "input matrix is singular.", matrix)


def _inv_backward(grad, result):
    g = grad[0]
    inv_h = _mH(result)
    return -L.matmul(inv_h, L.matmul(g, inv_h))


inv_ex_op = defop("linalg_inv_ex(Tensor A, *, bool check_errors=False) -> (Tensor inverse, Tensor info)", _inv_ex,
                  nout=2, A=_inv_backward,
                  rule=lambda A: Cost((tuple(A.shape), tuple(A.shape[:-2])),
                                      2 * numel(A.shape) * (A.shape[-1] if A.shape else 1) + _lu_overhead(A.shape),
                                      _lu_temp(A)))


def inv_ex(A: Tensor, *, check_errors: bool = False) -> tuple:  # noqa: N803
    out = inv_ex_op(A, False)
    if check_errors:  # torch's check after the op, in its own name
        _raise_inv_info(_np(out[1]._data), "linalg.inv_ex", A.ndim == 2)
    return make("inv_ex", ("inverse", "info"), out)


def inv(A: Tensor) -> Tensor:  # noqa: N803
    _square(A._data, "linalg.inv")
    return inv_ex_op(A, True)[0]


# ----- solve, solve_ex -----


def _is_vector_rhs(a_shape, b_shape):
    return len(b_shape) == 1 or (len(a_shape) - 1 == len(b_shape) and tuple(b_shape) == tuple(a_shape[:-1]))


def _solve_shapes(a, b, left, name="linalg.solve"):
    vector = _is_vector_rhs(a.shape, b.shape)
    b2 = b[..., None] if vector else b
    if b2.ndim < 2:  # checkInputsSolver's checkIsMatrix(B): a 0-d B (parity16 item 3)
        raise TorchRuntimeError(f"{name}: The input tensor B must have at least 2 dimensions.")
    if left:
        if b2.shape[-2] != a.shape[-1]:
            raise TorchRuntimeError(f"{name}: Incompatible shapes of A and B for the equation AX = B "
                                    f"({a.shape[-2]}x{a.shape[-1]} and {b2.shape[-2]}x{b2.shape[-1]})")
    elif b2.shape[-1] != a.shape[-2]:
        raise TorchRuntimeError(f"{name}: Incompatible shapes of A and B for the equation XA = B "
                                f"({a.shape[-2]}x{a.shape[-1]} and {b2.shape[-2]}x{b2.shape[-1]})")
    return vector, b2


def _solve_ex(a, b, left=True, check_errors=False):
    _square(a, "linalg.solve")
    if a.dtype != b.dtype:
        raise TorchRuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                                f"{_word(a)} and B of type {_word(b)} instead")
    vector, b2 = _solve_shapes(a, b, left)
    x_a, x_b = _np(a), _np(b2)
    # info has A's own batch shape (aten factors A unbroadcast): B's batch adds no factorizations
    info = _singular_info(x_a) if x_a.size else np.zeros(x_a.shape[:-2], dtype=np.int32)
    batch = np.broadcast_shapes(x_a.shape[:-2], x_b.shape[:-2])
    x_a = np.broadcast_to(x_a, batch + x_a.shape[-2:])
    x_b = np.broadcast_to(x_b, batch + x_b.shape[-2:])
    if check_errors:  # (linalg.solve's check: solve_ex's own is made after the op, by its name)
        _raise_solve_info(info, "torch.linalg.solve", a.ndim == 2)
    with np.errstate(all="ignore"):
        if not left:  # X A = B  <=>  A^T X^T = B^T
            x_a, x_b = np.swapaxes(x_a, -1, -2), np.swapaxes(x_b, -1, -2)
        try:
            out = np.linalg.solve(x_a, x_b) if x_a.size and x_b.size else np.zeros(x_b.shape)
        except np.linalg.LinAlgError:
            out = np.full(x_b.shape, np.nan)
        if not left:
            out = np.swapaxes(out, -1, -2)
    out = out[..., 0] if vector else _fortran(out)
    return _back(out, a.dtype), B.xp.asarray(np.asarray(info, dtype=np.int32))


def _raise_solve_info(info, name, matrix):
    _raise_info(info, name, "The solver failed because the input matrix is singular.", matrix)


def _solve_backward(grad, A, B_, result, left, output_mask):
    """FunctionsManual's linalg_solve_backward: gB = A^{-H} gX (solved again, so that it stays differentiable),
    gA = -gB X^H (left) or -X^H gB."""
    gX = grad[0]
    if gX is None:
        return None, None
    vector = _is_vector_rhs(tuple(A.shape), tuple(B_.shape))
    gx = gX.unsqueeze(-1) if vector else gX
    gB = solve_ex_op(_mH(A), gx, left, False)[0]
    gA = None
    if output_mask[0]:
        X = result.unsqueeze(-1) if vector else result
        gA = -L.matmul(gB, _mH(X)) if left else -L.matmul(_mH(X), gB)
    if vector:
        gB = gB.squeeze(-1)
    return gA, (gB if output_mask[1] else None)


def _solve_rule(A, B):  # noqa: N803
    """solve_ex's cost: NumPy's solve factors A once for every matrix of the broadcast batch (an A of batch 1 beside
    a B of batch 10^5 is factored 10^5 times: charged once before, ~1,000x under, safeJ), then solves for B's
    columns; A's own LU (info) and its steps; float64 work arrays, A broadcast to the batch where it is cast to
    float64 (NumPy's solve copies it, 10 MB for a float32 [1, 16, 16] beside B [5000, 16, 1]) and the result's
    column-major copy."""
    out = (tuple(np.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2] if len(B.shape) > 1 else ())))
           + tuple(B.shape[-2:] if len(B.shape) > 1 and not _is_vector_rhs(tuple(A.shape), tuple(B.shape))
                   else B.shape[-1:]))
    k = A.shape[-1] if A.shape else 1
    nb = numel(out[:-2]) if len(out) > 1 and not (len(B.shape) == 1 or _is_vector_rhs(tuple(A.shape), tuple(B.shape))) \
        else numel(out[:-1])
    flops = (2 * numel(A.shape) * k + _lu_overhead(A.shape)  # A's own LU (info)
             + nb * (2 * k ** 3 + _LU_MATRIX) + 2 * k * numel(out))  # a factorization a matrix, the solves
    copy = 0 if np.dtype(A.dtype) == np.float64 else nb * k * k  # (a float64 A is read in place)
    return Cost((out, tuple(A.shape[:-2])), flops, _lu_temp(A, 2 * numel(out) + copy), exact=False)


solve_ex_op = defop(
    "linalg_solve_ex(Tensor A, Tensor B, *, bool left=True, bool check_errors=False) -> (Tensor result, Tensor info)",
    _solve_ex, nout=2, joint_mask=True,
    A__B=lambda grad, A, B, result, left, output_mask: _solve_backward(grad, A, B, result, left, output_mask),
    rule=lambda A, B: _solve_rule(A, B))


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False) -> tuple:  # noqa: N803
    out = solve_ex_op(A, B, left, False)
    if check_errors:
        _raise_solve_info(_np(out[1]._data), "torch.linalg.solve_ex", A.ndim == 2)
    return make("solve_ex", ("result", "info"), out)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:  # noqa: N803
    return solve_ex_op(A, B, left, True)[0]


# the family's other parts, imported after this module's entries (the triangular solves register before the
# cholesky family, whose backward uses them)
from engine.ops.linalg_cholesky import (  # noqa: E402
    cholesky,
    cholesky_ex,
    cholesky_ex_op,
    cholesky_inverse,
    cholesky_inverse_op,
    cholesky_op,
    cholesky_solve,
    cholesky_solve_op,
    linalg_cholesky,
)
from engine.ops.linalg_triangular import (  # noqa: E402
    solve_triangular,
    solve_triangular_op,
    triangular_solve,
    triangular_solve_op,
)

CATALOG = [
    entry("linalg.det", det, "The determinant of square matrices.", det_op, method=False),
    entry("det", det, "Alias of linalg.det.", det_op),
    entry("linalg.slogdet", slogdet, "sign and log |det| of square matrices.", slogdet_op, method=False),
    entry("slogdet", slogdet, "Alias of linalg.slogdet.", slogdet_op),
    entry("logdet", logdet, "log det (NaN for a negative determinant).", slogdet_op, grad_fns=("WhereBackward0",)),
    entry("linalg.inv", inv, "The inverse of square matrices (an error if singular).", inv_ex_op, method=False),
    entry("inverse", inv, "Alias of linalg.inv.", inv_ex_op),
    entry("linalg.inv_ex", inv_ex, "The inverse and LAPACK's info (no error).", inv_ex_op, method=False),
    entry("linalg.solve", solve, "X with A X = B (or X A = B with left=False).", solve_ex_op, method=False),
    entry("linalg.solve_ex", solve_ex, "linalg.solve and LAPACK's info (no error).", solve_ex_op, method=False),
    entry("linalg.cholesky", linalg_cholesky, "The Cholesky factor of Hermitian positive-definite matrices.",
          cholesky_ex_op, method=False),
    entry("linalg.cholesky_ex", cholesky_ex, "linalg.cholesky and LAPACK's info.", cholesky_ex_op, method=False),
    entry("cholesky", cholesky, "Deprecated torch.cholesky.", cholesky_op),
    entry("cholesky_inverse", cholesky_inverse, "The inverse of L L^H from its Cholesky factor.",
          cholesky_inverse_op),
    entry("cholesky_solve", cholesky_solve, "Solve L L^H X = B from the Cholesky factor.", cholesky_solve_op),
    entry("linalg.solve_triangular", solve_triangular, "Solve a triangular system.", solve_triangular_op,
          method=False),
    entry("triangular_solve", triangular_solve, "Deprecated torch.triangular_solve.", triangular_solve_op),
]
