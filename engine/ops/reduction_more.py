"""More reductions and their relatives: aminmax, nansum / nanmean, var_mean / std_mean, logcumsumexp, dist,
renorm, and torch's compositions diff, gradient, trapezoid / trapz / cumulative_trapezoid, cov, corrcoef
(recorded node by node as aten composes them)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchIndexError, TorchNotImplementedError, TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops import nn_functional as NF
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.ops._returns import make
from engine.ops._util import wrap_dim
from engine.ops.indexing import slice_op
from engine.ops.registry import defop, entry
from engine.ops.rules import TRANSCENDENTAL, Cost, numel, reduced_shape, reduction
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
        out = R._amaxmin_backward(grad[0], self, result, dims, keepdim)
    if grad[1] is not None:
        g = R._amaxmin_backward(grad[1], self, result1, dims, keepdim)
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
    dims = R._reduced_dims(dim, a.ndim) if dim not in (None, [], ()) else None
    acc = dtype.np if dtype is not None else (np.int64 if a.dtype.kind in "biu" else a.dtype)
    x = a.astype(acc) if a.dtype != acc else a
    out = np.nansum(x, axis=dims if a.ndim else None, keepdims=keepdim)
    return B.xp.asarray(out).astype(acc, copy=False)


def _nansum_backward(grad, self, dim, keepdim):
    full = R._expand_reduced(grad.to(self.dtype), tuple(self.shape), dim if dim not in ([], ()) else None, keepdim)
    return full * P.logical_not(P.isnan(self))


nansum_op = defop("nansum(Tensor self, int[1]? dim=None, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
                  _nansum, self=_nansum_backward, rule=reduction())


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
    var = R._var_fwd(name)

    def f(a, dim=None, correction=None, keepdim=False):
        if a.dtype.kind != "f":
            raise TorchRuntimeError(f"{name}_mean only support floating point and complex dtypes")
        v = var(a, dim, correction, keepdim)
        dims = R._reduced_dims(dim, a.ndim) if a.ndim else None
        m = np.mean(R._half_acc(a), axis=dims, keepdims=keepdim) if a.size else B.xp.full(
            tuple(reduced_shape(tuple(a.shape), dim, keepdim)), np.nan)
        return v, B.xp.asarray(m).astype(a.dtype)

    return f


def _mean_backward(grad, self, dim, keepdim):
    dims = dim if dim not in (None, [], ()) else None
    n = numel(self.shape) if dims is None or not self.ndim else int(np.prod([self.shape[d] for d in
                                                                              R._reduced_dims(dims, self.ndim)]))
    return R._expand_reduced(grad, tuple(self.shape), dims, keepdim) / n


def _var_mean_backward(grad, self, dim, correction, keepdim):
    out = None
    if grad[0] is not None:
        out = R._var_backward(grad[0], self, dim, correction, keepdim)
    if grad[1] is not None:
        g = _mean_backward(grad[1], self, dim, keepdim)
        out = g if out is None else out + g
    return out


def _std_mean_backward(grad, self, result, dim, correction, keepdim):
    out = None
    if grad[0] is not None:
        out = R._std_backward(grad[0], self, result, dim, correction, keepdim)
    if grad[1] is not None:
        g = _mean_backward(grad[1], self, dim, keepdim)
        out = g if out is None else out + g
    return out


def _two_reduced(self, dim, keepdim):
    out = reduced_shape(tuple(self.shape), dim, bool(keepdim))
    return Cost((out, out), 4 * max(numel(self.shape), 1), numel(self.shape))


var_mean_op = defop(
    "var_mean.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) "
    "-> (Tensor, Tensor)", _var_mean_fwd("var"), nout=2, self=_var_mean_backward, rule=_two_reduced)
std_mean_op = defop(
    "std_mean.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) "
    "-> (Tensor, Tensor)", _var_mean_fwd("std"), nout=2, self=_std_mean_backward, rule=_two_reduced)


def var_mean(input: Tensor, dim: int | list[int] | None = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: float | None = None) -> tuple:
    dim, correction = R._var_args(dim, unbiased, correction)
    return var_mean_op(input, dim, correction, keepdim)


def std_mean(input: Tensor, dim: int | list[int] | None = None, unbiased: bool | None = None, keepdim: bool = False,
             *, correction: float | None = None) -> tuple:
    dim, correction = R._var_args(dim, unbiased, correction)
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
    return R._vector_norm_fwd(diff, p)


dist_op = defop(
    "dist(Tensor self, Tensor other, Scalar p=2) -> Tensor", _dist, promote=True,
    self=lambda grad, self, other, p, result: R._vector_norm_backward(grad, self - other, p, result, None, False),
    other=lambda grad, self, other, p, result: -R._vector_norm_backward(grad, self - other, p, result, None, False),
    rule=lambda self, other: Cost((), 3 * max(numel(self.shape), numel(other.shape)),
                                  max(numel(self.shape), numel(other.shape))))


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    return dist_op(input, other, p)


def _renorm(a, p, dim, maxnorm):
    if p <= 0:
        raise TorchRuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise TorchRuntimeError(f"renorm: expected maxnorm to be >= 0 but got {R._scalar_str(maxnorm)}")
    if a.ndim <= 1:
        raise TorchRuntimeError(f"renorm: input needs at least 2 dimensions, got {a.ndim} dimensions")
    d = wrap_dim(dim, a.ndim)
    axes = tuple(i for i in range(a.ndim) if i != d)
    norm = R._vector_norm_fwd(a, p, list(axes), True)
    with np.errstate(all="ignore"):
        factor = np.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0).astype(a.dtype)
    return (a * factor).astype(a.dtype, copy=False)


def _renorm_backward(grad, self, p, dim, maxnorm):
    """FunctionsManual's renorm_backward."""
    d = wrap_dim(dim, self.ndim)
    reduce_dims = [i for i in range(self.ndim) if i != d]
    norm = R.vector_norm_op(self, p, reduce_dims, True)
    grad_output = R.sum(self * grad, reduce_dims, True)
    nb = R._vector_norm_backward(grad_output, self, p, norm, reduce_dims, True)
    invnorm = (norm + 1e-7).reciprocal()
    grad_norm = maxnorm * invnorm * (grad - invnorm * nb)
    return P.where(norm > maxnorm, grad_norm.to(grad.dtype), grad)


