"""Indexing ops: select, slice, getitem (torch's basic and advanced indexing), gather, scatter_add,
index_select and masked_fill, with torch's graphs and messages.

`getitem` follows torch's Python indexing (python_variable_indexing.cpp, ATen/TensorIndexing.h): each
basic index is applied in turn (int -> SelectBackward0, slice -> SliceBackward0 unless it is a no-op
inside a tuple, None / bool -> UnsqueezeBackward0), and all tensor / list / bool indices are gathered
into one `index.Tensor` (IndexBackward0) with NumPy's placement of the advanced dims.

Non-differentiable tensor arguments (indices, masks) are attributes here (schema types `LongTensor`,
`BoolTensor`, `LongTensor?[]`): torch leaves them out of `next_functions`, and the registry makes an
edge of every `Tensor` parameter. Where torch saves such a tensor for backward (so that a second
backward without retain_graph fails), the formula names a differentiable input instead, which the
registry saves and frees the same way.
"""
from __future__ import annotations

import operator
import warnings

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine import dtypes as D
from engine.errors import TorchIndexError, TorchRuntimeError, TorchTypeError, TorchValueError
from engine.ops import rules as R
from engine.ops._util import broadcast_shapes, list_str, wrap_dim
from engine.ops.jvp import batched, pointwise, shifted
from engine.ops.registry import defop
from engine.ops.shape import unsqueeze_op
from engine.tensor import Tensor

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)


def _arr(x):
    return x._data if isinstance(x, Tensor) else x


def _zeros(shape, dtype):
    return B.xp.zeros(tuple(shape), dtype=dtype)


def _dim_prefix(d):
    return (slice(None),) * d




# ----- cost rules (engine/ops/rules.py) -----


def _view_cost(out):
    return R.Cost(tuple(out), 0.0, 0)


def _selected(shape, dim):
    d = wrap_dim(dim, len(shape))
    return tuple(shape[:d]) + tuple(shape[d + 1:])


