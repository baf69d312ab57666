"""2-d pooling: max_pool2d (MaxPool2DWithIndicesBackward0) and avg_pool2d (AvgPool2DBackward0); engine/ops/conv.py
lists them in its catalog.

Both loop over the kernel offsets (engine/ops/_window.py), never copying the windows out: max_pool2d keeps a
running maximum, avg_pool2d running sums over the window's columns then its rows (kh + kw passes), and its
backward the same passes in reverse; every loop checks the request's deadline. Backwards are engine ops whose
own backwards close the loop, so grad-of-grad works to any order:

    max_pool2d_with_indices -> ..._backward (scatter by indices) <-> max_pool_double_backward (gather)
    avg_pool2d            -> avg_pool2d_backward <-> avg_pool2d

As in torch, the pooling backwards also take `self` (gradient zeros_like(self)), so first-order gradients
require grad under create_graph exactly when torch's do.
"""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.errors import TorchIndexError, TorchNotImplementedError, TorchRuntimeError
from engine.ops import rules as R
from engine.ops._util import list_str
from engine.ops._window import detached as _detached
from engine.ops._window import offsets as _offsets
from engine.ops._window import pad_hw as _pad_hw
from engine.ops._window import tap as _tap
from engine.ops.jvp import only
from engine.ops.registry import defop
from engine.tensor import Tensor

