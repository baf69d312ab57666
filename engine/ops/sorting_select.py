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
from engine.ops.rules import log2ceil

_BIG = np.iinfo(np.int64).max // 4


# What the loops' steps cost, in flops (a flop ~1.1 ns: an elementwise add on this machine), measured with
# process_time over their step counts (docs/runs/safeM.md: redteam13 F7/F11 were charged ~1000 flops a step at
# 20-300 us of CPU a step): a heap step (a sift level of every heap: a few fancy-indexed NumPy calls on short
# arrays) ~20-30 us; a partition level (median of three, the scans' stops, the swaps: ~40 NumPy calls) ~200 us
# plus ~30-45 ns an element of its segments.
HEAP_STEP = 30_000
LEVEL_STEP = 200_000
LEVEL_ELEMENT = 48
STEP_ELEMENT = 8


class _Steps:
    """The deadline checked at every step of a loop; a step's fixed cost (LEVEL_STEP a partition level, HEAP_STEP a
    heap step) free only while the op's rule's own charge for these elements (n log2 n flops) lasts, and while the
    request's free steps do (budget.take_free), else charged as it comes; a step's elements always (LEVEL_ELEMENT /
    STEP_ELEMENT each: over many rows one free step touches them all: redteam14 F1b, and F1's [2048, 188] tied
    rows). The allowance had been a count of steps whatever n was (16 log2 n + 64; quickselect 4 log2 n + 16): 48
    free levels (~10 ms of CPU) for a 188-value row charged 1.5e3 flops, and a batch's documents each had a
    request's free steps of their own (redteam15 F5: a 156 KB batch held a server thread 32 s). `ahead` charges a
    count of heap steps known before they run at once (one charge: max_op_flops and max_flops see the whole of it,
    a 413 before the work)."""

    def __init__(self, elements):
        e = max(int(elements), 2)
        self.left = float(e * log2ceil(e))  # flops of fixed step costs still free
        self.paid = 0  # steps `ahead` charged for (or took free), not yet run

    def __call__(self, elements=0, level=False):
        _budget.check()
        if self.paid > 0:
            self.paid -= 1
            if not level and elements:
                _budget.charge(0, 8, float(STEP_ELEMENT) * elements, "the selection's heap steps")
            return
        fixed = LEVEL_STEP if level else HEAP_STEP
        self.left -= fixed
        per = LEVEL_ELEMENT if level else STEP_ELEMENT
        what = "the selection's partition levels" if level else "the selection's heap steps"
        if self.left < 0 or not _budget.take_free(1):
            _budget.charge(0, 8, fixed + float(per) * elements, what)
        elif elements:
            _budget.charge(0, 8, float(per) * elements, what)

    def ahead(self, steps, what="the selection's heap steps"):
        """`steps` heap steps charged now past the free ones left (the op's and the request's); they then run
        with their elements charged only."""
        steps = int(steps)
        free = _budget.take_free(min(max(int(self.left // HEAP_STEP), 0), steps))
        self.left -= free * HEAP_STEP
        need = steps - free
        if need > 0:
            _budget.charge(0, 8, float(HEAP_STEP) * need, what)
        self.paid += steps


def heap_steps(m):
    """A lower bound of the steps make_heap and sort_heap take on a heap of m: a step a parent, and a pop of a
    heap of L a step and at least _lg(L) - 1 sift levels (each a step)."""
    m = int(m)
    if m < 2:
        return 0
    levels = 0
    for j in range(2, m.bit_length()):  # L in [2^j, 2^(j+1)) ∩ [2, m]: j - 1 levels each
        levels += (min(m, (1 << (j + 1)) - 1) - (1 << j) + 1) * (j - 1)
    return m // 2 + (m - 1) + levels


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


# ----- aten's quick_select_template (kthvalue) -----


def quickselect(key, idx, k):
    """aten's kthvalue on every row of key / idx (2-D, rows along axis 1) in place, as far as position k (0-based)
    is concerned: a row whose k-th smallest key is there once has one answer, put there at once; the others go
    through _quickselect."""
    kth = np.take_along_axis(key, np.argpartition(key, k, axis=1)[:, k:k + 1], axis=1)
    eq = key == kth
    one = eq.sum(axis=1) == 1
    hit = np.nonzero(one)[0]
    if hit.size:
        at = np.argmax(eq[hit], axis=1)
        idx[hit, k], key[hit, k] = idx[hit, at], kth[hit, 0]
    del eq
    r = np.nonzero(~one)[0]
    if r.size:
        _rows_of(_quickselect, key, idx, r, k)


def _quickselect(key, idx, k):
    """Sedgewick's quickselect with gt_or_nan (the keys' `>`) on every row until position k holds the k-th
    smallest: aten's quick_select_template step for step."""
    rows, n = key.shape
    L = np.zeros(rows, dtype=np.int64)
    R = np.full(rows, n - 1, dtype=np.int64)
    act = np.nonzero(R > L)[0]
    tick = _Steps(rows * n)
    while act.size:
        r, lo, hi = act, L[act], R[act]
        tick(int((hi - lo).sum()), level=True)
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



# ----- libstdc++ (std::nth_element, std::sort, std::partial_sort) with comp = the keys' `<` -----


def _lg(n):
    return int(n).bit_length() - 1


def _partition_pivot(key, idx, r, f, last):
    """__unguarded_partition_pivot on the segments [f, last) of rows r: the median of f + 1, the middle and
    last - 1 moved to f, then the Hoare partition of [f + 1, last) about it; returns the cut."""
    a, b, c = f + 1, f + (last - f) // 2, last - 1
    ka, kb, kc = key[r, a], key[r, b], key[r, c]
    ab, bc, ac = ka < kb, kb < kc, ka < kc
    pick = np.where(ab, np.where(bc, b, np.where(ac, c, a)), np.where(ac, a, np.where(bc, c, b)))
    del ka, kb, kc, ab, bc, ac
    _swap(key, idx, r, f, pick)
    (lp, ls, lc), (rp, rs, rc), sw = _hoare(key, idx, r, key[r, f], f + 1, last, f + 1, last, False)
    # the left scan stops at its next stop, or at the last position the right scan swapped (a stop now)
    return np.minimum(_nth(lp, ls, lc, sw + 1, _BIG), _rnth(rp, rs, rc, sw, _BIG))


def _small_sort(key, idx, r, f, last, width):
    """__insertion_sort of the segments [f, last) (at most `width` long): with a strict weak order it is the
    stable sort of each segment."""
    pos = f[:, None] + np.arange(width)
    inside = pos < last[:, None]
    pos = np.minimum(pos, key.shape[1] - 1)
    rr = r[:, None]
    k = np.where(inside, key[rr, pos], _top(key))
    order = np.argsort(k, axis=1, kind="stable")
    pos = np.take_along_axis(pos, order, axis=1)  # padding sorts last: inside stays the segment's positions
    kv, iv = key[rr, pos], idx[rr, pos]
    dest = f[:, None] + np.arange(width)
    key[np.broadcast_to(rr, dest.shape)[inside], dest[inside]] = kv[inside]
    idx[np.broadcast_to(rr, dest.shape)[inside], dest[inside]] = iv[inside]


def nth_element(key, idx, nth, tick=None):
    """std::nth_element(row, row + nth, row + n) on every row (libstdc++'s __introselect)."""
    rows, n = key.shape
    f = np.zeros(rows, dtype=np.int64)
    last = np.full(rows, n, dtype=np.int64)
    depth = 2 * _lg(n)
    live = np.ones(rows, dtype=bool)
    tick = tick or _Steps(rows * n)
    while True:
        act = np.nonzero(live & (last - f > 3))[0]
        if not act.size:
            break
        tick(int((last[act] - f[act]).sum()), level=True)
        if depth == 0:  # heap_select(first, nth + 1, last), then iter_swap(first, nth)
            tick.ahead((nth + 1) // 2)  # make_heap's parents
            left = heap_select(key, idx, act, f[act], np.full(act.size, nth + 1), last[act], tick, cap=HEAP_STEPS)
            _swap(key, idx, act, f[act], np.full(act.size, nth))
            live[act] = False
            stable_rows(key, idx, act[left])
            break
        depth -= 1
        cut = _partition_pivot(key, idx, act, f[act], last[act])
        left = cut <= nth
        f[act] = np.where(left, cut, f[act])
        last[act] = np.where(left, last[act], cut)
    act = np.nonzero(live & (last - f > 1))[0]
    if act.size:
        _small_sort(key, idx, act, f[act], last[act], 3)


def sort(key, idx, m, tick=None):
    """std::sort(row, row + m) on every row (libstdc++'s introsort, then its final insertion sort)."""
    rows = key.shape[0]
    if m <= 1:
        return
    r = np.arange(rows)
    f = np.zeros(rows, dtype=np.int64)
    last = np.full(rows, m, dtype=np.int64)
    depth = 2 * _lg(m)
    tick = tick or _Steps(rows * m)
    while True:
        big = last - f > 16
        r, f, last = r[big], f[big], last[big]
        if not r.size:
            break
        tick(int((last - f).sum()), level=True)
        if depth == 0:  # std::__partial_sort(first, last, last): make_heap, sort_heap
            h = last - f <= HEAP_SORT_MAX
            tick.ahead(heap_steps(int((last[h] - f[h]).max(initial=0))))
            heap_select(key, idx, r[h], f[h], last[h], last[h], tick)
            sort_heap(key, idx, r[h], f[h], last[h], tick)
            for row, lo, hi in zip(r[~h].tolist(), f[~h].tolist(), last[~h].tolist()):  # few: each over 4096 long
                tick(hi - lo)
                order = np.argsort(key[row, lo:hi], kind="stable")
                key[row, lo:hi], idx[row, lo:hi] = key[row, lo:hi][order], idx[row, lo:hi][order]
            break
        depth -= 1
        cut = _partition_pivot(key, idx, r, f, last)
        r, f, last = np.concatenate((r, r)), np.concatenate((f, cut)), np.concatenate((cut, last))
    # the final insertion sort: every element already lies in its block of at most 16, each block's keys at or
    # above the blocks before it (partitions, heap-sorted stretches), so it is the stable sort of the row
    k = key[:, :m]
    order = np.argsort(k, axis=1, kind="stable")
    key[:, :m] = np.take_along_axis(k, order, axis=1)
    idx[:, :m] = np.take_along_axis(idx[:, :m], order, axis=1)


def last_of(key, idx, focus):
    """std::sort(row) on every row followed only where the last element of key `focus` (per row) ends up: the
    idx that std::sort leaves last among that row's elements of that key. A partition's right part keeps it if
    it holds any; the final insertion sort leaves equal keys in the order they are in."""
    rows, m = key.shape
    r = np.arange(rows)
    f = np.zeros(rows, dtype=np.int64)
    last = np.full(rows, m, dtype=np.int64)
    depth = 2 * _lg(m)
    tick = _Steps(rows * m)
    while True:
        act = np.nonzero(last - f > 16)[0]
        if not act.size:
            break
        tick(int((last[act] - f[act]).sum()), level=True)
        if depth == 0:  # the stretch heap-sorted as sort() does
            h = act[last[act] - f[act] <= HEAP_SORT_MAX]
            tick.ahead(heap_steps(int((last[h] - f[h]).max(initial=0))))
            heap_select(key, idx, h, f[h], last[h], last[h], tick)
            sort_heap(key, idx, h, f[h], last[h], tick)
            break
        depth -= 1
        cut = _partition_pivot(key, idx, act, f[act], last[act])
        seg, p = _ranges(cut, last[act])
        has = np.bincount(seg[key[act[seg], p] == focus[act[seg]]], minlength=act.size) > 0
        f[act] = np.where(has, cut, f[act])
        last[act] = np.where(has, last[act], cut)
    seg, p = _ranges(f, last)
    hit = key[seg, p] == focus[seg]
    at = np.zeros(rows, dtype=np.int64)
    np.maximum.at(at, seg[hit], p[hit])  # the segments are at most 16 long here (or a heap-sorted stretch)
    return idx[r, at]


# ----- libstdc++'s heap: a move at a time, all heaps together -----


def _adjust_heap(key, idx, r, base, hole, length, vk, vi, tick):
    """std::__adjust_heap(first = base, holeIndex = hole, len = length, value = (vk, vi)) on every heap."""
    top = hole.copy()
    second = hole.copy()
    a = np.nonzero(second < (length - 1) // 2)[0]
    while a.size:
        tick(a.size)
        s = 2 * (second[a] + 1)
        ra, ba = r[a], base[a]
        s -= key[ra, ba + s] < key[ra, ba + s - 1]
        key[ra, ba + hole[a]] = key[ra, ba + s]
        idx[ra, ba + hole[a]] = idx[ra, ba + s]
        hole[a] = s
        second[a] = s
        a = a[s < (length[a] - 1) // 2]
    ev = np.nonzero(((length & 1) == 0) & (second == (length - 2) // 2))[0]
    if ev.size:
        s = 2 * (second[ev] + 1) - 1
        re, be = r[ev], base[ev]
        key[re, be + hole[ev]] = key[re, be + s]
        idx[re, be + hole[ev]] = idx[re, be + s]
        hole[ev] = s
    # std::__push_heap(first, hole, top, value)
    a = np.arange(r.size)
    while True:
        parent = (hole[a] - 1) // 2
        go = hole[a] > top[a]
        go[go] = key[r[a[go]], base[a[go]] + parent[go]] < vk[a[go]]
        a, parent = a[go], parent[go]
        if not a.size:
            break
        tick(a.size)
        ra, ba = r[a], base[a]
        key[ra, ba + hole[a]] = key[ra, ba + parent]
        idx[ra, ba + hole[a]] = idx[ra, ba + parent]
        hole[a] = parent
    key[r, base + hole] = vk
    idx[r, base + hole] = vi


def _pop_heap(key, idx, r, f, last, res, tick):
    """std::__pop_heap(first, last, result): result's value sifted in from the top, the top put at result."""
    vk, vi = key[r, res], idx[r, res]
    key[r, res] = key[r, f]
    idx[r, res] = idx[r, f]
    _adjust_heap(key, idx, r, f, np.zeros(r.size, dtype=np.int64), last - f, vk, vi, tick)


def make_heap(key, idx, r, f, last, tick):
    length = last - f
    p = (length - 2) // 2  # each heap's first parent; parents go down to 0
    for parent in range(int(p.max(initial=-1)), -1, -1):
        a = np.nonzero(p >= parent)[0]
        tick(a.size)
        h = np.full(a.size, parent, dtype=np.int64)
        _adjust_heap(key, idx, r[a], f[a], h, length[a], key[r[a], f[a] + parent], idx[r[a], f[a] + parent], tick)


def sort_heap(key, idx, r, f, last, tick):
    last = last.copy()
    while True:
        a = np.nonzero(last - f > 1)[0]
        if not a.size:
            break
        tick(a.size)
        last[a] -= 1
        _pop_heap(key, idx, r[a], f[a], last[a], last[a], tick)


def heap_select(key, idx, r, f, middle, last, tick, window=256, cap=None):
    """std::__heap_select(first, middle, last): make_heap of [first, middle), then each later element below the
    top replaces it (pop_heap). The elements that do not enter are passed over a window at a time; a step takes
    one entering element of every heap, so a heap that more than `cap` elements enter (a long sorted run of
    ties) is left unfinished: returns those heaps (a mask over r)."""
    make_heap(key, idx, r, f, middle, tick)
    pos = middle.copy()
    a = np.nonzero(pos < last)[0]
    if a.size:  # no wider than the longest rest of a row: a window's temporaries are rows x window (review13b F5:
        window = int(min(window, (last[a] - pos[a]).max()))  # 256 over rows of 64 held 1.3x the charge)
    steps = 0
    while a.size:
        if cap is not None and steps >= cap:
            break
        steps += 1
        tick(a.size * window)
        w = pos[a, None] + np.arange(window)
        inside = w < last[a, None]
        w = np.minimum(w, key.shape[1] - 1)
        below = inside & (key[r[a, None], w] < key[r[a], f[a]][:, None])
        hit = below.any(axis=1)
        first = np.argmax(below, axis=1)
        e = a[hit]
        at = pos[e] + first[hit]
        if e.size:
            _pop_heap(key, idx, r[e], f[e], middle[e], at, tick)
        pos[a] = np.where(hit, pos[a] + first + 1, pos[a] + window)
        a = a[pos[a] < last[a]]
    left = np.zeros(r.size, dtype=bool)
    left[a] = True
    return left


# the heap steps one entering element of every row at a time: past this many, a row's heap is not followed (it
# answers the stable order: the engine's answer before parity15, torch's wherever the order is unique)
HEAP_STEPS = 4096
# a heap-sorted stretch (introsort's depth limit) longer than this is sorted stably: exact where its keys are
# distinct (the only order), the stable order's where ties meet there
HEAP_SORT_MAX = 4096


def stable_rows(key, idx, rows):
    """The rows given back their input order (idx says where each element came from), then stably sorted."""
    if not rows.size:
        return
    k, i = key[rows], idx[rows]
    back = np.argsort(i, axis=1)
    k, i = np.take_along_axis(k, back, axis=1), np.take_along_axis(i, back, axis=1)
    order = np.argsort(k, axis=1, kind="stable")
    key[rows] = np.take_along_axis(k, order, axis=1)
    idx[rows] = np.take_along_axis(i, order, axis=1)


def _unique_smallest(key, idx, k):
    """The rows whose k smallest keys are distinct and below every other key have one sorted answer: those rows'
    first k positions set to it (all that topk reads); returns the other rows."""
    part = np.argpartition(key, k - 1, axis=1)[:, :k]
    pk = np.take_along_axis(key, part, axis=1)
    order = np.argsort(pk, axis=1, kind="stable")
    part, pk = np.take_along_axis(part, order, axis=1), np.take_along_axis(pk, order, axis=1)
    del order
    one = (pk[:, 1:] != pk[:, :-1]).all(axis=1)
    one &= (key <= pk[:, -1:]).sum(axis=1) == k
    if one.any():
        key[one, :k], idx[one, :k] = pk[one], np.take_along_axis(idx[one], part[one], axis=1)
    return np.nonzero(~one)[0]


def partial_sort(key, idx, k):
    """std::partial_sort(row, row + k, row + n) on every row: heap_select, then sort_heap of the first k. Rows of
    one possible answer (_unique_smallest) are not stepped through the heap."""
    rows, n = key.shape
    r = _unique_smallest(key, idx, k)
    if r.size:
        tick = _Steps(r.size * n)
        tick.ahead(heap_steps(k))  # make_heap and sort_heap of k, before any of it runs
        f = np.zeros(r.size, dtype=np.int64)
        middle = np.full(r.size, k, dtype=np.int64)
        left = heap_select(key, idx, r, f, middle, np.full(r.size, n, dtype=np.int64), tick, cap=HEAP_STEPS)
        sort_heap(key, idx, r, f, middle, tick)
        stable_rows(key, idx, r[left])


def _rows_of(fn, key, idx, r, *args):
    """fn on the rows r of key / idx only, written back."""
    sub_k, sub_i = key[r], idx[r]
    fn(sub_k, sub_i, *args)
    key[r], idx[r] = sub_k, sub_i


def topk(key, idx, k, sorted_):
    """aten's topk_impl_loop on every row (key: negated where largest): partial_sort where k * 64 <= n, else
    nth_element at k - 1 and, if sorted, std::sort of the first k - 1. Sorted, a row of one possible answer
    (_unique_smallest) is answered at once; unsorted, nth_element's order is the answer, ties or none."""
    n = key.shape[1]
    if k == 0:
        return
    if k * 64 <= n:
        partial_sort(key, idx, k)
        return
    if sorted_:
        r = _unique_smallest(key, idx, k)
        if r.size < key.shape[0]:
            if r.size:
                _rows_of(_nth_then_sort, key, idx, r, k)
            return
    nth_element(key, idx, k - 1)
    if sorted_:
        sort(key, idx, k - 1)


def _nth_then_sort(key, idx, k):
    nth_element(key, idx, k - 1)
    sort(key, idx, k - 1)


# ----- mode's rows of at most 16 with NaN -----


# Rows the insertion sort's steps work on at once (redteam12 F2: over every NaN row at once its temporaries were
# ~6 int64 an element past mode's charge): a block's steps hold at most ~80 bytes a value (16 a row), which
# sorting._mode_rule charges, at most INSERTION_BLOCK rows' worth.
INSERTION_BLOCK = 4096
INSERTION_BLOCK_BYTES = 80  # a value's share of a block's peak: the step's int64 sources, the where/take outputs
INSERTION_FLOPS = 10  # passes over a step's columns (its compare, where, maximum, take and where twice)


def insertion_sort_rows(rows, nan_rows, s, order) -> None:
    """insertion_sorted of the rows of `rows` (2-d, at most 16 columns) where `nan_rows`, into `s` (values) and
    `order` (positions), INSERTION_BLOCK rows at a time; their flops (INSERTION_FLOPS a value a step: n (n + 1) / 2
    columns over a row's n - 1 steps) charged to the request first, its deadline checked between steps."""
    n = rows.shape[1]
    b = _budget.current()
    if b is not None:
        b.charge(0, float(INSERTION_FLOPS) * int(np.count_nonzero(nan_rows)) * n * (n + 1) / 2,
                 "mode's insertion sort")
    for start in range(0, rows.shape[0], INSERTION_BLOCK):
        m = nan_rows[start:start + INSERTION_BLOCK]
        if m.any():
            sel = start + np.flatnonzero(m)
            s[sel], order[sel] = insertion_sorted(rows[sel])


def insertion_sorted(v):
    """Rows of at most 16 values sorted as libstdc++'s __insertion_sort with `a < b` orders them, NaN included
    (NaN is never less nor greater: where it stops an element's walk depends on the order met): (values, original
    positions). n - 1 whole-row steps (n <= 16, a constant bound)."""
    rows, n = v.shape
    v = v.copy()
    idx = np.broadcast_to(np.arange(n, dtype=np.int64), v.shape).copy()
    for i in range(1, n):
        _budget.check()
        val, vi = v[:, i].copy(), idx[:, i].copy()
        front = val < v[:, 0]  # to the front past everything (move_backward)
        lt = val[:, None] < v[:, :i]
        run = np.argmin(lt[:, ::-1], axis=1)  # the unguarded walk back: while val < the one before
        j = np.where(front, 0, i - run)
        p = np.arange(i + 1)
        src = np.maximum(np.where(p < j[:, None], p, p - 1), 0)
        put = p == j[:, None]
        v[:, :i + 1] = np.where(put, val[:, None], np.take_along_axis(v[:, :i + 1], src, axis=1))
        idx[:, :i + 1] = np.where(put, vi[:, None], np.take_along_axis(idx[:, :i + 1], src, axis=1))
    return v, idx
