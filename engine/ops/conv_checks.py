"""at::convolution's argument checks, in torch's order and words (parameter expansion, shapes, groups,
the transposed backends' oneDNN messages)."""
from __future__ import annotations

import numpy as np

from engine import dtypes as D
from engine.errors import (
    TorchRuntimeError,
)
from engine.ops._util import list_str

_word = D.scalar_type_name


# ======================================================================================================
# convolution (torch's at::convolution)
# ======================================================================================================


def _p2(v, nd, fill):
    return [fill] + list(v) if nd == 1 else list(v)


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
