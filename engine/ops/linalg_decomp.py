"""Determinants and solvers: det / slogdet / logdet, inv / inv_ex, solve / solve_ex, cholesky (and cholesky_ex,
cholesky_inverse, cholesky_solve), solve_triangular / triangular_solve, and LAPACK's getrf (LU with partial
pivoting) in NumPy. Forwards are NumPy's LAPACK (the algorithms torch's CPU kernels call), batched; outputs torch
writes column-major are returned with those strides, so that a later reshape records what torch's does. Backward
formulas are FunctionsManual.cpp's, written with these entries so that grad-of-grad works."""
from __future__ import annotations

import math

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.ops._returns import make
from engine.ops.registry import defop, entry
from engine.ops.rules import Cost, numel
from engine.tensor import Tensor


def _t(a):
    return Tensor._make(a)


def _np(a):
    return np.asarray(B.to_numpy(a))


def _back(a, dtype):
    return B.xp.asarray(np.asarray(a).astype(dtype, copy=False))


def _fortran(a):
    """a with column-major strides in its last two dims (LAPACK's layout, which torch's results keep)."""
    if a.ndim < 2:
        return a
    return np.swapaxes(np.ascontiguousarray(np.swapaxes(a, -1, -2)), -1, -2)


def _mH(t):  # noqa: N802 - real tensors: the transpose of the last two dims
    return S.transpose_op(t, dim0=-2, dim1=-1)


def _word(t):
    return D.scalar_type_name(t.dtype if isinstance(t, Tensor) else D.FROM_NP[t.dtype])


def _float_check(a, name):
    if a.dtype.kind != "f" or a.dtype == np.float16:
        raise TorchRuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got {_word(a)}")


def _square(a, name, float_check=True):
    if a.ndim < 2:
        raise TorchRuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise TorchRuntimeError(f"{name}: A must be batches of square matrices, but they are {a.shape[-2]} by "
                                f"{a.shape[-1]} matrices")
    if float_check:
        _float_check(a, name)


def _batch_prefix(info_shape, idx, batched):
    return f"(Batch element {idx}): " if batched else ""


def _cube(self):
    n = self.shape[-1] if len(self.shape) else 1
    return Cost(tuple(self.shape), 2 * numel(self.shape) * n, numel(self.shape))


# ----- LU with partial pivoting (LAPACK's getf2: the first largest pivot), batched -----


def lu_factor_array(a, check=None):
    """(LU packed, pivots 1-based int32, info int32) of a (..., m, n) float array, as LAPACK's getrf."""
    a = np.array(a, dtype=a.dtype, copy=True)
    *batch, m, n = a.shape
    k = min(m, n)
    flat = a.reshape(-1, m, n)
    piv = np.zeros((flat.shape[0], k), dtype=np.int32)
    info = np.zeros(flat.shape[0], dtype=np.int32)
    rows = np.arange(flat.shape[0])
    for j in range(k):
        if check is not None:
            check()
        col = np.abs(flat[:, j:, j])
        p = np.argmax(col, axis=1) + j  # argmax takes the first of ties, as idamax
        piv[:, j] = p + 1
        if j != 0 or True:
            tmp = flat[rows, j, :].copy()
            flat[rows, j, :] = flat[rows, p, :]
            flat[rows, p, :] = tmp
        pivot = flat[:, j, j]
        zero = pivot == 0
        info = np.where((info == 0) & zero, j + 1, info)
        safe = np.where(zero, 1, pivot)
        if j + 1 < m:
            mult = np.where(zero[:, None], flat[:, j + 1:, j], flat[:, j + 1:, j] / safe[:, None])
            flat[:, j + 1:, j] = mult
            if j + 1 < n:
                flat[:, j + 1:, j + 1:] -= mult[:, :, None] * flat[:, j, j + 1:][:, None, :]
    return flat.reshape(a.shape), piv.reshape(*batch, k), info.reshape(batch)


