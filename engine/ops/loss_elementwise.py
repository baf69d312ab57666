"""Elementwise losses with their own derivative (entries): mse_loss, smooth_l1_loss, huber_loss,
binary_cross_entropy and binary_cross_entropy_with_logits, each with its reduction inside the kernel."""
from __future__ import annotations

import numpy as np

from engine import dtypes as D
from engine.errors import TorchRuntimeError
from engine.ops import loss_f16_bw as LB
from engine.ops import nn_functional as NF
from engine.ops import pointwise as P
from engine.ops import rules as C
from engine.ops._util import broadcast_shapes
from engine.ops.jvp import loss, no_forward_formula, zero_tensor_write
from engine.ops.loss_common import MEAN, NONE, _arr, _inplace_shape, _loss_rule, _norm, _reduce_arr
from engine.ops.nn_functional import _errstate, _need_float, _scalar, _word
from engine.ops.registry import defop

# ----- elementwise losses with their own derivative -----


def _mse_fwd(a, b, reduction=MEAN):
    _need_float(a, "mse_cpu")
    d = a - b
    return _reduce_arr(d * d, reduction)


mse_loss_op = defop(
    "mse_loss(Tensor self, Tensor target, int reduction=1) -> Tensor", _mse_fwd, promote=True, index=0,
    rule=_loss_rule(3, 2, 7), jvp=loss(),
    # mse_loss_backward(grad, self, target) and (grad, target, self): mse_backward_cpu_kernel's
    # alpha * (a - b) * grad, alpha = 2. / numel (mean) or 2. in double
    self=lambda grad, self, target, reduction: _mse_checked(grad, self, target, reduction) * _mse_alpha(
        self, reduction) * grad,
    target=lambda grad, self, target, reduction: _mse_checked(grad, target, self, reduction) * _mse_alpha(
        self, reduction) * grad,
)


def _mse_alpha(self, reduction):
    """The kernel's alpha as value.to<scalar_t>(): rounded to half for float16 (a float32 / float64 product with
    a Python float rounds it to the tensor's dtype already)."""
    alpha = 2.0 / max(self.numel(), 1) if reduction == MEAN else 2.0
    return float(np.float16(alpha)) if self._data.dtype == np.float16 else alpha


def _mse_checked(grad, x, y, reduction):
    """x - y, after torch's forward-over-reverse error: its mse_loss_backward formula writes into a missing tangent
    (a ZeroTensor) for a mean reduction."""
    if reduction == MEAN:
        zero_tensor_write(grad, x, y)
    return x - y


def _smooth_l1_arr(a, b, beta, huber):
    dt = a.dtype
    z = np.abs(a - b)
    bt = _scalar(beta, dt)
    half = _scalar(0.5, dt)
    if huber:
        return np.where(z < bt, half * z * z, bt * (z - half * bt)).astype(dt, copy=False)
    return np.where(z < bt, half * z * z / bt, z - half * bt).astype(dt, copy=False)


def _smooth_l1_fwd(a, b, reduction=MEAN, beta=1.0):
    if beta < 0:
        raise TorchRuntimeError("smooth_l1_loss does not support negative values for beta.")
    _need_float(a, "smooth_l1_cpu")
    return _reduce_arr(_smooth_l1_arr(a, b, beta, False), reduction)


def _huber_fwd(a, b, reduction=MEAN, delta=1.0):
    if not delta > 0:
        raise TorchRuntimeError("huber_loss does not support non-positive values for delta.")
    _need_float(a, "huber_cpu")
    return _reduce_arr(_smooth_l1_arr(a, b, delta, True), reduction)


def _smooth_l1_grad(grad, x, y, reduction, beta, numel_of):
    """smooth_l1_backward(grad, x, y): -g below -beta, g above beta, (x - y) * g / beta between."""
    if x.dtype is D.float16:  # aten's kernel: float16 in float, its vector body and scalar tail (loss_f16_bw)
        return LB.smooth_l1_loss_backward(grad, x, y, reduction, beta)
    d = x - y
    norm = _norm(numel_of, reduction)
    g = grad * norm
    return P.where(d <= -beta, -g, P.where(d >= beta, g, d / beta * norm * grad))  # the kernel's order


