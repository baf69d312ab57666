"""Samples for the reductions of engine/ops/reduction.py's parts (reduction_*.py) beyond sum/mean (those live in
core.py): prod, amax/amin, max/min, var/std, norm/linalg.vector_norm, logsumexp, cumsum/cumprod, argmax/argmin."""

from __future__ import annotations

import math

from tests.engine.opinfo import ErrorSample, Sample, T

inf = math.inf

S = (3, 4)
NZ = dict(low=0.5, high=1.5)  # away from zero: prod / cumprod divide by the input
TIES = ((1.0, 3.0, 3.0, -1.0), (2.0, 2.0, 0.5, 2.0), (0.0, -1.0, -1.0, -1.0))
ZERO1 = ((1.5, 0.0, 2.0, -0.5), (0.7, 1.2, -1.1, 0.9), (0.0, 2.0, 0.0, 1.3))  # one zero, none, two zeros
ZERO2 = ((0.0, 1.5, 2.0, 0.0), (1.2, 0.0, 0.0, 0.0), (2.0, 1.1, -0.5, 0.0))  # zeros first, last, three

SAMPLES: list = []
ERRORS: list = []


def add(*items):
    SAMPLES.extend(items)


def err(*items):
    ERRORS.extend(items)


# ----- prod -----
add(
    Sample("prod", (T(S, **NZ),)),
    Sample("prod", (T(S, **NZ), 1)),
    Sample("prod", (T(S, **NZ), -1), dict(keepdim=True)),
    Sample("prod", (T((2, 3, 2), **NZ),), dict(dim=0), kind="method"),
    Sample("prod", (T((), **NZ),)),
    Sample("prod", (T((), **NZ), 0)),
    Sample("prod", (T((2, 2), values=((1.5, 0.0), (0.7, 1.2))),), note="one zero: prod_safe_zeros_backward"),
    Sample("prod", (T((2, 2), values=((1.5, 0.0), (0.0, 1.2))),), note="two zeros"),
    Sample("prod", (T(S, values=ZERO1), 1), note="rows with no, one and two zeros"),
    Sample("prod", (T(S, values=ZERO1), 0), dict(keepdim=True)),
    Sample("prod", (T(S, dtype="int64", low=-3, high=4),), grad=False),
    Sample("prod", (T(S, dtype="int64", low=-3, high=4), 1), grad=False),
    Sample("prod", (T(S, dtype="bool"),), grad=False),
    Sample("prod", (T(S, **NZ),), dict(dtype="float64")),
)

# ----- amax / amin -----
for _op in ("amax", "amin"):
    add(
        Sample(_op, (T(S),)),
        Sample(_op, (T(S), 1)),
        Sample(_op, (T(S), -1), dict(keepdim=True)),
        Sample(_op, (T((2, 3, 2)), (0, 2))),
        Sample(_op, (T((2, 3, 2)),), dict(dim=[1], keepdim=True), kind="method"),
        Sample(_op, (T(()),)),
        Sample(_op, (T(S, values=TIES), 1), gradcheck=False, note="ties share the gradient evenly"),
        Sample(_op, (T(S, values=TIES),), gradcheck=False),
        Sample(_op, (T(S, dtype="int64", low=-5, high=5), 0), grad=False),
        Sample(_op, (T(S, dtype="bool"), 1), grad=False),
    )

# ----- max / min -----
for _op in ("max", "min"):
    add(
        Sample(_op, (T(S),)),
        Sample(_op, (T(S), 1)),
        Sample(_op, (T(S), -2), dict(keepdim=True)),
        Sample(_op, (T((2, 3, 2)),), dict(dim=1), kind="method"),
        Sample(_op, (T((2, 3, 2)), 2, True), kind="method"),
        Sample(_op, (T(()),)),
        Sample(_op, (T(()), 0)),
        Sample(_op, (T(S), T((4,)))),
        Sample(_op, (T(S), T(S)), kind="method"),
        Sample(_op, (T(S, values=TIES),), gradcheck=False, note="ties: evenly_distribute_backward"),
        Sample(_op, (T(S, values=TIES), 1), gradcheck=False, note="ties: the first index takes the gradient"),
        Sample(_op, (T(S, values=TIES), 0), gradcheck=False),
        Sample(_op, (T(S, dtype="int64", low=-5, high=5),), grad=False),
        Sample(_op, (T(S, dtype="int64", low=-5, high=5), 1), grad=False),
        Sample(
            _op, (T((3,), values=(1.0, math.nan, 3.0)), 0), gradcheck=False, gradgrad=False, note="NaN wins"
        ),
    )