renorm_op = defop("renorm(Tensor self, Scalar p, int dim, Scalar maxnorm) -> Tensor", _renorm, self=_renorm_backward,
                  rule=lambda self: Cost(tuple(self.shape), 4 * numel(self.shape)))


def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    return renorm_op(input, p, dim, maxnorm)


# ----- diff -----


def _diff_check_shape(self, other, d):
    if other is None:
        return
    if other.ndim != self.ndim:
        raise TorchRuntimeError("diff expects prepend or append to be the same dimension as input")
    for i in range(other.ndim):
        if i != d and other.shape[i] != self.shape[i]:
            raise TorchRuntimeError("diff expects the shape of tensor to prepend or append to match that of input "
                                    f"except along the differencing dimension; input.size({i}) = {self.shape[i]}, "
                                    f"but got tensor.size({i}) = {other.shape[i]}")


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    if input.ndim < 1:
        raise TorchRuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise TorchRuntimeError(f"order must be non-negative but got {n}")
    d = wrap_dim(dim, input.ndim)
    _diff_check_shape(input, prepend, d)
    _diff_check_shape(input, append, d)
    x = input
    if (prepend is not None or append is not None) and n != 0:
        x = J.cat([t for t in (prepend, input, append) if t is not None], d)
    if n == 0:  # aten: zeros_like(self).copy_(self), a CopyBackwards node where self requires grad
        from engine.autograd import _copy_backwards, grad_mode  # noqa: PLC0415

        if x.requires_grad and grad_mode.enabled:
            out = _copy_backwards(x)
            out._data = x._data.copy()
        else:
            out = _t(x._data.copy())
        from engine import autograd as A  # noqa: PLC0415

        if A._fw_levels:  # copy_'s forward formula: the copy's tangent is a copy of self's
            from engine.autograd.forward_ad import copied_tangent  # noqa: PLC0415

            copied_tangent(out, x)
        return out
    out_len = x.shape[d] - 1
    n = min(n, x.shape[d])
    for _ in range(n):
        hi, lo = J.narrow(x, d, 1, out_len), J.narrow(x, d, 0, out_len)
        x = P.logical_xor(hi, lo) if x.dtype is D.bool_ else hi - lo
        out_len -= 1
    return x