def _sliced(shape, dim, start, end, step):
    d = wrap_dim(dim, len(shape))
    s, e = _slice_bounds(shape[d], start, end, step)
    out = list(shape)
    out[d] = max(0, -(-(e - s) // int(step)))
    return tuple(out)


def _indexed(shape, indices):
    """numpy's advanced indexing shape for index.Tensor's indices (int64 arrays, None for `:`): the
    broadcast index shape in place of the indexed dims where they are adjacent, else in front."""
    defined = [k for k, i in enumerate(indices) if i is not None]
    bshape = R.broadcast(*(tuple(indices[k].shape) for k in defined))
    first, last = defined[0], defined[-1]
    rest = tuple(shape[len(indices):])
    if last - first + 1 == len(defined):
        return tuple(shape[:first]) + bshape + tuple(shape[last + 1:len(indices)]) + rest
    return bshape + tuple(s for k, s in enumerate(shape[:len(indices)]) if indices[k] is None) + rest


def _index_rule(self, indices):
    out = _indexed(self.shape, indices)
    n = R.numel(out)
    return R.Cost(out, n, 0, True, 2 * R.numel(self.shape) + n)  # the zeros and their copy in index_put


def _numel(x):
    return R.numel(R.shape_of(x))


# ----- select / slice / alias -----


def _select(a, dim, index):
    if a.ndim == 0:
        raise TorchIndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, a.ndim)
    size = a.shape[d]
    index = int(index)
    if not -size <= index < size:
        raise TorchIndexError(
            f"select(): index {index} out of range for tensor of size {list_str(a.shape)} at dimension {d}")
    return a[_dim_prefix(d) + (index, Ellipsis)]


def _select_backward(grad, input_sizes, dim, index):
    out = _zeros(input_sizes, grad.dtype)
    d = wrap_dim(dim, len(input_sizes))
    out[_dim_prefix(d) + (int(index), Ellipsis)] = grad
    return out


select_int = defop("select.int(Tensor(a) self, int dim, SymInt index) -> Tensor(a)", _select,
                   rule=lambda self, dim: _view_cost(_selected(self.shape, dim)), jvp=shifted("linear", "dim"),
                   self=lambda grad, self_shape, dim, index: select_backward_op(grad, self_shape, dim, index))
select_backward_op = defop(
    "select_backward(Tensor grad_output, SymInt[] input_sizes, int dim, SymInt index) -> Tensor",
    _select_backward, rule=lambda input_sizes: R.Cost(tuple(input_sizes), R.numel(input_sizes)),
    jvp=batched("linear", lambda op, vals, tangents, out, bsz: select_backward_op(
        tangents[0], (bsz, *vals[1]), wrap_dim(vals[2], len(vals[1])) + 1, vals[3])),
    grad_output=lambda grad, dim, index: select_int(grad, dim, index))


def _slice_bounds(size, start, end, step):
    """at::slice's normalisation of start / end (step > 0)."""
    start = 0 if start is None else int(start)
    end = _INT64_MAX if end is None else int(end)
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = min(max(start, 0), size)
    end = min(max(end, start), size)
    return start, end


def _slice(a, dim=0, start=None, end=None, step=1):
    if a.ndim == 0:
        raise TorchIndexError("slice() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, a.ndim)
    if step <= 0:
        raise TorchRuntimeError("slice step must be positive")
    s, e = _slice_bounds(a.shape[d], start, end, step)
    return a[_dim_prefix(d) + (slice(s, e, int(step)),)]


def _slice_backward(grad, input_sizes, dim, start, end, step):
    out = _zeros(input_sizes, grad.dtype)
    d = wrap_dim(dim, len(input_sizes))
    s, e = _slice_bounds(input_sizes[d], start, end, step)
    out[_dim_prefix(d) + (slice(s, e, int(step)),)] = grad
    return out


slice_op = defop(
    "slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1) "
    "-> Tensor(a)",
    _slice,
    rule=lambda self, dim, start, end, step: _view_cost(_sliced(self.shape, dim, start, end, step)),
    jvp=shifted("linear", "dim"),
    self=lambda grad, self_shape, dim, start, end, step: slice_backward_op(
        grad, self_shape, dim, start, end, step))
slice_backward_op = defop(
    "slice_backward(Tensor grad_output, SymInt[] input_sizes, int dim, SymInt start, SymInt end, "
    "SymInt step) -> Tensor",
    _slice_backward, rule=lambda input_sizes: R.Cost(tuple(input_sizes), R.numel(input_sizes)),
    jvp=batched("linear", lambda op, vals, tangents, out, bsz: slice_backward_op(
        tangents[0], (bsz, *vals[1]), wrap_dim(vals[2], len(vals[1])) + 1, *vals[3:])),
    grad_output=lambda grad, dim, start, end, step: slice_op(grad, dim, start, end, step))

alias_op = defop("alias(Tensor(a) self) -> Tensor(a)", lambda a: a[...], rule=lambda self: _view_cost(self.shape),
                 jvp=pointwise("linear"), self=lambda grad: grad)


# ----- index.Tensor and its backward -----


def _np_index(indices):
    return tuple(slice(None) if i is None else i for i in indices)


def _index_fwd(a, indices):
    return a[_np_index(indices)]


def _index_put_impl(a, indices, values, accumulate=False, unsafe=False):
    out = a.copy()
    idx = _np_index(indices)
    if accumulate:
        B.xp.add.at(out, idx, values)
    else:
        out[idx] = values
    return out


# `indices` is aten's `Tensor?[] indices`: here already checked, mask-expanded int64 arrays (or None).
# The formula names `self` only so that the node saves (and frees) a tensor, as torch's saves `indices`.
index_op = defop("index.Tensor(Tensor self, LongTensor?[] indices) -> Tensor", _index_fwd, rule=_index_rule,
                 jvp="linear",
                 self=lambda grad, self, indices: index_put_impl_op(
                     Tensor._make(_zeros(self.shape, grad._data.dtype)), indices, grad, accumulate=True,
                     unsafe=True))
index_put_impl_op = defop(
    "_index_put_impl_(Tensor(a!) self, LongTensor?[] indices, Tensor values, bool accumulate=False, "
    "bool unsafe=False) -> Tensor(a!)",
    _index_put_impl,
    # the copy is the output; np.add.at's broadcast of the values to the index shape
    rule=lambda self, values: R.Cost(tuple(self.shape), R.numel(self.shape) + _numel(values), _numel(values)),
    jvp="linear",
    self=lambda grad: grad,
    values=lambda grad, indices: index_op(grad, indices))

_INDEX_DTYPES = ("int64", "int32", "uint8", "bool")


def _index_put_fwd(a, indices, values, accumulate=False):
    if values.dtype != a.dtype:
        raise TorchRuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{_TYPE_WORD.get(a.dtype.name, a.dtype.name)} for the destination and "
            f"{_TYPE_WORD.get(values.dtype.name, values.dtype.name)} for the source.")
    return _index_put_impl(a, indices, values, accumulate)


_TYPE_WORD = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
              "bool": "Bool", "uint8": "Byte", "int16": "Short", "int8": "Char"}