# ----- var / std -----
for _op in ("var", "std"):
    add(
        Sample(_op, (T(S),)),
        Sample(_op, (T(S), 1)),
        Sample(_op, (T(S), -1), dict(keepdim=True)),
        Sample(_op, (T(S),), dict(dim=[0, 1], unbiased=False)),
        Sample(_op, (T(S),), dict(dim=0, correction=0)),
        Sample(_op, (T(S),), dict(dim=1, correction=2, keepdim=True)),
        Sample(_op, (T(S), False)),
        Sample(_op, (T((2, 3, 2)), (0, 2), True, True)),
        Sample(_op, (T((2, 3, 2)),), dict(dim=1), kind="method"),
        Sample(_op, (T((5,)),), dict(correction=0)),
    )

add(
    Sample(
        "std",
        (T(S, values=((1.0, 1.0, 1.0, 1.0), (2.0, -1.0, 0.5, 0.0), (3.0, 3.0, 3.0, 3.0))), 1),
        gradcheck=False,
        note="constant rows: masked_fill(result == 0, 0)",
    ),
    Sample("var", (T((2, 1)), 1), gradcheck=False, note="no degrees of freedom: nan"),
    Sample("var", (T(()), 0), dict(correction=0)),
    Sample("std", (T((2, 0)), 1), gradcheck=False),
    Sample("var", (T((2, 3)),), dict(dim=1, correction=3), gradcheck=False, note="2 / 0 = inf"),
)

# ----- norm / linalg.vector_norm -----
add(
    Sample("norm", (T(S),)),
    Sample("norm", (T(S), 1)),
    Sample("norm", (T(S), inf)),
    Sample("norm", (T(S), -inf)),
    Sample("norm", (T(S), 3)),
    Sample("norm", (T(S), 0.5)),
    Sample("norm", (T(S), 1.5)),
    Sample("norm", (T(S), "fro")),
    Sample("norm", (T(S),), dict(dim=1)),
    Sample("norm", (T(S),), dict(p=2, dim=-1, keepdim=True)),
    Sample("norm", (T((2, 3, 2)),), dict(p="fro", dim=(0, 2))),
    Sample("norm", (T((2, 3, 2)),), dict(p=1, dim=(1,))),
    Sample("norm", (T((2, 3, 2)),), dict(p=inf, dim=2, keepdim=True)),
    Sample("norm", (T(S),), dict(p=3, dim=0), kind="method"),
    Sample("norm", (T(S),), kind="method"),
    Sample("norm", (T(()),)),
    Sample("norm", (T(S),), dict(dtype="float64")),
    Sample(
        "norm",
        (T(S, values=((0.0,) * 4, (1.0, -2.0, 0.5, 0.0), (0.0,) * 4)),),
        dict(dim=1),
        gradcheck=False,
        note="zero rows: masked_fill(norm == 0, 0)",
    ),
    Sample("linalg.vector_norm", (T(S),)),
    Sample("linalg.vector_norm", (T(S),), dict(ord=inf, dim=1)),
    Sample("linalg.vector_norm", (T(S),), dict(ord=1.5, dim=(0, 1), keepdim=True)),
    Sample("linalg.vector_norm", (T(S), 4, -1)),
    Sample("linalg.vector_norm", (T(S),), dict(ord=0), gradcheck=False, note="ord 0: no gradient"),
    Sample("linalg.vector_norm", (T(S),), dict(dtype="float64")),
)

# ----- logsumexp -----
add(
    Sample("logsumexp", (T(S), 1)),
    Sample("logsumexp", (T(S), -1), dict(keepdim=True)),
    Sample("logsumexp", (T((2, 3, 2)), (0, 2))),
    Sample("logsumexp", (T((2, 3, 2)), 1), kind="method"),
    Sample("logsumexp", (T(()), 0)),
    Sample("logsumexp", (T(S, low=20, high=40), 0), note="large values: the max is subtracted first"),
    Sample("logsumexp", (T(S, dtype="int64", low=-3, high=3), 1), grad=False),
    Sample("logsumexp", (T((2, 2), values=((-inf, -inf), (1.0, -inf))), 1), grad=False),
)

