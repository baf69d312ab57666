"""LU: lu_factor / lu_factor_ex / torch.lu, linalg.lu, lu_unpack, lu_solve (linalg's and torch's) (aten's
compositions matrix_norm / linalg.norm / cond / tensorinv / tensorsolve: linalg_norms.py). The factorization is
LAPACK's getrf (engine/ops/linalg_decomp.py), its 1-based int32 pivots included; backward formulas are
FunctionsManual's (linalg_lu_backward, lu_factor_ex_backward, linalg_lu_solve_LU, lu_unpack_backward)."""
from __future__ import annotations

import warnings

import numpy as np

from engine import _backend as B
from engine import budget
from engine.errors import TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops import shape as S
from engine.ops._returns import make
from engine.ops._util import list_str
from engine.ops.linalg_common import (
    _back,
    _float_check,
    _fortran,
    _mH,
    _np,
    _t,
    broadcast_solves,
    lu_factor_array,
)
from engine.ops.linalg_decomp import _lu_overhead
from engine.ops.linalg_triangular import solve_triangular_op
from engine.ops.registry import defop, entry
from engine.ops.rules import Cost, numel, wide
from engine.tensor import Tensor


def _perm_from_pivots(piv, m):
    """The row order LAPACK's interchanges give (A[perm] = L U), from 1-based pivots."""
    if piv.shape[-1] == 0 or piv.size == 0:
        return np.broadcast_to(np.arange(m), piv.shape[:-1] + (m,)).copy()
    flat = piv.reshape(-1, piv.shape[-1])
    perm = np.tile(np.arange(m), (flat.shape[0], 1))
    rows = np.arange(flat.shape[0])
    for i in range(flat.shape[1]):
        j = flat[:, i] - 1
        a, b = perm[rows, i].copy(), perm[rows, j].copy()
        perm[rows, i], perm[rows, j] = b, a
    return perm.reshape(piv.shape[:-1] + (m,))


def _p_matrix(piv, m, dtype):
    perm = _perm_from_pivots(piv, m)
    p = np.zeros(perm.shape + (m,), dtype=dtype)
    np.put_along_axis(p, perm[..., :, None], 1, axis=-1)  # p[perm[i], i] = 1, transposed below
    return np.swapaxes(p, -1, -2)


def _unpack_arrays(lu, piv, unpack_data=True, unpack_pivots=True):
    m, n = lu.shape[-2:]
    k = min(m, n)
    if unpack_data:
        low = np.tril(lu[..., :, :k], -1)
        idx = np.arange(k)
        low[..., idx, idx] = 1
        up = np.triu(lu[..., :k, :])
    else:
        low = np.zeros((0,), dtype=lu.dtype)
        up = np.zeros((0,), dtype=lu.dtype)
    p = _p_matrix(piv, m, lu.dtype) if unpack_pivots else np.zeros((0,), dtype=lu.dtype)
    return p, low, up


# ----- lu_unpack -----


def _lu_unpack(lu, pivots, unpack_data=True, unpack_pivots=True):
    piv = _np(pivots._data if isinstance(pivots, Tensor) else pivots)
    if piv.dtype != np.int32:
        raise TorchRuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of torch.int32 dtype."
                                "\nNote: this function is intended to be used with the output produced by "
                                "torch.linalg.lu_factor")
    p, low, up = _unpack_arrays(_np(lu), piv, unpack_data, unpack_pivots)
    # (L, U, P): torch numbers only the differentiable outputs (L is output 0 of the node, U output 1)
    return _back(low, lu.dtype), _back(up, lu.dtype), _back(p, lu.dtype)


