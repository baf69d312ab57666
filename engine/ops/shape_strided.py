"""Strided views of the storage: Tensor.unfold and as_strided, with their backward entries."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget
from engine.errors import TorchRuntimeError
from engine.ops._cost import by_forward
from engine.ops._util import list_str, wrap_dim
from engine.ops.registry import defop
from engine.ops.rules import PY_STEP, Cost, numel
from engine.tensor import Tensor

# ----- unfold (Tensor.unfold) -----


def _unfold(a, dimension, size, step):
    d = wrap_dim(dimension, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if size > n:
        raise TorchRuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise TorchRuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise TorchRuntimeError(f"size is {size} but must be >= 0")
    if a.ndim == 0:
        return a.reshape(1)
    win = np.lib.stride_tricks.sliding_window_view(a, size, axis=d)
    return win[(slice(None),) * d + (slice(None, None, step),)]


def _unfold_backward(grad, input_sizes, dim, size, step):
    out = B.xp.zeros(tuple(input_sizes), dtype=grad.dtype)
    if not input_sizes:
        return grad.reshape(()).copy()
    if grad.size == 0:  # every window empty: nothing to add (redteam9 F3: a [0, N] input stepped N windows)
        return out
    d = wrap_dim(dim, len(input_sizes))
    g = np.moveaxis(grad, d, -2)  # (..., windows, size)
    o = np.moveaxis(out, d, -1)
    windows = g.shape[-2]
    if size < windows:  # one add per position in the window, over every window at once (a step apart: no overlap)
        span = (windows - 1) * step + 1
        # the last position first: each output element then gets its windows' terms first window first, torch's
        # order (an ulp apart otherwise where three or more windows overlap)
        for k in reversed(range(size)):
            budget.check()
            o[..., k:k + span:step] += g[..., :, k]
    else:
        for w in range(windows):
            budget.check()
            o[..., w * step:w * step + size] += g[..., w, :]
    return out


def _unfold_backward_rule(grad_in, input_sizes, dim, size):
    """The gradient's elements read once, the input's written; min(windows, size) Python steps (the loop of
    _unfold_backward), none where the gradient is empty."""
    n = numel(grad_in.shape)
    windows = int(grad_in.shape[dim % len(input_sizes)]) if len(input_sizes) and len(grad_in.shape) > 1 else 1
    steps = min(windows, int(size)) if n else 0
    return Cost(tuple(input_sizes), n + numel(input_sizes) + PY_STEP * steps)


unfold_op = defop("unfold(Tensor(a) self, int dimension, int size, int step) -> Tensor(a)", _unfold,
                  self=lambda grad, self_shape, dimension, size, step: unfold_backward_op(
                      grad, self_shape, dimension, size, step),
                  rule=by_forward(_unfold, ("self", "dimension", "size", "step"), ("self",)))
unfold_backward_op = defop(
    "unfold_backward(Tensor grad_in, SymInt[] input_sizes, int dim, int size, int step) -> Tensor",
    _unfold_backward, grad_in=lambda grad, dim, size, step: unfold_op(grad, dim, size, step),
    rule=_unfold_backward_rule)


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    return unfold_op(input, dimension, size, step)


# ----- as_strided: views of the (contiguous) storage -----


def _as_strided_check(a, size, stride, storage_offset):
    size, stride = [int(s) for s in size], [int(s) for s in stride]
    if len(size) != len(stride):
        raise TorchRuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise TorchRuntimeError(f"as_strided: Negative strides are not supported at the moment, got strides: "
                                f"{list_str(stride)}")
    off = int(storage_offset or 0)
    if off < 0:
        raise TorchRuntimeError(f"Tensor: invalid storage offset {off}")
    need = 0 if any(s == 0 for s in size) else off + 1 + sum((n - 1) * st for n, st in zip(size, stride))
    if need > a.size:
        raise TorchRuntimeError(
            f"setStorage: sizes {list_str(size)}, strides {list_str(stride)}, storage offset {off}, and itemsize "
            f"{a.dtype.itemsize} requiring a storage size of {need * a.dtype.itemsize} are out of bounds for storage "
            f"of size {a.size * a.dtype.itemsize}")
    return size, stride, off


def _as_strided(a, size, stride, storage_offset=None):
    size, stride, off = _as_strided_check(a, size, stride, storage_offset)
    flat = B.xp.ascontiguousarray(a).reshape(-1)
    item = flat.dtype.itemsize
    return np.lib.stride_tricks.as_strided(flat[off:], tuple(size), tuple(s * item for s in stride), writeable=False)


def _strided_index(size, stride, off):
    idx = np.full(tuple(size), off, dtype=np.int64)
    for k, (n, st) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[k] = n
        idx = idx + (np.arange(n) * st).reshape(shape)
    return idx


def _as_strided_backward(grad, input_sizes, size, stride, storage_offset):
    """The storage's gradient: each view element's grad added at its storage position (overlaps add up)."""
    n = numel(input_sizes)
    out = np.zeros(n, dtype=grad.dtype)
    if grad.size:
        np.add.at(out, _strided_index(size, stride, int(storage_offset or 0)).reshape(-1), np.asarray(grad).reshape(-1))
    return B.xp.asarray(out.reshape(tuple(input_sizes)))


as_strided_op = defop(
    "as_strided(Tensor(a) self, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None) -> Tensor(a)",
    _as_strided,
    self=lambda grad, self_shape, size, stride, storage_offset: as_strided_backward_op(
        grad, self_shape, size, stride, storage_offset),
    rule=lambda self, size, stride: Cost(tuple(int(s) for s in size), 0))
as_strided_backward_op = defop(
    "as_strided_backward(Tensor grad, SymInt[] input_sizes, SymInt[] size, SymInt[] stride, SymInt? storage_offset)"
    " -> Tensor", _as_strided_backward,
    grad=lambda grad, input_sizes, size, stride, storage_offset: as_strided_op(
        grad, size, stride, storage_offset),
    rule=lambda grad, input_sizes: Cost(tuple(input_sizes), 2 * numel(grad.shape), numel(grad.shape)))


def as_strided(input: Tensor, size: list[int], stride: list[int], storage_offset: int | None = None) -> Tensor:
    return as_strided_op(input, list(size), list(stride), storage_offset)
