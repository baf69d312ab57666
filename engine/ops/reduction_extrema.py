"""amax / amin and max / min (all, over a dim returning (values, indices), elementwise): ties share the gradient."""

from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.errors import TorchIndexError, TorchRuntimeError
from engine.ops import pointwise as P
from engine.ops import rules as R
from engine.ops._util import wrap_dim
from engine.ops.reduction_common import _all_dims, _dims_arg, _ones, _out, _red, _reduced_dims, _unsqueeze_multiple
from engine.ops.reduction_sum import _red_sum, sum_dim, sum_op
from engine.ops.registry import defop
from engine.tensor import Tensor

# ----- amax / amin -----


def _check_nonempty(a, name, dims, all_dims, index_error=False, suffix=True):
    if a.size != 0:
        return
    if all_dims:
        msg = f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
        if suffix:
            msg += " Specify the reduction dim with the 'dim' argument."
        raise (TorchIndexError if index_error else TorchRuntimeError)(msg)
    for d in dims:
        if a.shape[d] == 0:
            raise TorchIndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _amaxmin(name, fn):
    def f(a, dim=(), keepdim=False):
        dims = _reduced_dims(dim, a.ndim)
        _check_nonempty(a, name, dims, _all_dims(dim) or a.ndim == 0)
        if a.ndim == 0:
            return a.copy()
        return _out(fn(a, axis=dims, keepdims=keepdim))

    return f


def _amaxmin_backward(grad, self, result, dim, keepdim):
    """scale_grad_by_count: ties share the gradient evenly."""
    dims = _reduced_dims(dim, self.ndim)
    if not keepdim and self.ndim:
        grad = _unsqueeze_multiple(grad, dims, self.ndim)
        result = _unsqueeze_multiple(result, dims, self.ndim)
    mask = result == self
    return (grad / sum_dim(mask, dim=list(dims), keepdim=True)) * mask


amax_op = defop(
    "amax(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor",
    _amaxmin("amax", np.amax),
    rule=lambda self, dim, keepdim: _red(self, dim, keepdim, bwd=3),  # the tie mask, grad / count, * mask
    jvp=lambda self_t, self, result, dim, keepdim: _amaxmin_jvp(self_t, self, result, dim, keepdim),
    self=_amaxmin_backward,
)
amin_op = defop(
    "amin(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor",
    _amaxmin("amin", np.amin),
    rule=lambda self, dim, keepdim: _red(self, dim, keepdim, bwd=3),
    jvp=lambda self_t, self, result, dim, keepdim: _amaxmin_jvp(self_t, self, result, dim, keepdim),
    self=_amaxmin_backward,
)


def _amaxmin_jvp(self_t, self, result, dim, keepdim):
    """torch's amaxamin_jvp: the mean of the tangents where self reaches the result."""
    return _red_sum(_amaxmin_backward(_ones(result), self, result, dim, keepdim) * self_t, dim, keepdim)


def amax(input: Tensor, dim: int | list[int] = (), keepdim: bool = False) -> Tensor:
    return amax_op(input, dim=_dims_arg(dim), keepdim=keepdim)


def amin(input: Tensor, dim: int | list[int] = (), keepdim: bool = False) -> Tensor:
    return amin_op(input, dim=_dims_arg(dim), keepdim=keepdim)


# ----- max / min -----


class _ReturnType(tuple):
    """torch.return_types.<name>: a (values, indices) tuple with attribute access."""

    __slots__ = ()
    _name = "max"
    n_fields = 2
    n_sequence_fields = 2
    n_unnamed_fields = 0

    def __new__(cls, values, indices):
        return tuple.__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self):
        return f"torch.return_types.{self._name}(\nvalues={self[0]!r},\nindices={self[1]!r})"

    __str__ = __repr__

    def __reduce__(self):
        return (type(self), (self[0], self[1]))


def _return_type(name):
    return type(
        name, (_ReturnType,), {"__slots__": (), "_name": name, "__qualname__": f"return_types.{name}"}
    )


return_types_max = _return_type("max")
return_types_min = _return_type("min")


def _maxmin_all(name, fn):
    def f(a):
        _check_nonempty(a, name, (), True)
        return _out(fn(a))

    return f


def _maxmin_dim(name, argfn):
    def f(a, dim, keepdim=False):
        d = wrap_dim(dim, a.ndim)
        if a.ndim == 0:
            return a.copy(), B.xp.zeros((), dtype=np.int64)
        _check_nonempty(a, name, (d,), False)
        if a.size == 0:
            shape = list(a.shape)
            if keepdim:
                shape[d] = 1
            else:
                del shape[d]
            return B.xp.empty(shape, a.dtype), B.xp.empty(shape, np.int64)
        idx = argfn(a, axis=d, keepdims=True)
        vals = np.take_along_axis(a, idx, axis=d)
        if not keepdim:
            idx = np.squeeze(idx, axis=d)
            vals = np.squeeze(vals, axis=d)
        return _out(vals), _out(idx.astype(np.int64))

    return f


