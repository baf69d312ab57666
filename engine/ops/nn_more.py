"""More torch.nn.functional ops with torch 2.13's graphs, values and messages: glu (GluBackward0), prelu
(PreluKernelBackward0 over the reshaped weight), pixel_shuffle / pixel_unshuffle / channel_shuffle (their own
nodes, each the other's backward), bilinear (aten's _trilinear: TrilinearBackward0), and the family's CATALOG.
The family's normalizations are engine/ops/nn_norm_more.py. Backward formulas are written with engine ops
(grad-of-grad)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchNotImplementedError, TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops import nn_normalization as NN
from engine.ops import pointwise as P
from engine.ops import shape as S
from engine.ops._util import list_str, wrap_dim
from engine.ops.nn_common import _errstate, _word
from engine.ops.nn_normalization import _tie
from engine.ops.registry import defop, entry
from engine.ops.rules import TRANSCENDENTAL, Cost, numel
from engine.tensor import Tensor


def _same(param="self", weight=1):
    def rule(**vals):
        shape = tuple(vals[param].shape)
        return Cost(shape, weight * numel(shape))

    rule.by_name = (param,)
    return rule


# ----- glu -----


def _glu_fwd(a, dim=-1):
    d = wrap_dim(dim, a.ndim)
    n = a.shape[d]
    if n % 2:
        raise TorchRuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    if a.dtype.kind != "f":
        raise TorchNotImplementedError(f"\"glu_cpu\" not implemented for '{_word(a)}'")
    first, second = np.split(a, 2, axis=d)
    with _errstate():
        return (first / (1 + np.exp(-second))).astype(a.dtype, copy=False)


def _glu_backward(grad, self, dim):
    """glu_backward: (sigmoid(b) * g, a * sigmoid(b) * (1 - sigmoid(b)) * g), concatenated along dim."""
    d = wrap_dim(dim, self.ndim)
    a, b = J.chunk(self, 2, d)
    sb = P.sigmoid(b)
    return J.cat([sb * grad, a * sb * (1 - sb) * grad], d)


def _glu_rule(self, dim=-1):
    shape = list(self.shape)
    if shape:
        shape[wrap_dim(dim, len(shape))] //= 2
    return Cost(tuple(shape), (TRANSCENDENTAL + 2) * numel(shape))


glu_op = defop("glu(Tensor self, int dim=-1) -> Tensor", _glu_fwd, self=_glu_backward, rule=_glu_rule)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) for the two halves a, b of input along dim: GluBackward0."""
    if input.ndim == 0:
        raise TorchRuntimeError("glu does not support scalars because halving size must be even")
    return glu_op(input, dim)


# ----- prelu -----


def _prelu_fwd(a, w):
    if a.dtype.kind != "f":
        raise TorchNotImplementedError(f"\"prelu_cpu\" not implemented for '{_word(a)}'")
    return np.where(a > 0, a, w * a).astype(a.dtype, copy=False)


def _prelu_backward(grad, self, weight):
    from engine.ops.shape_more import sum_to_size  # noqa: PLC0415

    gi = P.where(self > 0, grad, weight * grad)
    gw = sum_to_size(P.where(self > 0, 0.0, self * grad), *weight.shape)
    return _tie(gi, self, weight), _tie(gw, self, weight)


