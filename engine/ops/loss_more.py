"""More torch.nn.functional losses, with torch 2.13's graphs, values, reductions and messages.

soft_margin_loss, multi_margin_loss and multilabel_margin_loss have their own derivatives in
derivatives.yaml (SoftMarginLossBackward0 with a differentiable backward; the margin losses' backwards have
none in torch, so a double backward raises as there). The rest are composed exactly as aten (or
torch.nn.functional in Python) composes them: hinge_embedding_loss, cosine_embedding_loss,
margin_ranking_loss, triplet_margin_loss and poisson_nll_loss from aten's Loss.cpp; gaussian_nll_loss,
multilabel_soft_margin_loss and triplet_margin_with_distance_loss from torch/nn/functional.py.
"""
from __future__ import annotations

import math

import numpy as np

from engine import _backend as B
from engine.autograd import no_grad
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchValueError
from engine.ops import nn_functional as NF
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.ops._util import list_str
from engine.ops.distance import pairwise_distance
from engine.ops.loss_common import (
    MEAN,
    NONE,
    _apply_reduction,
    _get_enum,
    _inplace_shape,
    _legacy_string,
    _reduce_arr,
)
from engine.ops.nn_functional import _check_no_requires_grad, _errstate, _not_implemented, _scalar, _word
from engine.ops.pointwise_more import clamp_min_scalar
from engine.ops.registry import defop, entry
from engine.ops.rules import TRANSCENDENTAL, Cost, elementwise, numel
from engine.tensor import Tensor

_EPSILON = 1e-12  # aten's cosine_embedding_loss


def _t(a):
    return Tensor._make(a)


def _np(t):
    return np.asarray(B.to_numpy(t._data if isinstance(t, Tensor) else t))


def _full_like(t, value):
    """at::zeros_like / a tensor filled with a C++ scalar: no grad, t's shape and dtype."""
    return _t(B.xp.full(tuple(t.shape), value, dtype=t._data.dtype))


def _legacy_enum(size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        return _get_enum(_legacy_string(size_average, reduce))
    return _get_enum(reduction)


def _sizes(t):
    return list_str(tuple(t.shape))


# aten's `tensor - scalar` (sub.Scalar: SubBackward1)
sub_scalar = defop(
    "sub.Scalar_loss(Tensor self, Scalar other, Scalar alpha=1) -> Tensor",
    lambda a, other, alpha=1: np.subtract(a, _scalar(other * alpha, a.dtype) if a.dtype.kind == "f"
                                          else other * alpha),
    index=1, self=lambda grad: grad, rule=elementwise(1),
)


def _clamp_min0(t):
    return clamp_min_scalar(t, 0)


# ----- soft_margin_loss (SoftMarginLossBackward0) -----


def _soft_margin_check(a, t):
    if a.dtype.kind != "f":
        raise TorchRuntimeError(f"result type Float can't be cast to the desired output type {_word(a)}")
    _inplace_shape(a.shape, t.shape)


def _soft_margin_fwd(a, t, reduction=MEAN):
    _soft_margin_check(a, t)
    with _errstate():
        out = np.log1p(np.exp((-a * t).astype(a.dtype, copy=False))).astype(a.dtype, copy=False)
    return _reduce_arr(out, reduction)


def _soft_margin_backward_fwd(g, a, t, reduction):
    if t.dtype == np.bool_:  # its formula's -target (redteam15 F3: NumPy's TypeError had answered 500)
        raise TorchRuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                                "invert a mask, use the `~` or `logical_not()` operator instead.")
    norm = 1.0 / a.size if reduction == MEAN else 1.0
    with _errstate():
        z = np.exp(-t * a)
        out = t * z * -norm / (1.0 + z) * g
    return B.xp.asarray(out).astype(a.dtype, copy=False)


def _soft_margin_double_backward(grad, input, target, reduction):
    z = (input * -target).exp()
    zplus1 = z + 1
    grad_input = grad * (target * target) * z / (zplus1 * zplus1)
    if reduction == MEAN:
        grad_input = grad_input / input.numel()
    return grad_input


