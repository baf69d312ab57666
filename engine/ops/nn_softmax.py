"""torch.nn.functional's softmax family: softmax, log_softmax and their backward-data entries, softmin."""
from __future__ import annotations

import warnings

import numpy as np

from engine.ops import _softmax_order as _order
from engine.ops._util import wrap_dim
from engine.ops.jvp import shifted, tmap, tsum
from engine.ops.nn_common import _TR, _act, _errstate, _need_float, _pointwise
from engine.ops.registry import defop
from engine.tensor import Tensor

# ----- softmax family -----


def _max_reduce(x, axis, keepdims):
    """np.max: for a NumPy array the reduction fromnumeric's wrapper calls, without ~1.5 us of wrapper (CuPy
    arrays take np.max, which dispatches)."""
    return np.maximum.reduce(x, axis=axis, keepdims=keepdims) if type(x) is np.ndarray else np.max(
        x, axis=axis, keepdims=keepdims)


def _add_reduce(x, axis, keepdims):
    """np.sum likewise."""
    return np.add.reduce(x, axis=axis, keepdims=keepdims) if type(x) is np.ndarray else np.sum(
        x, axis=axis, keepdims=keepdims)


def _softmax_prep(a, dim, kernel):
    d = wrap_dim(dim, a.ndim)
    last = a.ndim == 0 or d == a.ndim - 1
    _need_float(a, f"{kernel}_lastdim_kernel_impl" if last else f"{kernel}_kernel_impl")
    return d


def _softmax_fwd(a, dim, half_to_float=False):
    d = _softmax_prep(a, dim, "softmax")
    if a.size == 0:  # torch's empty answer at once: a reduction over a zero dim would keep the long one
        return a.copy()
    x = a.reshape(1) if a.ndim == 0 else a
    with _errstate():
        m = _max_reduce(x, axis=d, keepdims=True) if x.size else x
        e = np.exp(x - m)
        out = e / _add_reduce(e, axis=d, keepdims=True)
    return out.reshape(a.shape).astype(a.dtype, copy=False)


def _log_softmax_fwd(a, dim, half_to_float=False):
    d = _softmax_prep(a, dim, "log_softmax")
    if a.size == 0:
        return a.copy()
    x = a.reshape(1) if a.ndim == 0 else a
    with _errstate():
        m = _max_reduce(x, axis=d, keepdims=True) if x.size else x
        sh = x - m
        out = sh - np.log(_add_reduce(np.exp(sh), axis=d, keepdims=True))
    return out.reshape(a.shape).astype(a.dtype, copy=False)


def _sum_keep(t, dim):
    return t.sum(dim, True) if t.ndim else t


def _asum(a, dim):
    return _add_reduce(a, axis=wrap_dim(dim, a.ndim), keepdims=True) if a.ndim else a


def _softmax_bw_fwd(g, out, dim, input_dtype=None):
    if g.size == 0 and out.size == 0:  # no N-long reduction of an empty gradient
        return (g * out).astype(g.dtype, copy=False)
    if g.ndim and _order.modelled(g) and g.dtype == out.dtype and g.shape == out.shape:
        with _errstate():
            r = _order.softmax_backward(g, out, wrap_dim(dim, g.ndim))
        if r is not None:
            return r
    if g.ndim and type(g) is np.ndarray and g.dtype == out.dtype == np.float16 and g.shape == out.shape:
        with _errstate():
            return _order.softmax_backward_half(g, out, wrap_dim(dim, g.ndim))
    return (out * (g - _asum(g * out, dim))).astype(g.dtype, copy=False)


def _log_softmax_bw_fwd(g, out, dim, input_dtype=None):
    if g.size == 0 and out.size == 0:
        return (g + out).astype(g.dtype, copy=False)
    with _errstate():
        if g.ndim and _order.modelled(g) and g.dtype == out.dtype and g.shape == out.shape:
            r = _order.log_softmax_backward(g, out, wrap_dim(dim, g.ndim))
            if r is not None:
                return r
        return (g - np.exp(out) * _asum(g, dim)).astype(g.dtype, copy=False)


