"""More elementwise ops: clamp_min / clamp_max, copysign, deg2rad / rad2deg, fmax / fmin, frac, frexp, ldexp,
logaddexp2, nan_to_num, nextafter, addcmul / addcdiv, with derivatives.yaml's formulas."""
from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine._fma import fma
from engine.errors import TorchNotImplementedError, TorchRuntimeError
from engine.ops import pointwise as P
from engine.ops import signed_zeros as SZ
from engine.ops._returns import make
from engine.ops._util import at_least, at_most
from engine.ops.indexing import masked_fill
from engine.ops.pointwise import defop
from engine.ops.pointwise_arith import _clamp
from engine.ops.registry import entry
from engine.ops.rules import TRANSCENDENTAL, Cost, elementwise, numel
from engine.ops.scalar_fit import f16_value, fill_value, scalar_arg
from engine.tensor import Tensor

_F16 = np.dtype(np.float16)

_EW = elementwise()
_EW_T = elementwise(TRANSCENDENTAL)


def _zeros(grad):
    return Tensor._make(B.xp.zeros_like(grad._data))


def _as_float(a):
    """Integer and bool operands compute in the default float dtype (torch's int-to-float promotion)."""
    return a.astype(D.default_float.np) if getattr(a, "dtype", None) is not None and a.dtype.kind != "f" else a


def _float_binary(fn):
    def f(a, b):
        if not (getattr(a, "dtype", np.dtype("f")).kind == "f" or isinstance(a, float)) and not (
                getattr(b, "dtype", np.dtype("i")).kind == "f" or isinstance(b, float)):
            a, b = _as_float(a), _as_float(b) if hasattr(b, "dtype") else float(b)
        return fn(a, b)

    return f


def _word(a):
    return D.scalar_type_name(D.FROM_NP[a.dtype])


# ----- clamp_min / clamp_max -----
# a number bound as clamp's (pointwise_arith._clamp): the result type (clamp_dtype: a float bound lifts integers
# to float32, an int bound lifts bool to int64), then c10's checked conversion of the bound to it (fill_value)

def _plain(a, v) -> bool:
    """A bound every dtype of a's kind holds and that keeps a's dtype (a float tensor and a number float16 holds,
    an integer tensor and an int in [0, 128)): no result-type change, no conversion; anything else goes through
    _clamp (clamp_dtype + fill_value)."""
    k, tv = a.dtype.kind, type(v)
    return (k == "f" and (tv is float or tv is int) and -65504 <= v <= 65504) or (
        (k == "i" or k == "u") and tv is int and 0 <= v < 128)


clamp_min_scalar = defop(
    "clamp_min(Tensor self, Scalar min) -> Tensor", index=0,
    # (a plain bound into float16 through float32: c10::Half's two roundings)
    forward=lambda a, min: at_least(a, min if a.dtype is not _F16 or type(min) is not float else f16_value(min))
    if _plain(a, min) else _clamp(a, min=min),
    self=lambda grad, self, min: P.where(self >= min, grad, 0.0), rule=_EW)
clamp_min_tensor = defop(
    "clamp_min.Tensor(Tensor self, Tensor min) -> Tensor", SZ.placed(np.maximum), promote=True, index=1,
    self=lambda grad, self, min: P.where(self >= min, grad, 0.0),
    min=lambda grad, self, min: P.where(self < min, grad, 0.0), rule=_EW)
clamp_max_scalar = defop(
    "clamp_max(Tensor self, Scalar max) -> Tensor", index=0,
    forward=lambda a, max: at_most(a, max if a.dtype is not _F16 or type(max) is not float else f16_value(max))
    if _plain(a, max) else _clamp(a, max=max),
    self=lambda grad, self, max: P.where(self <= max, grad, 0.0), rule=_EW)
