"""More reductions and their relatives: aminmax, nansum / nanmean, var_mean / std_mean, logcumsumexp, dist,
renorm; and the family's CATALOG, which also lists torch's compositions diff, gradient, trapezoid / trapz /
cumulative_trapezoid (reduction_calculus.py) and cov, corrcoef (reduction_cov.py)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchIndexError, TorchNotImplementedError, TorchRuntimeError
from engine.ops import join as J
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops._returns import make
from engine.ops._util import wrap_dim
from engine.ops.reduction_calculus import cumulative_trapezoid, diff, gradient, trapezoid, trapz
from engine.ops.reduction_common import _expand_reduced, _half_acc, _red, _reduced_dims
from engine.ops.reduction_cov import corrcoef, cov
from engine.ops.reduction_extrema import _amaxmin_backward
from engine.ops.reduction_stats import (
    _scalar_str,
    _std_backward,
    _var_args,
    _var_backward,
    _var_fwd,
    _vector_norm_backward,
    _vector_norm_fwd,
)
from engine.ops.registry import defop, entry
from engine.ops.rules import TRANSCENDENTAL, Cost, numel, reduced_shape
from engine.tensor import Tensor


def _t(a):
    return Tensor._make(a)


def _word(dt):
    return D.scalar_type_name(dt)


# ----- aminmax -----


def _aminmax(a, dim=None, keepdim=False):
    if dim is not None:
        d = wrap_dim(dim, a.ndim)
        if a.ndim and a.shape[d] == 0:
            raise TorchIndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
    if dim is None and a.size == 0:
        raise TorchRuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                                "identity.")
    if dim is None:
        if keepdim:
            return (np.amin(a, keepdims=True).reshape((1,) * a.ndim), np.amax(a, keepdims=True).reshape((1,) * a.ndim))
        return B.xp.asarray(np.amin(a)), B.xp.asarray(np.amax(a))
    d = wrap_dim(dim, a.ndim)
    if a.ndim == 0:
        return a.copy(), a.copy()
    return (B.xp.asarray(np.amin(a, axis=d, keepdims=keepdim)), B.xp.asarray(np.amax(a, axis=d, keepdims=keepdim)))


def _aminmax_backward(grad, self, dim, keepdim, result, result1):
    dims = [] if dim is None else [dim]
    out = None
    if grad[0] is not None:
        out = _amaxmin_backward(grad[0], self, result, dims, keepdim)
    if grad[1] is not None:
        g = _amaxmin_backward(grad[1], self, result1, dims, keepdim)
        out = g if out is None else out + g
    return out


def _aminmax_rule(self, dim, keepdim):
    out = reduced_shape(tuple(self.shape), dim, bool(keepdim))
    return Cost((out, out), 2 * max(numel(self.shape), 1))


aminmax_op = defop("aminmax(Tensor self, *, int? dim=None, bool keepdim=False) -> (Tensor min, Tensor max)",
                   _aminmax, nout=2, self=_aminmax_backward, rule=_aminmax_rule)


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False) -> tuple:
    return make("aminmax", ("min", "max"), aminmax_op(input, dim, keepdim))


# ----- nansum / nanmean -----


def _nansum(a, dim=None, keepdim=False, dtype=None):
    dims = _reduced_dims(dim, a.ndim) if dim not in (None, [], ()) else None
    acc = dtype.np if dtype is not None else (np.int64 if a.dtype.kind in "biu" else a.dtype)
    x = a.astype(acc) if a.dtype != acc else a
    out = np.nansum(x, axis=dims if a.ndim else None, keepdims=keepdim)
    return B.xp.asarray(out).astype(acc, copy=False)


def _nansum_backward(grad, self, dim, keepdim):
    full = _expand_reduced(grad.to(self.dtype), tuple(self.shape), dim if dim not in ([], ()) else None, keepdim)
    return full * P.logical_not(P.isnan(self))


def _nansum_rule(self, dim=None, keepdim=False, dtype=None):
    """np.nansum of a float array copies it with its NaNs replaced, beside their mask (counted as a second copy);
    a dtype= or an integer input (into int64) is cast to a whole copy first. The backward's as before: the
    gradient's cast (output-sized) and the NaN masks (bool) beside the input gradient."""
    x = tuple(self.shape)
    out = reduced_shape(x, dim, bool(keepdim))
    n = numel(x)
    acc = np.dtype(dtype.np if dtype is not None else (np.int64 if self.dtype.kind in "biu" else self.dtype))
    temp = (2 * n if acc.kind == "f" else 0) + (n if acc != self.dtype else 0)
    return Cost(out, max(n, 1), temp, True, numel(out))


nansum_op = defop("nansum(Tensor self, int[1]? dim=None, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
                  _nansum, self=_nansum_backward, rule=_nansum_rule)