def _soft_margin_grad_output_grad(grad, grad_output, self, target, reduction):
    if reduction == NONE:
        return soft_margin_loss_backward(grad, self, target, reduction)
    r = soft_margin_loss_backward(_t(B.xp.ones_like(grad_output._data)), self, target, reduction)
    return R.sum(r * grad)


soft_margin_loss_backward = defop(
    "soft_margin_loss_backward(Tensor grad_output, Tensor self, Tensor target, int reduction) -> Tensor",
    _soft_margin_backward_fwd,
    grad_output=_soft_margin_grad_output_grad,
    self=lambda grad, grad_output, self, target, reduction: _soft_margin_double_backward(
        grad * grad_output, self, target, reduction),
    rule=lambda grad_output, self, target, reduction: Cost(tuple(self.shape), (TRANSCENDENTAL + 5)
                                                           * numel(self.shape)),
)
soft_margin_loss_op = defop(
    "soft_margin_loss(Tensor self, Tensor target, int reduction=1) -> Tensor", _soft_margin_fwd,
    self=lambda grad, self, target, reduction: soft_margin_loss_backward(grad, self, target, reduction),
    rule=lambda self, target, reduction=MEAN: Cost(() if reduction != NONE else tuple(self.shape),
                                                   (2 * TRANSCENDENTAL + 2) * numel(self.shape)),
)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input)): SoftMarginLossBackward0."""
    red = _legacy_enum(size_average, reduce, reduction)
    _check_no_requires_grad(target, "target", "soft_margin_loss")
    return soft_margin_loss_op(input, target, red)


# ----- multi_margin_loss / multilabel_margin_loss (their backwards have no derivative in torch) -----


def _frames(a, what):
    if not ((a.ndim == 2 and a.shape[1] != 0) or (a.ndim == 1 and a.shape[0] != 0) or a.ndim == 0):
        raise TorchRuntimeError(
            f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: {_sizes(a)}")
    if a.ndim <= 1:
        return 1, (1 if a.ndim == 0 else a.shape[0])
    return a.shape[0], a.shape[1]


def _multi_margin_check(a, target, weight):
    nframe, dim = _frames(a, "multi_margin_loss")
    if not (target.ndim <= 1 and target.size == nframe):
        raise TorchRuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of input samples "
            f"(batch size). Expected target size [{nframe}], but got {_sizes(target)}. Input has shape "
            f"{_sizes(a)}.")
    if weight is not None and not (weight.ndim <= 1 and weight.size == dim):
        raise TorchRuntimeError(f"inconsistent weight size, expected {dim} but got {_sizes(weight)}")
    if a.dtype.kind != "f":
        raise TorchNotImplementedError(f"\"multi_margin_loss_cpu_kernel\" not implemented for '{_word(a)}'")
    if target.dtype != np.int64:
        raise TorchRuntimeError(f"expected scalar type Long but found {_word(target)}")
    if weight is not None and weight.dtype != a.dtype:
        raise TorchRuntimeError(f"expected scalar type {_word(a)} but found {_word(weight)}")
    t = np.asarray(B.to_numpy(target)).reshape(-1)
    if t.size and ((t < 0) | (t >= dim)).any():
        raise TorchRuntimeError("target out of range")
    return nframe, dim, t


def _multi_margin_terms(a, t, p, margin, weight, nframe, dim):
    """z[n, d] = margin - x[n, t_n] + x[n, d] and the mask of the terms that count (z > 0, d != t_n)."""
    x = np.asarray(B.to_numpy(a)).reshape(nframe, dim)
    xt = x[np.arange(nframe), t][:, None]
    z = _scalar(margin, x.dtype) - xt + x
    onehot = np.zeros((nframe, dim), dtype=bool)
    onehot[np.arange(nframe), t] = True
    active = (z > 0) & ~onehot
    w = np.asarray(B.to_numpy(weight))[t][:, None] if weight is not None else None
    return z, active, onehot, w


def _multi_margin_fwd(a, target, p=1, margin=1, weight=None, reduction=MEAN):
    if p not in (1, 2):
        raise TorchRuntimeError("only p == 1 and p == 2 supported")
    nframe, dim, t = _multi_margin_check(a, target, weight)
    z, active, _, w = _multi_margin_terms(a, t, p, margin, weight, nframe, dim)
    h = np.where(active, z if p == 1 else z * z, 0).astype(a.dtype)
    if w is not None:
        h = h * w
    per = (h.sum(axis=1) / a.dtype.type(dim)).astype(a.dtype)
    if reduction == NONE:
        return B.xp.asarray(per if target.ndim > 0 else per.reshape(()))
    with _errstate():
        s = per.sum(dtype=a.dtype)
        return B.xp.asarray(s / a.dtype.type(nframe) if reduction == MEAN else s).astype(a.dtype)


def _multi_margin_backward_fwd(g, a, target, p, margin, weight, reduction):
    nframe, dim, t = _multi_margin_check(a, target, weight)
    z, active, onehot, w = _multi_margin_terms(a, t, p, margin, weight, nframe, dim)
    scale = 1.0 / (nframe * dim) if reduction == MEAN else 1.0 / dim
    h = np.where(active, scale if p == 1 else 2 * scale * z, 0).astype(a.dtype)
    if w is not None:
        h = h * w
    grad = h - onehot * h.sum(axis=1, keepdims=True)
    go = np.asarray(B.to_numpy(g))
    grad = grad * (go if reduction != NONE or go.ndim == 0 else go.reshape(nframe, 1))
    return B.xp.asarray(grad.reshape(a.shape).astype(a.dtype, copy=False))


def _margin_rule(self, target, *rest, **kw):
    n = numel(self.shape)
    reduction = kw.get("reduction", rest[-1] if rest else MEAN)
    nframe = self.shape[0] if len(self.shape) == 2 else 1
    out = (nframe,) if reduction == NONE and len(target.shape) > 0 else ()
    return Cost(out, 6 * n, 3 * n)


def _multilabel_rule(self, target, reduction=MEAN):
    n = numel(self.shape)
    dim = self.shape[-1] if len(self.shape) else 1
    nframe = self.shape[0] if len(self.shape) == 2 else 1
    out = (nframe,) if reduction == NONE and len(target.shape) > 1 else ()
    # _multilabel_terms' arrays of n x dim (z, np.where's, the product by counts: float64; four bool masks) are
    # held at once with ~10 passes over them: charged 4 and 10 (they were 1 and 4: a [256, 256] input traced 420 MB
    # for 134 MB charged, safeO)
    return Cost(out, 10 * n * dim, 4 * n * dim)


multi_margin_loss_backward = defop(
    "multi_margin_loss_backward(Tensor grad_output, Tensor self, Tensor target, Scalar p, Scalar margin, "
    "Tensor? weight=None, int reduction=1) -> Tensor",
    _multi_margin_backward_fwd,
    grad_output=_not_implemented("multi_margin_loss_backward"), self=_not_implemented("multi_margin_loss_backward"),
    rule=lambda grad_output, self, target, p, margin, weight=None, reduction=MEAN: Cost(
        tuple(self.shape), 8 * numel(self.shape), 3 * numel(self.shape)),
)
multi_margin_loss_op = defop(
    "multi_margin_loss(Tensor self, Tensor target, Scalar p=1, Scalar margin=1, Tensor? weight=None, "
    "int reduction=1) -> Tensor",
    _multi_margin_fwd,
    self=lambda grad, self, target, p, margin, weight, reduction: multi_margin_loss_backward(
        grad, self, target, p, margin, weight, reduction),
    rule=lambda self, target, p=1, margin=1, weight=None, reduction=MEAN: _margin_rule(
        self, target, reduction=reduction),
)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                      size_average: bool | None = None, reduce: bool | None = None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: sum over d != y of max(0, margin - x[y] + x[d]) ** p (times weight[y]) / C:
    MultiMarginLossBackward0."""
    red = _legacy_enum(size_average, reduce, reduction)
    if p not in (1, 2):
        raise TorchValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise TorchValueError("weight must be one-dimensional")
    _check_no_requires_grad(weight, "weight", "multi_margin_loss")
    return multi_margin_loss_op(input, target, p, margin, weight, red)