# torch's _softmax_backward_data / _log_softmax_backward_data: one node for the first-order gradient, with
# their own derivatives (so grad-of-grad works and the first-order gradient depends on the output)
softmax_backward_data = defop(
    "_softmax_backward_data(Tensor grad_output, Tensor output, int dim, ScalarType input_dtype) -> Tensor",
    _softmax_bw_fwd, index=0, rule=_pointwise(temp=3, bwd=9),
    jvp=lambda grad_output_t, output_t, grad_output, output, dim: tsum(
        tmap(grad_output_t, lambda t: softmax_backward_data(t, output, dim, None)),
        tmap(output_t, lambda t: t * (grad_output - _sum_keep(grad_output * output, dim))
             - output * _sum_keep(grad_output * t, dim))),
    grad_output=lambda grad, output, dim: softmax_backward_data(grad, output, dim, None),
    output=lambda grad, grad_output, output, dim: grad * (grad_output - _sum_keep(grad_output * output, dim))
    - grad_output * _sum_keep(grad * output, dim),
)
log_softmax_backward_data = defop(
    "_log_softmax_backward_data(Tensor grad_output, Tensor output, int dim, ScalarType input_dtype) "
    "-> Tensor",
    _log_softmax_bw_fwd, index=0, rule=_pointwise(temp=2, bwd=8),
    jvp=lambda grad_output_t, output_t, grad_output, output, dim: tsum(
        tmap(grad_output_t, lambda t: log_softmax_backward_data(t, output, dim, None)),
        tmap(output_t, lambda t: -(output.exp() * t) * _sum_keep(grad_output, dim))),
    grad_output=lambda grad, output, dim: grad - _sum_keep(grad * output.exp(), dim),  # the adjoint map
    output=lambda grad, grad_output, output, dim: -grad * output.exp() * _sum_keep(grad_output, dim),
)
softmax_op = defop(
    "_softmax(Tensor self, int dim, bool half_to_float) -> Tensor", _softmax_fwd, index=0,
    rule=_act(_TR + 3, temp=3, bwd=5),
    vjp={"self": lambda grad, result, dim: _softmax_bw_fwd(grad, result, dim)},
    jvp=shifted("element_wise", "dim"),  # its Jacobian is symmetric: the backward formula on the tangent
    self=lambda grad, result, dim: softmax_backward_data(grad, result, dim, None),
)
log_softmax_op = defop(
    "_log_softmax(Tensor self, int dim, bool half_to_float) -> Tensor", _log_softmax_fwd, index=0,
    rule=_act(_TR + 3, temp=3, bwd=5),
    vjp={"self": lambda grad, result, dim: _log_softmax_bw_fwd(grad, result, dim)},
    jvp=shifted(lambda self_t, result, dim: self_t - _sum_keep(self_t * result.exp(), dim), "dim"),
    self=lambda grad, result, dim: log_softmax_backward_data(grad, result, dim, None),
)


def _get_softmax_dim(name, ndim, stacklevel):
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an "
        "argument.", UserWarning, stacklevel=stacklevel + 1,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _softmax(input, dim, dtype, op):
    if dtype is not None:
        input = input.to(dtype)
    return op(input, dim, False)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """torch.nn.functional.softmax (dim None: torch's deprecated implicit choice, with its warning)."""
    if dim is None:
        dim = _get_softmax_dim("softmax", input.ndim, _stacklevel)
    return _softmax(input, dim, dtype, softmax_op)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.ndim, _stacklevel)
    return _softmax(input, dim, dtype, log_softmax_op)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-x): SoftmaxBackward0 over NegBackward0 (ToCopyBackward0 between them with dtype)."""
    if dim is None:
        dim = _get_softmax_dim("softmin", input.ndim, _stacklevel)
    return _softmax(-input, dim, dtype, softmax_op)


def torch_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """torch.softmax / Tensor.softmax."""
    return _softmax(input, dim, dtype, softmax_op)


def torch_log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """torch.log_softmax / Tensor.log_softmax."""
    return _softmax(input, dim, dtype, log_softmax_op)


torch_softmax.__name__ = "softmax"
torch_log_softmax.__name__ = "log_softmax"
