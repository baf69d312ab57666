"""Samples for engine/ops/pointwise.py: arithmetic, pow, clamp/where, rounding, unary math, comparisons,
and the Tensor operators bound in engine/_methods.py."""
from __future__ import annotations

import math

from tests.engine.opinfo import ErrorSample, Sample, T

nan, inf = math.nan, math.inf

S = (3, 4)
POS = dict(low=0.5, high=2.0)  # log / sqrt / reciprocal domain
UNIT = dict(low=-0.9, high=0.9)  # asin / acos / atanh domain

SAMPLES: list = []
ERRORS: list = []


def add(*items):
    SAMPLES.extend(items)


# ----- unary math: (shape, 0-d, method, integer input computing in float) -----

UNARY_DOMAINS = {
    "neg": {}, "exp": {}, "exp2": {}, "expm1": {}, "sin": {}, "cos": {}, "atan": {}, "sinh": {}, "cosh": {},
    "tanh": {}, "asinh": {}, "sigmoid": {}, "erf": {}, "erfc": {},
    "tan": dict(low=-1.2, high=1.2),
    "log": POS, "log2": POS, "log10": POS, "sqrt": POS, "rsqrt": POS, "reciprocal": POS,
    "log1p": dict(low=-0.5, high=2.0),
    "asin": UNIT, "acos": UNIT, "atanh": UNIT,
    "acosh": dict(low=1.2, high=3.0),
    "abs": {}, "absolute": {}, "sign": {}, "sgn": {}, "square": {},
    "floor": {}, "ceil": {}, "trunc": {}, "round": {},
}
FLOAT_OUT = {"exp", "exp2", "expm1", "sin", "cos", "atan", "sinh", "cosh", "tanh", "asinh", "sigmoid", "erf",
             "erfc", "tan", "log", "log2", "log10", "sqrt", "rsqrt", "reciprocal", "log1p", "asin", "acos",
             "atanh", "acosh"}

for _op, _dom in UNARY_DOMAINS.items():
    add(
        Sample(_op, (T(S, **_dom),)),
        Sample(_op, (T((), **_dom),)),
        Sample(_op, (T((2, 3, 2), **_dom),), kind="method"),
    )
    if _op in FLOAT_OUT:
        # integer input: computed in the default float dtype; no grad (integer tensors cannot require it)
        _ilow, _ihigh = (1, 4) if _dom in (POS,) or _op == "acosh" else (0, 1) if _dom is UNIT else (-2, 3)
        add(Sample(_op, (T(S, dtype="int64", low=_ilow, high=_ihigh),), grad=False))