builtin_max = max


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
    need = ((oh - 1) * s[0] + (k[0] - 1) * d[0] + 1, (ow - 1) * s[1] + (k[1] - 1) * d[1] + 1)
    extra = (builtin_max(need[0] - h - 2 * p[0], 0), builtin_max(need[1] - w - 2 * p[1], 0))
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = _pad_hw(x4, p, low, extra)
    # torch's kernel: over the window's in-bounds positions in row-major order, the first maximum, or the last
    # NaN; a window whose values are all the lowest takes its first in-bounds position. Here: a running maximum
    # over the kernel offsets (padding holds `low`, so it never wins a strict comparison), then those fix-ups.
    at_r = B.xp.arange(oh)[None, :] * s[0] - p[0] + B.xp.arange(k[0])[:, None] * d[0]  # (kh, oh) input rows
    at_c = B.xp.arange(ow)[None, :] * s[1] - p[1] + B.xp.arange(k[1])[:, None] * d[1]
    row_ok, col_ok = (at_r >= 0) & (at_r < h), (at_c >= 0) & (at_c < w)
    nans = x.dtype.kind == "f" and bool(np.isnan(x4).any())
    best = best_at = last_nan = any_nan = None
    for t, (i, j) in enumerate(_offsets(k[0], k[1])):
        v = _tap(xp, i, j, (oh, ow), s, d)
        if best is None:
            best = v.copy()
            best_at = B.xp.zeros(best.shape, dtype=np.int64)
        else:
            up = v > best
            np.copyto(best, v, where=up)
            np.copyto(best_at, t, where=up)
        if nans:
            hit = np.isnan(v) & (row_ok[i][:, None] & col_ok[j][None, :])
            if last_nan is None:
                last_nan = B.xp.zeros(best.shape, dtype=np.int64)
                any_nan = B.xp.zeros(best.shape, dtype=bool)
            np.copyto(last_nan, t, where=hit)
            any_nan |= hit
    first_i, first_j = np.argmax(row_ok, axis=0), np.argmax(col_ok, axis=0)  # the first in-bounds offsets
    kh_i, kw_i = best_at // k[1], best_at % k[1]
    rows = B.xp.arange(oh)[:, None] * s[0] - p[0] + kh_i * d[0]
    cols = B.xp.arange(ow)[None, :] * s[1] - p[1] + kw_i * d[1]
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    first_rows = B.xp.arange(oh)[:, None] * s[0] - p[0] + first_i[:, None] * d[0]
    first_cols = B.xp.arange(ow)[None, :] * s[1] - p[1] + first_j[None, :] * d[1]
    flat = np.where(inside, rows * w + cols, first_rows * w + first_cols)
    if nans:
        nan_rows = B.xp.arange(oh)[:, None] * s[0] - p[0] + (last_nan // k[1]) * d[0]
        nan_cols = B.xp.arange(ow)[None, :] * s[1] - p[1] + (last_nan % k[1]) * d[1]
        flat = np.where(any_nan, nan_rows * w + nan_cols, flat)
        best = np.where(any_nan, np.nan, best).astype(x.dtype, copy=False)
    flat = flat.astype(np.int64, copy=False)
    if x.ndim == 3:
        best, flat = best[0], flat[0]
    return B.xp.ascontiguousarray(best), B.xp.ascontiguousarray(flat)


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


def _pool_geometry(x_shape, kernel_size, stride, padding, dilation, ceil_mode, name):
    """(out_hw, padded hw) of a pooling, as its forward computes them (its checks raise first)."""
    k, s, p, d = _pool_params(name, kernel_size, _stride_arg(stride), padding, dilation)
    h, w = x_shape[-2], x_shape[-1]
    oh = _pool_out(h, k[0], p[0], s[0], d[0], ceil_mode)
    ow = _pool_out(w, k[1], p[1], s[1], d[1], ceil_mode)
    need = ((oh - 1) * s[0] + (k[0] - 1) * d[0] + 1, (ow - 1) * s[1] + (k[1] - 1) * d[1] + 1)
    padded = (builtin_max(h + 2 * p[0], need[0]), builtin_max(w + 2 * p[1], need[1]))
    return (oh, ow), padded, k


def _max_pool_rule(self, kernel_size, stride, padding, dilation, ceil_mode):
    out_hw, padded, k = _pool_geometry(self.shape, kernel_size, stride, padding, dilation, ceil_mode,
                                       "max_pool2d")
    out = tuple(self.shape[:-2]) + out_hw
    n_out, x_n = R.numel(out), R.numel(self.shape)
    planes = R.numel(self.shape[:-2])
    # the padded copy; int64 offsets, rows, cols and flat positions (NaN's too), bool masks, isnan(x)
    temp = planes * padded[0] * padded[1] + R.wide(12 * n_out + x_n // 8 + 1, self)
    bwd = R.wide(3 * n_out, self) + R.wide(x_n, self) + x_n  # _scatter_fwd: its indices, the float64 bincount
    # and a Python step a window offset (_max_pool_fwd's loop: kh * kw steps whatever the output's size)
    return R.Cost((out, out), 3.0 * n_out * k[0] * k[1] + R.PY_STEP * k[0] * k[1], temp, True, bwd)


def _max_pool_bwd_fwd(g, x, kernel_size, stride, padding, dilation, ceil_mode, indices):
    return _scatter_fwd(g, indices, x.shape)


# torch: grad_output: max_pool_double_backward(grad, indices, 2); self: zeros_like(self)
max_pool2d_backward_op = defop(
    "max_pool2d_with_indices_backward(Tensor grad_output, Tensor self, int[2] kernel_size, int[2] stride, "
    "int[2] padding, int[2] dilation, bool ceil_mode, Tensor indices) -> Tensor",
    _max_pool_bwd_fwd,
    # _scatter_fwd: the indices offset per plane and raveled, the float64 bincount before its cast
    rule=lambda grad_output, self: R.Cost(tuple(self.shape), R.numel(grad_output.shape) + R.numel(self.shape),
                                          R.wide(3 * R.numel(grad_output.shape) + R.numel(self.shape), grad_output)),
    jvp="linear",  # in grad_output (self gives its shape only)
    grad_output=lambda grad, indices, self: max_pool_gather_op(grad, _detached(indices), _zeros_like(self)),
    self=lambda grad, self: _zeros_like(self),
)
max_pool_gather_op = defop(
    "max_pool_double_backward(Tensor self, Tensor indices, Tensor input) -> Tensor",
    lambda g, indices, input: _gather_fwd(g, indices),
    rule=lambda self, indices: R.Cost(tuple(indices.shape), R.numel(indices.shape),
                                      R.wide(R.numel(indices.shape), self)),
    jvp="linear",
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
    rule=_max_pool_rule,
    # torch's: the tangent at each window's maximum (the indices are flat in each plane)
    jvp=lambda self_t, result, result1: (
        self_t.flatten(-2).gather(-1, result1.flatten(-2)).view(tuple(result.shape)), None),
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


def _window_sums(xp, k, s, out_hw):
    """Sums over every (kh, kw) window of xp at stride s, separably: running sums over the window's columns,
    then over its rows (kh + kw passes, whatever the kernel's area)."""
    oh, ow = out_hw
    cols = None
    for j in range(k[1]):
        _budget.check()
        t = xp[:, :, :, j : j + (ow - 1) * s[1] + 1 : s[1]]
        cols = t.copy() if cols is None else np.add(cols, t, out=cols)
    sums = None
    for i in range(k[0]):
        _budget.check()
        t = cols[:, :, i : i + (oh - 1) * s[0] + 1 : s[0], :]
        sums = t.copy() if sums is None else np.add(sums, t, out=sums)
    return sums


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
    sums = _window_sums(xp, k, s, (oh, ow))
    div, empty = _avg_geometry(h, w, k, s, p, oh, ow, ceil_mode, count_include_pad, divisor_override)
    if x.dtype.kind == "f":
        out = sums / div.astype(acc)
    else:
        out = np.sign(sums) * (np.abs(sums) // div)
    out = np.where(empty, 0, out).astype(x.dtype)
    return B.xp.ascontiguousarray(out[0] if x.ndim == 3 else out)


def _avg_costs(x_shape, kernel_size, stride, padding, ceil_mode, itemsize_of):
    """(out, forward temp, the backward kernel's temp, flops) of avg_pool2d on x_shape."""
    out_hw, padded, k = _pool_geometry(x_shape, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    planes = R.numel(x_shape[:-2])
    out = tuple(x_shape[:-2]) + out_hw
    n_out = R.numel(out)
    geometry = R.wide(12 * (out_hw[0] + out_hw[1]) + 4 * out_hw[0] * out_hw[1], itemsize_of)
    cols = planes * padded[0] * out_hw[1]
    # the accumulation copy of integers, the padded copy, the column sums, sums / div, where, the cast
    fwd = R.wide(R.numel(x_shape), itemsize_of) + planes * padded[0] * padded[1] + cols + 3 * n_out + geometry
    # g / div and its where, the row spread, the padded result
    bwd = 2 * n_out + cols + planes * padded[0] * padded[1] + geometry
    flops = planes * (padded[0] * out_hw[1] * k[1] + n_out // builtin_max(planes, 1) * k[0])
    flops += R.PY_STEP * (k[0] + k[1])  # _window_sums' kh + kw Python steps (and its adjoint's)
    _, st, _, _ = _pool_params("avg_pool2d", kernel_size, _stride_arg(stride), padding)
    if _overlap_2d(k, st):  # the backward's kh * kw passes over the output (torch's order)
        flops = builtin_max(flops, n_out * k[0] * k[1] + R.PY_STEP * k[0] * k[1])
    return out, fwd, bwd, flops


def _avg_pool_rule(self, kernel_size, stride, padding, ceil_mode):
    out, fwd, bwd, flops = _avg_costs(self.shape, kernel_size, stride, padding, ceil_mode, self)
    return R.Cost(out, flops, fwd, True, bwd + R.numel(self.shape), 2.0 * flops)


def _avg_pool_backward_rule(grad_output, self, kernel_size, stride, padding, ceil_mode):
    _, _, bwd, flops = _avg_costs(self.shape, kernel_size, stride, padding, ceil_mode, grad_output)
    return R.Cost(tuple(self.shape), flops, bwd)


def _overlap_2d(k, s):
    """Windows overlap along both dims (an input element gets terms from several output rows and columns)."""
    return k[0] > s[0] and k[1] > s[1]


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
    # torch's cpu_avg_pool_backward adds each output's grad / div into its window, outputs in row-major order: an
    # input's terms come in order of (oh, ow), i.e. of the window offsets (i, j) from the last. Where windows
    # overlap along both dims, one pass per (i, j); else the separable adjoint of _window_sums (rows, then
    # columns, last offset first) adds in that same order
    xp = B.xp.zeros((n, c, ph, pw), dtype=g4.dtype)
    if _overlap_2d(k, s):
        for i in range(k[0] - 1, -1, -1):
            for j in range(k[1] - 1, -1, -1):
                _budget.check()
                xp[:, :, i : i + (oh - 1) * s[0] + 1 : s[0], j : j + (ow - 1) * s[1] + 1 : s[1]] += gd
    else:
        rows = B.xp.zeros((n, c, ph, ow), dtype=g4.dtype)
        for i in range(k[0] - 1, -1, -1):
            _budget.check()
            rows[:, :, i : i + (oh - 1) * s[0] + 1 : s[0], :] += gd
        for j in range(k[1] - 1, -1, -1):
            _budget.check()
            xp[:, :, :, j : j + (ow - 1) * s[1] + 1 : s[1]] += rows
    out = B.xp.ascontiguousarray(xp[:, :, p[0] : p[0] + h, p[1] : p[1] + w])
    return out.reshape(shape)


avg_pool2d_op = defop(
    "avg_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, bool ceil_mode=False, "
    "bool count_include_pad=True, int? divisor_override=None) -> Tensor",
    _avg_pool_fwd,
    rule=_avg_pool_rule, jvp="linear",
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
    rule=_avg_pool_backward_rule, jvp=only(("grad_output",), "linear"),  # self gives its shape only
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
