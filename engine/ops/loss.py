"""torch.nn.functional losses with torch 2.13's graphs, values, reductions and messages.

Losses with their own derivative in derivatives.yaml are entries in the parts (loss_elementwise: mse_loss ->
MseLossBackward0, ...; loss_nll: nll_loss_forward -> NllLossBackward0, ...; loss_common: the reductions and
shared checks), each including its reduction as torch's kernels do. This module holds the rest, composed
exactly where torch composes them: l1_loss is (input - target).abs() then mean/sum, kl_div is xlogy
and sub, cross_entropy is log_softmax then nll_loss (plus the label-smoothing and class-probability
decompositions of aten's cross_entropy_loss), and the Python-level weighted variants of mse/l1/huber.
"""
from __future__ import annotations

import warnings

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.errors import TorchRuntimeError, TorchTypeError, TorchValueError
from engine.ops import nn_functional as NF
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.ops._util import list_str
from engine.ops.nn_functional import _check_no_requires_grad, _const, _word
from engine.tensor import Tensor

# The parts in registration order, with every entry (forward_more.install finds a family's entries among this
# module's names)
# isort: off
from engine.ops.loss_common import (
    _apply_reduction,
    _broadcast_tensors,
    _get_enum,
    _legacy_string,
    _size_warning,
    MEAN,
    NONE,
    SUM,
)
from engine.ops.loss_elementwise import (
    binary_cross_entropy_op,
    binary_cross_entropy_with_logits_op,
    huber_loss_op,
    mse_loss_op,
    smooth_l1_loss_op,
)
from engine.ops.loss_nll import nll_loss2d_backward, nll_loss2d_forward, nll_loss_backward, nll_loss_forward  # noqa: F401
# isort: on


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
        if inp.numel() == 0:  # aten: -(input * target * weight).sum().fill_(NAN)
            return -(R.sum(prod).fill_(float("nan")))
        return NF.div_scalar(-R.sum(prod), inp.numel() // n_classes)
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
