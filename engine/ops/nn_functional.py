"""torch.nn.functional: activations, the softmax family, normalization, linear, dropout, pad, embedding.

Each op reproduces torch 2.13's CPU graph: ops with their own derivative in derivatives.yaml are entries
here (relu -> ReluBackward0, gelu -> GeluBackward0, ...), and the Python-facing functions compose entries
exactly where torch decomposes (softsign -> DivBackward0, selu -> EluBackward0, relu6 -> HardtanhBackward0,
softmin -> SoftmaxBackward0 over NegBackward0, normalize, linear, cosine_similarity, dropout on CPU ->
MulBackward0). Backward formulas are written with the engine's own ops, so grad-of-grad works.

Tensor arguments that torch treats as non-differentiable (indices, targets, masks, running statistics)
are given a non-Tensor schema type, so that they are attributes: no edge in next_functions, as in torch.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine import dtypes as D
from engine.autograd import forward_ad as FW
from engine.autograd import grad_mode
from engine.errors import (
    TorchIndexError,
    TorchNotImplementedError,
    TorchRuntimeError,
    TorchValueError,
)
from engine.ops import linalg as L
from engine.ops import pad as _pad_modes
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import rules as C
from engine.ops import shape as S
from engine.ops._special import erf_array
from engine.ops._util import broadcast_shapes, list_str, wrap_dim
from engine.ops.jvp import only, pointwise, refuse, shifted, tmap, tsum, unsupported
from engine.ops.registry import defop
from engine.tensor import Size, Tensor

_word = D.scalar_type_name


def _need_float(a, kernel):
    """A floating-only CPU kernel: torch's NotImplementedError for integer and bool inputs."""
    if a.dtype.kind != "f":
        raise TorchNotImplementedError(f'"{kernel}" not implemented for \'{_word(a)}\'')


def _cfmt(x) -> str:
    """A double as C++'s ostream prints it in torch's messages (1.5, 2, 1e-05)."""
    return f"{float(x):g}"


def _scalar(x, dtype):
    """A Python number as a 0-d value of dtype (the scalar_t cast torch's kernels make)."""
    return B.xp.asarray(x).astype(dtype)


def _const(arr) -> Tensor:
    return Tensor._make(arr)


def _errstate():
    return np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore")


def _check_no_requires_grad(t, name, fn):
    """VariableType's check_no_requires_grad for arguments torch does not differentiate."""
    if t is not None and t.requires_grad and grad_mode.enabled:
        raise TorchRuntimeError(
            f"The function '{fn}' is not differentiable with respect to argument '{name}'. This input cannot "
            "have requires_grad True."
        )


def _inplace(input, fn, inplace_op=None, *args):
    """torch's in-place variant: the result is written into `input` (a leaf that requires grad refuses).

    With autograd recording, `input` takes the new node as its grad_fn (torch's rebase_history);
    `inplace_op` is the entry torch records for the in-place overload where its name differs."""
    if input.requires_grad and grad_mode.enabled:
        if input.grad_fn is None:
            raise TorchRuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation.")
        alias = Tensor._make(input._data)
        alias._req = True
        alias.grad_fn = input.grad_fn
        alias._output_nr = input._output_nr
        alias._fw = getattr(input, "_fw", None)  # its tangent too (forward-mode AD)
        out = inplace_op(alias, *args) if inplace_op is not None else fn(alias)
        input._data = out._data
        input.grad_fn = out.grad_fn
        input._output_nr = out._output_nr
        FW.inplace_tangent(input, out)
        return input
    out = fn(input)
    if out._data.dtype != input._data.dtype:
        raise TorchRuntimeError(
            f"result type {_word(out._data)} can't be cast to the desired output type {_word(input._data)}")
    try:
        input._data[...] = out._data  # in the storage, so that views of it see the change as in torch
    except (ValueError, TypeError):
        input._data = out._data
    FW.inplace_tangent(input, out)
    return input


# ----- cost rules (engine/ops/rules.py): output-sized temporaries of each forward and backward -----

_TR = C.TRANSCENDENTAL


def _act(weight=1, temp=0, bwd=2, f64=0, work=0):
    """An activation of self: `temp` / `bwd` output-sized temporaries, `f64` float64 work arrays of its size,
    `work` float64 arrays of at most one erf piece (P._ERF_CHUNK elements)."""

    def rule(self):
        out = C.shape_of(self)
        n = C.numel(out)
        w = C.wide(f64 * n + work * min(n, P._ERF_CHUNK), self)
        return C.Cost(out, weight * n, int(temp * n) + w, True, int(bwd * n) + w)

    rule.tensors_only = True
    return rule


def _pointwise(temp=0, bwd=2):
    """An elementwise entry of several tensors (the backward helpers, xlogy)."""
    return C.elementwise(temp=temp, bwd=bwd)


def _stat_rule(f64, bwd):
    """native_layer_norm / native_batch_norm: float64 work arrays of the input's size; the backward's."""

    def rule(input):
        out = C.shape_of(input)
        n = C.numel(out)
        return C.Cost(out, 8 * n, C.wide(f64 * n, input), True, bwd * n)

    rule.tensors_only = True
    return rule


# ----- small private entries used by the decompositions (overload names kept apart from other families) ---


def _mul_scalar_fwd(a, other):
    return np.multiply(a, _scalar(other, a.dtype) if a.dtype.kind == "f" else other)


mul_scalar = defop("mul.Scalar_nn(Tensor self, Scalar other) -> Tensor", _mul_scalar_fwd,
                   jvp="element_wise", index=1, rule=_act(bwd=1),
                   self=lambda grad, other: grad * other)
def _div_scalar_fwd(a, other):
    return np.true_divide(a, _scalar(other, a.dtype) if a.dtype.kind == "f" else other)


def _add_scalar_fwd(a, other, alpha=1):
    return np.add(a, _scalar(other * alpha, a.dtype) if a.dtype.kind == "f" else other * alpha)


div_scalar = defop("div.Scalar_nn(Tensor self, Scalar other) -> Tensor", _div_scalar_fwd,
                   jvp="element_wise", index=1, rule=_act(bwd=1),
                   self=lambda grad, other: grad / other)
