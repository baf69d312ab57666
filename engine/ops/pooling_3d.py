"""3-d pools: torch's 3-d argument and shape checks, max_pool3d (MaxPool3DWithIndicesBackward0) and avg_pool3d
(AvgPool3DBackward0)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.errors import TorchNotImplementedError, TorchRuntimeError
from engine.ops._util import list_str
from engine.ops.nn_common import _errstate, _word
from engine.ops.pool import _pool_out
from engine.ops.pooling_regions import _ints, _lead, _max_backward, _max_regions, _t, _window_regions, _zeros_like
from engine.ops.registry import defop
from engine.ops.rules import Cost, numel
from engine.tensor import Tensor

# ----- pooling output sizes and torch's 3-d checks -----


def _three(name, value, what, allow_empty=False, must="must either be"):
    v = _ints(value) if not (isinstance(value, list | tuple) and len(value) == 0) else []
    if not ((allow_empty and len(v) == 0) or len(v) in (1, 3)):
        raise TorchRuntimeError(f"{name}: {what}")
    return v


def _pool3d_params(name, kernel_size, stride, padding, dilation=None):
    if name == "max_pool3d":
        k = _three(name, kernel_size, "kernel_size must either be a single int, or a tuple of three ints")
        s = _three(name, stride, "stride must either be omitted, a single int, or a tuple of three ints", True)
        p = _three(name, padding, "padding must either be a single int, or a tuple of three ints")
        dl = _three(name, dilation, "dilation must be either a single int, or a tuple of three ints")
    else:
        k = _three(name, kernel_size, "kernel_size must be a single int, or a tuple of three ints")
        s = _three(name, stride, "stride must be omitted, a single int, or a tuple of three ints", True)
        p = _three(name, padding, "padding must be a single int, or a tuple of three ints")
        dl = [1]
    k3 = k * 3 if len(k) == 1 else k
    s3 = k3 if not s else (s * 3 if len(s) == 1 else s)
    p3 = p * 3 if len(p) == 1 else p
    d3 = dl * 3 if len(dl) == 1 else dl
    return k3, s3, p3, d3


def _pool3d_shape_check(x, k, s, p, d, insz, outsz, fn_name, check_input_size=False):
    if not all(v > 0 for v in k):
        raise TorchRuntimeError(f"kernel size should be greater than zero, but got kT: {k[0]} kH: {k[1]} kW: {k[2]}")
    if not all(v > 0 for v in s):
        raise TorchRuntimeError(f"stride should be greater than zero, but got dT: {s[0]} dH: {s[1]} dW: {s[2]}")
    if not all(v > 0 for v in d):
        raise TorchRuntimeError(
            f"dilation should be greater than zero, but got dilationT: {d[0]} dilationH: {d[1]} dilationW: {d[2]}")
    nd = x.ndim
    if nd not in (4, 5):
        raise TorchRuntimeError(f"{fn_name}: Expected 4D or 5D tensor for input, but got: {list_str(x.shape)}")
    for i in range(nd):
        if nd == 5 and i == 0:
            continue
        if x.shape[i] <= 0:
            raise TorchRuntimeError(
                f"{fn_name}: Expected input's non-batch dimensions to have positive length, but input has a shape of "
                f"{list_str(x.shape)} and non-batch dimension {x.shape[i]} has length zero!")
    if check_input_size and not (insz[0] >= k[0] and insz[1] >= k[1] and insz[2] >= k[2]):
        raise TorchRuntimeError(
            f"input image (T: {insz[0]} H: {insz[1]} W: {insz[2]}) smaller than kernel size (kT: {k[0]} kH: {k[1]} "
            f"kW: {k[2]})")
    if not (k[0] // 2 >= p[0] and k[2] // 2 >= p[2] and k[1] // 2 >= p[1]):
        raise TorchRuntimeError(
            f"pad should be smaller than or equal to half of kernel size, but got kT: {k[0]} kW: {k[2]} kH: {k[1]} "
            f"padT: {p[0]} padW: {p[2]} padH: {p[1]}")
    if not all(o >= 1 for o in outsz):
        c = x.shape[-4]
        raise TorchRuntimeError(
            f"Given input size: ({c}x{insz[0]}x{insz[1]}x{insz[2]}). Calculated output size: "
            f"({c}x{outsz[0]}x{outsz[1]}x{outsz[2]}). Output size is too small")


def _pool3d_geometry(x, name, kernel_size, stride, padding, dilation, ceil_mode, divisor_override=None):
    k, s, p, d = _pool3d_params(name, kernel_size, stride, padding, dilation)
    if x.ndim not in (4, 5):
        raise TorchRuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    if name == "avg_pool3d" and divisor_override is not None and divisor_override == 0:
        raise TorchRuntimeError("divisor must be not zero")
    insz = tuple(x.shape[-3:])
    outsz = tuple(_pool_out(insz[i], k[i], p[i], s[i], d[i], ceil_mode) for i in range(3))
    fn = "max_pool3d_with_indices_out_cpu_template()" if name == "max_pool3d" else "avg_pool3d()"
    _pool3d_shape_check(x, k, s, p, d, insz, outsz, fn, check_input_size=name == "avg_pool3d")
    return k, s, p, d, insz, outsz


def _pool3d_rule(name):
    def rule(self, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
        try:
            k, s, p, d = _pool3d_params(name, kernel_size, stride, padding, dilation)
            outsz = tuple(_pool_out(self.shape[-3 + i], k[i], p[i], s[i], d[i], ceil_mode) for i in range(3))
        except (TorchRuntimeError, IndexError):
            return Cost(tuple(self.shape), numel(self.shape), exact=False)
        out = (*tuple(self.shape[:-3]), *outsz)
        n = numel(out) * numel(k)
        return Cost(((out, out) if name == "max_pool3d" else out), 2 * n, n)

    return rule


# ----- max_pool3d -----


def _max_pool3d_fwd(x, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    k, s, p, d, insz, outsz = _pool3d_geometry(x, "max_pool3d", kernel_size, stride, padding, dilation, ceil_mode)
    if x.dtype == np.bool_:
        raise TorchNotImplementedError("\"max_pool3d\" not implemented for 'Bool'")
    flat, mask = _window_regions(insz, outsz, k, s, p, d)
    return _max_regions(x, 3, flat, mask, outsz)


max_pool3d_with_indices_op = defop(
    "max_pool3d_with_indices(Tensor self, int[3] kernel_size, int[3] stride=[], int[3] padding=0, "
    "int[3] dilation=1, bool ceil_mode=False) -> (Tensor, Tensor)",
    _max_pool3d_fwd, nout=2, self=_max_backward(3),
    rule=lambda self, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False: _pool3d_rule("max_pool3d")(
        self, kernel_size, stride, padding, dilation, ceil_mode),
)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """3-d max pooling: MaxPool3DWithIndicesBackward0 (indices: flat positions in each T x H x W volume)."""
    out, idx = max_pool3d_with_indices_op(input, kernel_size, [] if stride is None else stride, padding, dilation,
                                          ceil_mode)
    return (out, _t(idx._data)) if return_indices else out


# ----- avg_pool3d -----


def _avg_divisor(insz, outsz, k, s, p, count_include_pad, divisor_override):
    """torch's CPU avg_pool3d divisor and empty-window mask, per output position (flattened)."""
    pools, valids, empties = [], [], []
    for i in range(len(insz)):
        st = np.arange(outsz[i]) * s[i] - p[i]
        en = np.minimum(st + k[i], insz[i] + p[i])
        pools.append(en - st)
        st0, en0 = np.maximum(st, 0), np.minimum(en, insz[i])
        valids.append(en0 - st0)
        empties.append(st0 >= en0)
    pool = valids_prod = None
    empty = None
    for i in range(len(insz)):
        shape = [1] * len(insz)
        shape[i] = outsz[i]
        pool = pools[i].reshape(shape) if pool is None else pool * pools[i].reshape(shape)
        valids_prod = valids[i].reshape(shape) if valids_prod is None else valids_prod * valids[i].reshape(shape)
        empty = empties[i].reshape(shape) if empty is None else empty | empties[i].reshape(shape)
    if divisor_override is not None:
        div = np.full(tuple(outsz), divisor_override)
    elif count_include_pad:
        div = pool
    else:
        div = valids_prod
    return np.broadcast_to(div, tuple(outsz)).reshape(-1), np.broadcast_to(empty, tuple(outsz)).reshape(-1)


