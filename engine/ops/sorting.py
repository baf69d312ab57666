"""Sorting and selection: sort / argsort / msort, topk, kthvalue, median / nanmedian, mode, cummax / cummin
(quantile / nanquantile: engine/ops/sorting_quantile.py), with torch's orders (NaN sorts as the largest value;
sort's ties keep their input order, topk / kthvalue / mode's are those of aten's selection kernels:
engine/ops/sorting_select.py) and derivatives.yaml's formulas (the gradient goes back to the selected positions)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.errors import TorchIndexError, TorchNotImplementedError, TorchRuntimeError
from engine.ops import shape as S
from engine.ops import sorting_select as SEL
from engine.ops._returns import make
from engine.ops._util import wrap_dim
from engine.ops.reduction_extrema import _evenly_distribute_backward
from engine.ops.registry import defop, entry
from engine.ops.rules import Cost, log2ceil, numel, reduced_shape, sort_flops, wide
from engine.tensor import Tensor


def _t(a):
    return Tensor._make(a)


def _order(a, d, descending=False):
    """Stable argsort along d with NaN as the largest value (first when descending), in whole-array NumPy calls
    (no loop over rows: a [1, N] sorted along dim 0 is N rows of one). Descending is the ascending stable order of
    the input reversed along d, mapped back and reversed: ties keep their input order, and no value is negated
    (uint8's 200 and int8's -128 sort as themselves)."""
    x = np.asarray(B.to_numpy(a))
    if x.size == 0:
        return np.zeros(x.shape, dtype=np.int64)
    if not descending:
        return np.argsort(x, axis=d, kind="stable")
    out = np.argsort(np.flip(x, d), axis=d, kind="stable")
    np.subtract(x.shape[d] - 1, out, out=out)
    return np.flip(out, d)


def _scatter_back(grad, dim, indices, self_shape, keepdim):
    """value_selecting_reduction_backward: zeros of the input's shape with grad scattered at indices."""
    n = len(self_shape)
    if n == 0:
        return grad
    d = wrap_dim(dim, n)
    idx = indices._data if isinstance(indices, Tensor) else indices
    g = grad
    if not keepdim:
        idx = np.expand_dims(idx, d)
        g = S.unsqueeze(g, d)
    from engine.ops.scatter import scatter_src  # noqa: PLC0415

    zeros = _t(B.xp.zeros(tuple(self_shape), dtype=grad._data.dtype))
    return scatter_src(zeros, d, _t(B.xp.asarray(idx)), g)


def _select_backward(grad, dim, result1, self_shape, keepdim=True):
    return _scatter_back(grad[0], dim, result1, self_shape, keepdim)


def _dim_length(shape, dim) -> int:
    return int(shape[wrap_dim(dim, len(shape))]) if len(shape) else 1


def _sort_cost(self, dim=-1):
    """Elements are counted at the input's width (rules.wide): the int64 order, a temporary of it and the int64
    indices output's other half are charged at int64's."""
    n = numel(self.shape)
    return Cost((tuple(self.shape), tuple(self.shape)), sort_flops(n, _dim_length(self.shape, dim)), wide(3 * n, self))


# ----- sort, argsort, msort -----


def _sort(a, stable=None, dim=-1, descending=False):
    if a.ndim == 0:
        wrap_dim(dim, 0)
        return a.copy(), B.xp.zeros((), dtype=np.int64)
    d = wrap_dim(dim, a.ndim)
    if a.size == 0:  # take_along_axis would index with aranges of the long dim
        return a.copy(), B.xp.zeros(a.shape, dtype=np.int64)
    idx = B.xp.asarray(_order(a, d, descending))
    return np.take_along_axis(a, idx, axis=d), idx


def _sort_backward(grad, dim, result1, self_shape):
    return _scatter_back(grad[0], dim, result1, self_shape, True)


