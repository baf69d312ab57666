"""Membership and sorted search: isin, bucketize, searchsorted. Their outputs have the shape of the elements /
values searched (known from shapes: the rules state them exactly); no derivative. searchsorted and bucketize
run torch's binary search itself (`!(mid >= value)` goes right), vectorized over the values, so NaNs land
where torch puts them (a NaN value past every boundary); the search takes log2(len(boundaries)) + 1 rounds,
each one checked against the deadline."""
from __future__ import annotations

import numpy as np

from engine import budget
from engine import dtypes as D
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchTypeError
from engine.ops._util import list_str
from engine.ops.registry import entry, nondiff
from engine.ops.rules import Cost, log2ceil, numel, shape_of, wide
from engine.tensor import Tensor


def _arr(x):
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _as_tensor(x, like=None):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, bool) or not isinstance(x, int | float | np.integer | np.floating):
        raise TorchTypeError(f"expected a Tensor or a number, got {type(x).__name__}")
    return Tensor._make(np.asarray(x, dtype=D.result_type(x).np))


# ----- isin -----


def _isin(elements, test_elements, assume_unique=False, invert=False):
    for a in (elements, test_elements):
        if a.dtype.kind == "b":
            raise TorchRuntimeError("Unsupported input type encountered for isin(): Bool")
    common = np.result_type(elements.dtype, test_elements.dtype)
    r = np.isin(elements.astype(common, copy=False), test_elements.astype(common, copy=False).reshape(-1),
                invert=bool(invert))
    return np.asarray(r, dtype=bool).reshape(elements.shape)


def _isin_rule(elements, test_elements, assume_unique, invert):
    n, m = numel(elements.shape), numel(test_elements.shape)
    # np.isin sorts both together: the concatenation, its order, the sorted copy, the flags and their reorder
    # (5 at 8-byte dtypes: measured at int64 over a wide range, docs/runs/fixrev.md B4; 3 covers the narrower)
    k = 5 if max(elements.dtype.itemsize, test_elements.dtype.itemsize) >= 8 else 3
    return Cost(tuple(elements.shape), (n + m) * log2ceil(n + m), wide(k * (n + m), elements, test_elements))


isin_op = nondiff("isin.Tensor_Tensor(Tensor elements, Tensor test_elements, *, bool assume_unique=False, "
                  "bool invert=False) -> Tensor", _isin, rule=_isin_rule)


