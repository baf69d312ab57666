"""mode's rows of at most 16 values with NaN: libstdc++'s __insertion_sort with `a < b`, whole rows at a time, in
blocks of rows whose temporaries mode's rule charges (engine/ops/sorting_select.py's parts)."""
from __future__ import annotations

import numpy as np

from engine import budget as _budget

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