def _det_array(a):
    lu, piv, _ = lu_factor_array(a)
    diag = np.diagonal(lu, axis1=-2, axis2=-1)
    swaps = (piv != np.arange(1, piv.shape[-1] + 1)).sum(-1)
    sign = np.where(swaps % 2, -1.0, 1.0).astype(a.dtype)
    return sign * np.prod(diag, axis=-1)


# ----- det, slogdet, logdet -----


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
        Dg = alpha.unsqueeze(-1) * R._exclusive_prods(Svals, Svals.ndim - 1)
        return L.matmul(U * Dg.unsqueeze(-2), Vh)

    if not singular.any():
        return non_singular()
    if singular.all():
        return singular_formula()
    mask = _t(B.xp.asarray(singular))[..., None, None] if singular.ndim else _t(B.xp.asarray(singular))
    return P.where(mask, singular_formula(), non_singular())


det_op = defop("linalg_det(Tensor A) -> Tensor", _det, A=_det_backward,
               rule=lambda A: Cost(tuple(A.shape[:-2]), numel(A.shape) * (A.shape[-1] if A.shape else 1),
                                   numel(A.shape)))


def _slogdet(a):
    _square(a, "linalg.slogdet")
    sign, logabs = np.linalg.slogdet(_np(a))
    return _back(sign, a.dtype), _back(logabs, a.dtype)


def _slogdet_backward(grad, A):
    g = grad[1]
    if g is None:
        return None
    d = J.diag_embed_op(S.expand(g.unsqueeze(-1), *A.shape[:-1]), 0, -2, -1)
    return solve_ex_op(_mH(A), d, True, False)[0]


slogdet_op = defop("linalg_slogdet(Tensor A) -> (Tensor sign, Tensor logabsdet)", _slogdet, nout=2,
                   A=_slogdet_backward,
                   rule=lambda A: Cost((tuple(A.shape[:-2]),) * 2, numel(A.shape) * (A.shape[-1] if A.shape else 1),
                                       numel(A.shape)))


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
    if check_errors:
        _raise_info(info, "linalg.inv", "The diagonal element {} is zero, the inversion could not be completed "
                    "because the input matrix is singular.")
    with np.errstate(all="ignore"):
        try:
            out = np.linalg.inv(x) if x.size else x.copy()
        except np.linalg.LinAlgError:
            out = np.stack([_safe_inv(m) for m in x.reshape(-1, *x.shape[-2:])]).reshape(x.shape)
    return _back(_fortran(out), a.dtype), B.xp.asarray(info.astype(np.int32))


def _safe_inv(m):
    try:
        return np.linalg.inv(m)
    except np.linalg.LinAlgError:
        return np.full(m.shape, np.nan)


def _raise_info(info, name, fmt):
    bad = np.nonzero(np.asarray(info).reshape(-1) > 0)[0]
    if bad.size:
        i = int(bad[0])
        prefix = f"(Batch element {i}): " if np.asarray(info).ndim else ""
        raise TorchRuntimeError(f"{name}: {prefix}" + fmt.format(int(np.asarray(info).reshape(-1)[i])))


def _inv_backward(grad, result):
    g = grad[0]
    inv_h = _mH(result)
    return -L.matmul(inv_h, L.matmul(g, inv_h))


inv_ex_op = defop("linalg_inv_ex(Tensor A, *, bool check_errors=False) -> (Tensor inverse, Tensor info)", _inv_ex,
                  nout=2, A=_inv_backward,
                  rule=lambda A: Cost((tuple(A.shape), tuple(A.shape[:-2])),
                                      2 * numel(A.shape) * (A.shape[-1] if A.shape else 1), numel(A.shape)))


def inv_ex(A: Tensor, *, check_errors: bool = False) -> tuple:  # noqa: N803
    return make("inv_ex", ("inverse", "info"), inv_ex_op(A, check_errors))


def inv(A: Tensor) -> Tensor:  # noqa: N803
    _square(A._data, "linalg.inv")
    return inv_ex_op(A, True)[0]


# ----- solve, solve_ex -----


def _is_vector_rhs(a_shape, b_shape):
    return len(b_shape) == 1 or (len(a_shape) - 1 == len(b_shape) and tuple(b_shape) == tuple(a_shape[:-1]))


