"""Convolution: conv1d / conv2d, conv_transpose1d / 2d (engine/ops/conv_transpose.py; all torch's `convolution`
op, ConvolutionBackward0). Its catalog also lists the
2-d pooling of engine/ops/pool.py (max_pool2d, avg_pool2d).

Convolutions are im2col (a strided window view of the padded input copied into columns, one batched matmul per
group) while that buffer is small (_IM2COL_MAX, or 4x the input and output); past it, in tiles of output rows;
where one row's columns are past it, a loop over the kernel offsets (one matmul of a strided slice each). So
memory stays near the input and output sizes at any kernel size; every loop checks the request's deadline.
Backwards are engine ops whose own backwards close the loop, so grad-of-grad works to any order:

    convolution(x, w, b)  -> convolution_backward(g, x, w)  (ConvolutionBackwardBackward0, 3 outputs)
    convolution_backward  -> d/dg: convolution(ggI, w) + convolution(x, ggW); d/dx, d/dw: convolution_backward
                             with ggW / ggI  (as <gg, d y> = <g, C(ggI, w) + C(x, ggW)>, C bilinear)
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine import dtypes as D
from engine.errors import (
    TorchRuntimeError,
    TorchTypeError,
)
from engine.ops import rules as R
from engine.ops import shape as S
from engine.ops._util import list_str
from engine.ops._window import detached as _detached
from engine.ops._window import offsets as _offsets
from engine.ops._window import pad_hw as _pad_hw
from engine.ops._window import tap as _tap
from engine.ops._window import windows as _windows
from engine.ops.jvp import tmap, tsum
from engine.ops.registry import REGISTRY, defop
from engine.tensor import Tensor

_word = D.scalar_type_name


# ======================================================================================================
# numpy kernels (2-d spatial; 1-d convolutions run as 2-d with a height of one)
# ======================================================================================================



# An im2col buffer (N*P*Q rows of C*kh*kw) is held at most _IM2COL_MAX elements or _IM2COL_RATIO times the
# kernel's input and output together at once: past that, the convolution and its weight gradient build it in
# tiles of output rows (each tile one matmul with the same long contraction), and where a single output row's
# columns are past it too, loop over the kernel offsets (one strided slice and matmul each). A 20x20 kernel
# over a 1000x1000 image made a 1.5 GiB buffer.
_IM2COL_MAX = 1 << 20
_IM2COL_RATIO = 4


def _tile_rows(n, c, p, q, kh, kw, around):
    """Output rows per im2col tile (p or more: the whole buffer at once), or 0: loop over kernel offsets.
    around: the elements of the kernel's input and output."""
    per_row = n * q * c * kh * kw
    if per_row == 0:
        return p
    return builtin_max(_IM2COL_MAX, _IM2COL_RATIO * around) // per_row


def _im2col(n, c, p, q, kh, kw, around):
    """Whether a kernel builds the whole im2col buffer at once."""
    return _tile_rows(n, c, p, q, kh, kw, around) >= p


