"""Membership and sorted search: isin, bucketize, searchsorted. Their outputs have the shape of the elements /
values searched (known from shapes: the rules state them exactly); no derivative. searchsorted and bucketize
run torch's binary search itself (`!(mid >= value)` goes right), vectorized over the values, so NaNs land
where torch puts them (a NaN value past every boundary); the search takes log2(len(boundaries)) + 1 rounds,
each one checked against the deadline."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from engine import budget
from engine import dtypes as D
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchTypeError
from engine.ops._util import list_str
from engine.ops.registry import entry, nondiff
from engine.ops.rules import Cost, log2ceil, numel, shape_of, wide
from engine.ops.scalar_fit import converted, float32_of_int, scalar_arg
from engine.tensor import Tensor


class _Operand(NamedTuple):
    """An array's dtype and rank for D.result_type (a Python scalar is passed as itself: a wrapped number)."""

    dtype: D.dtype
    ndim: int


def _common(*xs) -> np.dtype:
    """torch's result_type over arrays (their rank counts: a 0-d tensor ranks below a dimensioned one) and Python
    numbers (wrapped numbers, below both), where NumPy's result_type would promote int64 with float32 to float64."""
    return D.result_type(*(_Operand(D.of_array(x), x.ndim) if isinstance(x, np.ndarray) else x for x in xs)).np


def _scalar_as(v, dt: np.dtype):
    """A Python number as torch makes it a wrapped 0-d tensor and casts that to `dt` (`.to`, unchecked): an int
    wraps into an integer dtype (300 into int8 is 44; 2**64 - 1, a uint64 Scalar, is -1) and rounds once into
    float32 (scalar_fit.float32_of_int), into float16 through a float; a double into float16 through a float."""
    scalar_arg(v)  # the parser's OverflowError past uint64 / below int64
    if type(v) is int and dt.kind in "iu":
        return np.asarray(converted(v, dt), dtype=dt)
    if type(v) is int and dt.kind == "f" and dt.itemsize <= 4:
        return np.asarray(float32_of_int(v), dtype=np.float32).astype(dt)
    return D.cast_array(np.asarray(v, dtype=np.float64 if isinstance(v, float) else None), dt, copy=False)


def _cast(x, dt: np.dtype):
    return D.cast_array(x, dt, copy=False) if isinstance(x, np.ndarray) else _scalar_as(x, dt)


def _scalar(x):
    """A Python number (bool, int, float; a NumPy scalar as its Python value) for a Scalar argument."""
    if not isinstance(x, bool | int | float | np.bool_ | np.integer | np.floating):
        raise TorchTypeError(f"expected a Tensor or a number, got {type(x).__name__}")
    x = x.item() if isinstance(x, np.generic) else x
    scalar_arg(x)  # the parser's OverflowError (past uint64, below int64), before any other check
    return x


# ----- isin -----


def _no_bool(*xs):
    for x in xs:
        if isinstance(x, bool) or getattr(getattr(x, "dtype", None), "kind", None) == "b":  # (np.bool_: 0-d)
            raise TorchRuntimeError("Unsupported input type encountered for isin(): Bool")


def _isin(elements, test_elements, assume_unique=False, invert=False):
    """isin_Tensor_Tensor_out: where test_elements has fewer than 10 * numel(elements) ** 0.145 elements, each
    element compared with each test element in torch's result_type of the two (isin_default_kernel_cpu);
    otherwise isin_sorting: (unless assume_unique) the sorted unique elements in their own dtype, concatenated
    with the unique test elements (so promoted by dtype alone: a 0-d or wrapped operand ranks as 1-d), stably
    sorted, and an element is in where the next one in that order equals it. Two elements that become equal
    in the promoted dtype (int64 2**24 and 2**24 + 1 beside float32), or repeated elements with assume_unique,
    so answer True for all but the last of them, as torch does."""
    _no_bool(elements, test_elements)
    shape = np.shape(elements)
    n = int(np.size(elements))
    if n == 0:
        return np.zeros(shape, dtype=bool)
    if np.size(test_elements) < int(10.0 * float(n) ** 0.145):
        dt = _common(elements, test_elements)
        r = np.isin(_cast(elements, dt), _cast(test_elements, dt).reshape(-1), invert=bool(invert))
        return np.asarray(r, dtype=bool).reshape(shape)
    t = test_elements.reshape(-1)
    e = elements if isinstance(elements, np.ndarray) else _wrapped(elements, t.dtype)
    if assume_unique:
        u, inverse = e.reshape(-1), None
    else:
        u, inverse = np.unique(e, return_inverse=True)  # (torch's CPU _unique sorts, sorted=False or not)
    dt = D.promote_types(D.of_array(u), D.of_array(t)).np
    both = np.concatenate([D.cast_array(u, dt, copy=False), D.cast_array(t, dt, copy=False)])
    order = np.argsort(both, kind="stable")
    s = both[order]
    with np.errstate(invalid="ignore"):
        dup = np.append(s[1:] != s[:-1] if invert else s[1:] == s[:-1], bool(invert))
    mask = np.empty(dup.shape, dtype=bool)
    mask[order] = dup
    mask = mask[:u.size]
    return (mask if inverse is None else mask[inverse.reshape(-1)]).reshape(shape)