def _multilabel_check(a, target):
    nframe, dim = _frames(a, "multilabel_margin_loss")
    ok = (target.ndim <= 1 and target.size == dim) if a.ndim <= 1 else (
        target.ndim == 2 and target.shape[0] == nframe and target.shape[1] == dim)
    if not ok:
        raise TorchRuntimeError(f"inconsistent target size: {_sizes(target)} for input of size: {_sizes(a)}")
    if a.dtype.kind != "f":
        raise TorchNotImplementedError(
            f"\"multilabel_margin_loss_forward_out_frame\" not implemented for '{_word(a)}'")
    t = np.asarray(B.to_numpy(target)).reshape(nframe, dim)
    if t.size and ((t < -1) | (t >= dim)).any():
        raise TorchRuntimeError("argument #2 'target' is out of range")
    if target.dtype != np.int64:
        raise TorchRuntimeError(f"expected scalar type Long but found {_word(target)}")
    return nframe, dim, t


def _multilabel_terms(a, t, nframe, dim):
    """For each frame: counts[n, j] (how often class j is listed before the first -1), is_target, and the
    active hinge terms active[n, j, d] (1 - x[j] + x[d] > 0, j listed, d not a target)."""
    x = np.asarray(B.to_numpy(a)).reshape(nframe, dim)
    listed = np.cumprod(t != -1, axis=1).astype(bool)
    counts = np.zeros((nframe, dim), dtype=np.int64)
    rows = np.repeat(np.arange(nframe), dim)
    np.add.at(counts, (rows[listed.reshape(-1)], t.reshape(-1)[listed.reshape(-1)]), 1)
    is_target = counts > 0
    z = 1 - x[:, :, None] + x[:, None, :]
    active = (z > 0) & (counts[:, :, None] > 0) & ~is_target[:, None, :]
    return x, z, counts, active