sort_op = defop("sort(Tensor self, int dim=-1, bool descending=False) -> (Tensor values, Tensor indices)",
                lambda a, dim=-1, descending=False: _sort(a, None, dim, descending), nout=2, index=0,
                self=_sort_backward, rule=_sort_cost)
sort_stable = defop(
    "sort.stable(Tensor self, *, bool? stable, int dim=-1, bool descending=False) -> (Tensor values, Tensor indices)",
    _sort, nout=2, index=1, self=_sort_backward, rule=_sort_cost)


def sort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool | None = None) -> tuple:
    out = sort_op(input, dim, descending) if stable is None else sort_stable(input, stable, dim, descending)
    return make("sort", ("values", "indices"), out)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    a = input._data
    if a.ndim == 0:
        wrap_dim(dim, 0)
        return _t(B.xp.zeros((), dtype=np.int64))
    d = wrap_dim(dim, a.ndim)
    bud = _budget.current()
    if bud is not None:  # sort's charge (_sort_cost: its flops, the int64 order, its temporary); a plain function
        n = a.size  # (no defop), it had been charged nothing: 10**7 of them grew a worker past max_request_bytes
        bud.charge(24 * n, sort_flops(n, a.shape[d]), "argsort", n)  # (redteam14 F6)
    out = _t(B.xp.asarray(_order(a, d, descending)))
    if bud is not None:
        arr = out._data
        bud.track(arr if arr.base is None else arr.base)  # (descending: a reversed view of its order)
    return out


def msort(input: Tensor) -> Tensor:
    return sort_op(input, 0, False)[0]


# ----- topk, kthvalue -----


