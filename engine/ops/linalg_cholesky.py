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
from engine.ops.linalg_common import _back, _cube, _fortran, _mH, _np, _raise_info, _square
from engine.ops.linalg_triangular import solve_triangular_op
from engine.ops.registry import defop
from engine.ops.rules import PY_STEP, Cost, numel
from engine.tensor import Tensor

# ----- cholesky family -----


_ALONE = 32  # a failing range this short runs an element at a time
_CALL_STEPS = 50  # Python steps (rules.PY_STEP) charged for one np.linalg call on one small matrix, raised or not


def _first_failing_minor(m):
    """The order of the first leading minor of m that is not positive-definite (LAPACK's potrf info): a minor's
    factorization fails exactly when one of order <= its own does, so the least failing order is found by halving
    (log2(n) factorizations, each charged before it runs; a scan of every order had taken 75 s at n = 600)."""
    n = m.shape[-1]
    lo, hi = 0, n  # minor lo succeeds (0: none), minor hi fails
    while hi - lo > 1:
        k = (lo + hi) // 2
        budget.charge(0, 8, k ** 3 / 3 + _CALL_STEPS * PY_STEP, "cholesky's failing minor")
        try:
            np.linalg.cholesky(m[:k, :k])
            lo = k
        except np.linalg.LinAlgError:
            hi = k
    return hi


def _cholesky_array(x, upper, name, check_errors):
    n = x.shape[-1]
    if x.size == 0:
        return x.copy(), np.zeros(x.shape[:-2], dtype=np.int32)
    flat = x.reshape(-1, n, n)
    out = np.zeros_like(flat)
    info = np.zeros(flat.shape[0], dtype=np.int32)
    # the batch at once; a range that fails is halved while it is longer than _ALONE, then run an element at a
    # time (each step charged when taken: a raised LinAlgError costs tens of microseconds), so that no Python step
    # is taken an element where none fails and an all-failing batch costs ~2 calls an element, not log2(batch)
    todo = [(0, flat.shape[0])]
    while todo:
        budget.check()
        lo, hi = todo.pop()
        try:
            out[lo:hi] = np.linalg.cholesky(flat[lo:hi])
        except np.linalg.LinAlgError:
            if hi - lo > _ALONE:
                mid = (lo + hi) // 2
                todo += [(mid, hi), (lo, mid)]
                continue
            budget.charge(0, 8, _CALL_STEPS * PY_STEP * (hi - lo), "cholesky's failing elements")
            for i in range(lo, hi):
                try:
                    out[i] = np.linalg.cholesky(flat[i])
                except np.linalg.LinAlgError:
                    info[i] = _first_failing_minor(flat[i])
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