def _index_put_rule(self, indices, values):
    n = 1
    for s in self.shape:
        n *= s
    return R.Cost(tuple(self.shape), n + getattr(values, "size", 1))


# torch's index_put (IndexPutBackward0): a copy of self with values written (or added) at the indices; t[idx] = v
# with an advanced index is its in-place form.
index_put_op = defop(
    "index_put(Tensor self, LongTensor?[] indices, Tensor values, bool accumulate=False) -> Tensor",
    _index_put_fwd, rule=_index_put_rule, jvp="linear",
    # torch's: grad.index_put(indices, zeros_like(values), false) (IndexPutBackward0 in a double backward)
    self=lambda grad, indices, values_shape, accumulate: grad if accumulate else index_put_op(
        grad, indices, Tensor._make(_zeros(values_shape, grad._data.dtype)), False),
    values=lambda grad, indices: index_op(grad, indices))


def _check_index_bounds(shape, norm):
    """index's kernel check: the first offending element (C order), the first index there."""
    defined = [(k, i) for k, i in enumerate(norm) if i is not None]
    bshape = np.broadcast_shapes(*(i.shape for _, i in defined))
    if not int(np.prod(bshape)):
        return
    bad_any = None
    bads = []
    for _, (k, i) in enumerate(defined):
        size = shape[k]
        bad = np.broadcast_to((i < -size) | (i >= size), bshape)
        bads.append(bad)
        bad_any = bad if bad_any is None else (bad_any | bad)
    if not bad_any.any():
        return
    pos = np.unravel_index(int(np.argmax(bad_any.reshape(-1))), bshape) if bshape else ()
    for j, ((k, i), bad) in enumerate(zip(defined, bads)):
        if bad[pos]:
            val = int(np.broadcast_to(i, bshape)[pos])
            raise TorchIndexError(f"index {val} is out of bounds for dimension {j} with size {shape[k]}")


def _prepare_indices(shape, indices):
    """at::index's checks and its expansion of masks, on a list of index arrays (None for `:`)."""
    ndim = len(shape)
    if len(indices) > ndim:
        raise TorchIndexError(f"too many indices for tensor of dimension {ndim} (got {len(indices)})")
    for i in indices:
        if i is not None and i.dtype.name not in _INDEX_DTYPES:
            raise TorchIndexError("tensors used as indices must be long, int, byte or bool tensors")
    # the int64 index arrays made here (a mask's nonzero positions, one array per dim it covers), before
    # they are made; the bounds check's masks below
    _budget.charge(sum(i.size * max(i.ndim, 1) for i in indices if i is not None), 8, what="the index")
    out = []
    for i in indices:
        if i is None:
            out.append(None)
        elif i.dtype.kind == "b" or i.dtype == np.uint8:
            if i.dtype == np.uint8:
                warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype "
                              "torch.bool instead.", UserWarning, stacklevel=4)
            for j in range(i.ndim):
                src = len(out) + j
                wrap_dim(src, ndim)
                if i.shape[j] != shape[src]:
                    raise TorchIndexError(
                        f"The shape of the mask {list_str(i.shape)} at index {j} does not match the shape of "
                        f"the indexed tensor {list_str(shape)} at index {src}")
            out.extend(np.asarray(x, dtype=np.int64) for x in np.nonzero(B.to_numpy(i)))
        else:
            out.append(np.asarray(B.to_numpy(i), dtype=np.int64))
    defined = [i for i in out if i is not None]
    try:
        bshape = np.broadcast_shapes(*(i.shape for i in defined))
    except ValueError:
        raise TorchIndexError("shape mismatch: indexing tensors could not be broadcast together with shapes "
                              + ", ".join(list_str(i.shape) for i in defined)) from None
    out += [None] * (ndim - len(out))
    indexed = [shape[k] for k, i in enumerate(out) if i is not None]
    if 0 in indexed and 0 not in bshape:
        raise TorchIndexError("index is out of bounds for dimension with size 0")
    numel = int(np.prod(bshape)) * int(np.prod([shape[k] for k, i in enumerate(out) if i is None]))
    if numel:
        _budget.charge(R.numel(bshape) * 2 + 3 * sum(i.size for i in defined), 1, what="the index bounds check")
        _check_index_bounds(shape, out)
    else:  # nothing is read: torch checks no index; keep NumPy from checking them either
        out = [None if i is None else (np.zeros_like(i) if shape[k] else i) for k, i in enumerate(out)]
    while out and out[-1] is None:
        out.pop()
    if B.xp is not np:
        out = [None if i is None else B.xp.asarray(i) for i in out]
    return tuple(out)


