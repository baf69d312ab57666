"""Reductions: sum, mean and the rest, with torch's keepdim, dtype and overload rules."""

from __future__ import annotations

import builtins
import math
import warnings

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine import dtypes as D
from engine.autograd import grad_mode, is_grad_enabled
from engine.errors import TorchIndexError, TorchRuntimeError, TorchTypeError
from engine.ops import pointwise as P
from engine.ops import registry as _registry
from engine.ops import rules as R
from engine.ops import shape as S
from engine.ops._torch_sum import full_sum, torch_sum, vector_sum
from engine.ops._util import list_str, wrap_dim, wrap_dims
from engine.ops.jvp import batched, own_dtype, shifted
from engine.ops.registry import defop, nondiff
from engine.tensor import Tensor

# ----- cost rules (engine/ops/rules.py): temp and bwd count input-sized arrays -----


def _red(self, dim=None, keepdim=False, weight=1, temp=0, bwd=None, nout=1, out_temp=0):
    """A reduction of self over dim: `temp` / `bwd` input-sized temporaries, `out_temp` output-sized ones."""
    x = R.shape_of(self)
    out = R.reduced_shape(x, dim, bool(keepdim))
    n = R.numel(x)
    t = int(temp * n) + int(out_temp * R.numel(out))
    return R.Cost(out if nout == 1 else (out,) * nout, weight * builtins.max(n, 1), t, True,
                  None if bwd is None else int(bwd * n))


def _cast(dtype):
    return 1 if dtype is not None else 0  # the input cast to dtype first: one input-sized temporary


# A float sum in torch's order (engine/ops/_torch_sum.py) holds the input's lanes and partial sums of its cascade
# levels: up to about three input-sized arrays at once (measured by tests/engine/test_rules.py)
_TORCH_SUM = 3


def _acc_dtype(a, dtype):
    if dtype is not None:
        return dtype.np
    if a.dtype.kind in "biu":
        return np.int64
    if a.dtype == np.float16:
        return np.float32  # torch accumulates half in float
    return None


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


def _expand_reduced(grad, shape, dim, keepdim):
    """sum_backward: put back the reduced dims, then expand to the input's shape."""
    if not keepdim and len(shape) and grad.ndim != len(shape):
        for d in (
            wrap_dims(dim, len(shape)) if dim is not None and dim != [] and dim != () else range(len(shape))
        ):
            grad = grad.unsqueeze(d)
    return grad.expand(shape)


def _expand_reduced_array(grad, shape, dim, keepdim):
    """_expand_reduced on an array (backward without create_graph): the same unsqueezes, as one expand_dims
    (the dims ascending, as wrap_dims gives them), then the same broadcast view."""
    if not keepdim and len(shape) and np.ndim(grad) != len(shape):
        grad = np.expand_dims(grad, tuple(
            wrap_dims(dim, len(shape)) if dim is not None and dim != [] and dim != () else range(len(shape))))
    return np.broadcast_to(grad, shape)


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
    rule=lambda self, dim, keepdim, dtype: _red(self, dim, keepdim, temp=_cast(dtype) + _TORCH_SUM, bwd=1),
    jvp=shifted("linear", "*dim"),
    self=lambda grad, self_shape, dim, keepdim: _expand_reduced(grad, self_shape, dim, keepdim),
)


def _batched_all(op, t, dtype):
    """sum / mean over every dim of a batched tangent but its first (a 0-d primal's tangent: itself)."""
    if t.ndim == 1:
        return t if dtype is None else t.to(dtype)
    return op(t, dim=list(range(1, t.ndim)), keepdim=False, dtype=dtype)


def _check_autograd_dtype(input, dtype, out):
    """A grad-requiring input reduced into an integer dtype: torch's autograd refuses the output (after the
    forward ran, so argument errors come first)."""
    if dtype is not None and not dtype.is_floating_point and input.requires_grad and is_grad_enabled():
        raise TorchRuntimeError(f"Autograd not support dtype: {_word(dtype.np)}")
    return out


def _numel_reduced(shape, dim):
    if len(shape) == 0:
        return 1
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


_word = D.scalar_type_name