def _wrapped(v, other: np.dtype) -> np.ndarray:
    """A Python number as torch's wrapped_scalar_tensor holds it: int64, double (bool: isin has refused it), or
    past int64 a uint64, which promotes with no integer dtype (torch's error) and into a float dtype as its cast."""
    if type(v) is int and v >= 1 << 63:
        if other.kind in "iu":
            raise TorchRuntimeError("Promotion for uint16, uint32, uint64 types is not supported, attempted to "
                                    f"promote UInt64 and {D.scalar_type_name(other)}")
        return _scalar_as(v, other)
    return np.asarray(v, dtype=np.float64 if isinstance(v, float) else np.int64)


def _isin_scalar(elements, test_element, assume_unique=False, invert=False):
    """isin(Tensor, Scalar): torch's eq (ne with invert) of the elements and the number, in their result_type."""
    _no_bool(elements, test_element)
    dt = _common(elements, test_element)
    with np.errstate(invalid="ignore"):
        a, b = D.cast_array(elements, dt, copy=False), _scalar_as(test_element, dt)
        return np.asarray(a != b if invert else a == b, dtype=bool)


def _isin_rule(elements, test_elements, assume_unique, invert):
    n, m = numel(shape_of(elements)), numel(shape_of(test_elements))
    # np.isin sorts both together: the concatenation, its order, the sorted copy, the flags and their reorder
    # (5 at 8-byte dtypes: measured at int64 over a wide range, docs/runs/fixrev.md B4; 3 covers the narrower);
    # isin_sorting's stable argsort of the concatenation, its sorted copy, the flags: as many
    k = 5 if max(getattr(x, "dtype", np.dtype(np.int64)).itemsize for x in (elements, test_elements)) >= 8 else 3
    return Cost(shape_of(elements), (n + m) * log2ceil(n + m), wide(k * (n + m), elements, test_elements))


isin_op = nondiff("isin.Tensor_Tensor(Tensor elements, Tensor test_elements, *, bool assume_unique=False, "
                  "bool invert=False) -> Tensor", _isin, rule=_isin_rule)
isin_scalar_op = nondiff("isin.Scalar_Tensor(Scalar element, Tensor test_elements, *, bool assume_unique=False, "
                         "bool invert=False) -> Tensor", _isin,
                         rule=lambda element, test_elements, assume_unique, invert: _isin_rule(
                             element, test_elements, assume_unique, invert))
isin_tensor_scalar_op = nondiff("isin.Tensor_Scalar(Tensor elements, Scalar test_element, *, "
                                "bool assume_unique=False, bool invert=False) -> Tensor", _isin_scalar,
                                rule=lambda elements, test_element, assume_unique, invert: Cost(
                                    shape_of(elements), numel(shape_of(elements)), 2 * numel(shape_of(elements))))


