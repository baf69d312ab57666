"""engine.allclose, engine.equal (a Python bool, as torch's) and engine.isclose with torch's argument checks."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.dtypes import scalar_type_name
from engine.errors import TorchRuntimeError, TorchTypeError
from engine.ops._util import broadcast_shapes
from engine.tensor import Tensor


def _need_tensor(fn, name, pos, x):
    if not isinstance(x, Tensor):
        raise TorchTypeError(f"{fn}(): argument '{name}' (position {pos}) must be Tensor, not {type(x).__name__}")


def _num(x) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _checked(fn, input, other, rtol, atol):
    _need_tensor(fn, "input", 1, input)
    _need_tensor(fn, "other", 2, other)
    a, b = input._data, other._data
    if a.dtype != b.dtype:
        raise TorchRuntimeError(f"{scalar_type_name(a.dtype)} did not match {scalar_type_name(b.dtype)}")
    if rtol < 0:
        raise TorchRuntimeError(f"rtol must be greater than or equal to zero, but got {_num(rtol)}")
    if atol < 0:
        raise TorchRuntimeError(f"atol must be greater than or equal to zero, but got {_num(atol)}")
    broadcast_shapes(tuple(a.shape), tuple(b.shape))  # torch's message where they do not broadcast
    return a, b


def _isclose(a, b, rtol, atol, equal_nan):
    if a.dtype.kind == "b":
        return a == b
    with np.errstate(invalid="ignore", over="ignore"):
        return B.xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise |input - other| <= atol + rtol * |other| (a bool tensor); both of one dtype, as torch's."""
    a, b = _checked("isclose", input, other, rtol, atol)
    bud = _budget.current()
    if bud is not None:  # NumPy's a - b and its abs (the broadcast shape's; |b|'s terms are b's shape) and the bool
        n = 1  # output (redteam14 F6: charged nothing; [3000, 1] against [1, 3000] float64: 81 MB traced)
        for d in broadcast_shapes(tuple(a.shape), tuple(b.shape)):
            n *= d
        bud.charge(17 * n, 10.0 * n, "isclose", n)  # (two float64-wide temporaries: float32 traces 12 bytes)
    out = Tensor._make(_isclose(a, b, rtol, atol, equal_nan))
    if bud is not None:
        arr = out._data
        bud.track(arr.base if isinstance(arr.base, np.ndarray) else arr)  # (NumPy's isclose answers a view)
    return out


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """|input - other| <= atol + rtol * |other| everywhere (broadcast); both of one dtype."""
    a, b = _checked("allclose", input, other, rtol, atol)
    return bool(_isclose(a, b, rtol, atol, equal_nan).all())


def equal(input, other) -> bool:
    """True where both have the same shape and the same values (NaN is never equal); dtypes may differ."""
    _need_tensor("equal", "input", 1, input)
    _need_tensor("equal", "other", 2, other)
    a, b = input._data, other._data
    if a.shape != b.shape:
        return False
    return bool((a == b).all())


# as Tensor methods too (t.allclose(o), t.equal(o), t.isclose(o))
Tensor.allclose = allclose
Tensor.equal = equal
Tensor.isclose = isclose
