"""torch.nn.functional losses with torch 2.13's graphs, values, reductions and messages.

Losses with their own derivative in derivatives.yaml are entries here (mse_loss -> MseLossBackward0,
nll_loss_forward -> NllLossBackward0, ...), each including its reduction as torch's kernels do. The rest are
composed exactly where torch composes them: l1_loss is (input - target).abs() then mean/sum, kl_div is xlogy
and sub, cross_entropy is log_softmax then nll_loss (plus the label-smoothing and class-probability
decompositions of aten's cross_entropy_loss), and the Python-level weighted variants of mse/l1/huber.
"""
from __future__ import annotations

import warnings

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.errors import TorchIndexError, TorchRuntimeError, TorchTypeError, TorchValueError
from engine.ops import nn_functional as NF
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import rules as C
from engine.ops import shape as S
from engine.ops._util import broadcast_shapes, list_str
from engine.ops.jvp import loss, no_forward_formula, tmap, zero_tensor_write
from engine.ops.nn_functional import (
    _check_no_requires_grad,
    _const,
    _errstate,
    _need_float,
    _scalar,
    _word,
)
from engine.ops.registry import defop
from engine.tensor import Tensor

NONE, MEAN, SUM = 0, 1, 2

# ----- reductions: torch.nn._reduction -----


def _get_enum(reduction):
    if reduction == "none":
        return NONE
    if reduction == "mean":
        return MEAN
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
                      UserWarning, stacklevel=4)
        return MEAN
    if reduction == "sum":
        return SUM
    raise TorchValueError(f"{reduction} is not a valid value for reduction")


def _legacy_string(size_average, reduce):
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    ret = "mean" if size_average and reduce else ("sum" if reduce else "none")
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                  UserWarning, stacklevel=4)
    return ret


def _apply_reduction(loss, reduction):
    """at::apply_loss_reduction: MeanBackward0 / SumBackward0 over the elementwise loss."""
    if reduction == MEAN:
        return R.mean(loss)
    if reduction == SUM:
        return R.sum(loss)
    return loss


def _reduce_arr(loss, reduction):
    """The same reduction inside a kernel (one node for loss and reduction): torch's apply_loss_reduction is
    loss.mean() / loss.sum(), so float32 / float64 losses are summed in torch's order (reduction._fsum), and a
    mean is that sum divided by the count, as torch's mean kernel divides."""
    if reduction == MEAN:
        with _errstate():
            if loss.dtype.char in "fd":
                return B.xp.asarray(np.true_divide(R._fsum(loss, None, False), loss.size))
            return B.xp.asarray(np.mean(loss)).astype(loss.dtype)
    if reduction == SUM:
        if loss.dtype.char in "fd":
            return B.xp.asarray(R._fsum(loss, None, False))
        return B.xp.asarray(np.sum(loss)).astype(loss.dtype)
    return loss


def _norm(self, reduction):
    """1/numel for a mean reduction (the factor torch's *_backward functions apply), else 1."""
    return 1.0 / max(self.numel(), 1) if reduction == MEAN else 1.0


def _size_warning(input, target):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
            "This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            UserWarning, stacklevel=3,
        )


def _broadcast_tensors(a, b):
    """torch.broadcast_tensors for two tensors: only a tensor whose shape changes is expanded."""
    shape = broadcast_shapes(tuple(a.shape), tuple(b.shape))
    if tuple(a.shape) != shape:
        a = S.expand(a, shape)
    if tuple(b.shape) != shape:
        b = S.expand(b, shape)
    return a, b


def _inplace_shape(out_shape, other_shape):
    """An in-place binary op's check: the other operand must broadcast to the output's own shape."""
    full = broadcast_shapes(tuple(out_shape), tuple(other_shape))
    if full != tuple(out_shape):
        raise TorchRuntimeError(
            f"output with shape {list_str(out_shape)} doesn't match the broadcast shape {list_str(full)}")


