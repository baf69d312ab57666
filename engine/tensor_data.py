"""torch.tensor's reading of nested Python lists: the shape check and, for integer dtypes, each value's
conversion, with torch's messages in torch's depth-first order (tensor_new.cpp's recursive_store, store_scalar,
c10::checked_convert). Used by engine.tensor.tensor."""
from __future__ import annotations

import numbers

import numpy as np

from engine import budget as _budget
from engine.errors import EngineError, TorchRuntimeError, TorchTypeError, TorchValueError

CHECK_EVERY = 1 << 16  # values (and lists) a walk reads between two checks of the request's deadline
# What torch.tensor's reading costs a value or list of the data (flops: rules.PY_STEP's 1,000 a microsecond), charged
# before the walk: the shape check and NumPy's conversion after it (WALK_FLOPS), or with each value's integer
# conversion checked, and NumPy's or the value-by-value conversion after it (FIT_WALK_FLOPS, after a first walk's
# WALK_FLOPS). Measured over 10^6-value lists (docs/runs/safeL.md): 420-590 ns a value or list for float data,
# 1,280-2,470 for integer dtypes (a float or NaN among ints, an int past int64, negatives into uint8), load ~11-14.
# Uncharged before, a 1 MB body walked ~1 s in a thread of the server process (redteam12 F1): now a walk past
# offload_min_flops spills to a compute worker before it starts.
WALK_FLOPS = 1000
FIT_WALK_FLOPS = 2000


def nodes(shape) -> int:
    """The values and lists of a rectangular nest of `shape`: the most a walk that checks each list's length
    against `shape` reads (it stops at the first that differs)."""
    n = total = 1
    for s in shape:
        n *= s
        total += n
    return total


_TORCH_MAX_DIMS = 128


def check_rectangular(data, dt, fits=None):
    """torch.tensor's check, with its messages and its depth-first order, before NumPy sees the data: the
    shape, and with `fits` (an _IntegerFit) each value's conversion, checked where torch stores it."""
    if not isinstance(data, list | tuple):
        if fits is not None and isinstance(data, numbers.Number):
            fits(data)
        return
    shape = []
    x = data
    while isinstance(x, list | tuple):
        shape.append(len(x))
        if len(shape) > _TORCH_MAX_DIMS:  # torch's compute_sizes (65-128 deep: NumPy's 64-dimension error, a known
            raise TorchValueError(f"too many dimensions '{type(x).__name__}'")  # difference; redteam14 F7)
        if not x:
            break
        x = x[0]
    ndim = len(shape)
    _budget.charge(0, 8, nodes(shape) * (WALK_FLOPS if fits is None else FIT_WALK_FLOPS),
                   "the data's value-by-value reading")
    stack = [(data, 0)]
    left = CHECK_EVERY
    while stack:
        x, d = stack.pop()
        left -= 1
        if not left:  # the request's deadline every CHECK_EVERY values and lists (redteam12 F1: ~1-3 us each)
            left = CHECK_EVERY
            _budget.check()
        if d == ndim:
            if isinstance(x, list | tuple):
                raise TorchTypeError(
                    f"must be real number, not {type(x).__name__}" if dt.is_floating_point
                    else f"'{type(x).__name__}' object cannot be interpreted as an integer"
                )
            if not isinstance(x, numbers.Number):
                raise TorchTypeError(f"new(): invalid data type '{type(x).__name__}'")
            if fits is not None:
                fits(x)
            continue
        if not isinstance(x, list | tuple):
            raise TorchTypeError("not a sequence")
        if len(x) != shape[d]:
            raise TorchValueError(f"expected sequence of length {shape[d]} at dim {d} (got {len(x)})")
        stack.extend((y, d + 1) for y in reversed(x))


class _IntegerFit:
    """torch.tensor's conversion of one Python number to an integer dtype (tensor_new.cpp's store_scalar,
    c10::checked_convert): an int is unpacked as a C long long first (ValueError past int64), then must fit
    the dtype, where an unsigned dtype takes negatives down to -max (two's complement); a float must lie in
    [lowest, max] compared in double (so 2.0**63 passes into int64 and wraps, as on x86), NaN never fits."""

    __slots__ = ("lo", "hi", "hi_f", "msg")

    def __init__(self, dt):
        info = np.iinfo(dt.np)
        self.lo, self.hi, self.hi_f = int(info.min), int(info.max), float(info.max)
        self.msg = f"value cannot be converted to type {dt.name} without overflow"

    def __call__(self, x):
        if isinstance(x, bool | np.bool_):
            return
        if isinstance(x, numbers.Integral):
            v = int(x)
            if not -_2_63 <= v < _2_63:
                raise TorchValueError("Overflow when unpacking long long")
            if self.lo <= v <= self.hi or (self.lo == 0 and 0 < -v <= self.hi):
                return
            raise TorchRuntimeError(self.msg)
        f = float(x)
        if not (self.lo <= f <= self.hi_f):  # NaN compares False
            raise TorchRuntimeError(self.msg)


_2_63 = 2**63


def integer_array(data, dt):
    """`data` (nested lists of numbers) as integer dtype `dt`, as torch.tensor converts it. The common case in
    NumPy: ints and bools that all fit (negatives down to -max for an unsigned dtype) cast at once; anything
    else (a float, an int past int64, a value past the dtype, a shape error) walks the values in torch's
    depth-first order to raise the first error torch raises, then converts value by value as torch does."""
    try:
        check_rectangular(data, dt)
        a = np.array(data)
    except EngineError:
        a = None
    except (OverflowError, ValueError):  # (ints past uint64: NumPy's object arrays or its refusal)
        a = None
    if a is not None and a.dtype.kind in "iub":
        if a.dtype.kind == "b" or not a.size:
            return a.astype(dt.np)
        info = np.iinfo(dt.np)
        lo = -int(info.max) if info.min == 0 else int(info.min)
        if lo <= int(a.min()) and int(a.max()) <= int(info.max):
            return a.astype(dt.np)  # (an unsigned dtype's negatives wrap, as torch's two's complement)
    check_rectangular(data, dt, _IntegerFit(dt))  # raises torch's first error, where there is one
    try:
        return np.array(data, dtype=dt.np)
    except OverflowError:  # values torch converts and NumPy refuses
        return _as_integers(data, dt)


def _as_integers(data, dt):
    """The checked values of `data` as `dt`, where NumPy refuses what torch converts (a negative int into an
    unsigned dtype, the float 2.0**63 into int64): through int64, a float truncated as C does, 2.0**63 to
    int64's minimum (x86's conversion of a float past the range)."""
    left = [CHECK_EVERY]

    def conv(x):
        if isinstance(x, list | tuple):
            return [conv(y) for y in x]
        left[0] -= 1
        if not left[0]:  # the deadline, as check_rectangular's walk
            left[0] = CHECK_EVERY
            _budget.check()
        if isinstance(x, float | np.floating):
            return int(x) if -_2_63 <= x < _2_63 else -_2_63
        return int(x)

    return np.array(conv(data), dtype=np.int64).astype(dt.np)
