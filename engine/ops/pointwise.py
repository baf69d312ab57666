"""Elementwise ops: arithmetic, comparisons, and the unary math functions, with torch's formulas."""
from __future__ import annotations

import math
import operator

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine import dtypes as D
from engine.autograd import Node, _seq, edge_of, grad_mode
from engine.errors import TorchNotImplementedError, TorchRuntimeError
from engine.ops import registry as _registry
from engine.ops import rules as R
from engine.ops._special import erf_array, erfc_array
from engine.ops.jvp import pointwise, refuse, tmap, tsum
from engine.parallel import elementwise
from engine.tensor import Tensor

# ----- every entry here is elementwise: large calls run in chunks on the thread pool (engine/parallel.py) -----


def _threaded(fn, into=None):
    """fn chunked by engine.parallel.elementwise past its size (once: an already wrapped fn is kept)."""
    if fn is None or hasattr(fn, "parallel_into"):
        return fn
    return elementwise(fn, into if into is not None else getattr(fn, "into", None))


def defop(schema, forward, *, vjp=None, nout=1, **kw):
    """registry.defop for an elementwise entry: its forward and its array formulas (vjp=; True: the Tensor formula
    as written) chunked on the thread pool for large arrays, with the same bits. A function's `into` attribute
    (into(out, *args): the same values written into out) saves each chunk's copy."""
    if nout == 1 and forward is not None:
        forward = _threaded(forward)
    if vjp:
        vjp = {k: _threaded(kw[k] if fn is True else fn) for k, fn in vjp.items()}
    return _registry.defop(schema, forward, vjp=vjp, nout=nout, **kw)


def nondiff(schema, forward, **kw):
    return _registry.nondiff(schema, _threaded(forward), **kw)


def _into(fn, into):
    """fn with an `into` (see defop)."""
    fn.into = into
    return fn


def _ufunc_into(ufunc):
    return lambda out, *args: ufunc(*args, out=out)

# ----- cost rules (engine/ops/rules.py): out-sized temporaries, n = the output's elements -----

_TR = R.TRANSCENDENTAL
_ERF_WORK = 16  # float64 arrays of its input's size that erf_array / erfc_array hold at once (Cody's ranges)


def _kind(x):
    return getattr(getattr(x, "dtype", None), "kind", "f")


def _unary(weight=1, temp=0, bwd=None, f64=0):
    """A float function of one tensor (_float_out: an integer input is cast first, one temporary more).
    temp / bwd: output-sized temporaries of the forward / backward; f64: float64 work arrays."""

    def rule(self):
        out = R.shape_of(self)
        n = R.numel(out)
        t = int(temp * n) + (n if _kind(self) != "f" else 0) + R.wide(f64 * n, self)
        return R.Cost(out, weight * n, t, True, None if bwd is None else int(bwd * n))

    rule.tensors_only = True
    return rule


def _binary(weight=1, temp=0, bwd=3, both_cast=False):
    """An elementwise function of tensors (broadcast). both_cast: two integer operands are cast to float
    first (_float_binary, _true_div): a temporary per operand. bwd: each input's formula result is held
    until every formula has run, then summed down to its input's shape: counted in output sizes."""

    def rule(*tensors):
        out = R.broadcast(*(R.shape_of(t) for t in tensors))
        n = R.numel(out)
        t = int(temp * n)
        if both_cast and all(_kind(x) != "f" for x in tensors):
            t += sum(R.numel(R.shape_of(x)) for x in tensors)
        return R.Cost(out, weight * n, t, True, int(bwd * n))

    rule.tensors_only = True
    return rule


def _alpha_rule(scaled):
    """add / sub / rsub: alpha != 1 scales one operand into a temporary first."""

    def rule(self, other, alpha=1):
        out = R.broadcast(R.shape_of(self), R.shape_of(other))
        n = R.numel(out)
        t = R.numel(R.shape_of(other if scaled == "other" else self)) if alpha != 1 else 0
        return R.Cost(out, n, t, True, 3 * n)

    return rule

# ----- helpers for forwards -----


def _float_out(fn):
    """Unary float function: integer and bool inputs compute in the default float dtype, as torch."""

    def f(a):
        if a.dtype.kind != "f":
            a = a.astype(D.default_float.np)
        return fn(a)

    if isinstance(fn, np.ufunc):  # float arrays: fn itself, into the output's chunk
        f.into = _ufunc_into(fn)
    return f


def _is_float(x):
    return isinstance(x, float) or (hasattr(x, "dtype") and x.dtype.kind == "f")


def _true_div(a, b):
    """True division: integer and bool operands compute in the default float dtype, as torch."""
    if not _is_float(a) and not _is_float(b):
        f = D.default_float.np
        a = a.astype(f) if hasattr(a, "astype") else a
        b = b.astype(f) if hasattr(b, "astype") else b
    return a / b


def _scale(b, alpha):
    """b * alpha keeping b's dtype (a NumPy scalar from multiplying two Python numbers would not)."""
    return b * alpha if type(b) in (int, float, bool) else np.multiply(b, alpha)


def _float_binary(fn):
    """Binary float function: integer operands (promoted to one dtype) compute in the default float."""

    def f(a, b):
        if not _is_float(a) and not _is_float(b):
            a = a.astype(D.default_float.np) if hasattr(a, "astype") else a
            b = b.astype(D.default_float.np) if hasattr(b, "astype") else b
        return fn(a, b)

    return f


class NotImplemented(Node):  # noqa: A001 - torch's class name (torch::autograd::NotImplemented)
    """grad_fn of an op whose derivative torch does not implement (floor_divide, remainder with a scalar
    dividend): its edges are the inputs that require grad, and a backward through it raises."""

    __slots__ = ("_aten",)

    def name(self) -> str:  # torch's C++ node: its name() is namespaced (its repr is not)
        return "torch::autograd::NotImplemented"

    def apply(self, grads, create_graph):
        raise TorchRuntimeError(f"derivative for aten::{self._aten} is not implemented")


def _not_implemented(aten_name, out, *inputs):
    """Attach a NotImplemented node to `out` when an input requires grad (torch's not_implemented formula)."""
    if not grad_mode.enabled or out._data.dtype.kind != "f":
        return out
    edges = tuple(edge_of(t) for t in inputs if isinstance(t, Tensor) and t.requires_grad)
    if not edges:
        return out
    node = NotImplemented()
    node._aten = aten_name
    node.next_functions = edges
    node._seq = next(_seq)
    node._retained = None
    node._pre_hooks = None
    node._hooks = None
    out._req = True
    out.grad_fn = node
    return out


