"""Convolution's entries and functions: conv1d / conv2d, conv_transpose1d / 2d (engine/ops/conv_transpose.py;
all torch's `convolution` op, ConvolutionBackward0). Its catalog also lists the 2-d pooling of engine/ops/pool.py
(max_pool2d, avg_pool2d).

Convolutions are im2col (a strided window view of the padded input copied into columns, one batched matmul per
group) while that buffer is small (_IM2COL_MAX, or 4x the input and output); past it, in tiles of output rows;
where one row's columns are past it, a loop over the kernel offsets (one matmul of a strided slice each). So
memory stays near the input and output sizes at any kernel size; every loop checks the request's deadline.
Backwards are engine ops whose own backwards close the loop, so grad-of-grad works to any order:

    convolution(x, w, b)  -> convolution_backward(g, x, w)  (ConvolutionBackwardBackward0, 3 outputs)
    convolution_backward  -> d/dg: convolution(ggI, w) + convolution(x, ggW); d/dx, d/dw: convolution_backward
                             with ggW / ggI  (as <gg, d y> = <g, C(ggI, w) + C(x, ggW)>, C bilinear)

The NumPy kernels and their cost rules are engine/ops/conv_kernels.py, torch's argument checks conv_checks.py.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import (
    TorchRuntimeError,
    TorchTypeError,
)
from engine.ops import rules as R
from engine.ops import shape as S
from engine.ops._util import list_str
from engine.ops._window import detached as _detached
from engine.ops.conv_checks import _check_convolution, _expand_param, _p2
from engine.ops.conv_kernels import (
    _conv2d_np,
    _conv2d_transpose_np,
    _conv2d_weight_np,
    _convolution_backward_rule,
    _convolution_rule,
    _from2d,
    _to2d,
    builtin_max,
)
from engine.ops.jvp import tmap, tsum
from engine.ops.registry import REGISTRY, defop
from engine.tensor import Tensor


def _convolution_fwd(x, w, b, stride, padding, dilation, transposed, output_padding, groups):
    stride, padding, dilation, output_padding = _check_convolution(
        x, w, b, stride, padding, dilation, transposed, output_padding, groups
    )
    nd = w.ndim - 2
    if nd not in (1, 2):
        raise TorchRuntimeError(f"{nd}-d convolution is not supported by this engine")
    s2, p2, d2 = _p2(stride, nd, 1), _p2(padding, nd, 0), _p2(dilation, nd, 1)
    x2, w2 = _to2d(x, nd), _to2d(w, nd)
    if not transposed:
        out = _conv2d_np(x2, w2, s2, p2, d2, groups)
    else:
        op2 = _p2(output_padding, nd, 0)
        k2 = w2.shape[2:]
        out_hw = tuple(
            (x2.shape[2 + i] - 1) * s2[i] - 2 * p2[i] + d2[i] * (k2[i] - 1) + 1 + op2[i] for i in range(2)
        )
        out = _conv2d_transpose_np(x2, w2, out_hw, s2, p2, d2, groups)
    out = _from2d(out, nd)
    if b is not None:
        b = b.astype(out.dtype, copy=False)  # slow_conv_transpose2d takes a bias of another dtype
        out = out + b.reshape((1, -1) + (1,) * nd)
    return out


def _output_padding_for(target_hw, in_hw, k_hw, stride, padding, dilation):
    """The output_padding that makes a transposed convolution of `in_hw` come out at `target_hw`."""
    return [
        target_hw[i] - ((in_hw[i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (k_hw[i] - 1) + 1)
        for i in range(len(target_hw))
    ]


def _with_mask(fn, names):
    """A joint formula that also takes output_mask: the registry passes it by keyword (joint_mask=True), so it
    is kept out of the signature the registry reads its argument names from."""

    def f(grad, *args, output_mask=None):
        return fn(grad, *args, output_mask=output_mask)

    f.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("grad", *names)]
    )
    return f


def _conv_backward_fwd(
    gy, x, w, bias_sizes, stride, padding, dilation, transposed, output_padding, groups, output_mask
):
    """at::convolution_backward: (grad_input, grad_weight, grad_bias), each only where output_mask asks."""
    nd = w.ndim - 2
    stride = _expand_param(stride, "stride", nd)
    padding = _expand_param(padding, "padding", nd)
    dilation = _expand_param(dilation, "dilation", nd)
    s2, p2, d2 = _p2(stride, nd, 1), _p2(padding, nd, 0), _p2(dilation, nd, 1)
    gy2, x2, w2 = _to2d(gy, nd), _to2d(x, nd), _to2d(w, nd)
    empty = B.xp.zeros((0,), dtype=gy.dtype)
    gi = gw = gb = empty
    if output_mask[0]:
        if transposed:
            # an output_padding of a stride or more (allowed below the dilation) leaves rows past x's
            gi = _conv2d_np(gy2, w2, s2, p2, d2, groups)[:, :, : x2.shape[2], : x2.shape[3]]
            gi = _from2d(B.xp.ascontiguousarray(gi), nd)
        else:
            gi = _from2d(_conv2d_transpose_np(gy2, w2, x2.shape[2:], s2, p2, d2, groups), nd)
    if output_mask[1]:
        gw = (
            _conv2d_weight_np(x2, gy2, w2.shape, s2, p2, d2, groups)
            if transposed
            else _conv2d_weight_np(gy2, x2, w2.shape, s2, p2, d2, groups)
        )
        gw = gw[:, :, 0, :] if nd == 1 else gw
    if len(output_mask) > 2 and output_mask[2]:
        gb = gy.sum(axis=(0, *range(2, gy.ndim)))
    return gi, gw, gb


def _conv_double_backward(
    grads,
    grad_output,
    input,
    weight,
    stride,
    padding,
    dilation,
    transposed,
    output_padding,
    groups,
    output_mask=None,
):
    """L = <ggI, gI> + <ggW, gW> + <ggb, gb> = <gy, C(ggI, w) + C(x, ggW) + ggb>, C the (transposed or not)
    convolution; so d/dgy is two convolutions, d/dx and d/dw are convolution_backward with ggW / ggI."""
    ggi, ggw, ggb = (list(grads) + [None, None, None])[:3]
    mask = output_mask if output_mask is not None else (True, True, True)
    nd = weight.ndim - 2
    r_gy = r_x = r_w = None
    if mask[0]:
        terms = []
        if ggi is not None:
            terms.append(
                convolution_op(
                    ggi, weight, ggb, stride, padding, dilation, transposed, output_padding, groups
                )
            )
        if ggw is not None:
            terms.append(
                convolution_op(
                    input, ggw, None, stride, padding, dilation, transposed, output_padding, groups
                )
            )
        if ggb is not None and ggi is None:
            terms.append(S.expand(S.view(ggb, *([1, -1] + [1] * nd)), *grad_output.shape))
        for t in terms:
            r_gy = t if r_gy is None else r_gy + t
    if mask[1] and ggw is not None:
        r_x = convolution_backward_op(
            grad_output,
            _detached(input),
            ggw,
            None,
            stride,
            padding,
            dilation,
            transposed,
            output_padding,
            groups,
            [True, False, False],
        )[0]
    if mask[2] and ggi is not None:
        r_w = convolution_backward_op(
            grad_output,
            ggi,
            _detached(weight),
            None,
            stride,
            padding,
            dilation,
            transposed,
            output_padding,
            groups,
            [False, True, False],
        )[1]
    return r_gy, r_x, r_w


convolution_backward_op = defop(
    "convolution_backward(Tensor grad_output, Tensor input, Tensor weight, SymInt[]? bias_sizes, SymInt[] "
    "stride, "
    "SymInt[] padding, SymInt[] dilation, bool transposed, SymInt[] output_padding, SymInt groups, "
    "bool[3] output_mask) -> (Tensor, Tensor, Tensor)",
    _conv_backward_fwd,
    nout=3,
    rule=_convolution_backward_rule,
    joint_mask=True,
    jvp=lambda grad_output_t, input_t, weight_t, grad_output, input, weight, bias_sizes, stride, padding, dilation,
    transposed, output_padding, groups, output_mask: _conv_backward_jvp(
        (grad_output_t, input_t, weight_t), (grad_output, input, weight),
        (bias_sizes, stride, padding, dilation, transposed, output_padding, groups), output_mask),
    grad_output__input__weight=_with_mask(
        _conv_double_backward,
        (
            "grad_output",
            "input",
            "weight",
            "stride",
            "padding",
            "dilation",
            "transposed",
            "output_padding",
            "groups",
        ),
    ),
)


def _convolution_backward(
    grad, input, weight, stride, padding, dilation, transposed, output_padding, groups, output_mask=None
):
    mask = list(output_mask) if output_mask is not None else [True, True, True]
    res = convolution_backward_op(
        grad, input, weight, None, stride, padding, dilation, transposed, output_padding, groups, mask
    )
    return tuple(r if m else None for r, m in zip(res, mask))


def _conv_backward_jvp(tangents, primals, attrs, output_mask):
    """torch's: grad_input is bilinear in (grad_output, weight), grad_weight in (grad_output, input), grad_bias
    linear in grad_output: each output's tangent is the sum over the tangents it depends on."""
    gt, xt, wt = tangents
    gy, x, w = primals
    mask = list(output_mask) + [False] * (3 - len(output_mask))

    def cb(a, b, c, want):
        m = [mask[k] and want[k] for k in range(3)]
        if not any(m):
            return (None, None, None)
        res = convolution_backward_op(a, b, c, attrs[0], *attrs[1:], m)
        return tuple(r if m[k] else None for k, r in enumerate(res))

    terms = []
    if gt is not None:
        terms.append(cb(gt, x, w, (True, True, True)))
    if xt is not None:
        terms.append(cb(gy, xt, w, (False, True, False)))
    if wt is not None:
        terms.append(cb(gy, x, wt, (True, False, False)))
    return tuple(tsum(*(t[k] for t in terms)) for k in range(3))


