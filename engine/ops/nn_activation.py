"""torch.nn.functional's activations: their entries, torch's dedicated backward entries (threshold_backward,
...) and the Python-facing functions (relu, gelu, softplus, hardshrink, ...)."""
from __future__ import annotations

import math

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.autograd import grad_mode
from engine.errors import (
    TorchNotImplementedError,
    TorchRuntimeError,
    TorchValueError,
)
from engine.ops import nn_activation_bw as AB
from engine.ops import pointwise as P
from engine.ops._special import erf_array
from engine.ops._util import at_least, at_most
from engine.ops.jvp import only, refuse, unsupported
from engine.ops.nn_common import (
    _TR,
    _act,
    _cfmt,
    _errstate,
    _inplace,
    _need_float,
    _not_implemented,
    _pointwise,
    _scalar,
    _word,
)
from engine.ops.registry import defop
from engine.ops.scalar_fit import check_fits, converted, f16_value, float32_of_int, scalar_arg
from engine.tensor import Tensor

# ----- activations -----
# torch's dedicated backward functions (threshold_backward, ...) take `self` as a differentiable input with a
# zero derivative: the first-order gradient then requires grad under create_graph, as in torch.


def _zero(grad):
    return 0.0


_F16, _F32 = np.dtype(np.float16), np.dtype(np.float32)


def _to(v, dt):
    """Scalar::to<T>() as a kernel takes its coefficient: checked (c10's overflow test: torch's "value cannot be
    converted to type float without overflow"), then cast once (an int into float32 by one rounding)."""
    check_fits(v, dt)
    if type(v) is int and np.dtype(dt) == _F32:
        return np.asarray(float32_of_int(v), dtype=_F32)
    if type(v) is float and (dt is _F16 or dt is np.float16):  # c10::Half from a double: through float32
        return np.asarray(f16_value(v)).astype(_F16)
    return np.asarray(converted(v, dt)).astype(dt)


def _math_type(dt):
    """The type a CPU activation kernel computes float16 in: float, with its Scalars `.to<float>()`."""
    return _F32 if dt == _F16 else dt


def _leaky_bw(g, x, negative_slope):
    """leaky_relu_backward_kernel: float16's `float(grad) * negval` in float (the slope `.to<float>()`), rounded once;
    else in the dtype."""
    if g.dtype == _F16:
        with _errstate():
            return np.where(x > 0, g, (g.astype(_F32) * _to(negative_slope, _F32)).astype(_F16))
    return np.where(x > 0, g, g * _scalar(negative_slope, g.dtype))


def _bw(schema, fwd, again, reads_self=False):
    # the masks, a scaled gradient; backward: again beside self's zero-filled gradient (elementwise in grad_output,
    # so its forward formula is again on grad_output's tangent; torch's reads self's tangent for threshold only)
    return defop(schema, fwd, index=0, rule=_pointwise(temp=2, bwd=4),
                 jvp="element_wise" if reads_self else only(("grad_output",), "element_wise"), grad_output=again,
                 self=_zero)


threshold_backward = _bw(
    "threshold_backward(Tensor grad_output, Tensor self, Scalar threshold) -> Tensor",
    lambda g, x, threshold: np.where(x <= _scalar(threshold, x.dtype), B.xp.zeros((), g.dtype), g),
    lambda grad, self, threshold: threshold_backward(grad, self, threshold), reads_self=True,
)
def _hardtanh_bw(g, x, min_val, max_val):
    """hardtanh_backward_kernel: float16 compared in float, its bounds `.to<float>()` (not rounded to half: x =
    half(0.1) is inside a max of 0.1; redteam15 F6); else in the dtype."""
    if x.dtype == _F16:
        xf = x.astype(_F32)
        out = (xf <= _to(min_val, _F32)) | (xf >= _to(max_val, _F32))
    else:
        out = (x <= _scalar(min_val, x.dtype)) | (x >= _scalar(max_val, x.dtype))
    return np.where(out, B.xp.zeros((), g.dtype), g)


