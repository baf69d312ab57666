"""Spectral and orthogonal decompositions: qr, svd / svdvals, eigh / eigvalsh, pinv, lstsq (matrix_exp:
linalg_matrix_exp.py). Forwards
are NumPy's LAPACK (geqrf, gesdd, syevd), batched, with torch's column-major result strides; backward formulas
are FunctionsManual.cpp's (linalg_qr_backward, svd_backward, linalg_eig_backward, pinv_backward,
linalg_lstsq_backward, differential_analytic_matrix_function), written with engine entries (grad-of-grad)."""
from __future__ import annotations

import math

import numpy as np

from engine import _backend as B
from engine import budget
from engine.errors import TorchLinAlgError, TorchNotImplementedError, TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops._returns import make
from engine.ops._util import broadcast_shapes
from engine.ops.linalg_common import _back, _float_check, _fortran, _mH, _np, _square, _t, _word, per_matrix
from engine.ops.linalg_triangular import solve_triangular_op
from engine.ops.registry import defop, entry
from engine.ops.rules import PY_STEP, Cost, broadcast, numel, shape_of, wide
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


# ----- eigh, eigvalsh -----


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


# ----- pinv -----


def _pinv(a, atol=None, rtol=None, hermitian=False):
    if a.ndim < 2 or a.dtype.kind != "f" or a.dtype == np.float16:
        raise TorchRuntimeError(f"linalg.pinv({_word(a)}{{{list(a.shape)}}}): expected a tensor with 2 or more "
                                "dimensions of float, double, cfloat or cdouble types")
    x = _np(a)
    if x.size == 0:
        return _back(np.zeros(x.shape[:-2] + (x.shape[-1], x.shape[-2])), a.dtype)
    at = 0.0 if atol is None else _np(atol) if isinstance(atol, Tensor) or hasattr(atol, "shape") else atol
    rt_default = max(x.shape[-2:]) * np.finfo(x.dtype).eps
    if hermitian:
        w, v = np.linalg.eigh(x)
        absw = np.abs(w)
        mx = absw.max(-1, keepdims=True)
    else:
        u, s, vh = _np_svd(x, False)
        mx = s.max(-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
    if rtol is None:
        rt = 0.0 if atol is not None and np.any(np.asarray(at) > 0) else rt_default
    else:
        rt = _np(rtol) if hasattr(rtol, "shape") else rtol
    tol = np.maximum(np.asarray(at)[..., None] if np.ndim(at) else at, np.asarray(rt)[..., None] * mx
                     if np.ndim(rt) else rt * mx)
    if hermitian:
        inv_w = np.where(absw > tol, 1.0 / np.where(absw > tol, w, 1), 0.0)
        out = (v * inv_w[..., None, :]) @ np.swapaxes(v, -1, -2)
    else:
        inv_s = np.where(s > tol, 1.0 / np.where(s > tol, s, 1), 0.0)
        out = np.swapaxes(vh, -1, -2) @ (inv_s[..., :, None] * np.swapaxes(u, -1, -2))
    return _back(out, a.dtype)


def _pinv_backward(grad, result, self):
    """FunctionsManual's pinv_backward."""
    pinvA, A = result, self
    m, n = A.shape[-2], A.shape[-1]
    pinvAh, gradh = _mH(pinvA), _mH(grad)
    if m <= n:
        K = L.matmul(gradh, pinvA)
        KpinvAh = L.matmul(K, pinvAh)
        return (-_mH(L.matmul(pinvA, K)) + KpinvAh - L.matmul(L.matmul(A, pinvA), KpinvAh)
                + L.matmul(L.matmul(pinvAh, pinvA), gradh - L.matmul(K, A)))
    K = L.matmul(pinvA, gradh)
    pinvAhK = L.matmul(pinvAh, K)
    return (-_mH(L.matmul(K, pinvA)) + L.matmul(L.matmul(gradh - L.matmul(A, K), pinvA), pinvAh) + pinvAhK
            - L.matmul(L.matmul(pinvAhK, pinvA), A))


def _pinv_cost(self, atol=None, rtol=None):
    """A tensor atol / rtol broadcasts with the batch (torch's answer is of the broadcast batch): that product's
    flops, its output and its inv_s and product temporaries (safeO: a [64, 64] rtol gave a 134 MB answer charged
    229 KB)."""
    sh, n = tuple(self.shape), numel(self.shape)
    if len(sh) < 2:
        return Cost((), 20 * n + per_matrix(sh, *PINV_CALL), 3 * n + wide(3 * n, self))
    batch = tuple(sh[:-2])
    out, k = broadcast(batch, shape_of(atol), shape_of(rtol)) + (sh[-1], sh[-2]), min(sh[-2:])
    flops, temp = 20 * n * k + per_matrix(sh, *PINV_CALL), 3 * n + wide(3 * n, self)
    if out[:-2] != batch:
        flops, temp = flops + 2 * numel(out) * k, temp + 2 * numel(out) + numel(out[:-2]) * k
    return Cost(out, flops, temp)


pinv_op = defop(
    "linalg_pinv.atol_rtol_tensor(Tensor self, *, Tensor? atol=None, Tensor? rtol=None, bool hermitian=False) "
    "-> Tensor", _pinv, self=_pinv_backward, rule=_pinv_cost)
# temp: the products' temporaries, and the SVD's float64 U, Vh and input copy (NumPy's svd works in double on a
# float32 stack): a float32 [20000, 4, 4] traced 9.6 MB for 5.1 MB charged (safeL)


def pinv(A: Tensor, *, atol: float | Tensor | None = None, rtol: float | Tensor | None = None,  # noqa: N803
         hermitian: bool = False, rcond: float | None = None) -> Tensor:
    if rcond is not None:
        rtol = rcond
    return pinv_op(A, atol, rtol, hermitian)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    return pinv_op(input, None, rcond, False)


# ----- lstsq -----


def _lstsq(a, b, rcond=None, driver=None):
    drv = driver or "gelsy"
    if drv not in ("gels", "gelsy", "gelsd", "gelss"):
        raise TorchRuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    if a.ndim < 2:
        raise TorchRuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if not 0 <= a.ndim - b.ndim <= 1:
        raise TorchRuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
                                "(input.dim() - other.dim()) <= 1")
    vector, batch, _ = _lstsq_layout(tuple(a.shape), tuple(b.shape))
    b2 = b[..., None] if vector else b
    if a.shape[-2] != b2.shape[-2]:
        raise TorchRuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-1)" if vector else
                                "torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    # aten broadcasts input.shape[:-1] with other.shape[:input.dim() - 1] (torch's message where they do not)
    broadcast_shapes(tuple(a.shape[:-1]), tuple(b.shape[:a.ndim - 1]))
    x_a, x_b = _np(a), _np(b2)
    m, n, k = x_a.shape[-2], x_a.shape[-1], x_b.shape[-1]
    if not (math.prod(batch) and m and n and k):
        sol, res, rank, sv = _lstsq_empty(x_a, x_b, batch, drv)
    else:
        sol, res, rank, sv = _lstsq_batches(a, x_a, x_b, batch, rcond, drv)
    if vector:  # the solution loses the column dim; residuals keep it ((*, 1), torch)
        sol = sol[..., 0]
    return (_back(sol, a.dtype), _back(res, a.dtype), B.xp.asarray(rank), _back(sv, a.dtype))