# kinks and edge points: values exact, gradients torch's subgradient choice, no gradcheck
add(
    Sample("abs", (T(values=[-1.5, 0.0, 2.0, -0.0]),), gradcheck=False),
    Sample("sign", (T(values=[-1.5, 0.0, 2.0]),), gradcheck=False),
    Sample("sgn", (T(values=[-1.5, 0.0, 2.0]),), gradcheck=False),
    Sample("round", (T(values=[0.5, 1.5, 2.5, -0.5, -1.5, 0.49]),), gradcheck=False),
    Sample("floor", (T(values=[-1.0, -0.5, 0.0, 0.5, 1.0]),), gradcheck=False),
    Sample("ceil", (T(values=[-1.0, -0.5, 0.0, 0.5, 1.0]),), gradcheck=False),
    Sample("trunc", (T(values=[-1.7, -0.5, 0.0, 0.5, 1.7]),), gradcheck=False),
    Sample("sqrt", (T(values=[0.0, 1.0, 4.0]),), gradcheck=False, gradgrad=False),
    Sample("log", (T(values=[0.0, 1.0, -1.0]),), gradcheck=False, gradgrad=False),
    Sample("reciprocal", (T(values=[0.0, 1.0, -2.0]),), gradcheck=False, gradgrad=False),
    Sample("sigmoid", (T(values=[-100.0, -20.0, 0.0, 20.0, 100.0]),), gradcheck=False),
    Sample("tanh", (T(values=[-30.0, 0.0, 30.0]),), gradcheck=False),
    Sample("exp", (T(values=[-inf, 0.0, 1.0]),), gradcheck=False, gradgrad=False),
    Sample("abs", (T((2, 3), dtype="int64", low=-3, high=3),), grad=False),
    Sample("neg", (T((2, 3), dtype="int64", low=-3, high=3),), grad=False),
    Sample("sign", (T((2, 3), dtype="bool"),), grad=False),
    Sample("floor", (T((2, 3), dtype="int64", low=-3, high=3),), grad=False),
    Sample("square", (T((2, 3), dtype="int64", low=-3, high=3),), grad=False),
    Sample("round", (T(values=[1.234, -5.678, 0.051]),), {"decimals": 2}, gradcheck=False),
    Sample("round", (T(values=[1234.5, -5678.0]),), {"decimals": -2}, gradcheck=False),
    Sample("round", (T(values=[1.25, 2.5]),), {"decimals": 1}, kind="method", gradcheck=False),
    Sample("logit", (T(S, low=0.1, high=0.9),)),
    Sample("logit", (T((), low=0.1, high=0.9),)),
    Sample("logit", (T(S, low=0.01, high=0.99),), {"eps": 0.2}, gradcheck=False),
    Sample("logit", (T(S, low=0.1, high=0.9),), {"eps": 0.05}, kind="method"),
    Sample("logit", (T(S, dtype="bool"),), grad=False),
    Sample("add", (T(S, dtype="int64"), T(S)), {"alpha": 0.5}),
    Sample("add", (T(S, dtype="bool"), T(S, dtype="bool")), {"alpha": True}, grad=False),
    Sample("clone", (T(S),)),
    Sample("clone", (T(()),), kind="method"),
)

# ----- empty tensors -----

add(
    Sample("exp", (T((0,)),)),
    Sample("add", (T((0, 3)), T((3,)))),
    Sample("mul", (T((0, 1)), T((1, 3)))),
    Sample("pow", (T((2, 0)), 2)),
    Sample("where", (T((0, 2), dtype="bool"), T((0, 2)), 1.0)),
    Sample("clamp", (T((0, 4)),), {"min": 0.0}),
    Sample("sigmoid", (T((3, 0)),), kind="method"),
)

# ----- predicates (no grad) -----

SPECIAL = T(values=[1.0, nan, inf, -inf, 0.0, -2.5])
add(
    *(Sample(op, (SPECIAL,), grad=False) for op in ("isnan", "isinf", "isfinite", "logical_not")),
    Sample("isnan", (T(S),), kind="method", grad=False),
    Sample("isfinite", (T((2, 3), dtype="int64"),), grad=False),
    Sample("logical_not", (T((2, 3), dtype="bool"),), grad=False),
    Sample("bitwise_not", (T((2, 3), dtype="bool"),), grad=False),
    Sample("bitwise_not", (T((2, 3), dtype="int64", low=-5, high=5),), grad=False),
    Sample("bitwise_not", (T((2, 3), dtype="int32", low=-5, high=5),), kind="method", grad=False),
)

# ----- binary arithmetic -----

