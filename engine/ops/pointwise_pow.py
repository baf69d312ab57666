"""pow: pow.Tensor_Scalar, pow.Tensor_Tensor, pow.Scalar and their formulas (split out of
engine/ops/pointwise_arith.py)."""
from __future__ import annotations

import math

import numpy as np

from engine import dtypes as D
from engine.errors import TorchNotImplementedError, TorchRuntimeError
from engine.ops import pointwise_divmod as DM
from engine.ops.pointwise_arith import _scale_by, _where_zero, mul_scalar, where
from engine.ops.pointwise_base import _TR, _binary, _unary, defop
from engine.ops.promotion import _check_broadcast
from engine.ops.scalar_fit import fill_value, scalar_arg
from engine.tensor import Tensor


def _check_int_pow(a, e):
    """pow.Tensor_Scalar's meta check on an integer or bool base and an integral exponent: exp.toLong() (c10's
    checked conversion: 2**63 overflows int64_t), then no negative exponent."""
    if getattr(a, "dtype", a).kind in "iub" and getattr(e, "dtype", None) is None and type(e) is int:
        if e >= 1 << 63:
            raise TorchRuntimeError("value cannot be converted to type int64_t without overflow")
        if e < 0:
            raise TorchRuntimeError("Integers to negative integer powers are not allowed.")


def _pow_check(self, exponent):
    if type(exponent) is int:
        scalar_arg(exponent)  # the parser's OverflowError first
        if isinstance(self, Tensor) and self._data.dtype.kind in "iub":
            _check_int_pow(self._data.dtype, exponent)


def _pow_ts(a, exponent):
    _check_int_pow(a, exponent)
    if a.dtype.kind != "f" and isinstance(exponent, float):
        a = a.astype(D.default_float.np)
    if a.dtype.kind == "b" and type(exponent) is not bool:
        a = a.astype(np.int64)
    if exponent == 0 or exponent == 1:  # pow_out: fill_(1) for 0 / False, copy_ for 1 / True (also 0.0, 1.0;
        # pow's backward asks for x ** 1 whenever the exponent is 2: no cast to double and back)
        return np.ones_like(a) if exponent == 0 else a.copy()
    if a.dtype.kind in "iu" or a.dtype == np.float16:  # exp.to<scalar_t>(): c10's checked conversion
        exponent = fill_value(exponent, a.dtype)
    if exponent == 2:
        return a * a  # np.multiply for arrays; NumPy's scalar arithmetic (the same IEEE product) for a scalar
    if a.dtype.kind == "f" and a.dtype != np.float16:
        # torch's CPU kernel (PowKernel.cpp) multiplies for these exponents rather than calling pow: the same
        # operations give the same bits
        if exponent == 3:
            return a * a * a
        if exponent == 0.5:
            return np.sqrt(a)
        one = a.dtype.type(1)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            if exponent == -1:
                return one / a
            if exponent == -2:
                return one / (a * a)
            if exponent == -0.5:
                return one / np.sqrt(a)
    if a.dtype == np.float32 and type(exponent) in (int, float):  # std::pow(float, double): in double, rounded
        return np.power(a.astype(np.float64), float(exponent)).astype(np.float32)
    return np.power(a, exponent)


pow_tensor_scalar = defop(
    "pow.Tensor_Scalar(Tensor self, Scalar exponent) -> Tensor",
    _pow_ts, jvp="element_wise", check=_pow_check,
    # x ** 3 as x * x * x (torch's small exponents): one product held; float32 ** 2.7 in float64: two more
    rule=_unary(_TR, temp=3, bwd=3),
    # `exponent * t` is t's __rmul__: t * exponent, so the array formula multiplies in that order
    vjp={"self": lambda grad, self, exponent: grad * 0.0 if exponent == 0
         else grad * _scale_by(_pow_ts(self, exponent - 1), exponent)},
    self=lambda grad, self, exponent: grad * 0.0 if exponent == 0
    else grad * mul_scalar(self.pow(exponent - 1), exponent),
)


def _pow_tt(a, b):
    if a.dtype.kind == "b":  # (both operands promoted to bool)
        _check_broadcast((a, b))
        raise TorchNotImplementedError('"pow" not implemented for \'Bool\'')
    if a.dtype.kind in "iu" and b.dtype.kind in "iu" and np.any(b < 0):
        # torch's integer pow with tensor exponents: x ** -n is 1 for 1, +-1 for -1, else 0 (no error)
        neg = b < 0
        r = np.power(a, np.where(neg, 0, b))
        inv = np.where(a == 1, 1, np.where(a == -1, np.where(b % 2 == 0, 1, -1), 0))
        return np.where(neg, inv, r).astype(r.dtype, copy=False)
    return np.power(a, b)


pow_tensor_tensor = defop(
    "pow.Tensor_Tensor(Tensor self, Tensor exponent) -> Tensor",
    _pow_tt,
    jvp="element_wise", promote=True,
    # integer exponents below 0: the masks and the 1 / -1 table (_pow_tt); each formula holds three
    rule=_binary(_TR, temp=6, bwd=8),
    self=lambda grad, self, exponent: _where_zero(exponent == 0.0, grad * (exponent * self.pow(exponent - 1))),
    exponent=lambda grad, self, exponent, result: _where_zero(
        (self == 0.0) & (exponent >= 0.0), grad * (result * self.log())
    ),
)


def _pow_scalar(base, e):
    """pow(number, tensor): torch wraps the number (a 0-d tensor of the result type, C-cast: uint8 takes 300 as
    44) and runs pow.Tensor_Tensor (an integer to a negative integer power is 0, 1 or -1, no error)."""
    b = DM.wrap_number(base, Tensor._make(e))._data
    if b.dtype.kind == "b":
        raise TorchNotImplementedError('"pow" not implemented for \'Bool\'')
    if e.dtype != b.dtype:
        e = e.astype(b.dtype)
    with np.errstate(all="ignore"):
        return _pow_tt(b, e)


pow_scalar = defop(
    "pow.Scalar(Scalar self, Tensor exponent) -> Tensor",
    _pow_scalar, jvp="element_wise", rule=_unary(_TR, bwd=4),
    exponent=lambda grad, self, exponent, result: _pow_scalar_grad(grad, self, exponent, result),
)


def _pow_scalar_grad(grad, base, exponent, result):
    """torch's pow_backward_exponent for a scalar base: 0 ** y has gradient 0 where y >= 0."""
    if base == 0:
        return grad * where(exponent >= 0, 0.0, result * -math.inf)
    return grad * (result * (math.log(base) if base > 0 else math.nan))
