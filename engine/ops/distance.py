"""Distances: pairwise_distance (aten's norm(x1 - x2 + eps) over the last dim: NormBackward1), pdist
(PdistBackward0) and cdist (CdistBackward0, or aten's matrix-product form _euclidean_dist for p = 2 where torch
takes it: EuclideanDistBackward0), with torch's checks. _pdist_backward and _cdist_backward have no derivative
in torch (a double backward raises), _euclidean_dist's backward is written with differentiable ops."""
from __future__ import annotations

import math

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchRuntimeError, TorchValueError
from engine.ops import linalg as L
from engine.ops import nn_common as NC
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.ops import shape_more as SM
from engine.ops._util import broadcast_shapes
from engine.ops.nn_common import _errstate, _not_implemented, _word
from engine.ops.reduction_stats import _vector_norm_backward, _vector_norm_fwd
from engine.ops.registry import defop, entry
from engine.ops.rules import TRANSCENDENTAL, Cost, numel, reduced_shape
from engine.tensor import Tensor


def _t(a):
    return Tensor._make(a)


# ----- norm.ScalarOpt_dim (NormBackward1): the op pairwise_distance reduces with -----


def _norm_rule(self, p, dim, keepdim=False):
    shape = tuple(self.shape)
    return Cost(reduced_shape(shape, dim, keepdim), TRANSCENDENTAL * max(numel(shape), 1))