for _op in ("add", "sub", "subtract", "mul", "multiply"):
    add(
        Sample(_op, (T(S), T(S))),
        Sample(_op, (T((3, 1)), T((1, 4)))),  # both sides broadcast
        Sample(_op, (T((2, 3, 4)), T((4,)))),
        Sample(_op, (T((4,)), T((2, 3, 4)))),
        Sample(_op, (T(S), T(()))),
        Sample(_op, (T(()), T(S))),
        Sample(_op, (T(()), T(()))),
        Sample(_op, (T(S), 2.5)),
        Sample(_op, (T(S), 3)),
        Sample(_op, (T(S), True)) if _op in ("add", "mul", "multiply") else Sample(_op, (T(S), -1)),
        Sample(_op, (T(S), T(S, requires_grad=False))),
        Sample(_op, (T(S, requires_grad=False), T(S))),
        Sample(_op, (T(S), T(S)), kind="method"),
        Sample(_op, (T(S), 1.5), kind="method"),
        # dtype promotion: integer tensor with a float scalar / float tensor, 0-d float64 with float32
        Sample(_op, (T(S, dtype="int64"), 2.5), grad=False),
        Sample(_op, (T(S, dtype="int64"), 2), grad=False),
        Sample(_op, (T(S, dtype="int64"), T(S))),
        Sample(_op, (T(S, dtype="int32"), T((), dtype="int64")), grad=False),
        Sample(_op, (T(S, dtype="float32"), T((), dtype="float64"))),
        Sample(_op, (T((), dtype="float64"), T(S, dtype="float32"))),
        Sample(_op, (T(S, dtype="float32"), T(S, dtype="float64"))),
        Sample(_op, (T(S, dtype="bool"), T(S, dtype="bool")), grad=False)
        if _op in ("add", "mul", "multiply")
        else Sample(_op, (T(S, dtype="int32"), T(S, dtype="int64")), grad=False),
        Sample(_op, (T(S, dtype="bool"), 2), grad=False)
        if _op in ("add", "mul", "multiply")
        else Sample(_op, (T(S, dtype="int64"), 2.5), kind="method", grad=False),
    )

# scalar on the left: torch wraps it as the first argument
add(
    Sample("add", (2.5, T(S))),
    Sample("add", (2, T(S))),
    Sample("sub", (2.5, T(S))),
    Sample("mul", (2.5, T(S))),
    Sample("div", (2.5, T(S, **POS))),
    Sample("add", (T(S), T(S)), {"alpha": 2}),
    Sample("add", (T(S), T((4,))), {"alpha": -0.5}),
    Sample("add", (T(S), 3.0), {"alpha": 2}),
    Sample("add", (2.5, T(S)), {"alpha": 2}),
    Sample("add", (T(S), T(S)), {"alpha": 2}, kind="method"),
    Sample("sub", (T(S), T(S)), {"alpha": 2}),
    Sample("sub", (T(S), T((1, 4))), {"alpha": 0.5}, kind="method"),
    Sample("sub", (T(S), 1.0), {"alpha": 3}),
    Sample("rsub", (T(S), T(S))),
    Sample("rsub", (T(S), T((4,)))),
    Sample("rsub", (T(S), 2.5)),
    Sample("rsub", (T(S), 2.5), {"alpha": 2}),
    Sample("rsub", (T(S), T(S)), {"alpha": 3}),
    Sample("rsub", (T(()), T(S))),
    Sample("rsub", (T(S, dtype="int64"), 2), grad=False),
)

for _op in ("div", "divide", "true_divide"):
    add(
        Sample(_op, (T(S), T(S, **POS))),
        Sample(_op, (T(S), T((1, 4), **POS))),
        Sample(_op, (T((4,)), T((3, 1), low=-2, high=-0.5))),
        Sample(_op, (T(S), T((), **POS))),
        Sample(_op, (T(S), 2.0)),
        Sample(_op, (T(S), 4)),
        Sample(_op, (T(S), T(S, **POS)), kind="method"),
        Sample(_op, (T(S, dtype="int64", low=-5, high=5), T(S, dtype="int64", low=1, high=4)), grad=False),
        Sample(_op, (T(S, dtype="int64", low=-5, high=5), 2), grad=False),
        Sample(_op, (T(S, dtype="int64"), T(S, **POS))),
    )