def _arr(t):
    return t._data if isinstance(t, Tensor) else t


# ----- cost rules (engine/ops/rules.py) -----


def _loss_rule(weight, temp, bwd):
    """An elementwise loss of self and target with its reduction inside the kernel: `temp` / `bwd`
    temporaries of the elementwise size."""

    def rule(self, target, reduction):
        shape = C.broadcast(C.shape_of(self), C.shape_of(target))
        n = C.numel(shape)
        return C.Cost(shape if reduction == NONE else (), weight * n, temp * n, True, bwd * n)

    return rule


def _nll_rule(spatial):
    """nll_loss / nll_loss2d: the rows of class scores (a relaid copy of a strided or spatial input), then
    int64 and mask arrays per target; the backward: nll_loss_backward's zeros, its copy and its masks."""

    def rule(self, target, reduction):
        t = C.shape_of(target)
        m = C.numel(t)
        n_self = C.numel(self.shape)
        if reduction != NONE:
            out = ()
        elif spatial:
            out = tuple(t)
        else:
            out = (self.shape[0],) if self.ndim == 2 else ()
        return C.Cost(out, 3 * n_self, n_self + C.wide(10 * m, self), True, 2 * n_self + C.wide(12 * m, self))

    return rule


def _nll_backward_rule(grad_output, self, target):
    m = C.numel(C.shape_of(target))
    n = C.numel(self.shape)
    return C.Cost(tuple(self.shape), n, n + C.wide(12 * m, grad_output))


# ----- elementwise losses with their own derivative -----


def _mse_fwd(a, b, reduction=MEAN):
    _need_float(a, "mse_cpu")
    d = a - b
    return _reduce_arr(d * d, reduction)


mse_loss_op = defop(
    "mse_loss(Tensor self, Tensor target, int reduction=1) -> Tensor", _mse_fwd, promote=True, index=0,
    rule=_loss_rule(3, 2, 7), jvp=loss(),
    self=lambda grad, self, target, reduction: _mse_checked(grad, self, target, reduction) * (
        grad * (2.0 * _norm(self, reduction))),
    target=lambda grad, self, target, reduction: -_mse_checked(grad, self, target, reduction) * (
        grad * (2.0 * _norm(self, reduction))),
)


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
    d = x - y
    g = grad * _norm(numel_of, reduction)
    return P.where(d <= -beta, -g, P.where(d >= beta, g, d * g / beta))


def _huber_grad(grad, x, y, reduction, delta, numel_of):
    no_forward_formula("huber_loss_backward", grad, x, y)  # torch's huber_loss_backward has none
    d = x - y
    g = grad * _norm(numel_of, reduction)
    return P.where(d <= -delta, -g * delta, P.where(d >= delta, g * delta, d * g))


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
        m = np.minimum(a, 0)  # log_sigmoid: min(a, 0) - log1p(exp(-|a|))
        u = np.abs(a)
        np.negative(u, out=u)
        np.exp(u, out=u)
        np.log1p(u, out=u)
        np.subtract(m, u, out=m)
        loss = np.subtract(1, t)  # (1 - target) * input - log_sigmoid(input)
        np.multiply(loss, a, out=loss)
        np.subtract(loss, m, out=loss)
    if reduction == NONE:
        return loss
    return _reduce_arr(loss, reduction)


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

# ----- nll_loss (1-D/2-D input) and nll_loss2d (4-D input) -----


def _nll_values(a2, t1, w, ignore_index):
    """Per-row -w[t] * x[t] and w[t] (0 where ignored); bad targets raise in the order torch checks them."""
    n, c = a2.shape
    valid = t1 != ignore_index
    bad = valid & ((t1 < 0) | (t1 >= c))
    if bad.any():
        raise TorchIndexError(f"Target {int(t1[np.argmax(bad)])} is out of bounds.")
    tc = np.where(valid, t1, 0)
    picked = a2[B.xp.arange(n), tc]
    wt = w[tc].astype(a2.dtype) if w is not None else B.xp.ones(n, dtype=a2.dtype)
    wt = np.where(valid, wt, B.xp.zeros((), a2.dtype))
    vals = np.where(valid, -picked * wt, B.xp.zeros((), a2.dtype))
    return vals, wt, valid, tc


