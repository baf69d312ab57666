"""Reductions: sum, mean and the rest, with torch's keepdim, dtype and overload rules."""
from __future__ import annotations

import numpy as np

from engine import dtypes as D
from engine.errors import TorchRuntimeError
from engine.ops._util import wrap_dims
from engine.ops.registry import defop
from engine.tensor import Tensor


def _acc_dtype(a, dtype):
    if dtype is not None:
        return dtype.np
    if a.dtype.kind in "biu":
        return np.int64
    if a.dtype == np.float16:
        return np.float32  # torch accumulates half in float
    return None


def _sum(a, dim=None, keepdim=False, dtype=None):
    axes = None if (dim is None or dim == [] or dim == ()) else wrap_dims(dim, a.ndim)
    if a.ndim == 0:
        axes = None
    acc = _acc_dtype(a, dtype)
    out = np.sum(a, axis=axes, keepdims=keepdim, dtype=acc)
    if a.dtype == np.float16 and dtype is None:
        out = out.astype(np.float16)
    return out


def _expand_reduced(grad, shape, dim, keepdim):
    """sum_backward: put back the reduced dims, then expand to the input's shape."""
    if not keepdim and len(shape) and grad.ndim != len(shape):
        for d in wrap_dims(dim, len(shape)) if dim is not None and dim != [] and dim != () else range(len(shape)):
            grad = grad.unsqueeze(d)
    return grad.expand(shape)


sum_op = defop(
    "sum(Tensor self, *, ScalarType? dtype=None) -> Tensor",
    lambda a, dtype=None: _sum(a, None, False, dtype),
    self=lambda grad, self_shape: grad.expand(self_shape),
)
sum_dim = defop(
    "sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
    _sum,
    self=lambda grad, self_shape, dim, keepdim: _expand_reduced(grad, self_shape, dim, keepdim),
)


def _numel_reduced(shape, dim):
    if dim is None or dim == [] or dim == ():
        n = 1
        for s in shape:
            n *= s
        return n
    n = 1
    for d in wrap_dims(dim, len(shape)):
        n *= shape[d]
    return n


def _mean(a, dim=None, keepdim=False, dtype=None):
    if dtype is None and a.dtype.kind != "f":
        raise TorchRuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex "
            f"dtype. Got: {_word(a.dtype)}"
        )
    if dtype is not None:
        a = a.astype(dtype.np)
    axes = None if (dim is None or dim == [] or dim == () or a.ndim == 0) else wrap_dims(dim, a.ndim)
    if a.dtype == np.float16:
        return np.mean(a, axis=axes, keepdims=keepdim, dtype=np.float32).astype(np.float16)
    return np.mean(a, axis=axes, keepdims=keepdim)


def _word(npdt):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
            "bool": "Bool", "int16": "Short", "int8": "Char", "uint8": "Byte"}[np.dtype(npdt).name]


mean_op = defop(
    "mean(Tensor self, *, ScalarType? dtype=None) -> Tensor",
    lambda a, dtype=None: _mean(a, None, False, dtype),
    self=lambda grad, self_shape: grad.expand(self_shape) / _numel_reduced(self_shape, None),
)
mean_dim = defop(
    "mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
    _mean,
    self=lambda grad, self_shape, dim, keepdim: _expand_reduced(grad, self_shape, dim, keepdim)
    / _numel_reduced(self_shape, dim),
)


def sum(input: Tensor, dim: int | list[int] | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    if dim is None and not keepdim:
        return sum_op(input, dtype=dtype)
    return sum_dim(input, dim=dim, keepdim=keepdim, dtype=dtype)


def mean(input: Tensor, dim: int | list[int] | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    if dim is None and not keepdim:
        return mean_op(input, dtype=dtype)
    return mean_dim(input, dim=dim, keepdim=keepdim, dtype=dtype)


def sum_to_shape(g: Tensor, shape) -> Tensor:
    """Sum a broadcast gradient back down to `shape` (torch's at::sum_to), once, in the engine."""
    shape = tuple(shape)
    lead = g.ndim - len(shape)
    if lead > 0:
        g = sum_dim(g, dim=list(range(lead)), keepdim=False)
    dims = [i for i, s in enumerate(shape) if s == 1 and g._data.shape[i] != 1]
    if dims:
        g = sum_dim(g, dim=dims, keepdim=True)
    return g


from engine.ops.registry import entry  # noqa: E402

CATALOG = [
    entry("sum", sum, "Sum over all elements or over `dim`.", sum_op, sum_dim),
    entry("mean", mean, "Mean over all elements or over `dim`.", mean_op, mean_dim),
]
