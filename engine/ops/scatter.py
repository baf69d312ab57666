"""Scatter and index ops: scatter (src / value), scatter_reduce, index_add / index_copy / index_fill / index_reduce,
combinations, and the family's CATALOG, with derivatives.yaml's and FunctionsManual's formulas. The family's other
parts: engine/ops/scatter_masked_take.py (masked_select / masked_scatter, take / put / take_along_dim),
scatter_views.py (select / slice / diagonal / as_strided _scatter), scatter_common.py (their shared helpers);
index_put is engine.ops.indexing's.

Index and mask arguments are non-differentiable (schema types LongTensor / BoolTensor: attributes of the node,
as torch leaves them out of next_functions)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget
from engine import dtypes as D
from engine.errors import TorchIndexError, TorchRuntimeError
from engine.ops import indexing as I
from engine.ops import join as J
from engine.ops import pointwise as P
from engine.ops._util import list_str, wrap_dim
from engine.ops.indexing_views import _dim_prefix
from engine.ops.registry import defop, entry
from engine.ops.rules import PY_STEP, Cost, numel
from engine.ops.scalar_fit import fill_value, scalar_arg
from engine.ops.scatter_common import _arr, _ints, _like_self, _t, _word, _zeros_like
from engine.tensor import Tensor

# ----- scatter (src / value), scatter_reduce -----


def _scatter_check(a, dim, index, src, method="scatter", value_form=False):
    """aten's scatter_gather_dtype_check and scatter_shape_check: the index's checked coordinates."""
    idx = _arr(index)
    d = wrap_dim(dim, a.ndim)
    if idx.size and idx.dtype.name not in ("int64", "int32"):
        raise TorchRuntimeError(f"{method}(): Expected dtype int32/int64 for index")
    if not value_form and src.dtype != a.dtype:
        raise TorchRuntimeError(f"{method}(): Expected self.dtype to be equal to src.dtype")
    if idx.size == 0:
        return d, None, None
    sa, si = I._nonempty(a.shape), I._nonempty(idx.shape)
    if len(sa) != len(si):
        raise TorchRuntimeError("Index tensor must have the same number of dimensions as self tensor")
    if value_form:
        wrong = any(k != d and si[k] > sa[k] for k in range(len(sa)))
        if wrong:
            raise TorchRuntimeError(f"Expected index {list_str(idx.shape)} to be no larger than self "
                                    f"{list_str(a.shape)} apart from dimension {d}")
    else:
        ss = I._nonempty(src.shape)
        wrong = any(k != d and si[k] > sa[k] for k in range(len(sa))) or any(
            si[k] > (ss[k] if k < len(ss) else 1) for k in range(len(sa)))
        if wrong:
            raise TorchRuntimeError(
                f"Expected index {list_str(idx.shape)} to be no larger than self {list_str(a.shape)} apart from "
                f"dimension {d} and to be no larger size than src {list_str(src.shape)}")
        if len(ss) != len(si):
            raise TorchRuntimeError("Index tensor must have the same number of dimensions as src tensor")
    i2 = _ints(idx).reshape(si)
    bad = I._first_bad_along(i2, d, sa[d])
    if bad is not None:
        raise TorchRuntimeError(f"index {bad} is out of bounds for dimension {d} with size {sa[d]}")
    return d, si, i2


def _src_sub(src, si):
    s2 = src.reshape(I._nonempty(src.shape))
    return s2[tuple(slice(0, n) for n in si)]


def _scatter_src(a, dim, index, src):
    d, si, i2 = _scatter_check(a, dim, index, src)
    out = a.copy()
    if si is None:
        return out
    o2 = out.reshape(I._nonempty(a.shape))
    o2[I._scatter_coords(si, d, i2)] = _src_sub(src, si)
    return o2.reshape(a.shape)


def _scatter_value(a, dim, index, value):
    num = type(value) is float or isinstance(value, bool | int | float)
    if num:
        scalar_arg(value)  # the Python parser's OverflowError comes before every check
    d, si, i2 = _scatter_check(a, dim, index, None, value_form=True)
    if si is not None and num:  # c10's checked conversion to self's dtype,
        value = fill_value(value, a.dtype)  # after the checks, only where the index is not empty
    out = a.copy()
    if si is None:
        return out
    o2 = out.reshape(I._nonempty(a.shape))
    o2[I._scatter_coords(si, d, i2)] = _arr(value)
    return o2.reshape(a.shape)


scatter_src = defop("scatter.src(Tensor self, int dim, LongTensor index, Tensor src) -> Tensor", _scatter_src,
                    self=lambda grad, dim, index: scatter_value(grad, dim, index, 0.0),
                    src=lambda grad, dim, index: I.gather_op(grad, dim, index), rule=_like_self)
scatter_value = defop("scatter.value(Tensor self, int dim, LongTensor index, Scalar value) -> Tensor",
                      _scatter_value, self=lambda grad, dim, index: scatter_value(grad, dim, index, 0.0),
                      rule=_like_self)

SCATTER_REDUCE_DEPRECATED = (
    "The reduce argument of torch.scatter with Tensor src is deprecated and will be removed in a future PyTorch "
    "release. Use torch.scatter_reduce instead for more reduction options.")


def scatter(input: Tensor, dim: int, index: Tensor, src: Tensor | float | None = None, *, value: float | None = None,
            reduce: str | None = None) -> Tensor:
    if src is None:
        src = value
    if reduce is not None:
        from engine.ops.pointwise import _not_implemented  # noqa: PLC0415

        if isinstance(src, Tensor):
            import warnings  # noqa: PLC0415

            warnings.warn(SCATTER_REDUCE_DEPRECATED, UserWarning, stacklevel=2)
        if not isinstance(src, Tensor):
            scalar_arg(src)  # the Python parser's OverflowError comes first
        mode = {"add": "sum", "multiply": "prod"}.get(reduce)
        if mode is None:
            raise TorchRuntimeError("reduce argument must be either add or multiply.")
        if not isinstance(src, Tensor):  # scatter_'s checks, then (a nonempty index) the value's conversion
            empty = _scatter_check(input._data, dim, index, None, value_form=True)[1] is None
            src = 0 if empty else fill_value(src, input._data.dtype)
        with _no_grad():
            s = src if isinstance(src, Tensor) else _t(B.xp.full(tuple(index.shape), src, dtype=input._data.dtype))
            out = scatter_reduce_op(input, dim, index, s, mode, True)
        return _not_implemented("scatter_reduce", out, input, src if isinstance(src, Tensor) else None)
    if isinstance(src, Tensor):
        return scatter_src(input, dim, index, src)
    return scatter_value(input, dim, index, src)


def _no_grad():
    from engine.autograd import no_grad  # noqa: PLC0415

    return no_grad()


_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _scatter_reduce(a, dim, index, src, reduce, include_self=True):
    if reduce not in _REDUCES:
        raise TorchRuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    d, si, i2 = _scatter_check(a, dim, index, src, "scatter_reduce")
    out = a.copy()
    if si is None:
        return out
    o2 = out.reshape(I._nonempty(a.shape))
    coords = I._scatter_coords(si, d, i2)
    vals = _src_sub(src, si)
    if not include_self:
        init = {"sum": 0, "mean": 0, "prod": 1, "amax": -np.inf, "amin": np.inf}[reduce]
        if a.dtype.kind != "f" and reduce in ("amax", "amin"):
            info = np.iinfo(a.dtype)
            init = info.min if reduce == "amax" else info.max
        o2[coords] = init
    if reduce in ("sum", "mean"):
        B.xp.add.at(o2, coords, vals)
    elif reduce == "prod":
        B.xp.multiply.at(o2, coords, vals)
    elif reduce == "amax":
        B.xp.maximum.at(o2, coords, vals)
    else:
        B.xp.minimum.at(o2, coords, vals)
    if reduce == "mean":
        count = np.zeros(o2.shape, dtype=np.int64)
        np.add.at(count, tuple(B.to_numpy(c) for c in coords), 1)
        if include_self:
            count = count + 1
        count = B.xp.asarray(np.maximum(count, 1))
        o2 = (o2 / count).astype(a.dtype) if a.dtype.kind == "f" else o2 // count
    return o2.reshape(a.shape)


def _scatter_reduce_backward(grad, self, src, dim, index, reduce, include_self, result, output_mask):
    """FunctionsManual's scatter_reduce_backward, case by case."""
    need_self, need_src = output_mask
    if reduce == "sum":
        grad_self, grad_src = grad, I.gather_op(grad, dim, index)
    elif reduce == "prod":
        masked_self = I.masked_fill(self, self == 0, 1)
        masked_self_result = scatter_reduce_op(masked_self, dim, index, src, reduce, include_self)
        grad_self = grad * masked_self_result / masked_self
        src_zero = src == 0
        src_num_zeros = I.gather_op(scatter_add_zero(self, dim, index, src_zero.to(self.dtype)), dim, index)
        src_single_zero = P.logical_and(src_zero, src_num_zeros == 1)
        masked_src = I.masked_fill(src, src_single_zero, 1)
        masked_src_result = scatter_reduce_op(self, dim, index, masked_src, reduce, include_self)
        grad_src = P.where(src_single_zero, I.gather_op(grad * masked_src_result, dim, index),
                           I.gather_op(grad * result, dim, index) / I.masked_fill(src, src_zero, 1))
    elif reduce == "mean":
        n = _t(B.xp.ones(tuple(grad.shape), dtype=grad._data.dtype) if include_self
               else B.xp.zeros(tuple(grad.shape), dtype=grad._data.dtype))
        n = I.scatter_add_op(n, dim, index, _t(B.xp.ones(tuple(src.shape), dtype=grad._data.dtype)))
        n = I.masked_fill(n, n == 0, 1)
        grad_self = grad / n
        grad_src = I.gather_op(grad, dim, index) / I.gather_op(n, dim, index)
    else:
        value = I.gather_op(result, dim, index)
        self_is_result = (self == result).to(self.dtype)
        src_is_result = (src == value).to(self.dtype)
        n_to_distribute = I.scatter_add_op(self_is_result, dim, index, src_is_result)
        grad_distributed = grad / n_to_distribute
        grad_self = (self == result) * grad_distributed
        grad_src = (src == value) * I.gather_op(grad_distributed, dim, index)
    if not include_self:
        grad_self = scatter_value(grad_self, dim, index, 0.0)
    return (grad_self if need_self else None), (grad_src if need_src else None)


