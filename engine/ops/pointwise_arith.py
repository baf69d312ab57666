"""Elementwise arithmetic: add/sub/mul/div, pow, sign, max/min, clamp, where, remainders, rounding, lerp."""
from __future__ import annotations

import operator

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine._fma import add_scaled
from engine.errors import TorchNotImplementedError, TorchRuntimeError
from engine.ops import pointwise_divmod as DM
from engine.ops import pointwise_lerp as LK
from engine.ops import rules as R
from engine.ops import signed_zeros as SZ
from engine.ops._util import at_least, at_most
from engine.ops.jvp import pointwise, tmap, tsum
from engine.ops.pointwise_base import (
    _F16,
    _TR,
    _alpha_check,
    _alpha_rule,
    _binary,
    _dtype_word,
    _float_binary,
    _float_out,
    _into,
    _neg_check,
    _scale,
    _sub_check,
    _threaded,
    _true_div,
    _ufunc_into,
    _unary,
    _zero_grad,
    defop,
    f16_number,
    f16_operand,
    f16_opmath,
    torch_sign,
)
from engine.ops.scalar_fit import f16_value, fill_value, int_operands, scalar_arg
from engine.tensor import Tensor

# ----- Binary arithmetic -----
# The forwards use Python's operators rather than the ufuncs: on NumPy scalars (every 0-d result) `a * b` is
# ~14x faster than np.multiply(a, b) (0.05 against 0.69 us), with the same dtype rules and the same bits.

# NumPy computes `x + tmp` and `x * tmp` (tmp a fresh temporary of 256 KiB or more) in place as `tmp + x`: the
# operand order, which decides which NaN's payload a result carries, would then depend on the size (and
# differ between a whole array and its chunks). The formulas below write the temporary first: one order at
# every size, the one large arrays always had.
def _is_boolish(x):
    return x.dtype.kind == "b" if hasattr(x, "dtype") else type(x) is bool


def _alpha(a, b, alpha):
    """alpha as torch's kernel reads it, alpha.to<scalar_t>(): c10's checked conversion to the operands' type
    (uint8 refuses 300 and takes -1 as 255); bool operands take any alpha as a bool (add is then an `or`)."""
    if _is_boolish(a) and _is_boolish(b):
        return bool(alpha)
    if -65504.0 <= alpha <= 65504.0 and (type(alpha) is float or alpha >= 0 and alpha < 128):
        # every dtype holds it (a float alpha on integers is refused before): no check to make; float16 takes a
        # double through float32 (alpha.to<Half>(), c10::Half's two roundings)
        return f16_value(alpha) if type(alpha) is float and _result_f16(a, b) else alpha
    dt = a.dtype if hasattr(a, "dtype") else b.dtype
    if hasattr(a, "dtype") and hasattr(b, "dtype") and a.dtype != b.dtype:
        dt = np.result_type(a.dtype, b.dtype)
    return fill_value(alpha, dt) if dt.kind != "b" else bool(alpha)  # bool: alpha.to<bool>(), a + b an `or`


def _result_f16(a, b) -> bool:
    """Whether a + b is float16 (the operands are promoted already: an array's dtype is the result's)."""
    return getattr(a, "dtype", None) is _F16 or getattr(b, "dtype", None) is _F16


def _add(a, b, alpha=1):
    tb = type(b)
    if tb is float:  # a number beside float16: torch's wrapped number, cast to float16 through float32
        try:
            if a.dtype is _F16:
                b = f16_value(b)
        except AttributeError:  # (two numbers)
            pass
    if (tb is int and not 0 <= b < 128) or (type(a) is int and not 0 <= a < 128):  # (a small int: as is)
        a, b = int_operands(a, b)
    if alpha != 1 and type(alpha) in (int, float):
        alpha = _alpha(a, b, alpha)
    return a + b if alpha == 1 else _axpy(a, b, alpha)