def _huber_grad(grad, x, y, reduction, delta, numel_of):
    no_forward_formula("huber_loss_backward", grad, x, y)  # torch's huber_loss_backward has none
    if x.dtype is D.float16:  # aten's kernel: its vector body and scalar tail round differently (loss_f16_bw)
        return LB.huber_loss_backward(grad, x, y, reduction, delta)
    d = x - y
    norm = _norm(numel_of, reduction)
    g = grad * norm
    return P.where(d <= -delta, -g * delta, P.where(d >= delta, g * delta, norm * d * grad))  # the kernel's order


smooth_l1_loss_op = defop(
    "smooth_l1_loss(Tensor self, Tensor target, int reduction=1, float beta=1.0) -> Tensor", _smooth_l1_fwd,
    promote=True, index=0, rule=_loss_rule(6, 6, 12), jvp=loss(),
    self=lambda grad, self, target, reduction, beta: _smooth_l1_grad(
        grad, self, target, reduction, beta, self),
    target=lambda grad, self, target, reduction, beta: _smooth_l1_grad(
        grad, target, self, reduction, beta, self),
)
huber_loss_op = defop(
    "huber_loss(Tensor self, Tensor target, int reduction=1, float delta=1.0) -> Tensor", _huber_fwd,
    promote=True, index=0, rule=_loss_rule(6, 6, 12), jvp=loss(),
    self=lambda grad, self, target, reduction, delta: _huber_grad(grad, self, target, reduction, delta, self),
    target=lambda grad, self, target, reduction, delta: _huber_grad(
        grad, target, self, reduction, delta, self),
)


def _bce_fwd(a, t, weight=None, reduction=MEAN):
    _need_float(a, "binary_cross_entropy")
    if t.dtype != a.dtype:
        raise TorchRuntimeError(f"Found dtype {_word(t)} but expected {_word(a)}")
    if not np.all((a >= 0) & (a <= 1)):
        raise TorchRuntimeError("all elements of input should be between 0 and 1")
    if not np.all((t >= 0) & (t <= 1)):
        raise TorchRuntimeError("all elements of target should be between 0 and 1")
    dt = a.dtype
    one, floor = _scalar(1, dt), _scalar(-100, dt)
    with _errstate():
        loss = (t - one) * np.maximum(np.log1p(-a), floor) - t * np.maximum(np.log(a), floor)
    if weight is not None:
        w = _arr(weight)
        _inplace_shape(loss.shape, w.shape)
        loss = (loss * w).astype(dt, copy=False)
    return _reduce_arr(loss.astype(dt, copy=False), reduction)


_EPSILON = 1e-12


def _bce_grad_self(grad, self, target, weight, reduction):
    r = grad * (self - target) / P.clamp((1 - self) * self, min=_EPSILON)
    if weight is not None:
        r = r * weight
    return r / self.numel() if reduction == MEAN else r


def _bce_grad_target(grad, self, weight, reduction):
    r = -self.logit() * grad
    if weight is not None:
        r = r * weight
    return r / self.numel() if reduction == MEAN else r


# weight is an attribute: torch does not differentiate it (BinaryCrossEntropyBackward0 has two edges)
binary_cross_entropy_op = defop(
    "binary_cross_entropy(Tensor self, Tensor target, Weight weight=None, int reduction=1) -> Tensor",
    _bce_fwd, index=0,
    # the range masks; (t - 1), log1p(-x) and its floor, log(x) and its floor, t * that, the weighted loss
    rule=_loss_rule(2 * C.TRANSCENDENTAL, 8, 14), jvp=loss(),
    self=lambda grad, self, target, weight, reduction: _bce_grad_self(grad, self, target, weight, reduction),
    target=lambda grad, self, weight, reduction: _bce_grad_target(grad, self, weight, reduction),
)