def _a_own(arr, batch, a_batch):
    """The input's own batch elements of an array of shape batch + tail (rank and singular values depend on the
    input alone and have its batch shape in torch): its broadcast dims read at 0."""
    lead = len(batch) - len(a_batch)
    return arr[(0,) * lead + tuple(slice(None) if s == t else slice(0, 1) for s, t in zip(a_batch, batch[lead:]))]


def _lstsq_batches(a, x_a, x_b, batch, rcond, drv):
    a_batch = x_a.shape[:-2]
    x_a = np.broadcast_to(x_a, batch + x_a.shape[-2:]).reshape(-1, *x_a.shape[-2:])
    x_b = np.broadcast_to(x_b, batch + x_b.shape[-2:]).reshape(-1, *x_b.shape[-2:])
    m, n = x_a.shape[-2:]
    eps = np.finfo(x_a.dtype).eps
    rc = rcond if rcond is not None else eps * max(m, n)
    nb = x_a.shape[0]
    sols = np.empty((nb, n, x_b.shape[-1]), dtype=np.result_type(x_a, x_b))
    ranks, svs = np.empty(nb, dtype=np.int64), np.empty((nb, min(m, n)), dtype=x_a.dtype)
    for i in range(nb):  # a call a batch element: charged (_LSTSQ_CALL) by _lstsq_rule; no object kept a step
        budget.check()
        sols[i], _, ranks[i], svs[i] = np.linalg.lstsq(x_a[i], x_b[i], rcond=rc)
    sol = sols.reshape(batch + (n, x_b.shape[-1]))
    own_ranks = _a_own(ranks.reshape(batch), batch, a_batch)
    rank = own_ranks if drv != "gels" else np.zeros((0,), dtype=np.int64)
    sv = (_a_own(svs.reshape(batch + (min(m, n),)), batch, a_batch) if drv in ("gelsd", "gelss")
          else np.zeros((0,), dtype=x_a.dtype))
    full_rank = bool((own_ranks == min(m, n)).all())
    if m > n and drv != "gelsy" and full_rank:
        res = ((np.broadcast_to(_np(a), batch + x_a.shape[-2:]) @ sol - np.broadcast_to(x_b.reshape(
            batch + x_b.shape[-2:]), batch + x_b.shape[-2:])) ** 2).sum(-2)
    else:
        res = np.zeros((0,), dtype=x_a.dtype)
    return sol, res, rank, sv