def _sub(a, b, alpha=1):
    tb = type(b)
    if tb is float:  # (as _add)
        try:
            if a.dtype is _F16:
                b = f16_value(b)
        except AttributeError:  # (two numbers)
            pass
    elif type(a) is float:  # (rsub's number, on the left)
        a = f16_operand(b, a)
    if (tb is int and not 0 <= b < 128) or (type(a) is int and not 0 <= a < 128):  # (a small int: as is)
        a, b = int_operands(a, b)
    if alpha != 1 and type(alpha) in (int, float):  # torch: add(a, b, -alpha), -alpha a Scalar (int64 wraps)
        scalar_arg(alpha)
        neg = -alpha
        if type(alpha) is int and not -(1 << 63) <= neg < 1 << 63:  # wraps as int64 (2**63) or uint64 (< -2**63)
            neg = neg - (1 << 64) if neg > 0 else neg % (1 << 64)
        return _axpy(a, b, _alpha(a, b, neg))
    return a - b if alpha == 1 else a - _scale(b, alpha)


def _mul(a, b):
    tb = type(b)
    if (tb is int and not 0 <= b < 128) or (type(a) is int and not 0 <= a < 128):  # (a small int: as is)
        a, b = int_operands(a, b)
        if f16_number(a, b):
            return f16_opmath(np.multiply, a, b)
    elif tb is float:
        try:
            if a.dtype is _F16:  # float16 times a number: in float32, rounded once (torch's opmath)
                return f16_opmath(np.multiply, a, b)
        except AttributeError:  # (two numbers)
            pass
    return a * b


def _mul_into(out, a, b):
    if f16_number(a, b):
        out[...] = _mul(a, b)
        return out
    return np.multiply(a, b, out=out)


def _div_into(out, a, b):
    if f16_number(a, b):
        out[...] = _true_div(a, b)
        return out
    return np.true_divide(a, b, out=out)


def _axpy(a, b, alpha):
    """a + alpha * b as torch's add kernel rounds it: one fused multiply-add for float results (engine/_fma.py
    add_scaled), the temporary first otherwise (as above: one NaN order at every size)."""
    if type(alpha) is not bool:
        r = add_scaled(a, b, alpha)
        if r is not None:
            return r
    return _scale(b, alpha) + a


def _add_into(out, a, b, alpha=1):
    if alpha == 1:
        return np.add(a, b, out=out)
    out[...] = _add(a, b, alpha)
    return out


def _sub_into(out, a, b, alpha=1):
    if alpha == 1:
        return np.subtract(a, b, out=out)
    out[...] = _sub(a, b, alpha)
    return out


def _grad_alpha(grad, alpha):
    """grad * alpha as torch's mul with a number (float16 in float32, rounded once): an array by _mul, a Tensor
    (the Tensor formulas) by its own mul."""
    return grad * alpha if isinstance(grad, Tensor) else _mul(grad, alpha)


_add.into = _add_into
_sub.into = _sub_into
# what each is for two operands that are not Python numbers (arrays) and alpha 1: the operator itself (the unrolled
# call, engine/ops/fastcall.py, calls it so where the entry's alpha is the function's default)
_add.arrays, _sub.arrays, _mul.arrays = operator.add, operator.sub, operator.mul
def _times(grad, other):
    """grad * other; a Python number beside a float16 gradient in float32, rounded once (torch's opmath:
    x16 * (1 + 2**-11 + 2**-40)'s gradient is 1.0; parity19). The thread pool's and the lowering's call; the
    generated array backward's inline `grad * other` (one thread) is the plain lambda below, after it has sent that
    case to the Tensor formulas (engine/ops/array_vjp.py)."""
    if grad.dtype is _F16 and f16_number(grad, other):
        return f16_opmath(np.multiply, grad, other)
    return grad * other


def _over(grad, other):
    """grad / other, as _times."""
    if grad.dtype is _F16 and f16_number(grad, other):
        return f16_opmath(np.true_divide, grad, other)
    return grad / other


# array formulas with their `into`: the same operations in the same order, into the output's chunk
_grad_times = _threaded(_times, _mul_into)
_grad_times.__wrapped__ = lambda grad, other: grad * other  # (what formula_inline reads: one expression)
_grad_over = _threaded(_over, _div_into)
_grad_over.__wrapped__ = lambda grad, other: grad / other

