"""The cholesky family: linalg.cholesky / cholesky_ex, torch.cholesky, cholesky_inverse, cholesky_solve, with
FunctionsManual.cpp's backward formulas."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget
from engine.errors import TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops._returns import make
from engine.ops.linalg_common import (
    _back,
    _cube,
    _fortran,
    _mH,
    _np,
    _raise_info,
    _square,
    broadcast_solves,
    per_matrix,
)
from engine.ops.linalg_triangular import solve_triangular_op, substitute
from engine.ops.registry import defop
from engine.ops.rules import PY_STEP, Cost, numel, wide
from engine.tensor import Tensor

# ----- cholesky family -----


_NOT_PD = ("The factorization could not be completed because the input is not positive-definite (the leading minor "
           "of order {} is not positive-definite).")
_ALONE = 32  # a failing range this short runs an element at a time
_FAIL_TEMP = 4  # float64 matrices of one element a failing element's minor and partial factor hold at most
_CALL_STEPS = 50  # Python steps (rules.PY_STEP) charged for one np.linalg call on one small matrix, raised or not


def _stopped(f):
    """Per matrix of factors f (NumPy's): whether MKL's potrf stops where OpenBLAS went on: a NaN pivot, or in
    float32 an inf one before the last (MKL's spotrf scales the column below by a reciprocal that an inf pivot
    makes NaN: the next pivot is NaN)."""
    d = np.diagonal(f, axis1=-2, axis2=-1)
    out = np.isnan(d).any(-1)
    if f.dtype == np.float32:
        out |= np.isinf(d[..., :-1]).any(-1)
    return out


def _fails(m):
    """Whether LAPACK's potrf stops on m: a pivot <= 0 (NumPy raises), NaN or float32's inf (_stopped)."""
    try:
        f = np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        return True
    return bool(_stopped(f))


def _first_failing_minor(m):
    """The order of the first leading minor of m that is not positive-definite (LAPACK's potrf info): a minor's
    factorization fails exactly when one of order <= its own does, so the least failing order is found by halving
    (log2(n) factorizations, each charged before it runs; a scan of every order had taken 75 s at n = 600)."""
    n = m.shape[-1]
    lo, hi = 0, n  # minor lo succeeds (0: none), minor hi fails
    while hi - lo > 1:
        k = (lo + hi) // 2
        budget.charge(0, 8, k ** 3 / 3 + _CALL_STEPS * PY_STEP, "cholesky's failing minor")
        if _fails(m[:k, :k]):
            hi = k
        else:
            lo = k
    return hi


def _partial_factor(m, j):
    """What potrf leaves in the lower triangle of m when it stops at pivot j (1-based), as MKL's unblocked
    left-looking potf2 does for n <= 128 (measured against torch; larger matrices are factored in blocks, whose
    trailing part is left updated): columns < j factored, the pivot's value a_jj - |L[j, :j]|^2 on the diagonal
    (<= 0 or NaN), the rest of m's lower triangle as it was; the upper triangle zero."""
    k = j - 1
    n = m.shape[-1]
    out = np.tril(m)
    if k:  # (two calls: the factor of the leading minor, its rows below)
        budget.charge(0, 8, k ** 3 / 3 + k * k * (n - k) + 2 * _CALL_STEPS * PY_STEP, "cholesky's partial factor")
    with np.errstate(all="ignore"):
        if k:
            head = np.linalg.cholesky(m[:k, :k])
            if m.dtype == np.float32 and np.isinf(head[k - 1, k - 1]):  # spotrf: the column below an inf pivot NaN
                below = np.full((n - k, k), np.nan, dtype=m.dtype)
                if k > 1:
                    below[:, :k - 1] = np.linalg.solve(head[:k - 1, :k - 1], m[k:, :k - 1].T).T
            else:
                below = np.linalg.solve(head, m[k:, :k].T).T
            out[:k, :k] = head
            out[k:, :k] = below
            out[k, k] = m[k, k] - below[0] @ below[0]
    return out


def _cholesky_array(x, upper, name, check_errors):
    n = x.shape[-1]
    if x.size == 0:
        return x.copy(), np.zeros(x.shape[:-2], dtype=np.int32)
    # upper: potrf reads the upper triangle (A = U^H U): the lower one of A^H
    src = np.swapaxes(x, -1, -2) if upper else x  # (a view: conj only where it changes anything)
    if upper and x.dtype.kind == "c":
        src = np.conj(src)
    flat = src.reshape(-1, n, n)
    out = np.zeros_like(flat)
    info = np.zeros(flat.shape[0], dtype=np.int32)
    # the batch at once; a range that fails is halved while it is longer than _ALONE, then run an element at a
    # time (each step charged when taken: a raised LinAlgError costs tens of microseconds), so that no Python step
    # is taken an element where none fails and an all-failing batch costs ~2 calls an element, not log2(batch).
    # A NaN pivot fails as a negative one does (OpenBLAS's factor carries it on: its diagonal shows it)
    todo = [(0, flat.shape[0])]
    while todo:
        budget.check()
        lo, hi = todo.pop()
        try:
            out[lo:hi] = np.linalg.cholesky(flat[lo:hi])
            failed = _stopped(out[lo:hi])
            if not failed.any():
                continue
        except np.linalg.LinAlgError:
            failed = None
        if failed is None and hi - lo > _ALONE:
            mid = (lo + hi) // 2
            todo += [(mid, hi), (lo, mid)]
            continue
        elements = range(lo, hi) if failed is None else lo + np.flatnonzero(failed)
        # beside the output and info (live inside the op, which the budget does not track yet), one failing
        # element's temporaries at a time: the failing minor's factor, the partial factor's tril, head, solve
        budget.charge(out.nbytes + info.nbytes + _FAIL_TEMP * n * n * 8, 1, _CALL_STEPS * PY_STEP * len(elements),
                      "cholesky's failing elements")
        for i in elements:
            if failed is None:  # (a range that raised: which of its elements fail)
                try:
                    out[i] = np.linalg.cholesky(flat[i])
                    if not _stopped(out[i]):
                        continue
                except np.linalg.LinAlgError:
                    pass
            info[i] = _first_failing_minor(flat[i])
            out[i] = _partial_factor(flat[i], int(info[i]))
    info = info.reshape(x.shape[:-2])
    if check_errors:
        _raise_info(info, name, _NOT_PD, x.ndim == 2)
    out = out.reshape(x.shape)
    if upper:
        out = np.swapaxes(out, -1, -2)
        if out.dtype.kind == "c":
            out = np.conj(out)
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


def _factor_temp(self):
    """Elements (of self's itemsize, as charged) that _cholesky_array holds beside its output: np.linalg.cholesky
    works in double (complex double): a range's input cast to it where self is not, and its result, beside
    `out` (redteam11 F6: a float32 batch held 5x its charge's output, 2.5x the charge); and the info arrays."""
    n, isz = numel(self.shape), max(self.dtype.itemsize, 4)
    work = 16 if self.dtype.kind == "c" else 8
    cast = work if isz != work else 0
    return -(-(cast + work) * n // isz) + 2 * numel(self.shape[:-2]) + n // 16


cholesky_ex_op = defop(
    "linalg_cholesky_ex(Tensor self, *, bool upper=False, bool check_errors=False) -> (Tensor L, Tensor info)",
    _cholesky_ex, nout=2,
    self=lambda grad, upper, result: _cholesky_backward(grad[0], upper, result),
    rule=lambda self: Cost((tuple(self.shape), tuple(self.shape[:-2])), _cube(self).flops + 2 * PY_STEP * numel(
        self.shape[:-2]), _factor_temp(self)))
def _cholesky(a, upper=False):
    _square(a, "cholesky")
    return _back(_fortran(_cholesky_array(_np(a), upper, "cholesky", True)[0]), a.dtype)


cholesky_op = defop(
    "cholesky(Tensor self, bool upper=False) -> Tensor", _cholesky,
    self=lambda grad, upper, result: _cholesky_backward(grad, upper, result),
    rule=lambda self: _cube(self)._replace(flops=_cube(self).flops + 2 * PY_STEP * numel(self.shape[:-2]),
                                           temp=_factor_temp(self)))

CHOLESKY_DEPRECATED = (
    "torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a future PyTorch release.\n"
    "L = torch.cholesky(A)\nshould be replaced with\nL = torch.linalg.cholesky(A)\nand\n"
    "U = torch.cholesky(A, upper=True)\nshould be replaced with\nU = torch.linalg.cholesky(A).mH\n"
    "This transform will produce equivalent results for all valid (symmetric positive definite) inputs.")


def linalg_cholesky(A: Tensor, *, upper: bool = False) -> Tensor:  # noqa: N803
    return cholesky_ex_op(A, upper, True)[0]


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False) -> tuple:  # noqa: N803
    out = cholesky_ex_op(A, upper, False)
    if check_errors:  # torch's check after the op, in its own name (linalg.cholesky's is made inside)
        _raise_info(_np(out[1]._data), "linalg.cholesky_ex", _NOT_PD, A.ndim == 2)
    return make("cholesky_ex", ("L", "info"), out)


def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    import warnings  # noqa: PLC0415

    warnings.warn(CHOLESKY_DEPRECATED, UserWarning, stacklevel=2)
    return cholesky_op(input, upper)


def _cholesky_inverse(a, upper=False):
    if a.ndim < 2:
        raise TorchRuntimeError("cholesky_inverse: The input tensor A must have at least 2 dimensions.")
    _square(a, "cholesky_inverse")
    x = _np(a)
    # potri's trtri: a zero on the factor's diagonal is LAPACK's info, torch's LinAlgError (NaN is not)
    zero = np.diagonal(x, axis1=-2, axis2=-1) == 0
    info = np.where(zero.any(-1), zero.argmax(-1) + 1, 0) if x.size else np.zeros(x.shape[:-2], np.int32)
    _raise_info(info, "cholesky_inverse", "The diagonal element {} is zero, the inversion could not be completed "
                "because the input matrix is singular.", x.ndim == 2)
    lower = np.swapaxes(x, -1, -2) if upper else x
    with np.errstate(all="ignore"):
        try:
            out = np.linalg.inv(lower @ np.swapaxes(lower, -1, -2)) if x.size else x.copy()
        except np.linalg.LinAlgError:  # L L^T singular in floating point (a tiny diagonal): L^-T L^-1
            eye = np.broadcast_to(np.eye(x.shape[-1], dtype=x.dtype), x.shape)
            li = substitute(np.tril(lower), eye, False)
            out = np.swapaxes(li, -1, -2) @ li
    return _back(_fortran(out), a.dtype)


def _cholesky_inverse_backward(grad, self, upper, result):
    common = grad + _mH(grad)
    common = L.matmul(result, L.matmul(common, result))
    return -L.matmul(self, common) if upper else -L.matmul(common, self)


# np.linalg.inv of L L^T a matrix, beside its 2 k^3: 65-71 ns a matrix at 1x1, 270-360 at 2x2, 560 at 4x4 (33x,
# 17-22x, 4x the charge before; docs/runs/safeL.md)
_CHOLESKY_INVERSE_CALL = (250.0, 40.0)

cholesky_inverse_op = defop("cholesky_inverse(Tensor self, bool upper=False) -> Tensor", _cholesky_inverse,
                            self=_cholesky_inverse_backward, rule=lambda self: _cube(self)._replace(
                                flops=_cube(self).flops + per_matrix(self.shape, *_CHOLESKY_INVERSE_CALL),
                                temp=numel(self.shape) + wide(2 * numel(self.shape), self)))
# temp: L L^T, and np.linalg.inv's float64 copy of it and its float64 result (NumPy inverts a float32 stack in
# double): a float32 [20000, 4, 4] traced 7.9 MB for 2.6 MB charged (safeL)


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
        try:
            y = np.linalg.solve(lower, x_b) if x_b.size else np.zeros(x_b.shape)
            out = np.linalg.solve(np.swapaxes(lower, -1, -2), y) if x_b.size else y
        except np.linalg.LinAlgError:  # a zero on the factor's diagonal: potrs's two substitutions, inf / NaN
            low = np.tril(lower)
            out = substitute(np.swapaxes(low, -1, -2), substitute(low, x_b, False), True)
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
    rule=lambda self, input2: _cholesky_solve_rule(self, input2))


def _cholesky_solve_rule(self, input2):
    """Two solves by NumPy's general solver, each factoring the factor for every matrix of the broadcast batch
    (linalg_common.broadcast_solves; charged once before, safeJ); the output broadcast as B and A are."""
    flops, temp = broadcast_solves(input2, self.shape, 2)
    out = tuple(np.broadcast_shapes(tuple(input2.shape[:-2]), tuple(self.shape[:-2]))) + tuple(self.shape[-2:])
    return Cost(out, 2 * numel(input2.shape) * (self.shape[-1] if self.shape else 1) + flops,
                numel(out) + wide(temp, self, input2), exact=False)


def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False) -> Tensor:
    return cholesky_solve_op(input, input2, upper)
