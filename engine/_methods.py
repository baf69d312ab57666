"""Tensor operators and methods, bound once to the functions of the op table."""
from __future__ import annotations

import builtins
import types

from engine.ops import linalg as L
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.tensor import Tensor


def _method(fn):
    def m(self, *args, **kwargs):
        return fn(self, *args, **kwargs)

    m.__name__ = fn.__name__
    m.__doc__ = fn.__doc__
    return m


def bind(names: dict):
    for name, fn in names.items():
        # a plain function binds as a method by itself; anything else callable gets a thin wrapper
        setattr(Tensor, name, fn if isinstance(fn, types.FunctionType) else _method(fn))


def _reflect(fn):
    return lambda self, other: fn(other, self)


OPERATORS = {  # add/sub/mul/div run their entry's unrolled call (registry._fast_call) directly
    "__add__": P.add_tensor.fast,
    "__radd__": P.add_tensor.fast,
    "__sub__": P.sub_tensor.fast,
    "__rsub__": lambda s, o: P.rsub_scalar(s, o) if not isinstance(o, Tensor) else P.sub_tensor(o, s),
    "__mul__": P.mul_tensor.fast,
    "__rmul__": P.mul_tensor.fast,
    "__truediv__": P.div_tensor.fast,
    # torch's `2 / x` is MulBackward0 over ReciprocalBackward0 (torch.div(2, x) is DivBackward0)
    "__rtruediv__": lambda s, o: P.mul_tensor(P.reciprocal(s), o),
    "__floordiv__": lambda s, o: P.floor_divide(s, o),
    "__rfloordiv__": lambda s, o: P.floor_divide(o, s),
    "__mod__": lambda s, o: P.remainder(s, o),
    "__rmod__": lambda s, o: P.remainder(o, s),
    "__pow__": lambda s, o: P.pow(s, o),
    "__rpow__": lambda s, o: P.pow(o, s),
    "__matmul__": lambda s, o: L.matmul(s, o),
    "__rmatmul__": lambda s, o: L.matmul(o, s),
    "__neg__": lambda s: P.neg(s),
    "__pos__": lambda s: s,
    "__abs__": lambda s: P.abs(s),
    "__invert__": lambda s: P.bitwise_not(s),
    "__eq__": lambda s, o: P.eq(s, o),
    "__ne__": lambda s, o: P.ne(s, o),
    "__lt__": lambda s, o: P.lt(s, o),
    "__le__": lambda s, o: P.le(s, o),
    "__gt__": lambda s, o: P.gt(s, o),
    "__ge__": lambda s, o: P.ge(s, o),
    "__and__": lambda s, o: P.bitwise_and(s, o) if s.dtype.name != "bool" else P.logical_and(s, o),
    "__or__": lambda s, o: P.bitwise_or(s, o) if s.dtype.name != "bool" else P.logical_or(s, o),
    "__xor__": lambda s, o: P.bitwise_xor(s, o) if s.dtype.name != "bool" else P.logical_xor(s, o),
}
OPERATORS["__rand__"] = OPERATORS["__and__"]
OPERATORS["__ror__"] = OPERATORS["__or__"]


def install(functions: dict):
    for name, fn in OPERATORS.items():
        setattr(Tensor, name, fn)
    Tensor.__hash__ = builtins.object.__hash__
    bind(functions)
    Tensor.T = property(S.numpy_T)
    Tensor.mT = property(S.mT)
    if "mH" in functions:  # engine.ops.shape_more's, a property as in torch
        Tensor.mH = property(functions["mH"])
    Tensor.view = lambda self, *size: S.view(self, *size)
    Tensor.reshape = lambda self, *shape: S.reshape(self, shape if len(shape) != 1 else shape[0])
    Tensor.expand = lambda self, *size: S.expand(self, *size)
    Tensor.permute = lambda self, *dims: S.permute(self, *dims)
    Tensor.view_as = lambda self, other: S.view(self, tuple(other.shape))
    Tensor.reshape_as = lambda self, other: S.reshape(self, tuple(other.shape))
    Tensor.sum = lambda self, dim=None, keepdim=False, dtype=None: R.sum(self, dim, keepdim, dtype=dtype)
    Tensor.mean = lambda self, dim=None, keepdim=False, dtype=None: R.mean(self, dim, keepdim, dtype=dtype)
