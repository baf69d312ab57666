"""The pseudoinverse and least squares: linalg.pinv / pinverse, linalg.lstsq. Forwards are NumPy's LAPACK (pinv:
gesdd, or syevd where hermitian, batched; lstsq: np.linalg.lstsq a system at a time, its outputs as torch's driver
gives them); backward formulas are FunctionsManual.cpp's (pinv_backward; linalg_lstsq_backward, which goes through
pinv), written with engine entries (grad-of-grad). (Its catalog entries follow linalg_eigh's.)"""
from __future__ import annotations

import math

import numpy as np

from engine import _backend as B
from engine import budget
from engine.errors import TorchRuntimeError
from engine.ops import linalg as L
from engine.ops._returns import make
from engine.ops._util import broadcast_shapes
from engine.ops.linalg_common import _back, _mH, _np, _t, _word, per_matrix
from engine.ops.linalg_spectral import PINV_CALL, _np_svd
from engine.ops.registry import defop, entry
from engine.ops.rules import PY_STEP, Cost, broadcast, numel, shape_of, wide
from engine.tensor import Tensor

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
    entry("linalg.pinv", pinv, "The Moore-Penrose pseudoinverse.", pinv_op, method=False),
    entry("pinverse", pinverse, "The pseudoinverse (rcond).", pinv_op),
    entry("linalg.lstsq", lstsq, "The least-squares solution (residuals, rank, singular values by driver).",
          lstsq_op, method=False),
]
