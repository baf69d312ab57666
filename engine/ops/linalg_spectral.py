"""Spectral and orthogonal decompositions: qr, svd / svdvals (eigh / eigvalsh: linalg_eigh.py; pinv, lstsq:
linalg_pinv.py; matrix_exp: linalg_matrix_exp.py). Forwards are NumPy's LAPACK (geqrf, gesdd), batched, with torch's
column-major result strides; backward formulas are FunctionsManual.cpp's (linalg_qr_backward, svd_backward),
written with engine entries (grad-of-grad)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget
from engine.errors import TorchLinAlgError, TorchNotImplementedError, TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops._returns import make
from engine.ops.linalg_common import _back, _float_check, _fortran, _mH, _np, _t, per_matrix
from engine.ops.linalg_triangular import solve_triangular_op
from engine.ops.registry import defop, entry
from engine.ops.rules import PY_STEP, Cost, numel, wide
from engine.tensor import Tensor

# What NumPy's batched LAPACK calls cost beside their multiply-adds, (a matrix, an element) in flops (rules.PY_STEP:
# 1,000 a microsecond) for linalg_common.per_matrix: measured over [N, k, k] stacks, k = 1..64, float32 and
# float64, one BLAS thread, at load 4-13 (docs/runs/safeL.md; the most ns a matrix seen at k = 1, 2, 4: svd 616,
# 1,194, 3,261; pinv 776, 1,283, 3,303; qr 102, 527, 832; eigh 33, 446, 1,658), with some room.
SVD_CALL = (600.0, 150.0)
PINV_CALL = (800.0, 200.0)
QR_CALL = (300.0, 60.0)
EIGH_CALL = (200.0, 40.0)

# ----- qr -----


def _half(a, kernel, empty_ok=True):
    """torch has no float16 LAPACK kernels: its dispatch refuses a Half matrix by the kernel's name (qr: even an
    empty one); svd and eigh answer an empty one at once, in float16."""
    if a.dtype == np.float16 and (a.size or not empty_ok):
        raise TorchNotImplementedError(f"\"{kernel}\" not implemented for 'Half'")


def _qr(a, mode="reduced"):
    if mode not in ("reduced", "r", "complete"):
        raise TorchRuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), 'r', "
                                "or 'complete'")
    if a.ndim < 2:
        raise TorchRuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    _half(a, "geqrf_cpu", empty_ok=False)
    _float_check(a, "linalg.qr")
    x = _np(a)
    m, n = x.shape[-2:]
    if x.size == 0:
        k = min(m, n)
        qc = m if mode == "complete" else k
        q = np.zeros(x.shape[:-2] + (m, qc)) if mode != "r" else np.zeros((0,))
        if mode != "r" and qc:
            q[..., np.arange(min(m, qc)), np.arange(min(m, qc))] = 1
        r = np.zeros(x.shape[:-2] + ((m if mode == "complete" else k), n))
        return _back(q, a.dtype), _back(r, a.dtype)
    q, r = np.linalg.qr(x, mode="complete" if mode == "complete" else "reduced")
    if mode == "r":
        q = np.zeros((0,))
    return _back(_fortran(q), a.dtype), _back(_fortran(r), a.dtype)


def _qr_backward(grad, result, result1, mode):
    """FunctionsManual's linalg_qr_backward."""
    gQ, gR = grad
    Q, Rm = result, result1
    if mode == "r":
        raise TorchRuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. Please "
                                "use linalg.qr(A, mode='reduced') if you are going to differentiate through linalg.qr.")
    m, n = Q.shape[-2], Rm.shape[-1]
    if mode == "complete" and m > n:
        raise TorchRuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
    if gQ is None and gR is None:
        return None
    if gQ is not None:
        gA = L.matmul(gR, _mH(Rm)) - L.matmul(_mH(Q), gQ) if gR is not None else -L.matmul(_mH(Q), gQ)
    else:
        gA = L.matmul(gR, _mH(Rm))
    if m >= n:
        t = J.triu(gA)
        sym = t + _mH(t)
        sym = sym - 0.5 * J.diag_embed_op(J.diagonal(sym, 0, -2, -1), 0, -2, -1)
        gA = L.matmul(Q, sym)
        if gQ is not None:
            gA = gA + gQ
        return solve_triangular_op(_mH(Rm), gA, False, False, False)
    x = -gA
    gA = L.matmul(Q, J.tril(x - _mH(x)))
    gA = solve_triangular_op(_mH(J.narrow(Rm, -1, 0, m)), gA, False, False, False)
    zeros = _t(B.xp.zeros(tuple(Rm.shape[:-1]) + (n - m,), dtype=gA._data.dtype))
    gA = J.cat([gA, zeros], -1)
    if gR is not None:
        gA = gA + L.matmul(Q, gR)
    return gA