# ----- cumsum / cumprod -----
add(
    Sample("prod", (T((2, 0)), 1)),
    Sample("logsumexp", (T((2, 0)), 1)),
    Sample("cumsum", (T(S), 0)),
    Sample("cumsum", (T(S), -1)),
    Sample("cumsum", (T((2, 3, 2)), 1), kind="method"),
    Sample("cumsum", (T(()), 0)),
    Sample("cumsum", (T((1, 4)), 0)),
    Sample("cumsum", (T(S), 1), dict(dtype="float64")),
    Sample("cumsum", (T(S, dtype="int64", low=-3, high=3), 1), grad=False),
    Sample("cumsum", (T(S, dtype="bool"), 0), grad=False),
    Sample("cumprod", (T(S, **NZ), 1)),
    Sample("cumprod", (T(S, **NZ), 0)),
    Sample("cumprod", (T((2, 3, 2), **NZ), -2), kind="method"),
    Sample("cumprod", (T(()), 0)),
    Sample("cumprod", (T(S, values=ZERO1), 1), note="zeros: O(n) backward; O(n^2) under create_graph"),
    Sample("cumprod", (T(S, values=ZERO1), 0)),
    Sample("cumprod", (T(S, values=ZERO2), 1)),
    Sample("cumprod", (T(S, values=ZERO2), 0)),
    Sample("cumprod", (T(S, **NZ), 1), dict(dtype="float64")),
    Sample("cumprod", (T(S, dtype="int64", low=-3, high=3), 0), grad=False),
)

# ----- argmax / argmin -----
for _op in ("argmax", "argmin"):
    add(
        Sample(_op, (T(S),), grad=False),
        Sample(_op, (T(S), 1), grad=False),
        Sample(_op, (T(S),), dict(dim=-2, keepdim=True), grad=False),
        Sample(_op, (T(S),), dict(keepdim=True), grad=False),
        Sample(_op, (T(S, values=TIES), 1), grad=False, note="ties: first index"),
        Sample(_op, (T(()),), grad=False),
        Sample(_op, (T(S, dtype="int64", low=-5, high=5), 0), grad=False, kind="method"),
    )

# ----- errors -----
err(
    ErrorSample("prod", (T(S), 2)),
    ErrorSample("prod", (T(S), (0, 1))),
    ErrorSample("amax", (T((0, 3)),)),
    ErrorSample("amax", (T((0, 3)), 0)),
    ErrorSample("amin", (T(S), 2)),
    ErrorSample("amax", (T(S), (0, 0))),
    ErrorSample("max", (T((0, 3)),)),
    ErrorSample("max", (T((0, 3)), 0)),
    ErrorSample("min", (T((0, 3)),)),
    ErrorSample("max", (T(S), 2)),
    ErrorSample("max", (T(()), 1)),
    ErrorSample("max", (T(S), T((5,)))),
    ErrorSample("argmax", (T((0, 3)),)),
    ErrorSample("argmin", (T((0, 3)), 0)),
    ErrorSample("argmax", (T(S, dtype="bool"),)),
    ErrorSample("var", (T(S, dtype="int64"),)),
    ErrorSample("std", (T(S, dtype="int64"), 1)),
    ErrorSample("var", (T(S), 3)),
    ErrorSample("norm", (T(S, dtype="int64"),)),
    ErrorSample("norm", (T(S), "abc")),
    ErrorSample("norm", (T((2, 3, 2)),), dict(p="fro", dim=(0, 1, 2))),
    ErrorSample("norm", (T(S),), dict(p=2, dim=(0, 0))),
    ErrorSample("linalg.vector_norm", (T((0, 3)),), dict(ord=inf)),
    ErrorSample("linalg.vector_norm", (T((0, 3)),), dict(ord=-1, dim=0)),
    ErrorSample("linalg.vector_norm", (T(S),), dict(dtype="int64")),
    ErrorSample("logsumexp", (T(S), 2)),
    ErrorSample("cumsum", (T(S), 2)),
    ErrorSample("cumprod", (T(()), 1)),
    ErrorSample("prod", (T(S),), dict(dtype="int64")),
    ErrorSample("prod", (T(S), 1), dict(dtype="int64")),
    ErrorSample("cumsum", (T(S), 1), dict(dtype="int64")),
    ErrorSample("cumprod", (T(S), 0), dict(dtype="int32")),
    ErrorSample("prod", (T(S), 3), dict(dtype="int64")),
)
