"""Elementwise ops: arithmetic, comparisons, and the unary math functions, with torch's formulas.

The family in modules of one job each: engine/ops/pointwise_base.py (its defop, cost rules, helpers, checks),
pointwise_arith.py (arithmetic, pow, clamp, where, rounding), pointwise_math.py (comparisons, unary math). This
module holds the Python-facing functions and the catalog, and re-exports every name the others define (the
modules that import `engine.ops.pointwise as P` keep working)."""
from __future__ import annotations

from engine.errors import TorchRuntimeError
from engine.ops import pointwise_divmod as DM
from engine.ops.jvp import refuse
from engine.ops.pointwise_arith import (  # noqa: F401 - re-exported: the family's names, as before the split
    _add,
    _clamp,
    _clamp_grad,
    _clamp_t,
    _div_mode,
    _grad_over,
    _grad_times,
    _lerp_scalar,
    _maxmin_grad,
    _maxmin_jvp,
    _np_where,
    _sub,
    _where,
    _where_cost,
    _where_zero,
    abs_,
    add_tensor,
    atan2,
    ceil,
    clamp_op,
    clamp_tensor,
    div_tensor,
    div_tensor_mode,
    floor,
    fmod_scalar,
    fmod_tensor,
    hypot,
    lerp_scalar,
    lerp_tensor,
    logaddexp,
    maximum,
    minimum,
    mul_scalar,
    mul_tensor,
    neg,
    reciprocal,
    remainder_scalar,
    remainder_tensor,
    round_,
    round_decimals,
    rsub_scalar,
    rsub_tensor,
    sgn_op,
    sign_op,
    sub_tensor,
    trunc,
    where,
    where_self,
)
from engine.ops.pointwise_base import (  # noqa: F401 - re-exported: the family's names, as before the split
    _ERF_WORK,
    _TR,
    NotImplemented,
    _alpha_check,
    _alpha_rule,
    _checked,
    _checked_scalar,
    _dtype_word,
    _float_binary,
    _float_out,
    _int_zero_div_check,
    _into,
    _is_bool,
    _is_float,
    _kind,
    _neg_check,
    _not_implemented,
    _scale,
    _sub_check,
    _threaded,
    _true_div,
    _ufunc_into,
    _wrap,
    _zero_grad,
    defop,
    nondiff,
)
from engine.ops.pointwise_math import (  # noqa: F401 - re-exported: the family's names, as before the split
    _ELEMENTWISE,
    _ERF_CHUNK,
    _TWO_OVER_SQRTPI,
    _chunked,
    _erf,
    _erf_rule,
    _erfc,
    _inplace_not_implemented,
    _integral_only,
    _logit,
    _rsqrt,
    _sigmoid,
    _to_copy,
    _to_dtype,
    _two_temps,
    acos,
    acosh,
    asin,
    asinh,
    atan,
    atanh,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    clone,
    clone_op,
    cos,
    cosh,
    eq,
    erf,
    erfc,
    exp,
    exp2,
    expm1,
    ge,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    log,
    log1p,
    log2,
    log10,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    logit_op,
    lt,
    ne,
    rsqrt,
    sigmoid,
    sigmoid_backward,
    sin,
    sinh,
    sqrt,
    tan,
    tanh,
    tanh_backward,
    to_dtype,
    zero_inplace,
)
from engine.ops.pointwise_pow import (  # noqa: F401 - re-exported (split out of pointwise_arith)
    _check_int_pow,
    _pow_scalar,
    _pow_scalar_grad,
    _pow_ts,
    _pow_tt,
    pow_scalar,
    pow_tensor_scalar,
    pow_tensor_tensor,
)
from engine.tensor import Tensor

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
        if rounding_mode is not None and not isinstance(input, Tensor) and isinstance(other, Tensor):
            input = DM.wrap_number(input, other)  # noqa: A001 - torch's wrapped number (past int64 too)
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




def fmod(input: Tensor, other: Tensor | float) -> Tensor:
    return fmod_tensor(input, other) if isinstance(other, Tensor) else fmod_scalar(input, other)


def remainder(input: Tensor | float, other: Tensor | float) -> Tensor:
    if isinstance(other, Tensor):
        if not isinstance(input, Tensor):
            # remainder.Scalar_Tensor: torch has no derivative for it (a NotImplemented node)
            refuse("remainder", other)
            with grad_mode_off():
                out = remainder_tensor(DM.wrap_number(input, other), other)
            return _not_implemented("remainder", out, other)
        return remainder_tensor(input, other)
    return remainder_scalar(input, other)


def floor_divide(input: Tensor | float, other: Tensor | float) -> Tensor:
    """torch.floor_divide (the // operator): div(rounding_mode='floor') values, no derivative."""
    a = input if isinstance(input, Tensor) else DM.wrap_number(input, other)
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
            # a number as torch wraps it: cast to the result type (float64 keeps 0.1, int8 takes 300 as 44)
            other = DM.wrap_number(other, input) if type(other) in (int, float, bool) and isinstance(
                input, Tensor) else _wrap(other, input)
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
    entry("isclose", isclose, "Elementwise closeness."),
]