def _qr_rule(A, mode="reduced"):
    """Q is (m, m) in mode 'complete' (not A's shape: a tall A's Q is m * m, an empty (m, 0) one's too), R (m, n)
    there; the work arrays are float64 (the empty answers' zeros, LAPACK's copies) beside them."""
    if len(A.shape) < 2:
        return Cost((tuple(A.shape), tuple(A.shape)), 0, 0, exact=False)
    *b, m, n = A.shape
    k = min(m, n)
    full = mode == "complete"
    q = (0,) if mode == "r" else tuple(b) + (m, m if full else k)
    r = tuple(b) + (m if full else k, n)
    flops = 4 * numel(A.shape) * n + 4 * numel(q) * k + per_matrix(A.shape, *QR_CALL)
    return Cost((q, r), flops, wide(numel(A.shape) + numel(q) + numel(r), A), exact=False)


qr_op = defop("linalg_qr(Tensor A, str mode='reduced') -> (Tensor Q, Tensor R)", _qr, nout=2,
              A=lambda grad, result, result1, mode: _qr_backward(grad, result, result1, mode),
              rule=lambda A, mode="reduced": _qr_rule(A, mode))

QR_DEPRECATED = (
    "torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future PyTorch release.\n"
    "The boolean parameter 'some' has been replaced with a string parameter 'mode'.\nQ, R = torch.qr(A, some)\n"
    "should be replaced with\nQ, R = torch.linalg.qr(A, 'reduced' if some else 'complete')")


def linalg_qr(A: Tensor, mode: str = "reduced") -> tuple:  # noqa: N803
    return make("qr", ("Q", "R"), qr_op(A, mode))


def qr(input: Tensor, some: bool = True) -> tuple:
    import warnings  # noqa: PLC0415

    warnings.warn(QR_DEPRECATED, UserWarning, stacklevel=2)
    return make("qr", ("Q", "R"), qr_op(input, "reduced" if some else "complete"))


# ----- svd, svdvals -----


def _np_svd(x, full_matrices):
    """np.linalg.svd, its failure to converge (LAPACK's gesdd: a NaN, some infinities) as torch's RuntimeError
    (linalg.svd, pinv and svdvals alike): the first batch element that fails, by its flat index."""
    try:
        return np.linalg.svd(x, full_matrices=full_matrices)
    except np.linalg.LinAlgError:
        pass
    flat = x.reshape(-1, *x.shape[-2:])
    # only on the failing path: the first element that fails, by halving the range that holds it (each element
    # fails alone), about one more batch of SVDs in log2(batch) calls; a loop of one SVD an element had taken
    # 10-20 s of Python at a batch of 10^6 with no deadline check
    m, n = flat.shape[-2:]
    calls = max(flat.shape[0], 1).bit_length()  # about one more batch of singular values, in log2(batch) calls
    budget.charge(0, 8, 8.0 * flat.shape[0] * m * n * max(min(m, n), 1) + 50 * PY_STEP * calls,
                  "svd's search for its failing element")
    lo, hi = 0, flat.shape[0]
    while hi - lo > 1:
        budget.check()
        mid = (lo + hi) // 2
        try:
            np.linalg.svd(flat[lo:mid], compute_uv=False)
            lo = mid
        except np.linalg.LinAlgError:
            hi = mid
    try:
        np.linalg.svd(flat[lo], compute_uv=False)
        i = 0  # (none fails alone: the batch's first, as before)
    except np.linalg.LinAlgError:
        i = lo
    where = f"(Batch element {i}): " if x.ndim > 2 else ""
    why = ("the input matrix contained non-finite values" if not np.isfinite(flat[i]).all() else
           "the input matrix is ill-conditioned or has too many repeated singular values")
    raise TorchLinAlgError(f"linalg.svd: {where}The algorithm failed to converge because {why}.")


def _svd(a, full_matrices=False, compute_uv=True, driver=None):
    if a.ndim < 2:
        raise TorchRuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    _half(a, "linalg_svd_cpu")
    if a.dtype != np.float16:
        _float_check(a, "linalg.svd")
    x = _np(a)
    m, n = x.shape[-2:]
    k = min(m, n)
    if x.size == 0:
        u = np.zeros(x.shape[:-2] + (m, m if full_matrices else k))
        vh = np.zeros(x.shape[:-2] + (n if full_matrices else k, n))
        for mat, d in ((u, m), (vh, n)):
            if full_matrices and d:
                mat[..., np.arange(d), np.arange(d)] = 1
        return _back(u, a.dtype), _back(np.zeros(x.shape[:-2] + (k,)), a.dtype), _back(vh, a.dtype)
    u, s, vh = _np_svd(x, full_matrices)
    return _back(_fortran(u), a.dtype), _back(s, a.dtype), _back(_fortran(vh), a.dtype)