def _avg_check_dtype(x):
    if not (x.dtype.kind == "f" or x.dtype == np.int64):
        raise TorchNotImplementedError(f"\"avg_pool3d_out_frame\" not implemented for '{_word(x)}'")


def _avg_pool3d_fwd(x, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
                    divisor_override=None):
    k, s, p, _, insz, outsz = _pool3d_geometry(x, "avg_pool3d", kernel_size, stride, padding, None, ceil_mode,
                                                divisor_override)
    _avg_check_dtype(x)
    lead, n, _ = _lead(x, 3)
    flat, mask = _window_regions(insz, outsz, k, s, p, (1, 1, 1))
    div, empty = _avg_divisor(insz, outsz, k, s, p, count_include_pad, divisor_override)
    xf = np.asarray(B.to_numpy(x)).reshape(n, numel(insz))
    sums = np.where(mask[None], xf[:, flat], 0).sum(axis=-1, dtype=xf.dtype)
    with _errstate():
        if x.dtype.kind == "f":
            out = sums / div.astype(x.dtype)
        else:  # C++ integer division truncates toward zero
            out = np.sign(sums) * (np.abs(sums) // np.abs(div)) * np.sign(div)
    out = np.where(empty[None], 0, out).astype(x.dtype)
    return B.xp.asarray(out.reshape(*lead, *outsz))


def _avg_pool3d_bwd_fwd(g, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    k, s, p, _ = _pool3d_params("avg_pool3d", kernel_size, stride, padding)
    lead, n, insz = _lead(x, 3)
    outsz = tuple(g.shape[-3:])
    flat, mask = _window_regions(insz, outsz, k, s, p, (1, 1, 1))
    div, empty = _avg_divisor(insz, outsz, k, s, p, count_include_pad, divisor_override)
    ga = np.asarray(B.to_numpy(g)).reshape(n, numel(outsz))
    with _errstate():
        gd = np.where(empty[None], 0, ga / div.astype(ga.dtype)).astype(ga.dtype)
    contrib = np.broadcast_to(gd[..., None], (n, *flat.shape))
    rows = np.broadcast_to((np.arange(n) * numel(insz))[:, None, None], contrib.shape)
    m = np.broadcast_to(mask[None], contrib.shape)
    out = np.zeros(n * numel(insz), dtype=ga.dtype)
    np.add.at(out, (rows + flat[None])[m], contrib[m])
    return B.xp.asarray(out.reshape(x.shape))


avg_pool3d_backward_op = defop(
    "avg_pool3d_backward(Tensor grad_output, Tensor self, int[3] kernel_size, int[3] stride, int[3] padding, "
    "bool ceil_mode, bool count_include_pad, int? divisor_override) -> Tensor",
    _avg_pool3d_bwd_fwd,
    grad_output=lambda grad, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override: (
        avg_pool3d_op(grad, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)),
    self=lambda grad, self: _zeros_like(self),
    rule=lambda grad_output, self: Cost(tuple(self.shape), 2 * numel(self.shape) + numel(grad_output.shape)),
)
avg_pool3d_op = defop(
    "avg_pool3d(Tensor self, int[3] kernel_size, int[3] stride=[], int[3] padding=0, bool ceil_mode=False, "
    "bool count_include_pad=True, int? divisor_override=None) -> Tensor",
    _avg_pool3d_fwd,
    self=lambda grad, self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override: (
        avg_pool3d_backward_op(grad, self, kernel_size, stride, padding, ceil_mode, count_include_pad,
                               divisor_override)),
    rule=lambda self, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None: _pool3d_rule("avg_pool3d")(self, kernel_size, stride, padding, 1, ceil_mode),
)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """3-d average pooling (count_include_pad, ceil_mode, divisor_override): AvgPool3DBackward0."""
    return avg_pool3d_op(input, kernel_size, [] if stride is None else stride, padding, ceil_mode,
                         count_include_pad, divisor_override)