mean_op = defop(
    "mean(Tensor self, *, ScalarType? dtype=None) -> Tensor",
    lambda a, dtype=None: _mean(a, None, False, dtype),
    vjp={"self": lambda grad, self_shape: np.broadcast_to(grad, self_shape) / _numel_reduced(self_shape, None)},
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


# ======================================================================================================
# prod, amax/amin, max/min, var/std, vector_norm/norm, logsumexp, cumsum/cumprod, argmax/argmin
# ======================================================================================================


def _all_dims(dim):
    return dim is None or (isinstance(dim, list | tuple) and len(dim) == 0)


def _reduced_dims(dim, ndim):
    """The dims a reduction covers, sorted and wrapped; None / [] / () mean all of them."""
    if _all_dims(dim):
        return tuple(range(ndim))
    return wrap_dims(dim, ndim)


def _unsqueeze_multiple(t, dims, ndim):
    """torch's unsqueeze_multiple: put back reduced dims (sorted ascending) on a grad / result."""
    for d in sorted(dims):
        t = t.unsqueeze(d)
    return t


def _out(x):
    return B.xp.asarray(x)


def _half_acc(a):
    return a.astype(np.float32) if a.dtype == np.float16 else a


# ----- private helpers for the formulas (their own backward is each other's; used for grad-of-grad) -----


def _flip_fwd(a, dim):
    return np.flip(a, axis=dim).copy() if a.ndim else a.copy()


_flip_helper = defop(
    "_reduction_flip(Tensor self, int dim) -> Tensor",
    _flip_fwd, rule=R.like(), jvp=shifted("linear", "dim"),
    self=lambda grad, dim: _flip_helper(grad, dim=dim),
)


def _shift_fwd(a, dim, offset, fill):
    """out[i] = a[i - offset] along dim, `fill` where that index falls outside."""
    out = np.full_like(a, fill)
    n = a.shape[dim]
    src = [slice(None)] * a.ndim
    dst = [slice(None)] * a.ndim
    if offset >= 0:
        src[dim] = slice(0, builtins.max(n - offset, 0))
        dst[dim] = slice(offset, n)
    else:
        src[dim] = slice(-offset, n)
        dst[dim] = slice(0, builtins.max(n + offset, 0))
    out[tuple(dst)] = a[tuple(src)]
    return out


_shift_helper = defop(
    "_reduction_shift(Tensor self, int dim, int offset, float fill) -> Tensor",
    _shift_fwd, rule=R.like(),
    jvp=shifted(lambda self_t, dim, offset: _shift_helper(self_t, dim=dim, offset=offset, fill=0.0), "dim"),
    self=lambda grad, dim, offset: _shift_helper(grad, dim=dim, offset=-offset, fill=0.0),
)


def _reversed_cumsum(w, dim):
    return _flip_helper(cumsum_op(_flip_helper(w, dim=dim), dim=dim), dim=dim)


def _exclusive_prods(x, dim):
    """prod of every other element along dim (torch's prod_safe_zeros_backward without the grad)."""
    normal = cumprod_op(_shift_helper(x, dim=dim, offset=1, fill=1.0), dim=dim)
    reverse = _flip_helper(
        cumprod_op(_flip_helper(_shift_helper(x, dim=dim, offset=-1, fill=1.0), dim=dim), dim=dim), dim=dim
    )
    return normal * reverse


# ----- prod -----


def _prod_acc(a, dtype):
    if dtype is not None:
        return dtype.np
    if a.dtype.kind in "biu":
        return np.int64
    return None


def _prod_all(a, dtype=None):
    acc = _prod_acc(a, dtype)
    if a.dtype == np.float16 and dtype is None:
        return _out(np.prod(a, dtype=np.float32).astype(np.float16))
    return _out(np.prod(a, dtype=acc))


def _prod_dim(a, dim, keepdim=False, dtype=None):
    d = wrap_dim(dim, a.ndim)
    acc = _prod_acc(a, dtype)
    if a.ndim == 0:
        return a.astype(acc) if acc is not None else a.copy()
    if a.dtype == np.float16 and dtype is None:
        return _out(np.prod(a, axis=d, keepdims=keepdim, dtype=np.float32).astype(np.float16))
    return _out(np.prod(a, axis=d, keepdims=keepdim, dtype=acc))


def _prod_backward_all(grad, self, result):
    if self.ndim == 0:
        return grad
    self = self.to(grad.dtype)
    if not (self._data == 0).any():
        return grad * (result / self)
    flat = S.reshape(self, (-1,))
    return S.view(grad * _exclusive_prods(flat, 0), *self.shape)


def _prod_backward_dim(grad, self, result, dim, keepdim):
    if self.ndim == 0:
        return grad
    self = self.to(grad.dtype)
    d = wrap_dim(dim, self.ndim)
    if not keepdim:
        grad = grad.unsqueeze(d)
        result = result.unsqueeze(d)
    if not (self._data == 0).any():
        return grad * (result / self)
    if self.numel() == 0:
        return grad.expand(self.shape)
    return grad * _exclusive_prods(self, d)


def _ones(t):
    from engine.ops.factory import ones_like  # noqa: PLC0415

    return ones_like(t)


def _red_sum(x, dim, keepdim):
    """x summed over a reduction's dims (None or [] for all of them), as its result is laid out."""
    return sum_dim(x, dim=None if _all_dims(dim) else _dims_arg(dim), keepdim=keepdim)


# The reductions whose each input element feeds one output element: their backward formula at a gradient of
# ones is d result / d self elementwise; the tangent times that, summed over the reduced dims (torch's own
# forward formulas for prod and var are written so).


prod_op = defop("prod(Tensor self, *, ScalarType? dtype=None) -> Tensor", _prod_all,
                rule=lambda self, dtype: _red(self, bwd=7),
                jvp=lambda self_t, self, result: (_prod_backward_all(_ones(result), self, result) * self_t).sum(),
                self=_prod_backward_all)
prod_dim = defop(
    "prod.dim_int(Tensor self, int dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
    _prod_dim,
    rule=lambda self, dim, keepdim, dtype: _red(self, dim, keepdim, bwd=7),
    jvp=lambda self_t, self, result, dim, keepdim: _red_sum(
        _prod_backward_dim(_ones(result), self, result, dim, keepdim) * self_t, [dim] if self.ndim else [], keepdim),
    self=_prod_backward_dim,
)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    if dim is None:
        return _check_autograd_dtype(input, dtype, prod_op(input, dtype=dtype))
    if isinstance(dim, list | tuple):
        raise TorchTypeError(
            "prod() received an invalid combination of arguments - got (Tensor, tuple), but expected one "
            "of:\n"
            " * (Tensor input, *, torch.dtype dtype = None)\n"
            " * (Tensor input, int dim, bool keepdim = False, *, torch.dtype dtype = None, Tensor out = "
            "None)\n"
        )
    return _check_autograd_dtype(input, dtype, prod_dim(input, dim=dim, keepdim=keepdim, dtype=dtype))


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


def _dims_arg(dim):
    if isinstance(dim, int):
        return [dim]
    return list(dim) if dim is not None else []


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
    """max.dim / min.dim: the gradient goes to the selected index only."""
    g = grad[0]
    n = len(self_shape)
    if n == 0:
        return g
    d = wrap_dim(dim, n)
    idx = result1._data
    if not keepdim:
        idx = np.expand_dims(idx, d)
        g = g.unsqueeze(d)
    ar = B.xp.arange(self_shape[d]).reshape([-1 if i == d else 1 for i in range(n)])
    mask = Tensor._make(np.broadcast_to(ar == idx, self_shape))
    return P.where(mask, g, 0.0)


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


# ----- var / std -----


DOF_WARNING = (
    "{}(): degrees of freedom is <= 0. Correction should be strictly less than the reduction factor "
    "(input numel divided by output numel)."
)


def _var_fwd(name):
    def f(a, dim=None, correction=None, keepdim=False):
        if a.dtype.kind != "f":
            raise TorchRuntimeError("std and var only support floating point and complex dtypes")
        dims = _reduced_dims(dim, a.ndim)
        if a.ndim == 0:
            dims = ()
        corr = 1 if correction is None else correction
        n = 1
        for d in dims:
            n *= a.shape[d]
        dof = n - corr
        if dof <= 0:
            warnings.warn(DOF_WARNING.format(name), UserWarning, stacklevel=4)
        x = _half_acc(a)
        axes = dims if a.ndim else None
        with np.errstate(all="ignore"):
            mean_ = np.mean(x, axis=axes, keepdims=True) if x.size else B.xp.zeros([1] * x.ndim, x.dtype)
            dev = x - mean_
            ss = np.sum(dev * dev, axis=axes, keepdims=keepdim)
            out = ss / builtins.max(dof, 0)
            if name == "std":
                out = np.sqrt(out)
        return _out(B.xp.asarray(out).astype(a.dtype))

    return f


def _var_backward(grad, self, dim, correction, keepdim):
    corr = 1 if correction is None else correction
    if self.ndim == 0 or dim is None:
        dof = self.numel() - corr
        if dof <= 0:
            return grad * P.where(self == mean(self), math.nan, math.inf)
        return (2.0 / dof) * grad * (self - mean(self))
    dims = _reduced_dims(dim, self.ndim)
    if not keepdim and self.ndim > 1:
        grad = _unsqueeze_multiple(grad, dims, self.ndim)
    n = 1
    for d in dims:
        n *= self.shape[d]
    dof = n - corr
    coef = 2.0 / dof if dof != 0 else math.inf  # C++ double division: 2 / 0 is inf
    return coef * grad * (self - mean(self, dim=list(dims), keepdim=True))


def _var_jvp(self_t, self, result, dim, correction, keepdim):
    return _red_sum(_var_backward(_ones(result), self, dim, correction, keepdim) * self_t, dim, keepdim)


def _std_backward(grad, self, result, dim, correction, keepdim):
    grad_var = P.where(result == 0, 0.0, grad / (result * 2))
    return _var_backward(grad_var, self, dim, correction, keepdim)


var_op = defop(
    "var.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) -> Tensor",
    _var_fwd("var"),
    rule=lambda self, dim, correction, keepdim: _red(self, dim, keepdim, 4, temp=3, out_temp=2, bwd=4),
    jvp=lambda self_t, self, result, dim, correction, keepdim: _var_jvp(self_t, self, result, dim, correction, keepdim),
    self=_var_backward,
)
std_op = defop(
    "std.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) -> Tensor",
    _var_fwd("std"),
    rule=lambda self, dim, correction, keepdim: _red(self, dim, keepdim, 5, temp=3, out_temp=2, bwd=4),
    # torch's: the variance's tangent over 2 std, 0 where the std is
    jvp=lambda self_t, self, result, dim, correction, keepdim: P.where(
        result == 0, 0.0, _var_jvp(self_t, self, result, dim, correction, keepdim) / (2.0 * result)),
    self=_std_backward,
)


def _var_args(dim, unbiased, correction):
    if isinstance(dim, bool):  # var(input, unbiased)
        unbiased, dim = dim, None
    if isinstance(dim, int):
        dim = [dim]
    if unbiased is not None and correction is None:
        correction = 1 if unbiased else 0
    return (list(dim) if dim is not None else None), correction


def var(
    input: Tensor,
    dim: int | list[int] | None = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    dim, correction = _var_args(dim, unbiased, correction)
    return var_op(input, dim=dim, correction=correction, keepdim=keepdim)


def std(
    input: Tensor,
    dim: int | list[int] | None = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> Tensor:
    dim, correction = _var_args(dim, unbiased, correction)
    return std_op(input, dim=dim, correction=correction, keepdim=keepdim)


# ----- vector norm -----


def _scalar_str(x):
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(int(x)) if x == int(x) else repr(x)


def _vector_norm_fwd(a, ord=2, dim=None, keepdim=False, dtype=None):
    if a.dtype.kind != "f":
        raise TorchRuntimeError(
            f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got {_word(a.dtype)}"
        )
    if dtype is not None:
        if not dtype.is_floating_point:
            raise TorchRuntimeError(
                f"linalg.vector_norm: dtype should be floating point or complex, but got {_word(dtype.np)}"
            )
        a = a.astype(dtype.np)
    dims = _reduced_dims(dim, a.ndim)
    p = float(ord)
    if a.size == 0 and (p < 0 or p == math.inf):
        if _all_dims(dim):
            raise TorchRuntimeError(
                f"linalg.vector_norm cannot compute the {_scalar_str(p)} norm on an empty tensor because the "
                "operation does not have an identity"
            )
        for d in dims:
            if a.shape[d] == 0:
                raise TorchRuntimeError(
                    f"linalg.vector_norm cannot compute the {_scalar_str(p)} norm on the dimension "
                    f"{d}because "
                    "this dimension is empty and the operation does not have an identity"
                )
    x = _half_acc(a)
    axes = dims if a.ndim else None
    with np.errstate(all="ignore"):
        ab = np.abs(x)
        if p == 2:
            out = np.sqrt(np.sum(ab * ab, axis=axes, keepdims=keepdim))
        elif p == 1:
            out = np.sum(ab, axis=axes, keepdims=keepdim)
        elif p == math.inf:
            out = np.max(ab, axis=axes, keepdims=keepdim)
        elif p == -math.inf:
            out = np.min(ab, axis=axes, keepdims=keepdim)
        elif p == 0:
            out = np.sum(x != 0, axis=axes, keepdims=keepdim).astype(x.dtype)
        else:
            out = np.power(np.sum(np.power(ab, p), axis=axes, keepdims=keepdim), 1.0 / p)
    return _out(B.xp.asarray(out).astype(a.dtype))


def _vector_norm_backward(grad, self, ord, result, dim, keepdim):
    """torch's linalg_vector_norm_backward (norm_backward) case by case."""
    p = float(ord)
    norm = result
    dims = _reduced_dims(dim, self.ndim)
    if not keepdim and self.ndim != 0:
        grad = _unsqueeze_multiple(grad, dims, self.ndim)
        norm = _unsqueeze_multiple(norm, dims, self.ndim)
    if p == 0.0:
        return None
    if p == 1.0:
        return self.sgn() * grad
    if p == 2.0:
        return grad * P.where(norm == 0, 0.0, self / norm)
    if math.isinf(p):
        self_abs = self.abs()
        mask = P.logical_or(self_abs == norm, P.isnan(self_abs))
        return self.sgn() * ((grad / sum_dim(mask, dim=list(dims), keepdim=True)) * mask)
    if p < 1.0:
        self_scaled = self.sgn() * P.where(self == 0, 0.0, self.abs() ** (p - 1))
        return self_scaled * grad * norm ** (1 - p)
    if p < 2.0:
        self_scaled = self.sgn() * self.abs() ** (p - 1)
    else:
        self_scaled = self * self.abs() ** (p - 2)
    scale_v = P.where(norm == 0, 0.0, grad / norm ** (p - 1))
    return self_scaled * scale_v


def _norm_jvp(self_t, self, ord, result, dim, keepdim):
    d = _vector_norm_backward(_ones(result), self, ord, result, dim, keepdim)
    return _ones(result) * 0.0 if d is None else _red_sum(d * self_t, dim, keepdim)  # ord 0: zeros


vector_norm_op = defop(
    "linalg_vector_norm(Tensor self, Scalar ord=2, int[1]? dim=None, bool keepdim=False, *, ScalarType? "
    "dtype=None)"
    " -> Tensor",
    _vector_norm_fwd,
    rule=lambda self, ord, dim, keepdim, dtype: _red(self, dim, keepdim, R.TRANSCENDENTAL, temp=3 + _cast(dtype),
                                                     out_temp=2, bwd=6),
    # in self's dtype whatever dtype= asks for the norm, as torch's tangent
    jvp=own_dtype(lambda self_t, self, ord, result, dim, keepdim: _norm_jvp(self_t, self, ord, result, dim,
                                                                            keepdim).to(self.dtype)),
    self=_vector_norm_backward,
)


def vector_norm(
    x: Tensor, ord: float = 2, dim: int | list[int] | None = None, keepdim: bool = False, *, dtype=None
) -> Tensor:
    if isinstance(dim, int):
        dim = [dim]
    return vector_norm_op(
        x, ord=ord, dim=list(dim) if dim is not None else None, keepdim=keepdim, dtype=dtype
    )


def norm(
    input: Tensor,
    p: float | str | None = "fro",
    dim: int | list[int] | None = None,
    keepdim: bool = False,
    dtype=None,
) -> Tensor:
    """torch.norm: every vector case is linalg.vector_norm (LinalgVectorNormBackward0)."""
    _dim = [dim] if isinstance(dim, int) else (list(dim) if dim is not None else None)
    if isinstance(p, str):
        if p == "fro" and (dim is None or isinstance(dim, int) or len(dim) <= 2):
            return vector_norm(input, 2, _dim, keepdim, dtype=dtype)
        if _dim is None:
            _dim = list(range(input.ndim))
        if p not in ("fro", "nuc"):
            raise TorchRuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        if len(_dim) != 2:
            raise TorchRuntimeError(
                f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, _dim))}"
            )
        from engine.ops.linalg_lu import matrix_norm  # noqa: PLC0415

        return matrix_norm(input, p, _dim, keepdim, dtype=dtype)
    return vector_norm(input, 2.0 if p is None else p, _dim, keepdim, dtype=dtype)