add_tensor = defop(
    "add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
    _add,
    jvp="element_wise", promote=True, check=_alpha_check, cuda="a + b", vjp={"self": True, "other": True},
    rule=_alpha_rule("other"),
    self=lambda grad: grad,
    other=lambda grad, alpha: grad if alpha == 1 else _grad_alpha(grad, alpha),
)
sub_tensor = defop(
    "sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
    _sub,
    jvp="element_wise", promote=True, check=_sub_check, cuda="a - b", vjp={"self": True, "other": True},
    rule=_alpha_rule("other"),
    self=lambda grad: grad,
    other=lambda grad, alpha: -grad if alpha == 1 else _grad_alpha(grad, -alpha),
)
mul_tensor = defop(
    "mul.Tensor(Tensor self, Tensor other) -> Tensor",
    _threaded(_mul, _mul_into),
    jvp="element_wise", promote=True, cuda="a * b", rule=_binary(opmath=True),
    vjp={"self": _grad_times, "other": _threaded(lambda grad, self: grad * self, _ufunc_into(np.multiply))},
    self=lambda grad, other: grad * other,
    other=lambda grad, self: grad * self,
)
# torch's C++ formulas multiply by a Scalar with mul.Scalar (MulBackward1): the graph of a create_graph backward
# names it so; a Python `t * 2` is mul.Tensor (MulBackward0), as in torch.
def _scale_by(a, other):
    """mul.Scalar: C++'s mul(self, wrapped_scalar_tensor(other)), so a float16 array times a number float16 does
    not hold computes in float32 and rounds once, as mul.Tensor (pow's backward `exp * self.pow(exp - 1)`:
    redteam15 F6); else a * other in a's dtype."""
    if f16_number(a, other):
        return f16_opmath(np.multiply, a, other)
    return _scale(a, other)


def _scale_by_into(out, a, other):
    if f16_number(a, other):
        out[...] = f16_opmath(np.multiply, a, other)
        return out
    return np.multiply(a, other, out=out)


mul_scalar = defop(
    "mul.Scalar(Tensor self, Scalar other) -> Tensor",
    _into(_scale_by, _scale_by_into),
    jvp="element_wise", rule=R.like("self"),
    vjp={"self": _into(_scale_by, _scale_by_into)},
    self=lambda grad, other: mul_scalar(grad, other),
)
div_tensor = defop(
    "div.Tensor(Tensor self, Tensor other) -> Tensor",
    _into(_true_div, _div_into),
    jvp="element_wise", promote=True, cuda="a / b", vjp={"self": _grad_over, "other": True},
    rule=_binary(bwd=5, both_cast=True, opmath=True),
    self=lambda grad, other: grad / other,
    other=lambda grad, self, other: -grad * ((self / other) / other),
)


def _div_mode(a, b, rounding_mode):
    if rounding_mode is None:
        return _true_div(a, b)
    return DM.div_mode(a, b, rounding_mode)


div_tensor_mode = defop(
    "div.Tensor_mode(Tensor self, Tensor other, *, str? rounding_mode) -> Tensor",
    _div_mode,
    jvp="element_wise", promote=True, check=DM.number_check,
    index=2,
    # integer trunc: |a| // |b| * sign(a) * sign(b) holds four; true division casts integers
    rule=_binary(temp=4, bwd=5, both_cast=True),
    # rounding: zero gradients; an explicit rounding_mode=None is true division (torch's DivBackward2)
    self=lambda grad, other, rounding_mode: _zero_grad(grad) if rounding_mode is not None else grad / other,
    other=lambda grad, self, other, rounding_mode: _zero_grad(grad) if rounding_mode is not None
    else -grad * self / (other * other),
)
rsub_tensor = defop(
    "rsub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
    lambda a, b, alpha=1: _rsub(a, b, alpha),
    jvp="element_wise", promote=True, check=_sub_check, rule=_alpha_rule("self"),
    self=lambda grad, alpha: -grad if alpha == 1 else _grad_alpha(grad, -alpha),
    other=lambda grad: grad,
)
def _rsub(a, b, alpha):
    """rsub(self, other, alpha) = other - alpha * self: torch's sub(other, self, alpha) (fused for floats)."""
    if alpha == 1:
        if type(b) is float and a.dtype is _F16:  # (as _add; a is the tensor's array)
            b = f16_value(b)
        return np.subtract(*int_operands(b, a))
    return _sub(b, a, alpha)