def nansum(input: Tensor, dim: int | list[int] | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    return nansum_op(input, [dim] if isinstance(dim, int) else dim, keepdim, dtype=dtype)


def nanmean(input: Tensor, dim: int | list[int] | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    if not input.dtype.is_floating_point and dtype is None:
        raise TorchRuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                                f"{_word(input.dtype)}")
    dims = [dim] if isinstance(dim, int) else dim
    not_nan = P.logical_not(P.isnan(input))
    count = R.sum(not_nan, dims, keepdim)
    return P.div(nansum_op(input, dims, keepdim, dtype=dtype), count)


# ----- var_mean / std_mean -----


def _var_mean_fwd(name):
    var = _var_fwd(name)

    def f(a, dim=None, correction=None, keepdim=False):
        if a.dtype.kind != "f":
            raise TorchRuntimeError(f"{name}_mean only support floating point and complex dtypes")
        v = var(a, dim, correction, keepdim)
        dims = _reduced_dims(dim, a.ndim) if a.ndim else None
        m = np.mean(_half_acc(a), axis=dims, keepdims=keepdim) if a.size else B.xp.full(
            tuple(reduced_shape(tuple(a.shape), dim, keepdim)), np.nan)
        return v, B.xp.asarray(m).astype(a.dtype)

    return f


def _mean_backward(grad, self, dim, keepdim):
    dims = dim if dim not in (None, [], ()) else None
    n = numel(self.shape) if dims is None or not self.ndim else int(np.prod([self.shape[d] for d in
                                                                              _reduced_dims(dims, self.ndim)]))
    return _expand_reduced(grad, tuple(self.shape), dims, keepdim) / n


def _var_mean_backward(grad, self, dim, correction, keepdim):
    out = None
    if grad[0] is not None:
        out = _var_backward(grad[0], self, dim, correction, keepdim)
    if grad[1] is not None:
        g = _mean_backward(grad[1], self, dim, keepdim)
        out = g if out is None else out + g
    return out


def _std_mean_backward(grad, self, result, dim, correction, keepdim):
    out = None
    if grad[0] is not None:
        out = _std_backward(grad[0], self, result, dim, correction, keepdim)
    if grad[1] is not None:
        g = _mean_backward(grad[1], self, dim, keepdim)
        out = g if out is None else out + g
    return out


def _two_reduced(self, dim, keepdim):
    """var's (std's) forward, then a mean: var.correction's rule (x - mean and its square, input-sized), two
    outputs."""
    return _red(self, dim, keepdim, 4, temp=3, out_temp=2, bwd=4, nout=2)


var_mean_op = defop(
    "var_mean.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) "
    "-> (Tensor, Tensor)", _var_mean_fwd("var"), nout=2, self=_var_mean_backward, rule=_two_reduced)
std_mean_op = defop(
    "std_mean.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) "
    "-> (Tensor, Tensor)", _var_mean_fwd("std"), nout=2, self=_std_mean_backward, rule=_two_reduced)


def var_mean(input: Tensor, dim: int | list[int] | None = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: float | None = None) -> tuple:
    dim, correction = _var_args(dim, unbiased, correction)
    return var_mean_op(input, dim, correction, keepdim)


def std_mean(input: Tensor, dim: int | list[int] | None = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: float | None = None) -> tuple:
    dim, correction = _var_args(dim, unbiased, correction)
    return std_mean_op(input, dim, correction, keepdim)


# ----- logcumsumexp -----


def _logcumsumexp(a, dim):
    if a.dtype.kind != "f":
        raise TorchNotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for '{_word(D.FROM_NP[a.dtype])}'")
    if a.ndim == 0:
        wrap_dim(dim, 0)
        return a.copy()
    d = wrap_dim(dim, a.ndim)
    with np.errstate(all="ignore"):
        return np.logaddexp.accumulate(a, axis=d).astype(a.dtype, copy=False)


def _logcumsumexp_backward(grad, self, result, dim):
    """FunctionsManual's logcumsumexp_backward: the positive and negative parts of grad through a reversed
    logcumsumexp, so that nothing overflows."""
    if grad.ndim == 0 or grad.numel() == 0:
        return grad
    d = wrap_dim(dim, grad.ndim)
    lowest = float(np.finfo(grad._data.dtype).min)

    def reverse_lse(x):
        return J.flip(logcumsumexp_op(J.flip(x, [d]), d), [d])

    log_abs_grad = grad.abs().log()
    log_grad_positive = P.where(grad > 0, log_abs_grad, lowest)
    log_grad_negative = P.where(grad < 0, log_abs_grad, lowest)
    output_pos = (reverse_lse(log_grad_positive - result) + self).exp()
    output_neg = (reverse_lse(log_grad_negative - result) + self).exp()
    return output_pos - output_neg


logcumsumexp_op = defop("logcumsumexp(Tensor self, int dim) -> Tensor", _logcumsumexp,
                        self=_logcumsumexp_backward,
                        rule=lambda self: Cost(tuple(self.shape), 2 * TRANSCENDENTAL * numel(self.shape)))


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    return logcumsumexp_op(input, dim)


# ----- dist, renorm -----


def _dist(a, b, p=2):
    diff = np.subtract(a, b)
    return _vector_norm_fwd(diff, p)


dist_op = defop(
    "dist(Tensor self, Tensor other, Scalar p=2) -> Tensor", _dist, promote=True,
    self=lambda grad, self, other, p, result: _vector_norm_backward(grad, self - other, p, result, None, False),
    other=lambda grad, self, other, p, result: -_vector_norm_backward(grad, self - other, p, result, None, False),
    rule=lambda self, other: Cost((), 3 * max(numel(self.shape), numel(other.shape)),
                                  max(numel(self.shape), numel(other.shape))))


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    return dist_op(input, other, p)


def _renorm(a, p, dim, maxnorm):
    if p <= 0:
        raise TorchRuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise TorchRuntimeError(f"renorm: expected maxnorm to be >= 0 but got {_scalar_str(maxnorm)}")
    if a.ndim <= 1:
        raise TorchRuntimeError(f"renorm: input needs at least 2 dimensions, got {a.ndim} dimensions")
    d = wrap_dim(dim, a.ndim)
    if a.size == 0:  # torch's empty answer at once: the norms over the zero dim would be N-long
        return a.copy()
    axes = tuple(i for i in range(a.ndim) if i != d)
    norm = _vector_norm_fwd(a, p, list(axes), True)
    with np.errstate(all="ignore"):
        factor = np.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0).astype(a.dtype)
    return (a * factor).astype(a.dtype, copy=False)


