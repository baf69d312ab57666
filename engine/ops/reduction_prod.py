"""prod (its zeros-safe backward), and the flip / shift helper entries its and cumprod's formulas use."""

from __future__ import annotations

import builtins

import numpy as np

from engine.autograd import is_grad_enabled
from engine.errors import TorchTypeError
from engine.ops import rules as R
from engine.ops import shape as S
from engine.ops._util import wrap_dim
from engine.ops.jvp import shifted
from engine.ops.reduction_common import _check_autograd_dtype, _ones, _out, _red
from engine.ops.reduction_sum import _red_sum
from engine.ops.registry import defop
from engine.tensor import Tensor

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
    from engine.ops.reduction_cumulative import cumsum_op  # noqa: PLC0415 - registered after this module's entries

    return _flip_helper(cumsum_op(_flip_helper(w, dim=dim), dim=dim), dim=dim)


def _exclusive_prods(x, dim):
    """prod of every other element along dim (torch's prod_safe_zeros_backward without the grad)."""
    from engine.ops.reduction_cumulative import cumprod_op  # noqa: PLC0415 - registered after this module's entries

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
    zeros = np.count_nonzero(self._data == 0)
    if not zeros:
        return grad * (result / self)
    if zeros > 1 and not is_grad_enabled():
        # aten prod_backward: two or more zeros and no graph to build answer zeros_like(input) (+0.0 everywhere;
        # the exclusive products below would give -0.0 where the other factors are negative)
        from engine.ops.factory import zeros_like  # noqa: PLC0415 - factory imports the reductions

        return zeros_like(self)
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