def _solve_shapes(a, b, left, name="linalg.solve"):
    vector = _is_vector_rhs(a.shape, b.shape)
    b2 = b[..., None] if vector else b
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
    batch = np.broadcast_shapes(x_a.shape[:-2], x_b.shape[:-2])
    x_a = np.broadcast_to(x_a, batch + x_a.shape[-2:])
    x_b = np.broadcast_to(x_b, batch + x_b.shape[-2:])
    info = _singular_info(x_a) if x_a.size else np.zeros(batch, dtype=np.int32)
    if check_errors and (np.asarray(info) > 0).any():
        raise TorchRuntimeError("torch.linalg.solve: The solver failed because the input matrix is singular.")
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


solve_ex_op = defop(
    "linalg_solve_ex(Tensor A, Tensor B, *, bool left=True, bool check_errors=False) -> (Tensor result, Tensor info)",
    _solve_ex, nout=2, joint_mask=True,
    A__B=lambda grad, A, B, result, left, output_mask: _solve_backward(grad, A, B, result, left, output_mask),
    rule=lambda A, B: Cost((tuple(np.broadcast_shapes(tuple(A.shape[:-2]), tuple(B.shape[:-2] if len(B.shape) > 1
                                                                                   else ()))) + tuple(B.shape[-2:] if
                            len(B.shape) > 1 and not _is_vector_rhs(tuple(A.shape), tuple(B.shape)) else
                            B.shape[-1:]), tuple(A.shape[:-2])),
                           2 * numel(A.shape) * (A.shape[-1] if A.shape else 1) + 2 * numel(A.shape) * (
                               B.shape[-1] if B.shape else 1), numel(A.shape), exact=False))


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False) -> tuple:  # noqa: N803
    return make("solve_ex", ("result", "info"), solve_ex_op(A, B, left, check_errors))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:  # noqa: N803
    return solve_ex_op(A, B, left, True)[0]


# ----- cholesky family -----


def _cholesky_array(x, upper, name, check_errors):
    n = x.shape[-1]
    if x.size == 0:
        return x.copy(), np.zeros(x.shape[:-2], dtype=np.int32)
    flat = x.reshape(-1, n, n)
    out = np.zeros_like(flat)
    info = np.zeros(flat.shape[0], dtype=np.int32)
    for i, m in enumerate(flat):
        try:
            out[i] = np.linalg.cholesky(m)
        except np.linalg.LinAlgError:
            # the order of the first leading minor that is not positive-definite
            for k in range(1, n + 1):
                try:
                    np.linalg.cholesky(m[:k, :k])
                except np.linalg.LinAlgError:
                    info[i] = k
                    break
            out[i] = np.nan
    info = info.reshape(x.shape[:-2])
    if check_errors:
        _raise_info(info, name, "The factorization could not be completed because the input is not positive-definite "
                    "(the leading minor of order {} is not positive-definite).")
    out = out.reshape(x.shape)
    if upper:
        out = np.swapaxes(out, -1, -2)
    return out, info


def _cholesky_ex(a, upper=False, check_errors=False):
    _square(a, "linalg.cholesky")
    out, info = _cholesky_array(_np(a), upper, "linalg.cholesky", check_errors)
    return _back(_fortran(out), a.dtype), B.xp.asarray(info)


def _cholesky_backward(gL, upper, L_):
    """FunctionsManual's cholesky_backward (Iain Murray, arXiv 1602.07527)."""
    if upper:
        L_, gL = _mH(L_), _mH(gL)
    gA = J.tril(L.matmul(_mH(L_), gL))
    gA = 0.5 * (gA + _mH(J.tril(gA, -1)))
    gA = solve_triangular_op(_mH(L_), gA, True, True, False)
    return solve_triangular_op(L_, gA, False, False, False)


cholesky_ex_op = defop(
    "linalg_cholesky_ex(Tensor self, *, bool upper=False, bool check_errors=False) -> (Tensor L, Tensor info)",
    _cholesky_ex, nout=2,
    self=lambda grad, upper, result: _cholesky_backward(grad[0], upper, result),
    rule=lambda self: Cost((tuple(self.shape), tuple(self.shape[:-2])), _cube(self).flops, numel(self.shape)))
