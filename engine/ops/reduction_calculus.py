"""torch's finite differences and integrals, recorded node by node as aten composes them: diff, gradient,
trapezoid / trapz, cumulative_trapezoid."""
from __future__ import annotations

from engine import _backend as B
from engine import budget
from engine import dtypes as D
from engine.errors import TorchRuntimeError
from engine.ops import join as J
from engine.ops import nn_functional as NF
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.ops._util import wrap_dim
from engine.ops.indexing import slice_op
from engine.ops.rules import PY_STEP
from engine.tensor import Tensor


def _t(a):
    return Tensor._make(a)


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

        bud = budget.current()
        if bud is not None:  # the copy, charged as clone's (a copy of self's size) before it is made: a plain
            bud.charge(x._data.nbytes, x._data.size, "diff", x._data.size)  # copy, it was charged nothing (safeO)
        if x.requires_grad and grad_mode.enabled:
            out = _copy_backwards(x)
            out._data = x._data.copy()
        else:
            out = _t(x._data.copy())
        if bud is not None:
            bud.track(out._data)
        from engine import autograd as A  # noqa: PLC0415

        if A._fw_levels:  # copy_'s forward formula: the copy's tangent is a copy of self's
            from engine.autograd.forward_ad import copied_tangent  # noqa: PLC0415

            copied_tangent(out, x)
        return out
    out_len = x.shape[d] - 1
    n = min(n, x.shape[d])
    from engine import autograd as A  # noqa: PLC0415

    if n and x._data.size == 0 and not x.requires_grad and not A._fw_levels:
        # (n == 0, the dim's length 0: the loop below returns x itself, as torch returns self)
        # nothing to difference and no graph to record: the n steps' last shape at once (redteam9 F3: [0, N]
        # with n = N looped N times on the event loop)
        shape = list(x.shape)
        shape[d] -= n
        return _t(B.xp.empty(tuple(shape), dtype=x._data.dtype))
    # n Python steps of three ops each, counted before they run: past loop_max_flops off the event loop, and a
    # graph of n nodes on an empty tensor bounded by the flop limits (its ops charge no elements)
    budget.charge(0, 8, PY_STEP * 3 * n, "diff")
    for _ in range(n):
        budget.check()
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
    n = 1
    for s in shape:
        n *= s
    budget.charge(n, y._data.dtype.itemsize, n, "trapezoid's zeros")  # [N, 0]'s N zeros: outside the op table
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