def _zero_grad(grad):
    """torch's zeros_like(grad) for the ops whose derivative is zero (rounding, sign): a constant, so the
    first-order gradient does not require grad, and a NaN gradient gives 0 (grad * 0.0 gave both wrong)."""
    return Tensor._make(B.xp.zeros_like(grad._data))


def _where_zero(cond, g):
    """g with zeros where cond holds (torch's masked_fill(cond, 0)), differentiable in g."""
    return where(cond, 0.0, g)


# ----- argument checks torch makes before computing (on the inputs' own dtypes) -----


def _is_bool(x):
    return isinstance(x, bool) or (isinstance(x, Tensor) and x._data.dtype.kind == "b")


def _alpha_check(self, other, alpha):
    """torch's alpha_check, on the result dtype of the operands."""
    if alpha is None or (type(alpha) is int and alpha == 1):
        return
    dt = D.result_type(self, other)
    if isinstance(alpha, bool) and dt is not D.bool_:
        raise TorchRuntimeError("Boolean alpha only supported for Boolean results.")
    if not dt.is_floating_point and isinstance(alpha, float):
        raise TorchRuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )


def _sub_check(self, other, alpha=1):
    if _is_bool(self) and _is_bool(other):
        raise TorchRuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
            "`logical_xor()` operator instead."
        )
    if _is_bool(self) or _is_bool(other):
        raise TorchRuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert "
            "a mask, use the `~` or `logical_not()` operator instead."
        )
    _alpha_check(self, other, alpha)


def _neg_check(self):
    if _is_bool(self):
        raise TorchRuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a "
            "mask, use the `~` or `logical_not()` operator instead."
        )


def _int_zero_div_check(a, b):
    """Integer division by zero (fmod, remainder, floor/trunc div) raises, as torch's CPU kernels do."""
    if getattr(a, "dtype", np.dtype("f")).kind in "iub" and (
        getattr(b, "dtype", None) is not None and b.dtype.kind in "iub" or type(b) in (int, bool)
    ) and np.any(B.xp.asarray(b) == 0):
        raise TorchRuntimeError("ZeroDivisionError")


def _checked(fn):
    def f(a, b):
        _int_zero_div_check(a, b)
        return fn(a, b)

    return f


def _checked_scalar(fn):
    """fn(tensor, Python scalar) with torch's result dtype (a float scalar lifts an integer tensor to the
    default float dtype, an int scalar lifts bool to int64)."""

    def f(a, b):
        _int_zero_div_check(a, b)
        if isinstance(b, float) and a.dtype.kind != "f":
            a = a.astype(D.default_float.np)
        elif type(b) is int and a.dtype.kind == "b":
            a = a.astype(np.int64)
        return fn(a, b)

    return f


# ----- Binary arithmetic -----
# The forwards use Python's operators rather than the ufuncs: on NumPy scalars (every 0-d result) `a * b` is
# ~14x faster than np.multiply(a, b) (0.05 against 0.69 us), with the same dtype rules and the same bits.

# NumPy computes `x + tmp` and `x * tmp` (tmp a fresh temporary of 256 KiB or more) in place as `tmp + x`: the
# operand order, which decides which NaN's payload a result carries, would then depend on the size (and
# differ between a whole array and its chunks). The formulas below write the temporary first: one order at
# every size, the one large arrays always had.
def _add(a, b, alpha=1):
    return a + b if alpha == 1 else _scale(b, alpha) + a


def _sub(a, b, alpha=1):
    return a - b if alpha == 1 else a - _scale(b, alpha)


_add.into = lambda out, a, b, alpha=1: np.add(a, b, out=out) if alpha == 1 else np.add(_scale(b, alpha), a, out=out)
_sub.into = lambda out, a, b, alpha=1: np.subtract(a, b if alpha == 1 else _scale(b, alpha), out=out)
# array formulas with their `into`: the same operations in the same order, into the output's chunk
_grad_times = _threaded(lambda grad, other: grad * other, _ufunc_into(np.multiply))
_grad_over = _threaded(lambda grad, other: grad / other, _ufunc_into(np.divide))

add_tensor = defop(
    "add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
    _add,
    jvp="element_wise", promote=True, check=_alpha_check, cuda="a + b", vjp={"self": True, "other": True},
    rule=_alpha_rule("other"),
    self=lambda grad: grad,
    other=lambda grad, alpha: grad if alpha == 1 else grad * alpha,
)
sub_tensor = defop(
    "sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor",
    _sub,
    jvp="element_wise", promote=True, check=_sub_check, cuda="a - b", vjp={"self": True, "other": True},
    rule=_alpha_rule("other"),
    self=lambda grad: grad,
    other=lambda grad, alpha: -grad if alpha == 1 else grad * (-alpha),
)
mul_tensor = defop(
    "mul.Tensor(Tensor self, Tensor other) -> Tensor",
    _threaded(operator.mul, _ufunc_into(np.multiply)),
    jvp="element_wise", promote=True, cuda="a * b", rule=_binary(),
    vjp={"self": _grad_times, "other": _threaded(lambda grad, self: grad * self, _ufunc_into(np.multiply))},
    self=lambda grad, other: grad * other,
    other=lambda grad, self: grad * self,
)
# torch's C++ formulas multiply by a Scalar with mul.Scalar (MulBackward1): the graph of a create_graph backward
# names it so; a Python `t * 2` is mul.Tensor (MulBackward0), as in torch.
mul_scalar = defop(
    "mul.Scalar(Tensor self, Scalar other) -> Tensor",
    _into(lambda a, other: _scale(a, other), _ufunc_into(np.multiply)),
    jvp="element_wise", rule=R.like("self"),
    vjp={"self": _into(lambda grad, other: _scale(grad, other), _ufunc_into(np.multiply))},
    self=lambda grad, other: mul_scalar(grad, other),
)
div_tensor = defop(
    "div.Tensor(Tensor self, Tensor other) -> Tensor",
    _into(_true_div, _ufunc_into(np.true_divide)),
    jvp="element_wise", promote=True, cuda="a / b", vjp={"self": _grad_over, "other": True},
    rule=_binary(bwd=5, both_cast=True),
    self=lambda grad, other: grad / other,
    other=lambda grad, self, other: -grad * ((self / other) / other),
)