# ----- getitem: torch's Python indexing -----


def _is_int(x):
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)


def _treat_sequence_as_tuple(index):
    if isinstance(index, tuple):
        return True
    if isinstance(index, Tensor):
        return False
    if not isinstance(index, list | str) and not (hasattr(index, "__len__")
                                                  and hasattr(index, "__getitem__")):
        return False
    if isinstance(index, np.ndarray | range):
        return False
    n = len(index)
    if n >= 32:
        return False
    for obj in index:
        if isinstance(obj, Tensor | list | tuple | str | slice) or obj is None or obj is Ellipsis:
            return True
    return False


def _count_specified(index):
    count = 0
    for obj in index:
        if isinstance(obj, Tensor):
            count += obj.ndim if obj._data.dtype.kind == "b" or obj._data.dtype == np.uint8 else 1
        elif obj is not None and obj is not Ellipsis and obj is not True and obj is not False:
            count += 1
    return count


def _unpack_slice(s):
    vals = []
    for v in (s.start, s.stop, s.step):
        if v is None or _is_int(v) or isinstance(v, bool):
            vals.append(v)
        elif hasattr(v, "__index__"):
            vals.append(operator.index(v))
        else:
            raise TorchTypeError("slice indices must be integers or None or have an __index__ method")
    start, stop, step = vals
    if step is None:
        step = 1
    if step == 0:
        raise TorchValueError("slice step cannot be zero")
    step = max(min(int(step), _INT64_MAX), -_INT64_MAX)
    if start is None:
        start = _INT64_MAX if step < 0 else 0
    if stop is None:
        stop = _INT64_MIN if step < 0 else _INT64_MAX
    start = max(min(int(start), _INT64_MAX), _INT64_MIN)
    stop = max(min(int(stop), _INT64_MAX), _INT64_MIN)
    return start, stop, step


def _apply_select(t, dim, index, real_dim):
    shape = t.shape
    if index == 0 and dim == 0 and len(shape) == 0:
        raise TorchIndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                              "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    size = shape[dim] if dim < len(shape) else 0
    if not (size > -1 - index and size > index):
        raise TorchIndexError(f"index {index} is out of bounds for dimension {real_dim} with size {size}")
    return select_int(t, dim, index)


def _apply_slice(t, dim, start, stop, step, disable_optimization):
    if step <= 0:
        raise TorchValueError("step must be greater than zero")
    if t.ndim and not disable_optimization and start == 0 and t.shape[dim] <= stop and step == 1:
        return t
    return slice_op(t, dim, start, stop, step)


def _bool_index(value):
    return np.zeros(1, dtype=np.int64) if value else np.zeros(0, dtype=np.int64)


def _sequence_index(obj):
    """torch's indexing_tensor_from_data: a bool (or uint8) tensor, else int64."""
    if isinstance(obj, str) or any(isinstance(x, str) for x in _flat(obj)):
        raise TorchTypeError("new(): invalid data type 'str'")
    arr = np.array(obj)
    if arr.dtype.kind == "b":
        return arr
    if arr.size == 0:
        return arr.astype(np.int64)
    return arr.astype(np.int64)


def _flat(obj):
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, list | tuple):
            stack.extend(x)
        else:
            yield x


def _record(out_indices, dim, arr):
    if not out_indices:
        out_indices.extend([None] * dim)
        out_indices.append(arr)
    else:
        out_indices.append(arr)
    return dim + (arr.ndim if arr.dtype.kind == "b" or arr.dtype == np.uint8 else 1)