def scatter_add_zero(self, dim, index, src):
    return I.scatter_add_op(_zeros_like(self), dim, index, src)


scatter_reduce_op = defop(
    "scatter_reduce.two(Tensor self, int dim, LongTensor index, Tensor src, str reduce, *, bool include_self=True) "
    "-> Tensor", _scatter_reduce, joint_mask=True,
    self__src=lambda grad, self, src, dim, index, reduce, include_self, result, output_mask:
    _scatter_reduce_backward(grad, self, src, dim, index, reduce, include_self, result, output_mask),
    rule=lambda self, src: Cost(tuple(self.shape), numel(self.shape) + 2 * numel(src.shape), numel(self.shape)))


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    return scatter_reduce_op(input, dim, index, src, reduce, include_self)


# ----- index_add / index_copy / index_fill / index_reduce -----


_I64 = np.dtype(np.int64)


def _index_kind(idx, name):
    """The index's dims and dtype as each op checks them in torch 2.13 (its order, exception class and words):
    index_fill wants int64 first, then at most one dim; index_copy at most one dim, then int64; index_add and
    index_reduce at most one dim, then int32 or int64."""
    dt, many = idx.dtype, idx.ndim > 1
    if dt == _I64 and not many:
        return
    dt = dt.name
    if name == "index_fill":
        if dt != "int64":
            raise TorchIndexError("index_fill_(): Expected dtype int64 for index.")
        if many:
            raise TorchRuntimeError("Index has to be a vector/scalar")
        return
    if many:
        if name == "index_copy":
            raise TorchIndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {idx.ndim})")
        raise TorchIndexError(f"{name}_(): Index is supposed to be a vector, but got dim: {idx.ndim} with type: "
                              f"{_word(idx)} and size: {list_str(idx.shape)}")
    if name == "index_copy" and dt != "int64":
        raise TorchRuntimeError(f"index_copy_(): Expected a long tensor for index, but got {_word(idx)}")
    if dt not in ("int64", "int32"):
        raise TorchRuntimeError(f"{name}_(): Expected dtype int32/int64 for index but got: {_word(idx)}")