norm_dim_op = defop(
    "norm.ScalarOpt_dim(Tensor self, Scalar? p, int[1] dim, bool keepdim=False) -> Tensor",
    lambda a, p, dim, keepdim=False: _vector_norm_fwd(a, 2.0 if p is None else p, dim, keepdim),
    index=1,
    self=lambda grad, self, p, result, dim, keepdim: _vector_norm_backward(
        grad, self, 2.0 if p is None else p, result, dim, keepdim),
    rule=_norm_rule,
)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim of the broadcast (aten: norm(x1 - x2 + eps, p, -1))."""
    innermost = max(x1.ndim, x2.ndim) - 1
    diff = x1 - x2
    if not diff.dtype.is_floating_point:  # an integral difference plus a float scalar: the default dtype
        diff = _t(diff._data.astype(D.default_float.np))
    return norm_dim_op(NC.add_scalar(diff, eps), p, [innermost], keepdim)


# ----- the p-norm kernels shared by pdist and cdist -----


def _dist_values(diff, p):
    """The p-norm over the last axis of diff (torch's Dist kernels: 0, 1, 2, inf, general)."""
    ab = np.abs(diff)
    with _errstate():
        if p == 0:
            return np.sum(diff != 0, axis=-1).astype(diff.dtype)
        if p == 1:
            return np.sum(ab, axis=-1)
        if p == 2:
            return np.sqrt(np.sum(ab * ab, axis=-1))
        if math.isinf(p):
            return np.max(ab, axis=-1, initial=0.0).astype(diff.dtype)
        return np.power(np.sum(np.power(ab, p), axis=-1), 1.0 / p)


def _dist_grad(diff, g, dist, p):
    """d dist / d diff times g, element by element (torch's Dist<>::backward for each p)."""
    g = g[..., None]
    dist = dist[..., None]
    zero = np.zeros((), dtype=diff.dtype)
    sign = np.sign(diff)
    ab = np.abs(diff)
    with _errstate():
        if p == 0:
            return np.zeros_like(diff)
        if p == 1:
            return sign * g
        if p == 2:
            return np.where(dist == 0, zero, g * diff / dist)
        if math.isinf(p):
            return g * sign * (ab == dist)
        if p < 2:
            out = np.where(dist == 0, zero, sign * np.power(ab, p - 1) * g / np.power(dist, p - 1))
            return np.where((diff == 0) & (p < 1), zero, out)
        return np.where(dist == 0, zero, diff * np.power(ab, p - 2) * g / np.power(dist, p - 1))


# ----- pdist -----


def _pairs(n):
    i, j = np.triu_indices(n, k=1)
    return i, j


def _pdist_fwd(a, p=2.0):
    x = np.asarray(B.to_numpy(a))
    i, j = _pairs(x.shape[0])
    return B.xp.asarray(_dist_values(x[i] - x[j], float(p)).astype(x.dtype, copy=False))


def _pdist_backward_fwd(g, a, p, result):
    x = np.asarray(B.to_numpy(a))
    n = x.shape[0]
    i, j = _pairs(n)
    gr = _dist_grad(x[i] - x[j], np.asarray(B.to_numpy(g)), np.asarray(B.to_numpy(result)), float(p))
    out = np.zeros_like(x)
    np.add.at(out, i, gr)
    np.subtract.at(out, j, gr)
    return B.xp.asarray(out)


# The p-norm kernels' arrays of the pairs' size (n: pairs x features), held at once (safeO, traced): the forward
# 3 (x[i], x[j], diff; then diff, |diff|, its square or power), the backward 5 (diff, sign, |diff|, the products);
# their passes over them, a transcendental one more for a p that takes np.power (the forward 1, the backward 2).
# They had been charged one (cdist p=2 of two [200, 200]: 193 MB traced for 64 MB charged; its backward 320 MB).
def _dist_flops(n, p, passes, powers):
    p = float(p)
    return n * (passes + (powers * TRANSCENDENTAL if p not in (0.0, 1.0, 2.0) and not math.isinf(p) else 0))


def _pdist_rule(self, p=2.0):
    n, m = (tuple(self.shape) + (0, 0))[:2]
    pairs = n * (n - 1) // 2
    return Cost((pairs,), _dist_flops(pairs * m, p, 4, 1), 3 * pairs * m)


def _pdist_bw_rule(grad, self, p, pdist):
    n = numel(pdist.shape) * (tuple(self.shape) + (0, 0))[1]
    return Cost(tuple(self.shape), _dist_flops(n, p, 10, 2), 5 * n)


pdist_backward_op = defop(
    "_pdist_backward(Tensor grad, Tensor self, float p, Tensor pdist) -> Tensor", _pdist_backward_fwd,
    grad=_not_implemented("_pdist_backward"), self=_not_implemented("_pdist_backward"), rule=_pdist_bw_rule,
)
pdist_op = defop(
    "_pdist_forward(Tensor self, float p=2) -> Tensor", _pdist_fwd,
    self=lambda grad, self, p, result: pdist_backward_op(grad, self, p, result), rule=_pdist_rule,
)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """Distances between the rows of a 2-D input, i < j, in row-major order: PdistBackward0."""
    if input.ndim != 2:
        raise TorchRuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.dtype.is_floating_point:
        raise TorchRuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise TorchRuntimeError("pdist only supports non-negative p values")
    return pdist_op(input.contiguous(), float(p))


# ----- cdist -----


_MODES = {"use_mm_for_euclid_dist_if_necessary": None, "use_mm_for_euclid_dist": 1,
          "donot_use_mm_for_euclid_dist": 2}


def _cdist_batch(x1, x2):
    batch = broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    return batch, (*batch, x1.shape[-2], x1.shape[-1]), (*batch, x2.shape[-2], x2.shape[-1])


def _cdist_fwd(a, b, p, compute_mode=None):
    x1, x2 = np.asarray(B.to_numpy(a)), np.asarray(B.to_numpy(b))
    batch = np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    out_shape = (*batch, x1.shape[-2], x2.shape[-2])
    if 0 in out_shape:
        return B.xp.zeros(out_shape, dtype=x1.dtype)
    e1 = np.broadcast_to(x1, (*batch, *x1.shape[-2:]))[..., :, None, :]
    e2 = np.broadcast_to(x2, (*batch, *x2.shape[-2:]))[..., None, :, :]
    return B.xp.asarray(_dist_values(e1 - e2, float(p)).astype(x1.dtype, copy=False).reshape(out_shape))


def _cdist_backward_fwd(g, a, b, p, cdist):
    """grad for x1 (expanded to the broadcast batch; the formula sums it back to x1's shape)."""
    x1, x2 = np.asarray(B.to_numpy(a)), np.asarray(B.to_numpy(b))
    batch = np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    e1 = np.broadcast_to(x1, (*batch, *x1.shape[-2:]))
    e2 = np.broadcast_to(x2, (*batch, *x2.shape[-2:]))
    if 0 in e1.shape or 0 in e2.shape:
        return B.xp.zeros(e1.shape, dtype=x1.dtype)
    gr = _dist_grad(e1[..., :, None, :] - e2[..., None, :, :], np.asarray(B.to_numpy(g)),
                    np.asarray(B.to_numpy(cdist)), float(p))
    return B.xp.asarray(gr.sum(axis=-2))


def _cdist_rule(x1, x2, p, compute_mode=None):
    batch = broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    r1, c = x1.shape[-2], x1.shape[-1]
    r2 = x2.shape[-2]
    n = numel(batch) * r1 * r2
    return Cost((*batch, r1, r2), _dist_flops(n * c, p, 4, 1), 3 * n * c)


def _cdist_bw_rule(grad, x1, x2, p, cdist):
    batch = broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    n = numel(cdist.shape) * x1.shape[-1]
    return Cost((*batch, x1.shape[-2], x1.shape[-1]), _dist_flops(n, p, 10, 2), 5 * n)


cdist_backward_op = defop(
    "_cdist_backward(Tensor grad, Tensor x1, Tensor x2, float p, Tensor cdist) -> Tensor", _cdist_backward_fwd,
    grad=_not_implemented("_cdist_backward"), x1=_not_implemented("_cdist_backward"),
    x2=_not_implemented("_cdist_backward"), rule=_cdist_bw_rule,
)


def _cdist_x1_grad(grad, x1, x2, p, result):
    return SM.sum_to_size(cdist_backward_op(grad.contiguous(), x1, x2, p, result), *x1.shape)


def _cdist_x2_grad(grad, x1, x2, p, result):
    return SM.sum_to_size(cdist_backward_op(S.mT(grad).contiguous(), x2, x1, p, S.mT(result).contiguous()),
                          *x2.shape)


cdist_op = defop(
    "_cdist_forward(Tensor x1, Tensor x2, float p, int? compute_mode) -> Tensor", _cdist_fwd,
    x1=_cdist_x1_grad, x2=_cdist_x2_grad, rule=_cdist_rule,
)


def _euclid_fwd(a, b):
    x1, x2 = np.asarray(B.to_numpy(a)), np.asarray(B.to_numpy(b))
    # aten's form: [-2 x1, |x1|^2, 1] @ [x2, 1, |x2|^2]^T, clamped at 0, square root
    n1 = np.sum(x1 * x1, axis=-1, keepdims=True)
    n2 = np.sum(x2 * x2, axis=-1, keepdims=True)
    a1 = np.concatenate([x1 * -2, n1, np.ones_like(n1)], axis=-1)
    a2 = np.concatenate([x2, np.ones_like(n2), n2], axis=-1)
    with _errstate():
        out = np.sqrt(np.maximum(np.matmul(a1, np.swapaxes(a2, -1, -2)), 0))
    return B.xp.asarray(out.astype(x1.dtype, copy=False))


def _euclid_ratio(grad, result):
    return NC.masked_fill(grad / result, result._data == 0, 0)


euclidean_dist_op = defop(
    "_euclidean_dist(Tensor x1, Tensor x2) -> Tensor", _euclid_fwd,
    x1=lambda grad, x1, x2, result: x1 * R.sum(_euclid_ratio(grad, result), -1, True)
    - L.matmul(_euclid_ratio(grad, result), x2),
    x2=lambda grad, x1, x2, result: x2 * S.mT(R.sum(_euclid_ratio(grad, result), -2, True))
    - L.matmul(S.mT(_euclid_ratio(grad, result)), x1),
    rule=lambda x1, x2: Cost((*x1.shape[:-1], x2.shape[-2]),
                             2 * numel(x1.shape[:-1]) * x2.shape[-2] * (x1.shape[-1] + 2),
                             numel(x1.shape[:-1]) * (x1.shape[-1] + 2) + numel(x2.shape[:-1]) * (x2.shape[-1] + 2)),
)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """p-norm distances between the rows of x1 and x2 (batched, broadcast): CdistBackward0, or for p = 2
    with more than 25 rows (or compute_mode='use_mm_for_euclid_dist') the matrix-product form."""
    if compute_mode not in _MODES:
        raise TorchValueError(f"{compute_mode} is not a valid value for compute_mode")
    mode = _MODES[compute_mode]
    if x1.ndim < 2:
        raise TorchRuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x2.ndim < 2:
        raise TorchRuntimeError(f"cdist only supports at least 2D tensors, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise TorchRuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if not x1.dtype.is_floating_point:
        raise TorchRuntimeError(f"cdist only supports floating-point dtypes, X1 got: {_word(x1.dtype)}")
    if not x2.dtype.is_floating_point:
        raise TorchRuntimeError(f"cdist only supports floating-point dtypes, X2 got: {_word(x2.dtype)}")
    if p < 0:
        raise TorchRuntimeError("cdist only supports non-negative p values")
    batch, size1, size2 = _cdist_batch(x1, x2)
    r1, r2 = x1.shape[-2], x2.shape[-2]
    m = 0 if mode is None else mode
    euclid = p == 2 and (m == 1 or (m == 0 and (r1 > 25 or r2 > 25)))
    if x1.numel() == 0 or x2.numel() == 0 or not euclid:
        if x1.dtype != x2.dtype:
            raise TorchRuntimeError(
                f"expected scalar type {_word(x1.dtype)} but found {_word(x2.dtype)}")
        return cdist_op(x1, x2, float(p), mode)
    if x1.dtype != x2.dtype:
        raise TorchRuntimeError(f"expected scalar type {_word(x1.dtype)} but found {_word(x2.dtype)}")
    out_shape = [*batch, r1, r2]
    prod = numel(batch)
    if prod == 0:
        return cdist_op(x1, x2, float(p), mode)
    if prod == 1:
        res = euclidean_dist_op(x1, x2)
    else:
        e1 = S.view(S.expand(x1, list(size1)).contiguous(), [prod, r1, x1.shape[-1]])
        e2 = S.view(S.expand(x2, list(size2)).contiguous(), [prod, r2, x2.shape[-1]])
        res = euclidean_dist_op(e1, e2)
    return S.view(res, out_shape)


_F = {"function": False, "method": False, "functional": True}
_TF = {"function": True, "method": False, "functional": True}
_T = {"function": True, "method": False, "functional": False}

CATALOG = [
    entry("pairwise_distance", pairwise_distance, "||x1 - x2 + eps||_p over the last dim.", norm_dim_op, **_TF),
    entry("pdist", pdist, "p-norm distances between the rows of a 2-D input (upper triangle).", pdist_op, **_TF),
    entry("cdist", cdist, "p-norm distances between the rows of x1 and x2 (batched).", cdist_op,
          euclidean_dist_op, **_T),
]