def _topk(a, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    size = a.shape[wrap_dim(dim, a.ndim)] if a.ndim else 1
    if not 0 <= k <= size:
        raise TorchRuntimeError("selected index k out of range")
    if a.dtype == np.bool_:  # topk's CPU check, before its 0-d shortcut and whatever k is
        raise TorchRuntimeError("topk does not support bool dtypes on CPU")
    if a.ndim == 0:
        return a.copy(), B.xp.zeros((), dtype=np.int64)
    d = wrap_dim(dim, a.ndim)
    if a.size == 0:  # every answer is empty (k <= the dim's size); no arange(k), no take_along_axis
        shape = list(a.shape)
        shape[d] = k
        return B.xp.empty(tuple(shape), dtype=a.dtype), B.xp.zeros(tuple(shape), dtype=np.int64)
    if a.shape[d] <= _STABLE_TOPK:  # nth_element of at most 3: its insertion sort alone, the stable order
        idx = B.xp.asarray(np.take(_order(a, d, descending=largest), np.arange(k), axis=d))
        return np.take_along_axis(a, idx, axis=d), idx
    # aten's topk_impl_loop on every row at once (engine/ops/sorting_select.py): libstdc++'s nth_element and sort,
    # or partial_sort where k * 64 <= n, so that tied values (and sorted=False's order) are torch's
    x = np.moveaxis(np.asarray(B.to_numpy(a)), d, -1)
    rows = x.reshape(-1, x.shape[-1])
    key = SEL.keys(rows, negate=largest)
    idx = np.broadcast_to(np.arange(rows.shape[-1], dtype=np.int64), rows.shape).copy()
    SEL.topk(key, idx, k, sorted)
    del key
    idx = np.ascontiguousarray(idx[:, :k])
    vals = np.take_along_axis(rows, idx, axis=-1).reshape(x.shape[:-1] + (k,))
    idx = idx.reshape(x.shape[:-1] + (k,))
    return B.xp.asarray(np.moveaxis(vals, -1, d)), B.xp.asarray(np.moveaxis(idx, -1, d))


def _topk_flops(n, length, k):
    """The selection (n log2 n, a sort's worth where k passes an eighth of the row) and the sort of the k results
    of each row (sort_flops): before, n log2 n alone, 19x under at k = n - 1 of 10^6 (redteam16 F3)."""
    k = max(min(int(k), length), 0)
    rows = n // length if length else 0
    return n * log2ceil(n) + (sort_flops(n, length) if 8 * k > length else 0) + sort_flops(rows * k, k)


def _topk_rule(self, k, dim):
    shape = list(self.shape)
    if shape:
        shape[wrap_dim(dim, len(shape))] = int(k)
    n = numel(self.shape)
    length = int(self.shape[wrap_dim(dim, len(shape))]) if shape else 1
    flops = _topk_flops(n, length, k)
    if not shape or length <= _STABLE_TOPK:  # the stable order's
        return Cost((tuple(shape), tuple(shape)), flops, wide(3 * n, self))
    # the selection's keys, positions and a partition level's flat arrays, as kthvalue's (_select_rule)
    return Cost((tuple(shape), tuple(shape)), flops, wide(8 * n, self) + 2 * n)


_STABLE_TOPK = 3


topk_op = defop("topk(Tensor self, SymInt k, int dim=-1, bool largest=True, bool sorted=True) -> (Tensor values, "
                "Tensor indices)", _topk, nout=2,
                self=lambda grad, dim, result1, self_shape: _scatter_back(grad[0], dim, result1, self_shape, True),
                rule=_topk_rule)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> tuple:  # noqa: A002
    return make("topk", ("values", "indices"), topk_op(input, int(k), dim, largest, sorted))


def _kthvalue(a, k, dim=-1, keepdim=False):
    d = wrap_dim(dim, a.ndim)
    size = a.shape[d] if a.ndim else 1
    if a.ndim and size == 0:
        raise TorchIndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if not 1 <= k <= size:
        raise TorchRuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if a.ndim == 0:
        return a.copy(), B.xp.zeros((), dtype=np.int64)
    if a.dtype == np.bool_:  # AT_DISPATCH_ALL_TYPES after the 0-d shortcut, empty or not
        raise TorchNotImplementedError("\"kthvalue_cpu\" not implemented for 'Bool'")
    if a.size == 0:  # another dim is zero: an empty answer, no index grids of the long dims
        shape = reduced_shape(tuple(a.shape), d, bool(keepdim))
        return B.xp.empty(shape, dtype=a.dtype), B.xp.zeros(shape, dtype=np.int64)
    if size <= 2:  # quickselect of at most 2: ordered if out of order, the stable order
        idx = np.take(_order(a, d), [k - 1], axis=d)
        vals = np.take_along_axis(a, B.xp.asarray(idx), axis=d)
        if not keepdim:
            vals, idx = np.squeeze(vals, d), np.squeeze(idx, d)
        return B.xp.asarray(vals), B.xp.asarray(idx)
    # aten's quickselect on every row at once (engine/ops/sorting_select.py): tied values answer torch's index
    x = np.moveaxis(np.asarray(B.to_numpy(a)), d, -1)
    rows = x.reshape(-1, x.shape[-1])
    key = SEL.keys(rows)
    idx = np.broadcast_to(np.arange(rows.shape[-1], dtype=np.int64), rows.shape).copy()
    SEL.quickselect(key, idx, k - 1)
    del key
    idx = np.ascontiguousarray(idx[:, k - 1])
    vals = np.take_along_axis(rows, idx[:, None], axis=-1)[:, 0].reshape(x.shape[:-1])
    idx = idx.reshape(x.shape[:-1])
    if keepdim:
        vals, idx = np.expand_dims(vals, d), np.expand_dims(idx, d)
    return B.xp.asarray(vals), B.xp.asarray(idx)


def _reduce_dim_rule(self, dim, keepdim):
    """The int64 order, the NaN mask and up to three int64 arrays a row (counts, picks, the indices output's
    other half: a [1, N] along dim 0 is N rows), at int64's width (rules.wide); the sort of the dim's rows."""
    out = reduced_shape(tuple(self.shape), dim, bool(keepdim))
    n = numel(self.shape)
    return Cost((out, out), sort_flops(n, _dim_length(self.shape, dim)), wide(4 * n, self) + n)


def _select_rule(self, dim, keepdim):
    """The selection's keys (the values, or int64 ranks behind np.unique's temporaries) and positions, and a
    partition level's flat (segment, position, key) arrays and stop mask (engine/ops/sorting_select.py), at
    int64's width (rules.wide); rows of at most 2: the stable order's (_reduce_dim_rule)."""
    c = _reduce_dim_rule(self, dim, keepdim)
    n = numel(self.shape)
    c = c._replace(flops=n * log2ceil(n))  # no sort: np.argpartition, and the tied rows' levels (charged as they run)
    if not self.shape or int(self.shape[wrap_dim(dim, len(self.shape))]) <= 2:
        return c
    return c._replace(temp=wide(8 * n, self) + 2 * n)


kthvalue_op = defop("kthvalue(Tensor self, SymInt k, int dim=-1, bool keepdim=False) -> (Tensor values, Tensor "
                    "indices)", _kthvalue, nout=2, self=_select_backward, rule=_select_rule)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> tuple:
    return make("kthvalue", ("values", "indices"), kthvalue_op(input, int(k), dim, keepdim))


# ----- median, nanmedian -----


def _median_all(ignore_nan):
    def f(a):
        flat = np.asarray(B.to_numpy(a)).reshape(-1)
        if flat.size == 0:
            return B.xp.asarray(np.array(np.nan, dtype=a.dtype))
        if flat.dtype == np.bool_:  # (after the empty answer: NaN as a bool, True)
            raise TorchNotImplementedError("\"median_cpu\" not implemented for 'Bool'")
        nans = np.isnan(flat) if flat.dtype.kind == "f" else np.zeros(flat.shape, dtype=bool)
        if not ignore_nan and nans.any():
            return B.xp.asarray(np.array(np.nan, dtype=a.dtype))
        k = int((flat.size - int(nans.sum()) - 1) / 2)  # C++ division (truncates): all-NaN picks 0
        return B.xp.asarray(np.sort(flat, kind="stable")[k])

    return f


def _median_dim(name, ignore_nan):
    def f(a, dim, keepdim=False):
        d = wrap_dim(dim, a.ndim)
        if a.ndim and a.shape[d] == 0:  # (nanmedian's message names median too)
            raise TorchIndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
        if a.dtype == np.bool_:  # median_with_indices_impl's dispatch, 0-d and empty included
            raise TorchNotImplementedError("\"median_out\" not implemented for 'Bool'")
        if a.ndim == 0:
            return a.copy(), B.xp.zeros((), dtype=np.int64)
        x = np.moveaxis(np.asarray(B.to_numpy(a)), d, -1)
        rows = x.reshape(-1, x.shape[-1])
        # every row at once (no loop over rows: a [1, N] along dim 0 is N rows of one): the row's first NaN where
        # NaN propagates, else the stable order's element (size - NaNs - 1) / 2, as C++ divides (all NaN: 0)
        nans = np.isnan(rows) if rows.dtype.kind == "f" else None
        k = nans.sum(axis=-1) if nans is not None else np.zeros(rows.shape[0], dtype=np.int64)
        has = k > 0 if nans is not None and not ignore_nan else None
        np.subtract(rows.shape[-1] - 1, k, out=k)
        np.maximum(k, 0, out=k)
        np.floor_divide(k, 2, out=k)
        order = np.argsort(rows, axis=-1, kind="stable")
        idxs = np.take_along_axis(order, k[:, None], axis=-1)[:, 0]
        del order, k
        if has is not None and has.any():
            idxs[has] = np.argmax(nans[has], axis=-1)
        vals = np.take_along_axis(rows, idxs[:, None], axis=-1)[:, 0]
        shape = x.shape[:-1]
        vals, idxs = vals.reshape(shape), idxs.reshape(shape)
        if keepdim:
            vals, idxs = np.expand_dims(vals, d), np.expand_dims(idxs, d)
        return B.xp.asarray(vals), B.xp.asarray(idxs)

    return f


def _all_rule(self):
    n = numel(self.shape)
    return Cost((), sort_flops(n, n), n)


median_op = defop("median(Tensor self) -> Tensor", _median_all(False), index=0,
                  self=_evenly_distribute_backward, rule=_all_rule)
median_dim = defop("median.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)",
                   _median_dim("median", False), nout=2, index=1,
                   self=lambda grad, dim, result1, self_shape, keepdim: _scatter_back(
                       grad[0], dim, result1, self_shape, keepdim), rule=_reduce_dim_rule)
nanmedian_op = defop("nanmedian(Tensor self) -> Tensor", _median_all(True), index=0,
                     self=_evenly_distribute_backward, rule=_all_rule)
nanmedian_dim = defop("nanmedian.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)",
                      _median_dim("nanmedian", True), nout=2, index=1,
                      self=lambda grad, dim, result1, self_shape, keepdim: _scatter_back(
                          grad[0], dim, result1, self_shape, keepdim), rule=_reduce_dim_rule)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    if dim is None:
        return median_op(input)
    return make("median", ("values", "indices"), median_dim(input, dim, keepdim))


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):
    if dim is None:
        return nanmedian_op(input)
    return make("nanmedian", ("values", "indices"), nanmedian_dim(input, dim, keepdim))