def _win_cols(win, g, r0, r1):
    """Rows r0:r1 of the windows (N, C, P, Q, kh, kw) as im2col columns (G, N*rows*Q, Cig*kh*kw): a copy."""
    n, c, _, q, kh, kw = win.shape
    return (win[:, :, r0:r1].reshape(n, g, c // g, r1 - r0, q, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6)
            .reshape(g, n * (r1 - r0) * q, (c // g) * kh * kw))



def _tap_cols(t, g):
    """A tap (N, G*Cig, P, Q) as (G, N*P*Q, Cig) rows, the layout of one kernel offset's im2col columns."""
    n, c, p, q = t.shape
    return t.reshape(n, g, c // g, p, q).transpose(1, 0, 3, 4, 2).reshape(g, n * p * q, c // g)


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
    xpad = _pad_hw(x, padding)
    p, q = out_hw
    rows = _tile_rows(n, cin, p, q, kh, kw, x.size + n * cout * p * q)
    if rows:
        win = _windows(xpad, out_hw, (kh, kw), stride, dilation)  # N, C, P, Q, kh, kw
        wm = w.reshape(g, cog, cig * kh * kw).transpose(0, 2, 1)
        if rows >= p:
            out = np.matmul(_win_cols(win, g, 0, p), wm)  # g, N*P*Q, cog
        else:
            out = B.xp.empty((g, n, p, q, cog), dtype=np.result_type(x.dtype, w.dtype))
            for r0 in range(0, p, rows):
                _budget.check()
                r1 = builtin_min(p, r0 + rows)
                out[:, :, r0:r1] = np.matmul(_win_cols(win, g, r0, r1), wm).reshape(g, n, r1 - r0, q, cog)
    else:
        wg = w.reshape(g, cog, cig, kh, kw)
        out = None
        for i, j in _offsets(kh, kw):
            term = np.matmul(_tap_cols(_tap(xpad, i, j, out_hw, stride, dilation), g),
                             wg[:, :, :, i, j].transpose(0, 2, 1))  # g, N*P*Q, cog
            if out is None:
                out = term
            else:
                out += term
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
        xv = xp.reshape(n, g, cig, ph, pw)
        whole = _im2col(n, g * cig, p, q, kh, kw, y.size + n * g * cig * h * wd)
        if whole:
            wm = w.reshape(g, cog, cig * kh * kw).transpose(0, 2, 1)  # g, cig*kk, cog
            cols = np.matmul(wm, ym).reshape(g, cig, kh, kw, n, p, q)
        else:
            wg = w.reshape(g, cog, cig, kh, kw)
        for i, j in _offsets(kh, kw):
            hs, ws = i * dilation[0], j * dilation[1]
            part = cols[:, :, i, j] if whole else np.matmul(
                wg[:, :, :, i, j].transpose(0, 2, 1), ym).reshape(g, cig, n, p, q)
            xv[
                :,
                :,
                :,
                hs : hs + (p - 1) * stride[0] + 1 : stride[0],
                ws : ws + (q - 1) * stride[1] + 1 : stride[1],
            ] += part.transpose(2, 0, 1, 3, 4)
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
    xpad = _pad_hw(x, padding)
    rows = _tile_rows(n, cin, p, q, kh, kw, x.size + gy.size)
    if rows:
        win = _windows(xpad, (p, q), (kh, kw), stride, dilation)
        gw = None
        for r0 in range(0, p, rows):
            _budget.check()
            r1 = builtin_min(p, r0 + rows)
            gm = gy[:, :, r0:r1].reshape(n, g, cog, (r1 - r0) * q).transpose(1, 2, 0, 3).reshape(
                g, cog, n * (r1 - r0) * q)
            term = np.matmul(gm, _win_cols(win, g, r0, r1))
            gw = term if gw is None else np.add(gw, term, out=gw)
        return B.xp.ascontiguousarray(gw.reshape(cout, cig, kh, kw))
    gm = gy.reshape(n, g, cog, p * q).transpose(1, 2, 0, 3).reshape(g, cog, n * p * q)
    gw = B.xp.empty((g, cog, cig, kh, kw), dtype=dt)
    for i, j in _offsets(kh, kw):
        gw[:, :, :, i, j] = np.matmul(gm, _tap_cols(_tap(xpad, i, j, (p, q), stride, dilation), g))
    return gw.reshape(cout, cig, kh, kw)


builtin_max, builtin_min = max, min


# ----- cost rules: the kernels' allocations, from the shapes alone (engine/ops/rules.py) -----


def _spatial2(shape):
    """(H, W) of a 1-d or 2-d convolution operand, as the kernels see it (1-d: a height of one)."""
    return (1, shape[2]) if len(shape) == 3 else (shape[2], shape[3])


def _conv_temp(n, cin, hw, k_hw, out_hw, padding, out_n):
    """_conv2d_np beside its output: the padded input, the im2col buffer (or one offset's columns and one
    product term), the product before its relayout into the output."""
    p, q = out_hw
    pad = n * cin * (hw[0] + 2 * padding[0]) * (hw[1] + 2 * padding[1])
    rows = _tile_rows(n, cin, p, q, *k_hw, n * cin * hw[0] * hw[1] + out_n)
    if rows:
        return pad + n * builtin_min(rows, p) * q * cin * k_hw[0] * k_hw[1]
    return pad + n * p * q * cin


def _transpose_temp(y_n, n, cig_g, out_hw_padded, in_pq, k_hw, out_n):
    """_conv2d_transpose_np beside its output: the zero-filled padded result, y's relayout, the columns (all
    offsets at once, or one offset's)."""
    p, q = in_pq
    xp = n * cig_g * out_hw_padded[0] * out_hw_padded[1]
    cols = n * p * q * cig_g * (k_hw[0] * k_hw[1] if _im2col(n, cig_g, p, q, *k_hw, y_n + out_n) else 1)
    return xp + y_n + cols


def _weight_temp(gy_n, n, cin, hw, k_hw, pq, padding):
    """_conv2d_weight_np beside its output: the padded input, gy's relayout, the columns."""
    p, q = pq
    pad = n * cin * (hw[0] + 2 * padding[0]) * (hw[1] + 2 * padding[1])
    x_n = n * cin * hw[0] * hw[1]
    rows = _tile_rows(n, cin, p, q, *k_hw, x_n + gy_n)
    cols = n * builtin_min(rows, p) * q * cin * k_hw[0] * k_hw[1] if rows else n * p * q * cin
    return pad + gy_n + cols


def _params2(w_shape, stride, padding, dilation, output_padding):
    nd = len(w_shape) - 2
    s, p, d, op = (_expand_param(v, name, nd) for v, name in (
        (stride, "stride"), (padding, "padding"), (dilation, "dilation"), (output_padding, "output_padding")))
    return nd, _p2(s, nd, 1), _p2(p, nd, 0), _p2(d, nd, 1), _p2(op, nd, 0)


def _conv_shapes(x_shape, w_shape, stride, padding, dilation, transposed, output_padding, groups):
    """The output shape of `convolution`, and its 2-d geometry: (out, hw, k, out_hw, s, p, d)."""
    nd, s, p, d, op = _params2(w_shape, stride, padding, dilation, output_padding)
    hw, k = _spatial2(x_shape), _spatial2(w_shape)
    if not transposed:
        cout = w_shape[0]
        out_hw = tuple(builtin_max((hw[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1, 0) for i in range(2))
    else:
        cout = w_shape[1] * groups
        out_hw = tuple((hw[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + 1 + op[i] for i in range(2))
    out = (x_shape[0], cout) + (out_hw[1:] if nd == 1 else out_hw)
    return out, hw, k, out_hw, s, p, d


def _conv_backward_temp(gy_shape, x_shape, w_shape, stride, padding, dilation, transposed, output_padding,
                        groups, mask=(True, True, True)):
    """convolution_backward's forward beside its outputs: its input-gradient and weight-gradient kernels."""
    nd, s, p, d, op = _params2(w_shape, stride, padding, dilation, output_padding)
    n = x_shape[0]
    hw, k, pq = _spatial2(x_shape), _spatial2(w_shape), _spatial2(gy_shape)
    gy_n, x_n = R.numel(gy_shape), R.numel(x_shape)
    temp = 0
    if mask[0]:
        if transposed:  # the convolution of gy comes out op // s rows past x's, cropped (a copy)
            big = tuple(hw[i] + op[i] // s[i] for i in range(2))
            big_n = n * x_shape[1] * big[0] * big[1]
            temp += _conv_temp(n, gy_shape[1], pq, k, big, p, big_n) + big_n + x_n
        else:
            padded = tuple(builtin_max(hw[i] + 2 * p[i], (pq[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1) for i in range(2))
            temp += _transpose_temp(gy_n, n, x_shape[1], padded, pq, k, x_n)
    if mask[1]:
        if transposed:  # the roles of gy and x swap
            temp += _weight_temp(x_n, n, gy_shape[1], pq, k, hw, p)
        else:
            temp += _weight_temp(gy_n, n, x_shape[1], hw, k, pq, p)
        temp += 2 * R.numel(w_shape)  # a tile's term beside the sum
    return temp


def _convolution_rule(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    out, hw, k, out_hw, s, p, d = _conv_shapes(input.shape, weight.shape, stride, padding, dilation, transposed,
                                               output_padding, groups)
    n_out = R.numel(out)
    x_n = R.numel(input.shape)
    if not transposed:
        temp = _conv_temp(input.shape[0], input.shape[1], hw, k, out_hw, p, n_out) + 2 * n_out
        macs = n_out * weight.shape[1] * k[0] * k[1]
    else:
        padded = tuple(builtin_max(out_hw[i] + 2 * p[i], (hw[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1)
                       for i in range(2))
        temp = _transpose_temp(x_n, input.shape[0], out[1], padded, hw, k, n_out)
        macs = x_n * weight.shape[1] * k[0] * k[1]
    if bias is not None:
        temp += n_out  # out + bias, beside out
    bwd = _conv_backward_temp(out, input.shape, weight.shape, stride, padding, dilation, transposed,
                              output_padding, groups)
    return R.Cost(out, 2.0 * macs, temp, True, bwd + n_out, 4.0 * macs)


def _convolution_backward_rule(grad_output, input, weight, stride, padding, dilation, transposed, output_padding,
                               groups, output_mask):
    mask = list(output_mask) + [False] * (3 - len(output_mask))
    outs = (tuple(input.shape) if mask[0] else (0,), tuple(weight.shape) if mask[1] else (0,),
            (grad_output.shape[1],) if mask[2] else (0,))
    temp = _conv_backward_temp(grad_output.shape, input.shape, weight.shape, stride, padding, dilation, transposed,
                               output_padding, groups, mask)
    k = _spatial2(weight.shape)
    macs = R.numel(grad_output.shape) * weight.shape[1] * k[0] * k[1]
    return R.Cost(outs, 4.0 * macs, temp, True, 2 * temp + sum(R.numel(o) for o in outs), 8.0 * macs)


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
    if not transposed and any(d == 0 for d in dilation):
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
    if x.size == 0 and x.shape[0] and x.shape[1]:
        raise TorchRuntimeError(
            f"Only zero batch or zero channel inputs are supported, but got input shape: {list_str(x.shape)}")
    if transposed and x.size:
        _check_transposed_backend(x, ws, groups, padding, stride, dilation, output_padding)
        if _onednn(x, ws, groups, *_p2s(ws, stride, output_padding)):  # check_input_same_type_as_parameters
            for t, what in ((w, "weight"), (b, "bias")):
                if t is not None and t.dtype != x.dtype:
                    raise TorchRuntimeError(
                        f"Input type ({_legacy(x)}) and {what} type ({_legacy(t)}) should be the "
                        f"same or input should be a MKLDNN tensor and {what} is a dense tensor")
        elif x.dtype != w.dtype:
            raise TorchRuntimeError(f"expected scalar type {_word(x)} but found {_word(w)}")
        return stride, padding, dilation, output_padding  # slow_conv_transpose2d takes any bias dtype
    if x.dtype != w.dtype:
        raise TorchRuntimeError(f"expected scalar type {_word(x)} but found {_word(w)}")
    if b is not None and b.dtype != x.dtype:
        raise TorchRuntimeError(f"expected scalar type {_word(x)} but found {_word(b)}")
    return stride, padding, dilation, output_padding


def _legacy(a):
    """torch's legacy tensor type name of an array's dtype (torch.FloatTensor)."""
    return {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor", "float16": "torch.HalfTensor",
            "int64": "torch.LongTensor", "int32": "torch.IntTensor", "int16": "torch.ShortTensor",
            "int8": "torch.CharTensor", "uint8": "torch.ByteTensor", "bool": "torch.BoolTensor"}.get(
        a.dtype.name, "torch.Tensor")


_ONEDNN_PRIMITIVE = ("could not create a primitive descriptor for the deconvolution forward propagation primitive. "
                     "Run workload with environment variable ONEDNN_VERBOSE=all to get additional diagnostic "
                     "information.")


def _p2s(ws, stride, output_padding):
    nd = len(ws) - 2
    return _p2(stride, nd, 1), _p2(output_padding, nd, 0)


def _onednn(x, ws, groups, s, op):
    """Whether torch 2.13's CPU runs a transposed convolution on oneDNN (use_mkldnn: float32, no output_padding
    of a stride or more, and its 'native is faster' heuristic; 1-d as 2-d)."""
    if x.dtype != np.float32 or any(o >= st for o, st in zip(op, s)):
        return False
    k = _p2(ws[2:], len(ws) - 2, 1)
    n, c, hw = x.shape[0], x.shape[1], _p2(x.shape[2:], len(ws) - 2, 1)
    return groups > 1 or (k[0] > 3 and k[1] > 3) or n > 1 or n * c * hw[0] * hw[1] > 20480


def _check_transposed_backend(x, ws, groups, padding, stride, dilation, output_padding):
    """The checks of the kernel torch 2.13's CPU picks for a non-empty transposed convolution, after
    check_shape_forward: oneDNN (float32 without output_padding; its own error texts) or
    slow_conv_transpose2d (its shape check; 1-d runs as 2-d with a unit height)."""
    nd = len(ws) - 2
    two = [_p2(v, nd, f) for v, f in ((stride, 1), (padding, 0), (dilation, 1), (output_padding, 0))]
    s, p, d, op = two
    k = _p2(ws[2:], nd, 1)
    hw = _p2(x.shape[2:], nd, 1)
    out = [(hw[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + 1 + op[i] for i in range(2)]
    if _onednn(x, ws, groups, s, op):
        if any(o <= 0 for o in out):
            raise TorchRuntimeError("could not construct a memory descriptor using a format tag")
        if 0 in d or 0 in k or ws[1] == 0:
            raise TorchRuntimeError(_ONEDNN_PRIMITIVE)
        return
    if 0 in k:
        raise TorchRuntimeError(f"kernel size should be greater than zero, but got kernel_height: {k[0]} "
                                f"kernel_width: {k[1]}")
    if 0 in d:
        raise TorchRuntimeError(f"dilation should be greater than zero, but got dilation_height: {d[0]}, "
                                f"dilation_width: {d[1]}")
    if not all(op[i] < s[i] or op[i] < d[i] for i in range(2)):
        raise TorchRuntimeError(
            f"output padding must be smaller than either stride or dilation, but got output_padding_height: "
            f"{op[0]} output_padding_width: {op[1]} stride_height: {s[0]} stride_width: {s[1]} dilation_height: "
            f"{d[0]} dilation_width: {d[1]}")
    if ws[1] == 0:
        raise TorchRuntimeError(f"non-empty 2D or 4D weight tensor expected, but got: {list_str(ws)}")
    if any(o < 1 for o in out):
        raise TorchRuntimeError(f"Given input size per channel: ({hw[0]} x {hw[1]}). Calculated output size per "
                                f"channel: ({out[0]} x {out[1]}). Output size is too small")


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