def _renorm_backward(grad, self, p, dim, maxnorm):
    """FunctionsManual's renorm_backward."""
    d = wrap_dim(dim, self.ndim)
    reduce_dims = [i for i in range(self.ndim) if i != d]
    norm = R.vector_norm_op(self, p, reduce_dims, True)
    grad_output = R.sum(self * grad, reduce_dims, True)
    nb = _vector_norm_backward(grad_output, self, p, norm, reduce_dims, True)
    invnorm = (norm + 1e-7).reciprocal()
    grad_norm = maxnorm * invnorm * (grad - invnorm * nb)
    return P.where(norm > maxnorm, grad_norm.to(grad.dtype), grad)


renorm_op = defop("renorm(Tensor self, Scalar p, int dim, Scalar maxnorm) -> Tensor", _renorm, self=_renorm_backward,
                  rule=lambda self: Cost(tuple(self.shape), 4 * numel(self.shape)))


def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    return renorm_op(input, p, dim, maxnorm)


CATALOG = [
    entry("aminmax", aminmax, "The min and max (over `dim`, or all), as torch.return_types.aminmax.", aminmax_op),
    entry("nansum", nansum, "Sum treating NaN as zero.", nansum_op),
    entry("nanmean", nanmean, "Mean of the non-NaN values.", nansum_op, grad_fns=("DivBackward0",)),
    entry("var_mean", var_mean, "Variance and mean in one pass.", var_mean_op),
    entry("std_mean", std_mean, "Standard deviation and mean in one pass.", std_mean_op),
    entry("logcumsumexp", logcumsumexp, "log(cumsum(exp(x))) along dim, without overflow.", logcumsumexp_op),
    entry("dist", dist, "The p-norm of input - other.", dist_op),
    entry("renorm", renorm, "Sub-tensors along dim rescaled to p-norm at most maxnorm.", renorm_op),
    entry("diff", diff, "The n-th forward difference along dim (prepend / append first).",
          grad_fns=("SubBackward0", "SliceBackward0")),
    entry("gradient", gradient, "Central differences (one-sided at the edges) along each dim.", method=False,
          grad_fns=("CatBackward0", "DivBackward1")),
    entry("trapezoid", trapezoid, "The trapezoid rule along dim (x samples or dx spacing).", method=False,
          grad_fns=("MulBackward1", "DivBackward1")),
    entry("trapz", trapz, "Alias of trapezoid.", method=False, grad_fns=("MulBackward1", "DivBackward1")),
    entry("cumulative_trapezoid", cumulative_trapezoid, "The cumulative trapezoid rule along dim.", method=False,
          grad_fns=("CumsumBackward0",)),
    entry("cov", cov, "The covariance matrix of the rows' variables (fweights, aweights, correction).",
          grad_fns=("SqueezeBackward0", "DivBackward0", "MmBackward0")),
    entry("corrcoef", corrcoef, "Pearson correlation coefficients of the rows.", grad_fns=("ClampBackward1",)),
]