def _lu_unpack_backward(grad, LU_data_shape):  # noqa: N803
    """FunctionsManual's lu_unpack_backward: L's grad below the diagonal, U's on and above it."""
    gL, gU = grad[0], grad[1]
    m, n = LU_data_shape[-2], LU_data_shape[-1]
    k = min(m, n)
    if gL is None and gU is None:
        return None
    if m == n:
        if gL is not None and gU is not None:
            return J.tril(gL, -1) + J.triu(gU)
        return J.triu(gU) if gL is None else J.tril(gL, -1)
    if m < n:
        if gL is not None:
            if gU is not None:
                return J.cat([J.tril(gL, -1) + J.triu(J.narrow(gU, -1, 0, k)), J.narrow(gU, -1, k, n - k)], -1)
            zeros = _t(B.xp.zeros(tuple(gL.shape[:-1]) + (n - k,), dtype=gL._data.dtype))
            return J.cat([J.tril(gL, -1), zeros], -1)
        return J.cat([J.triu(J.narrow(gU, -1, 0, k)), J.narrow(gU, -1, k, n - k)], -1)
    if gU is not None:
        if gL is not None:
            return J.cat([J.tril(J.narrow(gL, -2, 0, k), -1) + J.triu(gU), J.narrow(gL, -2, k, m - k)], -2)
        zeros = _t(B.xp.zeros(tuple(gU.shape[:-2]) + (m - k, gU.shape[-1]), dtype=gU._data.dtype))
        return J.cat([J.triu(gU), zeros], -2)
    return J.cat([J.tril(J.narrow(gL, -2, 0, k), -1), J.narrow(gL, -2, k, m - k)], -2)


def _unpack_flops(shape) -> float:
    """_unpack_arrays' work over a (..., m, n) LU stack: _perm_from_pivots' k whole-batch steps (~30 ns a matrix
    each), tril / triu and P's zeros and scatter (~5-10 ns an element; more past the caches): measured 37-83, 90-159,
    200, 540-957, 1,700 ns a matrix at k = 1, 2, 4, 8, 16, 0.1 and 0.65 ms at 128 and 256 (docs/runs/safeL.md),
    where m m + numel had been charged."""
    *b, m, n = shape
    return numel(b) * (60.0 + 40.0 * min(m, n) + 8.0 * m * m) + 8.0 * numel(shape)


def _unpack_rule(LU_data, LU_pivots=None, unpack_data=True, unpack_pivots=True):  # noqa: N803
    *b, m, n = LU_data.shape
    k = min(m, n)
    low, up = (tuple(b) + (m, k), tuple(b) + (k, n)) if unpack_data else ((0,), (0,))
    p = tuple(b) + (m, m) if unpack_pivots else (0,)
    return Cost((low, up, p), numel(LU_data.shape) + m * m + _unpack_flops(LU_data.shape))


lu_unpack_op = defop("lu_unpack(Tensor LU_data, IntTensor LU_pivots, bool unpack_data=True, bool unpack_pivots=True) "
                     "-> (Tensor L, Tensor U, Tensor P)", _lu_unpack, nout=3,
                     LU_data=_lu_unpack_backward, rule=_unpack_rule)


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,  # noqa: N803
              unpack_pivots: bool = True) -> tuple:
    low, up, p = lu_unpack_op(LU_data, LU_pivots, unpack_data, unpack_pivots)
    return make("lu_unpack", ("P", "L", "U"), (_t(p._data), low, up))  # P is not differentiable


# ----- linalg_lu_backward, shared by linalg.lu and lu_factor_ex -----


def _lu_backward(gL, gU, Pm, Lm, Um, pivot):
    """FunctionsManual's linalg_lu_backward (square, wide and tall cases)."""
    m, n = Lm.shape[-2], Um.shape[-1]
    k = min(m, n)
    if gL is None and gU is None:
        return None
    if m == n:
        gA = J.tril(L.matmul(_mH(Lm), gL), -1) if gL is not None else None
        if gU is not None:
            t = J.triu(L.matmul(gU, _mH(Um)))
            gA = t if gA is None else gA + t
        gA = solve_triangular_op(_mH(Um), gA, False, False, False)
        gA = solve_triangular_op(_mH(Lm), gA, True, True, True)
    elif m < n:
        U1, U2 = J.narrow(Um, -1, 0, k), J.narrow(Um, -1, k, n - k)
        gA = L.matmul(_mH(Lm), gL) if gL is not None else None
        if gU is not None:
            t = L.matmul(J.triu(gU), _mH(Um))
            gA = -t if gA is None else gA - t
        gA = solve_triangular_op(_mH(U1), J.tril(gA, -1), False, False, False)
        if gU is not None:
            gA = J.cat([gA + J.triu(J.narrow(gU, -1, 0, k)), J.narrow(gU, -1, k, n - k)], -1)
        gA = solve_triangular_op(_mH(Lm), gA, True, True, True)
        if gU is None:
            gA = J.cat([gA, _t(B.xp.zeros(tuple(U2.shape), dtype=gA._data.dtype))], -1)
    else:
        L1, L2 = J.narrow(Lm, -2, 0, k), J.narrow(Lm, -2, k, m - k)
        gA = L.matmul(gU, _mH(Um)) if gU is not None else None
        if gL is not None:
            t = L.matmul(_mH(Lm), J.tril(gL, -1))
            gA = -t if gA is None else gA - t
        gA = solve_triangular_op(_mH(L1), J.triu(gA), True, True, True)
        if gL is not None:
            gA = J.cat([gA + J.tril(J.narrow(gL, -2, 0, k), -1), J.narrow(gL, -2, k, m - k)], -2)
        gA = solve_triangular_op(_mH(Um), gA, False, False, False)
        if gL is None:
            gA = J.cat([gA, _t(B.xp.zeros(tuple(L2.shape), dtype=gA._data.dtype))], -2)
    return L.matmul(Pm, gA) if pivot else gA