clamp_max_tensor = defop(
    "clamp_max.Tensor(Tensor self, Tensor max) -> Tensor", SZ.placed(np.minimum), promote=True, index=1,
    self=lambda grad, self, max: P.where(self <= max, grad, 0.0),
    max=lambda grad, self, max: P.where(self > max, grad, 0.0), rule=_EW)


def clamp_min(input: Tensor, min: Tensor | float) -> Tensor:  # noqa: A002
    if isinstance(min, Tensor):
        return clamp_min_tensor(input, min)
    return clamp_min_scalar(input, min)


def clamp_max(input: Tensor, max: Tensor | float) -> Tensor:  # noqa: A002
    if isinstance(max, Tensor):
        return clamp_max_tensor(input, max)
    return clamp_max_scalar(input, max)


# ----- copysign -----


def _copysign_self_backward(grad, self, result):
    """FunctionsManual's copysign_tensor_self_backward: grad * result / self, 0 where self is 0."""
    ratio = result / self
    return grad * masked_fill(ratio, self == 0, 0.0)


copysign_tensor = defop("copysign.Tensor(Tensor self, Tensor other) -> Tensor", _float_binary(np.copysign),
                        promote=True, self=_copysign_self_backward, other=lambda grad: _zeros(grad), rule=_EW)
copysign_scalar = defop("copysign.Scalar(Tensor self, Scalar other) -> Tensor",
                        lambda a, other: np.copysign(_as_float(a), other).astype(_as_float(a).dtype, copy=False),
                        self=_copysign_self_backward, rule=_EW)


def copysign(input: Tensor, other: Tensor | float) -> Tensor:
    if isinstance(other, Tensor):
        return copysign_tensor(input, other)
    return copysign_scalar(input, other)


# ----- deg2rad / rad2deg, frac -----

_D2R = math.pi / 180.0
_R2D = 180.0 / math.pi


def _scaled(factor):
    def f(a):
        a = _as_float(a)
        return (a * np.asarray(factor, dtype=a.dtype)).astype(a.dtype, copy=False)

    return f


deg2rad_op = defop("deg2rad(Tensor self) -> Tensor", _scaled(_D2R), self=lambda grad: grad * _D2R, rule=_EW)
rad2deg_op = defop("rad2deg(Tensor self) -> Tensor", _scaled(_R2D), self=lambda grad: grad * _R2D, rule=_EW)


def _frac(a):
    if a.dtype.kind != "f":
        raise TorchNotImplementedError(f"\"frac_cpu\" not implemented for '{_word(a)}'")
    return a - np.trunc(a)


frac_op = defop("frac(Tensor self) -> Tensor", _frac, self=lambda grad: grad, rule=_EW)


def deg2rad(input: Tensor) -> Tensor:
    return deg2rad_op(input)


def rad2deg(input: Tensor) -> Tensor:
    return rad2deg_op(input)


def frac(input: Tensor) -> Tensor:
    return frac_op(input)


# ----- fmax / fmin -----

fmax_op = defop(
    "fmax(Tensor self, Tensor other) -> Tensor", SZ.first_kept(np.fmax), promote=True,
    self=lambda grad, self, other: masked_fill(grad, ((self >= other) | other.isnan()).logical_not(), 0.0),
    other=lambda grad, self, other: masked_fill(grad, (self >= other) | other.isnan(), 0.0), rule=_EW)
fmin_op = defop(
    "fmin(Tensor self, Tensor other) -> Tensor", SZ.first_kept(np.fmin), promote=True,
    self=lambda grad, self, other: masked_fill(grad, ((self <= other) | other.isnan()).logical_not(), 0.0),
    other=lambda grad, self, other: masked_fill(grad, (self <= other) | other.isnan(), 0.0), rule=_EW)


def fmax(input: Tensor, other: Tensor) -> Tensor:
    return fmax_op(input, other)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    return fmin_op(input, other)


# ----- frexp, ldexp -----


