"""Special functions: lgamma, digamma, polygamma, mvlgamma, erfinv, i0, sinc, xlogy and torch.special's
(entr, erfcx, i0e, i1, i1e, log_ndtr, ndtr, ndtri, xlog1py, zeta, polygamma and the aliases). The values come from
engine/ops/_special.py (NumPy only, float64, on the host under CuPy); the derivatives are derivatives.yaml's,
written with these same functions so that grad-of-grad works."""
from __future__ import annotations

import math

import numpy as np

from engine import _backend as B
from engine import budget
from engine import dtypes as D
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchTypeError
from engine.ops import _special as S
from engine.ops import nn_common as NC
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops._util import not_implemented_formulas
from engine.ops.indexing import masked_fill
from engine.ops.registry import defop, entry
from engine.ops.rules import TRANSCENDENTAL, Cost, elementwise, numel, shape_of
from engine.ops.scalar_fit import f16_value, float32_of_int, scalar_arg
from engine.tensor import Tensor

_EW = elementwise(TRANSCENDENTAL)


_CHUNK = 1 << 16  # elements per call of a host function: its float64 temporaries stay a few MB (redteam7 F7)


def _host_rule(chunk_bytes: int, weight: float = 8 * TRANSCENDENTAL):
    """An elementwise rule for a `_host` function: `weight` flops an element, and as temp the float64 work arrays
    of one chunk (min(n, _CHUNK) elements): `chunk_bytes` an element besides the output, the most tracemalloc
    saw over float16/32/64 and int64 inputs and their value classes (tests/engine/test_safety_host_charges.py holds
    each to it), in elements of the charge's item size (4 bytes, 8 for a float64 or int64 input)."""

    def rule(self):
        n = numel(shape_of(self))
        isz = max(4, getattr(getattr(self, "dtype", None), "itemsize", 4))
        return Cost(tuple(shape_of(self)), weight * n, -(-min(n, _CHUNK) * chunk_bytes // isz))

    rule.tensors_only = True
    return rule


def _host(fn):
    """An elementwise special function over arrays: computed in float64 on the host, returned in the input's
    float dtype (integer and bool inputs in the default float dtype, as torch's int-to-float promotion). Past
    _CHUNK elements, _CHUNK at a time into the output: the series and recurrences make 15-50 float64 arrays of
    their input's size, which no rule charges; per element the same arithmetic, so the same bits."""

    def f(a, *rest):
        dt = a.dtype if a.dtype.kind == "f" else D.default_float.np
        x = B.to_numpy(a)
        if x.size <= _CHUNK:
            out = fn(np.asarray(x, dtype=np.float64), *rest)
            return B.xp.asarray(np.asarray(out).astype(dt, copy=False))
        # a view where x is C-contiguous; else its flat iterator, whose slices copy one chunk only (np.ravel would
        # copy all of an expanded or transposed input, which no rule charges)
        flat = x.reshape(-1) if x.flags.c_contiguous else x.flat
        out = np.empty(x.size, dt)
        for i in range(0, x.size, _CHUNK):
            budget.check()  # the deadline, between chunks
            out[i:i + _CHUNK] = np.asarray(fn(np.asarray(flat[i:i + _CHUNK], dtype=np.float64), *rest)).astype(dt)
        return B.xp.asarray(out.reshape(x.shape))

    return f


# ----- gamma family -----

lgamma_op = defop("lgamma(Tensor self) -> Tensor", _host(S.lgamma_array),
                  self=lambda grad, self: grad * digamma_op(self), rule=_host_rule(72))
def _digamma(a):
    """calc_digamma in float32 for float32 and float16 (torch's Half kernel converts to float), else float64."""
    return _host(lambda x: S.digamma_array(x, _work32(a)))(a)


def _work32(a):
    """float32 where the answer is float32 or float16 (integers: the default float dtype's), else float64."""
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(D.default_float.np)
    return np.float32 if dt in (np.float32, np.float16) else np.float64


digamma_op = defop("digamma(Tensor self) -> Tensor", _digamma,
                   self=lambda grad, self: grad * polygamma_op(1, self), rule=_host_rule(144))


def _polygamma(n, a):
    if n < 0:
        raise TorchRuntimeError("polygamma(n, x) does not support negative n.")
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(D.default_float.np)
    return _host(lambda x: S.polygamma_array(n, x, budget.check, dt, _charge_terms))(a)


def _charge_terms(flops):
    budget.charge(0, 8, flops, "polygamma's series")


polygamma_op = defop("polygamma(int n, Tensor self) -> Tensor", _polygamma,
                     self=lambda grad, n, self: grad * polygamma_op(n + 1, self),
                     rule=_host_rule(256, 30 * TRANSCENDENTAL))


def lgamma(input: Tensor) -> Tensor:
    return lgamma_op(input)


def digamma(input: Tensor) -> Tensor:
    return digamma_op(input)


def polygamma(n: int, input: Tensor) -> Tensor:
    if isinstance(n, Tensor) and not isinstance(input, Tensor):  # the method, Tensor.polygamma(n)
        n, input = input, n
    return polygamma_op(int(n), input)


def _mvlgamma_args(self_shape, p, dtype):
    return B.xp.arange(-p / 2.0 + 0.5, 0.5, 0.5, dtype=dtype)


def _mvlgamma(a, p):
    if p < 1:
        raise TorchRuntimeError("p has to be greater than or equal to 1")
    # no domain check: torch 2.13 answers below (p-1)/2 too (the terms' sum, inf at a pole; redteam15 F9)
    dt = a.dtype if a.dtype.kind == "f" else D.default_float.np
    if a.size == 0:  # torch's empty answer at once: no arange of p terms
        return B.xp.empty(a.shape, dtype=dt)
    b = budget.current()
    if b is not None:  # p multiplies the elements (the (numel, p) lgamma terms): bounded as one tensor's
        b.charge(0, 0.0, "mvlgamma's p", elements=a.size * p)
    # the lgamma terms a[..., None] + args (the same sums in dt), made _CHUNK at a time (redteam7 F7)
    x, ar, n = np.ravel(B.to_numpy(a).astype(dt)), B.to_numpy(_mvlgamma_args(a.shape, p, dt)), a.size * p
    lg = np.empty(n, dt)
    for i in range(0, n, _CHUNK):
        budget.check()
        k = np.arange(i, min(i + _CHUNK, n))
        lg[i:i + _CHUNK] = np.asarray(S.lgamma_array(np.asarray(x[k // p] + ar[k % p], np.float64))).astype(dt)
    lg = B.xp.asarray(lg.reshape(tuple(a.shape) + (p,)))
    return (lg.sum(-1) + np.asarray(p * (p - 1) * math.log(math.pi) / 4, dtype=dt)).astype(dt, copy=False)


def _mvlgamma_backward(grad, self, p):
    if self.numel() == 0:  # an empty gradient: no arange of p terms
        return grad.clone()
    args = self.unsqueeze(-1) + Tensor._make(_mvlgamma_args(self.shape, p, self._data.dtype))
    return grad * digamma_op(args).sum(-1)


_MVLGAMMA_CHUNK_BYTES = 80  # a chunk element's index arrays, sums and lgamma work arrays (tracemalloc: <= 73)


def _mvlgamma_rule(self, p):
    """The (numel, p) lgamma terms, the input's flat copy, the sum before the constant, the p arguments, and one
    chunk's work arrays (_MVLGAMMA_CHUNK_BYTES an element at the charge's item size): before, only the terms
    were charged, ~5 MB under on a chunk (redteam15 F9's revert)."""
    n = numel(self.shape)
    terms = n * max(p, 1)
    isz = max(4, getattr(getattr(self, "dtype", None), "itemsize", 4))
    work = -(-min(terms, _CHUNK) * _MVLGAMMA_CHUNK_BYTES // isz) + (max(p, 1) if n else 0)
    return Cost(tuple(self.shape), 8 * TRANSCENDENTAL * terms, terms + 2 * n + work)


mvlgamma_op = defop("mvlgamma(Tensor self, int p) -> Tensor", _mvlgamma, self=_mvlgamma_backward,
                    rule=_mvlgamma_rule)


def mvlgamma(input: Tensor, p: int) -> Tensor:
    return mvlgamma_op(input, int(p))


# ----- erfinv, i0, sinc -----

erfinv_op = defop("erfinv(Tensor self) -> Tensor", _host(S.erfinv_array),
                  self=lambda grad, self: 0.5 * math.sqrt(math.pi) * P.exp(erfinv_op(self).pow(2)) * grad,
                  rule=_host_rule(216))
i0_op = defop("i0(Tensor self) -> Tensor", _host(lambda x: S.bessel_i_array(x, 0)),
              self=lambda grad, self: grad * i1_op(self), rule=_host_rule(88))


def _tiny_safe(self):
    eps = float(np.finfo(self._data.dtype).eps) if self._data.dtype.kind == "f" else 2.220446049250313e-16
    not_tiny = self.abs() > eps
    return not_tiny, P.where(not_tiny, self, eps)


def _i1_backward(grad, self, result):
    not_tiny, safe = _tiny_safe(self)
    gradx = i0_op(safe) - result * safe.reciprocal()
    return grad * P.where(not_tiny, gradx, 0.5)


def _i1e_backward(grad, self, result):
    not_tiny, safe = _tiny_safe(self)
    gradx = i0e_op(safe) - result * (safe.sgn() + safe.reciprocal())
    return grad * P.where(not_tiny, gradx, 0.5)


i0e_op = defop("special_i0e(Tensor self) -> Tensor", _host(lambda x: S.bessel_ie_array(x, 0)),
               self=lambda grad, self, result: grad * (i1e_op(self) - self.sgn() * result), rule=_host_rule(88))
i1_op = defop("special_i1(Tensor self) -> Tensor", _host(lambda x: S.bessel_i_array(x, 1)),
              self=_i1_backward, rule=_host_rule(88))
i1e_op = defop("special_i1e(Tensor self) -> Tensor", _host(lambda x: S.bessel_ie_array(x, 1)),
               self=_i1e_backward, rule=_host_rule(88))


def _sinc(a):
    dt = a.dtype if a.dtype.kind == "f" else D.default_float.np
    x = a.astype(dt, copy=False)
    with np.errstate(all="ignore"):
        px = x * np.asarray(math.pi, dtype=dt)
        out = np.sin(px) / px
    return np.where(x == 0, np.asarray(1.0, dtype=dt), out).astype(dt, copy=False)


def _sinc_backward(grad, self):
    self_pi = self * math.pi
    self_squared_pi = self * self * math.pi
    out = grad * ((self_pi * self_pi.cos() - self_pi.sin()) / self_squared_pi)
    return P.where(self_squared_pi == 0, 0.0, out)


sinc_op = defop("sinc(Tensor self) -> Tensor", _sinc, self=_sinc_backward, rule=_EW)


def erfinv(input: Tensor) -> Tensor:
    return erfinv_op(input)


def i0(input: Tensor) -> Tensor:
    return i0_op(input)


def sinc(input: Tensor) -> Tensor:
    return sinc_op(input)


# ----- xlogy, xlog1py -----


def _x_log(logfn):
    """x * log(y) (or log1p), 0 where x is 0 unless y is NaN, in the promoted float dtype."""

    def f(a, b):
        dt = np.result_type(a, b) if not (isinstance(a, float | int) or isinstance(b, float | int)) else None
        if dt is None:
            arr = a if hasattr(a, "dtype") else b
            dt = arr.dtype if arr.dtype.kind == "f" else D.default_float.np
        if dt.kind != "f":
            dt = D.default_float.np
        for v in (a, b):
            scalar_arg(v)  # the parser's OverflowError past int64 / uint64
        for v, w in ((a, b), (b, a)):  # a uint64 Scalar (2**63 and past) beside a bool tensor: no common dtype
            if type(v) is int and v >= 1 << 63 and getattr(w, "dtype", None) == np.bool_:
                raise TorchRuntimeError("Promotion for uint16, uint32, uint64 types is not supported, attempted to "
                                        "promote Bool and UInt64")
        if dt == np.float32:  # an int operand rounded once into float32, as torch's cast (review13a F-G)
            a, b = (float32_of_int(v) if type(v) is int else v for v in (a, b))
        elif dt == np.float16:  # a float operand into float16 through float32, as c10::Half (two roundings)
            a, b = (f16_value(v) if type(v) is float else v for v in (a, b))
        x = np.asarray(a, dtype=dt)
        y = np.asarray(b, dtype=dt)
        with np.errstate(all="ignore"):
            out = x * logfn(y)
        out = np.where(x == 0, np.asarray(0.0, dtype=dt), out)
        return B.xp.asarray(np.where(np.isnan(y), y, out).astype(dt, copy=False))

    return f


xlogy_tensor = defop(
    "xlogy.Tensor(Tensor self, Tensor other) -> Tensor", _x_log(np.log), promote=True, index=0,
    self=lambda grad, self, other: masked_fill(xlogy(grad, other), (self == 0.0) & (other <= 0.0), 0.0),
    other=lambda grad, self, other: grad * self / other, rule=_EW)
xlogy_scalar_self = defop(
    "xlogy.Scalar_Self(Scalar self, Tensor other) -> Tensor", _x_log(np.log), index=1,
    other=lambda grad, self, other: grad * self / other, rule=elementwise(TRANSCENDENTAL))
xlogy_scalar_other = defop(
    "xlogy.Scalar_Other(Tensor self, Scalar other) -> Tensor", _x_log(np.log), index=2,
    self=lambda grad, self, other: xlogy(grad, other) if other > 0
    else masked_fill(xlogy(grad, other), self == 0.0, 0.0), rule=_EW)
xlog1py_tensor = defop(
    "special_xlog1py(Tensor self, Tensor other) -> Tensor", _x_log(np.log1p), promote=True,
    self=lambda grad, self, other: masked_fill(xlog1py(grad, other), (self == 0.0) & (other <= -1.0), 0.0),
    other=lambda grad, self, other: grad * self / (other + 1), rule=_EW)
xlog1py_scalar_self = defop(
    "special_xlog1py.self_scalar(Scalar self, Tensor other) -> Tensor", _x_log(np.log1p),
    other=lambda grad, self, other: grad * self / (other + 1), rule=_EW)
xlog1py_scalar_other = defop(
    "special_xlog1py.other_scalar(Tensor self, Scalar other) -> Tensor", _x_log(np.log1p),
    self=lambda grad, self, other: xlog1py(grad, other) if other > -1
    else masked_fill(xlog1py(grad, other), self == 0.0, 0.0), rule=_EW)


def _two_numbers(name, a, b):
    """torch's parser: neither operand a Tensor matches none of the three overloads (review14 R6: the engine had
    answered an internal AttributeError)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TorchTypeError(
            f"{name}() received an invalid combination of arguments - got ({type(a).__name__}, {type(b).__name__}), "
            "but expected one of:\n * (Tensor input, Tensor other, *, Tensor out = None)\n"
            " * (Number self, Tensor other, *, Tensor out = None)\n"
            " * (Tensor input, Number other, *, Tensor out = None)\n")


def xlogy(input: Tensor | float, other: Tensor | float) -> Tensor:
    _two_numbers("xlogy", input, other)
    if not isinstance(input, Tensor):
        return xlogy_scalar_self(input, other)
    if not isinstance(other, Tensor):
        return xlogy_scalar_other(input, other)
    return xlogy_tensor(input, other)


def special_xlogy(input: Tensor | float, other: Tensor | float) -> Tensor:
    """torch.special.xlogy: xlogy, with its own name in the parser's message."""
    _two_numbers("special_xlogy", input, other)
    return xlogy(input, other)


def xlog1py(input: Tensor | float, other: Tensor | float) -> Tensor:
    _two_numbers("special_xlog1py", input, other)
    if not isinstance(input, Tensor):
        return xlog1py_scalar_self(input, other)
    if not isinstance(other, Tensor):
        return xlog1py_scalar_other(input, other)
    return xlog1py_tensor(input, other)


# ----- zeta (torch.special.zeta: Hurwitz zeta(x, q)) -----


def _zeta(a, b):
    """zeta(x, q) elementwise in the promoted float dtype (integers and bools: the default float dtype; float16:
    torch's CPU kernel has none), aten's cephes zeta in its accumulate type (_special.zeta_array), _CHUNK elements
    at a time into the output, the series' extra terms charged as polygamma's."""
    for v in (a, b):
        scalar_arg(v)  # the parser's OverflowError past int64 / uint64
    arrays = [v for v in (a, b) if hasattr(v, "dtype")]
    dt = np.result_type(*arrays) if len(arrays) == 2 else arrays[0].dtype
    if dt.kind != "f":
        dt = np.dtype(D.default_float.np)
    if dt == np.float16:
        raise TorchNotImplementedError("\"zeta_cpu\" not implemented for 'Half'")
    if dt == np.float32:  # a number operand as the wrapped number cast to float (an int rounded once)
        a, b = (float32_of_int(v) if type(v) is int else v for v in (a, b))
    x, q = (np.asarray(B.to_numpy(v) if hasattr(v, "dtype") else v).astype(dt) for v in (a, b))
    shape = np.broadcast_shapes(x.shape, q.shape)
    x, q = (np.broadcast_to(v, shape).reshape(-1) for v in (x, q))
    out = np.empty(x.size, dt)
    for i in range(0, x.size, _CHUNK):
        budget.check()  # the deadline, between chunks
        z = S.zeta_array(x[i:i + _CHUNK], q[i:i + _CHUNK], budget.check, _charge_zeta_terms, dt,
                          exact_pow=True)
        out[i:i + _CHUNK] = np.asarray(z).astype(dt)
    return B.xp.asarray(out.reshape(shape))


def _charge_zeta_terms(flops):
    budget.charge(0, 8, flops, "zeta's series")


# a chunk element's float64 series work and glibc pow's object arrays, and what a call holds whatever its size
# (tracemalloc, float32/float64/int64 operands: <= 186 bytes an element from 1,024 elements on, ~75 KB at 16)
_ZETA_CHUNK_BYTES, _ZETA_FIXED_BYTES = 192, 1 << 17


def _zeta_rule(self, other):
    """The output; the operands' copies in the dtype and their flat broadcasts (each up to the output's size);
    one chunk's series work (before: the output alone, ~6.6 MB under on a chunk)."""
    tensors = [o for o in (self, other) if hasattr(o, "shape")]
    shape = np.broadcast_shapes(*(tuple(o.shape) for o in tensors))
    n = numel(shape)
    isz = max(4, *(getattr(getattr(o, "dtype", None), "itemsize", 4) for o in tensors))
    work = -(-(min(n, _CHUNK) * _ZETA_CHUNK_BYTES + (_ZETA_FIXED_BYTES if n else 0)) // isz)
    temp = 2 * n + sum(numel(o.shape) for o in tensors) + work
    return Cost(shape, (30 * TRANSCENDENTAL + 2 * S.PYPOW_FLOPS) * n, temp)  # (+ the first term's glibc pow)


_zeta_bw, _zeta_fw = not_implemented_formulas("zeta", "special_zeta", pr=True)


# derivatives.yaml: self not_implemented("zeta"); other: grad * -self * special_zeta(self + 1., other); forward AD
# not implemented (torch's message, naming special_zeta, for any tangent)
zeta_tensor = defop(
    "special_zeta(Tensor self, Tensor other) -> Tensor", _zeta, promote=True,
    jvp=lambda self_t, other_t: _zeta_fw(self_t),
    self=lambda grad: _zeta_bw(grad),
    other=lambda grad, self, other: grad * -self * zeta_tensor(self + 1.0, other), rule=_zeta_rule)
zeta_scalar_self = defop(
    "special_zeta.self_scalar(Scalar self, Tensor other) -> Tensor", _zeta, jvp=lambda other_t: _zeta_fw(other_t),
    other=lambda grad, self, other: grad * -self * zeta_scalar_self(float(self) + 1.0, other), rule=_zeta_rule)
zeta_scalar_other = defop(
    "special_zeta.other_scalar(Tensor self, Scalar other) -> Tensor", _zeta, jvp=lambda self_t: _zeta_fw(self_t),
    self=lambda grad: _zeta_bw(grad), rule=_zeta_rule)


def zeta(input: Tensor | float, other: Tensor | float) -> Tensor:
    """torch.special.zeta(input, other): the Hurwitz zeta function zeta(input, other)."""
    _two_numbers("special_zeta", input, other)
    if not isinstance(input, Tensor):
        return zeta_scalar_self(input, other)
    if not isinstance(other, Tensor):
        return zeta_scalar_other(input, other)
    return zeta_tensor(input, other)


# ----- the normal distribution, erfcx, entr -----

_SQRT1_2 = 0.70710678118654752440
_SQRT_2PI = math.sqrt(2 * math.pi)


def ndtr(input: Tensor) -> Tensor:
    """torch's composition: (1 + erf(x / sqrt(2))) * 0.5 (MulBackward1 over AddBackward1 over ErfBackward0)."""
    if not input.dtype.is_floating_point:
        input = input.to(D.default_float)
    return NC.mul_scalar(NC.add_scalar(P.erf(NC.mul_scalar(input, _SQRT1_2)), 1), 0.5)


ndtri_op = defop("special_ndtri(Tensor self) -> Tensor", _host(S.ndtri_array),
                 self=lambda grad, result: grad * _SQRT_2PI * (result.square() / 2).exp(),
                 rule=_host_rule(208))
log_ndtr_op = defop("special_log_ndtr(Tensor self) -> Tensor", _host(S.log_ndtr_array),
                    self=lambda grad, self, result: grad / _SQRT_2PI * (result + self.pow(2) / 2).neg().exp(),
                    rule=_host_rule(152))
erfcx_op = defop("special_erfcx(Tensor self) -> Tensor", _host(S.erfcx_array),
                 self=lambda grad, self, result: (2.0 * self * result - 2.0 / math.sqrt(math.pi)) * grad,
                 rule=_host_rule(136))


def _entr(a):
    dt = a.dtype if a.dtype.kind == "f" else D.default_float.np
    x = a.astype(dt, copy=False)
    with np.errstate(all="ignore"):
        out = np.where(x > 0, -x * np.log(np.where(x > 0, x, 1)), np.where(x == 0, 0.0, -np.inf))
    return np.where(np.isnan(x), x, out).astype(dt, copy=False)


entr_op = defop("special_entr(Tensor self) -> Tensor", _entr, self=lambda grad, self: grad * (-(1 + self.log())),
                rule=_EW)


def _unary(op, name):
    def f(input: Tensor) -> Tensor:
        return op(input)

    f.__name__ = name
    return f


ndtri, log_ndtr, erfcx, entr = (_unary(ndtri_op, "ndtri"), _unary(log_ndtr_op, "log_ndtr"),
                                _unary(erfcx_op, "erfcx"), _unary(entr_op, "entr"))
i0e, i1, i1e = _unary(i0e_op, "i0e"), _unary(i1_op, "i1"), _unary(i1e_op, "i1e")


def _special_polygamma(n: int, input: Tensor) -> Tensor:
    return polygamma_op(int(n), input)


def _multigammaln(input: Tensor, p: int) -> Tensor:
    return mvlgamma_op(input, int(p))


def _expit(input: Tensor) -> Tensor:
    return P.sigmoid(input)


def _special_logsumexp(input: Tensor, dim: int | list[int], keepdim: bool = False) -> Tensor:
    return R.logsumexp(input, dim, keepdim)


_SP = {"function": True, "method": False}
CATALOG = [
    entry("lgamma", lgamma, "log |Gamma(x)|.", lgamma_op),
    entry("digamma", digamma, "psi(x), the derivative of lgamma.", digamma_op),
    entry("polygamma", polygamma, "The n-th derivative of digamma (torch.polygamma(n, input); the method takes "
          "(n)).", polygamma_op),
    entry("mvlgamma", mvlgamma, "The multivariate log-gamma of dimension p.", mvlgamma_op),
    entry("erfinv", erfinv, "The inverse error function.", erfinv_op),
    entry("i0", i0, "The modified Bessel function of the first kind, order 0.", i0_op),
    entry("sinc", sinc, "sin(pi x) / (pi x), 1 at 0.", sinc_op),
    entry("xlogy", xlogy, "x * log(y), 0 where x is 0 (NaN where y is NaN).", xlogy_tensor, xlogy_scalar_self,
          xlogy_scalar_other),
    entry("special.entr", entr, "-x log x (0 at 0, -inf below).", entr_op, **_SP),
    entry("special.erfcx", erfcx, "exp(x ** 2) * erfc(x), without overflow.", erfcx_op, **_SP),
    entry("special.i0e", i0e, "exp(-|x|) * i0(x).", i0e_op, **_SP),
    entry("special.i1", i1, "The modified Bessel function of the first kind, order 1.", i1_op, **_SP),
    entry("special.i1e", i1e, "exp(-|x|) * i1(x).", i1e_op, **_SP),
    entry("special.log_ndtr", log_ndtr, "log of the standard normal CDF.", log_ndtr_op, **_SP),
    entry("special.ndtr", ndtr, "The standard normal CDF, (1 + erf(x / sqrt 2)) / 2.",
          grad_fns=("MulBackward1", "AddBackward1", "ErfBackward0"), **_SP),
    entry("special.ndtri", ndtri, "The standard normal quantile (inverse of ndtr).", ndtri_op, **_SP),
    entry("special.xlog1py", xlog1py, "x * log1p(y), 0 where x is 0.", xlog1py_tensor, xlog1py_scalar_self,
          xlog1py_scalar_other, **_SP),
    entry("special.polygamma", _special_polygamma, "Alias of torch.polygamma.", polygamma_op, **_SP),
    entry("special.digamma", digamma, "Alias of digamma.", digamma_op, **_SP),
    entry("special.psi", digamma, "Alias of digamma.", digamma_op, **_SP),
    entry("special.gammaln", lgamma, "Alias of lgamma.", lgamma_op, **_SP),
    entry("special.multigammaln", _multigammaln, "Alias of mvlgamma.", mvlgamma_op, **_SP),
    entry("special.erfinv", erfinv, "Alias of erfinv.", erfinv_op, **_SP),
    entry("special.i0", i0, "Alias of i0.", i0_op, **_SP),
    entry("special.sinc", sinc, "Alias of sinc.", sinc_op, **_SP),
    entry("special.xlogy", special_xlogy, "Alias of xlogy.", xlogy_tensor, **_SP),
    entry("special.zeta", zeta, "The Hurwitz zeta function zeta(input, other) (no derivative for input).",
          zeta_tensor, zeta_scalar_self, zeta_scalar_other, **_SP),
    entry("special.expit", _expit, "Alias of sigmoid.", grad_fns=("SigmoidBackward0",), **_SP),
    entry("special.logsumexp", _special_logsumexp, "Alias of logsumexp.", grad_fns=("LogsumexpBackward0",),
          **_SP),
]