def _index_check(a, dim, index, source, name):
    """The index and dim checks in torch's order: index_fill's index dtype, dim, index dims; the others' dim,
    then the index (_index_kind)."""
    idx = _arr(index)
    if name == "index_fill" and idx.dtype != _I64:
        _index_kind(idx, name)
    d = wrap_dim(dim, a.ndim) if a.ndim else 0
    _index_kind(idx, name)
    if source is not None:
        if a.dtype != source.dtype and name == "index_copy":
            raise TorchRuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                                    f"{_word(a)} and (source) {_word(source)}")
        if a.dtype != source.dtype:
            raise TorchRuntimeError(f"{name}_(): self ({_word(a)}) and source ({_word(source)}) must have the same "
                                    "scalar type")
    return d, _ints(idx).reshape(-1)


def _index_bounds(ii, size, d, name="index_copy"):
    bad = ii[(ii < 0) | (ii >= size)]
    if bad.size:
        raise TorchIndexError(f"{name}(): index {int(bad[0])} is out of bounds for dimension {d} with size {size}")


def _index_copy(a, dim, index, source):
    d, ii = _index_check(a, dim, index, source, "index_copy")
    if a.ndim and source.ndim and source.ndim != a.ndim:
        raise TorchIndexError("index_copy_(): When source and destination are not scalars, their dimensionality must "
                              "match. Source dimensionality (" + str(source.ndim) + "), destination dimensionality ("
                              + str(a.ndim) + ")")
    out = a.copy()
    if a.ndim == 0:
        return source.reshape(()).astype(a.dtype).copy() if ii.size else out
    if source.ndim and source.shape[d] != ii.size:
        raise TorchIndexError(f"index_copy_(): Number of indices ({ii.size}) should be equal to source.size(dim) "
                              f"({source.shape[d]})")
    _index_bounds(ii, a.shape[d], d, "index_copy_")
    shape = list(a.shape)
    shape[d] = ii.size
    out[_dim_prefix(d) + (B.xp.asarray(ii),)] = source.reshape(shape)
    return out