def _nll_reduce(vals, wt, reduction, dtype, n_target):
    if n_target == 0:
        return B.xp.asarray(np.nan if reduction == MEAN else 0.0, dtype=dtype)
    out = np.sum(vals.astype(np.float64))
    if reduction == MEAN:
        with _errstate():
            out = out / np.sum(wt.astype(np.float64))
    return B.xp.asarray(out).astype(dtype)


def _nll_weight_dtype(a, w):
    if w is not None and w.dtype != a.dtype:
        raise TorchRuntimeError(f"expected scalar type {_word(a)} but found {_word(w)}")


def _nll_fwd(a, target, weight=None, reduction=MEAN, ignore_index=-100):
    _check_no_requires_grad(weight, "weight", "nll_loss_forward")
    t = _arr(target)
    w = _arr(weight) if weight is not None else None
    if not (0 < a.ndim <= 2):
        raise TorchRuntimeError("input tensor should be 1D or 2D")
    if t.ndim > 1:
        raise TorchRuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if t.dtype not in (np.int64, np.uint8):
        raise TorchRuntimeError(f"expected target dtype to be Long or Byte, but got {_word(t)}")
    if not (a.ndim == 1 or a.shape[0] == t.shape[0]):
        raise TorchRuntimeError(
            f"size mismatch (got input: {list_str(a.shape)}, target: {list_str(t.shape)})")
    c = a.shape[-1]
    if w is not None and (w.ndim != 1 or w.size != c):
        raise TorchRuntimeError(
            f"weight tensor should be defined either for all {c} classes or no classes but got weight "
            f"tensor of shape: {list_str(w.shape)}")
    _need_float(a, "nll_loss_out_frame")
    _nll_weight_dtype(a, w)
    a2 = a.reshape(-1, c)
    t1 = t.reshape(-1).astype(np.int64)
    vals, wt, _, _ = _nll_values(a2, t1, w, ignore_index)
    if reduction == NONE and a.ndim == 2:
        return vals
    if reduction == NONE:
        return vals.reshape(())
    return _nll_reduce(vals, wt, reduction, a.dtype, t1.size)


def _nll2d_check(a, t, w):
    if t.ndim != 3:
        raise TorchRuntimeError(
            f"only batches of spatial targets supported (3D tensors) but got targets of dimension: {t.ndim}")
    if a.ndim != 4:
        raise TorchRuntimeError(
            f"only batches of spatial inputs supported (4D tensors), but got input of dimension: {a.ndim}")
    if w is not None and w.size != a.shape[1]:
        raise TorchRuntimeError("weight tensor should be defined either for all or no classes")
    if a.shape[0] != t.shape[0] or a.shape[2] != t.shape[1] or a.shape[3] != t.shape[2]:
        raise TorchRuntimeError(
            f"size mismatch (got input: {list_str(a.shape)} , target: {list_str(t.shape)}")
    if t.dtype not in (np.int64, np.uint8):
        raise TorchRuntimeError(f"expected target dtype to be Long or Byte, but got {_word(t)}")


def _nll2d_fwd(a, target, weight=None, reduction=MEAN, ignore_index=-100):
    _check_no_requires_grad(weight, "weight", "nll_loss2d_forward")
    t = _arr(target)
    w = _arr(weight) if weight is not None else None
    _nll2d_check(a, t, w)
    _need_float(a, "nll_loss2d_forward_out_frame")
    _nll_weight_dtype(a, w)
    c = a.shape[1]
    a2 = np.moveaxis(a, 1, -1).reshape(-1, c)
    t1 = t.reshape(-1).astype(np.int64)
    vals, wt, _, _ = _nll_values(a2, t1, w, ignore_index)
    if reduction == NONE:
        return vals.reshape(t.shape)
    return _nll_reduce(vals, wt, reduction, a.dtype, t1.size)


