"""More pooling, with torch 2.13's graphs, values, indices and messages: avg_pool1d / max_pool1d /
adaptive_avg_pool1d / adaptive_max_pool1d (aten's unsqueeze, 2-d pool, squeeze compositions),
avg_pool3d (AvgPool3DBackward0), max_pool3d (MaxPool3DWithIndicesBackward0), adaptive_avg_pool2d/3d
(AdaptiveAvgPool2DBackward0 / 3D, or a mean over the spatial dims for an output of ones, as aten) and
adaptive_max_pool2d/3d (AdaptiveMaxPool2DBackward0 / 3D).

One gather serves every pool here: each output position reads a region of the input (a window with stride,
dilation and padding, or an adaptive region [floor(o * in / out), ceil((o + 1) * in / out))), given as flat
spatial indices and a validity mask. Max pooling picks the first maximum in scan order, NaN winning (the last
NaN), as torch's CPU kernels; its indices are flat positions in the input's spatial volume. The backwards are
engine ops whose own derivatives are torch's (a pooling of the gradient, or a gather at the indices), so
grad-of-grad follows."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchValueError
from engine.ops import conv as C
from engine.ops import shape as S
from engine.ops._util import list_str
from engine.ops.nn_common import _errstate, _word
from engine.ops.pool import _pool_out
from engine.ops.registry import defop, entry
from engine.ops.rules import Cost, numel
from engine.tensor import Tensor


def _t(a):
    return Tensor._make(a)


def _ints(v):
    return [int(i) for i in v] if isinstance(v, list | tuple) else [int(v)]


# ----- regions: flat spatial indices (O, K) and a validity mask -----


def _window_regions(insz, outsz, k, s, p, d):
    """Per dim: positions o * s - p + t * d (t < k), valid inside the input; combined over dims."""
    per = []
    for i in range(len(insz)):
        pos = np.arange(outsz[i])[:, None] * s[i] - p[i] + np.arange(k[i])[None, :] * d[i]
        per.append((pos, (pos >= 0) & (pos < insz[i])))
    return _combine(insz, per)


def _adaptive_regions(insz, outsz):
    """Per dim: [floor(o * in / out), ceil((o + 1) * in / out)), padded to the widest region with its last
    index repeated (masked out)."""
    per = []
    for n_in, n_out in zip(insz, outsz):
        o = np.arange(n_out)
        start = (o * n_in) // n_out
        end = -((-(o + 1) * n_in) // n_out)
        width = int((end - start).max()) if n_out else 0
        t = np.arange(width)[None, :]
        pos = np.minimum(start[:, None] + t, end[:, None] - 1)
        per.append((pos, t < (end - start)[:, None]))
    return _combine(insz, per)


def _combine(insz, per):
    """Flat indices (O, K) and mask (O, K) from per-dim (out_i, k_i) positions, row-major over dims."""
    n = len(per)
    flat = np.zeros((1,) * (2 * n), dtype=np.int64)
    mask = np.ones((1,) * (2 * n), dtype=bool)
    stride = 1
    for i in range(n - 1, -1, -1):
        pos, ok = per[i]
        shape = [1] * (2 * n)
        shape[i], shape[n + i] = pos.shape
        flat = flat + np.clip(pos, 0, max(insz[i] - 1, 0)).reshape(shape) * stride
        mask = mask & ok.reshape(shape)
        stride *= insz[i]
    outs = [p.shape[0] for p, _ in per]
    ks = [p.shape[1] for p, _ in per]
    full = (*outs, *ks)
    o, kk = numel(outs), numel(ks)
    return np.broadcast_to(flat, full).reshape(o, kk), np.broadcast_to(mask, full).reshape(o, kk)


def _lead(x, nsp):
    lead = tuple(x.shape[: x.ndim - nsp])
    return lead, numel(lead), tuple(x.shape[x.ndim - nsp:])


def _low(dt):
    return -np.inf if dt.kind == "f" else np.iinfo(dt).min


def _max_regions(x, nsp, flat, mask, outsz):
    """(values, flat input indices) of each region's maximum: the first in scan order, or the last NaN."""
    lead, n, insz = _lead(x, nsp)
    xf = np.asarray(B.to_numpy(x)).reshape(n, numel(insz))
    low = _low(xf.dtype)
    vals = np.where(mask[None], xf[:, flat], np.asarray(low, dtype=xf.dtype))  # (n, O, K)
    if vals.shape[-1] == 0:
        idx = np.zeros(vals.shape[:-1], dtype=np.int64)
    else:
        idx = np.argmax(vals, axis=-1)
        first_valid = np.argmax(mask, axis=-1)[None]
        chosen_valid = np.take_along_axis(np.broadcast_to(mask[None], vals.shape), idx[..., None], -1)[..., 0]
        idx = np.where(chosen_valid, idx, first_valid)
        if xf.dtype.kind == "f":
            nan = np.isnan(vals) & mask[None]
            if nan.any():
                last_nan = vals.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
                idx = np.where(nan.any(-1), last_nan, idx)
    out = np.take_along_axis(vals, idx[..., None], -1)[..., 0] if vals.shape[-1] else np.zeros(idx.shape, xf.dtype)
    where = np.take_along_axis(np.broadcast_to(flat[None], vals.shape), idx[..., None], -1)[..., 0] \
        if vals.shape[-1] else np.zeros(idx.shape, np.int64)
    shape = (*lead, *outsz)
    return (B.xp.asarray(np.ascontiguousarray(out).reshape(shape)),
            B.xp.asarray(np.ascontiguousarray(where).astype(np.int64).reshape(shape)))