hardtanh_backward = _bw(
    "hardtanh_backward(Tensor grad_output, Tensor self, Scalar min_val, Scalar max_val) -> Tensor",
    _hardtanh_bw,
    lambda grad, self, min_val, max_val: hardtanh_backward(grad, self, min_val, max_val),
)
leaky_relu_backward = _bw(
    "leaky_relu_backward(Tensor grad_output, Tensor self, Scalar negative_slope, bool self_is_result) "
    "-> Tensor",
    lambda g, x, negative_slope, self_is_result: _leaky_bw(g, x, negative_slope),
    lambda grad, self, negative_slope: leaky_relu_backward(grad, self, negative_slope, False),
)
_SIXTH_F = float(np.float32(1.0 / 6.0))  # aten's hardsigmoid_backward constant: 1/6 as a float, in every dtype


def _sixth_of(g):
    """g * (1/6 as a float): float16 multiplies in float and rounds once (aten's reduced-float branch)."""
    if g.dtype == np.float16:
        return (g.astype(np.float32) * np.float32(_SIXTH_F)).astype(np.float16)
    return g * _scalar(_SIXTH_F, g.dtype)


hardsigmoid_backward = defop(  # torch has no derivative for it: a double backward raises
    "hardsigmoid_backward(Tensor grad_output, Tensor self) -> Tensor",
    lambda g, x: np.where((x > -3) & (x < 3), _sixth_of(g), B.xp.zeros((), g.dtype)),
    index=0, rule=_pointwise(temp=2), jvp=unsupported("hardsigmoid_backward"),
    grad_output=_not_implemented("hardsigmoid_backward"), self=_not_implemented("hardsigmoid_backward"),
)
hardshrink_backward = _bw(
    "hardshrink_backward(Tensor grad_output, Tensor self, Scalar lambd) -> Tensor",
    lambda g, x, lambd: np.where((x >= -_scalar(lambd, x.dtype)) & (x <= _scalar(lambd, x.dtype)),
                                 B.xp.zeros((), g.dtype), g),
    lambda grad, self, lambd: hardshrink_backward(grad, self, lambd),
)
softshrink_backward = _bw(
    "softshrink_backward(Tensor grad_output, Tensor self, Scalar lambd) -> Tensor",
    lambda g, x, lambd: np.where((x >= -_scalar(lambd, x.dtype)) & (x <= _scalar(lambd, x.dtype)),
                                 B.xp.zeros((), g.dtype), g),
    lambda grad, self, lambd: softshrink_backward(grad, self, lambd),
)


def _relu_fwd(a):
    if a.dtype.kind == "b":
        raise TorchRuntimeError("Boolean inputs not supported for relu")
    return at_least(a, B.xp.zeros((), dtype=a.dtype))


relu_op = defop("relu(Tensor self) -> Tensor", _relu_fwd, jvp="element_wise", index=0, rule=_act(bwd=3),
                self=lambda grad, result: threshold_backward(grad, result, 0))


def _hardtanh_fwd(a, min_val=-1, max_val=1):
    """hardtanh_out: an integer self takes its limits toLong() (checked: 2**63 is torch's overflow error), uint8
    refuses negative ones; then clamp into self's dtype, its kernel's checked `.to<scalar_t>()` of each limit
    (float16 refuses 70000, int8 300)."""
    scalar_arg(min_val)
    scalar_arg(max_val)
    if a.dtype.kind == "b":
        raise TorchRuntimeError("Bool inputs not supported for hardtanh")
    if a.dtype.kind in "iu":
        min_val, max_val = int(_to(min_val, np.int64)), int(_to(max_val, np.int64))
        if a.dtype == np.uint8 and (min_val < 0 or max_val < 0):
            raise TorchRuntimeError("cannot do hardtanh on an unsigned type with negative limits")
    lo = _to(min_val, a.dtype)
    hi = _to(max_val, a.dtype)
    return at_most(at_least(a, lo), hi)


hardtanh_op = defop(
    "hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> Tensor", _hardtanh_fwd, jvp="element_wise", index=0,
    rule=_act(temp=1, bwd=3),
    self=lambda grad, self, min_val, max_val: hardtanh_backward(grad, self, min_val, max_val),
)


def _leaky_fwd(a, negative_slope=0.01):
    """leaky_relu_kernel: float16 in float (the slope `.to<float>()`: 2**63 is finite there), else in the dtype;
    the slope's conversion checked."""
    scalar_arg(negative_slope)
    _need_float(a, "leaky_relu_cpu")
    ct = _math_type(a.dtype)
    x = a.astype(ct, copy=False)
    with _errstate():
        return np.where(x > 0, x, x * _to(negative_slope, ct)).astype(a.dtype, copy=False)


