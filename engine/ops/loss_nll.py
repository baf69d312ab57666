"""nll_loss (1-D/2-D input) and nll_loss2d (4-D input) entries, their backward entries and cost rules."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.errors import TorchIndexError, TorchRuntimeError
from engine.ops import rules as C
from engine.ops._util import list_str
from engine.ops.jvp import tmap
from engine.ops.loss_common import MEAN, NONE, _arr
from engine.ops.nn_functional import _check_no_requires_grad, _errstate, _need_float, _word
from engine.ops.registry import defop

# ----- cost rules (engine/ops/rules.py) -----


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