prelu_kernel = defop("_prelu_kernel(Tensor self, Tensor weight) -> Tensor", _prelu_fwd,
                     self__weight=_prelu_backward, rule=_same("self", 3))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight * x (weight: one value, or one per channel): PreluKernelBackward0."""
    if input.dtype != weight.dtype:
        raise TorchRuntimeError(f"prelu: Type promoting not supported. Got {_word(input.dtype)} and "
                                f"{_word(weight.dtype)}")
    n = input.ndim
    if weight.numel() != 1:
        if n == 0:
            raise TorchRuntimeError("Not allow zero-dim input tensor.")
        channels = input.shape[1] if n > 1 else 1
        if channels != weight.numel():
            raise TorchRuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {weight.numel()} "
                f"and channel size = {channels}.")
    if weight.ndim > 1:
        raise TorchRuntimeError(
            f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}")
    w = weight
    if n != weight.ndim:
        dims = [1] * n
        if n > 1:
            dims[1] = weight.numel()
        w = S.reshape(weight, dims)
    return prelu_kernel(input, w)


# ----- pixel_shuffle / pixel_unshuffle / channel_shuffle -----


def _pixel_shuffle_fwd(a, upscale_factor):
    if a.ndim < 3:
        raise TorchRuntimeError(
            f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {a.ndim} dimension(s)")
    r = upscale_factor
    if r <= 0:
        raise TorchRuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    c, h, w = a.shape[-3:]
    if c % (r * r):
        raise TorchRuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={c} is not divisible by {r * r}")
    lead = a.shape[:-3]
    k = len(lead)
    x = a.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.transpose(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return np.ascontiguousarray(x).reshape(*lead, c // (r * r), h * r, w * r)


def _pixel_unshuffle_fwd(a, downscale_factor):
    if a.ndim < 3:
        raise TorchRuntimeError(
            f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with {a.ndim} dimension(s)")
    r = downscale_factor
    if r <= 0:
        raise TorchRuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    c, h, w = a.shape[-3:]
    if h % r:
        raise TorchRuntimeError(
            f"pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)={h} is not "
            f"divisible by {r}")
    if w % r:
        raise TorchRuntimeError(
            f"pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)={w} is not "
            f"divisible by {r}")
    lead = a.shape[:-3]
    k = len(lead)
    x = a.reshape(*lead, c, h // r, r, w // r, r)
    x = x.transpose(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return np.ascontiguousarray(x).reshape(*lead, c * r * r, h // r, w // r)


def _shuffle_rule(up):
    def rule(self, factor):
        shape = list(self.shape)
        if len(shape) >= 3 and factor > 0:
            if up:
                shape[-3] //= factor * factor
                shape[-2] *= factor
                shape[-1] *= factor
            else:
                shape[-3] *= factor * factor
                shape[-2] //= factor
                shape[-1] //= factor
        return Cost(tuple(shape), numel(shape))

    return rule


pixel_shuffle_op = defop(
    "pixel_shuffle(Tensor self, int upscale_factor) -> Tensor", _pixel_shuffle_fwd,
    self=lambda grad, upscale_factor: pixel_unshuffle_op(grad, upscale_factor),
    rule=lambda self, upscale_factor: _shuffle_rule(True)(self, upscale_factor),
)
pixel_unshuffle_op = defop(
    "pixel_unshuffle(Tensor self, int downscale_factor) -> Tensor", _pixel_unshuffle_fwd,
    self=lambda grad, downscale_factor: pixel_shuffle_op(grad, downscale_factor),
    rule=lambda self, downscale_factor: _shuffle_rule(False)(self, downscale_factor),
)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r): PixelShuffleBackward0."""
    return pixel_shuffle_op(input, upscale_factor)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W): PixelUnshuffleBackward0."""
    return pixel_unshuffle_op(input, downscale_factor)


def _channel_shuffle_fwd(a, groups):
    if a.ndim <= 2:
        raise TorchRuntimeError(
            f"channel_shuffle expects input with > 2 dims, but got input with sizes {list_str(a.shape)}")
    c = a.shape[1]
    if groups <= 0:
        raise TorchRuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    if c % groups:
        raise TorchRuntimeError(
            f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    n, rest = a.shape[0], a.shape[2:]
    x = a.reshape(n, groups, c // groups, *rest).swapaxes(1, 2)
    return np.ascontiguousarray(x).reshape(a.shape)


channel_shuffle_op = defop(
    "channel_shuffle(Tensor self, SymInt groups) -> Tensor", _channel_shuffle_fwd,
    self=lambda grad, groups: channel_shuffle_op(grad, grad.shape[1] // groups),
    rule=lambda self, groups: Cost(tuple(self.shape), numel(self.shape)),
)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Interleave the channels of groups groups: ChannelShuffleBackward0."""
    return channel_shuffle_op(input, groups)


# ----- bilinear (aten's _trilinear) -----


def _trilinear_fwd(i1, i2, i3, expand1, expand2, expand3, sumdim, unroll_dim=1):
    """The form bilinear uses: out[n, o] = sum_ab i1[n, a] i2[o, a, b] i3[n, b]."""
    with _errstate():
        out = np.einsum("na,oab,nb->no", i1, i2, i3, optimize=True)
    return B.xp.asarray(out).astype(np.result_type(i1, i2, i3), copy=False)


def _trilinear_backward(grad, i1, i2, i3, expand1, expand2, expand3, sumdim):
    g1 = L.einsum("no,oab,nb->na", grad, i2, i3)
    g2 = L.einsum("no,na,nb->oab", grad, i1, i3)
    g3 = L.einsum("no,oab,na->nb", grad, i2, i1)
    return g1, g2, g3