def _dispatch_index(t, out_indices):
    while out_indices and out_indices[-1] is None:
        out_indices.pop()
    arrs = [None if i is None else np.asarray(B.to_numpy(i)) for i in out_indices]
    return index_op(t, _prepare_indices(tuple(t.shape), arrs))


SEQUENCE_INDEX_WARNING = (
    "Using a non-tuple sequence for multidimensional indexing is deprecated and will be changed in pytorch "
    "2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will be interpreted as tensor index, "
    "x[torch.tensor(seq)], which will result either in an error or a different result"
)

# What a request's getitem index may hold (engine.evaluate binds a parameter `index: Index` as an index)
Index = int | slice | None | type(Ellipsis) | Tensor | list | tuple


def getitem(input: Tensor, index: Index) -> Tensor:
    """input[index], as torch's Tensor.__getitem__."""
    result, out = _split_index(input, index)
    return _dispatch_index(result, out) if out else result


def advanced_parts(input: Tensor, index: Index):
    """None where index is basic (input[index] is a view), else (the view its basic parts select, the advanced
    indices for index_put_ on it), as torch's Tensor.__setitem__ splits an index."""
    result, out = _split_index(input, index)
    if not out:
        return None
    while out and out[-1] is None:
        out.pop()
    arrs = [None if i is None else np.asarray(B.to_numpy(i)) for i in out]
    return result, _prepare_indices(tuple(result.shape), arrs)