# ----- logsumexp -----


def _logsumexp_fwd(a, dim, keepdim=False):
    if a.dtype.kind != "f":
        a = a.astype(D.default_float.np)
    if _all_dims(dim) and a.ndim:
        raise TorchRuntimeError(
            f"output with shape [] doesn't match the broadcast shape {list_str([1] * a.ndim)}"
        )
    dims = _reduced_dims(dim, a.ndim)
    if a.ndim == 0:
        return a.copy()
    x = _half_acc(a)
    with np.errstate(all="ignore"):
        maxes = np.amax(x, axis=dims, keepdims=True) if x.size else B.xp.zeros([1] * x.ndim, x.dtype)
        maxes = np.where(np.isinf(maxes), 0, maxes)
        s = _fsum(np.exp(x - maxes), dims, keepdim)
        out = np.log(s) + (maxes if keepdim else np.squeeze(maxes, axis=dims))
    return _out(B.xp.asarray(out).astype(a.dtype))


def _logsumexp_jvp(self_t, self, dim, keepdim):
    """torch's logsumexp_jvp: the tangent's mean weighted by exp(self - max) (0 / 0 over an empty dim)."""
    e = (self - amax_op(self, dim=dim, keepdim=True)).exp() if self.numel() > 0 else self.exp()
    return _red_sum(e * self_t, dim, keepdim) / _red_sum(e, dim, keepdim)