for _mode in ("trunc", "floor"):
    add(
        Sample("div", (T(S, low=-5, high=5), T(S, **POS)), {"rounding_mode": _mode}, gradcheck=False),
        Sample("div", (T(S, low=-5, high=5), T((4,), low=-2, high=-0.5)), {"rounding_mode": _mode},
               gradcheck=False),
        Sample("div", (T(S, low=-5, high=5), 1.5), {"rounding_mode": _mode}, gradcheck=False),
        Sample("div", (T(S, low=-5, high=5), T(S, **POS)), {"rounding_mode": _mode}, kind="method",
               gradcheck=False),
        Sample("div", (T(S, dtype="int64", low=-7, high=7), T(S, dtype="int64", low=1, high=4)),
               {"rounding_mode": _mode}, grad=False),
        Sample("div", (T(S, dtype="int64", low=-7, high=7), 2), {"rounding_mode": _mode}, grad=False),
        Sample("div", (T(S, dtype="int64", low=-7, high=7), -3), {"rounding_mode": _mode}, grad=False),
        Sample("div", (7.5, T(S, **POS)), {"rounding_mode": _mode}, gradcheck=False),
    )
add(Sample("div", (T(S), T(S, **POS)), {"rounding_mode": None}))

# ----- pow -----

add(
    Sample("pow", (T(S, **POS), 2)),
    Sample("pow", (T(S), 2)),
    Sample("pow", (T(S), 3)),
    Sample("pow", (T(S, **POS), 0.5)),
    Sample("pow", (T(S, **POS), -1.5)),
    Sample("pow", (T(S, **POS), 2.5)),
    Sample("pow", (T(S), 1)),
    Sample("pow", (T(S), 0), gradcheck=False),
    Sample("pow", (T(S), 0.0), gradcheck=False),
    Sample("pow", (T(()), 3)),
    Sample("pow", (T(S, **POS), T(S))),
    Sample("pow", (T(S, **POS), T((4,)))),
    Sample("pow", (T((3, 1), **POS), T((1, 4)))),
    Sample("pow", (T(S, **POS), T(()))),
    Sample("pow", (T(S, **POS), T(S, requires_grad=False))),
    Sample("pow", (T(S, requires_grad=False, **POS), T(S))),
    Sample("pow", (2.5, T(S))),
    Sample("pow", (2, T(S))),
    Sample("pow", (0.5, T(()))),
    Sample("pow", (T(S, **POS), 2.0), kind="method"),
    Sample("pow", (T(S, **POS), T(S)), kind="method"),
    Sample("pow", (T(S, dtype="int64", low=0, high=4), 2), grad=False),
    Sample("pow", (T(S, dtype="int64", low=1, high=4), 0.5), grad=False),
    Sample("pow", (T(S, dtype="int64", low=0, high=4), T(S, dtype="int64", low=0, high=3)), grad=False),
    # integer tensor ** negative integer tensor: no error in torch (1, +-1 for -1, else 0)
    Sample("pow", (T(values=[1, -1, 2, 0, -1, 3], dtype="int64"),
                   T(values=[-1, -1, -2, -1, -2, 0], dtype="int64")), grad=False),
    Sample("pow", (0.0, T(values=[-1.0, 0.0, 2.0])), gradcheck=False, gradgrad=False),
    Sample("pow", (-2.0, T(values=[1.0, 2.0, 3.0])), gradcheck=False, gradgrad=False),
    Sample("pow", (2, T(S, dtype="int64", low=0, high=5)), grad=False),
    Sample("pow", (2.5, T(S, dtype="int64", low=0, high=5)), grad=False),
    Sample("pow", (T(S, dtype="int64", low=1, high=4), T(S, **POS))),
    # 0 ** y and x ** 0 edge points: torch masks the gradients there
    Sample("pow", (T(values=[0.0, 1.0, 2.0]), T(values=[2.0, 0.0, 3.0])), gradcheck=False, gradgrad=False),
    Sample("pow", (T(values=[0.0, 1.0, 2.0]), 2), gradcheck=False),
    Sample("pow", (0.0, T(values=[1.0, 2.0])), gradcheck=False),
    Sample("square", (T(S),), kind="method"),
    Sample("float_power", (T(S, **POS), 2)),
    Sample("float_power", (T(S, **POS), T(S))),
    Sample("float_power", (T(S, dtype="int64", low=1, high=4), 2), grad=False),
)