def _div_mode(a, b, rounding_mode):
    if rounding_mode is None:
        return _true_div(a, b)
    if rounding_mode == "trunc":
        if a.dtype.kind == "f":
            return np.trunc(np.true_divide(a, b)).astype(a.dtype)
        if np.any(B.xp.asarray(b) == 0):
            raise TorchRuntimeError("ZeroDivisionError")
        q = np.abs(a) // np.abs(b)
        return (q * np.sign(a) * np.sign(b)).astype(a.dtype)
    if a.dtype.kind != "f" and np.any(B.xp.asarray(b) == 0):
        raise TorchRuntimeError("ZeroDivisionError")
    return np.floor_divide(a, b)


div_tensor_mode = defop(
    "div.Tensor_mode(Tensor self, Tensor other, *, str? rounding_mode) -> Tensor",
    _div_mode,
    jvp="element_wise", promote=True,
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
    lambda a, b, alpha=1: np.subtract(b, a if alpha == 1 else _scale(a, alpha)),
    jvp="element_wise", promote=True, check=_sub_check, rule=_alpha_rule("self"),
    self=lambda grad, alpha: -grad if alpha == 1 else grad * (-alpha),
    other=lambda grad: grad,
)
rsub_scalar = defop(
    "rsub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor",
    lambda a, other, alpha=1: np.subtract(other, a if alpha == 1 else _scale(a, alpha)),
    jvp="element_wise", check=_sub_check, rule=R.elementwise(temp=1),
    self=lambda grad, alpha: -grad if alpha == 1 else grad * (-alpha),
)


def _check_int_pow(a, e):
    if a.dtype.kind in "iu" and getattr(e, "dtype", None) is None and isinstance(e, int) and e < 0:
        raise TorchRuntimeError("Integers to negative integer powers are not allowed.")


def _pow_ts(a, exponent):
    _check_int_pow(a, exponent)
    if a.dtype.kind != "f" and isinstance(exponent, float):
        a = a.astype(D.default_float.np)
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
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
    return np.power(a, exponent)


pow_tensor_scalar = defop(
    "pow.Tensor_Scalar(Tensor self, Scalar exponent) -> Tensor",
    _pow_ts, jvp="element_wise",
    rule=_unary(_TR, temp=1, bwd=3),  # x ** 3 as x * x * x (torch's small exponents): one product held
    # `exponent * t` is t's __rmul__: t * exponent, so the array formula multiplies in that order
    vjp={"self": lambda grad, self, exponent: grad * 0.0 if exponent == 0
         else grad * (_pow_ts(self, exponent - 1) * exponent)},
    self=lambda grad, self, exponent: grad * 0.0 if exponent == 0
    else grad * mul_scalar(self.pow(exponent - 1), exponent),
)


def _pow_tt(a, b):
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
    if e.dtype.kind != "f" and isinstance(base, float):
        e = e.astype(D.default_float.np)
    return np.power(B.xp.asarray(base, dtype=e.dtype), e)


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
sgn_op = defop("sgn(Tensor self) -> Tensor", np.sign,
               jvp="element_wise", rule=R.like(bwd=1), self=lambda grad: _zero_grad(grad))
sign_op = defop("sign(Tensor self) -> Tensor", lambda a: np.sign(a) if a.dtype.kind != "b" else a.copy(),
             jvp="element_wise", rule=R.like(bwd=1), self=lambda grad: _zero_grad(grad))


def _maxmin_jvp(self_t, other_t, self, other, pick_self):
    """torch's: other_t + w * (self_t - other_t), w 1 where self is picked, 0.5 at ties (0 where either is NaN)."""
    w = where(self == other, 0.5, pick_self.to(D.promote_types(self.dtype, other.dtype)))
    return tsum(tmap(self_t, lambda t: t * w), tmap(other_t, lambda t: t * (1 - w)))


def _maxmin_grad(grad, self, other, pick_self):
    """maximum/minimum: ties split the gradient in half, as torch's formula does."""
    half = where(self == other, grad / 2, grad)
    return _where_zero(pick_self, half)


maximum = defop(
    "maximum(Tensor self, Tensor other) -> Tensor", np.maximum, promote=True, rule=_binary(bwd=6),
    jvp=pointwise(lambda self_t, other_t, self, other: _maxmin_jvp(self_t, other_t, self, other, self > other)),
    self=lambda grad, self, other: _maxmin_grad(grad, self, other, self < other),
    other=lambda grad, self, other: _maxmin_grad(grad, self, other, self > other),
)
minimum = defop(
    "minimum(Tensor self, Tensor other) -> Tensor", np.minimum, promote=True, rule=_binary(bwd=6),
    jvp=pointwise(lambda self_t, other_t, self, other: _maxmin_jvp(self_t, other_t, self, other, self < other)),
    self=lambda grad, self, other: _maxmin_grad(grad, self, other, self > other),
    other=lambda grad, self, other: _maxmin_grad(grad, self, other, self < other),
)


def _clamp(a, min=None, max=None):
    if min is None and max is None:
        raise TorchRuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if a.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        a = a.astype(D.default_float.np)
    if min is not None:
        a = np.maximum(a, B.xp.asarray(min, dtype=a.dtype))
    if max is not None:
        a = np.minimum(a, B.xp.asarray(max, dtype=a.dtype))
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
    if mn is not None:
        a = np.maximum(a, mn)
    if mx is not None:
        a = np.minimum(a, mx)
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
fmod_tensor = defop("fmod.Tensor(Tensor self, Tensor other) -> Tensor", _checked(np.fmod),
                    jvp="element_wise", promote=True,
                    index=1, rule=_binary(temp=1, bwd=5),
             self=lambda grad: grad,
             other=lambda grad, self, other: -grad * (self / other).trunc())
fmod_scalar = defop("fmod.Scalar(Tensor self, Scalar other) -> Tensor", _checked_scalar(np.fmod),
                    jvp="element_wise", index=0,
                    rule=R.like(temp_factor=1),
                    self=lambda grad: grad)
remainder_tensor = defop("remainder.Tensor(Tensor self, Tensor other) -> Tensor", _checked(np.mod),
                         jvp="element_wise", promote=True, index=1, rule=_binary(temp=1, bwd=5),
                  self=lambda grad: grad,
                  other=lambda grad, self, other: -grad * (self / other).floor())