def _scatter_arr(g, shape, indices, nsp):
    """zeros(shape) with g added at the flat spatial indices (per leading position)."""
    n, insz = numel(shape[:len(shape) - nsp]), tuple(shape[len(shape) - nsp:])
    v = numel(insz)
    ga = np.asarray(B.to_numpy(g))
    ia = np.asarray(B.to_numpy(indices))
    m = numel(ia.shape[ia.ndim - nsp:])
    ii = ia.reshape(n, m) + (np.arange(n, dtype=np.int64) * v)[:, None]
    out = np.zeros(n * v, dtype=ga.dtype)
    np.add.at(out, ii.ravel(), ga.reshape(n, m).ravel())
    return B.xp.asarray(out.reshape(shape))


def _gather_arr(g, indices, nsp):
    ga = np.asarray(B.to_numpy(g))
    idx = np.asarray(B.to_numpy(indices))
    n = numel(idx.shape[: idx.ndim - nsp])
    out = np.take_along_axis(ga.reshape(n, -1), idx.reshape(n, -1), axis=1) if idx.size else np.zeros(idx.shape,
                                                                                                        ga.dtype)
    return B.xp.asarray(out.reshape(idx.shape))


def _zeros_like(t):
    return _t(B.xp.zeros(tuple(t.shape), dtype=t._data.dtype))


# torch: max_pool{2,3}d_with_indices_backward / adaptive_max_pool{2,3}d_backward: grad_output's derivative is
# max_pool_double_backward (a gather at the indices), self's zeros
pool_scatter_op = defop(
    "_max_pool_scatter_nd(Tensor grad_output, Tensor self, Tensor indices, int nsp) -> Tensor",
    lambda g, x, indices, nsp: _scatter_arr(g, x.shape, indices, nsp),
    grad_output=lambda grad, indices, nsp: pool_gather_op(grad, indices, nsp),
    self=lambda grad, self: _zeros_like(self),
    rule=lambda grad_output, self, indices, nsp: Cost(tuple(self.shape), numel(self.shape) + numel(indices.shape)),
)
pool_gather_op = defop(
    "_max_pool_gather_nd(Tensor self, Tensor indices, int nsp) -> Tensor",
    lambda g, indices, nsp: _gather_arr(g, indices, nsp),
    self=lambda grad, self, indices, nsp: pool_scatter_op(grad, self, indices, nsp),
    rule=lambda self, indices, nsp: Cost(tuple(indices.shape), numel(indices.shape)),
)


def _max_backward(nsp):
    def f(grad, self, result1):
        return pool_scatter_op(grad[0], self, _t(result1._data), nsp)

    return f


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


# ----- 1-d pools: aten's unsqueeze(-2), 2-d pool, squeeze(-2) -----


def _dim_range(name, t, lo, hi):
    if not lo <= t.ndim < hi:
        raise TorchRuntimeError(
            f"Expected {lo} to {hi - 1} dimensions, but got {t.ndim}-dimensional tensor for argument #1 'self' "
            f"(while checking arguments for {name})")


def _check1d(name, arg, value):
    v = _ints(value) if not (isinstance(value, list | tuple) and len(value) == 0) else []
    if len(v) != 1:
        raise TorchRuntimeError(f"{name}() argument '{arg}' should contain one int (got {len(v)})")
    return v[0]


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


# ----- adaptive pools -----