add_scalar = defop(
    "add.Scalar_nn(Tensor self, Scalar other, Scalar alpha=1) -> Tensor",
    _add_scalar_fwd, jvp="element_wise", index=1, rule=_act(bwd=1), self=lambda grad: grad,
)


def _masked_fill_fwd(a, mask, value):
    m = mask._data if isinstance(mask, Tensor) else mask
    return np.where(m, _scalar(value, a.dtype), a)


# mask is an attribute: torch's MaskedFillBackward0 has one edge (self)
masked_fill = defop("masked_fill.Scalar_nn(Tensor self, Mask mask, Scalar value) -> Tensor", _masked_fill_fwd,
                    jvp="element_wise", index=0, rule=lambda self, mask: C.elementwise(bwd=2)(self, mask),
                    self=lambda grad, mask: P.where(mask, 0.0, grad))


def _clamp_min_fwd(a, min):
    return np.maximum(a, _scalar(min, a.dtype))


clamp_min = defop("clamp_min.nn(Tensor self, Scalar min) -> Tensor", _clamp_min_fwd,
                  jvp="element_wise", index=0, rule=_act(bwd=2),
                  self=lambda grad, self, min: P.where(self >= min, grad, 0.0))


def _xlogy_fwd(x, y):
    with _errstate():
        out = np.where(x == 0, B.xp.zeros((), dtype=np.result_type(x, y)), x * np.log(y))
        return np.where(np.isnan(y), y, out).astype(np.result_type(x, y), copy=False)


xlogy = defop(
    "xlogy.Tensor_nn(Tensor self, Tensor other) -> Tensor", _xlogy_fwd, promote=True, index=0,
    jvp=pointwise(lambda self_t, other_t, self, other: tsum(
        tmap(self_t, lambda t: P.where(P.logical_and(self == 0, other <= 0), 0.0, xlogy(t, other))),
        tmap(other_t, lambda t: t * self / other))),
    # log(y), x * log(y), the where, the NaN where; self's formula runs xlogy again beside a cast mask
    rule=C.elementwise(_TR, temp=4, bwd=10),
    self=lambda grad, self, other: grad * xlogy((self != 0).to(other.dtype), other),
    other=lambda grad, self, other: grad * self / other,
)


# ----- activations -----
# torch's dedicated backward functions (threshold_backward, ...) take `self` as a differentiable input with a
# zero derivative: the first-order gradient then requires grad under create_graph, as in torch.


def _zero(grad):
    return 0.0


def _not_implemented(name):
    def f(grad):
        raise TorchRuntimeError(f"derivative for aten::{name} is not implemented")

    return f


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
hardtanh_backward = _bw(
    "hardtanh_backward(Tensor grad_output, Tensor self, Scalar min_val, Scalar max_val) -> Tensor",
    lambda g, x, min_val, max_val: np.where(
        (x <= _scalar(min_val, x.dtype)) | (x >= _scalar(max_val, x.dtype)), B.xp.zeros((), g.dtype), g),
    lambda grad, self, min_val, max_val: hardtanh_backward(grad, self, min_val, max_val),
)
leaky_relu_backward = _bw(
    "leaky_relu_backward(Tensor grad_output, Tensor self, Scalar negative_slope, bool self_is_result) "
    "-> Tensor",
    lambda g, x, negative_slope, self_is_result: np.where(x > 0, g, g * _scalar(negative_slope, g.dtype)),
    lambda grad, self, negative_slope: leaky_relu_backward(grad, self, negative_slope, False),
)
hardsigmoid_backward = defop(  # torch has no derivative for it: a double backward raises
    "hardsigmoid_backward(Tensor grad_output, Tensor self) -> Tensor",
    lambda g, x: np.where((x > -3) & (x < 3), g * _scalar(1.0 / 6.0, g.dtype), B.xp.zeros((), g.dtype)),
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
    return np.maximum(a, B.xp.zeros((), dtype=a.dtype))


relu_op = defop("relu(Tensor self) -> Tensor", _relu_fwd, jvp="element_wise", index=0, rule=_act(bwd=3),
                self=lambda grad, result: threshold_backward(grad, result, 0))


def _hardtanh_fwd(a, min_val=-1, max_val=1):
    if a.dtype.kind == "b":
        raise TorchRuntimeError("Bool inputs not supported for hardtanh")
    lo = _scalar(min_val, a.dtype)
    hi = _scalar(max_val, a.dtype)
    return np.minimum(np.maximum(a, lo), hi)


hardtanh_op = defop(
    "hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> Tensor", _hardtanh_fwd, jvp="element_wise", index=0,
    rule=_act(temp=1, bwd=3),
    self=lambda grad, self, min_val, max_val: hardtanh_backward(grad, self, min_val, max_val),
)


def _leaky_fwd(a, negative_slope=0.01):
    _need_float(a, "leaky_relu_cpu")
    return np.where(a > 0, a, a * _scalar(negative_slope, a.dtype))


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
    _need_float(a, kernel)
    dt = a.dtype
    negcoef = _scalar(alpha, dt) * _scalar(scale, dt)
    poscoef = _scalar(scale, dt)
    negiptcoef = _scalar(input_scale, dt)
    with _errstate():
        neg = np.expm1(np.minimum(a, 0) * negiptcoef) * negcoef
    return np.where(a <= 0, neg, a * poscoef).astype(dt, copy=False)


def _elu_grad(grad, x, alpha, scale, input_scale):
    negcoef = alpha * scale
    # exp of min(x, 0) only (no overflow in the unused branch); its derivative is zero at x = 0, as in
    # torch's elu_double_backward (mask self < 0)
    neg = grad * (input_scale * negcoef) * (P.where(x < 0, x, 0.0) * input_scale).exp()
    return P.where(x > 0, grad * scale if scale != 1 else grad, neg)


def _elu_grad_result(grad, result, alpha, scale, input_scale):
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


celu_op = defop(
    "celu(Tensor self, Scalar alpha=1.0) -> Tensor", _celu_fwd,
    jvp="element_wise", index=0, rule=_act(_TR, temp=4, bwd=7),
    self=lambda grad, self, alpha: _elu_grad(grad, self, alpha, 1.0, 1.0 / _f32(alpha)),
)
celu_inplace_op = defop(
    "celu_(Tensor(a!) self, Scalar alpha=1.0) -> Tensor(a!)", _celu_fwd,
    jvp="element_wise", index=1, rule=_act(_TR, temp=4, bwd=7),
    self=lambda grad, result, alpha: _elu_grad_result(grad, result, alpha, 1.0, 1.0 / _f32(alpha)),
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
    dt = a.dtype
    b = _scalar(beta, dt)
    with _errstate():
        xb = a * b
        soft = np.log1p(np.exp(xb)) / b
    return np.where(xb > _scalar(threshold, dt), a, soft).astype(dt, copy=False)


def _softplus_fwd(a, beta=1.0, threshold=20.0):
    _need_float(a, "softplus_cpu")
    return _softplus_arr(a, beta, threshold)


softplus_op = defop(
    "softplus(Tensor self, Scalar beta=1, Scalar threshold=20) -> Tensor", _softplus_fwd, jvp="element_wise", index=0,
    rule=_act(2 * _TR, temp=4, bwd=10),
    self=lambda grad, self, beta, threshold: P.where(
        self * beta > threshold, grad, grad * (self * beta).sigmoid()),
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
    self=lambda grad, self: P.where(self <= -3.0, 0.0, P.where(self < 3.0, grad * (self / 3.0 + 0.5), grad)),
)


def _log_sigmoid_arr(a):
    with _errstate():
        return (np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))).astype(a.dtype, copy=False)