def _lstsq_empty(x_a, x_b, batch, drv):
    """An empty batch, matrix or right-hand side, as torch 2.13's LAPACK calls answer it: a zero solution of
    shape (*, n, k); rank 0 of the input's own batch shape (none for gels); singular values (*, min(m, n)) for
    gelsd / gelss; residuals where m > n (gelsy: never; gelsd / gelss: where every rank is n), which are zeros for
    gels (its quick return zeroes B) and the right-hand side's squared norms for gelsd / gelss (untouched B)."""
    a_batch = x_a.shape[:-2]
    m, n, k = x_a.shape[-2], x_a.shape[-1], x_b.shape[-1]
    if math.prod(batch) and m and n and not k and drv in ("gelsd", "gelss"):
        if drv == "gelss":  # no oracle: torch 2.13 dies here (a segmentation fault in LAPACK's gelss)
            raise TorchRuntimeError("torch.linalg.lstsq: driver 'gelss' with an empty right-hand side (0 columns) "
                                    "crashes torch 2.13 (a segmentation fault); use driver 'gelsy' or 'gels'")
        where = "(Batch element 0): " if len(batch) else ""
        raise TorchRuntimeError(
            'false INTERNAL ASSERT FAILED at "/__w/pytorch/pytorch/aten/src/ATen/native/BatchLinearAlgebra.cpp":1613, '
            f"please report a bug to PyTorch. torch.linalg.lstsq: {where}Argument 4 has illegal value. Most certainly "
            "there is a bug in the implementation calling the backend library.")
    sol = np.zeros(batch + (n, k), dtype=x_a.dtype)
    own_rank = np.zeros(a_batch, dtype=np.int64)
    rank = own_rank if drv != "gels" else np.zeros((0,), dtype=np.int64)
    sv = (np.zeros(a_batch + (min(m, n),), dtype=x_a.dtype) if drv in ("gelsd", "gelss")
          else np.zeros((0,), dtype=x_a.dtype))
    if m > n and drv != "gelsy" and (drv == "gels" or int(own_rank.sum()) == own_rank.size * n):
        if drv == "gels" or not math.prod(batch):
            res = np.zeros(batch + (k,), dtype=x_a.dtype)
        else:  # n == 0 here: LAPACK returned at once, B's rows n..m (all of them) are the residual
            res = (np.broadcast_to(x_b, batch + x_b.shape[-2:]) ** 2).sum(-2)
    else:
        res = np.zeros((0,), dtype=x_a.dtype)
    return sol, res, rank, sv


def _lstsq_backward(grad, self, b, result, output_mask):
    gX, gL = grad[0], grad[1]
    A = self
    vector = _lstsq_layout(tuple(A.shape), tuple(b.shape))[0]
    B2 = b.unsqueeze(-1) if vector else b
    gA = gB = None
    if gX is not None:
        gx = gX.unsqueeze(-1) if vector else gX
        pinvA = pinv_op(A, None, None, False)
        if output_mask[0]:
            gA = _pinv_backward(L.matmul(gx, _mH(B2)), pinvA, A)
        if output_mask[1]:
            gB = L.matmul(_mH(pinvA), gx)
            gB = gB.squeeze(-1) if vector else gB
    if gL is not None and gL.numel():
        X = result.unsqueeze(-1) if vector else result
        r = L.matmul(A, X) - B2
        gl = gL.unsqueeze(-2)  # residuals are (*, k), k = 1 for a vector right-hand side
        if output_mask[0]:
            t = 2 * L.matmul(gl * r, _mH(X))
            gA = t if gA is None else gA + t
        if output_mask[1]:
            t = -2 * gl * r
            t = t.squeeze(-1) if vector else t
            gB = t if gB is None else gB + t
    return gA, gB


