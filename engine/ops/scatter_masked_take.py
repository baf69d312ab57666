"""Mask- and flat-index ops of the scatter family: masked_select / masked_scatter, take / put / take_along_dim."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchIndexError, TorchRuntimeError
from engine.ops import indexing as I
from engine.ops import join as J
from engine.ops import shape as S
from engine.ops._util import broadcast_shapes, wrap_dim
from engine.ops.registry import defop
from engine.ops.rules import Cost, numel
from engine.ops.scatter_common import _arr, _ints, _t, _word, _zeros_like
from engine.tensor import Tensor

# ----- masked_select / masked_scatter -----


def _check_bool_mask(mask, name):
    if mask.dtype.kind != "b":
        raise TorchRuntimeError(f"{name}: expected BoolTensor for mask")


def _masked_select(a, mask):
    m = _arr(mask)
    _check_bool_mask(m, "masked_select")
    shape = broadcast_shapes(tuple(a.shape), tuple(m.shape))
    return np.broadcast_to(a, shape)[np.broadcast_to(m, shape)]


def _masked_select_backward(grad, self, mask):
    m = _arr(mask)
    shape = broadcast_shapes(tuple(self.shape), tuple(m.shape))
    z = _t(B.xp.zeros(shape, dtype=grad._data.dtype))
    return masked_scatter_op(z, _t(np.broadcast_to(m, shape)), grad)


masked_select_op = defop("masked_select(Tensor self, BoolTensor mask) -> Tensor", _masked_select,
                         self=lambda grad, self, mask: _masked_select_backward(grad, self, mask),
                         rule=lambda self, mask: Cost(
                             (numel(np.broadcast_shapes(tuple(self.shape), tuple(mask.shape))),), numel(self.shape),
                             exact=False))


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    return masked_select_op(input, mask)


def _masked_scatter(a, mask, source):
    m = _arr(mask)
    if m.dtype.kind != "b":
        raise TorchRuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {_word(m)}")
    if a.dtype != source.dtype:
        raise TorchRuntimeError(f"masked_scatter: expected self and source to have same dtypes but got{_word(a)} and "
                                f"{_word(source)}")
    shape = broadcast_shapes(tuple(a.shape), tuple(m.shape))
    out = np.broadcast_to(a, shape).copy()
    mb = np.broadcast_to(m, shape)
    n = int(mb.sum())
    if n > source.size:
        raise TorchRuntimeError("Number of elements of source < number of ones in mask")
    out[mb] = source.reshape(-1)[:n]
    return out


def _masked_scatter_source_grad(grad, mask, source_shape):
    sel = masked_select_op(grad, mask)
    diff = numel(source_shape) - sel.numel()
    if diff > 0:
        sel = J.cat([sel, _t(B.xp.zeros((diff,), dtype=grad._data.dtype))], 0)
    return S.view(sel, *source_shape)


masked_scatter_op = defop(
    "masked_scatter(Tensor self, BoolTensor mask, Tensor source) -> Tensor", _masked_scatter,
    self=lambda grad, mask: I.masked_fill(grad, _t(_arr(mask)), 0.0),
    source=lambda grad, mask, source_shape: _masked_scatter_source_grad(grad, _t(_arr(mask)), source_shape),
    rule=lambda self, mask: Cost(tuple(np.broadcast_shapes(tuple(self.shape), tuple(mask.shape))),
                                 numel(self.shape)))


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    return masked_scatter_op(input, mask, source)


# ----- take / put / take_along_dim -----


def _take(a, index):
    idx = _arr(index)
    if idx.dtype.name != "int64":
        raise TorchRuntimeError(f"take(): Expected a long tensor for index, but got {_word(idx)}")
    ii = _ints(idx)
    n = a.size
    if a.size == 0 and ii.size:
        raise TorchIndexError("take(): tried to take from an empty tensor")
    bad = ii[(ii < -n) | (ii >= n)]
    if bad.size:
        raise TorchIndexError(f"out of range: tried to access index {int(bad.reshape(-1)[0])} on a tensor of {n} "
                              "elements.")
    return B.xp.ascontiguousarray(a).reshape(-1)[B.xp.asarray(ii % n if n else ii)].reshape(ii.shape)


def _put(a, index, source, accumulate=False):
    idx = _arr(index)
    if idx.dtype.name != "int64":
        raise TorchRuntimeError(f"put_(): Expected a long tensor for index, but got {_word(idx)}")
    if a.dtype != source.dtype:
        raise TorchRuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                                f"{_word(a)} and source.dtype = {_word(source)}")
    ii = _ints(idx).reshape(-1)
    if ii.size != source.size:
        raise TorchRuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                                f"source.numel() = {source.size}, index.numel() = {ii.size}")
    n = a.size
    bad = ii[(ii < -n) | (ii >= n)]
    if bad.size:
        raise TorchIndexError(f"out of range: tried to access index {int(bad[0])} on a tensor of {n} elements.")
    out = B.xp.ascontiguousarray(a).copy().reshape(-1)
    where = B.xp.asarray(ii % n if n else ii)
    if accumulate:
        B.xp.add.at(out, where, source.reshape(-1))
    else:
        out[where] = source.reshape(-1)
    return out.reshape(a.shape)


take_op = defop("take(Tensor self, LongTensor index) -> Tensor", _take,
                self=lambda grad, self, index: put_op(_zeros_like(self), index, grad, True),
                rule=lambda self, index: Cost(tuple(index.shape), numel(index.shape)))
put_op = defop(
    "put(Tensor self, LongTensor index, Tensor source, bool accumulate=False) -> Tensor", _put,
    self=lambda grad, index, source_shape, accumulate: grad if accumulate else put_op(
        grad, index, _t(B.xp.zeros(source_shape, dtype=grad._data.dtype)), False),
    source=lambda grad, index, source: S.reshape(take_op(grad, index), tuple(source.shape)),
    rule=lambda self, source: Cost(tuple(self.shape), numel(self.shape) + numel(source.shape)))


def take(input: Tensor, index: Tensor) -> Tensor:
    return take_op(input, index)


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    return put_op(input, index, source, accumulate)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    if indices.dtype.name not in ("int64",):
        raise TorchRuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                                f"{D.scalar_type_name(indices.dtype)}")
    if dim is None:
        return I.gather_op(S.view(input, -1), 0, _t(B.xp.reshape(indices._data, (-1,))))
    if input.ndim != indices.ndim:
        raise TorchRuntimeError(f"torch.take_along_dim(): input and indices should have the same number of "
                                f"dimensions, but got {input.ndim} dimensions for input, and {indices.ndim} "
                                "dimensions for indices")
    d = wrap_dim(dim, input.ndim)
    # aten's _take_along_dim_helper: both broadcast (expand) to the shape with the other's size at dim
    self_sizes = list(input.shape)
    self_sizes[d] = indices.shape[d]
    ishape = broadcast_shapes(tuple(self_sizes), tuple(indices.shape))
    idx_sizes = list(indices.shape)
    idx_sizes[d] = input.shape[d]
    xshape = broadcast_shapes(tuple(idx_sizes), tuple(input.shape))
    raw = indices._data
    raw = B.xp.where(raw < 0, raw + input.shape[d], raw)  # negative indices count from the end, as torch's
    idx = _t(np.broadcast_to(raw, ishape))
    return I.gather_op(S.expand(input, xshape), d, idx)
