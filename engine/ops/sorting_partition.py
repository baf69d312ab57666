"""The selection routines' keys and their whole-array Hoare partition (engine/ops/sorting_select.py's parts).

Every routine works on all rows at once: each row's values are replaced by keys (`keys`) whose `<` is the
comparator's, and the positions (`idx`) travel with the keys as the (value, index) pairs do in aten.

A Hoare partition is not stepped element by element: a left scan stops at the positions whose key is not below
the pivot, the right scan at those whose key is not above it, in the order the scans meet them; the t-th left
stop is swapped with the t-th right stop while they have not crossed, and where the scans cross follows from
the first pair that has (and the last pair swapped: a swapped value stops the other scan). So a partition of
every row's segment is a few whole-array passes (`_hoare`), and the callers' Python loops run once per partition
level."""
from __future__ import annotations

import numpy as np

_BIG = np.iinfo(np.int64).max // 4


def keys(x, negate=False):
    """Keys whose `<` is the comparator's: x's values themselves (a copy; negated where the comparator is `>`,
    topk largest) where that is exact: floats without NaN (-0.0 == 0.0 as in aten), integers that int64 holds
    negated; otherwise int64 ranks (NaN above every number and equal to NaN), at np.unique's cost."""
    a = np.asarray(x)
    if a.dtype.kind == "f" and not np.isnan(a).any():
        return np.negative(a) if negate else a.copy()
    if a.dtype.kind in "iub" and a.dtype.itemsize <= 4 or a.dtype.kind in "iub" and not negate:
        return np.negative(a, dtype=np.int64) if negate else a.copy()
    flat = a.reshape(-1)
    if flat.dtype.kind in "fc":
        _, inv = np.unique(flat, return_inverse=True, equal_nan=True)
    else:
        _, inv = np.unique(flat, return_inverse=True)
    k = np.asarray(inv, dtype=np.int64).reshape(np.shape(x))
    if negate:
        np.negative(k, out=k)
    return k


def _top(key):
    """A value no key is above (padding that sorts after every key)."""
    if key.dtype.kind == "b":
        return True
    return np.inf if key.dtype.kind == "f" else np.iinfo(key.dtype).max


def _ranges(lo, hi):
    """The half-open ranges [lo, hi) one after another: (range number, position) of each element."""
    n = np.maximum(hi - lo, 0)
    seg = np.repeat(np.arange(n.size), n)
    start = np.cumsum(n) - n
    pos = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(start - lo, n)
    return seg, pos


def _swap(key, idx, r, p, q):
    kp, ip = key[r, p], idx[r, p]
    key[r, p] = key[r, q]
    idx[r, p] = idx[r, q]
    key[r, q] = kp
    idx[r, q] = ip


def _cswap(key, idx, r, p, q, cond):
    """swap(p, q) in the rows where cond holds."""
    if cond.any():
        _swap(key, idx, r[cond], p[cond], q[cond])


def _stops(key, r, piv, lo, hi, left):
    """The positions in [lo, hi) of each segment where a scan stops: left, the keys not below the pivot; right,
    those not above it. (ascending positions, each segment's start in them, its count)"""
    seg, g = _ranges(lo, hi)
    rs = r[seg]
    rs *= key.shape[1]
    g += rs  # flat positions in key
    del rs
    k = key.reshape(-1)[g]
    m = (k >= piv[seg]) if left else (k <= piv[seg])
    del k
    seg, g = seg[m], g[m]
    del m
    count = np.bincount(seg, minlength=lo.size)
    g -= r[seg] * key.shape[1]
    return g, np.cumsum(count) - count, count


def _nth(pos, start, count, t, fill):
    """The t-th (1-based) of each segment's stops where it has one, else fill."""
    ok = (t >= 1) & (t <= count)
    if not pos.size:
        return np.full(t.shape, fill, dtype=np.int64)
    return np.where(ok, pos[np.clip(start + t - 1, 0, pos.size - 1)], fill)


def _hoare(key, idx, r, piv, ls_lo, ls_hi, rs_lo, rs_hi, swap_equal):
    """The scans' swaps made; returns (the left stops, the right stops (t-th from the right), the number of
    swaps) for the crossing point. swap_equal: swap where the scans meet at one position (Sedgewick's
    `if (j < i) break`) rather than stop (libstdc++'s `if (!(first < last)) return first`)."""
    lp, ls, lc = _stops(key, r, piv, ls_lo, ls_hi, True)
    rp, rs, rc = _stops(key, r, piv, rs_lo, rs_hi, False)
    seg, t = _ranges(np.zeros_like(lc), np.minimum(lc, rc))
    a = lp[ls[seg] + t] if lp.size else t
    b = rp[rs[seg] + rc[seg] - 1 - t] if rp.size else t
    go = (a <= b) if swap_equal else (a < b)
    swaps = np.bincount(seg[go], minlength=r.size)  # the scans meet in order: a prefix of the pairs
    _swap(key, idx, r[seg[go]], a[go], b[go])
    return (lp, ls, lc), (rp, rs, rc), swaps


def _rnth(rp, rs, rc, t, fill):
    """The t-th (1-based) right stop of each segment counted from the right, else fill."""
    ok = (t >= 1) & (t <= rc)
    if not rp.size:
        return np.full(t.shape, fill, dtype=np.int64)
    return np.where(ok, rp[np.clip(rs + rc - t, 0, rp.size - 1)], fill)
