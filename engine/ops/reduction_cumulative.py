"""cumsum / cumprod along a dim (cumprod's backward through zeros included)."""

from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.autograd import grad_mode
from engine.ops import pointwise as P
from engine.ops import rules as R
from engine.ops import shape as S
from engine.ops._torch_sum import torch_sum
from engine.ops._util import wrap_dim
from engine.ops.jvp import shifted
from engine.ops.reduction_common import _check_autograd_dtype, _out
from engine.ops.reduction_prod import _reversed_cumsum
from engine.ops.reduction_sum import sum_dim
from engine.ops.registry import defop
from engine.ops.value_guard import decide, value_test
from engine.tensor import Tensor

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


@value_test
def _has_zero(x) -> bool:
    """cumprod's backward: another formula where the input has a zero (-0.0 too; NaN is none)."""
    return bool((x == 0).any())


def _cumprod_backward(grad, self, dim, result):
    grad = grad.to(self.dtype)
    if self.numel() <= 1:
        return grad
    d = wrap_dim(dim, self.ndim)
    n = self.shape[d]
    if n == 1:
        return grad
    if not decide(_has_zero, self):  # (a guard where lowered: value_guard)
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


def _cum_wide(fn, a, d):
    """np.cumsum / np.cumprod of a float array along d as torch's cpu_cum_base_kernel: accumulated in acc_type
    (double for float, float for half), each partial result cast back."""
    wide = {np.dtype(np.float16): np.float32, np.dtype(np.float32): np.float64}.get(a.dtype)
    return fn(a, axis=d) if wide is None else fn(a, axis=d, dtype=wide).astype(a.dtype)


def _rev_cumsum_array(w, d):
    return np.flip(_cum_wide(np.cumsum, np.flip(w, d), d), d)


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
    prods = _cum_wide(np.cumprod, np.where(between, x, 1).astype(g.dtype, copy=False), d)
    terms = np.ascontiguousarray(prods * np.where(first, g, 0))
    # .sum(dim, keepdim): torch's summation order where it is modelled (half accumulates in float)
    tail = torch_sum(terms.astype(np.float32) if terms.dtype == np.float16 else terms, (d,))
    tail = np.sum(terms, axis=d, keepdims=True) if tail is None else tail.astype(terms.dtype, copy=False)
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