index_copy_op = defop(
    "index_copy(Tensor self, int dim, LongTensor index, Tensor source) -> Tensor", _index_copy,
    self=lambda grad, dim, index: index_fill_scalar(grad, dim, index, 0.0),
    source=lambda grad, source, dim, index: I.index_select_op(grad, dim, index).reshape(tuple(source.shape))
    if source.ndim else I.index_select_op(grad, dim, index).reshape(()),
    rule=lambda self, source: Cost(tuple(self.shape), numel(self.shape) + numel(source.shape)))


def _index_fill(a, dim, index, value):
    v = _arr(value)
    if isinstance(v, np.ndarray | type(B.xp.zeros(0))) and getattr(v, "ndim", 0) != 0:  # the value comes first
        raise TorchRuntimeError("index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                              f"{v.ndim} dimension(s).")
    if hasattr(v, "dtype") and v.dtype != a.dtype:  # aten: index_fill_(dim, index, value.item()), checked
        value = v.item()
    if isinstance(value, bool | int | float):
        scalar_arg(value)  # the Python parser's OverflowError, before every check
    d, ii = _index_check(a, dim, index, None, "index_fill")
    if isinstance(value, bool | int | float):  # a number: c10's checked conversion to self's dtype, after the dim
        v = value = fill_value(value, a.dtype)  # and index checks, before the bounds (torch's order; parity10)
    out = a.copy()
    if a.ndim == 0:
        return B.xp.asarray(v, dtype=a.dtype).reshape(()) if ii.size else out
    size = a.shape[d]
    bad = ii[(ii < -size) | (ii >= size)]
    if bad.size:
        raise TorchIndexError(f"index {int(bad[0])} is out of bounds for dimension {d} with size {size}")
    out[_dim_prefix(d) + (B.xp.asarray(ii % size if size else ii),)] = D.cast_array(B.xp.asarray(v), a.dtype)
    return out


def _index_fill_value_grad(grad, dim, index):
    ii = np.unique(_ints(index).reshape(-1))
    return I.index_select_op(grad, dim, _t(B.xp.asarray(ii))).sum()


index_fill_scalar = defop(
    "index_fill.int_Scalar(Tensor self, int dim, LongTensor index, Scalar value) -> Tensor", _index_fill,
    self=lambda grad, dim, index: index_fill_scalar(grad, dim, index, 0.0), rule=_like_self)
index_fill_tensor = defop(
    "index_fill.int_Tensor(Tensor self, int dim, LongTensor index, Tensor value) -> Tensor", _index_fill,
    self=lambda grad, dim, index: index_fill_scalar(grad, dim, index, 0.0),
    value=lambda grad, dim, index: _index_fill_value_grad(grad, dim, index), rule=_like_self)


def index_fill(input: Tensor, dim: int, index: Tensor, value: Tensor | float) -> Tensor:
    if isinstance(value, Tensor):
        return index_fill_tensor(input, dim, index, value)
    return index_fill_scalar(input, dim, index, value)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    return index_copy_op(input, dim, index, source)


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha: float = 1) -> Tensor:
    a, s, idx = input._data, source._data, _arr(index)
    if a.ndim:
        wrap_dim(dim, a.ndim)  # the dim first, then the index (torch's order)
    _index_kind(idx, "index_add")
    if a.dtype != s.dtype:
        raise TorchRuntimeError(f"index_add_(): self ({_word(a)}) and source ({_word(s)}) must have the same scalar "
                                "type")
    if a.ndim:
        d0 = wrap_dim(dim, a.ndim)
        if s.ndim and (s.ndim != a.ndim or any(s.shape[k] != a.shape[k] for k in range(a.ndim) if k != d0)):
            raise TorchRuntimeError("source tensor shape must match self tensor shape, excluding the specified "
                                    f"dimension. Got self.shape = {list_str(a.shape)} source.shape = "
                                    f"{list_str(s.shape)}")
        d = wrap_dim(dim, a.ndim)
        if s.ndim and s.shape[d] != idx.size:
            raise TorchIndexError(f"index_add_(): Number of indices ({idx.size}) should be equal to source.size(dim) "
                                  f"({s.shape[d]})")
        _index_bounds(_ints(idx).reshape(-1), a.shape[d], d, "index_add_")
    return I.index_add_op(input, dim, index, source, alpha=alpha)