# ----- gradient -----


def _pre_check_gradient(input, spacing_size, dims, edge_order):
    if input.dtype is D.uint8:
        raise TorchRuntimeError("torch.gradient does not support uint8 input.")
    if spacing_size is not None and dims is None and spacing_size != input.ndim:
        raise TorchRuntimeError("torch.gradient expected spacing to be unspecified, a scalar, or a list of length "
                                f"equal to 'self.dim() = {input.ndim}', since dim argument was not given, but got a "
                                f"list of length {spacing_size}")
    if spacing_size is not None and dims is not None and spacing_size != len(dims):
        raise TorchRuntimeError("torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                                f"arguments to have the same length, but got a spacing argument of length "
                                f"{spacing_size} and a dim argument of length {len(dims)}.")
    if edge_order not in (1, 2):
        raise TorchRuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    seen = set()
    for dd in (dims if dims is not None else range(input.ndim)):
        w = wrap_dim(dd, input.ndim)
        if w in seen:
            raise TorchRuntimeError(f"dim {w} appears multiple times in the list of dims")
        seen.add(w)
    for dd in (dims if dims is not None else range(input.ndim)):
        if input.shape[wrap_dim(dd, input.ndim)] < edge_order + 1:
            raise TorchRuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")


def _sl(x, d, start, end=None):
    return slice_op(x, d, start, end, 1)


def _prepend_append(center, prepend, append, d):
    return J.cat([prepend, center, append], d)


def _gradient_float(self, spacing, dims, edge_order):
    out = []
    for dd, h in zip(dims, spacing):
        d = wrap_dim(dd, self.ndim)
        center = NF.div_scalar(_sl(self, d, 2) - _sl(self, d, 0, -2), h)
        if edge_order == 1:
            prepend = NF.div_scalar(_sl(self, d, 1, 2) - _sl(self, d, 0, 1), h)
            append = NF.div_scalar(_sl(self, d, -1) - _sl(self, d, -2, -1), h)
        else:
            prepend = NF.div_scalar(NF.mul_scalar(_sl(self, d, 0, 1), -1.5) + NF.mul_scalar(_sl(self, d, 1, 2), 2)
                                    - NF.mul_scalar(_sl(self, d, 2, 3), 0.5), h)
            append = NF.div_scalar(NF.mul_scalar(_sl(self, d, -3, -2), 0.5) - NF.mul_scalar(_sl(self, d, -2, -1), 2)
                                   + NF.mul_scalar(_sl(self, d, -1), 1.5), h)
        out.append(_prepend_append(NF.div_scalar(center, 2), prepend, append, d))
    return tuple(out)


def _gradient_tensor(self, coords, dims, edge_order):
    from engine.ops.indexing import select  # noqa: PLC0415

    out = []
    for dd, c in zip(dims, coords):
        if c.ndim != 1:
            raise TorchRuntimeError("torch.gradient expected each element of spacing to have one dimension, but got "
                                    f"an element with {c.ndim} dimensions!")
        d = wrap_dim(dd, self.ndim)
        shape = [1] * self.ndim
        shape[d] = -1
        ax_dx = diff(c, 1, 0)
        dx1, dx2 = slice_op(ax_dx, 0, 0, -1, 1), slice_op(ax_dx, 0, 1, None, 1)
        a = S.reshape(-dx2 / (dx1 * (dx1 + dx2)), shape)
        b = S.reshape((dx2 - dx1) / (dx1 * dx2), shape)
        cc = S.reshape(dx1 / (dx2 * (dx1 + dx2)), shape)
        center = a * _sl(self, d, 0, -2) + b * _sl(self, d, 1, -1) + cc * _sl(self, d, 2)
        def at(i, ax=ax_dx):  # ax_dx[i]: aten indexes afresh at every use (a SelectBackward0 node each)
            return select(ax, 0, i)

        if edge_order == 1:
            prepend = (_sl(self, d, 1, 2) - _sl(self, d, 0, 1)) / at(0)
            append = (_sl(self, d, -1) - _sl(self, d, -2, -1)) / at(-1)
        else:
            a = -(NF.mul_scalar(at(0), 2.0) + at(1)) / (at(0) * (at(0) + at(1)))
            b = (at(0) + at(1)) / (at(0) * at(1))
            cc = (-at(0)) / (at(1) * (at(0) + at(1)))
            prepend = a * _sl(self, d, 0, 1) + b * _sl(self, d, 1, 2) + cc * _sl(self, d, 2, 3)
            a = at(-1) / (at(-2) * (at(-1) + at(-2)))
            b = -(at(-1) + at(-2)) / (at(-1) * at(-2))
            cc = (NF.mul_scalar(at(-1), 2) + at(-2)) / (at(-1) * (at(-1) + at(-2)))
            append = a * _sl(self, d, -3, -2) + b * _sl(self, d, -2, -1) + cc * _sl(self, d, -1)
        out.append(_prepend_append(center, prepend, append, d))
    return tuple(out)


