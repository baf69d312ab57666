"""sum and mean in torch's summation order, and sum_to_shape (a broadcast gradient summed back to its shape)."""

from __future__ import annotations

import numpy as np

from engine.errors import TorchRuntimeError
from engine.ops import registry as _registry
from engine.ops._torch_sum import full_sum, torch_sum, vector_sum
from engine.ops._util import wrap_dims
from engine.ops.jvp import batched, shifted
from engine.ops.reduction_common import (
    _TORCH_SUM,
    _acc_dtype,
    _all_dims,
    _cast,
    _check_autograd_dtype,
    _dims_arg,
    _expand_reduced,
    _expand_reduced_array,
    _numel_reduced,
    _red,
    _word,
)
from engine.ops.registry import defop
from engine.tensor import Tensor

# ----- torch's summation order (SumKernel.cpp's cascade_sum), so float sums agree to the last bit -----
# engine/ops/_torch_sum.py replays it for contiguous float32/float64 arrays: full sums of any size (torch's
# two-pass split among its threads past GRAIN_SIZE included) and dim sums below GRAIN_SIZE.


def _fsum(a, axes, keepdims):
    """np.sum over `axes` (None: all), in torch's order where modelled."""
    if axes is None and a.ndim and not keepdims:  # a full sum (every broadcast gradient of a 0-d tensor): direct
        r = full_sum(a)
        if r is not None:
            return r
    ax = tuple(range(a.ndim)) if axes is None else tuple(sorted(axes))
    if a.ndim and isinstance(a, np.ndarray):
        r = torch_sum(a, ax)
        if r is not None:
            return r if keepdims else r.reshape(tuple(s for i, s in enumerate(a.shape) if i not in ax))
    return np.sum(a, axis=axes, keepdims=keepdims)


def _sum(a, dim=None, keepdim=False, dtype=None):
    axes = None if (dim is None or dim == [] or dim == ()) else wrap_dims(dim, a.ndim)
    if a.ndim == 0:
        axes = None
    acc = _acc_dtype(a, dtype)
    if a.dtype.kind == "f" and (acc is None or np.dtype(acc).kind == "f") and a.dtype != np.float16:
        return _fsum(a if acc is None else a.astype(acc), axes, keepdim)
    out = np.sum(a, axis=axes, keepdims=keepdim, dtype=acc)
    if a.dtype == np.float16 and dtype is None:
        out = out.astype(np.float16)
    return out


def _sum_all(a, dtype=None):
    """sum's forward: _sum(a) over every axis; a float32/float64 array of at least one dimension straight to
    full_sum (the route _sum takes it by, without its dispatch)."""
    if dtype is None and type(a) is np.ndarray and a.ndim:
        r = full_sum(a)
        if r is not None:
            return r
    return _sum(a, None, False, dtype)


_ndarray = np.ndarray


def _broadcast_scalar_grad(grad, self_shape):
    """SumBackward0's array formula: np.broadcast_to(grad, self_shape); a 0-d gradient as the same read-only
    view of its one value (every stride 0), made directly (np.broadcast_to's checks cost ~2 us)."""
    if type(grad) is _ndarray and not grad.ndim and grad.flags.c_contiguous:
        out = _ndarray(self_shape, grad.dtype, grad, 0, (0,) * len(self_shape))
        out.flags.writeable = False
        return out
    return np.broadcast_to(grad, self_shape)


sum_op = defop(
    "sum(Tensor self, *, ScalarType? dtype=None) -> Tensor",
    _sum_all,
    vjp={"self": _broadcast_scalar_grad},
    rule=lambda self, dtype: _red(self, temp=_cast(dtype) + _TORCH_SUM, bwd=1),
    jvp=batched("linear", lambda op, vals, tangents, out, bsz: _batched_all(sum_dim, tangents[0], vals[1])),
    self=lambda grad, self_shape: grad.expand(self_shape),
)
sum_dim = defop(
    "sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
    _sum,
    vjp={"self": lambda grad, self_shape, dim, keepdim: _expand_reduced_array(grad, self_shape, dim, keepdim)},
    # (+2 output-sized: a sum over leading and trailing dims holds its rows' sums and their total, _torch_sum)
    rule=lambda self, dim, keepdim, dtype: _red(self, dim, keepdim, temp=_cast(dtype) + _TORCH_SUM, bwd=1, out_temp=2),
    jvp=shifted("linear", "*dim"),
    self=lambda grad, self_shape, dim, keepdim: _expand_reduced(grad, self_shape, dim, keepdim),
)


def _batched_all(op, t, dtype):
    """sum / mean over every dim of a batched tangent but its first (a 0-d primal's tangent: itself)."""
    if t.ndim == 1:
        return t if dtype is None else t.to(dtype)
    return op(t, dim=list(range(1, t.ndim)), keepdim=False, dtype=dtype)