def _rsub_scalar(a, other, alpha=1):
    if type(other) is float and a.dtype.kind != "f":  # a float number lifts an integer tensor to float32
        a = a.astype(D.default_float.np)
    return _rsub(a, other, alpha)


rsub_scalar = defop(
    "rsub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor",
    lambda a, other, alpha=1: _rsub_scalar(a, other, alpha),
    jvp="element_wise", check=_sub_check, rule=R.elementwise(temp=1),
    self=lambda grad, alpha: -grad if alpha == 1 else _grad_alpha(grad, -alpha),
)


neg = defop("neg(Tensor self) -> Tensor", _threaded(operator.neg, _ufunc_into(np.negative)),
            jvp="element_wise", check=_neg_check, cuda="-a",
            vjp={"self": _into(lambda grad: -grad, _ufunc_into(np.negative))},
            rule=R.like(bwd=1), self=lambda grad: -grad)
reciprocal = defop(
    "reciprocal(Tensor self) -> Tensor",
    _float_out(np.reciprocal), jvp="element_wise", rule=_unary(bwd=3),
    self=lambda grad, result: -grad * (result * result),
)
abs_ = defop("abs(Tensor self) -> Tensor", _threaded(np.abs, _ufunc_into(np.abs)),
             jvp="element_wise", rule=R.like(bwd=2), self=lambda grad, self: grad * self.sgn())


sgn_op = defop("sgn(Tensor self) -> Tensor", torch_sign,  # (temp: the NaN mask, a byte an element)
               jvp="element_wise", rule=R.like(temp_factor=1, bwd=1), self=lambda grad: _zero_grad(grad))
sign_op = defop("sign(Tensor self) -> Tensor", torch_sign,
             jvp="element_wise", rule=R.like(temp_factor=1, bwd=1), self=lambda grad: _zero_grad(grad))


def _maxmin_jvp(self_t, other_t, self, other, pick_self):
    """torch's: other_t + w * (self_t - other_t), w 1 where self is picked, 0.5 at ties (0 where either is NaN)."""
    w = where(self == other, 0.5, pick_self.to(D.promote_types(self.dtype, other.dtype)))
    return tsum(tmap(self_t, lambda t: t * w), tmap(other_t, lambda t: t * (1 - w)))


def _maxmin_grad(grad, self, other, pick_self):
    """maximum/minimum: ties split the gradient in half, as torch's formula does."""
    half = where(self == other, grad / 2, grad)
    return _where_zero(pick_self, half)


maximum = defop(
    "maximum(Tensor self, Tensor other) -> Tensor", SZ.placed(np.maximum), promote=True, rule=_binary(bwd=6),
    jvp=pointwise(lambda self_t, other_t, self, other: _maxmin_jvp(self_t, other_t, self, other, self > other)),
    self=lambda grad, self, other: _maxmin_grad(grad, self, other, self < other),
    other=lambda grad, self, other: _maxmin_grad(grad, self, other, self > other),
)
minimum = defop(
    "minimum(Tensor self, Tensor other) -> Tensor", SZ.placed(np.minimum), promote=True, rule=_binary(bwd=6),
    jvp=pointwise(lambda self_t, other_t, self, other: _maxmin_jvp(self_t, other_t, self, other, self < other)),
    self=lambda grad, self, other: _maxmin_grad(grad, self, other, self > other),
    other=lambda grad, self, other: _maxmin_grad(grad, self, other, self < other),
)