def _frexp(a):
    if a.dtype.kind != "f":
        raise TorchRuntimeError("torch.frexp() only supports floating-point dtypes")
    m, e = np.frexp(a)
    return m.astype(a.dtype, copy=False), e.astype(np.int32, copy=False)


frexp_op = defop("frexp.Tensor(Tensor self) -> (Tensor mantissa, Tensor exponent)", _frexp, nout=2,
                 self=lambda grad, result1: grad[0] / result1.exp2() if grad[0] is not None else None,
                 rule=lambda self: Cost((tuple(self.shape), tuple(self.shape)), 2 * numel(self.shape)))


def frexp(input: Tensor) -> tuple:
    return make("frexp", ("mantissa", "exponent"), frexp_op(input))


class _Operand(NamedTuple):
    dtype: D.dtype
    ndim: int


def _rtype(*xs) -> np.dtype:
    """torch's result_type over (dtype, ndim) pairs: a 0-d operand ranks below a dimensioned one."""
    return D.result_type(*(_Operand(D.FROM_NP[np.dtype(d)], n) for d, n in xs)).np


_RESIZED = ("An output with one or more elements was resized since it had shape {old}, which does not match the "
            "required output shape {new}. This behavior is deprecated, and in a future PyTorch release outputs will "
            "not be resized unless they have zero elements. You can explicitly reuse an out tensor t by resizing "
            "it, inplace, to zero elements with t.resize_(0).")


def _ldexp(a, b):
    """torch 2.13's ldexp: a floating self with an integer (or bool) exponent goes to its own kernel, whose output
    is `empty_like(self)` (so self's dtype, and torch's resize warning where the exponent broadcasts it larger),
    dispatched on the exponent's integer dtypes (bool: NotImplementedError), each element
    static_cast<T>(std::ldexp(double(x), int(e))) (2**-10 * 2**130 is finite in float32); any other pair is
    mul(self, _pow2(self, other)): pow(2.0, other) beside an integer, bool or float32 self, else a 0-d 2.0 of
    self's dtype to the power other, each promoted as torch promotes (float64 self, float32 exponent: the power
    rounds to float32 first)."""
    if a.dtype.kind == "f" and b.dtype.kind in "iub":
        shape = np.broadcast_shapes(a.shape, b.shape)
        if shape != a.shape and a.size:
            warnings.warn(_RESIZED.format(old=list(a.shape), new=list(shape)), UserWarning, stacklevel=2)
        if b.dtype.kind == "b":
            raise TorchNotImplementedError("\"ldexp_cpu_exp\" not implemented for 'Bool'")
        with np.errstate(all="ignore"):
            r = np.ldexp(a.astype(np.float64), b.astype(np.int32))  # (std::ldexp takes a C int: an int64 wraps)
        return D.cast_array(r, a.dtype, copy=False)
    if a.dtype.kind in "iub" or a.dtype == np.float32:
        pdt = _rtype((b.dtype, b.ndim)) if b.dtype.kind == "f" else D.default_float.np  # pow(2.0, other)
    else:
        pdt = _rtype((a.dtype, 0), (b.dtype, b.ndim))  # full({}, 2.0, self.options()).pow(other)
    with np.errstate(all="ignore"):
        p = np.power(np.asarray(2.0, dtype=pdt), b.astype(pdt, copy=False)).astype(pdt, copy=False)
        dt = _rtype((a.dtype, a.ndim), (pdt, b.ndim))
        return (a.astype(dt, copy=False) * p.astype(dt, copy=False)).astype(dt, copy=False)


ldexp_op = defop("ldexp.Tensor(Tensor self, Tensor other) -> Tensor", _ldexp,
                 self=lambda grad, other: grad * P.pow(2, other),  # (an int 2: an integer exponent's pow wraps)
                 other=lambda grad, result: grad * result * math.log(2.0), rule=_EW_T)


def ldexp(input: Tensor, other: Tensor) -> Tensor:
    return ldexp_op(input, other)


# ----- logaddexp2, nan_to_num, nextafter -----