def _cholesky(a, upper=False):
    _square(a, "cholesky")
    return _back(_fortran(_cholesky_array(_np(a), upper, "cholesky", True)[0]), a.dtype)


cholesky_op = defop(
    "cholesky(Tensor self, bool upper=False) -> Tensor", _cholesky,
    self=lambda grad, upper, result: _cholesky_backward(grad, upper, result), rule=_cube)

CHOLESKY_DEPRECATED = (
    "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a future PyTorch release.\n"
    "L = torch.cholesky(A)\nshould be replaced with\nL = torch.linalg.cholesky(A)\nand\n"
    "U = torch.cholesky(A, upper=True)\nshould be replaced with\nU = torch.linalg.cholesky(A).mH\n"
    "This transform will produce equivalent results for all valid (symmetric positive definite) inputs.")


def linalg_cholesky(A: Tensor, *, upper: bool = False) -> Tensor:  # noqa: N803
    return cholesky_ex_op(A, upper, True)[0]


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False) -> tuple:  # noqa: N803
    return make("cholesky_ex", ("L", "info"), cholesky_ex_op(A, upper, check_errors))


def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    import warnings  # noqa: PLC0415

    warnings.warn(CHOLESKY_DEPRECATED, UserWarning, stacklevel=2)
    return cholesky_op(input, upper)


def _cholesky_inverse(a, upper=False):
    if a.ndim < 2:
        raise TorchRuntimeError("cholesky_inverse: The input tensor A must have at least 2 dimensions.")
    _square(a, "cholesky_inverse")
    x = _np(a)
    lower = np.swapaxes(x, -1, -2) if upper else x
    with np.errstate(all="ignore"):
        out = np.linalg.inv(lower @ np.swapaxes(lower, -1, -2)) if x.size else x.copy()
    return _back(_fortran(out), a.dtype)


def _cholesky_inverse_backward(grad, self, upper, result):
    common = grad + _mH(grad)
    common = L.matmul(result, L.matmul(common, result))
    return -L.matmul(self, common) if upper else -L.matmul(common, self)


cholesky_inverse_op = defop("cholesky_inverse(Tensor self, bool upper=False) -> Tensor", _cholesky_inverse,
                            self=_cholesky_inverse_backward, rule=_cube)


def cholesky_inverse(input: Tensor, upper: bool = False) -> Tensor:
    return cholesky_inverse_op(input, upper)


def _cholesky_solve(b, a, upper=False):
    if b.ndim < 2:
        raise TorchRuntimeError(f"b should have at least 2 dimensions, but has {b.ndim} dimensions instead")
    if a.ndim < 2:
        raise TorchRuntimeError(f"u should have at least 2 dimensions, but has {a.ndim} dimensions instead")
    _square(a, "cholesky_solve", float_check=False)
    if a.shape[-2] != b.shape[-2]:
        raise TorchRuntimeError(f"Incompatible matrix sizes for cholesky_solve: each A matrix is {a.shape[-1]} by "
                                f"{a.shape[-1]} but each b matrix is {b.shape[-2]} by {b.shape[-1]}")
    x_a, x_b = _np(a), _np(b)
    batch = np.broadcast_shapes(x_a.shape[:-2], x_b.shape[:-2])
    lower = np.swapaxes(x_a, -1, -2) if upper else x_a
    lower = np.broadcast_to(lower, batch + lower.shape[-2:])
    x_b = np.broadcast_to(x_b, batch + x_b.shape[-2:])
    with np.errstate(all="ignore"):
        y = np.linalg.solve(lower, x_b) if x_b.size else np.zeros(x_b.shape)
        out = np.linalg.solve(np.swapaxes(lower, -1, -2), y) if x_b.size else y
    return _back(_fortran(out), b.dtype)