def clamp_dtype(dt, min=None, max=None):
    """torch's result type of clamp with number bounds: a float bound lifts an integer or bool tensor to float32,
    an int bound lifts bool to int64 (a bool bound lifts nothing)."""
    scalar_arg(min)
    scalar_arg(max)
    bounds = [v for v in (min, max) if v is not None and not isinstance(v, bool | np.bool_)]
    ints = ["UInt64" if v >= 1 << 63 else "Long" for v in bounds if isinstance(v, int | np.integer)]
    if "UInt64" in ints and dt.kind != "f" and (len(set(ints)) > 1 or dt.kind == "b"):  # no uint64 promotion
        pair = ints if len(set(ints)) > 1 else ["Bool", "UInt64"]
        raise TorchRuntimeError("Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
                                f"{pair[0]} and {pair[1]}")
    if dt.kind != "f" and any(isinstance(v, float | np.floating) for v in bounds):
        return np.dtype(D.default_float.np)
    if dt.kind == "b" and bounds:
        return np.dtype(np.int64)
    return dt


def _clamp(a, min=None, max=None):
    if min is None and max is None:
        raise TorchRuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    dt = clamp_dtype(a.dtype, min, max)
    if dt.kind == "b":  # bool bounds on a bool tensor: no kernel
        which = "clamp" if min is not None and max is not None else "clamp_min" if min is not None else "clamp_max"
        raise TorchNotImplementedError(f'"{which}_scalar_cpu" not implemented for \'Bool\'')
    if dt != a.dtype:
        a = a.astype(dt)
    # each bound as c10 converts a Scalar to the result's type: uint8 refuses 300 and takes -1 as 255
    if min is not None:  # (a where it equals the bound: clamp(0.0, min=-0.0) is 0.0, as torch's scalar clamp)
        a = at_least(a, B.xp.asarray(fill_value(min, dt), dtype=dt))
    if max is not None:
        a = at_most(a, B.xp.asarray(fill_value(max, dt), dtype=dt))
    return a


def _clamp_grad(grad, self, min, max):
    keep = None
    if min is not None:
        keep = self >= min
    if max is not None:
        k2 = self <= max
        keep = k2 if keep is None else keep & k2
    return where(keep, grad, 0.0)


clamp_op = defop(
    "clamp(Tensor self, Scalar? min=None, Scalar? max=None) -> Tensor", _clamp, jvp="element_wise", index=1,
    rule=R.like(temp_factor=2, bwd=2),  # the integer input's cast and max(a, min) before min(., max)
    self=lambda grad, self, min, max: _clamp_grad(grad, self, min, max),
)


def _clamp_t(a, mn, mx):
    ops = tuple(x for x in (a, mn, mx) if x is not None)  # (aten's zero by place where a meets its bound, the
    if mn is not None:  # inner loop the three inputs': engine/ops/signed_zeros.py)
        a = SZ.by_place(np.maximum(a, mn), a, mn, ops)
    if mx is not None:
        a = SZ.by_place(np.minimum(a, mx), a, mx, ops)
    return a


clamp_tensor = defop(
    "clamp.Tensor(Tensor self, Tensor? min=None, Tensor? max=None) -> Tensor", _clamp_t,
    jvp="element_wise", promote=True, index=0,
    rule=_binary(temp=1, bwd=6),
    self=lambda grad, self, min, max: _clamp_grad(grad, self, min, max),
    min=lambda grad, self, min, max: where(self < min if max is None else (self < min) & (min < max), grad, 0.0),
    max=lambda grad, self, min, max: where(self > max if min is None else (self > max) | (max < min), grad, 0.0),
)


def _where_cost(condition, self, other):
    out = R.broadcast(R.shape_of(condition), R.shape_of(self), R.shape_of(other))
    n = R.numel(out)
    cast = 0 if getattr(self, "dtype", None) == getattr(other, "dtype", None) else (
        R.numel(R.shape_of(self)) + R.numel(R.shape_of(other)))  # both operands cast to their result type
    return R.Cost(out, n, cast, True, 3 * n)