def _nll_backward_arr(g, shape, t, w, reduction, ignore_index, spatial):
    """grad_input of nll_loss / nll_loss2d: -w[t] * grad (over the total weight for a mean) at the targets."""
    w = _arr(w) if w is not None else None
    t = _arr(t)
    if not spatial and not (len(shape) == 1 and t.ndim == 0) and shape[0] != (t.shape[0] if t.ndim else 0):
        # nll_loss_backward's meta (no_batch_dim only for a 0-d target): a 1-D input with a [1] target
        # passes the forward but not the backward, in torch too
        raise TorchRuntimeError(f"size mismatch (got input: {list_str(shape)}, target: {list_str(t.shape)})")
    t1 = t.reshape(-1).astype(np.int64)
    c = shape[1] if spatial else shape[-1]
    n = t1.size
    valid = t1 != ignore_index
    tc = np.where(valid, t1, 0)
    wt = w[tc].astype(g.dtype) if w is not None else B.xp.ones(n, dtype=g.dtype)
    wt = np.where(valid, wt, B.xp.zeros((), g.dtype))
    per_row = reduction == NONE and (spatial or len(shape) == 2)
    gv = g.reshape(-1) if per_row else g.reshape(())
    if reduction == MEAN:
        with _errstate():
            gv = gv / np.sum(wt.astype(np.float64)).astype(g.dtype)
    with _errstate():
        vals = np.where(valid, -gv * wt, B.xp.zeros((), g.dtype))
    if spatial:
        out = B.xp.zeros((shape[0], shape[2], shape[3], c), dtype=g.dtype)
        flat = out.reshape(-1, c)
        flat[B.xp.arange(n)[valid], tc[valid]] = vals[valid]
        return B.xp.ascontiguousarray(np.moveaxis(out, -1, 1))
    out = B.xp.zeros((max(n, 1) if len(shape) == 1 else shape[0], c), dtype=g.dtype)
    out[B.xp.arange(n)[valid], tc[valid]] = vals[valid]
    return out.reshape(shape)


nll_loss_forward = defop(
    "nll_loss_forward(Tensor self, Target target, Weight? weight, int reduction, SymInt ignore_index) "
    "-> Tensor",
    _nll_fwd, index=0, rule=_nll_rule(False), jvp="linear",
    self=lambda grad, self, target, weight, reduction, ignore_index: nll_loss_backward(
        grad, self, target, weight, reduction, ignore_index),
)
nll_loss2d_forward = defop(
    "nll_loss2d_forward(Tensor self, Target target, Weight? weight, int reduction, SymInt ignore_index) "
    "-> Tensor",
    _nll2d_fwd, index=0, rule=_nll_rule(True), jvp="linear",
    self=lambda grad, self, target, weight, reduction, ignore_index: nll_loss2d_backward(
        grad, self, target, weight, reduction, ignore_index),
)
# torch's derivatives: grad_output -> nll_loss(grad, ...), self -> zeros (so a first-order gradient requires
# grad under create_graph whenever the input does, and its own gradient is zero)
nll_loss_backward = defop(
    "nll_loss_backward(Tensor grad_output, Tensor self, Target target, Weight? weight, int reduction, "
    "SymInt ignore_index) -> Tensor",
    lambda g, x, target, weight, reduction, ignore_index: _nll_backward_arr(
        g, x.shape, target, weight, reduction, ignore_index, False),
    index=0, rule=_nll_backward_rule,
    # linear in grad_output (self gives its shape only): torch has a tangent only where grad_output has one
    jvp=lambda grad_output_t, self, target, weight, reduction, ignore_index: tmap(
        grad_output_t, lambda t: nll_loss_backward(t, self, target, weight, reduction, ignore_index)),
    grad_output=lambda grad, target, weight, reduction, ignore_index: nll_loss_forward(
        grad, target, weight, reduction, ignore_index),
    self=lambda grad: 0.0,
)
nll_loss2d_backward = defop(
    "nll_loss2d_backward(Tensor grad_output, Tensor self, Target target, Weight? weight, int reduction, "
    "SymInt ignore_index) -> Tensor",
    lambda g, x, target, weight, reduction, ignore_index: _nll_backward_arr(
        g, x.shape, target, weight, reduction, ignore_index, True),
    index=0, rule=_nll_backward_rule,
    jvp=lambda grad_output_t, self, target, weight, reduction, ignore_index: tmap(
        grad_output_t, lambda t: nll_loss2d_backward(t, self, target, weight, reduction, ignore_index)),
    grad_output=lambda grad, target, weight, reduction, ignore_index: nll_loss2d_forward(
        grad, target, weight, reduction, ignore_index),
    self=lambda grad: 0.0,
)


