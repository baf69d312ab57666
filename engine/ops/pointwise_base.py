"""Elementwise ops' common parts: their defop (chunked on the thread pool), cost-rule builders, forward helpers,
the NotImplemented node and torch's argument checks (engine/ops/pointwise.py gathers the family)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.autograd import Node, _seq, edge_of, grad_mode
from engine.errors import TorchRuntimeError
from engine.ops import registry as _registry
from engine.ops import rules as R
from engine.ops.scalar_fit import f16_value, int_operands, scalar_arg
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


def _binary(weight=1, temp=0, bwd=3, both_cast=False, opmath=False):
    """An elementwise function of tensors (broadcast). both_cast: two integer operands are cast to float
    first (_float_binary, _true_div): a temporary per operand. bwd: each input's formula result is held
    until every formula has run, then summed down to its input's shape: counted in output sizes. opmath: a
    float16 operand with a number computes in float32 (f16_opmath): two float32 arrays, four output sizes."""

    def rule(*tensors):
        out = R.broadcast(*(R.shape_of(t) for t in tensors))
        n = R.numel(out)
        t = int(temp * n)
        if both_cast and all(_kind(x) != "f" for x in tensors):
            t += sum(R.numel(R.shape_of(x)) for x in tensors)
        if opmath and len(tensors) == 2 and f16_number(*tensors):
            t += 4 * n
        return R.Cost(out, weight * n, t, True, int(bwd * n))

    rule.tensors_only = True
    return rule


def _alpha_rule(scaled):
    """add / sub / rsub: alpha != 1 scales one operand into a temporary first; on float results the fused
    multiply-add (engine/_fma.py add_scaled) holds up to ~16 output sizes of float64 / float32 terms."""

    def rule(self, other, alpha=1):
        out = R.broadcast(R.shape_of(self), R.shape_of(other))
        n = R.numel(out)
        t = R.numel(R.shape_of(other if scaled == "other" else self)) if alpha != 1 else 0
        if alpha != 1 and type(alpha) is not bool and "f" in [
            ("f" if type(x) is float else "i") if type(x) in (int, bool, float) else _kind(x) for x in (self, other)
        ]:
            return R.Cost(out, 20 * n, t + 16 * n, True, 3 * n)
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
    f.float_fn = fn  # f(a) is fn(a) where a is a float array (engine/ops/fastcall.py calls it so)
    return f


def _is_float(x):
    return isinstance(x, float) or (hasattr(x, "dtype") and x.dtype.kind == "f")


_F16 = np.dtype(np.float16)


def f16_number(a, b) -> bool:
    """A float16 array times / over a Python number float16 does not hold exactly: torch's mul and div kernels
    read such a number in float32 (opmath, iter.original_scalar_value) and compute a * b or a / b in float32,
    rounded once (0 * 70000 is 0, not NaN; x / 2.7 rounds as the float32 quotient)."""
    tb = type(b)
    if tb is float or tb is int and not -2048 <= b <= 2048:
        try:
            return a.dtype is _F16
        except AttributeError:  # (a number)
            return False
    return False


def f16_operand(a, v: float) -> float:
    """v, a Python float operand beside `a`, as torch's kernel takes it where `a` is a float16 array: its wrapped
    number (a 0-d double tensor) cast to float16 through float32 (c10::Half's constructor: two roundings, so 1 +
    2**-11 + 2**-40 is 1.0, 65520 - 2**-20 inf), which NumPy then rounds exactly once more from the float32 value
    returned here; a kernel reading the number in float32 (opmath: f16_opmath) reads the same. Anything else: v."""
    try:
        if a.dtype is _F16:
            return f16_value(v)
    except AttributeError:  # (two numbers)
        pass
    return v


def f16_opmath(ufunc, a, b):
    if -3.4e38 <= b <= 3.4e38:
        return ufunc(a.astype(np.float32), np.float32(b)).astype(np.float16)
    with np.errstate(over="ignore"):  # (float32 takes the number as inf, as torch's static_cast)
        return ufunc(a.astype(np.float32), np.float32(b)).astype(np.float16)


def _true_div(a, b):
    """True division: integer and bool operands compute in the default float dtype, as torch."""
    tb = type(b)
    if tb is int:
        if not -2048 <= b <= 2048:
            if not -(1 << 63) <= b < 1 << 64:
                scalar_arg(b)  # the parser's OverflowError (the op table's fast call does not promote)
            if f16_number(a, b):
                return f16_opmath(np.true_divide, a, b)
    elif tb is float:
        try:
            if a.dtype is _F16:  # float16 over a number: in float32, rounded once (torch's opmath)
                return f16_opmath(np.true_divide, a, b)
        except AttributeError:  # (two numbers)
            pass
    if not _is_float(a) and not _is_float(b):
        f = D.default_float.np
        a = a.astype(f) if hasattr(a, "astype") else a
        b = b.astype(f) if hasattr(b, "astype") else b
    if tb is int and not 0 <= b < 128 or type(a) is int and not 0 <= a < 128:
        a, b = int_operands(a, b)  # an int beside float32 rounded once, as torch's wrapped number (redteam12 F9)
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



# ----- argument checks torch makes before computing (on the inputs' own dtypes) -----


def _is_bool(x):
    return isinstance(x, bool) or (isinstance(x, Tensor) and x._data.dtype.kind == "b")


def _alpha_check(self, other, alpha):
    """torch's alpha_check, on the result dtype of the operands."""
    if alpha is None or (type(alpha) is int and alpha == 1):
        return
    if type(alpha) is int:
        scalar_arg(alpha)  # the parser's OverflowError first
    dt = D.result_type(self, other)
    if isinstance(alpha, bool) and dt is not D.bool_:
        raise TorchRuntimeError("Boolean alpha only supported for Boolean results.")
    if not dt.is_floating_point and isinstance(alpha, float):
        raise TorchRuntimeError(
            "For integral input tensors, argument alpha must not be a floating point number."
        )


# True where _alpha_check(self, other, alpha) returns at its first line whatever the operands (engine/ops/fastcall.py
# does not call it there)
_alpha_check.trivial = lambda alpha=1: alpha is None or (type(alpha) is int and alpha == 1)


def _sub_check(self, other, alpha=1):
    if type(alpha) is int and alpha != 1:
        scalar_arg(alpha)  # the parser's OverflowError before sub's bool refusals
    if type(other) is int and not -(1 << 63) <= other < 1 << 64:
        scalar_arg(other)
    if type(self) is int and not -(1 << 63) <= self < 1 << 64:
        scalar_arg(self)
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



_dtype_word = D.scalar_type_name


def _wrap(x, ref):
    return Tensor._make(B.xp.asarray(x, dtype=D.result_type(x).np))


def torch_sign(a):
    """torch's CPU sign kernel, (0 < a) - (a < 0): 0 for NaN (np.sign answers NaN) and +0.0 for -0.0."""
    if a.dtype.kind == "b":
        return a.copy()
    out = np.sign(a)
    if a.dtype.kind != "f":
        return out
    if type(out) is not np.ndarray:  # (a 0-d operand's NumPy scalar)
        return out if out == out else out.dtype.type(0)
    np.copyto(out, 0, where=np.isnan(out))  # (one byte an element held beside the result, as the rule allows)
    return out