# ----- clamp / where / maximum / minimum -----

for _op in ("clamp", "clip"):
    add(
        Sample(_op, (T(S),), {"min": -0.5, "max": 0.5}),
        Sample(_op, (T(S),), {"min": -0.5}),
        Sample(_op, (T(S),), {"max": 0.5}),
        Sample(_op, (T(S), -1, 1)),
        Sample(_op, (T(S),), {"min": -0.5, "max": 0.5}, kind="method"),
        Sample(_op, (T(S),), {"min": T(S), "max": T(S, low=2.5, high=3)}),
        Sample(_op, (T(S),), {"min": T((4,), low=-1, high=0)}),
        Sample(_op, (T(S),), {"max": T((3, 1), low=0, high=1)}),
        Sample(_op, (T(S),), {"min": T(S, requires_grad=False),
                              "max": T(S, requires_grad=False, low=2.5, high=3)}),
        Sample(_op, (T(S, dtype="int64", low=-5, high=5),), {"min": -2, "max": 2}, grad=False),
        Sample(_op, (T(S, dtype="int64", low=-5, high=5),), {"min": -1.5}, grad=False),
    )
add(
    # at the bounds: torch passes the gradient where min <= x <= max
    Sample("clamp", (T(values=[-1.0, -0.5, 0.0, 0.5, 1.0]),), {"min": -0.5, "max": 0.5}, gradcheck=False),
    Sample("clamp", (T(values=[-1.0, 0.0, 1.0]),), {"min": T(values=[0.0, 0.0, 0.0]),
                                                    "max": T(values=[0.5, 0.5, 0.5])}, gradcheck=False),
    # min > max: everything is max
    Sample("clamp", (T(S),), {"min": 1.0, "max": -1.0}, gradcheck=False),
    Sample("clamp", (T(S),), {"min": T(S, low=1, high=2), "max": T(S, low=-2, high=-1)}, gradcheck=False),
)
for _op in ("maximum", "minimum"):
    add(
        Sample(_op, (T(S), T(S))),
        Sample(_op, (T(S), T((4,)))),
        Sample(_op, (T(()), T(S))),
        Sample(_op, (T(S), T(S)), kind="method"),
        Sample(_op, (T(values=[1.0, 2.0, 3.0]), T(values=[1.0, 0.0, 3.0])), gradcheck=False),  # ties
        Sample(_op, (T(S, dtype="int64"), T(S, dtype="int64")), grad=False),
        Sample(_op, (T(S, dtype="int64"), T(S))),
        Sample(_op, (T(values=[1.0, nan, 3.0]), T(values=[nan, 0.0, 2.0])), gradcheck=False),
    )
add(
    Sample("where", (T(S, dtype="bool"), T(S), T(S))),
    Sample("where", (T((3, 1), dtype="bool"), T((1, 4)), T((4,)))),
    Sample("where", (T(S, dtype="bool"), T(S), 0.0)),
    Sample("where", (T(S, dtype="bool"), 1.5, T(S))),
    Sample("where", (T(S, dtype="bool"), T(S), T(S, requires_grad=False))),
    Sample("where", (T(S, dtype="bool"), T(S, dtype="float32"), T(S, dtype="float64"))),
    Sample("where", (T(S, dtype="bool"), T(S, dtype="int64"), T(S, dtype="int64")), grad=False),
    Sample("where", (T(S, dtype="bool"), T(S, dtype="int64"), 2.5), grad=False),
    Sample("where", (T((), dtype="bool"), T(S), T(()))),
)

# ----- remainder / fmod / lerp / hypot / atan2 / logaddexp -----