def _multilabel_fwd(a, target, reduction=MEAN):
    nframe, dim, t = _multilabel_check(a, target)
    x, z, counts, active = _multilabel_terms(a, t, nframe, dim)
    per = (np.where(active, z, 0) * counts[:, :, None]).sum(axis=(1, 2)).astype(a.dtype) / a.dtype.type(dim)
    per = per.astype(a.dtype)
    if reduction == NONE:
        return B.xp.asarray(per if target.ndim > 1 else per.reshape(()))
    s = per.sum(dtype=a.dtype)
    if reduction == MEAN:
        s = s / a.dtype.type(nframe) if nframe else a.dtype.type(0)
    return B.xp.asarray(s).astype(a.dtype)


def _multilabel_backward_fwd(g, a, target, reduction):
    nframe, dim, t = _multilabel_check(a, target)
    x, z, counts, active = _multilabel_terms(a, t, nframe, dim)
    scale = 1.0 / (nframe * dim) if reduction == MEAN else 1.0 / dim
    weighted = active * counts[:, :, None]
    grad = (weighted.sum(axis=1) - weighted.sum(axis=2)) * scale
    go = np.asarray(B.to_numpy(g))
    grad = grad * (go if reduction != NONE or go.ndim == 0 else go.reshape(nframe, 1))
    return B.xp.asarray(grad.reshape(a.shape).astype(a.dtype, copy=False))


