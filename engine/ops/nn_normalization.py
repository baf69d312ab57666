"""torch.nn.functional's normalization: layer_norm, batch_norm (entries, checks, forward-AD formulas), and the
compositions normalize and cosine_similarity."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.autograd import grad_mode, no_grad
from engine.errors import (
    TorchNotImplementedError,
    TorchRuntimeError,
    TorchValueError,
)
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import rules as C
from engine.ops import shape as S
from engine.ops._util import broadcast_shapes, list_str, wrap_dim
from engine.ops.jvp import tmap, tsum
from engine.ops.nn_common import _const, _errstate, _need_float, _stat_rule, _word, clamp_min
from engine.ops.registry import defop
from engine.tensor import Size, Tensor

# ----- normalization -----


def _ln_check(x, normalized_shape, w, b):
    ns = [int(s) for s in normalized_shape]
    if len(ns) < 1:
        raise TorchRuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, "
            f"but got normalized_shape = {list_str(ns)}")
    if w is not None and list(w.shape) != ns:
        raise TorchRuntimeError(
            "Expected weight to be of same shape as normalized_shape, but got weight of shape "
            f"{list_str(w.shape)} and normalized_shape = {list_str(ns)}")
    if b is not None and list(b.shape) != ns:
        raise TorchRuntimeError(
            "Expected bias to be of same shape as normalized_shape, but got bias of shape "
            f"{list_str(b.shape)} and normalized_shape = {list_str(ns)}")
    if x.ndim < len(ns) or list(x.shape[x.ndim - len(ns):]) != ns:
        raise TorchRuntimeError(
            f"Given normalized_shape={list_str(ns)}, expected input with shape "
            f"[*{''.join(', ' + str(s) for s in ns)}], but got input of size{list_str(x.shape)}")
    _need_float(x, "LayerNormKernelImpl")
    for p in (w, b):
        if p is not None and p.dtype != x.dtype:
            raise TorchRuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    return ns


def _ln_fwd(x, normalized_shape, w, b, eps):
    ns = _ln_check(x, normalized_shape, w, b)
    if x.size == 0:  # torch's empty answer at once: the statistics over an empty normalized shape are N-long
        return x.copy()
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    xd = x.astype(np.float64)
    with _errstate():
        mean = xd.mean(axis=axes, keepdims=True)
        var = ((xd - mean) ** 2).mean(axis=axes, keepdims=True)
        y = (xd - mean) / np.sqrt(var + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y.astype(x.dtype)


def _tie(t, *deps):
    """t plus a zero multiple of deps: torch's multi-output backward functions (native_layer_norm_backward,
    native_batch_norm_backward) give every output one node, so under create_graph each first-order gradient
    requires grad as soon as any differentiable input does."""
    if t is None or not grad_mode.enabled or t.requires_grad:
        return t
    for d in deps:
        if d is not None and d.requires_grad:
            return _tie_op(t, d)
    return t


# t itself, recorded with an edge to dep whose gradient is undefined (None), as torch's double-backward
# functions return undefined gradients for inputs a first-order output does not depend on
_tie_op = defop("_tie_nn(Tensor self, Tensor dep) -> Tensor", lambda a, d: a, index=0, rule=C.like(),
                jvp="element_wise",
                self=lambda grad: grad, dep=lambda grad: None)


def _ln_grad(grad, input, weight, normalized_shape, eps, output_mask=(True, True, True)):
    k = len(normalized_shape)
    n = input.ndim
    axes = list(range(n - k, n))
    batch = list(range(n - k))
    mu = input.mean(axes, True)
    xc = input - mu
    rstd = ((xc * xc).mean(axes, True) + eps).rsqrt()
    xhat = xc * rstd
    gi = gw = gb = None
    if output_mask[0]:
        g = grad * weight if weight is not None else grad
        gi = rstd * (g - g.mean(axes, True) - xhat * (g * xhat).mean(axes, True))
    if output_mask[1] and weight is not None:
        t = grad * xhat
        gw = t.sum(batch) if batch else t
    if output_mask[2]:
        gb = grad.sum(batch) if batch else grad
    return _tie(gi, input, weight), _tie(gw, input, weight), _tie(gb, input, weight)


layer_norm_op = defop(
    "native_layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias, float eps) "
    "-> Tensor",
    _ln_fwd, index=0,
    # float64: the copy, x - mean and its square, y and its scaled and shifted copies; the backward's xc, xhat,
    # g and its centred and projected terms
    rule=lambda input: _stat_rule(6, 9)(input),
    jvp=lambda input_t, weight_t, bias_t, input, weight, normalized_shape, eps: _norm_jvp(
        input_t, weight_t, bias_t, input, weight, list(range(input.ndim - len(normalized_shape), input.ndim)),
        None, eps),
    input__weight__bias=lambda grad, input, weight, normalized_shape, eps: _ln_grad(
        grad, input, weight, normalized_shape, eps),
)


def _bn_fwd(x, w, b, running_mean, running_var, training, momentum, eps):
    c = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    cshape = (1, c) + (1,) * (x.ndim - 2)
    xd = x.astype(np.float64)
    with _errstate():
        if training:
            mean = xd.mean(axis=axes, keepdims=True)
            var = ((xd - mean) ** 2).mean(axis=axes, keepdims=True)
            n = x.size // c if c else 0
            if running_mean is not None:
                rm = running_mean._data
                new = (1 - momentum) * rm.astype(np.float64) + momentum * mean.reshape(c)
                rm[...] = new.astype(rm.dtype)
            if running_var is not None:
                rv = running_var._data
                unbiased = var.reshape(c) * (n / (n - 1)) if n > 1 else B.xp.full(c, np.nan)
                rv[...] = ((1 - momentum) * rv.astype(np.float64) + momentum * unbiased).astype(rv.dtype)
        else:
            mean = running_mean._data.astype(np.float64).reshape(cshape)
            var = running_var._data.astype(np.float64).reshape(cshape)
        y = (xd - mean) / np.sqrt(var + eps)
    if w is not None:
        y = y * w.reshape(cshape)
    if b is not None:
        y = y + b.reshape(cshape)
    return y.astype(x.dtype)


def _bn_grad(grad, input, weight, running_mean, running_var, training, eps, output_mask=(True, True, True)):
    n = input.ndim
    c = input.shape[1]
    axes = [0] + list(range(2, n))
    cshape = (1, c) + (1,) * (n - 2)
    if training:
        mu = input.mean(axes, True)
        xc = input - mu
        invstd = ((xc * xc).mean(axes, True) + eps).rsqrt()
    else:
        dt = input._data.dtype
        xc = input - _const(running_mean._data.astype(dt).reshape(cshape))
        inv = 1.0 / np.sqrt(running_var._data.astype(np.float64) + eps)
        invstd = _const(inv.astype(dt).reshape(cshape))
    xhat = xc * invstd
    gi = gw = gb = None
    if output_mask[0]:
        g = grad * weight.reshape(cshape) if weight is not None else grad
        if training:
            gi = invstd * (g - g.mean(axes, True) - xhat * (g * xhat).mean(axes, True))
        else:
            gi = g * invstd
    if output_mask[1] and weight is not None:
        gw = (grad * xhat).sum(axes)
    if output_mask[2]:
        gb = grad.sum(axes)
    return _tie(gi, input, weight), _tie(gw, input, weight), _tie(gb, input, weight)


# running_mean / running_var are attributes: NativeBatchNormBackward0 has edges (input, weight, bias)
batch_norm_op = defop(
    "native_batch_norm(Tensor input, Tensor? weight, Tensor? bias, Stat running_mean, Stat running_var, "
    "bool training, float momentum, float eps) -> Tensor",
    _bn_fwd, index=0,
    rule=lambda input: _stat_rule(6, 9)(input),
    jvp=lambda input_t, weight_t, bias_t, input, weight, running_mean, running_var, training, eps: _norm_jvp(
        input_t, weight_t, bias_t, input, weight, [0, *range(2, input.ndim)], (1, input.shape[1]) + (1,) * (
            input.ndim - 2), eps, None if training else (running_mean, running_var)),
    input__weight__bias=lambda grad, input, weight, running_mean, running_var, training, eps: _bn_grad(
        grad, input, weight, running_mean, running_var, training, eps),
)


def _norm_jvp(input_t, weight_t, bias_t, input, weight, axes, cshape, eps, running=None):
    """layer_norm_jvp / batch_norm_jvp: with x̂ = (x - mean) * rstd over `axes` (the running statistics in
    evaluation), the tangent of x̂ * weight + bias is dx̂ * weight + x̂ * weight_t + bias_t, where
    dx̂ = rstd * (x_t - mean(x_t)) - x̂ * rstd * mean(x̂ * x_t) (rstd * x_t with running statistics).
    cshape: how weight and bias broadcast (batch norm's channels), None where they are the trailing dims."""
    shape = (lambda t: t.reshape(cshape)) if cshape is not None else (lambda t: t)
    if running is None:
        mu = input.mean(axes, True)
        xc = input - mu
        rstd = ((xc * xc).mean(axes, True) + eps).rsqrt()
    else:
        dt = input._data.dtype
        xc = input - _const(running[0]._data.astype(dt).reshape(cshape))
        rstd = _const((1.0 / np.sqrt(running[1]._data.astype(np.float64) + eps)).astype(dt).reshape(cshape))
    xhat = xc * rstd
    dx = None
    if input_t is not None:
        if running is None:
            dx = rstd * (input_t - input_t.mean(axes, True)) - xhat * (rstd * (xhat * input_t).mean(axes, True))
        else:
            dx = input_t * rstd
        if weight is not None:
            dx = dx * shape(weight)
    return tsum(dx, tmap(weight_t, lambda t: xhat * shape(t)), tmap(bias_t, shape))


def _bn_checks(input, weight, bias, running_mean, running_var, training):
    """at::batch_norm's checks (_batch_norm_impl_index, then the CPU kernel's), in torch's order."""
    c = input.shape[wrap_dim(1, input.ndim)]
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None:
            if t.numel() != c:
                raise TorchRuntimeError(f"{name} should contain {c} elements not {t.numel()}")
        elif not training:
            raise TorchRuntimeError(f"{name} must be defined in evaluation mode")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise TorchRuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    if (running_mean is None) != (running_var is None):
        raise TorchValueError("running_mean and running_var must either both be None or neither be None")
    if input.dtype.category != 2:
        raise TorchNotImplementedError(f'"batch_norm" not implemented for \'{_word(input.dtype)}\'')
    for t in (weight, bias):
        if t is not None and t.dtype is not input.dtype:
            raise TorchRuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    for t in (running_mean, running_var):
        if t is not None and t.dtype is not input.dtype:
            raise TorchRuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p over dim, eps), as torch composes it."""
    denom = S.expand_as(clamp_min(R.vector_norm_op(input, p, [dim], True), eps), input)
    res = P.div(input, denom)
    if out is not None:
        out._data = res._data
        return out
    return res


def layer_norm(input: Tensor, normalized_shape: list[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-05) -> Tensor:
    """Normalize over the last len(normalized_shape) dims: NativeLayerNormBackward0."""
    if isinstance(normalized_shape, int):
        normalized_shape = [normalized_shape]
    return layer_norm_op(input, [int(s) for s in normalized_shape], weight, bias, eps)


def torch_layer_norm(input: Tensor, normalized_shape: list[int], weight: Tensor | None = None,
                     bias: Tensor | None = None, eps: float = 1e-05, cudnn_enable: bool = True) -> Tensor:
    return layer_norm(input, normalized_shape, weight, bias, eps)


torch_layer_norm.__name__ = "layer_norm"


def _verify_batch_size(size):
    prods = size[0]
    for s in size[2:]:
        prods *= s
    if prods == 1:
        raise TorchValueError(
            f"Expected more than 1 value per channel when training, got input size {Size(size)}")


def _torch_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    _bn_checks(input, weight, bias, running_mean, running_var, training)
    return batch_norm_op(input, weight, bias, running_mean, running_var, bool(training), float(momentum),
                         float(eps))


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-05) -> Tensor:
    """Normalize per channel (dim 1): batch statistics when training (running stats updated in place),
    running statistics otherwise. NativeBatchNormBackward0."""
    if training:
        _verify_batch_size(tuple(input.shape))
    if training and eps <= 0.0:
        raise TorchValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise TorchValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if input.numel() == 0:  # aten's _batch_norm_impl_index: a clone (scaled by weight[0], shifted by bias[0])
        out = P.clone(input)
        if weight is not None:
            out = out * weight[0]
        if bias is not None:
            out = out + bias[0]
        return out
    return _torch_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)


def torch_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                     running_var: Tensor | None, training: bool, momentum: float, eps: float,
                     cudnn_enabled: bool = True) -> Tensor:
    """torch.batch_norm (aten's argument order)."""
    return _torch_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)