# ----- mode -----


def _mode(a, dim=-1, keepdim=False):
    d = wrap_dim(dim, a.ndim)
    if a.ndim and a.shape[d] == 0:
        raise TorchIndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    if a.ndim == 0:
        return a.copy(), B.xp.zeros((), dtype=np.int64)
    x = np.moveaxis(np.asarray(B.to_numpy(a)), d, -1)
    rows = x.reshape(-1, x.shape[-1])
    # every row at once, no loop over rows or elements (a 4M-element row had stepped in Python for a minute): each
    # row sorted by (value, index) as aten sorts pairs; a run of equal values starts where a value differs from
    # the one before (every NaN its own run, as NaN != NaN); the first longest run (strictly longer wins: the
    # smallest value on a tie) answers its last element and that element's index
    n = rows.shape[-1]
    if rows.size == 0:  # no row (another dim is zero): no positions of the long dim are made
        shape = reduced_shape(tuple(a.shape), d, bool(keepdim))
        return B.xp.empty(shape, dtype=a.dtype), B.xp.zeros(shape, dtype=np.int64)
    order = np.argsort(rows, axis=-1, kind="stable")
    s = np.take_along_axis(rows, order, axis=-1)
    nan_rows = np.isnan(rows).any(-1) if rows.dtype.kind in "fc" else np.zeros(rows.shape[0], dtype=bool)
    if n <= _INSERTION and nan_rows.any():  # NaN breaks the stable order: the insertion sort's steps
        SEL.insertion_sort_rows(rows, nan_rows, s, order)  # a block of rows at a time, its flops charged
    pos = np.arange(n, dtype=np.int64)
    edge = np.empty(s.shape, dtype=bool)  # a run starts here
    edge[:, 0] = True
    np.not_equal(s[:, 1:], s[:, :-1], out=edge[:, 1:])
    at = np.where(edge, pos, 0)
    del edge
    np.maximum.accumulate(at, axis=-1, out=at)  # where each element's run starts
    np.subtract(pos, at, out=at)  # its place in its run: largest at the last element of the longest runs
    best = np.argmax(at, axis=-1)[:, None]  # the first of those: the smallest value of the longest
    tied = np.take_along_axis(at, best, axis=-1)[:, 0] > 0  # a run of two or more: which index ends it?
    del at
    vals = np.take_along_axis(s, best, axis=-1)[:, 0]
    idxs = np.take_along_axis(order, best, axis=-1)[:, 0]
    del s, order
    if n > _INSERTION:
        # introsort's partitions order the run (engine/ops/sorting_select.py last_of: only the part of each row
        # where the run's last element ends up is followed); rows with NaN keep the stable order (NaN is no
        # strict weak order: libstdc++'s unguarded insertion sort is not followed)
        go = np.nonzero(tied & ~nan_rows)[0]
        if go.size:
            del pos
            key = SEL.keys(rows[go])
            focus = np.take_along_axis(key, idxs[go][:, None], axis=-1)[:, 0]
            idxs[go] = SEL.last_of(key, np.broadcast_to(np.arange(n, dtype=np.int64), key.shape).copy(), focus)
            del key
            # the value of the same element (aten's elements[i].first): -0.0 and 0.0 tie, so the run's last
            # element may hold the other zero than the stable order's (review13b F1)
            vals[go] = np.take_along_axis(rows[go], idxs[go][:, None], axis=-1)[:, 0]
    shape = x.shape[:-1]
    vals, idxs = vals.reshape(shape), idxs.reshape(shape)
    if keepdim:
        vals, idxs = np.expand_dims(vals, d), np.expand_dims(idxs, d)
    return B.xp.asarray(vals), B.xp.asarray(idxs)


