"""var / std, vector norms (torch.norm, linalg.vector_norm) and logsumexp: the reductions through a nonlinear
per-element step."""

from __future__ import annotations

import builtins
import math
import warnings

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchRuntimeError
from engine.ops import pointwise as P
from engine.ops import rules as R
from engine.ops._util import list_str
from engine.ops.jvp import own_dtype
from engine.ops.reduction_common import (
    _all_dims,
    _cast,
    _dims_arg,
    _half_acc,
    _ones,
    _out,
    _red,
    _reduced_dims,
    _unsqueeze_multiple,
    _word,
)
from engine.ops.reduction_extrema import amax_op
from engine.ops.reduction_sum import _fsum, _red_sum, mean, sum_dim
from engine.ops.registry import defop
from engine.tensor import Tensor

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
        from engine.ops.linalg_norms import matrix_norm  # noqa: PLC0415

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
    # the integer cast, x - max and its exp at once, and the ordered sum's partials (leading and trailing dims)
    rule=lambda self, dim, keepdim: _red(self, dim, keepdim, R.TRANSCENDENTAL + 2, temp=4, out_temp=3, bwd=3),
    jvp=lambda self_t, self, dim, keepdim: _logsumexp_jvp(self_t, self, dim, keepdim),
    self=_logsumexp_backward,
)


def logsumexp(input: Tensor, dim: int | list[int], keepdim: bool = False) -> Tensor:
    return logsumexp_op(input, dim=_dims_arg(dim), keepdim=keepdim)