def _where(cond, a, b):
    cond = cond._data if isinstance(cond, Tensor) else cond  # a BoolTensor attribute, not an input
    if a.dtype != b.dtype:  # torch.result_type of the two (0-d arrays are wrapped scalars or 0-d tensors)
        dt = D.result_type(Tensor._make(a), Tensor._make(b)).np
        a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
    return _np_where(cond, a, b)


_np_where = _threaded(np.where)  # the condition reaches the entry's forward as a Tensor (an attribute)


where_self = defop(
    "where.self(BoolTensor condition, Tensor self, Tensor other) -> Tensor", _where,
    jvp="element_wise", promote=False, rule=lambda condition, self, other: _where_cost(condition, self, other),
    self=lambda grad, condition: where(condition, grad, 0.0),
    other=lambda grad, condition: where(condition, 0.0, grad),
)

# _int_zero_div_check's `b == 0` mask (integers); other's formula: -grad, self / other, its trunc at once
fmod_tensor = defop("fmod.Tensor(Tensor self, Tensor other) -> Tensor", DM.fmod,
                    jvp="element_wise", promote=True, check=DM.number_check,
                    index=1, rule=_binary(temp=1, bwd=5),
             self=lambda grad: grad,
             other=lambda grad, self, other: -grad * (self / other).trunc())
fmod_scalar = defop("fmod.Scalar(Tensor self, Scalar other) -> Tensor", DM.fmod,
                    jvp="element_wise", index=0, check=DM.number_check,
                    rule=R.like(temp_factor=1),
                    self=lambda grad: grad)
remainder_tensor = defop("remainder.Tensor(Tensor self, Tensor other) -> Tensor", DM.remainder,
                         jvp="element_wise", promote=True, check=DM.number_check, index=1, rule=_binary(temp=1, bwd=5),
                  self=lambda grad: grad,
                  other=lambda grad, self, other: -grad * (self / other).floor())
remainder_scalar = defop("remainder.Scalar(Tensor self, Scalar other) -> Tensor", DM.remainder,
                         jvp="element_wise", index=0, check=DM.number_check, rule=R.like(temp_factor=1),
                         self=lambda grad: grad)
floor = defop("floor(Tensor self) -> Tensor", lambda a: np.floor(a) if a.dtype.kind == "f" else a.copy(),
              jvp="element_wise", rule=R.like(bwd=1),
              self=lambda grad: _zero_grad(grad))
ceil = defop("ceil(Tensor self) -> Tensor", lambda a: np.ceil(a) if a.dtype.kind == "f" else a.copy(),
              jvp="element_wise", rule=R.like(bwd=1),
             self=lambda grad: _zero_grad(grad))
trunc = defop("trunc(Tensor self) -> Tensor", lambda a: np.trunc(a) if a.dtype.kind == "f" else a.copy(),
              jvp="element_wise", rule=R.like(bwd=1),
              self=lambda grad: _zero_grad(grad))
round_ = defop("round(Tensor self) -> Tensor", lambda a: np.round(a) if a.dtype.kind == "f" else a.copy(),
               jvp="element_wise", rule=R.like(bwd=1),
               self=lambda grad: _zero_grad(grad))
round_decimals = defop("round.decimals(Tensor self, *, int decimals) -> Tensor",
                       lambda a, decimals: np.round(a, decimals), jvp="element_wise", rule=R.like(temp_factor=2, bwd=1),
                       self=lambda grad: _zero_grad(grad))
def _lerp_scalar(a, b, w):
    """lerp with a Scalar weight (also called with a Python float by other ops)."""
    return LK.lerp_kernel("lerp_kernel_scalar", a, b, w)


