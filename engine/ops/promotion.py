"""Promotion and broadcasting of an op call's operands, before its forward runs: _promote (the tensor operands
cast to torch.result_type of all operands, the casts charged to the request's budget) and _check_broadcast
(NumPy's broadcast failure in torch's words). Moved out of engine.ops.registry, which re-exports both.
"""
from __future__ import annotations

import numpy as np

from engine import budget as _budget
from engine import dtypes as D
from engine.errors import TorchRuntimeError
from engine.ops._util import broadcast_shapes
from engine.ops.scalar_fit import _f16_value as _f16_number

_PY_SCALARS = (bool, int, float)
_F16 = np.dtype(np.float16)
_LO, _UINT, _HI = -(1 << 63), 1 << 63, 1 << 64  # int64's range; a uint64 Scalar up to _HI


def _scalar_arg(x):
    from engine.ops.scalar_fit import scalar_arg  # noqa: PLC0415 - scalar_fit imports engine.errors only

    scalar_arg(x)


def _check_broadcast(arrays):
    """Raise torch's message when the array operands do not broadcast (shapes folded left to right,
    as TensorIterator does); return quietly when they do."""
    shape = None
    for a in arrays:
        s = getattr(a, "shape", None)
        if s is None:
            continue
        shape = tuple(s) if shape is None else broadcast_shapes(shape, tuple(s))


def _promote(args, arrays):
    """Cast tensor operands to torch.result_type of all operands; Python scalars stay scalars."""
    if len(arrays) == 2:  # the common binary case, decided without building sets
        a0, a1 = arrays
        t1 = type(a1)
        if type(a0) in _PY_SCALARS or a0 is None:
            pass
        elif t1 is float or t1 is int:
            if t1 is int and not _LO <= a1 < _HI:
                _scalar_arg(a1)  # the parser's OverflowError: no Scalar holds it
            dt = a0.dtype
            k = dt.kind
            if k == "f" or (t1 is int and k in "iu"):
                if dt is _F16 and t1 is float:  # torch's wrapped number, cast to float16 through float32
                    return [a0, _f16_number(a1)]
                return arrays
        elif t1 is not bool and a1 is not None and type(a0) is not float and a0.dtype == a1.dtype:
            return arrays
    dts = set()
    for a in arrays:
        dt = getattr(a, "dtype", None)
        if dt is not None:
            dts.add(dt)
    if any(a is None for a in arrays):
        args = [a for a in args if a is not None]
    if len(dts) == 1:
        dt = next(iter(dts))
        kind = dt.kind
        cat = 2 if kind == "f" else (0 if kind == "b" else 1)
        ok = True
        for a in arrays:
            if a is not None and getattr(a, "dtype", None) is None:
                c = 0 if isinstance(a, bool) else (1 if isinstance(a, int) else 2)
                if c > cat:
                    ok = False
                    break
        if ok:
            return _f16_numbers(arrays) if dt is _F16 else arrays
    big = False
    for a in arrays:
        if type(a) is int and not _LO <= a < _UINT:
            _scalar_arg(a)  # the parser's OverflowError first
            big = True  # a uint64 Scalar (2**63 and past)
    target = D.result_type(*args).np
    if big and target.kind in "iu" and all(dt.kind == "b" for dt in dts):
        raise TorchRuntimeError("Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
                                "Bool and UInt64")
    # the casts are allocations outside the entry's forward: charged to the request first (engine.budget)
    _budget.charge(sum(a.size for a in arrays if a is not None and getattr(a, "dtype", target) != target),
                   target.itemsize, what="the dtype promotion")
    arrays = [a.astype(target) if a is not None and getattr(a, "dtype", target) != target else a for a in arrays]
    return _f16_numbers(arrays) if target == _F16 else arrays


def _f16_numbers(arrays):
    """A Python float operand of a float16 computation as torch casts its wrapped number (a 0-d double tensor) to
    float16: through float32, c10::Half's constructor, two roundings (1 + 2**-11 + 2**-40 is 1.0 there, and 65520 -
    2**-20 is inf); NumPy, which rounds a Python float into float16 once, then takes the float32 value exactly. A
    kernel that reads the number in float32 instead (mul, div: iter.original_scalar_value<float>) reads the same."""
    return [_f16_number(a) if type(a) is float else a for a in arrays]