def _log_sigmoid_fwd(a):
    _need_float(a, "log_sigmoid_cpu")
    return _log_sigmoid_arr(a)


log_sigmoid_op = defop("log_sigmoid_forward(Tensor self) -> Tensor", _log_sigmoid_fwd, jvp="element_wise", index=0,
                       rule=_act(2 * _TR, temp=4, bwd=8),
                       self=lambda grad, self: grad * (-self).sigmoid())


def _threshold_fwd(a, threshold, value):
    if a.dtype.kind == "b":
        raise TorchNotImplementedError('"threshold_cpu" not implemented for \'Bool\'')
    return np.where(a <= _scalar(threshold, a.dtype), _scalar(value, a.dtype), a)


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
    _need_float(a, "hardshrink_cpu")
    lam = _scalar(lambd, a.dtype)
    return np.where((a >= -lam) & (a <= lam), B.xp.zeros((), a.dtype), a)


hardshrink_op = defop(
    "hardshrink(Tensor self, Scalar lambd=0.5) -> Tensor", _hardshrink_fwd,
    jvp="element_wise", index=0, rule=_act(temp=1, bwd=4),
    self=lambda grad, self, lambd: hardshrink_backward(grad, self, lambd),
)


def _softshrink_fwd(a, lambd=0.5):
    _need_float(a, "softshrink_check")
    top = float(np.finfo(a.dtype).max)
    if not 0 <= float(lambd) <= top:
        raise TorchRuntimeError(
            f"lambda must be in range [0, {_cfmt(top)}] for input dtype {_word(a)}, but found {_cfmt(lambd)}")
    lam = _scalar(lambd, a.dtype)
    return np.where(a > lam, a - lam, np.where(a < -lam, a + lam, B.xp.zeros((), a.dtype))).astype(a.dtype)


softshrink_op = defop(
    "softshrink(Tensor self, Scalar lambd=0.5) -> Tensor", _softshrink_fwd,
    jvp="element_wise", index=0, rule=_act(3, temp=5, bwd=4),
    self=lambda grad, self, lambd: softshrink_backward(grad, self, lambd),
)


# ----- softmax family -----


def _softmax_prep(a, dim, kernel):
    d = wrap_dim(dim, a.ndim)
    last = a.ndim == 0 or d == a.ndim - 1
    _need_float(a, f"{kernel}_lastdim_kernel_impl" if last else f"{kernel}_kernel_impl")
    return d


def _softmax_fwd(a, dim, half_to_float=False):
    d = _softmax_prep(a, dim, "softmax")
    x = a.reshape(1) if a.ndim == 0 else a
    with _errstate():
        m = np.max(x, axis=d, keepdims=True) if x.size else x
        e = np.exp(x - m)
        out = e / np.sum(e, axis=d, keepdims=True)
    return out.reshape(a.shape).astype(a.dtype, copy=False)


def _log_softmax_fwd(a, dim, half_to_float=False):
    d = _softmax_prep(a, dim, "log_softmax")
    x = a.reshape(1) if a.ndim == 0 else a
    with _errstate():
        m = np.max(x, axis=d, keepdims=True) if x.size else x
        sh = x - m
        out = sh - np.log(np.sum(np.exp(sh), axis=d, keepdims=True))
    return out.reshape(a.shape).astype(a.dtype, copy=False)


def _sum_keep(t, dim):
    return t.sum(dim, True) if t.ndim else t


def _asum(a, dim):
    return np.sum(a, axis=wrap_dim(dim, a.ndim), keepdims=True) if a.ndim else a


def _softmax_bw_fwd(g, out, dim, input_dtype=None):
    return (out * (g - _asum(g * out, dim))).astype(g.dtype, copy=False)


def _log_softmax_bw_fwd(g, out, dim, input_dtype=None):
    with _errstate():
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


# ----- linear, dropout, pad, embedding, one_hot -----


def _addmm_checked(bias, mat1, mat2):
    """at::addmm's checks in its order and words, then the op (AddmmBackward0)."""
    if mat1.ndim != 2:
        raise TorchRuntimeError(f"mat1 must be a matrix, got {mat1.ndim}-D tensor")
    if mat2.ndim != 2:
        raise TorchRuntimeError(f"mat2 must be a matrix, got {mat2.ndim}-D tensor")
    if bias.dtype is not mat2.dtype:
        raise TorchRuntimeError(
            f"self and mat2 must have the same dtype, but got {_word(bias.dtype)} and {_word(mat2.dtype)}")
    if mat1.dtype is not mat2.dtype:
        raise TorchRuntimeError(
            f"mat1 and mat2 must have the same dtype, but got {_word(mat1.dtype)} and {_word(mat2.dtype)}")
    if mat1.shape[1] != mat2.shape[0]:
        raise TorchRuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x{mat1.shape[1]} and "
            f"{mat2.shape[0]}x{mat2.shape[1]})")
    S._expand(bias._data, (mat1.shape[0], mat2.shape[1]))  # torch's expand message for a bad bias
    return L.addmm(bias, mat1, mat2)


