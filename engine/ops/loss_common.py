"""The losses' shared pieces: torch.nn._reduction (reduction enums, legacy size_average / reduce, applying
a reduction to a tensor or an array), the broadcast checks and the elementwise losses' cost rule."""
from __future__ import annotations

import warnings

import numpy as np

from engine import _backend as B
from engine.errors import TorchRuntimeError, TorchValueError
from engine.ops import reduction as R
from engine.ops import rules as C
from engine.ops import shape as S
from engine.ops._util import broadcast_shapes, list_str
from engine.ops.nn_functional import _errstate
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