leaky_relu_op = defop(
    "leaky_relu(Tensor self, Scalar negative_slope=0.01) -> Tensor", _leaky_fwd, jvp="element_wise", index=0,
    rule=_act(temp=2, bwd=4),
    self=lambda grad, self, negative_slope: leaky_relu_backward(grad, self, negative_slope, False),
)
leaky_relu_inplace_op = defop(
    "leaky_relu_(Tensor(a!) self, Scalar negative_slope=0.01) -> Tensor(a!)", _leaky_fwd, jvp="element_wise", index=1,
    rule=_act(temp=2, bwd=4),
    self=lambda grad, result, negative_slope: leaky_relu_backward(grad, result, negative_slope, True),
)


def _elu_fwd(a, alpha=1, scale=1, input_scale=1, kernel="elu_cpu"):
    """elu_kernel: float16 in float (its coefficients `.to<float>()`, one rounding at the end: alpha 1e5 is not
    inf), other dtypes in their own, each coefficient a checked Scalar::to; a zero takes the positive branch
    (elu(0, alpha=inf) is 0, not NaN)."""
    _need_float(a, kernel)
    dt = a.dtype
    ct = _math_type(dt)
    negcoef = _to(alpha, ct) * _to(scale, ct)
    poscoef = _to(scale, ct)
    negiptcoef = _to(input_scale, ct)
    x = a.astype(ct, copy=False)
    with _errstate():
        neg = np.expm1(np.minimum(x, 0) * negiptcoef) * negcoef
        return np.where(x < 0, neg, x * poscoef).astype(dt, copy=False)


def _elu_grad(grad, x, alpha, scale, input_scale):
    if x.dtype is D.float16:  # aten's elu_backward: in float, rounded once (engine/ops/nn_activation_bw.py)
        return AB.elu_backward(grad, alpha, scale, input_scale, False, x)
    negcoef = alpha * scale
    # exp of min(x, 0) only (no overflow in the unused branch); its derivative is zero at x = 0, as in
    # torch's elu_double_backward (mask self < 0)
    neg = grad * (input_scale * negcoef) * (P.where(x < 0, x, 0.0) * input_scale).exp()
    return P.where(x > 0, grad * scale if scale != 1 else grad, neg)


def _elu_grad_result(grad, result, alpha, scale, input_scale):
    if result.dtype is D.float16:
        return AB.elu_backward(grad, alpha, scale, input_scale, True, result)
    negcoef = alpha * scale
    return P.where(result > 0, grad * scale if scale != 1 else grad, grad * input_scale * (result + negcoef))


elu_op = defop(
    "elu(Tensor self, Scalar alpha=1, Scalar scale=1, Scalar input_scale=1) -> Tensor", _elu_fwd,
    jvp="element_wise", index=0,
    rule=_act(_TR, temp=4, bwd=7),
    self=lambda grad, self, alpha, scale, input_scale: _elu_grad(grad, self, alpha, scale, input_scale),
)
elu_inplace_op = defop(
    "elu_(Tensor(a!) self, Scalar alpha=1, Scalar scale=1, Scalar input_scale=1) -> Tensor(a!)", _elu_fwd,
    jvp="element_wise", index=1, rule=_act(_TR, temp=4, bwd=7),
    self=lambda grad, result, alpha, scale, input_scale: _elu_grad_result(
        grad, result, alpha, scale, input_scale),
)

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _celu_check(alpha):
    if float(alpha) == 0.0:
        raise TorchRuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")


def _celu_fwd(a, alpha=1.0):
    _celu_check(alpha)
    return _elu_fwd(a, alpha, 1.0, 1.0 / float(alpha))


def _f32(x):
    return float(np.float32(x))


def _inv_f32(alpha):
    """1 / alpha in float, as celu's backward takes it: inf where alpha rounds to a float zero (1e-320; Python's
    1.0 / 0.0 had raised ZeroDivisionError: a 500, redteam15 F3)."""
    with np.errstate(divide="ignore"):
        return float(np.float32(1.0) / np.float32(alpha)) if np.float32(alpha) == 0 else 1.0 / _f32(alpha)