def _dropout_impl(input, p, train):
    if not (0 <= p <= 1):
        raise TorchRuntimeError(f"dropout probability has to be between 0 and 1, but got {_cfmt(p)}")
    if p == 0 or not train or input.numel() == 0:
        return input
    a = input._data
    if p == 1:
        return P.mul(input, _const(B.xp.zeros((), dtype=a.dtype)))
    if a.dtype.kind != "f":
        raise TorchRuntimeError(f"result type Float can't be cast to the desired output type {_word(a)}")
    from engine.ops.factory import _generator  # noqa: PLC0415

    # the uniform draws (float64), their mask and the noise tensor, before they are made
    _budget.charge(a.size, 8 + 1 + 2 * a.dtype.itemsize, 4.0 * a.size, what="dropout's noise")
    keep = _generator[0].random(a.shape) < (1.0 - p)
    noise = np.true_divide(B.xp.asarray(keep).astype(a.dtype), _scalar(1.0 - p, a.dtype))
    return P.mul(input, _const(noise))


def _narrow_len(length):
    if length < 0:
        raise TorchRuntimeError("narrow(): length must be non-negative.")


def _constant_pad_fwd(a, pad, value=0):
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise TorchRuntimeError(f"Length of pad must be even but instead it equals {len(pad)}")
    n = a.ndim
    lp = len(pad) // 2
    if n < lp:
        raise TorchRuntimeError(
            "Length of pad should be no more than twice the number of dimensions of the input. "
            f"Pad length is {len(pad)}while the input has {n}dimensions.")
    ld = n - lp
    slices = [slice(None)] * n
    cur = list(a.shape)
    offsets = [0] * n
    new_shape = list(a.shape)
    all_nonpos = True
    for i in range(ld, n):
        pi = 2 * (n - i - 1)
        lo, hi = pad[pi], pad[pi + 1]
        start, stop = 0, cur[i]
        if lo < 0:
            _narrow_len(cur[i] + lo)
            start = -lo
        elif lo:
            all_nonpos = False
        if hi < 0:
            _narrow_len(stop - start + hi)
            stop = stop + hi
        elif hi:
            all_nonpos = False
        slices[i] = slice(start, stop)
        offsets[i] = max(lo, 0)
        new_shape[i] = a.shape[i] + lo + hi
    c = a[tuple(slices)]
    if all_nonpos:
        return c.copy()
    if a.dtype.kind == "b":
        fill = bool(value)
    else:
        fill = _scalar(value, a.dtype)
    out = B.xp.full(tuple(new_shape), fill, dtype=a.dtype)
    out[tuple(slice(o, o + s) for o, s in zip(offsets, c.shape))] = c
    return out


def _padded(shape, pad):
    out = list(shape)
    for i in range(len(pad) // 2):
        out[len(shape) - 1 - i] += int(pad[2 * i]) + int(pad[2 * i + 1])
    return tuple(out)


constant_pad_nd = defop(
    "constant_pad_nd(Tensor self, SymInt[] pad, Scalar value=0) -> Tensor", _constant_pad_fwd, index=0,
    rule=lambda self, pad: C.Cost(_padded(self.shape, pad), C.numel(_padded(self.shape, pad))),
    jvp=pointwise(lambda self_t, pad: constant_pad_nd(self_t, pad, 0)),
    self=lambda grad, pad: constant_pad_nd(grad, [-p for p in pad], 0),
)


def _check_indices(indices, fn):
    a = indices._data if isinstance(indices, Tensor) else indices
    if a.dtype not in (np.int64, np.int32):
        raise TorchRuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, "
            f"Int; but got {S._type_name(a)} instead (while checking arguments for {fn})")
    return a


