"""c10's checked conversion of a Scalar to a tensor's element type (Scalar::to<T>, c10::checked_convert): the
test torch runs where a kernel takes a number for a dtype (fill_diagonal_'s value, histc's edges in linspace),
and its message, "value cannot be converted to type uint8_t without overflow" (the C++ type's name).

The rule (c10/util/TypeCast.h `overflows`), by what the Scalar holds:
- a bool: always fits; and a bool target takes anything (torch: fill_diagonal_(bool, 300) is True);
- an integer: below the type's lowest or above its max; an unsigned target also takes negatives down to -max
  (two's complement wrap: uint8 takes -255, refuses -256);
- a double: an infinity fits a floating type, a NaN does not fit an integer one; otherwise below lowest or above
  max (compared in double: float32 refuses 3.4028235e38, which rounds to its max; int64's max is 2**63 there,
  so 2.0**63 fits and converted() wraps it to INT64_MIN, as torch's C cast does)."""
from __future__ import annotations

import numpy as np

from engine.errors import EngineError, TorchRuntimeError, TorchValueError

_C_NAME = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t",
           "float16": "c10::Half", "float32": "float", "float64": "double"}
_RANGE: dict = {}


def _range(dt: np.dtype):
    r = _RANGE.get(dt)
    if r is None:
        info = np.iinfo(dt) if dt.kind in "iu" else np.finfo(dt)
        r = _RANGE[dt] = (int(info.min), int(info.max)) if dt.kind in "iu" else (float(info.min), float(info.max))
    return r


def fits(value, dtype) -> bool:
    """Whether c10's checked_convert takes `value` (a Python bool, int or float) into `dtype` (a NumPy dtype)."""
    dt = np.dtype(dtype)
    if dt.kind == "b" or isinstance(value, bool | np.bool_) or dt.kind not in "iuf":
        return True
    lo, hi = _range(dt)
    if isinstance(value, int | np.integer):
        v = int(value)
        if dt.kind == "u":  # a signed integer may wrap into an unsigned type, down to -max
            return v <= hi and -v <= hi
        return lo <= v <= hi
    v = float(value)
    if v != v:
        return dt.kind == "f"
    if dt.kind == "f" and np.isinf(v):
        return True
    return float(lo) <= v <= float(hi)  # in double, as c10: (double)INT64_MAX is 2**63, so 2.0**63 fits (and wraps)


def check_fits(value, dtype) -> None:
    """Raise torch's RuntimeError where `value` overflows `dtype` (see fits)."""
    if not fits(value, dtype):
        name = _C_NAME.get(np.dtype(dtype).name, np.dtype(dtype).name)
        raise TorchRuntimeError(f"value cannot be converted to type {name} without overflow")


def converted(value, dtype):
    """The number c10 stores after check_fits: an integer dtype takes an integer wrapped to its width (uint8
    stores -1 as 255) and a double truncated toward zero; any other dtype takes the value as it is."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return bool(value)  # anything nonzero (NaN too) is True; NumPy cannot hold 2**63 as a C long
    if dt.kind not in "iu" or isinstance(value, bool | np.bool_):
        return float32_of_int(value) if dt == _F32 and type(value) is int else value
    v = int(value)  # a double truncates toward zero; check_fits has refused NaN and infinities
    bits = 8 * dt.itemsize
    v %= 1 << bits
    if dt.kind == "i" and v >= 1 << (bits - 1):
        v -= 1 << bits
    return v


class TorchOverflowError(EngineError, OverflowError):
    """torch's Python argument parser refusing an int no c10::Scalar holds (past uint64, below int64)."""

    type = "OverflowError"


TorchOverflowError.__name__ = TorchOverflowError.__qualname__ = "OverflowError"


def scalar_arg(value) -> None:
    """torch's parsing of a Python int into a Scalar: int64, or uint64 above int64's max; anything else is the
    parser's OverflowError ("int too big to convert", "can't convert negative int to unsigned")."""
    if type(value) is int:
        v = value  # (no int() on a Python int: the lowering reads int(...) as a read of values)
    elif isinstance(value, np.integer):
        v = int(value)
    else:
        return
    if v >= 1 << 64:
        raise TorchOverflowError("int too big to convert")
    if v < -(1 << 63):
        raise TorchOverflowError("can't convert negative int to unsigned")