celu_op = defop(
    "celu(Tensor self, Scalar alpha=1.0) -> Tensor", _celu_fwd,
    jvp="element_wise", index=0, rule=_act(_TR, temp=4, bwd=7),
    self=lambda grad, self, alpha: _elu_grad(grad, self, alpha, 1.0, _inv_f32(alpha)),
)
celu_inplace_op = defop(
    "celu_(Tensor(a!) self, Scalar alpha=1.0) -> Tensor(a!)", _celu_fwd,
    jvp="element_wise", index=1, rule=_act(_TR, temp=4, bwd=7),
    self=lambda grad, result, alpha: _elu_grad_result(grad, result, alpha, 1.0, _inv_f32(alpha)),
)


# W. J. Cody's rational Chebyshev approximations (netlib specfun CALERF): erf to ~2 ulp in double precision,
# vectorised (SciPy is not a dependency of the engine; math.erf per element is slow on large tensors)
_TWO_OVER_SQRTPI = 2.0 / math.sqrt(math.pi)


_SQRT1_2 = 1.0 / math.sqrt(2.0)
_GELU_BETA = math.sqrt(2.0) * (2.0 / math.sqrt(math.pi)) * 0.5
_GELU_KAPPA = 0.044715


def _gelu_fwd(a, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise TorchRuntimeError("approximate argument must be either none or tanh.")
    _need_float(a, "GeluKernelImpl")
    x = a.astype(np.float64)
    if approximate == "tanh":
        out = 0.5 * x * (1.0 + np.tanh(_GELU_BETA * (x + _GELU_KAPPA * x * x * x)))
    else:
        out = x * 0.5 * (1.0 + P._chunked(erf_array, x * _SQRT1_2))
    return out.astype(a.dtype)


def _gelu_grad(grad, x, approximate):
    if approximate == "tanh":
        x_sq = x * x
        inner = (x + x_sq * x * _GELU_KAPPA) * _GELU_BETA
        t = inner.tanh()
        left = x * 0.5
        right = t + 1
        left_d = right * 0.5
        right_d = left * (1 - t * t) * ((x_sq * (3 * _GELU_KAPPA) + 1) * _GELU_BETA)
        return grad * (left_d + right_d)
    cdf = (P.erf(x * _SQRT1_2) + 1) * 0.5
    pdf = (x * x * -0.5).exp() * (1.0 / math.sqrt(2.0 * math.pi))
    return grad * (cdf + x * pdf)


# float64 work: x, its products, erf's (per piece); the backward's cdf and pdf terms (erf again, per piece)
gelu_op = defop("gelu(Tensor self, *, str approximate='none') -> Tensor", _gelu_fwd, jvp="element_wise", index=0,
                rule=_act(6 * _TR, f64=6, work=P._ERF_WORK, bwd=12),
                self=lambda grad, self, approximate: _gelu_grad(grad, self, approximate))


def _silu_fwd(a):
    _need_float(a, "silu_cpu")
    with _errstate():
        return (a / (1 + np.exp(-a))).astype(a.dtype, copy=False)


def _silu_grad(grad, x):
    if not grad_mode.enabled:  # torch's silu_backward (its grad-mode-off path) has no forward formula
        refuse("silu_backward", grad, x)
    s = x.sigmoid()
    return grad * s * (1 + x * (1 - s))


silu_op = defop("silu(Tensor self) -> Tensor", _silu_fwd, jvp="element_wise", index=0, rule=_act(_TR, temp=3, bwd=10),
                self=lambda grad, self: _silu_grad(grad, self))


def _softplus_arr(a, beta=1.0, threshold=20.0):
    """softplus_kernel: float16 in float (beta and threshold `.to<float>()`), other dtypes in their own."""
    dt = a.dtype
    ct = _math_type(dt)
    b = _to(beta, ct)
    t = _to(threshold, ct)
    x = a.astype(ct, copy=False)
    with _errstate():
        xb = x * b
        soft = np.log1p(np.exp(xb)) / b
        return np.where(xb > t, x, soft).astype(dt, copy=False)


def _softplus_fwd(a, beta=1.0, threshold=20.0):
    _need_float(a, "softplus_cpu")
    return _softplus_arr(a, beta, threshold)


softplus_op = defop(
    "softplus(Tensor self, Scalar beta=1, Scalar threshold=20) -> Tensor", _softplus_fwd, jvp="element_wise", index=0,
    rule=_act(2 * _TR, temp=4, bwd=10),
    self=lambda grad, self, beta, threshold: AB.softplus_backward(grad, self, beta, threshold)
    if self.dtype is D.float16 else P.where(self * beta > threshold, grad, grad * (self * beta).sigmoid()),
)


def _mish_fwd(a):
    _need_float(a, "mish_cpu")
    with _errstate():
        return (a * np.tanh(np.log1p(np.exp(a)))).astype(a.dtype, copy=False)


def _mish_grad(grad, x):
    if not grad_mode.enabled:  # torch's mish_backward (its grad-mode-off path) has no forward formula
        refuse("mish_backward", grad, x)
    s = x.sigmoid()
    t = softplus_op(x, 1, 20).tanh()
    return grad * (t + x * s * (1 - t * t))


mish_op = defop("mish(Tensor self) -> Tensor", _mish_fwd,
                jvp="element_wise", index=0, rule=_act(3 * _TR, temp=3, bwd=12),
                self=lambda grad, self: _mish_grad(grad, self))


def _hardsigmoid_fwd(a):
    _need_float(a, "hardsigmoid_cpu")
    three, six = _scalar(3, a.dtype), _scalar(6, a.dtype)
    return (np.minimum(np.maximum(a + three, _scalar(0, a.dtype)), six) / six).astype(a.dtype, copy=False)


hardsigmoid_op = defop(
    "hardsigmoid(Tensor self) -> Tensor", _hardsigmoid_fwd, jvp="element_wise", index=0, rule=_act(4, temp=3, bwd=4),
    self=lambda grad, self: hardsigmoid_backward(grad, self),
)


def _hardswish_fwd(a):
    _need_float(a, "hardswish_cpu")
    three, six = _scalar(3, a.dtype), _scalar(6, a.dtype)
    return (a * np.minimum(np.maximum(a + three, _scalar(0, a.dtype)), six) / six).astype(a.dtype, copy=False)


hardswish_op = defop(
    "hardswish(Tensor self) -> Tensor", _hardswish_fwd, jvp="element_wise", index=0, rule=_act(5, temp=4, bwd=6),
    self=lambda grad, self: AB.hardswish_backward(grad, self) if self.dtype is D.float16  # in float, as aten
    else P.where(self <= -3.0, 0.0, P.where(self < 3.0, grad * (self / 3.0 + 0.5), grad)),
)


def _log_sigmoid_arr(a):
    with _errstate():
        return (np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))).astype(a.dtype, copy=False)