remainder_scalar = defop("remainder.Scalar(Tensor self, Scalar other) -> Tensor", _checked_scalar(np.mod),
                         jvp="element_wise", index=0, rule=R.like(temp_factor=1),
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
    """lerp_kernel's two forms (the one from `end` past |w| = 0.5), for a Scalar weight."""
    return a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1 - w)


lerp_scalar = defop(
    "lerp.Scalar(Tensor self, Tensor end, Scalar weight) -> Tensor",
    lambda a, b, weight: _lerp_scalar(a, b, weight.item() if isinstance(weight, Tensor) else weight),
    jvp="element_wise", promote=True, rule=_binary(temp=2, bwd=4),
    self=lambda grad, weight: grad * (1 - weight),
    end=lambda grad, weight: grad * weight,
)
lerp_tensor = defop(
    "lerp.Tensor(Tensor self, Tensor end, Tensor weight) -> Tensor",
    lambda a, b, w: np.where(np.abs(w) < 0.5, a + w * (b - a), b - (b - a) * (1 - w)),
    jvp="element_wise", promote=True, rule=_binary(temp=6, bwd=7),
    self=lambda grad, weight: grad * (1 - weight),
    end=lambda grad, weight: grad * weight,
    weight=lambda grad, self, end: grad * (end - self),
)
hypot = defop("hypot(Tensor self, Tensor other) -> Tensor", np.hypot,
              jvp="element_wise", promote=True, rule=_binary(2, bwd=5),
              self=lambda grad, self, result: grad * self / result,
              other=lambda grad, other, result: grad * other / result)
atan2 = defop("atan2(Tensor self, Tensor other) -> Tensor", _float_binary(np.arctan2),
              jvp="element_wise", promote=True, rule=_binary(_TR, bwd=7, both_cast=True),
              self=lambda grad, self, other: grad * other / (self * self + other * other),
              other=lambda grad, self, other: grad * -self / (self * self + other * other))
logaddexp = defop("logaddexp(Tensor self, Tensor other) -> Tensor", np.logaddexp, jvp="element_wise", promote=True,
                  rule=_binary(2 * _TR, bwd=6),
                  self=lambda grad, self, other: grad / (1 + (other - self).exp()),
                  other=lambda grad, self, other: grad / (1 + (self - other).exp()))

# ----- Comparisons and logic (no derivative) -----

_ELEMENTWISE = R.elementwise()
eq = nondiff("eq.Tensor(Tensor self, Tensor other) -> Tensor", np.equal, promote=True, rule=_ELEMENTWISE)
ne = nondiff("ne.Tensor(Tensor self, Tensor other) -> Tensor", np.not_equal, promote=True, rule=_ELEMENTWISE)
lt = nondiff("lt.Tensor(Tensor self, Tensor other) -> Tensor", np.less, promote=True, rule=_ELEMENTWISE)
le = nondiff("le.Tensor(Tensor self, Tensor other) -> Tensor", np.less_equal, promote=True, rule=_ELEMENTWISE)
gt = nondiff("gt.Tensor(Tensor self, Tensor other) -> Tensor", np.greater, promote=True, rule=_ELEMENTWISE)
ge = nondiff("ge.Tensor(Tensor self, Tensor other) -> Tensor", np.greater_equal, promote=True, rule=_ELEMENTWISE)
logical_and = nondiff("logical_and(Tensor self, Tensor other) -> Tensor", np.logical_and, rule=_ELEMENTWISE)
logical_or = nondiff("logical_or(Tensor self, Tensor other) -> Tensor", np.logical_or, rule=_ELEMENTWISE)
logical_xor = nondiff("logical_xor(Tensor self, Tensor other) -> Tensor", np.logical_xor, rule=_ELEMENTWISE)
logical_not = nondiff("logical_not(Tensor self) -> Tensor", np.logical_not, rule=_ELEMENTWISE)
isnan = nondiff("isnan(Tensor self) -> Tensor", np.isnan, rule=_ELEMENTWISE)
isinf = nondiff("isinf(Tensor self) -> Tensor", np.isinf, rule=_ELEMENTWISE)
isfinite = nondiff("isfinite(Tensor self) -> Tensor", np.isfinite, rule=_ELEMENTWISE)
def _integral_only(name, fn):
    """Bitwise kernels exist for integers and bools only: torch's NotImplementedError otherwise."""

    def f(*arrays):
        for a in arrays:
            if getattr(a, "dtype", None) is not None and a.dtype.kind == "f":
                word = _dtype_word(a.dtype)
                raise TorchNotImplementedError(f'"{name}_cpu" not implemented for \'{word}\'')
        return fn(*arrays)

    return f


bitwise_and = nondiff("bitwise_and.Tensor(Tensor self, Tensor other) -> Tensor",
                      _integral_only("bitwise_and", np.bitwise_and), promote=True, rule=_ELEMENTWISE)
bitwise_or = nondiff("bitwise_or.Tensor(Tensor self, Tensor other) -> Tensor",
                     _integral_only("bitwise_or", np.bitwise_or), promote=True, rule=_ELEMENTWISE)
bitwise_xor = nondiff("bitwise_xor.Tensor(Tensor self, Tensor other) -> Tensor",
                      _integral_only("bitwise_xor", np.bitwise_xor), promote=True, rule=_ELEMENTWISE)
bitwise_not = nondiff("bitwise_not(Tensor self) -> Tensor", _integral_only(
    "bitwise_not", lambda a: np.logical_not(a) if a.dtype.kind == "b" else np.invert(a)), rule=_ELEMENTWISE)

# ----- Unary math -----

exp = defop("exp(Tensor self) -> Tensor", _float_out(np.exp), jvp="element_wise", cuda="exp(a)",
            vjp={"self": _threaded(lambda grad, result: grad * result, _ufunc_into(np.multiply))},
            rule=_unary(_TR, bwd=1),
            self=lambda grad, result: grad * result)
exp2 = defop("exp2(Tensor self) -> Tensor", _float_out(np.exp2),
            jvp="element_wise", rule=_unary(_TR, bwd=2),
             self=lambda grad, result: grad * (result * math.log(2.0)))
expm1 = defop("expm1(Tensor self) -> Tensor", _float_out(np.expm1),
            jvp="element_wise", rule=_unary(_TR, bwd=2),
              self=lambda grad, result: grad * (result + 1))
