"""Triangular solves: linalg.solve_triangular and the deprecated torch.triangular_solve, with FunctionsManual.cpp's
backward formulas."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.errors import TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops import shape as S
from engine.ops._returns import make
from engine.ops.linalg_common import _back, _fortran, _mH, _np, _square, _t, _word
from engine.ops.registry import defop
from engine.ops.rules import Cost, numel
from engine.tensor import Tensor

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


def substitute(a, b, upper):
    """_tri_solve_left with its n Python steps charged first: the fallback of the LU / Cholesky solvers where
    NumPy's general solver refuses a singular matrix (LAPACK's getrs / potrs answer inf / NaN there, no error)."""
    from engine import budget  # noqa: PLC0415
    from engine.ops.rules import PY_STEP  # noqa: PLC0415

    n = a.shape[-1]
    budget.charge(b.size, 8, n * (PY_STEP + 2.0 * b.size), "a triangular substitution")
    with np.errstate(all="ignore"):
        return _tri_solve_left(a, b, upper)


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
                              + tuple(B.shape[-2:]), _substitution_flops(self.shape, B.shape),
                              numel(B.shape), exact=False))


def _substitution_flops(a_shape, b_shape):
    """_tri_solve_left's k whole-batch steps over A and B broadcast (4 k^2 m a matrix of the broadcast batch, 20 k
    more for each step's einsum and division over it, and a Python step a row): A's batch alone was charged before,
    so A [1, 200, 200] beside B [500, 200, 1] was charged as one matrix (safeJ). Measured (docs/runs/safeL.md, m = 1):
    11, 27, 84, 274 ns a matrix at k = 1, 2, 4, 8, ~3 k^2 at 32-256 (strided rows), where 2 k^2 m had been charged."""
    from engine.ops.rules import PY_STEP  # noqa: PLC0415

    k = a_shape[-1] if len(a_shape) else 1
    batch = np.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2]))
    return numel(batch) * (4.0 * k * k * (b_shape[-1] if len(b_shape) else 1) + 20.0 * k) + PY_STEP * k


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
    if a.shape[-1] != a.shape[-2]:  # linearSolveCheckInputs (before: an [0, N] A walked N rows of substitution)
        raise TorchRuntimeError(f"A must be batches of square matrices, but they are {a.shape[-2]} by {a.shape[-1]} "
                                "matrices")
    if a.shape[-1] != b.shape[-2]:
        raise TorchRuntimeError(f"Incompatible matrix sizes for triangular_solve: each A matrix is {a.shape[-1]} by "
                                f"{a.shape[-1]} but each b matrix is {b.shape[-2]} by {b.shape[-1]}")
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
    rule=lambda self, A: _triangular_solve_rule(self, A))


def _triangular_solve_rule(self, A):  # noqa: N803
    """Both outputs broadcast to the common batch (the cloned coefficient is A copied to it: A [1, 200, 200] beside
    B [200, 200, 1] made 61 MiB, charged as A's 0.3 MiB before, and traced 123 MiB; safeJ), the clone held once
    more before its column-major copy, the substitution's steps (_substitution_flops)."""
    batch = tuple(np.broadcast_shapes(tuple(A.shape[:-2]), tuple(self.shape[:-2])))
    clone = batch + tuple(A.shape[-2:])
    # the clone's triu / tril, broadcast and column-major copies: ~4 an element (0.46 ms a [256, 256] matrix, m = 1,
    # charged 0.2 ms with one; docs/runs/safeL.md)
    return Cost((batch + tuple(self.shape[-2:]), clone), _substitution_flops(A.shape, self.shape) + 4 * numel(clone),
                numel(clone), exact=False)


def triangular_solve(input: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,  # noqa: N803
                     unitriangular: bool = False) -> tuple:
    import warnings  # noqa: PLC0415

    warnings.warn(TRIANGULAR_SOLVE_DEPRECATED, UserWarning, stacklevel=2)
    return make("triangular_solve", ("solution", "cloned_coefficient"),
                triangular_solve_op(input, A, upper, transpose, unitriangular))
