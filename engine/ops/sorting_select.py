"""torch's CPU selection step for step, so that tied values come back with torch's indices: aten's kthvalue
(Sedgewick's quickselect, SortingUtils' quick_select_template), topk (TopKImpl.h topk_impl_loop: libstdc++'s
std::nth_element then std::sort of the first k - 1, or std::partial_sort where k * 64 <= n) and mode's std::sort
(introsort). Every routine works on all rows at once: each row's values are replaced by int64 keys (their
ranks, NaN the largest, -0.0 equal to 0.0; negated where the comparator is `>`), so that every comparison is the
keys' `<`, and the positions (`idx`) travel with the keys as the (value, index) pairs do in aten.

A Hoare partition is not stepped element by element: a left scan stops at the positions whose key is not below
the pivot, the right scan at those whose key is not above it, in the order the scans meet them; the t-th left
stop is swapped with the t-th right stop while they have not crossed, and where the scans cross follows from
the first pair that has (and the last pair swapped: a swapped value stops the other scan). So a partition of
every row's segment is a few whole-array passes, and the Python loops run once per partition level (O(log n)
levels for most inputs, at most n; each checks the request's deadline). libstdc++'s heap fallbacks (the depth
limit, partial_sort) are stepped a heap move at a time over all rows together, also under the deadline."""
from __future__ import annotations

import numpy as np

from engine import budget as _budget

_BIG = np.iinfo(np.int64).max // 4


def keys(x, negate=False):
    """int64 ranks of x's values (NaN above every number and equal to NaN, -0.0 equal to 0.0), negated where
    the comparator is `>` (topk largest: NaN first)."""
    flat = np.asarray(x).reshape(-1)
    if flat.dtype.kind in "fc":
        _, inv = np.unique(flat, return_inverse=True, equal_nan=True)
    else:
        _, inv = np.unique(flat, return_inverse=True)
    k = np.asarray(inv, dtype=np.int64).reshape(np.shape(x))
    if negate:
        np.negative(k, out=k)
    return k


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
    seg, pos = _ranges(lo, hi)
    k = key[r[seg], pos]
    m = (k >= piv[seg]) if left else (k <= piv[seg])
    seg, pos = seg[m], pos[m]
    count = np.bincount(seg, minlength=lo.size)
    return pos, np.cumsum(count) - count, count


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


# ----- aten's quick_select_template (kthvalue) -----


def quickselect(key, idx, k):
    """aten's kthvalue on every row of key / idx (2-D, rows along axis 1) in place: Sedgewick's quickselect with
    gt_or_nan (the keys' `>`) until position k (0-based) holds the k-th smallest."""
    rows, n = key.shape
    L = np.zeros(rows, dtype=np.int64)
    R = np.full(rows, n - 1, dtype=np.int64)
    act = np.nonzero(R > L)[0]
    while act.size:
        _budget.check()
        r, lo, hi = act, L[act], R[act]
        two = hi == lo + 1
        if two.any():  # two elements only: ordered, done
            _cswap(key, idx, r[two], lo[two], hi[two], key[r[two], lo[two]] > key[r[two], hi[two]])
            R[r[two]] = L[r[two]]
            r, lo, hi = r[~two], lo[~two], hi[~two]
            if not r.size:
                break
        lo1 = lo + 1
        _swap(key, idx, r, (lo + hi) >> 1, lo1)  # median of three
        _cswap(key, idx, r, lo1, hi, key[r, lo1] > key[r, hi])
        _cswap(key, idx, r, lo, hi, key[r, lo] > key[r, hi])
        _cswap(key, idx, r, lo1, lo, key[r, lo1] > key[r, lo])
        piv = key[r, lo]
        (lp, ls, lc), (rp, rs, rc), sw = _hoare(key, idx, r, piv, lo + 2, hi + 1, lo1, hi, True)
        # where the scans crossed: the next stop of each, or the last swapped position of the other scan (a
        # scan that met the other at one position goes past it: the pair before is the bound)
        eq = (sw >= 1) & (_nth(lp, ls, lc, sw, -1) == _rnth(rp, rs, rc, sw, -2))
        t = sw - eq
        i = np.minimum(_nth(lp, ls, lc, sw + 1, _BIG), _rnth(rp, rs, rc, t, _BIG))
        j = np.maximum(_rnth(rp, rs, rc, sw + 1, -_BIG), _nth(lp, ls, lc, t, -_BIG))
        _swap(key, idx, r, lo, j)
        L[r] = np.where(j <= k, i, lo)
        R[r] = np.where(j >= k, j - 1, hi)
        act = r[R[r] > L[r]]

