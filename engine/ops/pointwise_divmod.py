"""div's rounding modes, floor_divide, fmod and remainder with torch 2.13's checks and kernels.

torch's order (measured): the Python parser's OverflowError for an int no Scalar holds; the type promotion
(a bool tensor with an int past int64 is "Promotion for uint16, uint32, uint64 types is not supported, attempted
to promote Bool and UInt64"); the shapes; the kernel's dtype dispatch (a bool result type: "div_floor_cpu" /
"div_trunc_cpu" / "fmod_cpu" / "remainder_cpu" not implemented for 'Bool'); a number cast to an integer dtype
with a C cast (int8 % 300 is int8 % 44, uint8 // 256 divides by 0); integer division by zero,
RuntimeError("ZeroDivisionError"), where the result has an element (an empty one is computed by no kernel).
Floats: remainder is fmod(a, b), plus b where the two signs differ and fmod is not zero (so remainder(3.0, -0.5)
is +0.0, where NumPy's mod answers -0.0)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchNotImplementedError, TorchRuntimeError
from engine.ops.promotion import _check_broadcast
from engine.ops.scalar_fit import converted, f16_value, float32_of_int, int_operands, scalar_arg
from engine.tensor import Tensor

_ndarray = np.ndarray
_F16 = np.dtype(np.float16)
_DIV_KERNEL = {"floor": "div_floor_cpu", "trunc": "div_trunc_cpu"}


def number_check(self, other, *rest):
    """The parser's OverflowError, then no uint64 promotion with a bool tensor (before the shapes)."""
    for x, t in ((self, other), (other, self)):
        if type(x) is int:
            scalar_arg(x)
            if x >= 1 << 63 and isinstance(t, Tensor) and t._data.dtype.kind == "b":
                raise TorchRuntimeError("Promotion for uint16, uint32, uint64 types is not supported, attempted to "
                                        "promote Bool and UInt64")


def _dtype(x):
    return getattr(x, "dtype", None)


def _lift(a, b):
    """A number operand's type promotion with a tensor (the fmod / remainder .Scalar forms are not promoted by
    the table): a float lifts an integer or bool tensor to the default float, an int lifts bool to int64."""
    for x, t in ((b, a), (a, b)):
        k = getattr(_dtype(t), "kind", None)
        if k is None or _dtype(x) is not None:
            continue
        if type(x) is float and k != "f":
            t = t.astype(D.default_float.np)
        elif type(x) is int and k == "b":
            t = t.astype(np.int64)
        return (t, x) if x is b else (x, t)
    return a, b


def prepare(kernel, a, b):
    """The operands as the kernel takes them: the bool refusal (after the shapes), a Python int cast to an
    integer tensor's dtype as C does, then integer division by zero."""
    tb = type(b)
    if (tb is float or tb is int and -65504 <= b <= 65504) and a.__class__ is _ndarray and (dt := a.dtype).kind == "f":
        if dt is _F16 and tb is float:  # torch's wrapped number: into float16 through float32
            b = f16_value(b)
        return a, b  # (the common case: a float tensor and a number it holds: nothing to check)
    a, b = _lift(a, b)
    dt = _dtype(a) if _dtype(a) is not None else _dtype(b)
    if dt.kind == "b":
        _check_broadcast((a, b))
        raise TorchNotImplementedError(f'"{kernel}" not implemented for \'Bool\'')
    if type(a) is int or type(b) is int:
        a, b = int_operands(a, b)
    if dt.kind in "iu" and type(b) is not float and np.any(B.xp.asarray(b) == 0):
        _check_broadcast((a, b))
        if np.size(a) == 0 or np.size(b) == 0:  # (they broadcast: the result is empty) no element is computed:
            return a, b  # torch's kernel, which checks each, never runs (redteam11 F2)
        raise TorchRuntimeError("ZeroDivisionError")
    return a, b