def _index_reduce(a, dim, index, source, reduce, include_self=True):
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise TorchRuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got "
                                f"{reduce}.")
    d, ii = _index_check(a, dim, index, source, "index_reduce")
    out = a.copy()
    if a.ndim == 0:
        out = out.reshape(1)
        source = source.reshape(1)
        d = 0
    _index_bounds(ii, out.shape[d], d, "index_reduce_")
    idx = _dim_prefix(d) + (B.xp.asarray(ii),)
    shape = list(out.shape)
    shape[d] = ii.size
    vals = source.reshape(shape)
    if not include_self:
        init = {"prod": 1, "mean": 0, "amax": -np.inf, "amin": np.inf}[reduce]
        out[idx] = init
    if reduce == "mean":
        B.xp.add.at(out, idx, vals)
        count = np.bincount(ii, minlength=out.shape[d]) + (1 if include_self else 0)
        count = np.maximum(count, 1).reshape([-1 if k == d else 1 for k in range(out.ndim)])
        out = (out / B.xp.asarray(count)).astype(a.dtype) if a.dtype.kind == "f" else out // B.xp.asarray(count)
    else:
        {"prod": B.xp.multiply, "amax": B.xp.maximum, "amin": B.xp.minimum}[reduce].at(out, idx, vals)
    return out.reshape(a.shape)