def _logaddexp2(a, b):
    for x in (a, b):
        if x.dtype.kind != "f":
            raise TorchNotImplementedError(f"\"logaddexp2_cpu\" not implemented for '{_word(x)}'")
    return np.logaddexp2(a, b)


logaddexp2_op = defop("logaddexp2(Tensor self, Tensor other) -> Tensor", _logaddexp2, promote=True,
                      self=lambda grad, self, other: grad / (1 + P.pow(2.0, other - self)),
                      other=lambda grad, self, other: grad / (1 + P.pow(2.0, self - other)), rule=_EW_T)


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    return logaddexp2_op(input, other)


def _nan_to_num(a, nan=None, posinf=None, neginf=None):
    if a.dtype.kind != "f":
        return a.copy()
    info = np.finfo(a.dtype)
    if a.dtype is _F16:  # static_cast<c10::Half>(double): through float32, unchecked (two roundings)
        nan, posinf, neginf = (None if v is None else f16_value(float(v)) for v in (nan, posinf, neginf))
    return np.nan_to_num(a, nan=0.0 if nan is None else nan, posinf=info.max if posinf is None else posinf,
                         neginf=info.min if neginf is None else neginf)


nan_to_num_op = defop(
    "nan_to_num(Tensor self, float? nan=None, float? posinf=None, float? neginf=None) -> Tensor", _nan_to_num,
    self=lambda grad, self: grad * self.isfinite(), rule=_EW)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> Tensor:
    return nan_to_num_op(input, nan, posinf, neginf)


def _nextafter(a, b):
    """C's nextafter: where the two are equal, the answer is b (nextafter(-0.0, 0.0) is 0.0 in torch); NumPy's
    float16 loop answers a there (its float32 and float64 ones call C's)."""
    r = np.nextafter(a, b)
    if r.dtype is _F16:
        eq = a == b  # (a byte an element: the rule's float16 temporary)
        if type(r) is np.ndarray:
            np.copyto(r, b, where=eq)
        elif eq:
            r = r.dtype.type(b)
    return r


def _nextafter_rule(self, other):
    c = _EW(self, other)
    return c._replace(temp=c.temp + numel(c.out) // 2) if getattr(self, "dtype", None) is _F16 else c


_nextafter_rule.tensors_only = True
nextafter_op = defop("nextafter(Tensor self, Tensor other) -> Tensor", _nextafter, promote=True,
                     self=lambda grad, self, other: P.where(self != other, grad, 0.0),
                     other=lambda grad: _zeros(grad), rule=_nextafter_rule)


def nextafter(input: Tensor, other: Tensor) -> Tensor:
    return nextafter_op(input, other)


# ----- addcmul / addcdiv -----


def _addc(fn, name):
    def f(a, t1, t2, value=1):
        if a.dtype.kind == "b" and name == "addcmul":
            raise TorchNotImplementedError(f'"{name}_cpu_out" not implemented for \'Bool\'')
        if type(value) is not int or value != 1:  # c10's checked conversion into the kernel's (opmath) type:
            value = fill_value(value, a.dtype if a.dtype != np.float16 else np.dtype(np.float32))  # 2.7 is 2
        if a.dtype == np.float16:  # float16 computes in float32 (opmath), rounded once
            f32 = np.float32
            if name == "addcmul":  # value * t1 * t2 + self fused (GCC contracts the kernel's float loop: measured,
                # every position and size; -0.993 with value 1 + 2**-11 is torch's -0.0063057, redteam15 F6)
                return fma(value * t1.astype(f32), t2.astype(f32), a.astype(f32), f32).astype(np.float16)
            return (a.astype(f32) + fn(value * t1.astype(f32), t2.astype(f32))).astype(np.float16)
        return a + fn(value * t1, t2) if value != 1 else a + fn(t1, t2)  # (value * t1) op t2, as C++ reads it

    return f


def _addcmul_check(self, tensor1, tensor2, value=1):
    scalar_arg(value)  # the Python parser's OverflowError comes first


def _addcdiv_check(self, tensor1, tensor2, value=1):
    scalar_arg(value)
    if all(getattr(t, "dtype", None) is not None and t._data.dtype.kind in "iub" for t in (tensor1, tensor2)):
        raise TorchRuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will perform a "
            "true division of tensor1 and tensor2. The historic addcdiv behavior can be implemented as "
            "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as "
            "(input + value * tensor1 / tensor2) for float inputs. The future addcdiv behavior is just the latter "
            "implementation: (input + value * tensor1 / tensor2), for all dtypes.")