# ----- lu_factor_ex, lu_factor, torch.lu -----


def _lu_checks(a, name, pivot):
    if a.ndim < 2:
        raise TorchRuntimeError(f"{name}: Expected tensor with 2 or more dimensions. Got size: {list_str(a.shape)} "
                                "instead")
    _float_check(a, name)
    if not pivot:
        raise TorchRuntimeError(f"{name}: LU without pivoting is not implemented on the CPU")


def _lu_factor_ex(a, pivot=True, check_errors=False):
    _lu_checks(a, "torch.linalg.lu_factor_ex", pivot)
    lu, piv, info = lu_factor_array(_np(a), budget.check)
    if check_errors:
        bad = np.nonzero(info.reshape(-1) > 0)[0]
        if bad.size:
            i = int(bad[0])
            k = int(info.reshape(-1)[i])
            prefix = f"(Batch element {i}): " if info.ndim else ""
            raise TorchRuntimeError(f"torch.linalg.lu_factor_ex: {prefix}U[{k},{k}] is zero and using it on lu_solve "
                                    "would result in a division by zero. If you still want to perform the "
                                    "factorization, consider calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, "
                                    "pivot)")
    return _back(_fortran(lu), a.dtype), B.xp.asarray(piv), B.xp.asarray(info)


def _lu_factor_ex_backward(grad, result, result1, pivot):
    g = grad[0]
    if g is None:
        return None
    lu, piv = result, result1
    Lm, Um, Pm = lu_unpack_op(lu, piv, True, pivot)
    m, n = lu.shape[-2], lu.shape[-1]
    k = min(m, n)
    return _lu_backward(J.narrow(g, -1, 0, k), J.narrow(g, -2, 0, k), Pm, Lm, Um, pivot)


def _lu_factor_rule(A):  # noqa: N803
    """getrf's multiply-adds and lu_factor_array's whole-batch steps (linalg_decomp._lu_overhead, as det's and
    inv_ex's: 15x the charge at 1x1, 2.4x at 8x8 without them)."""
    *b, m, n = A.shape
    return Cost((tuple(A.shape), tuple(b) + (min(m, n),), tuple(b)), 2 * numel(A.shape) * min(m, n)
                + _lu_overhead(A.shape), numel(A.shape))


def _linalg_lu_rule(A):  # noqa: N803
    """The factorization (_lu_factor_rule's flops and temporaries: its copy of A) and the unpacking into P, L, U; the
    unpacking's cost alone had been charged (40-300x short: a [200, 256, 256] stack, 3.9 s of CPU charged 0.013 s)."""
    unpack = _unpack_rule(A)
    factor = _lu_factor_rule(A)
    return unpack._replace(flops=unpack.flops + factor.flops, temp=unpack.temp + factor.temp)


lu_factor_ex_op = defop(
    "linalg_lu_factor_ex(Tensor A, *, bool pivot=True, bool check_errors=False) -> (Tensor LU, Tensor pivots, Tensor "
    "info)", _lu_factor_ex, nout=3, A=_lu_factor_ex_backward, rule=_lu_factor_rule)


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False) -> tuple:  # noqa: N803
    return make("lu_factor_ex", ("LU", "pivots", "info"), lu_factor_ex_op(A, pivot, check_errors))