log = defop("log(Tensor self) -> Tensor", _float_out(np.log), jvp="element_wise", cuda="log(a)",
            vjp={"self": _threaded(lambda grad, self: grad / self, _ufunc_into(np.divide))},
            rule=_unary(_TR, bwd=1),
            self=lambda grad, self: grad / self)
log2 = defop("log2(Tensor self) -> Tensor", _float_out(np.log2),
            jvp="element_wise", rule=_unary(_TR, bwd=2),
             self=lambda grad, self: grad / (self * math.log(2.0)))
log10 = defop("log10(Tensor self) -> Tensor", _float_out(np.log10),
            jvp="element_wise", rule=_unary(_TR, bwd=2),
              self=lambda grad, self: grad / (self * math.log(10.0)))
log1p = defop("log1p(Tensor self) -> Tensor", _float_out(np.log1p), jvp="element_wise", rule=_unary(_TR, bwd=2),
              self=lambda grad, self: grad / (self + 1))
sqrt = defop("sqrt(Tensor self) -> Tensor", _float_out(np.sqrt), jvp="element_wise", cuda="sqrt(a)",
             vjp={"self": _into(lambda grad, result: grad / (2 * result),
                                lambda out, grad, result: np.divide(grad, np.multiply(2, result, out=out), out=out))},
            rule=_unary(2, bwd=2),
             self=lambda grad, result: grad / (2 * result))


def _rsqrt(a):
    return np.reciprocal(np.sqrt(a))


rsqrt = defop("rsqrt(Tensor self) -> Tensor", _float_out(_rsqrt),
            jvp="element_wise", rule=_unary(3, temp=1, bwd=3),
              self=lambda grad, result: -0.5 * grad * result.pow(3))
sin = defop("sin(Tensor self) -> Tensor", _float_out(np.sin), jvp="element_wise", cuda="sin(a)",
            rule=_unary(_TR, bwd=2),
            vjp={"self": _into(lambda grad, self: np.cos(self) * grad,
                               lambda out, grad, self: np.multiply(np.cos(self, out=out), grad, out=out))},
            self=lambda grad, self: grad * self.cos())
cos = defop("cos(Tensor self) -> Tensor", _float_out(np.cos), jvp="element_wise", cuda="cos(a)",
            rule=_unary(_TR, bwd=2),
            vjp={"self": _into(lambda grad, self: -np.sin(self) * grad,
                               lambda out, grad, self: np.multiply(np.negative(np.sin(self, out=out), out=out), grad,
                                                                   out=out))},
            self=lambda grad, self: grad * -self.sin())
tan = defop("tan(Tensor self) -> Tensor", _float_out(np.tan),
            jvp="element_wise", rule=_unary(_TR, bwd=2),
            self=lambda grad, result: grad * (1 + result.pow(2)))
asin = defop("asin(Tensor self) -> Tensor", _float_out(np.arcsin),
            jvp="element_wise", rule=_unary(_TR, bwd=4),
             self=lambda grad, self: grad * (-self * self + 1).rsqrt())
acos = defop("acos(Tensor self) -> Tensor", _float_out(np.arccos),
            jvp="element_wise", rule=_unary(_TR, bwd=4),
             self=lambda grad, self: grad * -(-self * self + 1).rsqrt())
atan = defop("atan(Tensor self) -> Tensor", _float_out(np.arctan),
            jvp="element_wise", rule=_unary(_TR, bwd=2),
             self=lambda grad, self: grad / (self * self + 1))
sinh = defop("sinh(Tensor self) -> Tensor", _float_out(np.sinh), jvp="element_wise", rule=_unary(_TR, bwd=2),
            self=lambda grad, self: grad * self.cosh())
cosh = defop("cosh(Tensor self) -> Tensor", _float_out(np.cosh), jvp="element_wise", rule=_unary(_TR, bwd=2),
            self=lambda grad, self: grad * self.sinh())
def _two_temps(a, b):
    """An elementwise formula of three operations holding two intermediates (y * y, 1 - y * y)."""
    out = R.broadcast(R.shape_of(a), R.shape_of(b))
    return R.Cost(out, 3 * R.numel(out), 2 * R.numel(out))


# torch differentiates tanh and sigmoid through their own backward ops (TanhBackwardBackward0 under create_graph)
tanh_backward = defop(
    "tanh_backward(Tensor grad_output, Tensor output) -> Tensor", lambda g, y: g * (1 - y * y),
    jvp="element_wise", promote=True,
    rule=lambda grad_output, output: _two_temps(grad_output, output),
    grad_output=lambda grad, output: tanh_backward(grad, output),
    output=lambda grad, grad_output, output: grad * (mul_scalar(output, -2) * grad_output))
sigmoid_backward = defop(
    "sigmoid_backward(Tensor grad_output, Tensor output) -> Tensor", lambda g, y: g * (y * (1 - y)),
    jvp="element_wise", promote=True,
    rule=lambda grad_output, output: _two_temps(grad_output, output),
    grad_output=lambda grad, output: sigmoid_backward(grad, output),
    output=lambda grad, grad_output, output: grad * grad_output * (mul_scalar(output, -2) + 1))
tanh = defop("tanh(Tensor self) -> Tensor", _float_out(np.tanh), jvp="element_wise", cuda="tanh(a)",
             vjp={"self": _into(lambda grad, result: (1 - result * result) * grad,
                                lambda out, grad, result: np.multiply(
                                    np.subtract(1, np.multiply(result, result, out=out), out=out), grad, out=out))},
             rule=_unary(_TR, bwd=2),
             self=lambda grad, result: tanh_backward(grad, result))
asinh = defop("asinh(Tensor self) -> Tensor", _float_out(np.arcsinh),
            jvp="element_wise", rule=_unary(_TR, bwd=4),
              self=lambda grad, self: grad * (self.pow(2) + 1).rsqrt())
acosh = defop("acosh(Tensor self) -> Tensor", _float_out(np.arccosh),
            jvp="element_wise", rule=_unary(_TR, bwd=4),
              self=lambda grad, self: grad * (self.pow(2) - 1).rsqrt())
atanh = defop("atanh(Tensor self) -> Tensor", _float_out(np.arctanh),
            jvp="element_wise", rule=_unary(_TR, bwd=2),
              self=lambda grad, self: grad * (1 - self.pow(2)).reciprocal())