def _addcdiv_tensor1_grad(grad, tensor2, value):
    """grad * (value / tensor2), C++'s Scalar / Tensor: empty_like(tensor2).fill_(value).div_(tensor2), so fill_'s
    checked conversion into tensor2's dtype: a float16 tensor2 refuses 65504.1, which the forward took as a float
    (torch's "value cannot be converted to type c10::Half without overflow", redteam15 F6)."""
    if tensor2.dtype is D.float16:
        fill_value(value, _F16)
    return grad * P.div(value, tensor2)


addcmul_op = defop(
    "addcmul(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor", _addc(np.multiply, "addcmul"),
    promote=True, check=_addcmul_check, self=lambda grad: grad,
    tensor1=lambda grad, tensor2, value: grad * (tensor2 * value),
    tensor2=lambda grad, tensor1, value: grad * (tensor1 * value), rule=elementwise(3))
addcdiv_op = defop(
    "addcdiv(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor", _addc(np.divide, "addcdiv"),
    promote=True, check=_addcdiv_check, self=lambda grad: grad,
    # (C++'s Scalar / Tensor is empty_like(b).fill_(value).div_(b), a true division; Python's value / b is
    # b.reciprocal() * value, another rounding)
    tensor1=lambda grad, tensor2, value: _addcdiv_tensor1_grad(grad, tensor2, value),
    tensor2=lambda grad, tensor1, tensor2, value: -grad * (value * tensor1 / (tensor2 * tensor2)),
    rule=elementwise(3))


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    return addcmul_op(input, tensor1, tensor2, value)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: float = 1) -> Tensor:
    return addcdiv_op(input, tensor1, tensor2, value)


CATALOG = [
    entry("clamp_min", clamp_min, "max(input, min) elementwise.", clamp_min_scalar, clamp_min_tensor),
    entry("clamp_max", clamp_max, "min(input, max) elementwise.", clamp_max_scalar, clamp_max_tensor),
    entry("copysign", copysign, "|input| with the sign of other.", copysign_tensor, copysign_scalar),
    entry("deg2rad", deg2rad, "Degrees to radians.", deg2rad_op),
    entry("rad2deg", rad2deg, "Radians to degrees.", rad2deg_op),
    entry("frac", frac, "The fractional part, input - trunc(input).", frac_op),
    entry("fmax", fmax, "Elementwise maximum ignoring NaN.", fmax_op),
    entry("fmin", fmin, "Elementwise minimum ignoring NaN.", fmin_op),
    entry("frexp", frexp, "Mantissa and (int32) exponent, input = mantissa * 2 ** exponent.", frexp_op),
    entry("ldexp", ldexp, "input * 2 ** other.", ldexp_op),
    entry("logaddexp2", logaddexp2, "log2(2 ** x + 2 ** y).", logaddexp2_op),
    entry("nan_to_num", nan_to_num, "NaN, +inf and -inf replaced by finite numbers.", nan_to_num_op),
    entry("nextafter", nextafter, "The next float after input towards other.", nextafter_op),
    entry("addcmul", addcmul, "input + value * tensor1 * tensor2.", addcmul_op),
    entry("addcdiv", addcdiv, "input + value * tensor1 / tensor2.", addcdiv_op),
]
