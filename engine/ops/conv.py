"""Convolution and 2-d pooling: conv1d / conv2d (torch's `convolution` op, ConvolutionBackward0), max_pool2d
(MaxPool2DWithIndicesBackward0) and avg_pool2d (AvgPool2DBackward0).

Forwards are im2col: a strided window view of the padded input and one batched matmul per group. Backwards are
engine ops whose own backwards close the loop, so grad-of-grad works to any order:

    convolution(x, w, b)  -> convolution_backward(g, x, w)  (ConvolutionBackwardBackward0, 3 outputs)
    convolution_backward  -> d/dg: convolution(ggI, w) + convolution(x, ggW); d/dx, d/dw: convolution_backward
                             with ggW / ggI  (as <gg, d y> = <g, C(ggI, w) + C(x, ggW)>, C bilinear)
    max_pool2d_with_indices -> ..._backward (scatter by indices) <-> max_pool_double_backward (gather)
    avg_pool2d            -> avg_pool2d_backward <-> avg_pool2d

As in torch, the pooling backwards also take `self` (gradient zeros_like(self)), so first-order gradients
require grad under create_graph exactly when torch's do.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import (
    TorchIndexError,
    TorchNotImplementedError,
    TorchRuntimeError,
    TorchTypeError,
)
from engine.ops import shape as S
from engine.ops._util import list_str
from engine.ops.registry import REGISTRY, defop
from engine.tensor import Tensor

_word = D.scalar_type_name


# ======================================================================================================
# numpy kernels (2-d spatial; 1-d convolutions run as 2-d with a height of one)
# ======================================================================================================


def _windows(xp, out_hw, k_hw, stride, dilation):
    """Strided view (N, C, P, Q, kH, kW) of the padded input xp (read-only: the windows overlap)."""
    n, c, h, w = xp.shape
    sn, sc, sh, sw = xp.strides
    shape = (n, c, out_hw[0], out_hw[1], k_hw[0], k_hw[1])
    strides = (sn, sc, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1])
    if isinstance(xp, np.ndarray):
        return np.lib.stride_tricks.as_strided(xp, shape=shape, strides=strides, writeable=False)
    return B.xp.lib.stride_tricks.as_strided(xp, shape=shape, strides=strides)  # CuPy


def _pad_hw(x, pad, value=0, extra=(0, 0)):
    if not any(pad) and not any(extra):
        return B.xp.ascontiguousarray(x)
    return np.pad(
        x, ((0, 0), (0, 0), (pad[0], pad[0] + extra[0]), (pad[1], pad[1] + extra[1])), constant_values=value
    )


def _conv_out_hw(in_hw, k_hw, stride, padding, dilation):
    return tuple(
        (in_hw[i] + 2 * padding[i] - dilation[i] * (k_hw[i] - 1) - 1) // stride[i] + 1 for i in range(2)
    )


def _conv2d_np(x, w, stride, padding, dilation, groups):
    """out[n, g*Cog+o, p, q] = sum over c, kh, kw of
    xpad[n, g*Cig+c, p*s+kh*d, q*s+kw*d] * w[g*Cog+o, c, kh, kw]."""
    n, cin, h, wd = x.shape
    cout, cig, kh, kw = w.shape
    g = groups
    cog = cout // g
    out_hw = _conv_out_hw((h, wd), (kh, kw), stride, padding, dilation)
    if n == 0 or cout == 0 or cig == 0 or out_hw[0] <= 0 or out_hw[1] <= 0:
        return B.xp.zeros(
            (n, cout, builtin_max(out_hw[0], 0), builtin_max(out_hw[1], 0)),
            dtype=np.result_type(x.dtype, w.dtype),
        )
    win = _windows(_pad_hw(x, padding), out_hw, (kh, kw), stride, dilation)  # N, C, P, Q, kh, kw
    p, q = out_hw
    cols = (
        win.reshape(n, g, cig, p, q, kh, kw)
        .transpose(1, 0, 3, 4, 2, 5, 6)
        .reshape(g, n * p * q, cig * kh * kw)
    )
    wm = w.reshape(g, cog, cig * kh * kw).transpose(0, 2, 1)
    out = np.matmul(cols, wm)  # g, N*P*Q, cog
    return B.xp.ascontiguousarray(out.reshape(g, n, p, q, cog).transpose(1, 0, 4, 2, 3).reshape(n, cout, p, q))


def _conv2d_transpose_np(y, w, out_hw, stride, padding, dilation, groups):
    """Adjoint of _conv2d_np in its input: y (N, Cout, P, Q) -> (N, G*Cig, *out_hw)."""
    n, cout, p, q = y.shape
    _, cig, kh, kw = w.shape
    g = groups
    cog = cout // g
    h, wd = out_hw
    dt = np.result_type(y.dtype, w.dtype)
    need_h = (p - 1) * stride[0] + (kh - 1) * dilation[0] + 1 if p else 0
    need_w = (q - 1) * stride[1] + (kw - 1) * dilation[1] + 1 if q else 0
    ph = builtin_max(h + 2 * padding[0], need_h)
    pw = builtin_max(wd + 2 * padding[1], need_w)
    xp = B.xp.zeros((n, g * cig, ph, pw), dtype=dt)
    if n and p and q and cout and cig:
        ym = y.reshape(n, g, cog, p * q).transpose(1, 2, 0, 3).reshape(g, cog, n * p * q)
        wm = w.reshape(g, cog, cig * kh * kw).transpose(0, 2, 1)  # g, cig*kk, cog
        cols = np.matmul(wm, ym).reshape(g, cig, kh, kw, n, p, q)
        xv = xp.reshape(n, g, cig, ph, pw)
        for i in range(kh):
            hs = i * dilation[0]
            for j in range(kw):
                ws = j * dilation[1]
                xv[
                    :,
                    :,
                    :,
                    hs : hs + (p - 1) * stride[0] + 1 : stride[0],
                    ws : ws + (q - 1) * stride[1] + 1 : stride[1],
                ] += cols[:, :, i, j].transpose(2, 0, 1, 3, 4)
    return B.xp.ascontiguousarray(xp[:, :, padding[0] : padding[0] + h, padding[1] : padding[1] + wd])


def _conv2d_weight_np(gy, x, w_shape, stride, padding, dilation, groups):
    """d <gy, conv(x, w)> / dw."""
    n, cin, h, wd = x.shape
    cout, cig, kh, kw = w_shape
    g = groups
    cog = cout // g
    _, _, p, q = gy.shape
    dt = np.result_type(gy.dtype, x.dtype)
    if n == 0 or p == 0 or q == 0 or cout == 0 or cig == 0:
        return B.xp.zeros(tuple(w_shape), dtype=dt)
    win = _windows(_pad_hw(x, padding), (p, q), (kh, kw), stride, dilation)
    cols = (
        win.reshape(n, g, cig, p, q, kh, kw)
        .transpose(1, 0, 3, 4, 2, 5, 6)
        .reshape(g, n * p * q, cig * kh * kw)
    )
    gm = gy.reshape(n, g, cog, p * q).transpose(1, 2, 0, 3).reshape(g, cog, n * p * q)
    return B.xp.ascontiguousarray(np.matmul(gm, cols).reshape(cout, cig, kh, kw))


builtin_max = max


def _to2d(a, nd):
    return a[:, :, None, :] if nd == 1 else a


def _from2d(a, nd):
    return a[:, :, 0, :] if nd == 1 else a


def _p2(v, nd, fill):
    return [fill] + list(v) if nd == 1 else list(v)


# ======================================================================================================
# convolution (torch's at::convolution)
# ======================================================================================================


def _expand_param(v, name, dim):
    v = list(v) if isinstance(v, list | tuple) else [v]
    if len(v) == 1:
        return v * dim
    if len(v) != dim:
        raise TorchRuntimeError(
            f"expected {name} to be a single integer value or a list of {dim} values to match the "
            "convolution "
            f"dimensions, but got {name}={list_str(v)}"
        )
    return v


def _check_convolution(x, w, b, stride, padding, dilation, transposed, output_padding, groups):
    """at::_convolution's parameter expansion and check_shape_forward, in torch's order."""
    k = w.ndim
    dim = k - 2
    if dim <= 0:
        raise TorchRuntimeError("weight should have at least three dimensions")
    if groups <= 0:
        raise TorchRuntimeError("non-positive groups is not supported")
    stride = _expand_param(stride, "stride", dim)
    padding = _expand_param(padding, "padding", dim)
    dilation = _expand_param(dilation, "dilation", dim)
    output_padding = _expand_param(output_padding, "output_padding", dim)
    if any(p < 0 for p in padding):
        raise TorchRuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise TorchRuntimeError("negative output_padding is not supported")
    if any(s <= 0 for s in stride):
        raise TorchRuntimeError("non-positive stride is not supported")
    if any(d < 0 for d in dilation):
        raise TorchRuntimeError("dilation should be greater than zero")
    if any(d == 0 for d in dilation):
        raise TorchRuntimeError(f"dilation should be greater than zero, but got {list_str(dilation)}")
    ws = list(w.shape)
    if x.ndim != k:
        raise TorchRuntimeError(
            f"Expected {k}-dimensional input for {k}-dimensional weight {list_str(ws)}, but got "
            f"{x.ndim}-dimensional "
            f"input of size {list_str(x.shape)} instead"
        )
    if ws[0] < groups:
        raise TorchRuntimeError(
            f"Given groups={groups}, expected weight to be at least {groups} at dimension 0, but got weight "
            "of size "
            f"{list_str(ws)} instead"
        )
    if ws[0] % groups:
        raise TorchRuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got "
            "weight of "
            f"size [{list_str(ws)}] instead"
        )
    if not transposed:
        if x.shape[1] != ws[1] * groups:
            raise TorchRuntimeError(
                f"Given groups={groups}, weight of size {list_str(ws)}, expected input{list_str(x.shape)} to "
                "have "
                f"{ws[1] * groups} channels, but got {x.shape[1]} channels instead"
            )
        if b is not None and not (b.ndim == 1 and b.shape[0] == ws[0]):
            raise TorchRuntimeError(
                f"Given weight of size {list_str(ws)}, expected bias to be 1-dimensional with {ws[0]} "
                "elements, but "
                f"got bias of size {list_str(b.shape)} instead"
            )
        ins = [x.shape[i] + 2 * padding[i - 2] for i in range(2, k)]
        kers = [dilation[i - 2] * (ws[i] - 1) + 1 for i in range(2, k)]
        if any(a < c for a, c in zip(ins, kers)):
            raise TorchRuntimeError(
                f"Calculated padded input size per channel: ({' x '.join(map(str, ins))}). Kernel size: "
                f"({' x '.join(map(str, kers))}). Kernel size can't be greater than actual input size"
            )
    else:
        if x.shape[1] != ws[0]:
            raise TorchRuntimeError(
                f"Given transposed=1, weight of size {list_str(ws)}, expected input{list_str(x.shape)} to "
                "have "
                f"{ws[0]} channels, but got {x.shape[1]} channels instead"
            )
        if b is not None and not (b.ndim == 1 and b.shape[0] == ws[1] * groups):
            raise TorchRuntimeError(
                f"Given transposed=1, weight of size {list_str(ws)}, expected bias to be 1-dimensional with "
                f"{ws[1] * groups} elements, but got bias of size {list_str(b.shape)} instead"
            )
    if x.dtype != w.dtype:
        raise TorchRuntimeError(f"expected scalar type {_word(x)} but found {_word(w)}")
    if b is not None and b.dtype != x.dtype:
        raise TorchRuntimeError(f"expected scalar type {_word(x)} but found {_word(b)}")
    return stride, padding, dilation, output_padding


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
            gi = _from2d(_conv2d_np(gy2, w2, s2, p2, d2, groups), nd)
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


def _detached(t):
    return Tensor._make(t._data)


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
    joint_mask=True,
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


convolution_op = defop(
    "convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, SymInt[] "
    "dilation, "
    "bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor",
    _convolution_fwd,
    joint_mask=True,
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
            self=lambda grad, pad: op(grad, [-p for p in pad], 0),
        )
    return op


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


# ======================================================================================================
# pooling
# ======================================================================================================


def _pool_out(in_size, k, pad, stride, dilation, ceil_mode):
    """pooling_output_shape, with its checks."""
    if stride == 0:
        raise TorchRuntimeError("stride should not be zero")
    if pad < 0:
        raise TorchRuntimeError(f"pad must be non-negative, but got pad: {pad}")
    if pad > ((k - 1) * dilation + 1) // 2:
        raise TorchRuntimeError(
            f"pad should be at most half of effective kernel size, but got pad={pad}, kernel_size={k} and "
            f"dilation={dilation}"
        )
    num = in_size + 2 * pad - dilation * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = num // stride + 1
    if ceil_mode and (out - 1) * stride >= in_size + pad:
        out -= 1
    return out


def _stride_arg(stride):
    return None if stride is None or (isinstance(stride, list | tuple) and len(stride) == 0) else stride


def _pool_params(name, kernel_size, stride, padding, dilation=None):
    ks = list(kernel_size) if isinstance(kernel_size, list | tuple) else [kernel_size]
    if len(ks) not in (1, 2):
        raise TorchRuntimeError(f"{name}: kernel_size must either be a single int, or a tuple of two ints")
    kh, kw = ks[0], ks[-1]
    st = [] if stride is None else (list(stride) if isinstance(stride, list | tuple) else [stride])
    if len(st) not in (0, 1, 2):
        raise TorchRuntimeError(
            f"{name}: stride must either be omitted, a single int, or a tuple of two ints"
        )
    dh = kh if not st else st[0]
    dw = kw if not st else st[-1]
    pd = list(padding) if isinstance(padding, list | tuple) else [padding]
    if len(pd) not in (1, 2):
        raise TorchRuntimeError(f"{name}: padding must either be a single int, or a tuple of two ints")
    ph, pw = pd[0], pd[-1]
    if dilation is None:
        return (kh, kw), (dh, dw), (ph, pw), (1, 1)
    dl = list(dilation) if isinstance(dilation, list | tuple) else [dilation]
    if len(dl) not in (1, 2):
        raise TorchRuntimeError(f"{name}: dilation must be either a single int, or a tuple of two ints")
    return (kh, kw), (dh, dw), (ph, pw), (dl[0], dl[-1])


def _pool2d_shape_check(x, k, s, p, d, out_hw, pool_name):
    if k[0] <= 0 or k[1] <= 0:
        raise TorchRuntimeError(f"kernel size should be greater than zero, but got kH: {k[0]} kW: {k[1]}")
    if s[0] <= 0 or s[1] <= 0:
        raise TorchRuntimeError(f"stride should be greater than zero, but got dH: {s[0]} dW: {s[1]}")
    if d[0] <= 0 or d[1] <= 0:
        raise TorchRuntimeError(
            f"dilation should be greater than zero, but got dilationH: {d[0]} dilationW: {d[1]}"
        )
    nd = x.ndim
    valid = x.shape[1] != 0 and x.shape[2] != 0
    if not ((nd == 3 and x.shape[0] != 0 and valid) or (nd == 4 and valid and x.shape[3] != 0)):
        raise TorchRuntimeError(
            "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:"
            f"{list_str(x.shape)}"
        )
    if not (k[1] // 2 >= p[1] and k[0] // 2 >= p[0]):
        raise TorchRuntimeError(
            f"pad should be smaller than or equal to half of kernel size, but got padW = {p[1]}, padH = "
            f"{p[0]}, "
            f"kW = {k[1]}, kH = {k[0]}"
        )
    if out_hw[0] < 1 or out_hw[1] < 1:
        raise TorchRuntimeError(
            f"Given input size: ({x.shape[-3]}x{x.shape[-2]}x{x.shape[-1]}). Calculated output size: "
            f"({x.shape[-3]}x{out_hw[0]}x{out_hw[1]}). Output size is too small"
        )


def _plane(x):
    """(N, C, H, W) view of a 3-d or 4-d input."""
    return x[None] if x.ndim == 3 else x


def _max_pool_fwd(x, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    k, s, p, d = _pool_params("max_pool2d", kernel_size, _stride_arg(stride), padding, dilation)
    if x.ndim not in (3, 4):
        raise TorchRuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    if x.dtype == np.bool_:
        raise TorchNotImplementedError("\"max_pool2d\" not implemented for 'Bool'")
    h, w = x.shape[-2], x.shape[-1]
    oh = _pool_out(h, k[0], p[0], s[0], d[0], ceil_mode)
    ow = _pool_out(w, k[1], p[1], s[1], d[1], ceil_mode)
    _pool2d_shape_check(x, k, s, p, d, (oh, ow), "max_pool2d")
    x4 = _plane(x)
    n, c = x4.shape[:2]
    need = ((oh - 1) * s[0] + (k[0] - 1) * d[0] + 1, (ow - 1) * s[1] + (k[1] - 1) * d[1] + 1)
    extra = (builtin_max(need[0] - h - 2 * p[0], 0), builtin_max(need[1] - w - 2 * p[1], 0))
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = _pad_hw(x4, p, low, extra)
    valid = _pad_hw(B.xp.ones((1, 1, h, w), dtype=bool), p, False, extra)
    win = _windows(xp, (oh, ow), k, s, d).reshape(n, c, oh, ow, k[0] * k[1])
    vwin = _windows(valid, (oh, ow), k, s, d).reshape(1, 1, oh, ow, k[0] * k[1])
    vals = np.where(vwin, win, low)
    idx = np.argmax(vals, axis=-1)
    first_valid = np.argmax(vwin, axis=-1)
    chosen_valid = np.take_along_axis(np.broadcast_to(vwin, vals.shape), idx[..., None], -1)[..., 0]
    idx = np.where(chosen_valid, idx, first_valid)
    if x.dtype.kind == "f":
        nan = np.isnan(vals) & vwin
        if nan.any():
            last_nan = vals.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
            idx = np.where(nan.any(-1), last_nan, idx)
    out = np.take_along_axis(vals, idx[..., None], -1)[..., 0]
    kh_i, kw_i = idx // k[1], idx % k[1]
    rows = B.xp.arange(oh)[:, None] * s[0] - p[0] + kh_i * d[0]
    cols = B.xp.arange(ow)[None, :] * s[1] - p[1] + kw_i * d[1]
    flat = (rows * w + cols).astype(np.int64)
    if x.ndim == 3:
        out, flat = out[0], flat[0]
    return B.xp.ascontiguousarray(out), B.xp.ascontiguousarray(flat)


def _scatter_fwd(g, indices, input_size):
    shape = tuple(input_size)
    hw = shape[-1] * shape[-2]
    planes = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    gi = g.reshape(planes, -1)
    ii = indices.reshape(planes, -1) + (B.xp.arange(planes, dtype=np.int64) * hw)[:, None]
    out = np.bincount(ii.ravel(), weights=gi.ravel(), minlength=planes * hw)
    return out.astype(g.dtype).reshape(shape)


def _gather_fwd(g, indices):
    planes = indices.size // (indices.shape[-1] * indices.shape[-2]) if indices.size else 0
    if indices.size == 0:
        return B.xp.zeros(indices.shape, dtype=g.dtype)
    gi = g.reshape(planes, -1)
    ii = indices.reshape(planes, -1)
    return np.take_along_axis(gi, ii, axis=1).reshape(indices.shape)


def _zeros_like(t):
    return Tensor._make(B.xp.zeros(t.shape, dtype=t._data.dtype))


def _max_pool_bwd_fwd(g, x, kernel_size, stride, padding, dilation, ceil_mode, indices):
    return _scatter_fwd(g, indices, x.shape)


# torch: grad_output: max_pool_double_backward(grad, indices, 2); self: zeros_like(self)
max_pool2d_backward_op = defop(
    "max_pool2d_with_indices_backward(Tensor grad_output, Tensor self, int[2] kernel_size, int[2] stride, "
    "int[2] padding, int[2] dilation, bool ceil_mode, Tensor indices) -> Tensor",
    _max_pool_bwd_fwd,
    grad_output=lambda grad, indices, self: max_pool_gather_op(grad, _detached(indices), _zeros_like(self)),
    self=lambda grad, self: _zeros_like(self),
)
max_pool_gather_op = defop(
    "max_pool_double_backward(Tensor self, Tensor indices, Tensor input) -> Tensor",
    lambda g, indices, input: _gather_fwd(g, indices),
    self=lambda grad, indices, input: max_pool2d_backward_op(
        grad, input, [1], [], [0], [1], False, _detached(indices)
    ),
)


def _max_pool_backward(grad, self, kernel_size, stride, padding, dilation, ceil_mode, result1):
    return max_pool2d_backward_op(
        grad[0], self, kernel_size, stride, padding, dilation, ceil_mode, _detached(result1)
    )


max_pool2d_with_indices_op = defop(
    "max_pool2d_with_indices(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, "
    "int[2] dilation=1, bool ceil_mode=False) -> (Tensor, Tensor)",
    _max_pool_fwd,
    nout=2,
    self=_max_pool_backward,
)


def max_pool2d(
    input: Tensor,
    kernel_size: int | list[int],
    stride: int | list[int] | None = None,
    padding: int | list[int] = 0,
    dilation: int | list[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor:
    out, idx = max_pool2d_with_indices_op(
        input, kernel_size, [] if stride is None else stride, padding, dilation, ceil_mode
    )
    return (out, idx) if return_indices else out


def _avg_geometry(h, w, k, s, p, oh, ow, ceil_mode, count_include_pad, divisor_override):
    """Per-output divisor (oh, ow) as torch's CPU kernel computes it."""
    hs = B.xp.arange(oh) * s[0] - p[0]
    ws = B.xp.arange(ow) * s[1] - p[1]
    he = np.minimum(hs + k[0], h + p[0])
    we = np.minimum(ws + k[1], w + p[1])
    pool = (he - hs)[:, None] * (we - ws)[None, :]
    hs0, ws0 = np.maximum(hs, 0), np.maximum(ws, 0)
    he0, we0 = np.minimum(he, h), np.minimum(we, w)
    valid = (he0 - hs0)[:, None] * (we0 - ws0)[None, :]
    if divisor_override is not None:
        div = B.xp.full((oh, ow), divisor_override)
    elif count_include_pad:
        div = pool
    else:
        div = valid
    empty = ((hs0 >= he0)[:, None]) | ((ws0 >= we0)[None, :])
    return div, empty