def lu_factor(A: Tensor, *, pivot: bool = True) -> tuple:  # noqa: N803
    _lu_checks(A._data, "torch.linalg.lu_factor", pivot)
    lu, piv, info = lu_factor_ex_op(A, pivot, False)
    bad = np.nonzero(_np(info._data).reshape(-1) > 0)[0]
    if bad.size:
        i = int(bad[0])
        k = int(_np(info._data).reshape(-1)[i])
        prefix = f"(Batch element {i}): " if info.ndim else ""
        raise TorchRuntimeError(f"torch.linalg.lu_factor: {prefix}U[{k},{k}] is zero and using it on lu_solve would "
                                "result in a division by zero. If you still want to perform the factorization, "
                                "consider calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")
    return make("lu_factor", ("LU", "pivots"), (lu, piv))


LU_DEPRECATED = (
    "torch.lu is deprecated in favor of torch.linalg.lu_factor / torch.linalg.lu_factor_ex and will be removed in a "
    "future PyTorch release.\nLU, pivots = torch.lu(A, compute_pivots)\nshould be replaced with\n"
    "LU, pivots = torch.linalg.lu_factor(A, compute_pivots)\nand\n"
    "LU, pivots, info = torch.lu(A, compute_pivots, get_infos=True)\nshould be replaced with\n"
    "LU, pivots, info = torch.linalg.lu_factor_ex(A, compute_pivots)")


def lu(A: Tensor, pivot: bool = True, get_infos: bool = False) -> tuple:  # noqa: N803
    warnings.warn(LU_DEPRECATED, UserWarning, stacklevel=2)
    lu_, piv, info = lu_factor_ex_op(A, pivot, not get_infos)
    return (lu_, piv, info) if get_infos else (lu_, piv)


# ----- linalg.lu -----


def _linalg_lu(a, pivot=True):
    _lu_checks(a, "linalg.lu", pivot)
    lu_, piv, _ = lu_factor_array(_np(a), budget.check)
    p, low, up = _unpack_arrays(lu_, piv)
    return _back(low, a.dtype), _back(up, a.dtype), _back(p, a.dtype)  # (L, U, P), as lu_unpack's


linalg_lu_op = defop("linalg_lu(Tensor A, *, bool pivot=True) -> (Tensor L, Tensor U, Tensor P)", _linalg_lu, nout=3,
                     A=lambda grad, result, result1, result2, pivot: _lu_backward(
                         grad[0], grad[1], result2, result, result1, pivot),
                     rule=lambda A: _linalg_lu_rule(A))


def linalg_lu(A: Tensor, *, pivot: bool = True) -> tuple:  # noqa: N803
    low, up, p = linalg_lu_op(A, pivot)
    return make("lu", ("P", "L", "U"), (_t(p._data), low, up))  # P is not differentiable


# ----- lu_solve -----