def _list_with_default(out_size, defaults):
    """torch.nn.modules.utils._list_with_default: None entries take the input's sizes."""
    if isinstance(out_size, int):
        return out_size
    if len(defaults) <= len(out_size):
        raise TorchValueError(f"Input dimension should be at least {len(out_size) + 1}")
    return [v if v is not None else d for v, d in zip(out_size, defaults[-len(out_size):])]


def _adaptive_nonzero(name, x, first):
    for i in range(first, x.ndim):
        if x.shape[i] <= 0:
            raise TorchRuntimeError(
                f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes "
                f"{list_str(x.shape)} with dimension {i} being empty")


def _adaptive_avg_fwd(nsp):
    name = f"adaptive_avg_pool{nsp}d"

    def fwd(x, output_size):
        outsz = tuple(_ints(output_size))
        if nsp == 2:
            if x.ndim not in (3, 4):
                raise TorchRuntimeError(f"{name}(): Expected 3D or 4D tensor, but got {list_str(x.shape)}")
            for i in (-2, -1):
                if x.shape[i] <= 0:
                    raise TorchRuntimeError(
                        f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input has "
                        f"sizes {list_str(x.shape)} with dimension {i + x.ndim} being empty")
        else:
            _adaptive_nonzero(name, x, 1)
            if x.ndim not in (4, 5):
                raise TorchRuntimeError(f"{name}(): Expected 4D or 5D tensor, but got {list_str(x.shape)}")
        if x.dtype.kind != "f":
            raise TorchNotImplementedError(f"\"{name}\" not implemented for '{_word(x)}'")
        lead, n, insz = _lead(x, nsp)
        flat, mask = _adaptive_regions(insz, outsz)
        xf = np.asarray(B.to_numpy(x)).reshape(n, numel(insz))
        cnt = mask.sum(axis=-1)
        with _errstate():
            out = (np.where(mask[None], xf[:, flat], 0).sum(axis=-1) / cnt).astype(x.dtype)
        return B.xp.asarray(out.reshape(*lead, *outsz))

    return fwd


def _adaptive_avg_bwd_arr(g, x, nsp):
    lead, n, insz = _lead(x, nsp)
    outsz = tuple(g.shape[g.ndim - nsp:])
    flat, mask = _adaptive_regions(insz, outsz)
    ga = np.asarray(B.to_numpy(g)).reshape(n, numel(outsz))
    cnt = mask.sum(axis=-1)
    gd = (ga / cnt).astype(ga.dtype)
    contrib = np.broadcast_to(gd[..., None], (n, *flat.shape))
    rows = np.broadcast_to((np.arange(n) * numel(insz))[:, None, None], contrib.shape)
    m = np.broadcast_to(mask[None], contrib.shape)
    out = np.zeros(n * numel(insz), dtype=ga.dtype)
    np.add.at(out, (rows + flat[None])[m], contrib[m])
    return B.xp.asarray(out.reshape(x.shape))


def _adaptive_rule(nsp, nout=1):
    def rule(self, output_size):
        out = (*tuple(self.shape[: len(self.shape) - nsp]), *_ints(output_size))
        return Cost(out if nout == 1 else (out, out), 2 * numel(self.shape) + numel(out), numel(self.shape))

    return rule


def _make_adaptive_avg(nsp):
    fwd_name = f"_adaptive_avg_pool{nsp}d"
    ops = {}

    def grad_output_formula(grad, grad_output_shape):
        return ops["fwd"](grad, list(grad_output_shape[len(grad_output_shape) - nsp:]))

    ops["bwd"] = defop(
        f"{fwd_name}_backward(Tensor grad_output, Tensor self) -> Tensor",
        lambda g, x: _adaptive_avg_bwd_arr(g, x, nsp),
        grad_output=grad_output_formula,
        self=lambda grad, self: _zeros_like(self),
        rule=lambda grad_output, self: Cost(tuple(self.shape), 2 * numel(self.shape)),
    )
    ops["fwd"] = defop(
        f"{fwd_name}(Tensor self, SymInt[{nsp}] output_size) -> Tensor", _adaptive_avg_fwd(nsp),
        self=lambda grad, self: ops["bwd"](grad, self), rule=_adaptive_rule(nsp),
    )
    return ops["fwd"], ops["bwd"]


adaptive_avg_pool2d_op, adaptive_avg_pool2d_backward_op = _make_adaptive_avg(2)
adaptive_avg_pool3d_op, adaptive_avg_pool3d_backward_op = _make_adaptive_avg(3)