def _nll_loss_nd(input, target, weight, reduction, ignore_index):
    """at::nll_loss_nd: nll_loss for 1-D/2-D input, nll_loss2d for 4-D, views around nll_loss2d otherwise."""
    if input.ndim < 1:
        raise TorchValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    tb = target.shape[0] if target.ndim else 0
    if input.ndim != 1 and input.shape[0] != tb:
        raise TorchValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({tb}).")
    if input.ndim in (1, 2):
        t = target._data
        if input.ndim == 1 and t.ndim == 1 and t.dtype in (np.int64, np.uint8) and t.shape[0] != 1:
            # nll_loss_forward's meta raises this one as a ValueError (kept out of the entry's forward, whose
            # ValueErrors the registry reads as broadcast failures)
            raise TorchValueError(
                f"For 1D input, 1D target must have size 1, but got target size: {t.shape[0]}")
        return nll_loss_forward(input, target, weight, reduction, ignore_index)
    if input.ndim == 4:
        return nll_loss2d_forward(input, target, weight, reduction, ignore_index)
    n, c = input.shape[0], input.shape[1]
    out_size = [n] + list(input.shape[2:])
    if list(target.shape[1:]) != list(input.shape[2:]):
        raise TorchRuntimeError(f"Expected target size {list_str(out_size)}, got {list_str(target.shape)}")
    inp = S.view(input, (n, c, 1, -1) if input.numel() > 0 else (n, c, 0, 0))
    tgt = _const(target._data.reshape((n, 1, -1) if target.numel() > 0 else (n, 0, 0)))
    out = nll_loss2d_forward(inp, tgt, weight, reduction, ignore_index)
    if reduction == NONE:
        out = S.view(out, tuple(out_size))
    return out


# ----- cross_entropy: aten's cross_entropy_loss and its three paths -----