for _op in ("fmod", "remainder"):
    add(
        Sample(_op, (T(S, low=-5, high=5), 1.5)),
        Sample(_op, (T(S, low=-5, high=5), -1.5)),
        Sample(_op, (T(S, low=-5, high=5), T(S, low=0.7, high=2))),
        Sample(_op, (T(S, low=-5, high=5), T((4,), low=-2, high=-0.7))),
        Sample(_op, (T(S, low=-5, high=5), T(S, low=0.7, high=2, requires_grad=False))),
        Sample(_op, (T(S, low=-5, high=5), 2), kind="method"),
        Sample(_op, (T(S, dtype="int64", low=-7, high=7), 3), grad=False),
        Sample(_op, (T(S, dtype="int64", low=-7, high=7), T(S, dtype="int64", low=1, high=4)), grad=False),
        Sample(_op, (T(S, dtype="int64", low=-7, high=7), 2.5), grad=False),
    )
add(
    Sample("remainder", (5.5, T(S, low=0.7, high=2)), grad=False),
    Sample("remainder", (T(S, low=-5, high=5), T(()))),
    Sample("lerp", (T(S), T(S), 0.3)),
    Sample("lerp", (T(S), T(S), 0.7)),
    Sample("lerp", (T(S), T((4,)), 0.25)),
    Sample("lerp", (T(S), T(S), T(S, low=0, high=1))),
    Sample("lerp", (T(S), T(S), T((4,), low=0, high=1))),
    Sample("lerp", (T(S), T(S), T(S, low=0, high=1, requires_grad=False))),
    Sample("lerp", (T(S), T(S), 0.5), kind="method"),
    Sample("lerp", (T(()), T(S), T(()))),
    Sample("hypot", (T(S), T(S))),
    Sample("hypot", (T(S), T((4,)))),
    Sample("hypot", (T(S), T(S)), kind="method"),
    Sample("atan2", (T(S), T(S))),
    Sample("atan2", (T(S), T((3, 1)))),
    Sample("atan2", (T(S), T(S)), kind="method"),
    Sample("atan2", (T(S, dtype="int64"), T(S, dtype="int64", low=1, high=3)), grad=False),
    Sample("logaddexp", (T(S), T(S))),
    Sample("logaddexp", (T(S, low=50, high=60), T((4,)))),
    Sample("logaddexp", (T(S), T(S)), kind="method"),
)

# ----- comparisons and logic (no grad) -----

for _op in ("eq", "ne", "lt", "le", "gt", "ge",
            "greater", "greater_equal", "less", "less_equal", "not_equal"):
    add(
        Sample(_op, (T(S, dtype="int64", low=0, high=3), T(S, dtype="int64", low=0, high=3)), grad=False),
        Sample(_op, (T(S), T((4,))), grad=False),
        Sample(_op, (T(S), 0.5), grad=False),
        Sample(_op, (T(S, dtype="int64", low=0, high=3), 1), grad=False),
        Sample(_op, (T(S, dtype="int64", low=0, high=3), 1.5), grad=False),
        Sample(_op, (T(S), T(S)), kind="method", grad=False),
    )
for _op in ("logical_and", "logical_or", "logical_xor"):
    add(
        Sample(_op, (T(S, dtype="bool"), T(S, dtype="bool")), grad=False),
        Sample(_op, (T(S, dtype="bool"), T((4,), dtype="bool")), grad=False),
        Sample(_op, (T(values=[0.0, 1.5, 0.0, -2.0]), T(values=[0.0, 0.0, 3.0, 1.0])), grad=False),
        Sample(_op, (T(S, dtype="bool"), T(S, dtype="bool")), kind="method", grad=False),
    )
for _op in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    add(
        Sample(_op, (T(S, dtype="int64", low=0, high=16), T(S, dtype="int64", low=0, high=16)), grad=False),
        Sample(_op, (T(S, dtype="bool"), T(S, dtype="bool")), grad=False),
        Sample(_op, (T(S, dtype="int64", low=0, high=16), 6), grad=False),
        Sample(_op, (T(S, dtype="int32", low=0, high=16), T(S, dtype="int64", low=0, high=16)), grad=False),
    )