def _index_reduce_backward(grad, self, source, dim, index, reduce, include_self, result, output_mask):
    """FunctionsManual's index_reduce_backward."""
    if reduce == "prod":
        masked_self = I.masked_fill(self, self == 0, 1)
        masked_self_result = index_reduce_op(masked_self, dim, index, source, reduce, include_self)
        grad_self = grad * masked_self_result / masked_self
        src_zero = source == 0
        src_num_zeros = I.index_select_op(
            I.index_add_op(_zeros_like(self), dim, index, src_zero.to(self.dtype)), dim, index)
        src_single_zero = P.logical_and(src_zero, src_num_zeros == 1)
        masked_src = I.masked_fill(source, src_single_zero, 1)
        masked_src_result = index_reduce_op(self, dim, index, masked_src, reduce, include_self)
        grad_src = P.where(src_single_zero, I.index_select_op(grad * masked_src_result, dim, index),
                           I.index_select_op(grad * result, dim, index) / I.masked_fill(source, src_zero, 1))
    elif reduce == "mean":
        n = _t(B.xp.ones(tuple(grad.shape), dtype=grad._data.dtype) if include_self
               else B.xp.zeros(tuple(grad.shape), dtype=grad._data.dtype))
        n = I.index_add_op(n, dim, index, _t(B.xp.ones(tuple(source.shape), dtype=grad._data.dtype)))
        n = I.masked_fill(n, n == 0, 1)
        grad_self = grad / n
        grad_src = I.index_select_op(grad, dim, index) / I.index_select_op(n, dim, index)
    else:
        value = I.index_select_op(result, dim, index)
        self_is_result = (self == result).to(self.dtype)
        source_is_result = (source == value).to(self.dtype)
        n_to_distribute = I.index_add_op(self_is_result, dim, index, source_is_result)
        grad_distributed = grad / n_to_distribute
        grad_self = self_is_result * grad_distributed
        grad_src = source_is_result * I.index_select_op(grad_distributed, dim, index)
    if not include_self:
        grad_self = index_fill_scalar(grad_self, dim, index, 0.0)
    return (grad_self if output_mask[0] else None), (grad_src if output_mask[1] else None)


index_reduce_op = defop(
    "index_reduce(Tensor self, int dim, LongTensor index, Tensor source, str reduce, *, bool include_self=True) "
    "-> Tensor", _index_reduce, joint_mask=True,
    self__source=lambda grad, self, source, dim, index, reduce, include_self, result, output_mask:
    _index_reduce_backward(grad, self, source, dim, index, reduce, include_self, result, output_mask),
    rule=lambda self, source: Cost(tuple(self.shape), numel(self.shape) + 2 * numel(source.shape)))

INDEX_REDUCE_BETA = "index_reduce() is in beta and the API may change at any time."


def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    import warnings  # noqa: PLC0415

    warnings.warn(INDEX_REDUCE_BETA, UserWarning, stacklevel=2)
    return index_reduce_op(input, dim, index, source, reduce, include_self)


# index_put is engine.ops.indexing's (its in-place form index_put_ and t[idx] = v share it)


# ----- combinations -----