def _logsumexp_backward(grad, self, result, dim, keepdim):
    if not keepdim and self.ndim != 0:
        dims = _reduced_dims(dim, self.ndim)
        grad = _unsqueeze_multiple(grad, dims, self.ndim)
        result = _unsqueeze_multiple(result, dims, self.ndim)
    return grad * (self - result).exp()


logsumexp_op = defop(
    "logsumexp(Tensor self, int[1] dim, bool keepdim=False) -> Tensor",
    _logsumexp_fwd,
    # the integer cast, x - max and its exp at once
    rule=lambda self, dim, keepdim: _red(self, dim, keepdim, R.TRANSCENDENTAL + 2, temp=3, out_temp=3, bwd=3),
    jvp=lambda self_t, self, dim, keepdim: _logsumexp_jvp(self_t, self, dim, keepdim),
    self=_logsumexp_backward,
)


def logsumexp(input: Tensor, dim: int | list[int], keepdim: bool = False) -> Tensor:
    return logsumexp_op(input, dim=_dims_arg(dim), keepdim=keepdim)


# ----- cumsum / cumprod -----


def _cum_fwd(fn):
    def f(a, dim, dtype=None):
        d = wrap_dim(dim, a.ndim)
        acc = dtype.np if dtype is not None else (np.int64 if a.dtype.kind in "biu" else a.dtype)
        if a.ndim == 0:
            return a.astype(acc)
        if np.dtype(acc) in (np.float16, np.float32):  # torch accumulates in acc_type: float for half, double
            wide = np.float32 if np.dtype(acc) == np.float16 else np.float64  # for float (cpu_cum_base_kernel)
            return _out(fn(a, axis=d, dtype=wide).astype(acc))
        return _out(fn(a, axis=d, dtype=acc))

    return f