def _inplace_not_implemented(base):
    """torch 2.13's derivatives.yaml marks acosh_, asinh_ and atanh_ `not_implemented`: their node (AcoshBackward1,
    ...) is recorded, its backward raises, and so does a forward-AD tangent through them."""
    msg = f"the derivative for 'inplace version of {base}' is not implemented."
    fw = (f"Trying to use forward AD with {base}_ that does not support it because it has not been implemented "
          "yet.\nPlease file an issue to PyTorch at https://github.com/pytorch/pytorch/issues/new?template="
          "feature-request.yml so that we can prioritize its implementation.")

    def backward(grad):
        raise TorchNotImplementedError(msg)

    def jvp(self_t):
        raise TorchNotImplementedError(fw)

    return backward, jvp


for _name, _np_fn, _bwd in (("asinh", np.arcsinh, 4), ("acosh", np.arccosh, 4), ("atanh", np.arctanh, 2)):
    _b, _j = _inplace_not_implemented(_name)
    defop(f"{_name}_(Tensor(a!) self) -> Tensor(a!)", _float_out(_np_fn), index=1, jvp=_j,
          rule=_unary(_TR, bwd=_bwd), self=_b)


def _sigmoid(a):
    # exp of -|a| only, so that neither branch overflows
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


sigmoid = defop("sigmoid(Tensor self) -> Tensor", _float_out(_sigmoid),
                jvp="element_wise", rule=_unary(_TR, temp=4, bwd=3),  # |a|, -|a|, e, 1 + e, 1 / (1 + e), e / (1 + e)
                self=lambda grad, result: sigmoid_backward(grad, result))


def _logit(a, eps=None):
    if eps is not None:
        a = np.clip(a, eps, 1 - eps)
    return np.log(a / (1 - a))


logit_op = defop(
    "logit(Tensor self, float? eps=None) -> Tensor",
    (lambda a, eps=None: _logit(a if a.dtype.kind == "f" else a.astype(D.default_float.np), eps)),
    jvp="element_wise", rule=_unary(_TR, temp=3, bwd=4),
    self=lambda grad, self, eps: grad / (self * (1 - self)) if eps is None
    else where((self < eps) | (self > 1 - eps), 0.0, grad / (self * (1 - self))),
)


_ERF_CHUNK = 1 << 16  # elements a call of erf_array / erfc_array works on: their float64 work arrays stay small


def _chunked(fn, a):
    """fn over a in pieces of _ERF_CHUNK elements, in a's dtype (fn works in float64 arrays, _ERF_WORK of
    them at once: per piece, not per tensor)."""
    if a.size <= _ERF_CHUNK:
        return fn(a).astype(a.dtype, copy=False)
    flat = a.reshape(-1)
    out = B.xp.empty(flat.shape, dtype=a.dtype)
    for i in range(0, flat.size, _ERF_CHUNK):
        _budget.check()
        out[i:i + _ERF_CHUNK] = fn(flat[i:i + _ERF_CHUNK])
    return out.reshape(a.shape)


def _erf(a):
    return _chunked(erf_array, a)


def _erfc(a):
    return _chunked(erfc_array, a)


def _erf_rule(bwd):
    def rule(self):
        out = R.shape_of(self)
        n = R.numel(out)
        work = R.wide(_ERF_WORK * min(n, _ERF_CHUNK), self) + (n if _kind(self) != "f" else 0)
        return R.Cost(out, 4 * _TR * n, work + (n if n > _ERF_CHUNK else 0), True, int(bwd * n))

    rule.tensors_only = True
    return rule


_TWO_OVER_SQRTPI = 2.0 / math.sqrt(math.pi)
erf = defop("erf(Tensor self) -> Tensor", _float_out(_erf), jvp="element_wise", rule=_erf_rule(bwd=4),
            self=lambda grad, self: grad * (_TWO_OVER_SQRTPI * (-self * self).exp()))
erfc = defop("erfc(Tensor self) -> Tensor", _float_out(_erfc), jvp="element_wise", rule=_erf_rule(bwd=5),
             self=lambda grad, self: grad * (-_TWO_OVER_SQRTPI * (-self * self).exp()))


def _to_dtype(a, dtype):
    return a.astype(dtype.np)


_to_copy = defop(
    "_to_copy(Tensor self, *, ScalarType? dtype=None) -> Tensor", _to_dtype, jvp="element_wise", rule=R.like(bwd=1),
    self=lambda grad, self_dtype: grad.to(self_dtype),
)
clone_op = defop("clone(Tensor self) -> Tensor", lambda a: a.copy(),
                 jvp="element_wise", rule=R.like(), self=lambda grad: grad)
# Tensor.zero_ on a non-leaf that requires grad (torch rebases its history onto ZeroBackward0)
zero_inplace = defop("zero_(Tensor(a!) self) -> Tensor(a!)", lambda a: B.xp.zeros_like(a),
                     jvp="element_wise", rule=R.like(bwd=1),
                     self=lambda grad: _zero_grad(grad))


def to_dtype(t, dtype):
    return _to_copy(t, dtype=dtype)


def clone(input):
    return clone_op(input)


# ----- Python-facing functions (the signatures the JSON binder reads) -----

# the entries' unrolled calls (registry._fast_call), for the calls that give only the two operands
_add_fast, _sub_fast, _mul_fast, _div_fast = add_tensor.fast, sub_tensor.fast, mul_tensor.fast, div_tensor.fast


def add(input: Tensor | float, other: Tensor | float, *, alpha: float = 1) -> Tensor:
    # a scalar on the left stays the first operand: torch wraps it, and its edge is next_functions[0]
    if type(alpha) is int and alpha == 1:  # the default (True is not: torch refuses a bool alpha on floats)
        return _add_fast(input, other)
    return add_tensor(input, other, alpha=alpha)


def sub(input: Tensor | float, other: Tensor | float, *, alpha: float = 1) -> Tensor:
    if type(alpha) is int and alpha == 1:
        return _sub_fast(input, other)
    return sub_tensor(input, other, alpha=alpha)


subtract = sub


def rsub(input: Tensor, other: Tensor | float, alpha: float = 1) -> Tensor:
    if isinstance(other, Tensor):
        return rsub_tensor(input, other, alpha=alpha)
    return rsub_scalar(input, other, alpha=alpha)