def _fw_levels():
    from engine import autograd as A  # noqa: PLC0415

    return A._fw_levels


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """aten's combinations: meshgrid of r copies, a mask of the index tuples in order, masked_select, stack."""
    if input.ndim != 1:
        raise TorchRuntimeError(f"Expect a 1D vector, but got shape {list_str(input.shape)}")
    if r < 0:
        raise TorchRuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return _t(B.xp.zeros((0,), dtype=input._data.dtype))
    from engine.ops.shape_more import meshgrid  # noqa: PLC0415

    n = input.shape[0]
    if n == 0 and not input.requires_grad and not _fw_levels():
        # no tuples and no graph: the empty (0, r) answer at once (redteam9 F3: r copies of an empty vector)
        return _t(B.xp.zeros((0, r), dtype=input._data.dtype))
    # the n ** r grid tuples (without computing a huge power), and r copies: meshgrid's r grids, the index grids,
    # the mask's r - 1 steps, r masked_selects and stack's r pieces, Python steps of ~2 KB each, counted before
    # any is made (redteam9 F3: an empty or one-element vector gave n ** r = 0 or 1)
    grid = n ** r if n <= 1 or r * n.bit_length() <= 64 else 1 << 64
    budget.charge(grid + 1024 * r, 8, grid + 5 * PY_STEP * r, "combinations")
    grids = meshgrid(*([input] * r), indexing="ij")
    ar = B.xp.arange(n)
    index_grids = np.meshgrid(*([ar] * r), indexing="ij")
    mask = np.ones((n,) * r, dtype=bool)
    for i in range(r - 1):
        budget.check()
        mask &= (index_grids[i] <= index_grids[i + 1]) if with_replacement else (index_grids[i] < index_grids[i + 1])
    m = _t(B.xp.asarray(mask))
    return J.stack([masked_select_op(g, m) for g in grids], 1)


# the family's other parts, imported after this module's entries: the op table's old registration order
from engine.ops.scatter_masked_take import (  # noqa: E402
    masked_scatter,
    masked_scatter_op,
    masked_select,
    masked_select_op,
    put,
    put_op,
    take,
    take_along_dim,
    take_op,
)
from engine.ops.scatter_views import (  # noqa: E402
    as_strided_scatter,
    as_strided_scatter_op,
    diagonal_scatter,
    diagonal_scatter_op,
    select_scatter,
    select_scatter_op,
    slice_scatter,
    slice_scatter_op,
)

CATALOG = [
    entry("scatter", scatter, "Copy of input with src (or value) written at `index` along `dim`.", scatter_src,
          scatter_value),
    entry("scatter_reduce", scatter_reduce, "Copy of input with src reduced (sum, prod, mean, amax, amin) into it at "
          "`index` along `dim`.", scatter_reduce_op),
    entry("index_add", index_add, "Copy of input with alpha * source added at `index` along `dim`.", I.index_add_op),
    entry("index_copy", index_copy, "Copy of input with source's slices copied in at `index` along `dim`.",
          index_copy_op),
    entry("index_fill", index_fill, "Copy of input with `value` at `index` along `dim`.", index_fill_scalar,
          index_fill_tensor),
    entry("index_reduce", index_reduce, "Copy of input with source reduced (prod, mean, amax, amin) into it at "
          "`index` along `dim`.", index_reduce_op),
    entry("masked_select", masked_select, "The elements where the (broadcast) mask is true, as a 1-D tensor.",
          masked_select_op),
    entry("masked_scatter", masked_scatter, "Copy of input with source's elements, in order, where the mask is "
          "true.", masked_scatter_op),
    entry("take", take, "input's elements at flat `index`.", take_op),
    entry("put", put, "Copy of input with source put at flat `index` (accumulated on request).", put_op),
    entry("take_along_dim", take_along_dim, "Values along `dim` at `indices` (broadcast), or at flat indices.",
          grad_fns=("GatherBackward0",)),
    entry("select_scatter", select_scatter, "Copy of input with src written at index along dim.", select_scatter_op),
    entry("slice_scatter", slice_scatter, "Copy of input with src written in the slice start:end:step of dim.",
          slice_scatter_op),
    entry("diagonal_scatter", diagonal_scatter, "Copy of input with src written on a diagonal.",
          diagonal_scatter_op),
    entry("as_strided_scatter", as_strided_scatter, "Copy of input with src written at an as_strided view.",
          as_strided_scatter_op),
    entry("combinations", combinations, "The r-length combinations of a 1-D tensor's elements, one per row.",
          method=False, grad_fns=("StackBackward0", "MaskedSelectBackward0")),
]
