"""torch's elu_backward, softplus_backward and hardswish_backward entries for float16 gradients (parity19).

aten's backward kernels compute a float16 gradient in float (their Scalars `.to<float>()`) and round it once to
half; the Tensor formulas of engine/ops/nn_activation.py round every step to half (elu(x, 0.1)'s gradient at
-0.01554 was 0.098389 where torch's is 0.098450). elu's and softplus's formulas call these entries for float16
(the gradient of a create_graph backward is then torch's EluBackwardBackward0 / SoftplusBackwardBackward0);
float32 and float64 keep their formulas, bit for bit as before. The entries' own derivatives are
derivatives.yaml's: again on grad_output, elu_double_backward / softplus_double_backward on self.
"""
from __future__ import annotations

import numpy as np

from engine.ops import pointwise as P
from engine.ops.nn_common import _errstate, _pointwise
from engine.ops.registry import defop
from engine.ops.scalar_fit import check_fits, converted, float32_of_int
from engine.ops.signed_zeros import _inner

_F16, _F32 = np.dtype(np.float16), np.dtype(np.float32)


def _f32(v):
    """Scalar::to<float>(): checked (torch's "value cannot be converted to type float without overflow"), then
    cast once (an int by one rounding)."""
    check_fits(v, _F32)
    if type(v) is int:
        return np.float32(float32_of_int(v))
    return np.float32(converted(v, _F32))


def _in_float(fn):
    """A backward kernel over (grad, x) arrays: float16 in float32, rounded once; other dtypes in their own."""

    def kernel(g, x, *coefs):
        dt = g.dtype
        with _errstate():
            if dt == _F16:
                return fn(g.astype(_F32), x.astype(_F32), *coefs).astype(_F16)
            return fn(g, x, *coefs).astype(dt, copy=False)

    return kernel


def _elu_bw_math(a, b, alpha, scale, input_scale, is_result):
    """elu_backward_kernel's float loop: b <= 0 takes the negative branch (b is the result where is_result)."""
    ct = _f32 if a.dtype == _F32 else a.dtype.type
    negcoef = ct(alpha) * ct(scale)
    poscoef = ct(scale)
    negiptcoef = ct(input_scale)
    if is_result:
        neg = a * negiptcoef
        neg *= b + negcoef
    else:
        e = b * negiptcoef
        np.exp(e, out=e)
        neg = a * negiptcoef
        neg *= negcoef
        neg *= e
    return np.where(b <= 0, neg, a * poscoef)


_elu_bw = _in_float(_elu_bw_math)


def _elu_double_backward(grad, grad_output, alpha, scale, input_scale, is_result, self_or_result):
    """aten's elu_double_backward."""
    mask = (self_or_result < 0).to(grad.dtype)
    if is_result:
        return grad * grad_output * input_scale * mask
    return elu_backward(grad * grad_output * input_scale, alpha, scale, input_scale, is_result, self_or_result) * mask


elu_backward = defop(
    "elu_backward(Tensor grad_output, Scalar alpha, Scalar scale, Scalar input_scale, bool is_result, "
    "Tensor self_or_result) -> Tensor",
    lambda g, alpha, scale, input_scale, is_result, x: _elu_bw(g, x, alpha, scale, input_scale, is_result),
    index=0, jvp="element_wise",
    # float16: its gradient and input in float32 (2 elements each of the output's), the exp, the two branches,
    # the mask and the rounded result (tracemalloc, a million halves: ~11.5 besides the output; the others less)
    rule=_pointwise(temp=14, bwd=14),
    grad_output=lambda grad, alpha, scale, input_scale, is_result, self_or_result: elu_backward(
        grad, alpha, scale, input_scale, is_result, self_or_result),
    self_or_result=lambda grad, grad_output, alpha, scale, input_scale, is_result, self_or_result:
        _elu_double_backward(grad, grad_output, alpha, scale, input_scale, is_result, self_or_result),
)


def _softplus_bw_math(a, b, beta, threshold):
    """softplus_backward_kernel's float loop: a * z / (z + 1), z = exp(b * beta); a where b * beta > threshold."""
    ct = _f32 if a.dtype == _F32 else a.dtype.type
    xb = b * ct(beta)
    z = np.exp(xb)
    soft = a * z
    z += 1
    soft /= z
    return np.where(xb > ct(threshold), a, soft)


def _softplus_double_backward(grad, input, beta, threshold):
    """aten's softplus_double_backward."""
    x = input * beta
    return P.sigmoid_backward(grad, x.sigmoid()) * (x < threshold).to(grad.dtype) * beta


softplus_backward = defop(
    "softplus_backward(Tensor grad_output, Tensor self, Scalar beta, Scalar threshold) -> Tensor",
    _in_float(_softplus_bw_math),
    index=0, jvp="element_wise",
    rule=_pointwise(temp=14, bwd=14),
    grad_output=lambda grad, self, beta, threshold: softplus_backward(grad, self, beta, threshold),
    self=lambda grad, grad_output, self, beta, threshold: _softplus_double_backward(
        grad * grad_output, self, beta, threshold),
)


def _hardswish_bw_math(a, b):
    """hardswish_backward_kernel's float loop: 0 to -3 (included), grad * (x / 3 + 0.5) below 3, grad from 3; a NaN
    input's gradient is the scalar tail's grad but NaN in the vector body (its blends; whole pairs of 32 halves of
    the inner loop, measured), as engine/ops/signed_zeros.py places them."""
    f = np.float32 if a.dtype == _F32 else a.dtype.type
    mid = b / f(3)
    mid += f(0.5)
    mid *= a
    r = np.where(b <= f(-3), f(0), np.where(b < f(3), mid, a))
    nan = np.isnan(b)
    if r.ndim and nan.any():
        n, broadcast = _inner(r.shape, np.asarray(a), np.asarray(b))
        if broadcast <= 1 and n:
            place = np.arange(r.size).reshape(r.shape) % n < n - n % 64
            r = np.where(nan & place, mid, r)
    return r


hardswish_backward = defop(
    "hardswish_backward(Tensor grad_output, Tensor self) -> Tensor", _in_float(_hardswish_bw_math),
    index=0, jvp="element_wise", rule=_pointwise(temp=14, bwd=14),
    grad_output=lambda grad, self: hardswish_backward(grad, self),
    self=lambda grad, grad_output, self: P.where((self > -3.0) & (self < 3.0), grad * grad_output / 3.0, 0.0),
)


def _log_sigmoid_bw(g, x):
    """log_sigmoid_backward_cpu_kernel for float16: the forward's buffer b = exp(-|x|) in float, stored as half;
    (max_deriv - sign * b / (1 + b)) * grad in float, rounded once (max_deriv 1 and sign 1 below 0, else 0 and -1)."""
    with _errstate():
        xf = x.astype(_F32)
        b = np.exp(-np.abs(xf)).astype(_F16).astype(_F32)
        neg = xf < 0
        q = b / (np.float32(1) + b)
        r = np.where(neg, np.float32(1) - q, q) * g.astype(_F32)
        return r.astype(_F16)


log_sigmoid_backward = defop(
    "log_sigmoid_backward(Tensor grad_output, Tensor self) -> Tensor", _log_sigmoid_bw,
    index=0, jvp="element_wise", rule=_pointwise(temp=14, bwd=14),
    grad_output=lambda grad, self: log_sigmoid_backward(grad, self),
    self=lambda grad, grad_output, self: _log_sigmoid_double(grad * grad_output, self),
)


def _log_sigmoid_double(grad, input):
    """aten's log_sigmoid_double_backward."""
    z = input.sigmoid()
    return grad * (z - 1) * z