def gradient(input: Tensor, *, spacing: float | list | Tensor | None = None, dim: int | list[int] | None = None,
             edge_order: int = 1) -> tuple:
    dims = None if dim is None else ([dim] if isinstance(dim, int) else list(dim))
    proc = dims if dims is not None else list(range(input.ndim))
    if spacing is None or isinstance(spacing, int | float) and not isinstance(spacing, bool):
        h = 1.0 if spacing is None else spacing
        _pre_check_gradient(input, None if spacing is None else len(proc), dims, edge_order)
        return _gradient_float(input, [h] * len(proc), proc, edge_order)
    sp = list(spacing) if isinstance(spacing, list | tuple) else [spacing]
    _pre_check_gradient(input, len(sp), dims, edge_order)
    if all(isinstance(s, Tensor) and s.ndim > 0 for s in sp):
        return _gradient_tensor(input, sp, proc, edge_order)
    return _gradient_float(input, [float(s) for s in sp], proc, edge_order)


# ----- trapezoid / trapz / cumulative_trapezoid -----


def _zeros_except(y, d):
    shape = list(y.shape)
    del shape[d]
    return _t(B.xp.zeros(shape, dtype=y._data.dtype))


def _x_viewed(y, x, d, name):
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise TorchRuntimeError(f"{name}: There must be one `x` value for each sample point")
        shape = [1] * y.ndim
        shape[d] = x.shape[0]
        return S.view(x, *shape)
    if x.ndim < y.ndim:
        return S.view(x, *([1] * (y.ndim - x.ndim) + list(x.shape)))
    return x


