"""Indexing ops: gather, scatter_add, index_select, index_add, masked_fill, index_put's functions, and the family's
CATALOG, with torch's graphs and messages. select / slice / alias and the shared helpers are
engine/ops/indexing_views.py; index.Tensor, index_put and getitem engine/ops/indexing_advanced.py.

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

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchIndexError, TorchRuntimeError
from engine.ops import rules as R
from engine.ops._util import broadcast_shapes, list_str, wrap_dim

# the family's parts (views, then advanced: their registration order): their entries for CATALOG, and the names
# other modules import from here
from engine.ops.indexing_advanced import (  # noqa: F401
    Index,
    _prepare_indices,
    advanced_parts,
    getitem,
    index_op,
    index_put_impl_op,
    index_put_op,
)
from engine.ops.indexing_views import (  # noqa: F401
    _arr,
    _dim_prefix,
    _numel,
    _zeros,
    alias_op,
    select,
    select_backward_op,
    select_int,
    slice_backward_op,
    slice_op,
)
from engine.ops.jvp import shifted
from engine.ops.registry import defop
from engine.ops.scalar_fit import fill_value
from engine.ops.shape import unsqueeze_op
from engine.tensor import Tensor

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
    # alpha as torch's Scalar::to<T>: checked, an int into float32 rounded once (review13a F-G)
    src = source if alpha == 1 else source * fill_value(alpha, source.dtype)
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
    # the copy is the output; source * alpha, the index's int64 copy, add.at's broadcast of the source; rows of a
    # 2+-d self go through np.add.at's general path, R.ADD_AT a value (redteam16 F8: 13-19x under before)
    rule=lambda self, index, source: R.Cost(
        tuple(self.shape), R.numel(self.shape) + _numel(source) * (R.ADD_AT if len(self.shape) > 1 else 1),
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
    if not hasattr(v, "dtype"):  # a number: c10's checked conversion to a's dtype (uint8 300 is refused)
        v = B.xp.asarray(fill_value(v, a.dtype))
    v = D.cast_array(v, a.dtype)  # (a float64 tensor's value into float16: c10 rounds through float32)
    return B.xp.where(m, v, a)


def _masked_fill_t(a, mask, value):
    if value.ndim != 0:
        raise TorchRuntimeError(
            "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
            f"{value.ndim} dimension(s).")
    if value.dtype != a.dtype:  # aten: masked_fill_(mask, value.item()), c10's checked conversion of the number
        value = value.item()
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


def index_put_(input: Tensor, indices: list[Tensor], values: Tensor, accumulate: bool = False,
               masked: bool = False) -> Tensor:
    """index_put written into input (IndexPutBackward0): what t[idx] = v does for an advanced index. `masked`: the
    index was one bool mask, where aten writes a one-element value as masked_fill_(mask, value.item()) (its
    dtype then need not match: c10's checked conversion of the number); any other value must have input's dtype."""
    from engine.ops.inplace import apply  # noqa: PLC0415 - engine.ops.inplace imports this module

    arrs = [None if i is None else np.asarray(B.to_numpy(i._data if isinstance(i, Tensor) else i)) for i in indices]
    prepared = _prepare_indices(tuple(input.shape), arrs)
    if masked and values._data.dtype != input._data.dtype and values._data.size == 1 and not accumulate:
        fill_value(values._data.reshape(()).item(), input._data.dtype)  # (its overflow check: 70000 into float16)
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
