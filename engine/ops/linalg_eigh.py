"""Eigenvalues and eigenvectors of symmetric matrices: linalg.eigh / eigvalsh. The forward is NumPy's LAPACK
(syevd), batched, with torch's column-major eigenvectors and its errors for a matrix syevd cannot diagonalize; the
backward is FunctionsManual.cpp's linalg_eig_backward (hermitian), written with engine entries (grad-of-grad).
(Its catalog entries follow linalg_spectral's.)"""
from __future__ import annotations

import numpy as np

from engine.errors import TorchLinAlgError, TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops._returns import make
from engine.ops.linalg_common import _back, _float_check, _fortran, _mH, _np, _square, per_matrix
from engine.ops.linalg_spectral import EIGH_CALL, _half
from engine.ops.registry import defop, entry
from engine.ops.rules import Cost, numel
from engine.tensor import Tensor


def _eigh(a, UPLO="L", compute_v=True):  # noqa: N803
    if UPLO not in ("L", "U"):
        raise TorchRuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    _square(a, "linalg.eigh", float_check=False)
    _half(a, "linalg_eigh_cpu")
    if a.dtype != np.float16:
        _float_check(a, "linalg.eigh")
    x = _np(a)
    if x.size == 0:
        return _back(np.zeros(x.shape[:-1]), a.dtype), _back(np.zeros(x.shape), a.dtype)
    try:
        w, v = np.linalg.eigh(x, UPLO=UPLO)
    except np.linalg.LinAlgError:  # (a NaN: syevd's QL iteration fails on all n - 1 off-diagonals)
        raise _eigh_failed(x, compute_v, UPLO) from None
    if not compute_v and x.shape[-1] > 2 and np.isnan(_triangle(x, UPLO)).any():  # (eigenvalues alone: sterf
        # fails on a NaN in the triangle read, at any size; an inf alone answers NaN, review15 R8)
        raise _eigh_failed(x, compute_v, UPLO)
    return _back(w, a.dtype), _back(_fortran(v), a.dtype)


def _triangle(x, uplo):
    """The triangle of x that syevd reads (the other may hold anything)."""
    return np.tril(x) if uplo == "L" else np.triu(x)


def _eigh_failed(x, compute_v, uplo):
    """torch's LinAlgError for a matrix syevd cannot diagonalize, naming the first batch element that holds a NaN
    (the error code is syevd's info, which NumPy does not report: for a NaN matrix, n - 1 with eigenvectors
    (up to 25 rows; past that syevd's divide and conquer answers), n - 2 for eigenvalues alone)."""
    n = x.shape[-1]
    code = n - 1 if compute_v else n - 2
    where = ""
    if x.ndim > 2:
        bad = np.flatnonzero(np.isnan(_triangle(x, uplo).reshape(-1, n, n)).any(axis=(-2, -1)))
        where = f"(Batch element {int(bad[0]) if bad.size else 0}): "
    return TorchLinAlgError(f"linalg.eigh: {where}The algorithm failed to converge because the input matrix is "
                            f"ill-conditioned or has too many repeated eigenvalues (error code: {code}).")


def _eigh_backward(grad, result, result1):
    gL, gV = grad
    Lv, V = result, result1
    if gL is None and gV is None:
        return None
    if gV is None:
        return L.matmul(V * gL.unsqueeze(-2), _mH(V))
    VhgV = L.matmul(_mH(V), gV)
    VhgV = 0.5 * (VhgV - _mH(VhgV))
    E = Lv.unsqueeze(-2) - Lv.unsqueeze(-1)
    E = E + J.diag_embed_op(1 - J.diagonal(E, 0, -2, -1), 0, -2, -1)
    gA = VhgV / E
    if gL is not None:
        from engine.ops.scatter import diagonal_scatter  # noqa: PLC0415

        gA = diagonal_scatter(gA, gL, 0, -2, -1)
    return L.matmul(V, L.matmul(gA, _mH(V)))


eigh_op = defop("linalg_eigh(Tensor A, str UPLO='L', bool compute_v=True) -> (Tensor eigenvalues, Tensor "
                "eigenvectors)", _eigh, nout=2, A=_eigh_backward,
                rule=lambda A: Cost((tuple(A.shape[:-1]), tuple(A.shape)), 20 * numel(A.shape) * (
                    A.shape[-1] if A.shape else 1) + per_matrix(A.shape, *EIGH_CALL), 2 * numel(A.shape)))


def eigh(A: Tensor, UPLO: str = "L") -> tuple:  # noqa: N803
    return make("eigh", ("eigenvalues", "eigenvectors"), eigh_op(A, UPLO, True))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:  # noqa: N803
    """torch computes the eigenvectors only where a gradient may need them (compute_v: its error codes differ)."""
    return eigh_op(A, UPLO, A.requires_grad)[0]  # (a flag, not a value: no bool() for the lowering to read)


CATALOG = [
    entry("linalg.eigh", eigh, "Eigenvalues (ascending) and eigenvectors of symmetric matrices.", eigh_op,
          method=False),
    entry("linalg.eigvalsh", eigvalsh, "Eigenvalues of symmetric matrices.", eigh_op, method=False),
]