def _lu_solve(lu_, pivots, b, left=True, adjoint=False):
    if lu_.ndim < 2:
        raise TorchRuntimeError(f"linalg.lu_solve: Expected tensor with 2 or more dimensions. Got size: "
                                f"{list_str(lu_.shape)} instead")
    n = lu_.shape[-1]
    if lu_.shape[-2] != n:
        raise TorchRuntimeError(f"linalg.lu_solve: A must be batches of square matrices, but they are {lu_.shape[-2]} "
                                f"by {n} matrices")
    if left and b.shape[-2] != n or not left and b.shape[-1] != n:
        eq = "AX = B" if left else "XA = B"
        raise TorchRuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation {eq} ({n}x{n} and "
                                f"{b.shape[-2]}x{b.shape[-1]})")
    piv = _np(pivots._data if isinstance(pivots, Tensor) else pivots)
    if n == 0 or b.size == 0:
        batch = np.broadcast_shapes(lu_.shape[:-2], b.shape[:-2])
        return _back(np.zeros(batch + tuple(b.shape[-2:])), b.dtype)
    a = _plu(_np(lu_), piv)
    xb = _np(b)
    batch = np.broadcast_shapes(a.shape[:-2], xb.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    xb = np.broadcast_to(xb, batch + xb.shape[-2:])
    # a zero on U's diagonal: getrs' substitutions (inf / NaN, no error), even where P L U rounds to a matrix
    # NumPy's solver takes (it had answered finite values of 1e16 there)
    zero = bool((np.diagonal(_np(lu_), axis1=-2, axis2=-1) == 0).any())
    with np.errstate(all="ignore"):
        if adjoint:
            a = np.swapaxes(a, -1, -2)
        try:
            if zero:
                pass
            elif left:
                out = np.linalg.solve(a, xb) if xb.size else np.zeros(xb.shape)
            else:
                out = np.swapaxes(np.linalg.solve(np.swapaxes(a, -1, -2), np.swapaxes(xb, -1, -2)), -1, -2) \
                    if xb.size else np.zeros(xb.shape)
        except np.linalg.LinAlgError:
            zero = True
        if zero:  # torch solves X A = B as A^T X^T = B^T (trans flipped)
            trans = adjoint if left else not adjoint
            xt = xb if left else np.swapaxes(xb, -1, -2)
            out = _getrs(_np(lu_), piv, xt, trans, batch)
            out = out if left else np.swapaxes(out, -1, -2)
    return _back(_fortran(out), b.dtype)


def _plu(lu, piv):
    """P @ L @ U of a square LU stack, as (P @ L) @ U (the same products as before), with at most three of LU's
    size alive at once: P and L, their product, then U (all three factors and the product had been held together,
    with NumPy's solve after them: ~4-5x LU, charged as one; redteam13 F8)."""
    n = lu.shape[-1]
    low = np.tril(lu, -1)
    idx = np.arange(n)
    low[..., idx, idx] = 1
    a = _p_matrix(piv, n, lu.dtype) @ low
    del low
    return a @ np.triu(lu)


def _getrs(lu, piv, xb, trans, batch):
    """LAPACK's getrs step for step as reference BLAS writes its trsm loops, for a factor with a zero pivot (where
    the ±inf and NaN fall depends on the loops: NumPy's solver refuses such a matrix): no trans, B's rows
    interchanged, L then U by columns (axpy form, a zero element of B skipped: U's 0 / 0 not made); trans,
    U^T then L^T by rows (dot form over the triangle's own elements), then the interchanges undone. n Python
    steps, charged first."""
    from engine.ops.rules import PY_STEP  # noqa: PLC0415

    n = lu.shape[-1]
    budget.charge(xb.size, 8, n * (PY_STEP + 4.0 * xb.size), "getrs' substitutions")
    lu = np.broadcast_to(lu, batch + lu.shape[-2:])
    perm = np.broadcast_to(_perm_from_pivots(piv, n), batch + (n,))
    x = np.array(np.broadcast_to(xb, batch + xb.shape[-2:]), dtype=np.result_type(lu, xb))
    with np.errstate(all="ignore"):
        if not trans:  # A X = B: L U X = P^T B
            x = np.take_along_axis(x, perm[..., None], axis=-2)
            for i in range(1, n):  # L, unit diagonal
                x[..., i, :] -= np.einsum("...k,...kj->...j", lu[..., i, :i], x[..., :i, :])
            for k in range(n - 1, -1, -1):  # U
                bk = x[..., k:k + 1, :] / lu[..., k:k + 1, k:k + 1]
                x[..., k:k + 1, :] = bk
                x[..., :k, :] -= bk * lu[..., :k, k:k + 1]
            return x
        for i in range(n):  # U^T y = B
            x[..., i, :] = (x[..., i, :] - np.einsum("...k,...kj->...j", lu[..., :i, i], x[..., :i, :])) \
                / lu[..., i, i][..., None]
        for i in range(n - 1, -1, -1):  # L^T z = y, unit diagonal
            x[..., i, :] -= np.einsum("...k,...kj->...j", lu[..., i + 1:, i], x[..., i + 1:, :])
        out = np.empty_like(x)
        np.put_along_axis(out, np.broadcast_to(perm[..., None], x.shape), x, axis=-2)  # X[perm] = Z
        return out


def _lu_solve_LU(gX, LU_, pivots, X, left, adjoint):  # noqa: N802, N803
    """FunctionsManual's linalg_lu_solve_LU: the gradient with respect to the packed factors."""
    Lm, Um, Pm = lu_unpack_op(LU_, pivots, True, left == adjoint)
    if left != adjoint:
        rhs = -L.matmul(gX if left else _mH(gX), _mH(X) if left else X)
        gR = solve_triangular_op(_mH(Um), rhs, False, True, False)
        gL = J.tril(solve_triangular_op(_mH(Lm), L.matmul(gR, _mH(Um)), True, True, True), -1)
        return gL + J.triu(gR)
    gR = -L.matmul(L.matmul(L.matmul(S.transpose(Pm, -2, -1), X if left else _mH(X)), _mH(gX) if left else gX), Pm)
    gR = solve_triangular_op(_mH(Lm), gR, True, False, True)
    gU = J.triu(solve_triangular_op(_mH(Um), L.matmul(_mH(Lm), gR), False, False, False))
    return J.tril(gR, -1) + gU


lu_solve_op = defop(
    "linalg_lu_solve(Tensor LU, IntTensor pivots, Tensor B, *, bool left=True, bool adjoint=False) -> Tensor",
    _lu_solve,
    LU=lambda grad, LU, pivots, result, left, adjoint: _lu_solve_LU(grad, LU, pivots, result, left, adjoint),
    B=lambda grad, LU, pivots, left, adjoint: lu_solve_op(LU, pivots, grad, left, not adjoint),
    rule=lambda LU, B: _lu_solve_rule(LU, B))


def _lu_solve_rule(LU, B):  # noqa: N803
    """The product P L U and its solves: NumPy's solve factors it for every matrix of the broadcast batch
    (linalg_common.broadcast_solves; charged once before, safeJ)."""
    flops, temp = broadcast_solves(LU, B.shape)
    out = tuple(np.broadcast_shapes(tuple(LU.shape[:-2]), tuple(B.shape[:-2]))) + tuple(B.shape[-2:])
    # temp: _plu's three of LU's size (P and L, their product, then U), NumPy's float64 copy of the broadcast
    # product where it is not float64 (broadcast_solves), its float64 solution and that solution's column-major
    # copy (traced 3-5x the charge of one LU before; redteam13 F8)
    return Cost(out, 2 * numel(LU.shape) * (B.shape[-1] if B.shape else 1) + 4 * numel(LU.shape) * LU.shape[-1]
                + flops + _unpack_flops(LU.shape),
                3 * numel(LU.shape) + wide(temp + numel(out), LU, B) + numel(out), exact=False)


def linalg_lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True,  # noqa: N803
                    adjoint: bool = False) -> Tensor:
    return lu_solve_op(LU, pivots, B, left, adjoint)