def _split_index(input, index):
    """(the view the basic parts of index select, the per-dim advanced indices left to apply: [] for none)."""
    self = input
    if index is None:
        return unsqueeze_op(self, dim=0), []
    if index is Ellipsis:
        return alias_op(self), []
    if _is_int(index):
        return _apply_select(self, 0, int(index), 0), []
    if isinstance(index, slice):
        start, stop, step = _unpack_slice(index)
        return _apply_slice(self, 0, start, stop, step, True), []
    if index is True or index is False:
        result = unsqueeze_op(self, dim=0)
        return result, [_bool_index(index)]
    if not _treat_sequence_as_tuple(index):
        index = (index,)
    elif not isinstance(index, tuple):
        warnings.warn(SEQUENCE_INDEX_WARNING, UserWarning, stacklevel=2)
        index = tuple(index)
    specified = _count_specified(index)
    if specified > self.ndim:
        raise TorchIndexError(f"too many indices for tensor of dimension {self.ndim}")
    result = self
    dim = 0
    out = []
    for i, obj in enumerate(index):
        if _is_int(obj):
            result = _apply_select(result, dim, int(obj), i)
        elif isinstance(obj, slice):
            start, stop, step = _unpack_slice(obj)
            result = _apply_slice(result, dim, start, stop, step, False)
            dim += 1
            if out:
                out.append(None)
        elif obj is Ellipsis:
            n = self.ndim - specified
            dim += n
            if out:
                out.extend([None] * n)
        elif obj is None:
            result = unsqueeze_op(result, dim=dim)
            dim += 1
            if out:
                out.append(None)
        elif obj is True or obj is False:
            result = unsqueeze_op(result, dim=dim)
            dim = _record(out, dim, _bool_index(obj))
        elif isinstance(obj, Tensor):
            arr = obj._data
            if arr.ndim == 0 and arr.dtype.kind in "biu":
                if arr.dtype.kind != "b" and arr.dtype != np.uint8:
                    result = _apply_select(result, dim, int(arr), i)
                else:
                    result = unsqueeze_op(result, dim=dim)
                    dim = _record(out, dim, _bool_index(bool(arr)))
            else:
                dim = _record(out, dim, arr)
        elif isinstance(obj, list | tuple | str | range | np.ndarray):
            dim = _record(out, dim, _sequence_index(obj.tolist() if isinstance(obj, np.ndarray) else list(obj)
                                                    if isinstance(obj, range) else obj))
        else:
            try:
                v = operator.index(obj)
            except TypeError:
                raise TorchIndexError(
                    "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                    f"valid indices (got {type(obj).__name__})") from None
            result = _apply_select(result, dim, int(v), i)
    if not out and result is self:
        result = alias_op(self)
    return result, out


Tensor.__getitem__ = lambda self, idx: getitem(self, idx)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    return select_int(input, dim, int(index))


# ----- gather / scatter_add / index_select / index_add -----


def _nonempty(shape):
    return tuple(shape) if len(shape) else (1,)


def _check_index_dtype(idx, method):
    if idx.size and idx.dtype.name not in ("int64", "int32"):
        raise TorchRuntimeError(f"{method}(): Expected dtype int32/int64 for index")


def _first_bad_along(idx, dim, size):
    """scatter/gather kernels' bounds check: the first out-of-range index in C order."""
    bad = (idx < 0) | (idx >= size)
    if not bad.any():
        return None
    return int(idx.reshape(-1)[int(np.argmax(bad.reshape(-1)))])


def _gather(a, dim, index, sparse_grad=False):
    idx = _arr(index)
    d = wrap_dim(dim, a.ndim)
    if idx.size == 0:
        return _zeros(idx.shape, a.dtype)
    _check_index_dtype(idx, "gather")
    sa, si = _nonempty(a.shape), _nonempty(idx.shape)
    if len(sa) != len(si):
        raise TorchRuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for i in range(len(sa)):
        if i != d and si[i] > sa[i]:
            raise TorchRuntimeError(
                f"Size does not match at dimension {i} expected index {list_str(idx.shape)} to be no larger "
                f"than self {list_str(a.shape)} apart from dimension {d}")
    i2 = np.asarray(B.to_numpy(idx), dtype=np.int64).reshape(si)
    bad = _first_bad_along(i2, d, sa[d])
    if bad is not None:
        raise TorchRuntimeError(f"index {bad} is out of bounds for dimension {d} with size {sa[d]}")
    a2 = a.reshape(sa)
    sub = a2[tuple(slice(None) if k == d else slice(0, si[k]) for k in range(len(sa)))]
    out = np.take_along_axis(sub, B.xp.asarray(i2), axis=d)
    return out.reshape(idx.shape)


def _scatter_coords(idx_shape, dim, i2):
    coords = list(np.indices(idx_shape, sparse=True))
    coords[dim] = i2
    return tuple(B.xp.asarray(c) for c in coords)


def _scatter_add(a, dim, index, src):
    idx = _arr(index)
    d = wrap_dim(dim, a.ndim)
    _check_index_dtype(idx, "scatter")
    if a.dtype != src.dtype:
        raise TorchRuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if idx.size == 0:
        return a.copy()
    sa, si = _nonempty(a.shape), _nonempty(idx.shape)
    if len(sa) != len(si):
        raise TorchRuntimeError("Index tensor must have the same number of dimensions as self tensor")
    wrong = any(k != d and si[k] > sa[k] for k in range(len(sa)))
    if not wrong:
        for k in range(len(sa)):
            ssize = 1 if src.ndim == 0 else src.shape[wrap_dim(k, src.ndim)]
            if si[k] > ssize:
                wrong = True
                break
    if wrong:
        raise TorchRuntimeError(
            f"Expected index {list_str(idx.shape)} to be no larger than self {list_str(a.shape)} apart from "
            f"dimension {d} and to be no larger size than src {list_str(src.shape)}")
    if len(_nonempty(src.shape)) != len(si):
        raise TorchRuntimeError("Index tensor must have the same number of dimensions as src tensor")
    i2 = np.asarray(B.to_numpy(idx), dtype=np.int64).reshape(si)
    bad = _first_bad_along(i2, d, sa[d])
    if bad is not None:
        raise TorchRuntimeError(f"index {bad} is out of bounds for dimension {d} with size {sa[d]}")
    out = a.reshape(sa).copy()
    s2 = src.reshape(_nonempty(src.shape))
    sub = s2[tuple(slice(0, n) for n in si)]
    B.xp.add.at(out, _scatter_coords(si, d, i2), sub)
    return out.reshape(a.shape)


def _scatter_add_src_grad(grad, src, dim, index):
    g = gather_op(grad, dim, index)
    gs, ss = tuple(g.shape), tuple(src.shape)
    if gs != ss and not _expandable(ss, gs):
        raise TorchRuntimeError(
            f"Function ScatterAddBackward0 returned an invalid gradient at index 1 - got {list_str(gs)} but "
            f"expected shape compatible with {list_str(ss)}")
    return g


def _expandable(shape, desired):
    if len(shape) > len(desired):
        return False
    for s, t in zip(reversed(shape), reversed(desired)):
        if s != t and s != 1:
            return False
    return True


gather_op = defop(
    "gather(Tensor self, int dim, LongTensor index, *, bool sparse_grad=False) -> Tensor", _gather,
    # the index's int64 copy and bounds mask; backward: zeros of self, their copy in scatter_add, its index
    rule=lambda self, index: R.Cost(tuple(index.shape), _numel(index), R.wide(2 * _numel(index), self), True,
                                    2 * _numel(self) + R.wide(3 * _numel(index), self)),
    jvp="linear",
    self=lambda grad, self, dim, index: scatter_add_op(
        Tensor._make(_zeros(self.shape, grad._data.dtype)), dim, index, grad))
scatter_add_op = defop(
    "scatter_add(Tensor self, int dim, LongTensor index, Tensor src) -> Tensor", _scatter_add,
    rule=lambda self, index: R.Cost(tuple(self.shape), R.numel(self.shape) + _numel(index),
                                    R.wide(3 * _numel(index), self)),
    jvp="linear",
    self=lambda grad: grad,
    src=lambda grad, src, dim, index: _scatter_add_src_grad(grad, src, dim, index))


def _index_select(a, dim, index):
    idx = _arr(index)
    d = wrap_dim(dim, a.ndim)
    n = int(idx.size)
    if idx.ndim > 1:
        raise TorchIndexError("index_select(): Index is supposed to be a vector")
    if a.ndim == 0 and n != 1:
        raise TorchRuntimeError(f"index_select(): Index to scalar can have only 1 value, got {n} value(s)")
    if idx.dtype.name not in ("int64", "int32"):
        raise TorchRuntimeError("index_select(): Expected dtype int32 or int64 for index")
    i1 = np.asarray(B.to_numpy(idx), dtype=np.int64).reshape(-1)
    if a.ndim == 0:
        if i1[0] != 0:
            raise TorchIndexError("index out of range in self")
        return a.copy()
    size = a.shape[d]
    if a.ndim > 1 and n and size == 0:
        raise TorchRuntimeError("index_select(): self indexing axis dim should be positive")
    bad = (i1 < 0) | (i1 >= size)
    if bad.any():
        v = int(i1[int(np.argmax(bad))])
        if a.ndim == 1:
            raise TorchIndexError("index out of range in self")
        raise TorchRuntimeError(f"INDICES element is out of DATA bounds, id={v} axis_dim={size}")
    return np.take(a, B.xp.asarray(i1), axis=d)


def _index_add(a, dim, index, source, alpha=1):
    idx = np.asarray(B.to_numpy(_arr(index)), dtype=np.int64).reshape(-1)
    out = a.copy()
    src = source if alpha == 1 else source * alpha
    if a.ndim == 0:
        return out + src.reshape(())
    d = wrap_dim(dim, a.ndim)
    shape = list(out.shape)
    shape[d] = idx.size
    B.xp.add.at(out, _dim_prefix(d) + (B.xp.asarray(idx),), src.reshape(shape))
    return out


def _index_select_rule(self, dim, index):
    out = () if self.ndim == 0 else tuple(self.shape[:wrap_dim(dim, self.ndim)]) + (_numel(index),) + tuple(
        self.shape[wrap_dim(dim, self.ndim) + 1:])
    n = R.numel(out)
    return R.Cost(out, n, R.wide(2 * _numel(index), self), True, 2 * R.numel(self.shape) + n
                  + R.wide(2 * _numel(index), self))


index_select_op = defop(
    "index_select(Tensor self, int dim, LongTensor index) -> Tensor", _index_select, rule=_index_select_rule,
    jvp=shifted("linear", "dim"),
    self=lambda grad, self, dim, index: index_add_op(
        Tensor._make(_zeros(self.shape, grad._data.dtype)), dim, index, grad))
index_add_op = defop(
    "index_add(Tensor self, int dim, LongTensor index, Tensor source, *, Scalar alpha=1) -> Tensor",
    _index_add,
    # the copy is the output; source * alpha, the index's int64 copy, add.at's broadcast of the source
    rule=lambda self, index, source: R.Cost(tuple(self.shape), R.numel(self.shape) + _numel(source),
                                            2 * _numel(source) + R.wide(_numel(index), self)),
    jvp=shifted("linear", "dim"),
    self=lambda grad: grad,
    source=lambda grad, source, dim, index, alpha: _index_add_source_grad(grad, source, dim, index, alpha))


def _index_add_source_grad(grad, source, dim, index, alpha):
    g = index_select_op(grad, dim, index).reshape(tuple(source.shape))
    return g if alpha == 1 else g * alpha


# ----- masked_fill -----


def _check_mask(mask):
    if mask.dtype.kind != "b":
        name = D.cpp_type_name(mask)
        raise TorchRuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {name}")


def _masked_fill(a, mask, value):
    m = _arr(mask)
    broadcast_shapes(tuple(m.shape), tuple(a.shape))
    _check_mask(m)
    v = _arr(value)
    v = v.astype(a.dtype) if hasattr(v, "dtype") else B.xp.asarray(v).astype(a.dtype)
    return B.xp.where(m, v, a)


def _masked_fill_t(a, mask, value):
    if value.ndim != 0:
        raise TorchRuntimeError(
            "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
            f"{value.ndim} dimension(s).")
    return _masked_fill(a, mask, value)


def _not_mask(mask):
    return Tensor._make(B.xp.logical_not(_arr(mask)))


masked_fill_scalar = defop(
    "masked_fill.Scalar(Tensor self, BoolTensor mask, Scalar value) -> Tensor", _masked_fill,
    rule=lambda self, mask: R.elementwise()(self, mask), jvp="element_wise",
    self=lambda grad, self, mask: masked_fill_scalar(grad, mask, 0))
masked_fill_tensor = defop(
    "masked_fill.Tensor(Tensor self, BoolTensor mask, Tensor value) -> Tensor", _masked_fill_t,
    rule=lambda self, mask: R.elementwise(bwd=3)(self, mask), jvp="linear",
    self=lambda grad, self, mask: masked_fill_scalar(grad, mask, 0),
    value=lambda grad, value, mask: masked_fill_scalar(grad, _not_mask(mask), 0).sum())


# ----- Python-facing functions -----


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    return gather_op(input, dim, index, sparse_grad=sparse_grad)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return scatter_add_op(input, dim, index, src)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    return index_select_op(input, dim, index)


def masked_fill(input: Tensor, mask: Tensor, value: Tensor | float) -> Tensor:
    if isinstance(value, Tensor):
        return masked_fill_tensor(input, mask, value)
    return masked_fill_scalar(input, mask, value)


from engine.ops.registry import entry  # noqa: E402


def index_put(input: Tensor, indices: list[Tensor], values: Tensor, accumulate: bool = False) -> Tensor:
    """A copy of input with values written (accumulate: added) at the positions the index tensors give."""
    arrs = [None if i is None else np.asarray(B.to_numpy(i._data if isinstance(i, Tensor) else i)) for i in indices]
    return index_put_op(input, _prepare_indices(tuple(input.shape), arrs), values, accumulate)


def index_put_(input: Tensor, indices: list[Tensor], values: Tensor, accumulate: bool = False) -> Tensor:
    """index_put written into input (IndexPutBackward0): what t[idx] = v does for an advanced index."""
    from engine.ops.inplace import apply  # noqa: PLC0415 - engine.ops.inplace imports this module

    arrs = [None if i is None else np.asarray(B.to_numpy(i._data if isinstance(i, Tensor) else i)) for i in indices]
    prepared = _prepare_indices(tuple(input.shape), arrs)
    if values._data.dtype != input._data.dtype and values._data.ndim == 0:
        values = values.to(input.dtype)
    return apply(input, lambda s: index_put_op(s, prepared, values, accumulate), values._req)


CATALOG = [
    entry("index_put", index_put, "A copy of input with values written (or added) at the index tensors' positions.",
          index_put_op),
    entry("select", select, "The slice at `index` along `dim` (the dim is removed).", select_int),
    entry("getitem", getitem, "input[index]: ints, slices, None, ..., bool / integer tensors and lists, or a "
          "tuple of these, with torch's basic and advanced indexing.", select_int, slice_op, unsqueeze_op,
          alias_op, index_op, method=False),
    entry("gather", gather, "Values along `dim` at the positions in `index`.", gather_op),
    entry("scatter_add", scatter_add, "Copy of input with src added at `index` along `dim`.", scatter_add_op),
    entry("index_select", index_select, "The entries of `index` (a vector) along `dim`.", index_select_op),
    entry("masked_fill", masked_fill, "input with `value` where the boolean mask is true.",
          masked_fill_scalar, masked_fill_tensor),
]