# cumprod's backward where the input has zeros, without create_graph (_cumprod_backward_zeros): the masks and
# their cumulative count, w, the reversed cumsum's flips, the products up to the second zero
_CUMPROD_BWD = 12


def _cum_cost(self, dtype, bwd):
    """np.cumsum / np.cumprod into another dtype (dtype=, integers into int64, float16 through float32) cast
    their input into a whole copy first."""
    out = R.shape_of(self)
    n = R.numel(out)
    dt = self.dtype
    acc = dtype.np if dtype is not None else (np.int64 if dt.kind in "biu" else dt)
    if np.dtype(acc) in (np.float16, np.float32):  # accumulated in float64 (float32 for half), then cast back
        return R.Cost(out, n, 4 * n, True, int(bwd * n))
    return R.Cost(out, n, 0 if np.dtype(acc) == dt and dt.itemsize != 2 else 2 * n, True, int(bwd * n))


def _cumsum_backward(grad, self_dtype, dim):
    grad = grad.to(self_dtype)
    if grad.numel() <= 1 or grad.shape[wrap_dim(dim, grad.ndim)] == 1:
        return grad
    return _reversed_cumsum(grad, wrap_dim(dim, grad.ndim))


def _cumprod_backward(grad, self, dim, result):
    grad = grad.to(self.dtype)
    if self.numel() <= 1:
        return grad
    d = wrap_dim(dim, self.ndim)
    n = self.shape[d]
    if n == 1:
        return grad
    if not (self._data == 0).any():
        return _reversed_cumsum(result * grad, d) / self
    if not grad_mode.enabled:  # no create_graph: torch's O(n) formula, on the arrays
        return Tensor._make(_cumprod_backward_zeros(grad._data, self._data, result._data.astype(grad._data.dtype), d))
    # Zeros under create_graph (torch does the same): d out_j / d x_k = prod_{i <= j, i != k} x_i for j >= k,
    # built as an (n, n) table per slice; its masks are allocated here, the table by the entries below.
    _budget.charge(3 * n * n, 1, what="cumprod's double-backward table")
    x = S.transpose(self, d, -1)
    g = S.transpose(grad, d, -1)
    eye = Tensor._make(B.xp.eye(n, dtype=bool))
    table = P.where(eye, 1.0, S.unsqueeze(x, -2))  # [..., k, i]: x_i, or 1 at i == k
    omitted = cumprod_op(table, dim=-1)  # [..., k, j] = prod_{i <= j, i != k} x_i
    upper = Tensor._make(B.xp.triu(B.xp.ones((n, n), dtype=bool)))
    contrib = P.where(upper, omitted * S.unsqueeze(g, -2), 0.0)
    return S.transpose(sum_dim(contrib, dim=[-1]), d, -1)