# aten's CPU mode sorts each row's (value, index) pairs with std::sort by value; libstdc++'s sort of at most 16
# elements is its insertion sort alone (stable where no NaN is: NumPy's stable sort answers the same), longer
# rows go through introsort's partitions first (sorting_select.last_of)
_INSERTION = 16


def _mode_rule(self, dim, keepdim):
    """The order, the positions and the run places (int64), the sorted values and the run edges (bool) at once,
    and the int64 picks a row, at int64's width (rules.wide)."""
    c = _reduce_dim_rule(self, dim, keepdim)
    n = numel(self.shape)
    # (rows over 16: the stable order's arrays are freed before last_of's keys, positions and a partition
    # level's flat arrays, engine/ops/sorting_select.py: measured 5.9 int64 an element at most)
    flops = c.flops + MODE_ELEMENT * n  # its runs' passes (edges, their starts, places, picks) beside the sort
    temp = wide((6 if self.shape and self.shape[dim] > _INSERTION else 5) * n, self) + 2 * n
    if self.dtype.kind in "fc" and (not self.shape or self.shape[dim] <= _INSERTION):  # a block of NaN rows' steps
        temp += wide(SEL.INSERTION_BLOCK_BYTES // 8 * min(n, SEL.INSERTION_BLOCK * _INSERTION), self)
    return c._replace(flops=flops, temp=temp)


# mode's passes over its sorted rows, in flops an element: 35 ns an element of [250000, 4] int64 (docs/runs/safeP.md)
MODE_ELEMENT = 20

mode_op = defop("mode(Tensor self, int dim=-1, bool keepdim=False) -> (Tensor values, Tensor indices)", _mode, nout=2,
                self=lambda grad, dim, result1, self_shape, keepdim: _scatter_back(
                    grad[0], dim, result1, self_shape, keepdim), rule=_mode_rule)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> tuple:
    return make("mode", ("values", "indices"), mode_op(input, dim, keepdim))


# ----- cummax, cummin -----


def _cum_extreme(is_max):
    def f(a, dim):
        d = wrap_dim(dim, a.ndim)
        if a.ndim == 0:
            return a.copy(), B.xp.zeros((), dtype=np.int64)
        x = np.moveaxis(np.asarray(B.to_numpy(a)), d, 0)
        if x.size == 0:  # no step has an element (redteam9 F3: [0, N] looped N times on the event loop)
            return B.xp.asarray(np.empty(a.shape, dtype=a.dtype)), B.xp.asarray(np.empty(a.shape, dtype=np.int64))
        # no loop over the dim (redteam9 F3: [1, N] stepped N times): step i takes x[i] where it is NaN, or where
        # the running extreme before it is not NaN and x[i] >= it (<= for cummin), as torch's kernel; the index
        # is the last step that took, the value the element there
        run = (np.maximum if is_max else np.minimum).accumulate(x, axis=0)  # NaN propagates, as the kernel's
        take = np.empty(x.shape, dtype=bool)
        take[0] = True
        prev, xs = run[:-1], x[1:]
        np.greater_equal(xs, prev, out=take[1:]) if is_max else np.less_equal(xs, prev, out=take[1:])
        if x.dtype.kind == "f":
            nan = np.isnan(prev)
            np.logical_not(nan, out=nan)
            take[1:] &= nan
            np.isnan(xs, out=nan)
            take[1:] |= nan
            del nan
        del run, prev
        steps = np.arange(x.shape[0], dtype=np.int64).reshape((-1,) + (1,) * (x.ndim - 1))
        idxs = np.where(take, steps, 0)
        del take
        np.maximum.accumulate(idxs, axis=0, out=idxs)
        vals = np.take_along_axis(x, idxs, axis=0)
        return B.xp.asarray(np.moveaxis(vals, 0, d)), B.xp.asarray(np.moveaxis(idxs, 0, d))

    return f


def _cummaxmin_backward(grad, self, result1, dim):
    if self.numel() == 0:
        return self
    from engine.ops.indexing import scatter_add_op  # noqa: PLC0415

    zeros = _t(B.xp.zeros(tuple(self.shape), dtype=grad[0]._data.dtype))
    return scatter_add_op(zeros, dim, result1, grad[0])


def _cum_rule(self, dim):
    """No loop over the dim (_cum_extreme): the running extreme (input-sized) and two masks beside the outputs,
    then the dim's and the other dims' index ranges (int64)."""
    n = numel(self.shape)
    length = int(self.shape[dim % len(self.shape)]) if len(self.shape) else 1
    # (none for a zero-element input: it returns at once, whatever its dims' lengths)
    temp = n + wide(2 * n, self, itemsize=1) + wide(length + n // max(length, 1), self) if n else 0
    return Cost((tuple(self.shape), tuple(self.shape)), 6 * n, temp)


cummax_op = defop("cummax(Tensor self, int dim) -> (Tensor values, Tensor indices)", _cum_extreme(True), nout=2,
                  self=_cummaxmin_backward, rule=_cum_rule)
cummin_op = defop("cummin(Tensor self, int dim) -> (Tensor values, Tensor indices)", _cum_extreme(False), nout=2,
                  self=_cummaxmin_backward, rule=_cum_rule)


def cummax(input: Tensor, dim: int) -> tuple:
    return make("cummax", ("values", "indices"), cummax_op(input, dim))


def cummin(input: Tensor, dim: int) -> tuple:
    return make("cummin", ("values", "indices"), cummin_op(input, dim))


CATALOG = [
    entry("sort", sort, "Sorted values and their indices along dim (stable; NaN last).", sort_op, sort_stable),
    entry("argsort", argsort, "The indices that sort input along dim.", method=True),
    entry("msort", msort, "Sort along dim 0 (values only).", sort_op),
    entry("topk", topk, "The k largest (or smallest) values along dim and their indices.", topk_op),
    entry("kthvalue", kthvalue, "The k-th smallest value along dim and its index.", kthvalue_op),
    entry("median", median, "The median (lower of the two middle values), over all or along dim with its index.",
          median_op, median_dim),
    entry("nanmedian", nanmedian, "median ignoring NaN.", nanmedian_op, nanmedian_dim),
    entry("mode", mode, "The most frequent value along dim (the smallest of ties) and its last index.", mode_op),
    entry("cummax", cummax, "Running maximum along dim and its index.", cummax_op),
    entry("cummin", cummin, "Running minimum along dim and its index.", cummin_op),
]
