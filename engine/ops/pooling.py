"""More pooling, with torch 2.13's graphs, values, indices and messages. This module: avg_pool1d / max_pool1d
(aten's unsqueeze, 2-d pool, squeeze compositions) and the family's CATALOG. The family's other parts:
engine/ops/pooling_3d.py (avg_pool3d: AvgPool3DBackward0, max_pool3d: MaxPool3DWithIndicesBackward0),
pooling_adaptive.py (adaptive_avg_pool1d/2d/3d: AdaptiveAvgPool2DBackward0 / 3D, or a mean over the spatial dims
for an output of ones, as aten; adaptive_max_pool1d/2d/3d: AdaptiveMaxPool2DBackward0 / 3D) and
pooling_regions.py (the gather they share).

One gather serves every pool here: each output position reads a region of the input (a window with stride,
dilation and padding, or an adaptive region [floor(o * in / out), ceil((o + 1) * in / out))), given as flat
spatial indices and a validity mask. Max pooling picks the first maximum in scan order, NaN winning (the last
NaN), as torch's CPU kernels; its indices are flat positions in the input's spatial volume. The backwards are
engine ops whose own derivatives are torch's (a pooling of the gradient, or a gather at the indices), so
grad-of-grad follows.
"""
from __future__ import annotations

from engine import _backend as B
from engine.errors import TorchNotImplementedError, TorchRuntimeError
from engine.ops import conv as C
from engine.ops import shape as S
from engine.ops._util import list_str
from engine.ops.nn_common import _word
from engine.ops.pool import _pool_out

# the family's parts; the entries no CATALOG line names (*_backward_op, pool_*_op) are imported too, for
# forward_more.install, which finds a family's entries among its module's names
from engine.ops.pooling_3d import (
    avg_pool3d,
    avg_pool3d_backward_op,  # noqa: F401
    avg_pool3d_op,
    max_pool3d,
    max_pool3d_with_indices_op,
)
from engine.ops.pooling_adaptive import (  # noqa: F401
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool2d_backward_op,
    adaptive_avg_pool2d_op,
    adaptive_avg_pool3d,
    adaptive_avg_pool3d_backward_op,
    adaptive_avg_pool3d_op,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool2d_op,
    adaptive_max_pool3d,
    adaptive_max_pool3d_op,
)
from engine.ops.pooling_regions import (
    _check1d,
    _dim_range,
    _ints,
    _t,
    pool_gather_op,  # noqa: F401 - re-exported
    pool_scatter_op,  # noqa: F401
)
from engine.ops.registry import entry
from engine.tensor import Tensor

