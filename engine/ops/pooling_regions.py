"""The one gather every pool of engine/ops/pooling*.py uses: regions (flat spatial indices and a validity mask) of a
window or an adaptive pool, the first maximum over them, the pool_scatter / pool_gather entries of the max
pools' backward, and the 1-d pools' argument checks."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.errors import TorchRuntimeError
from engine.ops.registry import defop
from engine.ops.rules import Cost, numel, wide
from engine.tensor import Tensor


def _t(a):
    return Tensor._make(a)


def _ints(v):
    return [int(i) for i in v] if isinstance(v, list | tuple) else [int(v)]


# ----- regions: flat spatial indices (O, K) and a validity mask -----

# Rows of an adaptive pool's table are made and gathered this many elements (n x rows x K) at a time, and each
# element of a chunk costs at most REGION_BYTES at the peak (flat int64, mask, the gathered values and the
# where / argmax / add.at temporaries of up to 8-byte items): what the adaptive rules charge.
REGION_CHUNK = 1 << 16
REGION_BYTES = 48
# and at most this many rows (each row's coordinates and per-dim bounds: ~200 bytes, whatever its K)
REGION_ROWS = 1 << 13
ROW_BYTES = 256


def _window_regions(insz, outsz, k, s, p, d):
    """Per dim: positions o * s - p + t * d (t < k), valid inside the input; combined over dims."""
    per = []
    for i in range(len(insz)):
        pos = np.arange(outsz[i])[:, None] * s[i] - p[i] + np.arange(k[i])[None, :] * d[i]
        per.append((pos, (pos >= 0) & (pos < insz[i])))
    return _combine(insz, per)


def _adaptive_bounds(n_in, n_out, o):
    """[start, end) of the adaptive regions o along one dim: [floor(o * in / out), ceil((o + 1) * in / out))."""
    return (o * n_in) // n_out, -((-(o + 1) * n_in) // n_out)


def _adaptive_width(n_in, n_out):
    """The widest adaptive region along one dim (at most ceil(in / out) + 1), over the outputs in chunks (an
    output dim of 1e7 would otherwise make three arrays of its length)."""
    width = 0
    for lo in range(0, n_out, REGION_CHUNK):
        _budget.check()
        start, end = _adaptive_bounds(n_in, n_out, np.arange(lo, min(lo + REGION_CHUNK, n_out)))
        width = max(width, int((end - start).max()))
    return width


def adaptive_widths(insz, outsz):
    """Per dim, the widest region: the tables' K is their product."""
    return [_adaptive_width(i, o) for i, o in zip(insz, outsz)]


def _adaptive_regions(insz, outsz, widths=None, lo=0, hi=None):
    """The rows [lo, hi) of the adaptive pool's table (all of them by default): per dim, [floor(o * in / out),
    ceil((o + 1) * in / out)), padded to the widest region with its last index repeated (masked out)."""
    widths = adaptive_widths(insz, outsz) if widths is None else widths
    o_all = numel(outsz)
    hi = o_all if hi is None else hi
    coords = np.unravel_index(np.arange(lo, hi), tuple(outsz)) if len(outsz) else ()
    per = []
    for n_in, n_out, width, o in zip(insz, outsz, widths, coords):
        start, end = _adaptive_bounds(n_in, n_out, o)
        t = np.arange(width)[None, :]
        pos = np.minimum(start[:, None] + t, end[:, None] - 1)
        per.append((pos, t < (end - start)[:, None]))
    return _combine_rows(insz, per, hi - lo)