lstsq_op = defop(
    "linalg_lstsq(Tensor self, Tensor b, float? rcond=None, *, str? driver=None) -> (Tensor solution, Tensor "
    "residuals, Tensor rank, Tensor singular_values)", _lstsq, nout=4, joint_mask=True,
    self__b=lambda grad, self, b, result, output_mask: _lstsq_backward(grad, self, b, result, output_mask),
    rule=lambda self, b: _lstsq_rule(self, b))


def _lstsq_rule(self, b):
    # an upper bound; inputs of fewer than 2 dims raise in the forward (any bound does). Every output is sized by
    # the broadcast batch, not by the inputs' elements: a zero-element input may have a long batch or n / k
    # (zeros([10**6, 2, 0]) with ones([1, 2, 1000]): 10**9 residuals), so the outputs are charged before they exist
    a_shape = tuple(self.shape) if len(self.shape) >= 2 else (1, 1)
    b_shape = tuple(b.shape) or (1,)
    vector, batch, k = _lstsq_layout(a_shape, b_shape)
    m, n = a_shape[-2:]
    sol = batch + ((n,) if vector else (n, k))
    out = (sol, batch + (k,), a_shape[:-2], a_shape[:-2] + (min(m, n),))
    nb = numel(batch)
    return Cost(out, 20 * nb * m * n * max(n, 1) + _LSTSQ_CALL * nb, 2 * nb * m * n + nb * m * k, exact=False)


def _lstsq_layout(a_shape, b_shape):
    """Whether other is a (batch of) vector(s) (aten's linalg_solve_is_vector_rhs: 1-D, or input.shape[:-1]
    exactly), the broadcast batch, and the right-hand sides' count k. One dim fewer than input but not
    input.shape[:-1] is a matrix whose batch aten takes as other.shape[:-1] ((1, 3, 2) with (3, 1): batch (3,))."""
    vector = len(b_shape) == 1 or (len(b_shape) == len(a_shape) - 1 and b_shape == a_shape[:-1])
    k = 1 if vector or not b_shape else b_shape[-1]
    b_batch = b_shape[:-1] if len(b_shape) == len(a_shape) - 1 else b_shape[:-2]
    try:
        batch = tuple(np.broadcast_shapes(a_shape[:-2], b_batch))
    except ValueError:
        batch = a_shape[:-2]
    return vector, batch, k


_LSTSQ_CALL = 50 * PY_STEP  # one np.linalg.lstsq call on one small system: ~50 us of Python and LAPACK set-up


def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None) -> tuple:  # noqa: N803
    sol, res, rank, sv = lstsq_op(A, B, rcond, driver=driver)
    sv = _t(sv._data)  # not differentiable (derivatives.yaml's output_differentiability)
    return make("lstsq", ("solution", "residuals", "rank", "singular_values"), (sol, res, rank, sv))


CATALOG = [
    entry("linalg.qr", linalg_qr, "The QR decomposition (reduced, complete or r).", qr_op, method=False),
    entry("qr", qr, "Deprecated torch.qr.", qr_op),
    entry("linalg.svd", linalg_svd, "The singular value decomposition U, S, Vh.", svd_op, method=False),
    entry("svd", svd, "torch.svd: U, S, V.", svd_op),
    entry("linalg.svdvals", svdvals, "The singular values.", svd_op, method=False),
    entry("linalg.eigh", eigh, "Eigenvalues (ascending) and eigenvectors of symmetric matrices.", eigh_op,
          method=False),
    entry("linalg.eigvalsh", eigvalsh, "Eigenvalues of symmetric matrices.", eigh_op, method=False),
    entry("linalg.pinv", pinv, "The Moore-Penrose pseudoinverse.", pinv_op, method=False),
    entry("pinverse", pinverse, "The pseudoinverse (rcond).", pinv_op),
    entry("linalg.lstsq", lstsq, "The least-squares solution (residuals, rank, singular values by driver).",
          lstsq_op, method=False),
]