def _log_sigmoid_fwd(a):
    _need_float(a, "log_sigmoid_cpu")
    return _log_sigmoid_arr(a)


log_sigmoid_op = defop("log_sigmoid_forward(Tensor self) -> Tensor", _log_sigmoid_fwd, jvp="element_wise", index=0,
                       rule=_act(2 * _TR, temp=4, bwd=8),
                       self=lambda grad, self: AB.log_sigmoid_backward(grad, self) if self.dtype is D.float16
                       else grad * (-self).sigmoid())


def _threshold_fwd(a, threshold, value):
    if a.dtype.kind == "b":
        raise TorchNotImplementedError('"threshold_cpu" not implemented for \'Bool\'')
    # threshold_kernel: the threshold `.to<float>()` for float16 (compared in float), else `.to<scalar_t>()`;
    # the value `.to<scalar_t>()`; both checked (float16 refuses a value of 1e5, int8 a threshold of 300)
    t = _to(threshold, _math_type(a.dtype))
    v = _to(value, a.dtype)
    return np.where(a.astype(t.dtype, copy=False) <= t, v, a)


threshold_op = defop(
    "threshold(Tensor self, Scalar threshold, Scalar value) -> Tensor", _threshold_fwd, jvp="element_wise", index=0,
    rule=_act(temp=1, bwd=4),
    self=lambda grad, self, threshold: threshold_backward(grad, self, threshold),
)
threshold_inplace_op = defop(
    "threshold_(Tensor(a!) self, Scalar threshold, Scalar value) -> Tensor(a!)", _threshold_fwd,
    jvp="element_wise", index=1,
    rule=_act(temp=1, bwd=4),
    # torch saves the original self for this in-place formula (the alias keeps the pre-op array)
    self=lambda grad, self, threshold: threshold_backward(grad, self, threshold),
)