def _avg_checks(x, kernel_size, stride, padding, ceil_mode, divisor_override):
    k, s, p, _ = _pool_params("avg_pool2d", kernel_size, _stride_arg(stride), padding)
    if divisor_override is not None and divisor_override == 0:
        raise TorchRuntimeError("divisor must be not zero")
    if x.ndim < 3:
        raise TorchIndexError(
            f"Dimension out of range (expected to be in range of [{-builtin_max(x.ndim, 1)}, "
            f"{builtin_max(x.ndim, 1) - 1}], but got -3)"
        )
    h, w = x.shape[-2], x.shape[-1]
    oh = _pool_out(h, k[0], p[0], s[0], 1, ceil_mode)
    ow = _pool_out(w, k[1], p[1], s[1], 1, ceil_mode)
    _pool2d_shape_check(x, k, s, p, (1, 1), (oh, ow), "avg_pool2d")
    return k, s, p, oh, ow


def _avg_pool_fwd(
    x, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    if x.dtype == np.bool_:
        raise TorchNotImplementedError("\"avg_pool2d\" not implemented for 'Bool'")
    k, s, p, oh, ow = _avg_checks(x, kernel_size, stride, padding, ceil_mode, divisor_override)
    x4 = _plane(x)
    h, w = x4.shape[-2:]
    need = ((oh - 1) * s[0] + k[0], (ow - 1) * s[1] + k[1])
    extra = (builtin_max(need[0] - h - 2 * p[0], 0), builtin_max(need[1] - w - 2 * p[1], 0))
    acc = (
        x4.dtype
        if x4.dtype.kind == "f" and x4.dtype != np.float16
        else (np.float32 if x4.dtype == np.float16 else np.int64)
    )
    xp = _pad_hw(x4.astype(acc, copy=False), p, 0, extra)
    sums = _windows(xp, (oh, ow), k, s, (1, 1)).sum(axis=(-2, -1), dtype=acc)
    div, empty = _avg_geometry(h, w, k, s, p, oh, ow, ceil_mode, count_include_pad, divisor_override)
    if x.dtype.kind == "f":
        out = sums / div.astype(acc)
    else:
        out = np.sign(sums) * (np.abs(sums) // div)
    out = np.where(empty, 0, out).astype(x.dtype)
    return B.xp.ascontiguousarray(out[0] if x.ndim == 3 else out)


def _avg_pool_bwd_fwd(
    g, input_size, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    shape = tuple(input_size)
    k, s, p, _ = _pool_params("avg_pool2d", kernel_size, _stride_arg(stride), padding)
    h, w = shape[-2], shape[-1]
    g4 = _plane(g)
    n, c, oh, ow = g4.shape
    div, empty = _avg_geometry(h, w, k, s, p, oh, ow, ceil_mode, count_include_pad, divisor_override)
    gd = np.where(empty, 0, g4 / div.astype(g4.dtype)).astype(g4.dtype)
    ph = builtin_max(h + 2 * p[0], (oh - 1) * s[0] + k[0])
    pw = builtin_max(w + 2 * p[1], (ow - 1) * s[1] + k[1])
    xp = B.xp.zeros((n, c, ph, pw), dtype=g4.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            xp[:, :, i : i + (oh - 1) * s[0] + 1 : s[0], j : j + (ow - 1) * s[1] + 1 : s[1]] += gd
    out = B.xp.ascontiguousarray(xp[:, :, p[0] : p[0] + h, p[1] : p[1] + w])
    return out.reshape(shape)


avg_pool2d_op = defop(
    "avg_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, bool ceil_mode=False, "
    "bool count_include_pad=True, int? divisor_override=None) -> Tensor",
    _avg_pool_fwd,
    self=lambda grad, self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override: (
        avg_pool_backward_op(
            grad, self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
        )
    ),
)
# torch: grad_output: avg_pool2d(grad, ...); self: zeros_like(self)
avg_pool_backward_op = defop(
    "avg_pool2d_backward(Tensor grad_output, Tensor self, int[2] kernel_size, int[2] stride, int[2] padding, "
    "bool ceil_mode, bool count_include_pad, int? divisor_override) -> Tensor",
    lambda g, x, *rest: _avg_pool_bwd_fwd(g, x.shape, *rest),
    grad_output=lambda grad, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override: (
        avg_pool2d_op(grad, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
    ),
    self=lambda grad, self: _zeros_like(self),
)


def avg_pool2d(
    input: Tensor,
    kernel_size: int | list[int],
    stride: int | list[int] | None = None,
    padding: int | list[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    return avg_pool2d_op(
        input,
        kernel_size,
        [] if stride is None else stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


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