lerp_scalar = defop(
    "lerp.Scalar(Tensor self, Tensor end, Scalar weight) -> Tensor",
    lambda a, b, weight: _lerp_scalar(a, b, weight.item() if isinstance(weight, Tensor) else weight),
    jvp="element_wise", promote=True, rule=_binary(temp=20, bwd=4), check=LK.lerp_check,
    self=lambda grad, weight: grad * (1 - weight),
    end=lambda grad, weight: grad * weight,
)
lerp_tensor = defop(
    "lerp.Tensor(Tensor self, Tensor end, Tensor weight) -> Tensor",
    lambda a, b, w: LK.lerp_kernel("lerp_kernel_tensor", a, b, w),
    jvp="element_wise", promote=True, rule=_binary(temp=24, bwd=7), check=LK.lerp_check,
    self=lambda grad, weight: grad * (1 - weight),
    end=lambda grad, weight: grad * weight,
    weight=lambda grad, self, end: grad * (end - self),
)
hypot = defop("hypot(Tensor self, Tensor other) -> Tensor", np.hypot,
              jvp="element_wise", promote=True, rule=_binary(2, bwd=5),
              self=lambda grad, self, result: grad * self / result,
              other=lambda grad, other, result: grad * other / result)
def _atan2_recip(self, other):
    """aten's atan2_backward: 1 / (self * self + other * other), 0 where that sum is 0 (the gradient at (0, 0) is
    0, not NaN), and the gradients grad * other * recip, grad * -self * recip in that order."""
    d = self * self + other * other
    return where(d == 0, 0.0, d.reciprocal())


atan2 = defop("atan2(Tensor self, Tensor other) -> Tensor", _float_binary(np.arctan2),
              jvp="element_wise", promote=True, rule=_binary(_TR, bwd=7, both_cast=True),
              self=lambda grad, self, other: grad * other * _atan2_recip(self, other),
              other=lambda grad, self, other: grad * -self * _atan2_recip(self, other))
logaddexp = defop("logaddexp(Tensor self, Tensor other) -> Tensor", np.logaddexp, jvp="element_wise", promote=True,
                  rule=_binary(2 * _TR, bwd=6),
                  self=lambda grad, self, other: grad / (1 + (other - self).exp()),
                  other=lambda grad, self, other: grad / (1 + (self - other).exp()))


# the Python-facing where (engine/ops/pointwise.py re-exports it): the formulas above call it
def _where_number(x, dt):
    """where's number in the result type: c10's checked conversion, except into float16, which torch rounds
    unchecked (70000 and 1e40 are inf there, measured). A float every dtype holds needs no check: the backward
    formulas' where(keep, grad, 0.0) runs no conversion code (the lowering keeps such programs)."""
    if type(x) is float and -65504.0 <= x <= 65504.0:
        return x if dt is not _F16 else f16_value(x)  # (float16: a double through float32, c10::Half's two roundings)
    if dt == np.float16 and not isinstance(x, bool | np.bool_):
        return f16_value(x) if type(x) is float else float(x)
    return fill_value(x, dt)


def where(condition: Tensor, input: Tensor | float, other: Tensor | float) -> Tensor:
    if not isinstance(condition, Tensor):
        condition = Tensor._make(B.xp.asarray(condition))
    if condition._data.dtype.kind != "b":
        raise TorchRuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                 f"{_dtype_word(condition.dtype)}")
    for x, y in ((input, other), (other, input)):
        if not isinstance(x, Tensor):
            scalar_arg(x)
            if isinstance(x, int) and x >= 1 << 63 and isinstance(y, Tensor) and y._data.dtype.kind == "b":
                raise TorchRuntimeError("Promotion for uint16, uint32, uint64 types is not supported, attempted to "
                                        "promote Bool and UInt64")
    dt = D.result_type(*(x for x in (input, other)))
    # a number as c10 converts a Scalar to the result type (uint8 takes -1 as 255, refuses 300)
    a = input if isinstance(input, Tensor) else Tensor._make(B.xp.asarray(_where_number(input, dt.np), dtype=dt.np))
    b = other if isinstance(other, Tensor) else Tensor._make(B.xp.asarray(_where_number(other, dt.np), dtype=dt.np))
    return where_self(condition, a, b)  # the forward promotes; gradients are cast back per input


def _where_zero(cond, g):
    """g with zeros where cond holds (torch's masked_fill(cond, 0)), differentiable in g."""
    return where(cond, 0.0, g)