def _hardshrink_fwd(a, lambd=0.5):
    scalar_arg(lambd)
    _need_float(a, "hardshrink_cpu")
    lam = _to(lambd, a.dtype)  # (the kernel's checked lambd.to<scalar_t>(): float16 refuses 70000)
    return np.where((a >= -lam) & (a <= lam), B.xp.zeros((), a.dtype), a)


hardshrink_op = defop(
    "hardshrink(Tensor self, Scalar lambd=0.5) -> Tensor", _hardshrink_fwd,
    jvp="element_wise", index=0, rule=_act(temp=1, bwd=4),
    self=lambda grad, self, lambd: hardshrink_backward(grad, self, lambd),
)


def _softshrink_fwd(a, lambd=0.5):
    scalar_arg(lambd)
    _need_float(a, "softshrink_check")
    top = float(np.finfo(a.dtype).max)
    if not 0 <= float(lambd) <= top:
        raise TorchRuntimeError(
            f"lambda must be in range [0, {_cfmt(top)}] for input dtype {_word(a)}, but found {_cfmt(lambd)}")
    # softshrink_kernel: float16 in float (lambd `.to<float>()`), else in the dtype; the middle is a * 0 (-0.0 for a
    # negative a, NaN for NaN)
    ct = _math_type(a.dtype)
    lam = _to(lambd, ct)
    x = a.astype(ct, copy=False)
    with _errstate():
        return np.where(x > lam, x - lam, np.where(x < -lam, x + lam, x * ct.type(0))).astype(a.dtype, copy=False)


softshrink_op = defop(
    "softshrink(Tensor self, Scalar lambd=0.5) -> Tensor", _softshrink_fwd,
    jvp="element_wise", index=0, rule=_act(3, temp=5, bwd=4),
    self=lambda grad, self, lambd: softshrink_backward(grad, self, lambd),
)


# ----- Python-facing functions (torch.nn.functional's signatures) -----


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    if inplace:
        return _inplace(input, relu_op)
    return relu_op(input)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6): torch records HardtanhBackward0."""
    if inplace:
        return _inplace(input, lambda t: hardtanh_op(t, 0.0, 6.0))
    return hardtanh_op(input, 0.0, 6.0)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    if min_val > max_val:
        raise TorchValueError("min_val cannot be greater than max_val")
    if inplace:
        return _inplace(input, lambda t: hardtanh_op(t, min_val, max_val))
    return hardtanh_op(input, min_val, max_val)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    if inplace:
        return _inplace(input, lambda t: leaky_relu_op(t, negative_slope), leaky_relu_inplace_op,
                        negative_slope)
    return leaky_relu_op(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if inplace:
        return _inplace(input, lambda t: elu_op(t, alpha), elu_inplace_op, alpha)
    return elu_op(input, alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha): torch records EluBackward0."""
    if inplace:
        return _inplace(input, lambda t: elu_op(t, SELU_ALPHA, SELU_SCALE), elu_inplace_op, SELU_ALPHA,
                        SELU_SCALE)
    return elu_op(input, SELU_ALPHA, SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if inplace:
        _celu_check(alpha)
        return _inplace(input, lambda t: celu_op(t, alpha), celu_inplace_op, alpha)
    return celu_op(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    return gelu_op(input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    if inplace:
        return _inplace(input, silu_op)
    return silu_op(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    if inplace:
        return _inplace(input, mish_op)
    return mish_op(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return softplus_op(input, beta, threshold)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    if inplace:
        return _inplace(input, hardsigmoid_op)
    return hardsigmoid_op(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    if inplace:
        return _inplace(input, hardswish_op)
    return hardswish_op(input)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|), composed as torch composes it."""
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    return input - input.tanh()


def logsigmoid(input: Tensor) -> Tensor:
    return log_sigmoid_op(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    if inplace:
        return _inplace(input, lambda t: threshold_op(t, threshold, value), threshold_inplace_op, threshold,
                        value)
    return threshold_op(input, threshold, value)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return hardshrink_op(input, lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return softshrink_op(input, lambd)