def _cholesky_solve_backward(grad, self, input2, result, upper, output_mask):
    grad_self = cholesky_solve_op(grad, input2, upper)
    grad_input2 = None
    if output_mask[1]:
        common = L.matmul(grad_self, _mH(result))
        common = common + _mH(common)
        grad_input2 = -L.matmul(input2, common) if upper else -L.matmul(common, input2)
    return (grad_self if output_mask[0] else None), grad_input2


cholesky_solve_op = defop(
    "cholesky_solve(Tensor self, Tensor input2, bool upper=False) -> Tensor", _cholesky_solve, joint_mask=True,
    self__input2=lambda grad, self, input2, result, upper, output_mask: _cholesky_solve_backward(
        grad, self, input2, result, upper, output_mask),
    rule=lambda self, input2: Cost(tuple(self.shape), 2 * numel(input2.shape) * (self.shape[-1] if self.shape else 1),
                                   numel(self.shape), exact=False))


def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False) -> Tensor:
    return cholesky_solve_op(input, input2, upper)


# ----- triangular solves -----


def _tri_solve(a, b, upper, left, unitriangular):
    x_a, x_b = _np(a), _np(b)
    x_a = np.triu(x_a) if upper else np.tril(x_a)
    if unitriangular:
        idx = np.arange(x_a.shape[-1])
        x_a = x_a.copy()
        x_a[..., idx, idx] = 1
    batch = np.broadcast_shapes(x_a.shape[:-2], x_b.shape[:-2])
    x_a = np.broadcast_to(x_a, batch + x_a.shape[-2:])
    x_b = np.broadcast_to(x_b, batch + x_b.shape[-2:])
    with np.errstate(all="ignore"):
        if left:
            out = _tri_solve_left(x_a, x_b, upper)
        else:  # X A = B  <=>  A^T X^T = B^T (upper becomes lower)
            out = np.swapaxes(_tri_solve_left(np.swapaxes(x_a, -1, -2), np.swapaxes(x_b, -1, -2), not upper), -1, -2)
    return out


def _tri_solve_left(a, b, upper):
    """Substitution (trsm), which gives inf / nan for a zero diagonal as LAPACK does rather than raising."""
    n = a.shape[-1]
    x = np.zeros(b.shape, dtype=np.result_type(a, b))
    order = range(n - 1, -1, -1) if upper else range(n)
    for i in order:
        s = b[..., i, :] - np.einsum("...k,...kj->...j", a[..., i, :], x)
        x[..., i, :] = s / a[..., i, i][..., None]
    return x


def _solve_triangular(a, b, upper, left=True, unitriangular=False):
    if a.ndim < 2:
        raise TorchRuntimeError("linalg.solve_triangular: The input tensor A must have at least 2 dimensions.")
    if b.ndim < 2:
        raise TorchRuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 dimensions.")
    _square(a, "linalg.solve_triangular")
    if a.dtype != b.dtype:
        raise TorchRuntimeError(f"linalg.solve_triangular: Expected A and B to have the same dtype, but found A of "
                                f"type {_word(a)} and B of type {_word(b)} instead")
    if left and a.shape[-1] != b.shape[-2] or not left and a.shape[-2] != b.shape[-1]:
        eq = "AX = B" if left else "XA = B"
        raise TorchRuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation {eq} "
                                f"({a.shape[-2]}x{a.shape[-1]} and {b.shape[-2]}x{b.shape[-1]})")
    return _back(_fortran(_tri_solve(a, b, upper, left, unitriangular)), a.dtype)


def _proj(t, upper, unitriangular):
    return J.triu(t, int(unitriangular)) if upper else J.tril(t, -int(unitriangular))


def _solve_triangular_backward(grad, self, result, upper, left, unitriangular, output_mask):
    gB = solve_triangular_op(_mH(self), grad, not upper, left, unitriangular)
    gA = None
    if output_mask[0]:
        xh = _mH(result)
        gA = _proj(-L.matmul(gB, xh) if left else -L.matmul(xh, gB), upper, unitriangular)
    return gA, (gB if output_mask[1] else None)