def _svd_backward(grad, result, result1, result2, full_matrices):
    """FunctionsManual's svd_backward (real case)."""
    gU, gS, gVh = grad
    U, Sv, Vh = result, result1, result2
    if full_matrices:
        k = Sv.shape[-1]
        U, Vh = J.narrow(U, -1, 0, k), J.narrow(Vh, -2, 0, k)
        gU = J.narrow(gU, -1, 0, k) if gU is not None else None
        gVh = J.narrow(gVh, -2, 0, k) if gVh is not None else None
    if gS is None and gU is None and gVh is None:
        return None
    m, n = U.shape[-2], Vh.shape[-1]
    if gU is None and gVh is None:
        return L.matmul(U, gS.unsqueeze(-1) * Vh) if m >= n else L.matmul(U * gS.unsqueeze(-2), Vh)

    def skew(X):
        return X - _mH(X)

    UhgU = skew(L.matmul(_mH(U), gU)) if gU is not None else None
    VhgV = skew(L.matmul(Vh, _mH(gVh))) if gVh is not None else None
    S2 = Sv * Sv
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1)
    E = E + J.diag_embed_op(1 - J.diagonal(E, 0, -2, -1), 0, -2, -1)  # ones on the diagonal
    if gU is not None and gVh is not None:
        gA = (UhgU * Sv.unsqueeze(-2) + Sv.unsqueeze(-1) * VhgV) / E
    elif gU is not None:
        gA = (UhgU / E) * Sv.unsqueeze(-2)
    else:
        gA = Sv.unsqueeze(-1) * (VhgV / E)
    if gS is not None:
        gA = gA + J.diag_embed_op(gS, 0, -2, -1)
    if m > n and gU is not None:
        gA = L.matmul(U, gA)
        gUSinv = gU / Sv.unsqueeze(-2)
        gA = gA + gUSinv - L.matmul(U, L.matmul(_mH(U), gUSinv))
        return L.matmul(gA, Vh)
    if m < n and gVh is not None:
        gA = L.matmul(gA, Vh)
        SinvgVh = gVh / Sv.unsqueeze(-1)
        gA = gA + SinvgVh - L.matmul(L.matmul(SinvgVh, _mH(Vh)), Vh)
        return L.matmul(U, gA)
    return L.matmul(U, L.matmul(gA, Vh)) if m >= n else L.matmul(L.matmul(U, gA), Vh)


def _svd_rule(A, full_matrices):
    if len(A.shape) < 2:
        return Cost((tuple(A.shape),) * 3, 0)
    *b, m, n = A.shape
    k = min(m, n)
    u = tuple(b) + (m, m if full_matrices else k)
    vh = tuple(b) + (n if full_matrices else k, n)
    # the float64 U, S, Vh (LAPACK's, or the empty answers' zeros: an [N, 0, 2] input's N x 2 x 2 Vh) before the cast
    sv = numel(b) * k
    return Cost((u, tuple(b) + (k,), vh), 20 * numel(A.shape) * k + per_matrix(A.shape, *SVD_CALL),
                2 * numel(A.shape) + wide(numel(u) + sv + numel(vh), A))


svd_op = defop("linalg_svd(Tensor A, bool full_matrices=False, bool compute_uv=True, *, str? driver=None) -> (Tensor "
               "U, Tensor S, Tensor Vh)", _svd, nout=3,
               A=lambda grad, result, result1, result2, full_matrices: _svd_backward(
                   grad, result, result1, result2, full_matrices), rule=_svd_rule)


def linalg_svd(A: Tensor, full_matrices: bool = True, *, driver: str | None = None) -> tuple:  # noqa: N803
    return make("svd", ("U", "S", "Vh"), svd_op(A, full_matrices, True, driver))


def svdvals(A: Tensor, *, driver: str | None = None) -> Tensor:  # noqa: N803
    return svd_op(A, False, True, driver)[1]


def svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> tuple:
    if input.ndim < 2:  # torch.svd's own check, before linalg.svd's
        raise TorchRuntimeError(f"linalg.svd: input should have at least 2 dimensions, but has {input.ndim} "
                                "dimensions instead")
    U, Sv, Vh = svd_op(input, not some, True, None)
    if not compute_uv:
        U = _t(B.xp.zeros(tuple(U.shape), dtype=U._data.dtype))
        V = _t(B.xp.zeros(tuple(Vh.shape[:-2]) + (Vh.shape[-1], Vh.shape[-2]), dtype=Vh._data.dtype))
        return make("svd", ("U", "S", "V"), (U, Sv, V))
    return make("svd", ("U", "S", "V"), (U, Sv, _mH(Vh)))


CATALOG = [
    entry("linalg.qr", linalg_qr, "The QR decomposition (reduced, complete or r).", qr_op, method=False),
    entry("qr", qr, "Deprecated torch.qr.", qr_op),
    entry("linalg.svd", linalg_svd, "The singular value decomposition U, S, Vh.", svd_op, method=False),
    entry("svd", svd, "torch.svd: U, S, V.", svd_op),
    entry("linalg.svdvals", svdvals, "The singular values.", svd_op, method=False),
]
