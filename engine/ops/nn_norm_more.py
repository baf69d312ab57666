"""More torch.nn.functional normalizations with torch 2.13's graphs, values and messages: rms_norm (aten's
composition), group_norm / native_group_norm (NativeGroupNormBackward0, all three outputs differentiable),
native_layer_norm / native_batch_norm (the statistics outputs beside the normalized one), instance_norm
(batch_norm over the (1, N*C, ...) view, weights repeated) and local_response_norm (torch's Python composition
over avg_pool2d). Backward formulas are written with engine ops (grad-of-grad)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.autograd import grad_mode
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchValueError
from engine.ops import conv as C
from engine.ops import join as J
from engine.ops import nn_functional as NF
from engine.ops import nn_normalization as NN
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.ops._util import list_str
from engine.ops.jvp import refuse
from engine.ops.nn_common import _errstate, _np, _t, _word, add_scalar
from engine.ops.nn_normalization import _tie
from engine.ops.registry import defop
from engine.ops.rules import Cost, numel, wide
from engine.tensor import Tensor

# ----- rms_norm -----


def _norm_shape_check(x, ns, w, what="weight"):
    if len(ns) < 1:
        raise TorchRuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, "
            f"but got normalized_shape = {list_str(ns)}")
    if w is not None and list(w.shape) != ns:
        raise TorchRuntimeError(
            f"Expected {what} to be of same shape as normalized_shape, but got {what} of shape "
            f"{list_str(w.shape)} and normalized_shape = {list_str(ns)}")
    if x.ndim < len(ns) or list(x.shape[x.ndim - len(ns):]) != ns:
        raise TorchRuntimeError(
            f"Given normalized_shape={list_str(ns)}, expected input with shape "
            f"[*{', '.join(str(s) for s in ns)}], but got input of size{list_str(x.shape)}")


def rms_norm(input: Tensor, normalized_shape: list[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x * rsqrt(mean(x ** 2) + eps) over the trailing normalized_shape dims (times weight); eps defaults to
    the dtype's machine epsilon (aten's composition)."""
    ns = [normalized_shape] if isinstance(normalized_shape, int) else [int(s) for s in normalized_shape]
    _norm_shape_check(input, ns, weight)
    if not input.dtype.is_floating_point:
        raise TorchNotImplementedError(f"\"rms_norm\" not implemented for '{_word(input.dtype)}'")
    e = float(np.finfo(input._data.dtype).eps) if eps is None else eps
    dims = list(range(input.ndim - len(ns), input.ndim))
    rsq = P.rsqrt(add_scalar(R.mean(P.pow(input, 2), dims, True), e))
    out = input * rsq
    if weight is not None:
        out = out * weight
    return out


# ----- group_norm -----