def div_mode(a, b, rounding_mode):
    tb = type(b)
    # (an int too: its quotient is taken in float32 and truncated before the one rounding to half; redteam15 F6)
    number = b if tb is float or tb is int else None
    a, b = prepare(_DIV_KERNEL[rounding_mode], a, b)
    dt = a.dtype if _dtype(a) is not None else b.dtype
    if number is not None and dt == np.float16:
        # aten's div_floor / div_trunc kernels take a reduced-float tensor over a number in float32 with the
        # number as float32 (original_scalar_value<opmath_t>), rounding once: the number is not made a float16
        # first (1e-30 would be 0, and 0 // 0 NaN; 0.1 would be 0.09998, and 3 // 0.1 10, not torch's 29)
        with np.errstate(over="ignore"):
            a32 = np.asarray(a, dtype=np.float32)  # (an int rounded once into float32: static_cast<float>)
            b32 = np.float32(float32_of_int(number) if type(number) is int else number)
        with np.errstate(all="ignore"):
            q = np.floor_divide(a32, b32) if rounding_mode != "trunc" else np.trunc(np.true_divide(a32, b32))
            return q.astype(np.float16)
    if rounding_mode == "trunc":
        if dt.kind == "f":
            return np.trunc(np.true_divide(a, b)).astype(dt, copy=False)
        q = np.floor_divide(a, b)  # C's truncating division: floor, one up where inexact and negative
        return q + ((q < 0) & (q * b != a)).astype(dt)
    return np.floor_divide(a, b)


def fmod(a, b):
    a, b = prepare("fmod_cpu", a, b)
    return np.fmod(a, b)


def remainder(a, b):
    if type(b) is float and a.__class__ is _ndarray and a.dtype.kind == "f" and -65504.0 <= b <= 65504.0:
        # (the common case written out: a float tensor % a float it holds.) NumPy's mod is torch's but for a zero
        # result, which NumPy signs as b and torch as fmod does (as a): only zeros are fixed. float16 takes the
        # number through float32, as torch casts its wrapped number
        if a.dtype is _F16:
            b = f16_value(b)
        mod = np.mod(a, b)
        if mod.__class__ is _ndarray:
            if not mod.all():
                np.copysign(mod, a, out=mod, where=mod == 0)
            return mod
        return np.copysign(mod, a) if mod == 0 else mod
    a, b = prepare("remainder_cpu", a, b)
    dt = a.dtype if _dtype(a) is not None else b.dtype
    if dt.kind != "f":
        return np.mod(a, b)  # C's %, then + b where the signs differ: floor modulo, as NumPy's
    if _dtype(b) is None:  # a number: fix where mod's sign is not b's (mod != 0 implied)
        if dt == np.float16 and not -65504 <= b <= 65504:
            with np.errstate(over="ignore"):  # the number as the tensor's dtype (float16 takes 70000 as inf, and
                b = dt.type(f16_value(b) if type(b) is float else b)  # a double through float32)
        mod = np.fmod(a, b)
        fix = mod < 0 if b > 0 else mod > 0 if b < 0 else None
    else:
        mod = np.fmod(a, b)
        fix = (mod != 0) & ((b < 0) != (mod < 0))
    if fix is None:
        return mod
    if type(mod) is not _ndarray:  # (a 0-d result is a NumPy scalar)
        return mod + b if fix else mod
    np.add(mod, b, out=mod, where=fix)  # (mod is fmod's fresh output: written in place)
    return mod


def wrap_number(x, ref):
    """A number left of floor_divide / remainder as torch wraps it: a 0-d tensor of the result type of `ref` and
    the number, holding the number cast to it (an int C-cast to an integer dtype, past int64 too; a double
    rounded once into a float dtype, float16 taking 70000 as inf)."""
    tx, dt = type(x), ref._data.dtype
    if tx is float and (dt.itemsize == 8 and dt.kind == "f" or dt.kind == "f" and -65504.0 <= x <= 65504.0) or (
            tx is int and dt.kind in "iuf" and 0 <= x < 128):
        if dt is _F16 and tx is float:
            x = f16_value(x)  # a double into float16 through float32, as c10::Half (two roundings)
        return Tensor._make(B.xp.asarray(x, dtype=dt))  # (the common case: the number fits the tensor's dtype)
    number_check(x, ref)
    dt = D.result_type(ref, x).np
    if dt.kind in "iu" and type(x) is int:
        x = converted(x, dt)
    with np.errstate(all="ignore"):
        if dt.kind == "f":  # an int rounded once into float32, as torch's cast (redteam12 F9); a double into
            x = float32_of_int(x) if type(x) is int and dt == np.float32 else float(x)  # float16 through float32
            if dt == _F16 and tx is float:
                x = f16_value(x)
        v = np.asarray(x).astype(dt)
    return Tensor._make(B.xp.asarray(v))