solve_triangular_op = defop(
    "linalg_solve_triangular(Tensor self, Tensor B, *, bool upper, bool left=True, bool unitriangular=False) "
    "-> Tensor", _solve_triangular, joint_mask=True,
    self__B=lambda grad, self, result, upper, left, unitriangular, output_mask: _solve_triangular_backward(
        grad, self, result, upper, left, unitriangular, output_mask),
    rule=lambda self, B: Cost(tuple(np.broadcast_shapes(tuple(self.shape[:-2]), tuple(B.shape[:-2])))
                              + tuple(B.shape[-2:]), numel(self.shape) * (B.shape[-1] if B.shape else 1),
                              numel(B.shape), exact=False))


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,  # noqa: N803
                     unitriangular: bool = False) -> Tensor:
    return solve_triangular_op(A, B, upper, left, unitriangular)


TRIANGULAR_SOLVE_DEPRECATED = (
    "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangularand will be removed in a future "
    "PyTorch release.\ntorch.linalg.solve_triangular has its arguments reversed and does not return a copy of one of "
    "the inputs.\nX = torch.triangular_solve(B, A).solution\nshould be replaced with\n"
    "X = torch.linalg.solve_triangular(A, B).")


def _triangular_solve(b, a, upper=True, transpose=False, unitriangular=False):
    if b.ndim < 2:
        raise TorchRuntimeError(f"torch.triangular_solve: Expected b to have at least 2 dimensions, but it has "
                                f"{b.ndim} dimensions instead")
    if a.ndim < 2:
        raise TorchRuntimeError(f"torch.triangular_solve: Expected A to have at least 2 dimensions, but it has "
                                f"{a.ndim} dimensions instead")
    x_a = np.swapaxes(_np(a), -1, -2) if transpose else _np(a)
    out = _tri_solve(x_a, b, upper != transpose, True, unitriangular)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    clone = np.broadcast_to(_np(a), batch + tuple(a.shape[-2:])).copy()
    return _back(_fortran(out), b.dtype), _back(_fortran(clone), a.dtype)


def _triangular_solve_backward(grad, self, A, result, upper, transpose, unitriangular, output_mask):
    grad_x, grad_m = grad[0], grad[1]
    grad_b = grad_a = None
    if grad_x is not None:
        grad_b = triangular_solve_op(grad_x, A, upper, not transpose, unitriangular)[0]
        if output_mask[1]:
            grad_a = -L.matmul(result, S.transpose(grad_b, -2, -1)) if transpose else -L.matmul(grad_b, _mH(result))
            grad_a = J.triu(grad_a, int(unitriangular)) if upper else J.tril(grad_a, -int(unitriangular))
    if grad_a is None and output_mask[1]:
        grad_a = _t(B.xp.zeros(tuple(A.shape), dtype=A._data.dtype))
    if grad_b is None and output_mask[0]:
        grad_b = _t(B.xp.zeros(tuple(self.shape), dtype=self._data.dtype))
    if output_mask[1] and grad_m is not None:
        grad_a = grad_a + grad_m
    return (grad_b if output_mask[0] else None), (grad_a if output_mask[1] else None)


triangular_solve_op = defop(
    "triangular_solve(Tensor self, Tensor A, bool upper=True, bool transpose=False, bool unitriangular=False) "
    "-> (Tensor solution, Tensor cloned_coefficient)", _triangular_solve, nout=2, joint_mask=True,
    self__A=lambda grad, self, A, result, upper, transpose, unitriangular, output_mask: _triangular_solve_backward(
        grad, self, A, result, upper, transpose, unitriangular, output_mask),
    rule=lambda self, A: Cost((tuple(self.shape), tuple(A.shape)), numel(A.shape) * (self.shape[-1] if self.shape
                                                                                       else 1), 0, exact=False))


def triangular_solve(input: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,  # noqa: N803
                     unitriangular: bool = False) -> tuple:
    import warnings  # noqa: PLC0415

    warnings.warn(TRIANGULAR_SOLVE_DEPRECATED, UserWarning, stacklevel=2)
    return make("triangular_solve", ("solution", "cloned_coefficient"),
                triangular_solve_op(input, A, upper, transpose, unitriangular))


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