def _convolution_jvp(input_t, weight_t, bias_t, input, weight, attrs):
    """torch's convolution_jvp: conv(input_t, weight) + conv(input, weight_t) + bias_t over the channels."""
    nd = input.ndim
    return tsum(tmap(input_t, lambda t: convolution_op(t, weight, None, *attrs)),
                tmap(weight_t, lambda t: convolution_op(input, t, None, *attrs)),
                tmap(bias_t, lambda t: t.reshape((1, -1) + (1,) * (nd - 2))))


convolution_op = defop(
    "convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, SymInt[] "
    "dilation, "
    "bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor",
    _convolution_fwd,
    joint_mask=True,
    rule=_convolution_rule,
    jvp=lambda input_t, weight_t, bias_t, input, weight, stride, padding, dilation, transposed, output_padding,
    groups: _convolution_jvp(input_t, weight_t, bias_t, input, weight,
                             (stride, padding, dilation, transposed, output_padding, groups)),
    input__weight__bias=_with_mask(
        _convolution_backward,
        ("input", "weight", "stride", "padding", "dilation", "transposed", "output_padding", "groups"),
    ),
)


# ----- Python-facing conv1d / conv2d -----

_SAME_WARNED = [False]


def _pad_op():
    op = REGISTRY.get("constant_pad_nd")
    if op is None:

        def fwd(a, pad, value=0):
            pads = [(0, 0)] * a.ndim
            for i in range(len(pad) // 2):
                pads[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
            crop = tuple(
                slice(-lo if lo < 0 else 0, a.shape[d] + hi if hi < 0 else None)
                for d, (lo, hi) in enumerate(pads)
            )
            a = a[crop]
            return np.pad(
                a, [(builtin_max(lo, 0), builtin_max(hi, 0)) for lo, hi in pads], constant_values=value
            )

        op = defop(
            "constant_pad_nd(Tensor self, SymInt[] pad, Scalar value=0) -> Tensor",
            fwd,
            index=0,
            rule=lambda self, pad: R.Cost(_padded_shape(self.shape, pad), R.numel(_padded_shape(self.shape, pad))),
            jvp=lambda self_t, pad: op(self_t, pad, 0),
            self=lambda grad, pad: op(grad, [-p for p in pad], 0),
        )
    return op


def _padded_shape(shape, pad):
    out = list(shape)
    for i in range(len(pad) // 2):
        out[len(shape) - 1 - i] += int(pad[2 * i]) + int(pad[2 * i + 1])
    return tuple(out)


def _batchify(input, nsp, name):
    nb = nsp + 1
    if input.ndim not in (nb, nb + 1):
        raise TorchRuntimeError(
            f"Expected {nb}D (unbatched) or {nb + 1}D (batched) input to {name}, but got input of size: "
            f"{list_str(input.shape)}"
        )
    batched = input.ndim == nb + 1
    return (input if batched else S.unsqueeze(input, 0)), batched


def _int_list(v, n, name):
    if isinstance(v, list | tuple):
        return [int(i) for i in v]
    if isinstance(v, bool) or not isinstance(v, int):
        raise TorchTypeError(f"{name}(): argument must be an int or a tuple of ints")
    return [int(v)] * n


def _conv_nd(name, nsp, input, weight, bias, stride, padding, dilation, groups):
    if bias is not None and bias._data.dtype != input._data.dtype:
        raise TorchRuntimeError(
            f"Input type ({D.cpp_type_name(input._data)}) and bias type "
            f"({D.cpp_type_name(bias._data)}) "
            "should be the same"
        )
    stride = _int_list(stride, nsp, name)
    dilation = _int_list(dilation, nsp, name)
    x, batched = _batchify(input, nsp, name)
    if isinstance(padding, str):
        out = _convolution_mode(x, weight, bias, stride, padding, dilation, groups)
    else:
        out = convolution_op(
            x, weight, bias, stride, _int_list(padding, nsp, name), dilation, False, [0] * nsp, groups
        )
    return out if batched else S.squeeze_dim(out, dim=0)


def _convolution_mode(x, weight, bias, stride, padding, dilation, groups):
    if padding == "valid":
        return convolution_op(x, weight, bias, stride, [0], dilation, False, [0], groups)
    if padding != "same":
        raise TorchRuntimeError(f"Invalid padding string: '{padding}'")
    k = weight.ndim
    if k <= 2:
        raise TorchRuntimeError("weight should have at least three dimensions")
    if groups <= 0:
        raise TorchRuntimeError("non-positive groups is not supported")
    dim = k - 2
    if k != x.ndim:
        raise TorchRuntimeError(
            f"Expected {k}-dimensional input for {k}-dimensional weight{list_str(weight.shape)}, but got "
            f"{x.ndim}"
            f"-dimensional input of size {list_str(x.shape)} instead"
        )
    if not (len(stride) == dim or len(stride) == 1):
        raise TorchRuntimeError(f"stride cannot broadcast to {dim} dimensions")
    if not (len(dilation) == dim or len(dilation) == 1):
        raise TorchRuntimeError(f"dilation cannot broadcast to {dim} dimensions")
    if any(s != 1 for s in stride):
        raise TorchRuntimeError("padding='same' is not supported for strided convolutions")
    pl, pr = [], []
    for i in range(dim):
        d = dilation[0] if len(dilation) == 1 else dilation[i]
        total = d * (weight.shape[i + 2] - 1)
        pl.append(total // 2)
        pr.append(total - total // 2)
    if pl == pr:
        return convolution_op(x, weight, bias, stride, pl, dilation, False, [0] * dim, groups)
    if not _SAME_WARNED[0]:
        _SAME_WARNED[0] = True
        warnings.warn(
            "Using padding='same' with even kernel lengths and odd dilation may require a zero-padded copy "
            "of the input be created",
            UserWarning,
            stacklevel=4,
        )
    pad_nd = [0] * (2 * dim)
    for i in range(dim):
        delta = pr[i] - pl[i]
        idx = 2 * (dim - 1 - i)
        if delta > 0:
            pad_nd[idx + 1] = delta
        else:
            pad_nd[idx] = delta
            pl[i] = pr[i]
    padded = _pad_op()(x, pad_nd, 0)
    return convolution_op(padded, weight, bias, stride, pl, dilation, False, [0] * dim, groups)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | list[int] = 1,
    padding: int | list[int] | str = 0,
    dilation: int | list[int] = 1,
    groups: int = 1,
) -> Tensor:
    return _conv_nd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | list[int] = 1,
    padding: int | list[int] | str = 0,
    dilation: int | list[int] = 1,
    groups: int = 1,
) -> Tensor:
    return _conv_nd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


from engine.ops.conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: E402
from engine.ops.pool import avg_pool2d, avg_pool2d_op, max_pool2d, max_pool2d_with_indices_op  # noqa: E402
from engine.ops.registry import entry  # noqa: E402

CATALOG = [
    entry(
        "conv1d",
        conv1d,
        "1-d convolution (stride, padding incl. 'same'/'valid', dilation, groups).",
        convolution_op,
        method=False,
        functional=True,
    ),
    entry(
        "conv2d",
        conv2d,
        "2-d convolution (stride, padding incl. 'same'/'valid', dilation, groups).",
        convolution_op,
        method=False,
        functional=True,
    ),
    entry(
        "conv_transpose1d",
        conv_transpose1d,
        "1-d transposed convolution (stride, padding, output_padding, groups, dilation).",
        convolution_op,
        method=False,
        functional=True,
    ),
    entry(
        "conv_transpose2d",
        conv_transpose2d,
        "2-d transposed convolution (stride, padding, output_padding, groups, dilation).",
        convolution_op,
        method=False,
        functional=True,
    ),
    entry(
        "max_pool2d",
        max_pool2d,
        "2-d max pooling (kernel_size, stride, padding, dilation, ceil_mode, return_indices).",
        max_pool2d_with_indices_op,
        method=False,
        functional=True,
    ),
    entry(
        "avg_pool2d",
        avg_pool2d,
        "2-d average pooling (count_include_pad, ceil_mode, divisor_override).",
        avg_pool2d_op,
        function=False,
        method=False,
        functional=True,
    ),
]