def adaptive_chunks(insz, outsz, n):
    """(lo, hi, flat, mask) over the adaptive table's rows in chunks whose gathers (n x rows x K) hold about
    REGION_CHUNK elements (at least one row each): a pool's peak is a chunk's, not the whole table's (~100-150
    bytes an output element: 16 small requests had taken a server to 2.4 GB). Rows are independent, so the
    values are those of one pass over the whole table, bit for bit."""
    widths = adaptive_widths(insz, outsz)
    k = numel(widths)
    o_all = numel(outsz)
    step = min(REGION_ROWS, max(1, REGION_CHUNK // max(1, n * k)))
    for lo in range(0, o_all, step):
        _budget.check()
        hi = min(lo + step, o_all)
        flat, mask = _adaptive_regions(insz, outsz, widths, lo, hi)
        yield lo, hi, flat, mask


def adaptive_chunk_bytes(n, outsz, insz):
    """The most bytes one chunk of adaptive_chunks holds at its peak, from shapes alone (K bounded by
    ceil(in / out) + 1 per dim): its table elements (n x rows x K) at REGION_BYTES, its rows at ROW_BYTES."""
    k = 1
    for i, o in zip(insz, outsz):
        k *= -(-int(i) // max(int(o), 1)) + 1
    rows = min(numel(outsz), REGION_ROWS, max(1, REGION_CHUNK // max(1, n * k)))
    return rows * n * k * REGION_BYTES + rows * ROW_BYTES


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


def _combine_rows(insz, per, m):
    """Flat indices (m, K) and mask (m, K) from per-dim (m, k_i) positions of the same m rows (row-major over the
    dims' k_i): the rows of _combine's table whose per-dim positions these are."""
    n = len(per)
    flat = np.zeros((m,) + (1,) * n, dtype=np.int64)
    mask = np.ones((m,) + (1,) * n, dtype=bool)
    stride = 1
    for i in range(n - 1, -1, -1):
        pos, ok = per[i]
        shape = [m] + [1] * n
        shape[1 + i] = pos.shape[1]
        flat = flat + np.clip(pos, 0, max(insz[i] - 1, 0)).reshape(shape) * stride
        mask = mask & ok.reshape(shape)
        stride *= insz[i]
    ks = [p.shape[1] for p, _ in per]
    full = (m, *ks)
    kk = numel(ks)
    return np.broadcast_to(flat, full).reshape(m, kk), np.broadcast_to(mask, full).reshape(m, kk)


def _lead(x, nsp):
    lead = tuple(x.shape[: x.ndim - nsp])
    return lead, numel(lead), tuple(x.shape[x.ndim - nsp:])


def _low(dt):
    return -np.inf if dt.kind == "f" else np.iinfo(dt).min


def _max_rows(xf, flat, mask):
    """(values, flat input indices) of the maximum of each region (rows of flat / mask) of xf (n, V): the
    first in scan order, or the last NaN; both (n, rows)."""
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
    return out, where


def _max_regions(x, nsp, flat, mask, outsz):
    """(values, flat input indices) of each region's maximum: the first in scan order, or the last NaN."""
    lead, n, insz = _lead(x, nsp)
    xf = np.asarray(B.to_numpy(x)).reshape(n, numel(insz))
    out, where = _max_rows(xf, flat, mask)
    shape = (*lead, *outsz)
    return (B.xp.asarray(np.ascontiguousarray(out).reshape(shape)),
            B.xp.asarray(np.ascontiguousarray(where).astype(np.int64).reshape(shape)))


def _adaptive_max_arr(x, nsp, outsz):
    """_max_regions over the adaptive table, chunk by chunk (adaptive_chunks): the same values and indices."""
    lead, n, insz = _lead(x, nsp)
    xf = np.asarray(B.to_numpy(x)).reshape(n, numel(insz))
    o_all = numel(outsz)
    out = np.empty((n, o_all), dtype=xf.dtype)
    where = np.empty((n, o_all), dtype=np.int64)
    for lo, hi, flat, mask in adaptive_chunks(insz, outsz, n) if n else ():  # no rows: no region tables
        out[:, lo:hi], where[:, lo:hi] = _max_rows(xf, flat, mask)
    shape = (*lead, *outsz)
    return B.xp.asarray(out.reshape(shape)), B.xp.asarray(where.reshape(shape))


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
    # temp: grad_output flattened (a copy where expanded, as a sum's gradient is), the int64 flat indices and
    # np.add.at's copy of them
    rule=lambda grad_output, self, indices, nsp: Cost(
        tuple(self.shape), numel(self.shape) + numel(indices.shape),
        numel(grad_output.shape) + wide(2 * numel(indices.shape), grad_output, self, indices)),
)
pool_gather_op = defop(
    "_max_pool_gather_nd(Tensor self, Tensor indices, int nsp) -> Tensor",
    lambda g, indices, nsp: _gather_arr(g, indices, nsp),
    self=lambda grad, self, indices, nsp: pool_scatter_op(grad, self, indices, nsp),
    rule=lambda self, indices, nsp: Cost(tuple(indices.shape), numel(indices.shape),
                                         numel(indices.shape) + wide(numel(indices.shape), self, indices)),
)


def _max_backward(nsp):
    def f(grad, self, result1):
        return pool_scatter_op(grad[0], self, _t(result1._data), nsp)

    return f


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