def trapezoid(y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    d = wrap_dim(dim, y.ndim)
    if y.shape[d] == 0:
        return _zeros_except(y, d)
    if isinstance(x, Tensor):
        if y.dtype is D.bool_ or x.dtype is D.bool_:
            raise TorchRuntimeError("trapezoid: received a bool input for `x` or `y`, but bool is not supported")
        xv = _x_viewed(y, x, d, "trapezoid")
        dxt = slice_op(xv, d, 1, None, 1) - slice_op(xv, d, 0, -1, 1)
        left, right = slice_op(y, d, 0, -1, 1), slice_op(y, d, 1, None, 1)
        return NF.div_scalar(R.sum((left + right) * dxt, d), 2.0)
    if y.dtype is D.bool_:
        raise TorchRuntimeError("trapezoid: received a bool input for `y`, but bool is not supported")
    from engine.ops.indexing import select  # noqa: PLC0415

    h = 1.0 if dx is None else float(dx)
    edge = NF.mul_scalar(select(y, d, 0) + select(y, d, -1), 0.5)
    return NF.mul_scalar(R.sum(y, d) - edge, h)


def trapz(y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x: Tensor | None = None, *, dx: float | None = None, dim: int = -1) -> Tensor:
    d = wrap_dim(dim, y.ndim)
    left, right = slice_op(y, d, 0, -1, 1), slice_op(y, d, 1, None, 1)
    if isinstance(x, Tensor):
        if y.dtype is D.bool_ or x.dtype is D.bool_:
            raise TorchRuntimeError("cumulative_trapezoid: received a bool input for `x` or `y`, but bool is not "
                                    "supported")
        xv = _x_viewed(y, x, d, "cumulative_trapezoid")
        dxt = slice_op(xv, d, 1, None, 1) - slice_op(xv, d, 0, -1, 1)
        return NF.div_scalar(R.cumsum((left + right) * dxt, d), 2.0)
    if y.dtype is D.bool_:
        raise TorchRuntimeError("cumulative_trapezoid: received a bool input for `y`, but bool is not supported")
    h = 1.0 if dx is None else float(dx)
    return R.cumsum(NF.mul_scalar(left + right, h / 2.0), d)


# ----- cov, corrcoef (aten/src/ATen/native/Correlation.cpp, step by step) -----

COV_DOF_WARNING = ("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
                   "observations.")


def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    if input.ndim > 2:
        raise TorchRuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                                f"{input.ndim} dimensions")
    if input.dtype is D.bool_:
        raise TorchRuntimeError("cov(): bool dtype is not supported for input")
    x = S.view(input, 1, -1) if input.ndim < 2 else input
    num_obs = x.shape[1]
    w = None
    if fweights is not None:
        w = fweights
        if w.ndim > 1:
            raise TorchRuntimeError("cov(): expected fweights to have one or fewer dimensions but got fweights with "
                                    f"{w.ndim} dimensions")
        if w.dtype.is_floating_point or w.dtype is D.bool_:
            raise TorchRuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with "
                                    f"{_word(w.dtype)} dtype")
        if w.numel() != num_obs:
            raise TorchRuntimeError("cov(): expected fweights to have the same numel as there are observations in the "
                                    f"input but got {w.numel()} != {num_obs}")
        if num_obs and float(w._data.min()) < 0:
            raise TorchRuntimeError("cov(): fweights cannot be negative")
    if aweights is not None:
        aw = aweights
        if aw.ndim > 1:
            raise TorchRuntimeError("cov(): expected aweights to have one or fewer dimensions but got aweights with "
                                    f"{aw.ndim} dimensions")
        if not aw.dtype.is_floating_point:
            raise TorchRuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                                    f"{_word(aw.dtype)} dtype")
        if aw.numel() != num_obs:
            raise TorchRuntimeError("cov(): expected aweights to have the same numel as there are observations in the "
                                    f"input but got {aw.numel()} != {num_obs}")
        if num_obs and float(aw._data.min()) < 0:
            raise TorchRuntimeError("cov(): aweights cannot be negative")
        w = w * aw if w is not None else aw
    if w is not None:
        w_sum = R.sum(w)
        if float(w_sum._data) == 0:
            raise TorchRuntimeError("cov(): weights sum to zero, can't be normalized")
    else:
        w_sum = _t(B.xp.asarray(num_obs, dtype=np.int64))
    avg = P.div(R.sum(x * w if w is not None else x, 1), w_sum)
    if w is None:
        norm_factor = _t(B.xp.asarray(num_obs - correction, dtype=np.int64))
    elif correction == 0:
        norm_factor = w_sum
    elif aweights is None:
        norm_factor = w_sum - correction
    elif fweights is None and num_obs == 1 and correction == 1:
        norm_factor = _t(B.xp.asarray(0, dtype=np.int64))
    else:
        norm_factor = w_sum - NF.mul_scalar(R.sum(w * aweights), correction) / w_sum  # C++'s int * Tensor
    if float(norm_factor._data) <= 0:
        import warnings  # noqa: PLC0415

        warnings.warn(COV_DOF_WARNING, UserWarning, stacklevel=2)
        norm_factor = _t(B.xp.zeros_like(norm_factor._data))
    if num_obs == 1 and (fweights is not None) != (aweights is not None):
        x = _t(B.xp.zeros_like(x._data))
        if not x.dtype.is_floating_point:
            x = x.to(D.float32)
    else:
        x = x - S.unsqueeze(avg, 1)
    c = L.mm(x, S.t(x * w if w is not None else x))
    return S.squeeze(P.true_divide(c, norm_factor))


def corrcoef(input: Tensor) -> Tensor:
    if input.ndim > 2:
        raise TorchRuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but got an input with "
                                f"{input.ndim} dimensions")
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = J.diagonal(c)
    stddev = P.sqrt(d)
    c = c / S.view(stddev, -1, 1)
    c = c / S.view(stddev, 1, -1)
    return P.clamp(c, -1, 1)


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