def _embedding_fwd(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    if weight.ndim != 2:
        raise TorchRuntimeError("'weight' must be 2-D")
    idx = _check_indices(indices, "embedding")
    flat = idx.reshape(-1).astype(np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= weight.shape[0]):
        raise TorchIndexError("index out of range in self")
    return weight[flat].reshape(tuple(idx.shape) + (weight.shape[1],))


def _embedding_backward_fwd(grad, indices, num_weights, padding_idx, scale_grad_by_freq):
    idx = indices._data.reshape(-1).astype(np.int64)
    d = grad.shape[-1]
    g = grad.reshape(-1, d)
    out = B.xp.zeros((int(num_weights), d), dtype=grad.dtype)
    keep = idx != padding_idx
    if scale_grad_by_freq:
        counts = np.bincount(B.to_numpy(idx), minlength=int(num_weights))
        g = g / B.xp.asarray(counts[B.to_numpy(idx)]).astype(grad.dtype)[:, None]
    B.xp.add.at(out, idx[keep], g[keep])
    return out


def _embedding_cost(weight, indices):
    m = C.numel(C.shape_of(indices))
    out = tuple(C.shape_of(indices)) + (weight.shape[1],)
    n = C.numel(out)
    bwd = C.numel(weight.shape) + _embedding_backward_temp(n, m, weight.shape[0], weight)
    return C.Cost(out, n, C.wide(2 * m, weight), True, bwd)


def _embedding_double(grad, indices, padding_idx):
    """torch's embedding_dense_double_backward: the rows of grad at indices, padding rows zeroed."""
    out = embedding_op(grad, indices, -1, False, False)
    if padding_idx >= 0:
        mask = _const(np.expand_dims(indices._data == padding_idx, -1))
        out = P.where(mask, 0.0, out)
    return out


def _embedding_backward_temp(grad_n, indices_n, num_weights, like):
    """The indices' int64 copy, the kept mask, the kept rows (and their scaled copy), the counts."""
    return 2 * grad_n + C.wide(4 * indices_n + num_weights, like)


embedding_dense_backward = defop(
    "embedding_dense_backward(Tensor grad_output, Index indices, SymInt num_weights, SymInt padding_idx, "
    "bool scale_grad_by_freq) -> Tensor",
    _embedding_backward_fwd, index=0,
    rule=lambda grad_output, indices, num_weights: C.Cost(
        (int(num_weights), grad_output.shape[-1]), C.numel(grad_output.shape),
        _embedding_backward_temp(C.numel(grad_output.shape), C.numel(C.shape_of(indices)), int(num_weights),
                                 grad_output)),
    jvp="linear",
    grad_output=lambda grad, indices, padding_idx: _embedding_double(grad, indices, padding_idx),
)
embedding_op = defop(
    "embedding(Tensor weight, Index indices, SymInt padding_idx=-1, bool scale_grad_by_freq=False, "
    "bool sparse=False) -> Tensor",
    _embedding_fwd, index=0,
    rule=lambda weight, indices: _embedding_cost(weight, indices), jvp="linear",
    weight=lambda grad, weight_shape, indices, padding_idx, scale_grad_by_freq: embedding_dense_backward(
        grad, indices, weight_shape[0], padding_idx, scale_grad_by_freq),
)


def _embedding_renorm(weight, indices, max_norm, norm_type):
    """torch.embedding_renorm_ (under no_grad): rows used by indices rescaled to norm <= max_norm."""
    w = weight._data
    ind = _check_indices(indices, "embedding_renorm_")
    _budget.charge(3 * ind.size, 8, what="embedding's max_norm")  # np.unique's sorted copy and its list
    idx = np.unique(B.to_numpy(ind).reshape(-1))
    if idx.size and (idx.min() < 0 or idx.max() >= w.shape[0]):
        raise TorchIndexError("index out of range in self")
    for i in idx.tolist():
        _budget.check()
        row = w[i].astype(np.float64)
        p = float(norm_type)
        if p == math.inf:
            nrm = float(np.max(np.abs(row))) if row.size else 0.0
        elif p == 0:
            nrm = float(np.count_nonzero(row))
        else:
            nrm = float(np.sum(np.abs(row) ** p) ** (1.0 / p))
        if nrm > max_norm:
            w[i] = w[i] * _scalar(max_norm / (nrm + 1e-7), w.dtype)


# ----- normalization -----


def _ln_check(x, normalized_shape, w, b):
    ns = [int(s) for s in normalized_shape]
    if len(ns) < 1:
        raise TorchRuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, "
            f"but got normalized_shape = {list_str(ns)}")
    if w is not None and list(w.shape) != ns:
        raise TorchRuntimeError(
            "Expected weight to be of same shape as normalized_shape, but got weight of shape "
            f"{list_str(w.shape)} and normalized_shape = {list_str(ns)}")
    if b is not None and list(b.shape) != ns:
        raise TorchRuntimeError(
            "Expected bias to be of same shape as normalized_shape, but got bias of shape "
            f"{list_str(b.shape)} and normalized_shape = {list_str(ns)}")
    if x.ndim < len(ns) or list(x.shape[x.ndim - len(ns):]) != ns:
        raise TorchRuntimeError(
            f"Given normalized_shape={list_str(ns)}, expected input with shape "
            f"[*{''.join(', ' + str(s) for s in ns)}], but got input of size{list_str(x.shape)}")
    _need_float(x, "LayerNormKernelImpl")
    for p in (w, b):
        if p is not None and p.dtype != x.dtype:
            raise TorchRuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    return ns