# ----- 1-d pools: aten's unsqueeze(-2), 2-d pool, squeeze(-2) -----


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-d average pooling: avg_pool2d over input.unsqueeze(-2), then squeeze(-2)."""
    if stride is None or (isinstance(stride, list | tuple) and len(stride) == 0):
        stride = kernel_size
    _dim_range("avg_pool1d", input, 2, 4)
    k = _check1d("avg_pool1d", "kernel_size", kernel_size)
    s = _check1d("avg_pool1d", "stride", stride)
    p = _check1d("avg_pool1d", "padding", padding)
    out = C.avg_pool2d_op(S.unsqueeze(input, -2), [1, k], [1, s], [0, p], ceil_mode, count_include_pad, None)
    return S.squeeze(out, -2)


def _check_max_pool1d(x, kernel_size, stride, padding, dilation, ceil_mode):
    nd = x.ndim
    if not ((nd == 2 and x.shape[0] != 0 and x.shape[1] != 0) or (nd == 3 and x.shape[1] != 0 and x.shape[2] != 0)):
        raise TorchRuntimeError(
            "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but got:"
            f"{list_str(x.shape)}")
    ks = _ints(kernel_size)
    st = [] if stride is None or (isinstance(stride, list | tuple) and len(stride) == 0) else _ints(stride)
    pd, dl = _ints(padding), _ints(dilation)
    if len(ks) != 1:
        raise TorchRuntimeError(
            f"max_pool1d() kernel_size must be an int, list of ints or tuple of ints of size 1 but got size {len(ks)}")
    if len(st) > 1:
        raise TorchRuntimeError(
            "max_pool1d() stride must be None, an int, list of ints, or tuple of ints of size 1 but got size "
            f"{len(st)}")
    if len(pd) != 1:
        raise TorchRuntimeError(
            f"max_pool1d() padding must be an int, list of ints, or tuple of ints of size 1 but got size {len(pd)}")
    if len(dl) != 1:
        raise TorchRuntimeError(
            f"max_pool1d() dilation must be an int, list of ints or tuple of ints of size 1 but got size {len(dl)}")
    k, s, p, d = ks[0], (st or ks)[0], pd[0], dl[0]
    if k <= 0:
        raise TorchRuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got {k}")
    if s <= 0:
        raise TorchRuntimeError(f"max_pool1d() stride must be greater than zero, but got {s}")
    if p < 0:
        raise TorchRuntimeError(f"max_pool1d() padding must be non-negative, but got {p}")
    if p > k // 2:
        raise TorchRuntimeError(
            f"max_pool1d() padding should be at most half of kernel size, but got padding={p} and kernel_size={k}")
    if d <= 0:
        raise TorchRuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d}")
    ol = _pool_out(x.shape[-1], k, p, s, d, ceil_mode)
    if ol <= 0:
        raise TorchRuntimeError(f"max_pool1d() Invalid computed output size: {ol}")
    if x._data.dtype.kind != "f":
        raise TorchNotImplementedError(f"\"max_pool1d_impl\" not implemented for '{_word(x._data)}'")
    return k, s, p, d


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """1-d max pooling: max_pool2d_with_indices over input.unsqueeze(-2), then squeeze(-2) (both outputs)."""
    if return_indices:  # torch's max_pool1d_with_indices: its own checks, then max_pool2d_with_indices's
        if stride is None or (isinstance(stride, list | tuple) and len(stride) == 0):
            stride = kernel_size
        _dim_range("max_pool1d", input, 2, 4)
        k, s, p, d = (_check1d("max_pool1d", a, v) for a, v in (("kernel_size", kernel_size), ("stride", stride),
                                                                ("padding", padding), ("dilation", dilation)))
    else:
        k, s, p, d = _check_max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode)
    out, idx = C.max_pool2d_with_indices_op(S.unsqueeze(input, -2), [1, k], [1, s], [0, p], [1, d], ceil_mode)
    out = S.squeeze(out, -2)
    return (out, _t(B.xp.squeeze(idx._data, -2))) if return_indices else out


_F = {"function": False, "method": False, "functional": True}
_TF = {"function": True, "method": False, "functional": True}

CATALOG = [
    entry("avg_pool1d", avg_pool1d, "1-d average pooling (over avg_pool2d).", C.avg_pool2d_op, **_TF),
    entry("max_pool1d", max_pool1d, "1-d max pooling (over max_pool2d_with_indices).",
          C.max_pool2d_with_indices_op, **_F),
    entry("avg_pool3d", avg_pool3d, "3-d average pooling (count_include_pad, ceil_mode, divisor_override).",
          avg_pool3d_op, **_F),
    entry("max_pool3d", max_pool3d, "3-d max pooling (stride, padding, dilation, ceil_mode, return_indices).",
          max_pool3d_with_indices_op, **_F),
    entry("adaptive_avg_pool1d", adaptive_avg_pool1d, "1-d adaptive average pooling.", adaptive_avg_pool2d_op,
          **_TF),
    entry("adaptive_avg_pool2d", adaptive_avg_pool2d, "2-d adaptive average pooling.", adaptive_avg_pool2d_op, **_F),
    entry("adaptive_avg_pool3d", adaptive_avg_pool3d, "3-d adaptive average pooling.", adaptive_avg_pool3d_op, **_F),
    entry("adaptive_max_pool1d", adaptive_max_pool1d, "1-d adaptive max pooling (return_indices).",
          adaptive_max_pool2d_op, **_F),
    entry("adaptive_max_pool2d", adaptive_max_pool2d, "2-d adaptive max pooling (return_indices).",
          adaptive_max_pool2d_op, **_F),
    entry("adaptive_max_pool3d", adaptive_max_pool3d, "3-d adaptive max pooling (return_indices).",
          adaptive_max_pool3d_op, **_F),
]