def isin(elements: Tensor | float, test_elements: Tensor | float, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    """Whether each element of `elements` is in `test_elements` (compared in torch's promoted dtype); bool."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TorchTypeError("isin() received an invalid combination of arguments - got (two numbers): one of "
                             "elements and test_elements must be a Tensor")
    if not isinstance(test_elements, Tensor):
        return isin_tensor_scalar_op(elements, _scalar(test_elements), assume_unique=assume_unique, invert=invert)
    if not isinstance(elements, Tensor):
        return isin_scalar_op(_scalar(elements), test_elements, assume_unique=assume_unique, invert=invert)
    return isin_op(elements, test_elements, assume_unique=assume_unique, invert=invert)


# ----- searchsorted / bucketize -----


def _search(bd, vals, right, out_int32, sorter=None):
    """torch's cus_lower_bound / cus_upper_bound for every value at once: bd (..., M), vals (..., K) with the
    same leading dims (or bd 1-d)."""
    if sorter is not None:
        bd = np.take_along_axis(bd, sorter, axis=-1)
    m = bd.shape[-1]
    common = _common(bd, vals)  # (searchsorted_maybe_trim_input_tensors: torch's result_type of the two)
    if common == np.bool_:  # torch's kernel dispatches on the common dtype, which has no bool case
        raise TorchNotImplementedError("\"searchsorted_out_cpu\" not implemented for 'Bool'")
    bd = D.cast_array(bd, common, copy=False)
    v = _cast(vals, common)
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
    return start.reshape(v.shape).astype(np.int32 if out_int32 else np.int64, copy=False)


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
    if np.ndim(input) == 0 and bd.ndim != 1:
        raise TorchRuntimeError("torch.searchsorted(): input value can be a scalar only when boundaries tensor "
                                f"dimension is 1, but we got boundaries tensor dim({bd.ndim}) and input value's "
                                "dim(0) numel(1)")
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


def _searchsorted_scalar(sorted_sequence, self, out_int32=False, right=False, side=None, sorter=None):
    return _searchsorted(sorted_sequence, _scalar(self), out_int32, right, side, sorter)


def _search_rule(sorted_sequence, input, out_int32=False, right=False, side=None, sorter=None):  # noqa: A002
    n = numel(shape_of(input))
    m = max(shape_of(sorted_sequence)[-1:] or (1,))
    # start, end, mid, the values read and the masks of each round: about six index arrays of the values' size;
    # the boundaries and the values cast to their common dtype, and a round's np.where temporaries: two more
    # 8-byte arrays of each (1M float32 values in 1M int64 boundaries traced 70 MB against 59 MB charged)
    b = numel(shape_of(sorted_sequence))
    return Cost(shape_of(input), 6 * n * (log2ceil(m) + 1), wide(8 * n + 2 * b, sorted_sequence, input)
                + (b if sorter is not None else 0))


searchsorted_op = nondiff("searchsorted.Tensor(Tensor sorted_sequence, Tensor input, *, bool out_int32=False, "
                          "bool right=False, str? side=None, Tensor? sorter=None) -> Tensor", _searchsorted,
                          rule=_search_rule)
searchsorted_scalar_op = nondiff("searchsorted.Scalar(Tensor sorted_sequence, Scalar self, *, bool out_int32=False, "
                                 "bool right=False, str? side=None, Tensor? sorter=None) -> Tensor",
                                 _searchsorted_scalar, rule=lambda sorted_sequence, self, out_int32, right, side,
                                 sorter: _search_rule(sorted_sequence, self, sorter=sorter))


def searchsorted(sorted_sequence: Tensor, input: Tensor | float, *, out_int32: bool = False,  # noqa: A002
                 right: bool = False, side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """Indices where `input`'s values would be inserted into the innermost dim of `sorted_sequence` to keep it
    sorted (the first such place, or the last with right=True / side='right'); int64 (int32 with out_int32)."""
    if not isinstance(input, Tensor):  # a wrapped number: its dtype ranks below the boundaries' (300 into int8)
        return searchsorted_scalar_op(sorted_sequence, _scalar(input), out_int32=out_int32, right=right, side=side,
                                      sorter=sorter)
    return searchsorted_op(sorted_sequence, input, out_int32=out_int32, right=right, side=side, sorter=sorter)


def _bucketize(input, boundaries, out_int32=False, right=False):  # noqa: A002
    if boundaries.ndim != 1:
        raise TorchRuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return _search(boundaries, input, bool(right), out_int32)


bucketize_op = nondiff("bucketize.Tensor(Tensor self, Tensor boundaries, *, bool out_int32=False, bool right=False) "
                       "-> Tensor", _bucketize,
                       rule=lambda self, boundaries, out_int32, right: _search_rule(boundaries, self))
bucketize_scalar_op = nondiff("bucketize.Scalar(Scalar self, Tensor boundaries, *, bool out_int32=False, "
                              "bool right=False) -> Tensor", _bucketize,
                              rule=lambda self, boundaries, out_int32, right: _search_rule(boundaries, self))


def bucketize(input: Tensor | float, boundaries: Tensor, *, out_int32: bool = False,  # noqa: A002
              right: bool = False) -> Tensor:
    """The bucket of each value of `input` among the 1-d sorted `boundaries` (searchsorted with the roles
    swapped); int64 (int32 with out_int32)."""
    if not isinstance(input, Tensor):
        return bucketize_scalar_op(_scalar(input), boundaries, out_int32=out_int32, right=right)
    return bucketize_op(input, boundaries, out_int32=out_int32, right=right)


CATALOG = [
    entry("isin", isin, "Whether each element is among test_elements (promoted dtype; NaN is in nothing); bool.",
          method=False),
    entry("searchsorted", searchsorted, "Insertion indices of values into the innermost dim of a sorted tensor "
          "(left or right side, optional sorter); int64 or int32.", method=False),
    entry("bucketize", bucketize, "Bucket indices of values among 1-d sorted boundaries; int64 or int32.",
          method=False),
]