def _evenly_distribute_backward(grad, self, result):
    """max()/min() over everything: ties (or NaNs, when the result is NaN) share the gradient."""
    r = result._data
    mask = P.isnan(self) if np.isnan(r).any() else (self == result)
    return P.where(mask, grad / sum_op(mask), 0.0)


def _evenly_read_jvp(self_t, self, result):
    """torch's evenly_read_jvp (max() / min()): the mean of the tangents where self equals the result."""
    mask = self == result
    return (self_t * mask).sum() / sum_op(mask)


def _value_selecting_jvp(self_t, dim, result1, keepdim):
    """max.dim / min.dim: the tangent at the selected index (gather_with_keepdimed_indices); none for indices."""
    if self_t.ndim == 0:
        return self_t, None
    from engine.ops.indexing import gather  # noqa: PLC0415 - engine.ops.indexing imports this module

    d = wrap_dim(dim, self_t.ndim)
    idx = result1 if keepdim else result1.unsqueeze(d)
    out = gather(self_t, d, idx)
    return (out if keepdim else out.squeeze(d)), None


def _value_selecting_backward(grad, dim, result1, self_shape, keepdim):
    """max.dim / min.dim: the gradient goes to the selected index only (torch's
    value_selecting_reduction_backward: zeros of the input's shape, the gradient scattered at the indices). Entries
    on the indices (unsqueeze, scatter), not a mask read off their values: a lowered replay runs them again on its
    own indices (engine/program/lower.py)."""
    g = grad[0]
    n = len(self_shape)
    if n == 0:
        return g
    from engine.ops import shape as S  # noqa: PLC0415 - engine.ops.shape imports the reductions
    from engine.ops.scatter import scatter_src  # noqa: PLC0415 - engine.ops.scatter imports indexing, this module

    d = wrap_dim(dim, n)
    idx = result1
    if not keepdim:
        idx = S.unsqueeze(idx, d)
        g = S.unsqueeze(g, d)
    zeros = Tensor._make(B.xp.zeros(tuple(self_shape), dtype=g.dtype.np))
    return scatter_src(zeros, d, idx, g)


max_dim = defop(
    "max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)",
    _maxmin_dim("max", np.argmax),
    nout=2,
    # np.argmax off the last axis works on a contiguous copy; its indices, then their int64 copy
    rule=lambda self, dim, keepdim: _red(self, dim, keepdim, nout=2, temp=1, out_temp=R.wide(2, self), bwd=3),
    jvp=_value_selecting_jvp,
    self=_value_selecting_backward,
)
max_op = defop("max(Tensor self) -> Tensor", _maxmin_all("max", np.max), rule=lambda self: _red(self, bwd=3),
               jvp=_evenly_read_jvp, self=_evenly_distribute_backward)
min_dim = defop(
    "min.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)",
    _maxmin_dim("min", np.argmin),
    nout=2,
    # np.argmin off the last axis works on a contiguous copy; its indices, then their int64 copy
    rule=lambda self, dim, keepdim: _red(self, dim, keepdim, nout=2, temp=1, out_temp=R.wide(2, self), bwd=3),
    jvp=_value_selecting_jvp,
    self=_value_selecting_backward,
)
min_op = defop("min(Tensor self) -> Tensor", _maxmin_all("min", np.min), rule=lambda self: _red(self, bwd=3),
               jvp=_evenly_read_jvp, self=_evenly_distribute_backward)


def _max_min(name, elementwise, all_op, dim_op, return_type):
    """torch.max / torch.min: one Python signature (the evaluator binds request arguments to it), three
    overloads: max(input), max(input, dim, keepdim=False) -> (values, indices), max(input, other)."""

    def fn(
        input: Tensor,
        dim: int | Tensor | None = None,
        keepdim: bool = False,
        *,
        other: Tensor | None = None,
    ) -> Tensor:
        if isinstance(dim, Tensor):
            other, dim = dim, None
        if other is not None:
            return elementwise(input, other)
        if dim is None:
            return all_op(input)
        v, i = dim_op(input, dim=dim, keepdim=keepdim)
        return return_type(v, i)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"{name}(input), {name}(input, dim, keepdim=False) -> (values, indices), {name}(input, other) "
                  f"= {name}imum.")
    return fn


max = _max_min("max", P.maximum, max_op, max_dim, return_types_max)  # noqa: A001
min = _max_min("min", P.minimum, min_op, min_dim, return_types_min)  # noqa: A001