def _cumprod_jvp(self_t, self, result, dim):
    """torch's cumprod_jvp: (t / x).cumsum * out where no zero is involved; from the first zero of a slice on,
    the cumulative product with that zero's tangent in its place (torch's masks, step by step)."""
    self = self.to(result.dtype)
    gradient = cumsum_op(self_t / self, dim=dim) * result
    if self.ndim == 0:
        return P.where(self == 0, self_t, gradient)
    zeros = self == 0
    first = P.logical_and(zeros, cumsum_op(zeros, dim=dim) == 1)
    new_grad = cumprod_op(P.where(first, self_t, self), dim=dim)
    after = cumsum_op(first, dim=dim) != 0
    return P.where(after, new_grad, gradient)


def _rev_cumsum_array(w, d):
    return np.flip(np.cumsum(np.flip(w, d), axis=d), d)


def _cumprod_backward_zeros(g, x, out, d):
    """torch's cumprod_backward for an input with zeros, when no graph is built: O(n) per slice. With z1, z2
    the first and second zero along d: d/dx_k is sum_{k <= j < z1} g_j out_j / x_k below z1, 0 above z1, and
    at z1 prod(x[:z1]) * sum_{z1 <= j < z2} g_j prod_{z1 < i <= j} x_i."""
    zeros = np.cumsum(x == 0, axis=d)
    before = zeros == 0  # k < z1
    with np.errstate(divide="ignore", invalid="ignore"):
        gi = np.where(before, _rev_cumsum_array(np.where(before, out * g, 0), d) / x, 0).astype(g.dtype, copy=False)
    first = zeros == 1  # z1 <= j < z2
    z1 = np.expand_dims(np.argmax(first, axis=d), d)
    at_z1 = first & (np.cumsum(first, axis=d) == 1)  # the first of them: z1 itself
    between = first & ~at_z1
    tail = np.sum(np.cumprod(np.where(between, x, 1), axis=d) * np.where(first, g, 0), axis=d, keepdims=True)
    before_z1 = np.where(z1 == 0, 1, np.take_along_axis(out, np.maximum(z1 - 1, 0), axis=d))
    return np.where(at_z1, tail * before_z1, gi).astype(g.dtype, copy=False)