def mul(input: Tensor | float, other: Tensor | float) -> Tensor:
    return _mul_fast(input, other)



multiply = mul


class _NotGiven:
    """Default of div's rounding_mode: torch dispatches an explicit None to div.Tensor_mode (DivBackward2)."""

    def __repr__(self):
        return "None"


_NOT_GIVEN = _NotGiven()


def div(input: Tensor | float, other: Tensor | float, *, rounding_mode: str | None = _NOT_GIVEN) -> Tensor:
    if rounding_mode is not _NOT_GIVEN:
        if rounding_mode not in (None, "trunc", "floor"):
            raise TorchRuntimeError(
                "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                f"'{rounding_mode}'"
            )
        return div_tensor_mode(_as_tensor_like(input, other), other, rounding_mode=rounding_mode)
    return _div_fast(input, other)  # torch.div(2, x) is DivBackward0; the operator 2 / x is not (_methods)


divide = true_divide = div


# DIRECT: function -> what a caller giving its tensor operands only, positionally (no keyword), may call instead:
# the same call one frame shorter (engine/program/run.py's run_op). A table keyed by the function objects, not an
# attribute: functools.wraps copies a function's attributes, and the in-place wrappers (add_ of add) must not
# inherit it.
DIRECT: dict = {add: _add_fast, sub: _sub_fast, mul: _mul_fast, div: _div_fast}


def _as_tensor_like(x, ref):
    return x if isinstance(x, Tensor) else _wrap(x, ref)


def _wrap(x, ref):
    return Tensor._make(B.xp.asarray(x, dtype=D.result_type(x).np))


_POW_SIGNATURES = ("\n * (Tensor input, Tensor exponent, *, Tensor out = None)\n * (Number self, Tensor exponent, *, "
                   "Tensor out = None)\n * (Tensor input, Number exponent, *, Tensor out = None)\n")


def pow(input: Tensor | float, exponent: Tensor | float) -> Tensor:  # noqa: A001
    if not isinstance(input, Tensor):
        if not isinstance(input, int | float) or not isinstance(exponent, Tensor | int | float):
            got = ", ".join("Tensor" if isinstance(x, Tensor) else type(x).__name__ for x in (input, exponent))
            raise TypeError(f"pow() received an invalid combination of arguments - got ({got}), but expected one "
                            f"of:{_POW_SIGNATURES}")
        return pow_scalar(input, exponent)
    if isinstance(exponent, Tensor):
        return pow_tensor_tensor(input, exponent)
    return pow_tensor_scalar(input, exponent)


def float_power(input: Tensor | float, exponent: Tensor | float) -> Tensor:
    return pow(input.double() if isinstance(input, Tensor) else input,
               exponent.double() if isinstance(exponent, Tensor) else exponent)


def square(input: Tensor) -> Tensor:
    return pow_tensor_scalar(input, 2)


def abs(input: Tensor) -> Tensor:  # noqa: A001
    return abs_(input)


absolute = abs


def clamp(input: Tensor, min: Tensor | float | None = None, max: Tensor | float | None = None) -> Tensor:  # noqa: A002
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return clamp_tensor(input, min, max)
    return clamp_op(input, min=min, max=max)


def where(condition: Tensor, input: Tensor | float, other: Tensor | float) -> Tensor:
    if not isinstance(condition, Tensor):
        condition = Tensor._make(B.xp.asarray(condition))
    if condition._data.dtype.kind != "b":
        raise TorchRuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                 f"{_dtype_word(condition.dtype)}")
    dt = D.result_type(*(x for x in (input, other)))
    a = input if isinstance(input, Tensor) else Tensor._make(B.xp.asarray(input, dtype=dt.np))
    b = other if isinstance(other, Tensor) else Tensor._make(B.xp.asarray(other, dtype=dt.np))
    return where_self(condition, a, b)  # the forward promotes; gradients are cast back per input


_dtype_word = D.scalar_type_name


def fmod(input: Tensor, other: Tensor | float) -> Tensor:
    return fmod_tensor(input, other) if isinstance(other, Tensor) else fmod_scalar(input, other)


def remainder(input: Tensor | float, other: Tensor | float) -> Tensor:
    if isinstance(other, Tensor):
        if not isinstance(input, Tensor):
            # remainder.Scalar_Tensor: torch has no derivative for it (a NotImplemented node)
            refuse("remainder", other)
            with grad_mode_off():
                out = remainder_tensor(_wrap(input, other), other)
            return _not_implemented("remainder", out, other)
        return remainder_tensor(input, other)
    return remainder_scalar(input, other)


def floor_divide(input: Tensor | float, other: Tensor | float) -> Tensor:
    """torch.floor_divide (the // operator): div(rounding_mode='floor') values, no derivative."""
    a = input if isinstance(input, Tensor) else _wrap(input, other)
    refuse("floor_divide", input, other)
    with grad_mode_off():
        out = div_tensor_mode(a, other, rounding_mode="floor")
    return _not_implemented("floor_divide", out, input, other)


def grad_mode_off():
    from engine.autograd import no_grad  # noqa: PLC0415

    return no_grad()


def round(input: Tensor, *, decimals: int | None = None) -> Tensor:  # noqa: A001
    # torch's binding takes round.decimals whenever decimals is given, 0 included (RoundBackward1)
    return round_(input) if decimals is None else round_decimals(input, decimals=decimals)


def lerp(input: Tensor, end: Tensor, weight: Tensor | float) -> Tensor:
    if isinstance(weight, Tensor):
        return lerp_tensor(input, end, weight)
    return lerp_scalar(input, end, weight=weight)


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    return logit_op(input, eps=eps)


def sign(input: Tensor) -> Tensor:
    return sign_op(input)


def sgn(input: Tensor) -> Tensor:
    return sgn_op(input)



def _unary(name, opdef, doc):
    fast = opdef.fast or opdef

    def f(input: Tensor) -> Tensor:
        return fast(input)

    f.__name__ = name
    f.__doc__ = doc
    if opdef.fast is not None:  # f(input) is fast(input): run_op calls it directly (DIRECT)
        DIRECT[f] = opdef.fast
    return f