multilabel_margin_loss_backward = defop(
    "multilabel_margin_loss_backward(Tensor grad_output, Tensor self, Tensor target, int reduction) -> Tensor",
    _multilabel_backward_fwd,
    grad_output=_not_implemented("multilabel_margin_loss_backward"),
    self=_not_implemented("multilabel_margin_loss_backward"),
    rule=lambda grad_output, self, target, reduction: Cost(  # as the forward's (_multilabel_rule)
        tuple(self.shape), 10 * numel(self.shape) * (self.shape[-1] if len(self.shape) else 1),
        4 * numel(self.shape) * (self.shape[-1] if len(self.shape) else 1)),
)
multilabel_margin_loss_op = defop(
    "multilabel_margin_loss(Tensor self, Tensor target, int reduction=1) -> Tensor", _multilabel_fwd,
    self=lambda grad, self, target, reduction: multilabel_margin_loss_backward(grad, self, target, reduction),
    rule=_multilabel_rule,
)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss over the classes listed in target (up to the first -1):
    MultilabelMarginLossBackward0."""
    return multilabel_margin_loss_op(input, target, _legacy_enum(size_average, reduce, reduction))


# ----- aten's compositions -----


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average: bool | None = None,
                         reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """x where target is 1, max(0, margin - x) where it is -1 (aten's where / clamp_min composition)."""
    red = _legacy_enum(size_average, reduce, reduction)
    zeros = _full_like(input, 0)
    margin_clamp = _clamp_min0(_full_like(input, margin) - input)
    output_margin = P.where(target != 1, margin_clamp, zeros)
    output_self = P.where(target != -1, input, zeros)
    return _apply_reduction(output_margin + output_self, red)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos - margin) where it is -1."""
    red = _legacy_enum(size_average, reduce, reduction)
    targ_dim = target.ndim
    if targ_dim not in (0, 1):
        raise TorchRuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if targ_dim == 1:
        if not (input1.ndim == 2 and input2.ndim == 2):
            raise TorchRuntimeError(
                "1D target tensor expects 2D input tensors, but found inputs with sizes "
                f"{_sizes(input1)} and {_sizes(input2)}.")
    elif not (input1.ndim == 1 and input2.ndim == 1):
        raise TorchRuntimeError(
            "0D target tensor expects 1D input tensors, but found inputs with sizes "
            f"{_sizes(input1)} and {_sizes(input2)}.")
    prod_sum = R.sum(input1 * input2, targ_dim)
    mag_square1 = NF.add_scalar(R.sum(input1 * input1, targ_dim), _EPSILON)
    mag_square2 = NF.add_scalar(R.sum(input2 * input2, targ_dim), _EPSILON)
    denom = P.sqrt(mag_square1 * mag_square2)
    cos = prod_sum / denom
    zeros = _full_like(cos, 0)
    pos = _full_like(cos, 1) - cos
    neg = _clamp_min0(sub_scalar(cos, margin))
    output_pos = P.where(target == 1, pos, zeros)
    output_neg = P.where(target == -1, neg, zeros)
    return _apply_reduction(output_pos + output_neg, red)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """max(0, -target * (x1 - x2) + margin)."""
    red = _legacy_enum(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise TorchRuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {_torch_size(input1)}, input2: {_torch_size(input2)}, target: {_torch_size(target)} ")
    out = _clamp_min0(NF.add_scalar(-target * (input1 - input2), margin))
    return _apply_reduction(out, red)


def _torch_size(t):
    return f"torch.Size([{', '.join(str(s) for s in t.shape)}])"


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) with pairwise_distance (swap: the smaller of d(a, n), d(p, n))."""
    red = _legacy_enum(size_average, reduce, reduction)
    if margin <= 0:
        raise TorchValueError(f"margin must be greater than 0, got {margin}")
    _same_dims(anchor, positive, negative)
    dist_pos = pairwise_distance(anchor, positive, p, eps)
    dist_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dist_neg = P.minimum(dist_neg, pairwise_distance(positive, negative, p, eps))
    out = _clamp_min0(NF.add_scalar(dist_pos, margin) - dist_neg)
    return _apply_reduction(out, red)