cumsum_op = defop(
    "cumsum(Tensor self, int dim, *, ScalarType? dtype=None) -> Tensor",
    _cum_fwd(np.cumsum),
    rule=lambda self, dim, dtype: _cum_cost(self, dtype, 4),
    jvp=shifted("linear", "dim"),
    self=_cumsum_backward,
)
cumprod_op = defop(
    "cumprod(Tensor self, int dim, *, ScalarType? dtype=None) -> Tensor",
    _cum_fwd(np.cumprod),
    rule=lambda self, dim, dtype: _cum_cost(self, dtype, _CUMPROD_BWD),
    jvp=lambda self_t, self, result, dim: _cumprod_jvp(self_t, self, result, dim),
    self=_cumprod_backward,
)


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    return _check_autograd_dtype(input, dtype, cumsum_op(input, dim=dim, dtype=dtype))


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    return _check_autograd_dtype(input, dtype, cumprod_op(input, dim=dim, dtype=dtype))


# ----- argmax / argmin -----


def _arg_fwd(name, fn):
    def f(a, dim=None, keepdim=False):
        if a.dtype == np.bool_:
            raise TorchRuntimeError(f"{name}(): does not support bool input")
        if dim is None:
            if a.size == 0:
                raise TorchIndexError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
                )
            r = B.xp.asarray(fn(a.reshape(-1)), dtype=np.int64)
            return r.reshape([1] * a.ndim) if keepdim else r
        d = wrap_dim(dim, a.ndim)
        if a.ndim == 0:
            return B.xp.zeros((), np.int64)
        if a.shape[d] == 0:
            raise TorchIndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        return _out(fn(a, axis=d, keepdims=keepdim).astype(np.int64))

    return f