_UNARY_DOCS = {
    "neg": "Negation, -x.", "reciprocal": "1 / x.", "exp": "e ** x.", "exp2": "2 ** x.", "expm1": "e ** x - 1.",
    "log": "Natural logarithm.", "log2": "Base-2 logarithm.", "log10": "Base-10 logarithm.",
    "log1p": "log(1 + x).", "sqrt": "Square root.", "rsqrt": "1 / sqrt(x).", "sin": "Sine.", "cos": "Cosine.",
    "tan": "Tangent.", "asin": "Arcsine.", "acos": "Arccosine.", "atan": "Arctangent.",
    "sinh": "Hyperbolic sine.", "cosh": "Hyperbolic cosine.", "tanh": "Hyperbolic tangent.",
    "asinh": "Inverse hyperbolic sine.", "acosh": "Inverse hyperbolic cosine.",
    "atanh": "Inverse hyperbolic tangent.", "sigmoid": "Logistic sigmoid 1 / (1 + e ** -x).",
    "erf": "Error function.", "erfc": "Complementary error function.",
    "floor": "Round down.", "ceil": "Round up.", "trunc": "Round towards zero.",
    "isnan": "Elementwise NaN test.", "isinf": "Elementwise infinity test.", "isfinite": "Elementwise finiteness test.",
    "logical_not": "Elementwise logical not.", "bitwise_not": "Elementwise bitwise not.",
}
_UNARY_OPS = {n: globals()[n] for n in _UNARY_DOCS}
_UNARY = {n: _unary(n, _UNARY_OPS[n], d) for n, d in _UNARY_DOCS.items()}
globals().update(_UNARY)


def _binary(name, opdef, doc):
    def f(input: Tensor, other: Tensor | float) -> Tensor:
        return opdef(input, other)

    f.__name__ = name
    f.__doc__ = doc
    return f


_BINARY_DOCS = {
    "maximum": "Elementwise maximum (ties split the gradient).", "minimum": "Elementwise minimum.",
    "hypot": "sqrt(x ** 2 + y ** 2).", "atan2": "Quadrant-aware arctangent of input / other.",
    "logaddexp": "log(e ** x + e ** y).",
    "eq": "Elementwise ==.", "ne": "Elementwise !=.", "lt": "Elementwise <.", "le": "Elementwise <=.",
    "gt": "Elementwise >.", "ge": "Elementwise >=.", "logical_and": "Elementwise logical and.",
    "logical_or": "Elementwise logical or.", "logical_xor": "Elementwise logical xor.",
    "bitwise_and": "Elementwise bitwise and.", "bitwise_or": "Elementwise bitwise or.",
    "bitwise_xor": "Elementwise bitwise xor.",
}
_BINARY_OPS = {n: globals()[n] for n in _BINARY_DOCS}


def _binary_arg(opdef):
    def g(input, other):
        if not isinstance(other, Tensor) and opdef.promote:
            other = _wrap(other, input)
        return opdef(input, other)

    return g


_BINARY = {n: _binary(n, _binary_arg(_BINARY_OPS[n]), d) for n, d in _BINARY_DOCS.items()}
globals().update(_BINARY)
greater, greater_equal, less, less_equal, not_equal = _BINARY["gt"], _BINARY["ge"], _BINARY["lt"], \
    _BINARY["le"], _BINARY["ne"]

from engine.ops.registry import entry  # noqa: E402

CATALOG = [
    entry("add", add, "input + alpha * other, broadcasting.", add_tensor),
    entry("sub", sub, "input - alpha * other, broadcasting.", sub_tensor, rsub_tensor),
    entry("subtract", sub, "Alias of sub.", sub_tensor),
    entry("rsub", rsub, "other - alpha * input.", rsub_tensor, rsub_scalar, method=False),
    entry("mul", mul, "input * other, broadcasting.", mul_tensor),
    entry("multiply", mul, "Alias of mul.", mul_tensor),
    entry("div", div, "input / other; rounding_mode None, 'trunc' or 'floor'.", div_tensor, div_tensor_mode),
    entry("divide", div, "Alias of div.", div_tensor),
    entry("true_divide", div, "Alias of div.", div_tensor),
    entry("pow", pow, "input ** exponent (tensor or scalar on either side).", pow_tensor_scalar,
          pow_tensor_tensor, pow_scalar),
    entry("float_power", float_power, "pow in float64.", pow_tensor_scalar, pow_tensor_tensor),
    entry("square", square, "input ** 2.", pow_tensor_scalar),
    entry("abs", abs, "Absolute value (gradient 0 at 0).", abs_),
    entry("absolute", abs, "Alias of abs.", abs_),
    entry("sign", sign, "Sign, -1, 0 or 1.", sign_op),
    entry("sgn", sgn, "Sign, -1, 0 or 1.", sgn_op),
    entry("clamp", clamp, "Clamp into [min, max].", clamp_op, clamp_tensor),
    entry("clip", clamp, "Alias of clamp.", clamp_op, clamp_tensor),
    entry("where", where, "Elementwise choice: input where condition, else other.", where_self, method=False),
    entry("fmod", fmod, "C-style remainder (sign of the dividend).", fmod_scalar, fmod_tensor),
    entry("remainder", remainder, "Python-style remainder (sign of the divisor).", remainder_scalar,
          remainder_tensor),
    entry("floor_divide", floor_divide, "input // other, rounded down; torch has no derivative for it (its "
          "grad_fn is NotImplemented, and a backward through it fails).", grad_fns=("NotImplemented",)),
    entry("round", round, "Round half to even, optionally to `decimals` places.", round_, round_decimals),
    entry("lerp", lerp, "input + weight * (end - input).", lerp_scalar, lerp_tensor),
    entry("logit", logit, "log(p / (1 - p)), optionally clamped to [eps, 1 - eps].", logit_op),
    entry("clone", clone, "A copy that stays in the graph.", clone_op),
    *(entry(n, f, _UNARY_DOCS[n], _UNARY_OPS[n]) for n, f in _UNARY.items()),
    *(entry(n, f, _BINARY_DOCS[n], _BINARY_OPS[n]) for n, f in _BINARY.items()),
    entry("greater", greater, "Alias of gt."), entry("greater_equal", greater_equal, "Alias of ge."),
    entry("less", less, "Alias of lt."), entry("less_equal", less_equal, "Alias of le."),
    entry("not_equal", not_equal, "Alias of ne."),
    entry("isclose", lambda input, other, rtol=1e-05, atol=1e-08, equal_nan=False: Tensor._make(
        np.isclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan)), "Elementwise closeness."),
]