def _bcel_fwd(a, t, weight=None, pos_weight=None, reduction=MEAN):
    _need_float(a, "log_sigmoid_cpu")
    if weight is None and pos_weight is None and type(a) is np.ndarray and type(t) is np.ndarray \
            and a.dtype == t.dtype and a.shape == t.shape and a.ndim and a.size and a.dtype.char in "fd":
        return _bcel_plain(a, t, reduction)
    lsi = NF._log_sigmoid_arr(a)
    if pos_weight is not None:
        pw = _arr(pos_weight)
        broadcast_shapes(tuple(pw.shape), tuple(t.shape))
        lw = (pw - 1) * t + 1
        _inplace_shape(lsi.shape, lw.shape)
        lsi = (lsi * lw).astype(lsi.dtype, copy=False)
    one_m = 1 - t
    if one_m.dtype.kind != "f":  # (1 - target).mul_(input): a float result cannot go into an integer tensor
        raise TorchRuntimeError(
            f"result type {_word(a)} can't be cast to the desired output type {_word(one_m)}")
    _inplace_shape(one_m.shape, a.shape)
    loss = (one_m * a).astype(one_m.dtype, copy=False)
    _inplace_shape(loss.shape, lsi.shape)
    loss = (loss - lsi).astype(one_m.dtype, copy=False)
    if weight is not None:
        w = _arr(weight)
        _inplace_shape(loss.shape, w.shape)
        loss = (loss * w).astype(one_m.dtype, copy=False)
    return _reduce_arr(loss, reduction)


def _bcel_plain(a, t, reduction):
    """_bcel_fwd without weights, input and target of one float dtype and shape (what most calls are): the
    same operations on the same values, in place into two buffers (10 NumPy calls, not ~20, and one errstate),
    so the same bits; the reduction is _reduce_arr's (torch's summation order)."""
    with _errstate():
        loss = bcel_elements(a, t)
    if reduction == NONE:
        return loss
    return _reduce_arr(loss, reduction)


def bcel_elements(a, t):
    """The unreduced loss of _bcel_plain's case, under the caller's error state (also the lowered programs'
    kernel, engine/program/kernels.py): nine NumPy calls into two buffers."""
    m = np.minimum(a, 0)  # log_sigmoid: min(a, 0) - log1p(exp(-|a|))
    u = np.abs(a)
    np.negative(u, out=u)
    np.exp(u, out=u)
    np.log1p(u, out=u)
    np.subtract(m, u, out=m)
    loss = np.subtract(1, t)  # (1 - target) * input - log_sigmoid(input)
    np.multiply(loss, a, out=loss)
    return np.subtract(loss, m, out=loss)


def _bcel_grad_self(grad, self, target, weight, pos_weight, reduction):
    if pos_weight is not None:
        t = pos_weight * target
        r = (t + 1 - target) * self.sigmoid() - t
    else:
        r = self.sigmoid() - target
    r = r * grad
    if weight is not None:
        r = r * weight
    return r / self.numel() if reduction == MEAN else r


def _bcel_grad_target(grad, self, weight, pos_weight, reduction):
    if pos_weight is not None:
        r = NF.log_sigmoid_op(-self) - NF.log_sigmoid_op(self) * pos_weight
    else:
        r = -self
    r = r * grad
    if weight is not None:
        r = r * weight
    return r / self.numel() if reduction == MEAN else r


binary_cross_entropy_with_logits_op = defop(
    "binary_cross_entropy_with_logits(Tensor self, Tensor target, Weight weight=None, "
    "Weight pos_weight=None, int reduction=1) -> Tensor",
    _bcel_fwd, index=0,
    rule=_loss_rule(3 * C.TRANSCENDENTAL, 8, 16), jvp=loss(),
    self=lambda grad, self, target, weight, pos_weight, reduction: _bcel_grad_self(
        grad, self, target, weight, pos_weight, reduction),
    target=lambda grad, self, weight, pos_weight, reduction: _bcel_grad_target(
        grad, self, weight, pos_weight, reduction),
)