def fill_value(value, dtype, one: bool = False):
    """A Python number as a fill kernel stores it into `dtype` (fill_, full, masked_fill, index_fill): parsed as
    a Scalar (scalar_arg), checked (check_fits), then converted (an integer dtype wraps / truncates; float16
    through float32, c10::Half's rounding). `one`: a fill of one element (fill_'s one-element path), which
    stores a number into float16 unchecked (70000 is inf there)."""
    tv, k = type(value), getattr(dtype, "kind", None)
    if (tv is float or tv is int) and (k == "f" and -65504 <= value <= 65504 or (
            k == "i" or k == "u") and tv is int and 0 <= value < 128):
        if tv is float and k == "f" and dtype.itemsize == 2:
            return _f16_value(value)
        return value  # (the common case: a number every dtype of its kind holds, stored as it is)
    if isinstance(value, np.ndarray | np.generic) and getattr(value, "ndim", 0) != 0:
        return value
    scalar_arg(value)
    if one and k == "f" and dtype.itemsize == 2 and not isinstance(value, bool | np.bool_):
        return _f16_value(float32_of_int(value) if type(value) is int else value)
    check_fits(value, dtype)
    v = converted(value, dtype)
    return _f16_value(v) if k == "f" and dtype.itemsize == 2 and type(v) is float else v


def _f16_value(v: float) -> float:
    """A double as c10 stores it into float16: rounded to float32 first, then to half (two roundings: 1 + 2**-11
    + 2**-40 is 1.0 there, 1.0009765625 rounded once); the float32 value, which NumPy then rounds to half once."""
    if -3.4e38 <= v <= 3.4e38:  # (no overflow to silence: the errstate context costs ~1 us a call, review15 R3)
        return float(np.float32(v))
    with np.errstate(over="ignore"):
        return float(np.float32(v))


f16_value = _f16_value  # (the name the other modules import)


def float32_of_int(v):
    """A Python int as torch casts an int Scalar to float (static_cast<float>(int64_t): one rounding), as the
    Python float of that value; NumPy goes through a double (two roundings: 2**60 + 2**36 + 1 is 2**60 there,
    2**60 + 2**37 in torch, redteam12 F9). Below 2**24 in magnitude both are exact: the int itself. (A leaf's
    JSON ints are the opposite case: torch.tensor reads each through a double, engine.program.wire.cast.)"""
    if -_2_24 < v < _2_24:
        return v
    return float(np.array(v, np.int64 if v < 1 << 63 else np.uint64).astype(np.float32))


_2_24 = 1 << 24
_F32 = np.dtype(np.float32)


def int_operands(a, b):
    """A Python int operand of an integer array cast to that array's dtype as torch casts its wrapped number
    (a C cast: uint8 + 300 adds 44, uint8 + -1 adds 255); NumPy would refuse the int as out of bounds. An int
    no Scalar holds is the parser's OverflowError, whatever the array's dtype."""
    if (type(b) is not int or 0 <= b < 128) and (type(a) is not int or 0 <= a < 128):
        return a, b  # (the common case: a small number every dtype holds)
    for x in (a, b):
        if type(x) is int and not -(1 << 63) <= x < 1 << 64:
            scalar_arg(x)
    if type(b) is int and (dt := getattr(a, "dtype", None)) is not None:
        b = _operand(b, dt)
    elif type(a) is int and (dt := getattr(b, "dtype", None)) is not None:
        a = _operand(a, dt)
    return a, b


def _operand(v: int, dt):
    """An int operand beside an array of dtype `dt`, as torch casts its wrapped number to the array's dtype."""
    if dt.kind in "iu":
        lo, hi = _range(dt)
        if not lo <= v <= hi:
            scalar_arg(v)
            return converted(v, dt)
    elif dt == _F32:
        return float32_of_int(v)
    return v


def setitem_value(value, dtype):
    """A Python number on the right of `t[index] = value`, as torch's __setitem__ makes it a 0-d tensor of t's
    dtype: an int is unpacked as a C long long first (ValueError "Overflow when unpacking long long" past int64,
    2**63 included), then filled as fill_ fills (c10's checked conversion, an integer dtype wrapping)."""
    if type(value) is int and not -(1 << 63) <= value < 1 << 63:
        raise TorchValueError("Overflow when unpacking long long")
    if getattr(dtype, "kind", None) == "f" and dtype.itemsize == 2 and not isinstance(value, bool | np.bool_):
        v = float32_of_int(value) if type(value) is int else _f16_value(float(value))  # c10: through float32
        with np.errstate(over="ignore"):  # float16's one-element fill is unchecked (measured): 65519.0 rounds
            return np.float16(v)  # to 65504, 70000 to inf
    return fill_value(value, dtype)