def isin(elements: Tensor | float, test_elements: Tensor | float, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    """Whether each element of `elements` is in `test_elements` (compared in their promoted dtype); bool."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TorchTypeError("isin() received an invalid combination of arguments - got (two numbers): one of "
                             "elements and test_elements must be a Tensor")
    e = _as_tensor(elements)
    t = _as_tensor(test_elements)
    return isin_op(e, t, assume_unique=assume_unique, invert=invert)


# ----- searchsorted / bucketize -----


def _search(bd, vals, right, out_int32, sorter=None):
    """torch's cus_lower_bound / cus_upper_bound for every value at once: bd (..., M), vals (..., K) with the
    same leading dims (or bd 1-d)."""
    if sorter is not None:
        bd = np.take_along_axis(bd, sorter, axis=-1)
    m = bd.shape[-1]
    common = np.result_type(bd.dtype, vals.dtype)
    if common == np.bool_:  # torch's kernel dispatches on the common dtype, which has no bool case
        raise TorchNotImplementedError("\"searchsorted_out_cpu\" not implemented for 'Bool'")
    bd = bd.astype(common, copy=False)
    v = vals.astype(common, copy=False)
    if bd.ndim == 1:
        flat_v = v.reshape(1, v.size)
        rows = bd.reshape(1, m)
    else:  # (explicit sizes: -1 cannot be inferred beside a 0-length dim)
        flat_v = v.reshape(numel(v.shape[:-1]), v.shape[-1])
        rows = bd.reshape(numel(bd.shape[:-1]), m)
    start = np.zeros(flat_v.shape, dtype=np.int64)
    end = np.full(flat_v.shape, m, dtype=np.int64)
    if m:
        with np.errstate(invalid="ignore"):
            while True:
                active = start < end
                if not active.any():
                    break
                budget.check()
                mid = start + ((end - start) >> 1)
                at = np.minimum(mid, m - 1)
                mv = rows[0][at] if rows.shape[0] == 1 else np.take_along_axis(rows, at, axis=-1)
                right_of = ~(mv > flat_v) if right else ~(mv >= flat_v)
                start = np.where(active & right_of, mid + 1, start)
                end = np.where(active & ~right_of, mid, end)
    return start.reshape(vals.shape).astype(np.int32 if out_int32 else np.int64, copy=False)


def _side(side, right):
    if side is not None:
        if side not in ("left", "right"):
            raise TorchRuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise TorchRuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of "
                                    "left while right was True")
        return side == "right"
    return bool(right)


def _searchsorted(sorted_sequence, input, out_int32=False, right=False, side=None, sorter=None):  # noqa: A002
    bd = sorted_sequence
    if bd.ndim == 0:
        raise TorchRuntimeError("torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 "
                                "dimension")
    if bd.ndim != 1 and (input.ndim != bd.ndim or input.shape[:-1] != bd.shape[:-1]):
        raise TorchRuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                                "dimensions of boundaries tensor and input value tensor must match, but we got "
                                f"boundaries tensor {list_str(bd.shape)} and input value tensor "
                                f"{list_str(input.shape)}")
    if sorter is not None:
        if sorter.dtype != np.int64:
            raise TorchRuntimeError("torch.searchsorted(): sorter must be a tensor of long dtype but got dtype "
                                    f"{D.scalar_type_name(sorter.dtype)}")
        if sorter.shape != bd.shape:
            raise TorchRuntimeError("torch.searchsorted(): boundary and sorter must have the same size, but got "
                                    f"boundary tensor {list_str(bd.shape)}and got sorter tensor "
                                    f"{list_str(sorter.shape)}")
        if sorter.size and (int(sorter.min()) < 0 or int(sorter.max()) >= bd.shape[-1]):
            raise TorchRuntimeError("torch.searchsorted(): sorter index out of range")
    return _search(bd, input, _side(side, right), out_int32, sorter)


def _search_rule(sorted_sequence, input, out_int32=False, right=False, side=None, sorter=None):  # noqa: A002
    n = numel(shape_of(input))
    m = max(shape_of(sorted_sequence)[-1:] or (1,))
    # start, end, mid, the values read and the masks of each round: about six index arrays of the values' size
    return Cost(shape_of(input), 6 * n * (log2ceil(m) + 1), wide(6 * n, sorted_sequence, input)
                + (numel(shape_of(sorted_sequence)) if sorter is not None else 0))


searchsorted_op = nondiff("searchsorted.Tensor(Tensor sorted_sequence, Tensor input, *, bool out_int32=False, "
                          "bool right=False, str? side=None, Tensor? sorter=None) -> Tensor", _searchsorted,
                          rule=_search_rule)


def searchsorted(sorted_sequence: Tensor, input: Tensor | float, *, out_int32: bool = False,  # noqa: A002
                 right: bool = False, side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """Indices where `input`'s values would be inserted into the innermost dim of `sorted_sequence` to keep it
    sorted (the first such place, or the last with right=True / side='right'); int64 (int32 with out_int32)."""
    return searchsorted_op(sorted_sequence, _as_tensor(input), out_int32=out_int32, right=right, side=side,
                           sorter=sorter)


def _bucketize(input, boundaries, out_int32=False, right=False):  # noqa: A002
    if boundaries.ndim != 1:
        raise TorchRuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return _search(boundaries, input, bool(right), out_int32)


bucketize_op = nondiff("bucketize.Tensor(Tensor self, Tensor boundaries, *, bool out_int32=False, bool right=False) "
                       "-> Tensor", _bucketize,
                       rule=lambda self, boundaries, out_int32, right: _search_rule(boundaries, self))


def bucketize(input: Tensor | float, boundaries: Tensor, *, out_int32: bool = False,  # noqa: A002
              right: bool = False) -> Tensor:
    """The bucket of each value of `input` among the 1-d sorted `boundaries` (searchsorted with the roles
    swapped); int64 (int32 with out_int32)."""
    return bucketize_op(_as_tensor(input), boundaries, out_int32=out_int32, right=right)


CATALOG = [
    entry("isin", isin, "Whether each element is among test_elements (promoted dtype; NaN is in nothing); bool.",
          method=False),
    entry("searchsorted", searchsorted, "Insertion indices of values into the innermost dim of a sorted tensor "
          "(left or right side, optional sorter); int64 or int32.", method=False),
    entry("bucketize", bucketize, "Bucket indices of values among 1-d sorted boundaries; int64 or int32.",
          method=False),
]