torch_batch_norm.__name__ = "batch_norm"


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-08) -> Tensor:
    """sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps)), dim), as torch 2.13 composes it (the clamp
    is applied in place under no_grad, so it leaves no node)."""
    dt = D.result_type(x1, x2)
    if not dt.is_floating_point:
        raise TorchRuntimeError(
            f"expected common dtype to be floating point, yet common dtype is {_word(dt)}")
    if not x1.dtype.is_floating_point:
        x1 = x1.to(dt)
    if not x2.dtype.is_floating_point:
        x2 = x2.to(dt)
    if tuple(x1.shape) != tuple(x2.shape):
        shape = broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
        x1 = S.expand(x1, shape)
        x2 = S.expand(x2, shape)
    n1 = P.clone(R.vector_norm_op(x1, 2, [dim], True))
    n2 = P.clone(R.vector_norm_op(x2, 2, [dim], True))
    # the clamp through its entry (clamp_min.nn: np.maximum(n, _scalar(eps, dtype)), the same bits), its output
    # stored as the norm's data: a lowered replay runs the entry again on its own norms (glue.ARRAYS_REVIEWED)
    with no_grad():
        n1._data = clamp_min(n1, eps)._data
        n2._data = clamp_min(n2, eps)._data
    return R.sum((x1 / n1) * (x2 / n2), dim)