LU_SOLVE_DEPRECATED = (
    "torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand will be removed in a future PyTorch release.\n"
    "Note that torch.linalg.lu_solve has its arguments reversed.\nX = torch.lu_solve(B, LU, pivots)\n"
    "should be replaced with\nX = torch.linalg.lu_solve(LU, pivots, B)")


def lu_solve(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:  # noqa: N803
    warnings.warn(LU_SOLVE_DEPRECATED, UserWarning, stacklevel=2)
    return lu_solve_op(LU_data, LU_pivots, b, True, False)


CATALOG = [
    entry("linalg.lu_factor", lu_factor, "LU, pivots of LAPACK's getrf (an error where U has a zero diagonal).",
          lu_factor_ex_op, method=False),
    entry("linalg.lu_factor_ex", lu_factor_ex, "LU, pivots, info of LAPACK's getrf.", lu_factor_ex_op, method=False),
    entry("lu", lu, "Deprecated torch.lu: LU, pivots (, info).", lu_factor_ex_op),
    entry("linalg.lu", linalg_lu, "P, L, U with A = P L U.", linalg_lu_op, method=False),
    entry("lu_unpack", lu_unpack, "P, L, U from LU and pivots.", lu_unpack_op, method=False),
    entry("linalg.lu_solve", linalg_lu_solve, "Solve with an LU factorization (left / adjoint).", lu_solve_op,
          method=False),
    entry("lu_solve", lu_solve, "Deprecated torch.lu_solve(b, LU, pivots).", lu_solve_op),
]