def _gn_stats(x, n, c, hxw, group, eps):
    xd = x.astype(np.float64).reshape(n, group, (c // group) * hxw)
    with _errstate():
        mean = xd.mean(axis=-1) if xd.shape[-1] else np.full((n, group), np.nan)
        var = ((xd - mean[..., None]) ** 2).mean(axis=-1) if xd.shape[-1] else np.full((n, group), np.nan)
        rstd = 1.0 / np.sqrt(var + eps)
    return xd, mean, rstd


def _gn_fwd(x, w, b, N, C, HxW, group, eps):  # noqa: N803
    if x.dtype.kind != "f":
        raise TorchNotImplementedError(f"\"group_norm\" not implemented for '{_word(x)}'")
    xd, mean, rstd = _gn_stats(x, N, C, HxW, group, eps)
    with _errstate():
        y = ((xd - mean[..., None]) * rstd[..., None]).reshape(N, C, HxW)
    if w is not None:
        y = y * w.reshape(1, C, 1)
    if b is not None:
        y = y + b.reshape(1, C, 1)
    dt = x.dtype
    return (y.reshape(x.shape).astype(dt), mean.astype(dt), rstd.astype(dt))


def _gn_backward(grad, input, weight, N, C, HxW, group, eps):  # noqa: N803
    """infinitely_differentiable_native_group_norm_backward: the normalized output's, mean's and rstd's
    gradients, in engine ops."""
    gy, gmean, grstd = grad
    if gmean is None and grstd is None and not grad_mode.enabled:
        # torch runs native_group_norm_backward here (no forward formula), its composite only with grad mode on
        refuse("native_group_norm_backward", gy, input, weight)
    x3 = S.reshape(input, [N, group, (C // group) * HxW])
    mu = R.mean(x3, [-1], True)
    xc = x3 - mu
    rstd = P.rsqrt(add_scalar(R.mean(xc * xc, [-1], True), eps))
    xhat = xc * rstd
    per = x3.shape[-1]
    gi = gw = gb = None
    if gy is not None:
        gy3 = S.reshape(gy, [N, C, HxW])
        g = gy3 * S.reshape(weight, [1, C, 1]) if weight is not None else gy3
        g = S.reshape(g, [N, group, (C // group) * HxW])
        gi = rstd * (g - R.mean(g, [-1], True) - xhat * R.mean(g * xhat, [-1], True))
        xh = S.reshape(xhat, [N, C, HxW])
        if weight is not None:
            gw = R.sum(gy3 * xh, [0, 2])
        gb = R.sum(gy3, [0, 2])
    if gmean is not None:
        t = S.unsqueeze(gmean, -1) / per
        gi = t if gi is None else gi + t
    if grstd is not None:
        t = S.unsqueeze(grstd, -1) * (-(rstd * rstd * rstd) * xc / per)
        gi = t if gi is None else gi + t
    if gi is not None:
        gi = S.reshape(gi, list(input.shape))
    return _tie(gi, input, weight), _tie(gw, input, weight), _tie(gb, input, weight)


native_group_norm_op = defop(
    "native_group_norm(Tensor input, Tensor? weight, Tensor? bias, SymInt N, SymInt C, SymInt HxW, int group, "
    "float eps) -> (Tensor, Tensor, Tensor)",
    _gn_fwd, nout=3, input__weight__bias=_gn_backward,
    rule=lambda input, weight, bias, N, C, HxW, group, eps: Cost(  # noqa: N803
        (tuple(input.shape), (N, group), (N, group)), 8 * numel(input.shape) + 4 * N * group,
        numel(input.shape) + wide(4 * N * group, input)),  # the float64 statistics: N * group even when C is 0
)


def native_group_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, N: int, C: int, HxW: int,  # noqa: N803
                      group: int, eps: float) -> tuple:
    """torch.native_group_norm: (output, mean, rstd), the statistics (N, group)."""
    return native_group_norm_op(input, weight, bias, N, C, HxW, group, eps)


def _group_norm_checks(input, num_groups, weight, bias):
    c = input.shape[1]
    if num_groups <= 0:
        raise TorchRuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    if c % num_groups:
        raise TorchRuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got input of shape "
            f"{list_str(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and not (t.ndim == 1 and t.numel() == c):
            raise TorchRuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in input, but got {name} "
                f"of shape {list_str(t.shape)} and input of shape {list_str(input.shape)}")


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalize over groups of channels (and the spatial dims): NativeGroupNormBackward0."""
    if input.ndim < 2:
        raise TorchRuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    size = [input.shape[0] * input.shape[1] // num_groups, num_groups, *input.shape[2:]]  # 0 groups: Python's error
    prod = size[0]
    for s in size[2:]:
        prod *= s
    if prod == 1:
        raise TorchValueError(f"Expected more than 1 value per channel when training, got input size {size}")
    _group_norm_checks(input, num_groups, weight, bias)
    n, c = input.shape[0], input.shape[1]
    hxw = numel(input.shape[2:])
    return native_group_norm_op(input.contiguous(), weight, bias, n, c, hxw, num_groups, eps)[0]


def torch_group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
                     eps: float = 1e-5, cudnn_enabled: bool = True) -> Tensor:
    """torch.group_norm (aten's group_norm, without the Python batch-size check)."""
    _group_norm_checks(input, num_groups, weight, bias)
    n, c = input.shape[0], input.shape[1]
    return native_group_norm_op(input.contiguous(), weight, bias, n, c, numel(input.shape[2:]), num_groups, eps)[0]


torch_group_norm.__name__ = "group_norm"


# ----- native_layer_norm / native_batch_norm: the statistics beside the output -----


def native_layer_norm(input: Tensor, normalized_shape: list[int], weight: Tensor | None, bias: Tensor | None,
                      eps: float) -> tuple:
    """torch.native_layer_norm: (output, mean, rstd); the statistics have the input's leading dims and ones
    (no gradient)."""
    ns = [int(s) for s in normalized_shape]
    out = NN.layer_norm_op(input, ns, weight, bias, eps)
    k = len(ns)
    axis = input.ndim - k
    x = _np(input).astype(np.float64)
    axes = tuple(range(axis, input.ndim))
    with _errstate():
        mean = x.mean(axis=axes, keepdims=True) if x.size else np.full(tuple(input.shape[:axis]) + (1,) * k, np.nan)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True) if x.size else mean
        rstd = 1.0 / np.sqrt(var + eps)
    dt = input._data.dtype
    return out, _t(B.xp.asarray(mean.astype(dt))), _t(B.xp.asarray(rstd.astype(dt)))


def native_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                      running_var: Tensor | None, training: bool, momentum: float, eps: float) -> tuple:
    """torch.native_batch_norm: (output, save_mean, save_invstd); the batch statistics when training, empty
    tensors otherwise (no gradient)."""
    NN._bn_checks(input, weight, bias, running_mean, running_var, training)
    dt = input._data.dtype
    if training:
        c = input.shape[1]
        x = np.moveaxis(_np(input).astype(np.float64), 1, 0).reshape(c, -1)
        with _errstate():
            mean = x.mean(axis=1)
            invstd = 1.0 / np.sqrt(((x - mean[:, None]) ** 2).mean(axis=1) + eps)
    else:
        mean = invstd = np.zeros((0,))
    out = NN.batch_norm_op(input, weight, bias, running_mean, running_var, training, momentum, eps)
    return out, _t(B.xp.asarray(mean.astype(dt))), _t(B.xp.asarray(invstd.astype(dt)))


# ----- instance_norm -----


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """batch_norm over input viewed as (1, N * C, ...), weights and statistics repeated N times (aten's
    instance_norm); the running statistics get the mean over the batch of the updated copies."""
    if use_input_stats:
        prod = 1
        for s in input.shape[2:]:
            prod *= s
        if prod == 1:
            raise TorchValueError(
                "Expected more than 1 spatial element when training, got input size "
                f"torch.Size([{', '.join(str(d) for d in input.shape)}])")
    return torch_instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps)


def torch_instance_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                        running_var: Tensor | None, use_input_stats: bool, momentum: float, eps: float,
                        cudnn_enabled: bool = True) -> Tensor:
    """torch.instance_norm (aten's argument order)."""
    if not use_input_stats and (running_mean is None or running_var is None):
        raise TorchRuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
    b, c = input.shape[0], input.shape[1]
    shape = list(input.shape)
    shape[1] = b * c
    shape[0] = 1

    def rep(t):
        return J.repeat(t, [b]) if t is not None else None

    w, bb = rep(weight), rep(bias)
    rm = _t(B.xp.tile(running_mean._data, b)) if running_mean is not None else None
    rv = _t(B.xp.tile(running_var._data, b)) if running_var is not None else None
    x = S.view(input.contiguous(), shape)
    out = NN.torch_batch_norm(x, w, bb, rm, rv, use_input_stats, momentum, eps)
    for stat, copy in ((running_mean, rm), (running_var, rv)):
        if stat is not None:
            stat._data[...] = copy._data.reshape(b, c).mean(axis=0).astype(stat._data.dtype)
    return S.view(out, list(input.shape))


torch_instance_norm.__name__ = "instance_norm"


# ----- local_response_norm -----


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """x / (k + alpha * mean of x ** 2 over `size` neighbouring channels) ** beta (torch's Python composition:
    pad, avg_pool2d, squeeze)."""
    dim = input.ndim
    if dim < 3:
        raise TorchValueError(
            f"Expected 3D or higher dimensionality                          input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    div = input.mul(input)
    if dim == 3:
        div = S.unsqueeze(div, 1)
        div = NF.pad(div, (0, 0, size // 2, (size - 1) // 2))
        div = S.squeeze(C.avg_pool2d(div, (size, 1), stride=1), 1)
    else:
        pool3d = getattr(C, "avg_pool3d", None)
        if pool3d is None:
            raise TorchNotImplementedError(
                "local_response_norm of an input with more than 3 dims needs avg_pool3d, which the engine does not "
                "have yet")
        sizes = list(input.shape)
        div = S.view(div, [sizes[0], 1, sizes[1], sizes[2], -1])
        div = NF.pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = S.squeeze(pool3d(div, (size, 1, 1), stride=1), 1)
        div = S.view(div, sizes)
    div = div.mul(alpha).add(k).pow(beta)
    return input / div