trilinear_op = defop(
    "_trilinear(Tensor i1, Tensor i2, Tensor i3, int[] expand1, int[] expand2, int[] expand3, int[] sumdim, "
    "int unroll_dim=1) -> Tensor",
    _trilinear_fwd, i1__i2__i3=_trilinear_backward,
    rule=lambda i1, i2, i3, expand1, expand2, expand3, sumdim, unroll_dim=1: Cost(
        (i1.shape[0], i2.shape[0]), 2 * i1.shape[0] * numel(i2.shape) + 2 * i1.shape[0] * i2.shape[0] * i2.shape[2],
        i1.shape[0] * i2.shape[0] * i2.shape[2]),
)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x1^T W_o x2 (+ bias_o) for each output o: aten's _trilinear over the flattened inputs."""
    if input1.dtype != input2.dtype or input1.dtype != weight.dtype or (
            bias is not None and bias.dtype != input1.dtype):
        names = f"input1: {D.cpp_type_name(input1.dtype)}, input2: {D.cpp_type_name(input2.dtype)}, weight: " \
                f"{D.cpp_type_name(weight.dtype)}"
        if bias is not None:
            names += f", bias: {D.cpp_type_name(bias.dtype)}"
        raise TorchRuntimeError(f"All tensors must have the same dtype, got {names}")
    if input1.ndim != input2.ndim:
        raise TorchRuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}")
    for i in range(input1.ndim - 1):
        if input1.shape[i] != input2.shape[i]:
            raise TorchRuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got "
                                    f"{input1.shape[i]} and {input2.shape[i]}")
    if input1.shape[-1] != weight.shape[1]:
        raise TorchRuntimeError(f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
                                f"expected {weight.shape[1]}")
    if input2.shape[-1] != weight.shape[2]:
        raise TorchRuntimeError(f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
                                f"expected {weight.shape[2]}")
    if bias is not None and bias.shape[0] != weight.shape[0]:
        raise TorchRuntimeError(f"bilinear(): bias size does not match weight size: got {bias.shape[0]} but "
                                f"expected {weight.shape[0]}")
    out_size = [*input1.shape[:-1], weight.shape[0]]
    f1 = S.reshape(input1, [-1, input1.shape[-1]])
    f2 = S.reshape(input2, [-1, input2.shape[-1]])
    out = S.reshape(trilinear_op(f1, weight, f2, [1, 3], [0], [1, 2], [2, 3]), out_size)
    if bias is not None:
        out = out + bias
    return out


# the family's normalizations, imported after this module's entries: the op table's old registration order
from engine.ops.nn_norm_more import (  # noqa: E402
    group_norm,
    instance_norm,
    local_response_norm,
    native_batch_norm,
    native_group_norm,
    native_group_norm_op,
    native_layer_norm,
    rms_norm,
    torch_group_norm,
    torch_instance_norm,
)

_F = {"function": False, "method": False, "functional": True}
_T = {"function": True, "method": False, "functional": False}
_TF = {"function": True, "method": False, "functional": True}

CATALOG = [
    entry("glu", glu, "a * sigmoid(b) over the two halves of input along dim.", glu_op, **_F),
    entry("prelu", prelu, "x where x > 0, else weight * x (per channel).", prelu_kernel, **_TF),
    entry("pixel_shuffle", pixel_shuffle, "(*, C r^2, H, W) -> (*, C, H r, W r).", pixel_shuffle_op, **_TF),
    entry("pixel_unshuffle", pixel_unshuffle, "(*, C, H r, W r) -> (*, C r^2, H, W).", pixel_unshuffle_op, **_TF),
    entry("channel_shuffle", channel_shuffle, "Interleave the channels of `groups` groups.", channel_shuffle_op,
          **_TF),
    entry("bilinear", bilinear, "x1^T W x2 + b for each output feature.", trilinear_op, **_TF),
    entry("rms_norm", rms_norm, "x / sqrt(mean(x^2) + eps) over the trailing dims (times weight).",
          grad_fns=("MulBackward0", "RsqrtBackward0"), **_TF),
    entry("group_norm", group_norm, "Normalize over groups of channels.", native_group_norm_op, **_F),
    entry("group_norm", torch_group_norm, "torch.group_norm.", native_group_norm_op, **_T),
    entry("native_group_norm", native_group_norm, "(output, mean, rstd) of group normalization.",
          native_group_norm_op, **_T),
    entry("native_layer_norm", native_layer_norm, "(output, mean, rstd) of layer normalization.",
          NN.layer_norm_op, **_T),
    entry("native_batch_norm", native_batch_norm, "(output, save_mean, save_invstd) of batch normalization.",
          NN.batch_norm_op, **_T),
    entry("instance_norm", instance_norm, "Per-sample, per-channel normalization (batch_norm over N * C).",
          NN.batch_norm_op, **_F),
    entry("instance_norm", torch_instance_norm, "torch.instance_norm (aten's argument order).", NN.batch_norm_op,
          **_T),
    entry("local_response_norm", local_response_norm, "Normalize by the mean square of neighbouring channels.",
          grad_fns=("DivBackward0",), **_F),
]