def _same_dims(anchor, positive, negative):
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not (a == p and p == n):
        raise TorchRuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number of dimensions, but "
            f"got: anchor {a}D, positive {p}D, and negative {n}D inputs")


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """torch.nn.functional's Python composition, with any distance function (default pairwise_distance)."""
    if reduction not in ("mean", "sum", "none"):
        raise TorchValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise TorchValueError(f"margin must be greater than 0, got {margin}")
    _same_dims(anchor, positive, negative)
    if distance_function is None:
        distance_function = pairwise_distance
    dist_pos = distance_function(anchor, positive)
    dist_neg = distance_function(anchor, negative)
    if swap:
        dist_swap = distance_function(positive, negative)
        dist_neg = P.minimum(dist_neg, dist_swap)
    loss = clamp_min_scalar(margin + dist_pos - dist_neg, 0)
    if reduction == "sum":
        return R.sum(loss)
    if reduction == "mean":
        return R.mean(loss)
    return loss


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: bool | None = None, eps: float = 1e-8, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """exp(x) - t * x (log_input), else x - t * log(x + eps); full adds Stirling's term where t > 1."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_string(size_average, reduce)
    if reduction not in ("none", "mean", "sum"):
        raise TorchValueError(reduction + " is not a valid value for reduction")
    red = _get_enum(reduction)
    if log_input:
        loss = P.exp(input) - target * input
    else:
        loss = input - target * P.log(NF.add_scalar(input, eps))
    if full:
        stirling = target * P.log(target) - target + NF.mul_scalar(
            P.log(NF.mul_scalar(target, 2 * math.pi)), 0.5)
        loss = loss + NF.masked_fill(stirling, (target <= 1)._data, 0)
    return _apply_reduction(loss, red)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """0.5 * (log(max(var, eps)) + (input - target) ** 2 / max(var, eps)) (+ 0.5 * log(2 pi) when full)."""
    if isinstance(var, float):
        if var < 0:
            raise TorchValueError("var has negative entry/entries")
        var = _full_like(input, var)  # var * ones_like(input)
    elif bool((_np(var) < 0).any()):
        raise TorchValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = S.unsqueeze(var, -1)
        elif input.ndim == var.ndim and sum(y for x, y in zip(input.shape, var.shape) if x != y) == 1:
            pass
        else:
            raise TorchValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise TorchValueError(reduction + " is not valid")
    var = P.clone(var)
    with no_grad():  # var.clamp_(min=eps) under no_grad: the clone's node stays
        var._data = B.xp.maximum(var._data, _scalar(eps, var._data.dtype))
    loss = 0.5 * (P.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    if reduction == "mean":
        return R.mean(loss)
    if reduction == "sum":
        return R.sum(loss)
    return loss


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """-(t * logsigmoid(x) + (1 - t) * logsigmoid(-x)) (times weight), summed over classes / C."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_string(size_average, reduce)
    loss = -(target * NF.logsigmoid(input) + (1 - target) * NF.logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    c = input.shape[class_dim]
    loss = R.sum(loss, class_dim) / c
    if reduction == "none":
        return loss
    if reduction == "mean":
        return R.mean(loss)
    if reduction == "sum":
        return R.sum(loss)
    raise TorchValueError(reduction + " is not valid")


_F = {"function": False, "method": False, "functional": True}

CATALOG = [
    entry("soft_margin_loss", soft_margin_loss, "log(1 + exp(-target * input)).", soft_margin_loss_op, **_F),
    entry("multi_margin_loss", multi_margin_loss, "Multi-class hinge loss (p = 1 or 2, optional class weights).",
          multi_margin_loss_op, **_F),
    entry("multilabel_margin_loss", multilabel_margin_loss, "Multi-label hinge loss (targets listed up to -1).",
          multilabel_margin_loss_op, **_F),
    entry("hinge_embedding_loss", hinge_embedding_loss, "x for target 1, max(0, margin - x) for target -1.",
          grad_fns=("WhereBackward0", "ClampMinBackward0", "AddBackward0"), **_F),
    entry("cosine_embedding_loss", cosine_embedding_loss, "1 - cos for target 1, max(0, cos - margin) for -1.",
          grad_fns=("WhereBackward0", "DivBackward0", "ClampMinBackward0"), **_F),
    entry("margin_ranking_loss", margin_ranking_loss, "max(0, -target * (x1 - x2) + margin).",
          grad_fns=("ClampMinBackward0",), **_F),
    entry("triplet_margin_loss", triplet_margin_loss, "max(0, margin + d(a, p) - d(a, n)), p-norm distances.",
          grad_fns=("ClampMinBackward0", "NormBackward1"), **_F),
    entry("triplet_margin_with_distance_loss", triplet_margin_with_distance_loss,
          "Triplet margin loss with any distance function.", grad_fns=("ClampMinBackward0",), **_F),
    entry("poisson_nll_loss", poisson_nll_loss, "Poisson negative log likelihood (log_input, full).",
          grad_fns=("ExpBackward0", "SubBackward0"), **_F),
    entry("gaussian_nll_loss", gaussian_nll_loss, "Gaussian negative log likelihood with variances var.",
          grad_fns=("MulBackward0", "LogBackward0"), **_F),
    entry("multilabel_soft_margin_loss", multilabel_soft_margin_loss,
          "Multi-label one-versus-all loss on logits (mean over classes).", grad_fns=("DivBackward0",), **_F),
]