add(
    Sample("isclose", (T(values=[1.0, 2.0, nan, 1e-9]), T(values=[1.0 + 1e-7, 2.1, nan, 0.0])), grad=False),
    Sample("isclose", (T(values=[1.0, nan]), T(values=[1.0, nan])), {"equal_nan": True}, grad=False),
    Sample("isclose", (T(values=[1.0, 2.0]), T(values=[1.05, 2.5])), {"rtol": 0.1, "atol": 0.0}, grad=False),
)

# ----- Python operators (engine/_methods.py) -----

add(
    Sample("__add__", (T(S), T((4,))), kind="method"),
    Sample("__add__", (T(S), 2), kind="method"),
    Sample("__radd__", (T(S), 2.5), kind="method"),
    Sample("__sub__", (T(S), T(S)), kind="method"),
    Sample("__sub__", (T(S), 2.5), kind="method"),
    Sample("__rsub__", (T(S), 2.5), kind="method"),
    Sample("__mul__", (T(S), T(())), kind="method"),
    Sample("__rmul__", (T(S), 3), kind="method"),
    Sample("__truediv__", (T(S), T(S, **POS)), kind="method"),
    Sample("__truediv__", (T(S), 2), kind="method"),
    Sample("__rtruediv__", (T(S, **POS), 2.5), kind="method"),
    Sample("__rtruediv__", (T(S, dtype="int64", low=1, high=4), 3), kind="method", grad=False),
    Sample("__floordiv__", (T(S, low=-5, high=5), 1.5), kind="method", gradcheck=False, grad=False),
    Sample("__floordiv__", (T(S, low=-5, high=5), T(S, **POS)), kind="method", gradcheck=False, grad=False),
    Sample("__rfloordiv__", (T(S, **POS), 7.5), kind="method", gradcheck=False, grad=False),
    Sample("__floordiv__", (T(S, dtype="int64", low=-7, high=7), 2), kind="method", grad=False),
    Sample("__floordiv__", (T(S, low=-5, high=5), T(S, **POS, requires_grad=False)), kind="method",
           grad=False),
    Sample("__floordiv__", (T(S, low=-5, high=5, requires_grad=False), T(S, **POS)), kind="method",
           grad=False),
    Sample("__mod__", (T(S, low=-5, high=5), 1.5), kind="method"),
    Sample("__mod__", (T(S, low=-5, high=5), T(S, **POS)), kind="method"),
    Sample("__rmod__", (T(S, **POS), 5.5), kind="method", grad=False),
    Sample("__pow__", (T(S, **POS), 2), kind="method"),
    Sample("__pow__", (T(S, **POS), T(S)), kind="method"),
    Sample("__rpow__", (T(S), 2.0), kind="method"),
    Sample("__rpow__", (T(S), 2), kind="method"),
    Sample("__neg__", (T(S),), kind="method"),
    Sample("__pos__", (T(S),), kind="method"),
    Sample("__abs__", (T(S),), kind="method"),
    Sample("__invert__", (T(S, dtype="bool"),), kind="method", grad=False),
    Sample("__invert__", (T(S, dtype="int64"),), kind="method", grad=False),
    Sample("__eq__", (T(S, dtype="int64", low=0, high=3), 1), kind="method", grad=False),
    Sample("__lt__", (T(S), T(S)), kind="method", grad=False),
    Sample("__ge__", (T(S), 0.0), kind="method", grad=False),
    Sample("__and__", (T(S, dtype="bool"), T(S, dtype="bool")), kind="method", grad=False),
    Sample("__or__", (T(S, dtype="int64", low=0, high=8), T(S, dtype="int64", low=0, high=8)), kind="method",
           grad=False),
    Sample("__xor__", (T(S, dtype="bool"), T(S, dtype="bool")), kind="method", grad=False),
)

# ----- errors -----