def _ce_prob_target(self, target, weight, reduction, label_smoothing):
    class_dim = 0 if self.ndim == 1 else 1
    n_classes = self.shape[NF.wrap_dim(class_dim, self.ndim)]
    if weight is not None and not (weight.ndim == 1 and weight.numel() == n_classes):
        raise TorchRuntimeError(
            f"cross_entropy: weight tensor should be defined either for all {n_classes} classes or no "
            f"classes but got weight tensor of shape: {list_str(weight.shape)}")
    inp = NF.log_softmax_op(self, class_dim, False)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise TorchRuntimeError(
                f"label_smoothing must be between 0.0 and 1.0. Got: {NF._cfmt(label_smoothing)}")
        target = NF.add_scalar(NF.mul_scalar(target, 1 - label_smoothing), label_smoothing / n_classes)
    prod = inp * target
    if weight is not None:
        w = weight
        if inp.ndim > 1:
            shape = [1] * inp.ndim
            shape[class_dim] = weight.shape[0]
            w = S.view(weight, tuple(shape))
        prod = prod * w
    if reduction == MEAN:
        total = -R.sum(prod)
        if inp.numel() == 0:
            return NF.div_scalar(total, float("nan"))
        return NF.div_scalar(total, inp.numel() // n_classes)
    if reduction == SUM:
        return -R.sum(prod)
    return -R.sum(prod, class_dim)


def _ce_label_smoothing(self, target, weight, reduction, ignore_index, label_smoothing):
    class_dim = 0 if self.ndim == 1 else 1
    inp = NF.log_softmax_op(self, class_dim, False)
    nll = _nll_loss_nd(inp, target, weight, reduction, ignore_index)
    _budget.charge(target._data.size, 2 + 8 + 8, what="label smoothing's masks")  # the masks, the kept targets
    ignore_mask = target._data == ignore_index
    n_classes = self.shape[class_dim]
    if weight is not None:
        shape = [1] * inp.ndim
        shape[class_dim] = weight.shape[0]
        smooth = -R.sum(inp * S.view(weight, tuple(shape)), class_dim)
    else:
        smooth = -R.sum(inp, class_dim)
    smooth = NF.masked_fill(smooth, _const(ignore_mask), 0.0)
    if reduction == MEAN:
        if weight is not None:
            picked = weight._data[target._data[~ignore_mask].reshape(-1).astype(np.int64)]
            ret = R.sum(smooth) / _const(B.xp.asarray(np.sum(picked)).astype(weight._data.dtype))
        else:
            ret = R.sum(smooth) / _const(B.xp.asarray(np.sum(~ignore_mask), dtype=np.int64))
    elif reduction == SUM:
        ret = R.sum(smooth)
    else:
        ret = smooth
    return NF.mul_scalar(nll, 1 - label_smoothing) + NF.mul_scalar(ret, label_smoothing / n_classes)


def _cross_entropy_loss(self, target, weight, reduction, ignore_index, label_smoothing):
    if tuple(self.shape) == tuple(target.shape):
        if not target.dtype.is_floating_point:
            raise TorchRuntimeError(
                "Expected floating point type for target with class probabilities, got "
                f"{_word(target.dtype)}")
        if ignore_index >= 0:
            raise TorchRuntimeError("ignore_index is not supported for floating point target")
        return _ce_prob_target(self, target, weight, reduction, label_smoothing)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise TorchRuntimeError(
                f"label_smoothing must be between 0.0 and 1.0. Got: {NF._cfmt(label_smoothing)}")
        return _ce_label_smoothing(self, target, weight, reduction, ignore_index, label_smoothing)
    class_dim = 0 if self.ndim == 1 else 1
    return _nll_loss_nd(NF.log_softmax_op(self, class_dim, False), target, weight, reduction, ignore_index)


# ----- kl_div -----


def _kl_div(input, target, reduction=MEAN, log_target=False):
    """aten's kl_div: exp(t) * (t - x) with log_target, else xlogy(t, t) - t * x; then the reduction."""
    if not (input.dtype.is_floating_point and target.dtype.is_floating_point):
        raise TorchRuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        out = target.exp() * (target - input)
    else:
        out = NF.xlogy(target, target) - target * input
    return _apply_reduction(out, reduction)


# ----- Python-facing functions (torch.nn.functional's signatures) -----


def _weighted(loss, weight, reduction, mean_of_weight):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return R.sum(loss)
    if reduction == "mean":
        return R.sum(loss) / R.sum(weight) if mean_of_weight else R.mean(loss)
    raise TorchValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error: MseLossBackward0 (weighted: pow, mul, sum / sum(weight))."""
    _size_warning(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_string(size_average, reduce)
    ei, et = _broadcast_tensors(input, target)
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise TorchValueError("Weights and input must have the same size.")
        return _weighted(P.pow(ei - et, 2) * weight, weight, reduction, True)
    return mse_loss_op(ei, et, _get_enum(reduction))


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error, composed as torch composes it: (input - target).abs(), then mean or sum."""
    _size_warning(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_string(size_average, reduce)
    ei, et = _broadcast_tensors(input, target)
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise TorchValueError("Weights and input must have the same size.")
        return _weighted(P.abs(ei - et) * weight, weight, reduction, True)
    return _apply_reduction((ei - et).abs(), _get_enum(reduction))


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 * d ** 2 / beta where |d| < beta, else |d| - beta / 2: SmoothL1LossBackward0 (beta 0: l1_loss)."""
    _size_warning(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_string(size_average, reduce)
    ei, et = _broadcast_tensors(input, target)
    if beta == 0.0:
        return _apply_reduction((ei - et).abs(), _get_enum(reduction))
    return smooth_l1_loss_op(ei, et, _get_enum(reduction), beta)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 * d ** 2 where |d| < delta, else delta * (|d| - delta / 2): HuberLossBackward0."""
    _size_warning(input, target)
    ei, et = _broadcast_tensors(input, target)
    if weight is None:
        return huber_loss_op(ei, et, _get_enum(reduction), delta)
    if tuple(weight.shape) != tuple(input.shape):
        raise TorchValueError("Weights and input must have the same size.")
    return _weighted(huber_loss_op(ei, et, NONE, delta) * weight, weight, reduction, False)


def _ref_broadcast_shapes(*shapes):
    """torch.broadcast_shapes (torch._refs._broadcast_shapes), with its message."""
    common = [1] * max(len(s) for s in shapes)
    for k, shape in enumerate(shapes):
        for i in range(-1, -1 - len(shape), -1):
            if shape[i] == common[i]:
                continue
            if common[i] == 1:
                common[i] = shape[i]
            if shape[i] == 1:
                continue
            if common[i] != shape[i]:
                raise TorchRuntimeError(
                    f"Attempting to broadcast a dimension of length {shape[i]} at {i}! Mismatching argument "
                    f"at index {k} had {shape}; but expected shape should be broadcastable to {common}")
    return tuple(common)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """-w * (t * log(x) + (1 - t) * log(1 - x)), logs clamped at -100: BinaryCrossEntropyBackward0."""
    if size_average is not None or reduce is not None:
        red = _get_enum(_legacy_string(size_average, reduce))
    else:
        red = _get_enum(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise TorchValueError(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) is "
            "deprecated. Please ensure they have the same size.")
    if weight is not None:
        new = _ref_broadcast_shapes(target.shape, weight.shape)
        weight = S.expand(weight, new)
    _check_no_requires_grad(weight, "weight", "binary_cross_entropy")
    return binary_cross_entropy_op(input, target, weight, red)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """Numerically stable BCE on logits: BinaryCrossEntropyWithLogitsBackward0."""
    if size_average is not None or reduce is not None:
        red = _get_enum(_legacy_string(size_average, reduce))
    else:
        red = _get_enum(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise TorchValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    return _torch_bce_with_logits(input, target, weight, pos_weight, red)


def _torch_bce_with_logits(input, target, weight=None, pos_weight=None, reduction=MEAN):
    _check_no_requires_grad(weight, "weight", "binary_cross_entropy_with_logits")
    _check_no_requires_grad(pos_weight, "pos_weight", "binary_cross_entropy_with_logits")
    return binary_cross_entropy_with_logits_op(input, target, weight, pos_weight, reduction)


def _int_reduction(fn, reduction):
    if not isinstance(reduction, int) or isinstance(reduction, bool):
        raise TorchTypeError(f"{fn}(): argument 'reduction' must be int, not {type(reduction).__name__}")
    return reduction


def torch_binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                           pos_weight: Tensor | None = None, reduction: int = 0) -> Tensor:
    """torch.binary_cross_entropy_with_logits (reduction as an int: 0 none, 1 mean, 2 sum; torch's Python
    binding defaults it to 0)."""
    reduction = _int_reduction("binary_cross_entropy_with_logits", reduction)
    return _torch_bce_with_logits(input, target, weight, pos_weight, reduction)


torch_binary_cross_entropy_with_logits.__name__ = "binary_cross_entropy_with_logits"


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100, reduce: bool | None = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over the class dim then nll_loss (class indices), or -sum(target * log_softmax) for class
    probabilities (target shaped like input); label_smoothing mixes in the uniform distribution."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_string(size_average, reduce)
    return _cross_entropy_loss(input, target, weight, _get_enum(reduction), ignore_index, label_smoothing)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
             ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood of class indices: NllLossBackward0 (2-D), NllLoss2DBackward0 (N-D)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_string(size_average, reduce)
    return _nll_loss_nd(input, target, weight, _get_enum(reduction), ignore_index)


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence, input as log-probabilities; reduction 'batchmean' divides the sum by the batch size."""
    if size_average is not None or reduce is not None:
        red = _get_enum(_legacy_string(size_average, reduce))
    else:
        if reduction == "mean":
            warnings.warn(
                "reduction: 'mean' divides the total loss by both the batch size and the support size."
                "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                UserWarning, stacklevel=2,
            )
        red = _get_enum("sum") if reduction == "batchmean" else _get_enum(reduction)
    reduced = _kl_div(input, target, red, log_target)
    if reduction == "batchmean" and input.ndim != 0:
        reduced = reduced / input.shape[0]
    return reduced


def torch_kl_div(input: Tensor, target: Tensor, reduction: int = 0, *, log_target: bool = False) -> Tensor:
    """torch.kl_div (reduction as an int: 0 none, 1 mean, 2 sum; torch's Python binding defaults it to 0)."""
    return _kl_div(input, target, _int_reduction("kl_div", reduction), log_target)


torch_kl_div.__name__ = "kl_div"

from engine.ops.registry import entry  # noqa: E402

_F = {"function": False, "method": False, "functional": True}
_T = {"function": True, "method": False, "functional": False}

CATALOG = [
    entry("mse_loss", mse_loss, "Mean squared error.", mse_loss_op, **_F),
    entry("l1_loss", l1_loss, "Mean absolute error.",
          grad_fns=("MeanBackward0", "SumBackward0", "AbsBackward0"), **_F),
    entry("smooth_l1_loss", smooth_l1_loss, "Smooth L1 (quadratic below beta).", smooth_l1_loss_op, **_F),
    entry("huber_loss", huber_loss, "Huber loss (quadratic below delta).", huber_loss_op, **_F),
    entry("binary_cross_entropy", binary_cross_entropy, "BCE on probabilities (logs clamped at -100).",
          binary_cross_entropy_op, **_F),
    entry("binary_cross_entropy_with_logits", binary_cross_entropy_with_logits, "BCE on logits (stable).",
          binary_cross_entropy_with_logits_op, **_F),
    entry("binary_cross_entropy_with_logits", torch_binary_cross_entropy_with_logits,
          "torch.binary_cross_entropy_with_logits (reduction as an int).",
          binary_cross_entropy_with_logits_op, **_T),
    entry("cross_entropy", cross_entropy, "log_softmax + nll_loss; class probabilities and label smoothing.",
          NF.log_softmax_op, nll_loss_forward, nll_loss2d_forward, **_F),
    entry("nll_loss", nll_loss, "Negative log likelihood of class indices (N-D via nll_loss2d).",
          nll_loss_forward, nll_loss2d_forward, **_F),
    entry("kl_div", kl_div, "KL divergence (input: log-probabilities; log_target for log target).",
          grad_fns=("MeanBackward0", "SumBackward0"), **_F),
    entry("kl_div", torch_kl_div, "torch.kl_div (reduction as an int).", **_T),
]
