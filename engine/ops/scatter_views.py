"""The view ops' scatter forms: select_scatter, slice_scatter, diagonal_scatter, as_strided_scatter (the source
written into a copy of the input where the view would read)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.errors import TorchRuntimeError
from engine.ops import indexing as I
from engine.ops import join as J
from engine.ops._util import list_str, wrap_dim
from engine.ops.indexing_views import _dim_prefix, _select, _slice, _slice_bounds
from engine.ops.join_rearrange import _diag_dims, _diagonal
from engine.ops.registry import defop
from engine.ops.scatter_common import _like_self, _t
from engine.tensor import Tensor

# ----- select / slice / diagonal / as_strided _scatter -----


def _select_scatter(a, src, dim, index):
    view = _select(a, dim, index)
    if tuple(view.shape) != tuple(src.shape):
        raise TorchRuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                                f"{list_str(src.shape)}, slice size = {list_str(view.shape)}")
    out = a.copy()
    d = wrap_dim(dim, a.ndim)
    out[_dim_prefix(d) + (int(index), Ellipsis)] = src
    return out


select_scatter_op = defop(
    "select_scatter(Tensor self, Tensor src, int dim, SymInt index) -> Tensor", _select_scatter,
    self=lambda grad, src_shape, dim, index: select_scatter_op(
        grad, _t(B.xp.zeros(src_shape, dtype=grad._data.dtype)), dim, index),
    src=lambda grad, dim, index: I.select_int(grad, dim, index), rule=_like_self)


def _slice_scatter(a, src, dim=0, start=None, end=None, step=1):
    view = _slice(a, dim, start, end, step)
    if tuple(view.shape) != tuple(src.shape):
        raise TorchRuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                                f"{list_str(src.shape)}, slice size = {list_str(view.shape)}")
    out = a.copy()
    d = wrap_dim(dim, a.ndim)
    s, e = _slice_bounds(a.shape[d], start, end, step)
    out[_dim_prefix(d) + (slice(s, e, int(step)),)] = src
    return out


slice_scatter_op = defop(
    "slice_scatter(Tensor self, Tensor src, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1) "
    "-> Tensor", _slice_scatter,
    self=lambda grad, src_shape, dim, start, end, step: slice_scatter_op(
        grad, _t(B.xp.zeros(src_shape, dtype=grad._data.dtype)), dim, start, end, step),
    src=lambda grad, dim, start, end, step: I.slice_op(grad, dim, start, end, step), rule=_like_self)


def _diagonal_scatter(a, src, offset=0, dim1=0, dim2=1):
    view = _diagonal(a, offset, dim1, dim2)
    if tuple(view.shape) != tuple(src.shape):
        raise TorchRuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                                f"{list_str(src.shape)}, slice size = {list_str(view.shape)}")
    out = a.copy()
    d1, d2 = _diag_dims(a.ndim, dim1, dim2)
    n = src.shape[-1] if src.ndim else 0
    if n:
        i = np.arange(n)
        r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
        moved = np.moveaxis(out, (d1, d2), (-2, -1))
        moved[..., B.xp.asarray(r), B.xp.asarray(c)] = src
    return out


diagonal_scatter_op = defop(
    "diagonal_scatter(Tensor self, Tensor src, int offset=0, int dim1=0, int dim2=1) -> Tensor", _diagonal_scatter,
    self=lambda grad, src_shape, offset, dim1, dim2: diagonal_scatter_op(
        grad, _t(B.xp.zeros(src_shape, dtype=grad._data.dtype)), offset, dim1, dim2),
    src=lambda grad, offset, dim1, dim2: J.diagonal_op(grad, offset, dim1, dim2), rule=_like_self)


def _as_strided_scatter(a, src, size, stride, storage_offset=None):
    from engine.ops.shape_strided import _as_strided_check, _strided_index  # noqa: PLC0415

    size, stride, off = _as_strided_check(a, size, stride, storage_offset)
    if tuple(size) != tuple(src.shape):
        raise TorchRuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                                f"{list_str(src.shape)}, slice size = {list_str(size)}")
    out = B.xp.ascontiguousarray(a).copy().reshape(-1)
    if src.size:
        out[B.xp.asarray(_strided_index(size, stride, off).reshape(-1))] = src.reshape(-1)
    return out.reshape(a.shape)


def _as_strided_scatter_self_grad(grad, self_shape, size, stride, storage_offset):
    """FunctionsManual's as_strided_scatter_backward: the (contiguous) grad's values at the scattered positions,
    zeros elsewhere."""
    from engine.ops.shape_strided import as_strided_op  # noqa: PLC0415

    piece = as_strided_op(grad.contiguous(), size, stride, storage_offset)
    return as_strided_scatter_op(_t(B.xp.zeros(self_shape, dtype=grad._data.dtype)), piece, size, stride,
                                 storage_offset)


def _as_strided_scatter_src_grad(grad, size, stride, storage_offset):
    from engine.ops.shape_strided import as_strided_op  # noqa: PLC0415

    return as_strided_op(grad.contiguous(), size, stride, storage_offset)


as_strided_scatter_op = defop(
    "as_strided_scatter(Tensor self, Tensor src, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None) "
    "-> Tensor", _as_strided_scatter,
    self=lambda grad, self_shape, size, stride, storage_offset: _as_strided_scatter_self_grad(
        grad, self_shape, size, stride, storage_offset),
    src=lambda grad, size, stride, storage_offset: _as_strided_scatter_src_grad(grad, size, stride, storage_offset),
    rule=_like_self)


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    return select_scatter_op(input, src, dim, int(index))


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start: int | None = None, end: int | None = None,
                  step: int = 1) -> Tensor:
    return slice_scatter_op(input, src, dim, start, end, step)


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    return diagonal_scatter_op(input, src, offset, dim1, dim2)


def as_strided_scatter(input: Tensor, src: Tensor, size: list[int], stride: list[int],
                       storage_offset: int | None = None) -> Tensor:
    return as_strided_scatter_op(input, src, list(size), list(stride), storage_offset)