# the flattened copy of a strided input; the indices before their int64 copy
argmax_op = nondiff(
    "argmax(Tensor self, int? dim=None, bool keepdim=False) -> Tensor", _arg_fwd("argmax", np.argmax),
    rule=lambda self, dim, keepdim: _red(self, dim, keepdim, temp=1, out_temp=1),
)
argmin_op = nondiff(
    "argmin(Tensor self, int? dim=None, bool keepdim=False) -> Tensor", _arg_fwd("argmin", np.argmin),
    rule=lambda self, dim, keepdim: _red(self, dim, keepdim, temp=1, out_temp=1),
)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return argmax_op(input, dim=dim, keepdim=keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return argmin_op(input, dim=dim, keepdim=keepdim)


from engine.ops.registry import entry  # noqa: E402

CATALOG = [
    entry("sum", sum, "Sum over all elements or over `dim`.", sum_op, sum_dim),
    entry("mean", mean, "Mean over all elements or over `dim`.", mean_op, mean_dim),
    entry(
        "prod", prod, "Product over all elements or along `dim` (int inputs give int64).", prod_op, prod_dim
    ),
    entry("amax", amax, "Maximum over `dim` (all dims when empty); ties share the gradient.", amax_op),
    entry("amin", amin, "Minimum over `dim` (all dims when empty); ties share the gradient.", amin_op),
    entry(
        "max",
        max,
        "max(input); max(input, dim, keepdim) -> (values, indices); max(input, other).",
        max_dim,
        max_op,
        grad_fns=("MaximumBackward0",),
    ),
    entry(
        "min",
        min,
        "min(input); min(input, dim, keepdim) -> (values, indices); min(input, other).",
        min_dim,
        min_op,
        grad_fns=("MinimumBackward0",),
    ),
    entry("var", var, "Variance over `dim` with `correction` (or `unbiased`).", var_op),
    entry("std", std, "Standard deviation over `dim` with `correction` (or `unbiased`).", std_op),
    entry("norm", norm, "Vector norm (p = 2, 1, inf, 'fro', any float) over `dim`.", vector_norm_op),
    entry(
        "linalg.vector_norm",
        vector_norm,
        "Vector norm of order `ord` over `dim`.",
        vector_norm_op,
        method=False,
    ),
    entry("logsumexp", logsumexp, "log(sum(exp(input))) over `dim`, computed stably.", logsumexp_op),
    entry("cumsum", cumsum, "Cumulative sum along `dim` (int inputs give int64).", cumsum_op),
    entry("cumprod", cumprod, "Cumulative product along `dim` (int inputs give int64).", cumprod_op),
    entry(
        "argmax", argmax, "Index of the maximum (flattened, or along `dim`); int64, no gradient.", argmax_op
    ),
    entry(
        "argmin", argmin, "Index of the minimum (flattened, or along `dim`); int64, no gradient.", argmin_op
    ),
]