def _mean(a, dim=None, keepdim=False, dtype=None):
    if dtype is None and a.dtype.kind != "f":
        raise TorchRuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex "
            f"dtype. Got: {_word(a.dtype)}"
        )
    if dtype is not None and not dtype.is_floating_point:
        raise TorchRuntimeError(
            "mean(): could not infer output dtype. Optional dtype must be either a floating point or complex "
            f"dtype. Got: {_word(dtype.np)}"
        )
    if dtype is not None:
        a = a.astype(dtype.np)
    axes = None if (dim is None or dim == [] or dim == () or a.ndim == 0) else wrap_dims(dim, a.ndim)
    if a.dtype == np.float16:
        return np.mean(a, axis=axes, keepdims=keepdim, dtype=np.float32).astype(np.float16)
    n = a.size if axes is None else int(np.prod([a.shape[d] for d in axes]))
    with np.errstate(all="ignore"):
        return np.true_divide(_fsum(a, axes, keepdim), n)  # torch: sum, then div_(numel reduced)


mean_op = defop(
    "mean(Tensor self, *, ScalarType? dtype=None) -> Tensor",
    lambda a, dtype=None: _mean(a, None, False, dtype),
    # (the same view of the 0-d gradient np.broadcast_to gives, made directly: _broadcast_scalar_grad)
    vjp={"self": lambda grad, self_shape: _broadcast_scalar_grad(grad, self_shape) / _numel_reduced(self_shape, None)},
    rule=lambda self, dtype: _red(self, weight=2, temp=_cast(dtype) + _TORCH_SUM, out_temp=1, bwd=1),
    jvp=batched("linear", lambda op, vals, tangents, out, bsz: _batched_all(mean_dim, tangents[0], vals[1])),
    self=lambda grad, self_shape: grad.expand(self_shape) / _numel_reduced(self_shape, None),
)
mean_dim = defop(
    "mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
    _mean,
    rule=lambda self, dim, keepdim, dtype: _red(self, dim, keepdim, 2, temp=_cast(dtype) + _TORCH_SUM, out_temp=1,
                                                   bwd=1),
    jvp=shifted("linear", "*dim"),
    vjp={"self": lambda grad, self_shape, dim, keepdim: (
        _expand_reduced_array(grad, self_shape, dim, keepdim) / _numel_reduced(self_shape, dim))},
    self=lambda grad, self_shape, dim, keepdim: (
        _expand_reduced(grad, self_shape, dim, keepdim) / _numel_reduced(self_shape, dim)
    ),
)


def sum(input: Tensor, dim: int | list[int] | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    if dim is None and not keepdim:
        return _check_autograd_dtype(input, dtype, sum_op(input, dtype=dtype))
    return _check_autograd_dtype(input, dtype, sum_dim(input, dim=dim, keepdim=keepdim, dtype=dtype))


def mean(input: Tensor, dim: int | list[int] | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    if dim is None and not keepdim:
        return mean_op(input, dtype=dtype)
    return mean_dim(input, dim=dim, keepdim=keepdim, dtype=dtype)


def _sum_to_dims(gshape, shape):
    """The dims torch's at::sum_to sums over: the leading ones, and those `shape` has as 1 and the gradient not."""
    lead = len(gshape) - len(shape)
    return [*range(lead), *(i + lead for i, s in enumerate(shape) if s == 1 and gshape[i + lead] != 1)], lead


def sum_to_shape_array(a, shape):
    """sum_to_shape on an array (backward without create_graph): the same sums by the same forward."""
    if shape == () and type(a) is np.ndarray and a.ndim == 1:  # a 0-d operand's gradient (mul by a 0-d w)
        r = vector_sum(a)
        if r is not None:
            return r
    shape = tuple(shape)
    if not shape:
        r = full_sum(a) if a.ndim else None  # float32/64: what _sum gives, without its dispatch
        return r if r is not None else _sum(a, None, False)
    if a.ndim == 2 and shape == a.shape[1:] and a.dtype.char in "fd":  # a bias's gradient: _sum's, undispatched
        r = torch_sum(a, (0,))
        if r is not None:
            return r.reshape(shape)
    dims, lead = _sum_to_dims(a.shape, shape)
    if dims:
        a = _sum(a, dims, True)
    return a.reshape(shape) if lead > 0 else a


def sum_to_shape(g: Tensor, shape) -> Tensor:
    """Sum a broadcast gradient back down to `shape` as torch's at::sum_to does (so a create_graph backward
    records its nodes): a 0-d target is sum() (SumBackward0); else one keepdim sum over the leading dims and
    the broadcast ones (SumBackward1), then a view to drop the leading ones (ViewBackward0)."""
    shape = tuple(shape)
    if not shape:
        return sum_op(g)
    dims, lead = _sum_to_dims(g._data.shape, shape)
    if dims:
        g = sum_dim(g, dim=dims, keepdim=True)
    if lead > 0:
        from engine.ops.shape import view_op  # noqa: PLC0415 - engine.ops.shape imports this module

        g = view_op(g, list(shape))
    return g


_registry._SUM_TO = (sum_to_shape, sum_to_shape_array)  # validate_outputs' sum, for the registry


def _red_sum(x, dim, keepdim):
    """x summed over a reduction's dims (None or [] for all of them), as its result is laid out."""
    return sum_dim(x, dim=None if _all_dims(dim) else _dims_arg(dim), keepdim=keepdim)