ERRORS += [
    ErrorSample("add", (T((3, 4)), T((3, 5)))),
    ErrorSample("add", (T((2, 3, 4)), T((5, 4)))),
    ErrorSample("add", (T((2, 3)), T((3, 2)))),  # several mismatches: torch names the last dim
    ErrorSample("where", (T((2, 5), dtype="bool"), T((2, 3)), T((2, 3)))),
    ErrorSample("where", (T((2, 3), dtype="bool"), T((2, 3)), T((4, 3)))),
    ErrorSample("clamp", (T((2, 3)),), {"min": T((4,))}),
    ErrorSample("lerp", (T((2, 3)), T((2, 3)), T((2,)))),
    ErrorSample("mul", (T((3,)), T((4,)))),
    ErrorSample("sub", (T((2, 3)), T((3, 2)))),
    ErrorSample("div", (T((2, 3)), T((2,)))),
    ErrorSample("maximum", (T((2, 3)), T((3, 3)))),
    ErrorSample("where", (T((2, 3), dtype="bool"), T((2, 4)), T((2, 3)))),
    ErrorSample("where", (T((2, 3), dtype="int64"), T((2, 3)), T((2, 3)))),
    ErrorSample("pow", (T((3,), dtype="int64", low=1, high=3), -1)),
    ErrorSample("div", (T((3,)), T((3,))), {"rounding_mode": "round"}),
    ErrorSample("div", (T((3,), dtype="int64"), T((3,), dtype="int64", low=0, high=1)),
                {"rounding_mode": "floor"}),
    ErrorSample("div", (T((3,), dtype="int64"), 0), {"rounding_mode": "trunc"}),
    ErrorSample("remainder", (T((3,), dtype="int64"), 0)),
    ErrorSample("clamp", (T((3,)),)),
    ErrorSample("sub", (T((3,), dtype="bool"), T((3,), dtype="bool"))),
    ErrorSample("rsub", (T((3,), dtype="bool"), T((3,), dtype="bool"))),
    ErrorSample("neg", (T((3,), dtype="bool"),)),
    ErrorSample("bitwise_and", (T((3,)), T((3,)))),
    ErrorSample("bitwise_or", (T((3,), dtype="float64"), T((3,), dtype="int64"))),
    ErrorSample("bitwise_not", (T((3,)),)),
    ErrorSample("add", (T((3,), dtype="int64"), T((3,), dtype="int64")), {"alpha": 0.5}),
    ErrorSample("sub", (T((3,), dtype="int64"), 2), {"alpha": 1.5}),
    ErrorSample("add", (T((3,)), T((3,))), {"alpha": True}),
    ErrorSample("sub", (T((3,), dtype="bool"), 1)),
    ErrorSample("sub", (2, T((3,), dtype="bool"))),
    ErrorSample("sub", (T((3,)), True)),
    ErrorSample("rsub", (T((3,), dtype="bool"), 1)),
    ErrorSample("__sub__", (T((3,), dtype="bool"), T((3,), dtype="bool")), kind="method"),
    ErrorSample("__rsub__", (T((3,), dtype="bool"), 1), kind="method"),
    ErrorSample("__neg__", (T((3,), dtype="bool"),), kind="method"),
    ErrorSample("fmod", (T((3,), dtype="int64"), T((3,), dtype="int64", low=0, high=1))),
    ErrorSample("fmod", (T((3,), dtype="int32"), 0)),
    ErrorSample("remainder", (T((3,), dtype="int64"), T((3,), dtype="int64", low=0, high=1))),
    ErrorSample("__floordiv__", (T((3,), dtype="int64"), 0), kind="method"),
    ErrorSample("__mod__", (T((3,), dtype="int64"), 0), kind="method"),
    ErrorSample("add", (T((3,), dtype="int64"), 2), {"alpha": 0.5}),
    ErrorSample("requires_grad_", (T((3,), dtype="int64"),), kind="method"),
    ErrorSample("requires_grad_", (T((3,), dtype="bool"),), kind="method"),
]