def _ln_fwd(x, normalized_shape, w, b, eps):
    ns = _ln_check(x, normalized_shape, w, b)
    axes = tuple(range(x.ndim - len(ns), x.ndim))
    xd = x.astype(np.float64)
    with _errstate():
        mean = xd.mean(axis=axes, keepdims=True)
        var = ((xd - mean) ** 2).mean(axis=axes, keepdims=True)
        y = (xd - mean) / np.sqrt(var + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y.astype(x.dtype)


def _tie(t, *deps):
    """t plus a zero multiple of deps: torch's multi-output backward functions (native_layer_norm_backward,
    native_batch_norm_backward) give every output one node, so under create_graph each first-order gradient
    requires grad as soon as any differentiable input does."""
    if t is None or not grad_mode.enabled or t.requires_grad:
        return t
    for d in deps:
        if d is not None and d.requires_grad:
            return _tie_op(t, d)
    return t


# t itself, recorded with an edge to dep whose gradient is undefined (None), as torch's double-backward
# functions return undefined gradients for inputs a first-order output does not depend on
_tie_op = defop("_tie_nn(Tensor self, Tensor dep) -> Tensor", lambda a, d: a, index=0, rule=C.like(),
                jvp="element_wise",
                self=lambda grad: grad, dep=lambda grad: None)


def _ln_grad(grad, input, weight, normalized_shape, eps, output_mask=(True, True, True)):
    k = len(normalized_shape)
    n = input.ndim
    axes = list(range(n - k, n))
    batch = list(range(n - k))
    mu = input.mean(axes, True)
    xc = input - mu
    rstd = ((xc * xc).mean(axes, True) + eps).rsqrt()
    xhat = xc * rstd
    gi = gw = gb = None
    if output_mask[0]:
        g = grad * weight if weight is not None else grad
        gi = rstd * (g - g.mean(axes, True) - xhat * (g * xhat).mean(axes, True))
    if output_mask[1] and weight is not None:
        t = grad * xhat
        gw = t.sum(batch) if batch else t
    if output_mask[2]:
        gb = grad.sum(batch) if batch else grad
    return _tie(gi, input, weight), _tie(gw, input, weight), _tie(gb, input, weight)


layer_norm_op = defop(
    "native_layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias, float eps) "
    "-> Tensor",
    _ln_fwd, index=0,
    # float64: the copy, x - mean and its square, y and its scaled and shifted copies; the backward's xc, xhat,
    # g and its centred and projected terms
    rule=lambda input: _stat_rule(6, 9)(input),
    jvp=lambda input_t, weight_t, bias_t, input, weight, normalized_shape, eps: _norm_jvp(
        input_t, weight_t, bias_t, input, weight, list(range(input.ndim - len(normalized_shape), input.ndim)),
        None, eps),
    input__weight__bias=lambda grad, input, weight, normalized_shape, eps: _ln_grad(
        grad, input, weight, normalized_shape, eps),
)


def _bn_fwd(x, w, b, running_mean, running_var, training, momentum, eps):
    c = x.shape[1]
    axes = (0,) + tuple(range(2, x.ndim))
    cshape = (1, c) + (1,) * (x.ndim - 2)
    xd = x.astype(np.float64)
    with _errstate():
        if training:
            mean = xd.mean(axis=axes, keepdims=True)
            var = ((xd - mean) ** 2).mean(axis=axes, keepdims=True)
            n = x.size // c if c else 0
            if running_mean is not None:
                rm = running_mean._data
                new = (1 - momentum) * rm.astype(np.float64) + momentum * mean.reshape(c)
                rm[...] = new.astype(rm.dtype)
            if running_var is not None:
                rv = running_var._data
                unbiased = var.reshape(c) * (n / (n - 1)) if n > 1 else B.xp.full(c, np.nan)
                rv[...] = ((1 - momentum) * rv.astype(np.float64) + momentum * unbiased).astype(rv.dtype)
        else:
            mean = running_mean._data.astype(np.float64).reshape(cshape)
            var = running_var._data.astype(np.float64).reshape(cshape)
        y = (xd - mean) / np.sqrt(var + eps)
    if w is not None:
        y = y * w.reshape(cshape)
    if b is not None:
        y = y + b.reshape(cshape)
    return y.astype(x.dtype)


def _bn_grad(grad, input, weight, running_mean, running_var, training, eps, output_mask=(True, True, True)):
    n = input.ndim
    c = input.shape[1]
    axes = [0] + list(range(2, n))
    cshape = (1, c) + (1,) * (n - 2)
    if training:
        mu = input.mean(axes, True)
        xc = input - mu
        invstd = ((xc * xc).mean(axes, True) + eps).rsqrt()
    else:
        dt = input._data.dtype
        xc = input - _const(running_mean._data.astype(dt).reshape(cshape))
        inv = 1.0 / np.sqrt(running_var._data.astype(np.float64) + eps)
        invstd = _const(inv.astype(dt).reshape(cshape))
    xhat = xc * invstd
    gi = gw = gb = None
    if output_mask[0]:
        g = grad * weight.reshape(cshape) if weight is not None else grad
        if training:
            gi = invstd * (g - g.mean(axes, True) - xhat * (g * xhat).mean(axes, True))
        else:
            gi = g * invstd
    if output_mask[1] and weight is not None:
        gw = (grad * xhat).sum(axes)
    if output_mask[2]:
        gb = grad.sum(axes)
    return _tie(gi, input, weight), _tie(gw, input, weight), _tie(gb, input, weight)


# running_mean / running_var are attributes: NativeBatchNormBackward0 has edges (input, weight, bias)
batch_norm_op = defop(
    "native_batch_norm(Tensor input, Tensor? weight, Tensor? bias, Stat running_mean, Stat running_var, "
    "bool training, float momentum, float eps) -> Tensor",
    _bn_fwd, index=0,
    rule=lambda input: _stat_rule(6, 9)(input),
    jvp=lambda input_t, weight_t, bias_t, input, weight, running_mean, running_var, training, eps: _norm_jvp(
        input_t, weight_t, bias_t, input, weight, [0, *range(2, input.ndim)], (1, input.shape[1]) + (1,) * (
            input.ndim - 2), eps, None if training else (running_mean, running_var)),
    input__weight__bias=lambda grad, input, weight, running_mean, running_var, training, eps: _bn_grad(
        grad, input, weight, running_mean, running_var, training, eps),
)


def _norm_jvp(input_t, weight_t, bias_t, input, weight, axes, cshape, eps, running=None):
    """layer_norm_jvp / batch_norm_jvp: with x̂ = (x - mean) * rstd over `axes` (the running statistics in
    evaluation), the tangent of x̂ * weight + bias is dx̂ * weight + x̂ * weight_t + bias_t, where
    dx̂ = rstd * (x_t - mean(x_t)) - x̂ * rstd * mean(x̂ * x_t) (rstd * x_t with running statistics).
    cshape: how weight and bias broadcast (batch norm's channels), None where they are the trailing dims."""
    shape = (lambda t: t.reshape(cshape)) if cshape is not None else (lambda t: t)
    if running is None:
        mu = input.mean(axes, True)
        xc = input - mu
        rstd = ((xc * xc).mean(axes, True) + eps).rsqrt()
    else:
        dt = input._data.dtype
        xc = input - _const(running[0]._data.astype(dt).reshape(cshape))
        rstd = _const((1.0 / np.sqrt(running[1]._data.astype(np.float64) + eps)).astype(dt).reshape(cshape))
    xhat = xc * rstd
    dx = None
    if input_t is not None:
        if running is None:
            dx = rstd * (input_t - input_t.mean(axes, True)) - xhat * (rstd * (xhat * input_t).mean(axes, True))
        else:
            dx = input_t * rstd
        if weight is not None:
            dx = dx * shape(weight)
    return tsum(dx, tmap(weight_t, lambda t: xhat * shape(t)), tmap(bias_t, shape))


def _bn_checks(input, weight, bias, running_mean, running_var, training):
    """at::batch_norm's checks (_batch_norm_impl_index, then the CPU kernel's), in torch's order."""
    c = input.shape[wrap_dim(1, input.ndim)]
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None:
            if t.numel() != c:
                raise TorchRuntimeError(f"{name} should contain {c} elements not {t.numel()}")
        elif not training:
            raise TorchRuntimeError(f"{name} must be defined in evaluation mode")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise TorchRuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    if (running_mean is None) != (running_var is None):
        raise TorchValueError("running_mean and running_var must either both be None or neither be None")
    if input.dtype.category != 2:
        raise TorchNotImplementedError(f'"batch_norm" not implemented for \'{_word(input.dtype)}\'')
    for t in (weight, bias):
        if t is not None and t.dtype is not input.dtype:
            raise TorchRuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    for t in (running_mean, running_var):
        if t is not None and t.dtype is not input.dtype:
            raise TorchRuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


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


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p over dim, eps), as torch composes it."""
    denom = S.expand_as(clamp_min(R.vector_norm_op(input, p, [dim], True), eps), input)
    res = P.div(input, denom)
    if out is not None:
        out._data = res._data
        return out
    return res


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias with at::linear's graph: addmm for 2-D input (and flattened N-D input)."""
    di, dw = input.ndim, weight.ndim
    if di == 0 or dw == 0:
        raise TorchRuntimeError(
            f"both arguments to linear need to be at least 1D, but they are {di}D and {dw}D")
    if bias is not None:
        if di == 2:
            return _addmm_checked(bias, input, weight.t())
        if bias.ndim == 1 or sum(1 for s in bias.shape if s != 1) == 1:  # is_bias_likely_fusable
            sizes = tuple(input.shape)
            flat = 1
            for s in sizes[:-1]:
                flat *= s
            res = _addmm_checked(bias, S.view(input, (flat, sizes[-1])), weight.t())
            return S.view(res, sizes[:-1] + (res.shape[1],))
    out = L.matmul(input, weight.t())
    if bias is not None:  # torch: output.add_(bias), in place
        full = broadcast_shapes(tuple(out.shape), tuple(bias.shape))
        if full != tuple(out.shape):
            raise TorchRuntimeError(
                f"output with shape {list_str(out.shape)} doesn't match the broadcast shape {list_str(full)}")
        out = P.add(out, bias)
    return out


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero elements with probability p (engine's seeded generator), scale the rest by 1/(1-p): on CPU
    torch records MulBackward0 (input times a constant noise tensor)."""
    if p < 0.0 or p > 1.0:
        raise TorchValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if inplace:
        if p == 0 or not training or input.numel() == 0:
            return input
        return _inplace(input, lambda t: _dropout_impl(t, p, training))
    return _dropout_impl(input, p, training)


def torch_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.dropout(input, p, train)."""
    return _dropout_impl(input, p, train)


torch_dropout.__name__ = "dropout"


def pad(input: Tensor, pad: list[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Constant padding (negative pads crop): ConstantPadNdBackward0; reflect / replicate / circular
    (engine.ops.pad): ReflectionPad2DBackward0, ReplicationPad1DBackward0, ..., CopySlices."""
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise TorchNotImplementedError(f"Unrecognised padding mode {mode}")
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise TorchRuntimeError("Padding length must be divisible by 2")
    if len(pad) > input.ndim * 2:
        raise TorchRuntimeError(
            "Padding length should be less than or equal to two times the input dimension but got padding "
            f"length {len(pad)} and input of dimension {input.ndim}")
    if mode == "constant":
        return constant_pad_nd(input, pad, 0.0 if value is None else value)
    if value is not None and value != 0:
        raise TorchRuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    return _pad_modes.pad_mode(input, pad, mode)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of weight at the indices in input: EmbeddingBackward0 (an edge to weight only)."""
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= weight.shape[0]:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -weight.shape[0]:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = weight.shape[0] + padding_idx
    else:
        padding_idx = -1
    if max_norm is not None:
        _embedding_renorm(weight, input, max_norm, norm_type)
    return embedding_op(weight, input, padding_idx, scale_grad_by_freq, sparse)


def torch_embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1, scale_grad_by_freq: bool = False,
                    sparse: bool = False) -> Tensor:
    """torch.embedding(weight, indices, ...) (weight first, as aten's schema)."""
    return embedding_op(weight, indices, padding_idx, scale_grad_by_freq, sparse)


torch_embedding.__name__ = "embedding"


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim (no autograd)."""
    a = tensor._data
    if a.dtype != np.int64:
        raise TorchRuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if a.size == 0:
        if num_classes <= 0:
            raise TorchRuntimeError("Can not infer total number of classes from empty tensor.")
        return _const(B.xp.zeros(tuple(a.shape) + (int(num_classes),), dtype=np.int64))  # no element
    if int(a.min()) < 0:
        raise TorchRuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(a.max()) + 1
    elif num_classes <= int(a.max()):
        raise TorchRuntimeError("Class values must be smaller than num_classes.")
    # the int64 output, and the bool comparison it is cast from, sized by a value of the request's tensor
    _budget.charge(a.size * int(num_classes), 9, a.size * int(num_classes), what="one_hot")
    return _const((a[..., None] == B.xp.arange(int(num_classes))).astype(np.int64))


def layer_norm(input: Tensor, normalized_shape: list[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-05) -> Tensor:
    """Normalize over the last len(normalized_shape) dims: NativeLayerNormBackward0."""
    if isinstance(normalized_shape, int):
        normalized_shape = [normalized_shape]
    return layer_norm_op(input, [int(s) for s in normalized_shape], weight, bias, eps)


def torch_layer_norm(input: Tensor, normalized_shape: list[int], weight: Tensor | None = None,
                     bias: Tensor | None = None, eps: float = 1e-05, cudnn_enable: bool = True) -> Tensor:
    return layer_norm(input, normalized_shape, weight, bias, eps)


torch_layer_norm.__name__ = "layer_norm"


def _verify_batch_size(size):
    prods = size[0]
    for s in size[2:]:
        prods *= s
    if prods == 1:
        raise TorchValueError(
            f"Expected more than 1 value per channel when training, got input size {Size(size)}")


def _torch_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    _bn_checks(input, weight, bias, running_mean, running_var, training)
    return batch_norm_op(input, weight, bias, running_mean, running_var, bool(training), float(momentum),
                         float(eps))


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-05) -> Tensor:
    """Normalize per channel (dim 1): batch statistics when training (running stats updated in place),
    running statistics otherwise. NativeBatchNormBackward0."""
    if training:
        _verify_batch_size(tuple(input.shape))
    if training and eps <= 0.0:
        raise TorchValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise TorchValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if input.numel() == 0:  # aten's _batch_norm_impl_index: a clone (scaled by weight[0], shifted by bias[0])
        out = P.clone(input)
        if weight is not None:
            out = out * weight[0]
        if bias is not None:
            out = out + bias[0]
        return out
    return _torch_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)


def torch_batch_norm(input: Tensor, weight: Tensor | None, bias: Tensor | None, running_mean: Tensor | None,
                     running_var: Tensor | None, training: bool, momentum: float, eps: float,
                     cudnn_enabled: bool = True) -> Tensor:
    """torch.batch_norm (aten's argument order)."""
    return _torch_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)


torch_batch_norm.__name__ = "batch_norm"


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-08) -> Tensor:
    """sum((x1 / max(||x1||, eps)) * (x2 / max(||x2||, eps)), dim), as torch 2.13 composes it (the clamp
    is applied in place under no_grad, so it leaves no node)."""
    dt = D.result_type(x1, x2)
    if not dt.is_floating_point:
        raise TorchRuntimeError(
            f"expected common dtype to be floating point, yet common dtype is {_word(dt)}")
    if not x1.dtype.is_floating_point:
        x1 = x1.to(dt)
    if not x2.dtype.is_floating_point:
        x2 = x2.to(dt)
    if tuple(x1.shape) != tuple(x2.shape):
        shape = broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
        x1 = S.expand(x1, shape)
        x2 = S.expand(x2, shape)
    n1 = P.clone(R.vector_norm_op(x1, 2, [dim], True))
    n2 = P.clone(R.vector_norm_op(x2, 2, [dim], True))
    n1._data = np.maximum(n1._data, _scalar(eps, n1._data.dtype))
    n2._data = np.maximum(n2._data, _scalar(eps, n2._data.dtype))
    return R.sum((x1 / n1) * (x2 / n2), dim)


from engine.ops.registry import entry  # noqa: E402

_F = {"function": False, "method": False, "functional": True}
_FT = {"function": True, "method": False, "functional": True}
_FTM = {"function": True, "method": True, "functional": True}
_TM = {"function": True, "method": True, "functional": False}
_T = {"function": True, "method": False, "functional": False}

CATALOG = [
    entry("relu", relu, "max(x, 0).", relu_op, **_FTM),
    entry("relu6", relu6, "min(max(x, 0), 6) (recorded as hardtanh).", hardtanh_op, **_F),
    entry("hardtanh", hardtanh, "Clamp into [min_val, max_val].", hardtanh_op, **_F),
    entry("leaky_relu", leaky_relu, "x if x > 0 else negative_slope * x.", leaky_relu_op, **_F),
    entry("elu", elu, "x if x > 0 else alpha * (exp(x) - 1).", elu_op, **_F),
    entry("selu", selu, "scale * elu(x, alpha) with the SELU constants.", elu_op, **_FT),
    entry("celu", celu, "max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).", celu_op, **_FT),
    entry("gelu", gelu, "x * Phi(x); approximate='tanh' for the tanh form.", gelu_op, **_F),
    entry("silu", silu, "x * sigmoid(x).", silu_op, **_F),
    entry("mish", mish, "x * tanh(softplus(x)).", mish_op, **_F),
    entry("softplus", softplus, "log(1 + exp(beta * x)) / beta, linear above threshold.", softplus_op, **_F),
    entry("hardsigmoid", hardsigmoid, "Piecewise-linear sigmoid: clamp(x / 6 + 1 / 2, 0, 1).", hardsigmoid_op,
          **_F),
    entry("hardswish", hardswish, "x * hardsigmoid(x).", hardswish_op, **_F),
    entry("softsign", softsign, "x / (1 + |x|).", grad_fns=("DivBackward0",), **_F),
    entry("tanhshrink", tanhshrink, "x - tanh(x).", grad_fns=("SubBackward0",), **_F),
    entry("logsigmoid", logsigmoid, "log(sigmoid(x)), computed stably.", log_sigmoid_op, **_F),
    entry("threshold", threshold, "x if x > threshold else value.", threshold_op, **_FT),
    entry("hardshrink", hardshrink, "x where |x| > lambd, else 0.", hardshrink_op, **_FTM),
    entry("softshrink", softshrink, "x - sign(x) * lambd where |x| > lambd, else 0.", softshrink_op, **_F),
    entry("softmax", softmax, "exp(x) / sum(exp(x)) along dim (dtype: cast first).", softmax_op, **_F),
    entry("softmax", torch_softmax, "exp(x) / sum(exp(x)) along dim.", softmax_op, **_TM),
    entry("log_softmax", log_softmax, "x - logsumexp(x) along dim (dtype: cast first).", log_softmax_op,
          **_F),
    entry("log_softmax", torch_log_softmax, "x - logsumexp(x) along dim.", log_softmax_op, **_TM),
    entry("softmin", softmin, "softmax(-x) along dim.", softmax_op, **_F),
    entry("normalize", normalize, "x / max(||x||_p along dim, eps).", grad_fns=("DivBackward0",), **_F),
    entry("linear", linear, "x @ weight.T + bias (addmm for 2-D input).", L.addmm_op, L.mm_op, **_F),
    entry("dropout", dropout, "Zero with probability p, scale by 1 / (1 - p) (training only; seeded).",
          grad_fns=("MulBackward0",), **_F),
    entry("dropout", torch_dropout, "torch.dropout(input, p, train).", grad_fns=("MulBackward0",), **_T),
    entry("pad", pad, "Constant padding; negative pads crop.", constant_pad_nd, **_F),
    entry("embedding", embedding, "Rows of weight at the indices in input.", embedding_op, **_F),
    entry("embedding", torch_embedding, "torch.embedding(weight, indices, ...).", embedding_op, **_T),
    entry("one_hot", one_hot, "int64 one-hot encoding (num_classes=-1 infers).", **_F),
    entry("layer_norm", layer_norm, "Normalize over the trailing normalized_shape dims.", layer_norm_op,
          **_F),
    entry("layer_norm", torch_layer_norm, "torch.layer_norm.", layer_norm_op, **_T),
    entry("batch_norm", batch_norm, "Per-channel normalization (batch stats when training; running stats).",
          batch_norm_op, **_F),
    entry("batch_norm", torch_batch_norm, "torch.batch_norm (aten's argument order).", batch_norm_op, **_T),
    entry("cosine_similarity", cosine_similarity, "Cosine of the angle between x1 and x2 along dim.",
          grad_fns=("SumBackward1",), **_FT),
]