def _adaptive_avg(nsp, input, output_size):
    name = f"adaptive_avg_pool{nsp}d"
    out = _ints(output_size) if not (isinstance(output_size, list | tuple) and len(output_size) == 0) else []
    if isinstance(output_size, int):
        out = [output_size] * nsp
    if len(out) != nsp:
        raise TorchRuntimeError(f"{name}: output_size must be {nsp}")
    if any(o < 0 for o in out):
        shown = ", ".join(str(o) for o in out[:2]) + "".join(f",{o}" for o in out[2:])  # torch's own spacing
        raise TorchRuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 but received "
                                f"{{{shown}}}")
    if all(o == 1 for o in out):
        from engine.ops import reduction as R  # noqa: PLC0415

        return R.mean(input, list(range(-1, -nsp - 1, -1)), True)
    return (adaptive_avg_pool2d_op if nsp == 2 else adaptive_avg_pool3d_op)(input, out)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average over adaptive regions: AdaptiveAvgPool2DBackward0 (a mean for output size 1 x 1)."""
    return _adaptive_avg(2, input, _list_with_default(output_size, list(input.shape)))


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Average over adaptive regions: AdaptiveAvgPool3DBackward0 (a mean for output size 1 x 1 x 1)."""
    return _adaptive_avg(3, input, _list_with_default(output_size, list(input.shape)))


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """adaptive_avg_pool2d over input.unsqueeze(-2) to (1, output_size), then squeeze(-2)."""
    _dim_range("adaptive_avg_pool1d", input, 2, 4)
    o = _check1d("adaptive_avg_pool1d", "output_size", output_size)
    return S.squeeze(_adaptive_avg(2, S.unsqueeze(input, -2), [1, o]), -2)


def _adaptive_max_fwd(nsp):
    name = f"adaptive_max_pool{nsp}d"

    def fwd(x, output_size):
        if x.ndim not in ((3, 4) if nsp == 2 else (4, 5)):
            dims = "3D or 4D" if nsp == 2 else "4D or 5D"
            raise TorchRuntimeError(f"{name}(): Expected {dims} tensor, but got: {list_str(x.shape)}")
        _adaptive_nonzero(name, x, 1)
        outsz = tuple(_ints(output_size))
        if len(outsz) != nsp:
            raise TorchRuntimeError(f"{name}(): internal error: output_size.size() must be {nsp}")
        if any(o < 0 for o in outsz):
            bad = next(o for o in outsz if o < 0)
            raise TorchRuntimeError(f"Trying to create tensor with negative dimension {bad}: "
                                    f"{list_str((*x.shape[: x.ndim - nsp], *outsz))}")
        if x.dtype.kind != "f":
            raise TorchNotImplementedError(f"\"{name}\" not implemented for '{_word(x)}'")
        _, _, insz = _lead(x, nsp)
        flat, mask = _adaptive_regions(insz, outsz)
        return _max_regions(x, nsp, flat, mask, outsz)

    return fwd


adaptive_max_pool2d_op = defop(
    "adaptive_max_pool2d(Tensor self, int[2] output_size) -> (Tensor, Tensor)", _adaptive_max_fwd(2), nout=2,
    self=_max_backward(2), rule=_adaptive_rule(2, 2),
)
adaptive_max_pool3d_op = defop(
    "adaptive_max_pool3d(Tensor self, int[3] output_size) -> (Tensor, Tensor)", _adaptive_max_fwd(3), nout=2,
    self=_max_backward(3), rule=_adaptive_rule(3, 2),
)


def _sizes_arg(output_size, nsp):
    return [output_size] * nsp if isinstance(output_size, int) else _ints(output_size)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Maximum over adaptive regions: AdaptiveMaxPool2DBackward0."""
    out, idx = adaptive_max_pool2d_op(input, _sizes_arg(_list_with_default(output_size, list(input.shape)), 2))
    return (out, _t(idx._data)) if return_indices else out


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Maximum over adaptive regions: AdaptiveMaxPool3DBackward0."""
    out, idx = adaptive_max_pool3d_op(input, _sizes_arg(_list_with_default(output_size, list(input.shape)), 3))
    return (out, _t(idx._data)) if return_indices else out


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool2d over input.unsqueeze(-2) to (1, output_size), then squeeze(-2) (both outputs)."""
    _dim_range("adaptive_max_pool1d", input, 2, 4)
    o = _check1d("adaptive_max_pool1d", "output_size", output_size)
    _adaptive_nonzero("adaptive_max_pool1d", input, 1)
    out, idx = adaptive_max_pool2d_op(S.unsqueeze(input, -2), [1, o])
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

