"""Samples for the core families: sum/mean (reduction_sum.py), the view/shape ops (shape.py) and the matrix
products (linalg.py), including every rank combination of matmul and the graphs torch records for them."""
from __future__ import annotations

from tests.engine.opinfo import ErrorSample, Sample, T

SAMPLES: list = []
ERRORS: list = []


def add(*items):
    SAMPLES.extend(items)


# ----- sum / mean -----

for _op in ("sum", "mean"):
    add(
        Sample(_op, (T((3, 4)),)),
        Sample(_op, (T(()),)),
        Sample(_op, (T((2, 3, 4)),), kind="method"),
        Sample(_op, (T((2, 3, 4)), 1)),
        Sample(_op, (T((2, 3, 4)), -1)),
        Sample(_op, (T((2, 3, 4)), 0), {"keepdim": True}),
        Sample(_op, (T((2, 3, 4)), -2), {"keepdim": True}, kind="method"),
        Sample(_op, (T((2, 3, 4)), (0, 2))),
        Sample(_op, (T((2, 3, 4)), [-1, 0]), {"keepdim": True}),
        Sample(_op, (T((2, 3, 4)), [])),
        Sample(_op, (T((2, 3, 4)),), {"dim": 1}),
        Sample(_op, (T((2, 3, 4)),), {"dim": None, "keepdim": True}),
        Sample(_op, (T(()), 0)),
        Sample(_op, (T(()), -1), {"keepdim": True}),
        Sample(_op, (T((0, 3)),), gradcheck=False),
        Sample(_op, (T((0, 3)), 0)),
        Sample(_op, (T((3, 4)),), {"dtype": "float64"}),
        Sample(_op, (T((3, 4)), 1), {"dtype": "float64"}),
        Sample(_op, (T((3, 4), dtype="int64"),), {"dtype": "float32"}, grad=False),
        Sample(_op, (T((3, 4), dtype="float32"),), {"dtype": "float64"}),
    )
add(
    Sample("sum", (T((3, 4), dtype="int64"),), grad=False),
    Sample("sum", (T((3, 4), dtype="int32"), 1), grad=False),
    Sample("sum", (T((3, 4), dtype="bool"),), grad=False),
    Sample("sum", (T((3, 4), dtype="bool"), 0), {"keepdim": True}, grad=False),
    Sample("sum", (T((3, 4), requires_grad=False),), {"dtype": "int64"}, grad=False),
    Sample("sum", (T((3, 4), dtype="float16"),), grad=False, rtol=1e-3, atol=1e-3),
    Sample("mean", (T((3, 4), dtype="float16"), 1), grad=False, rtol=1e-3, atol=1e-3),
    Sample("mean", (T((3, 4), dtype="int64"),), {"dtype": "float64"}, grad=False),
)

# ----- view / reshape / flatten -----

add(
    Sample("view", (T((2, 6)), 3, 4), kind="method"),
    Sample("view", (T((2, 6)), (4, 3)), kind="method"),
    Sample("view", (T((2, 6)), [-1]), kind="method"),
    Sample("view", (T((2, 3, 4)), -1, 4), kind="method"),
    Sample("view", (T(()), 1), kind="method"),
    Sample("view", (T((1, 1)), []), kind="method"),
    Sample("view", (T((0, 3)), 3, 0), kind="method", gradcheck=False),
    Sample("view", (T((2, 6), dtype="int64"), 12), kind="method", grad=False),
    Sample("view_as", (T((2, 6)), T((3, 4), requires_grad=False)), kind="method"),
    Sample("reshape", (T((2, 6)), (3, 4))),
    Sample("reshape", (T((2, 6)), (-1,))),
    Sample("reshape", (T((2, 3, 4)), [4, -1])),
    Sample("reshape", (T(()), (1, 1))),
    Sample("reshape", (T((1, 1)), ())),
    Sample("reshape", (T((2, 6)), 3, 4), kind="method"),
    Sample("reshape", (T((2, 6)), (12,)), kind="method"),
    Sample("reshape", (T((2, 6)), -1), kind="method"),
    Sample("reshape_as", (T((2, 6)), T((4, 3), requires_grad=False)), kind="method"),
    Sample("flatten", (T((2, 3, 4)),)),
    Sample("flatten", (T((2, 3, 4)), 1)),
    Sample("flatten", (T((2, 3, 4)), 0, 1)),
    Sample("flatten", (T((2, 3, 4, 5)), 1, -2)),
    Sample("flatten", (T((2, 3, 4)), -1)),
    Sample("flatten", (T((2, 3, 4)),), {"start_dim": 1, "end_dim": 2}, kind="method"),
    Sample("flatten", (T(()),)),
    Sample("flatten", (T((5,)),)),
    Sample("flatten", (T((2, 0, 3)),), gradcheck=False),
)

# ----- expand -----

add(
    Sample("expand", (T((3, 1)), 3, 4), kind="method"),
    Sample("expand", (T((3, 1)), (2, 3, 5)), kind="method"),
    Sample("expand", (T((3, 1)), [-1, 4]), kind="method"),
    Sample("expand", (T((3, 1)), 2, -1, 4), kind="method"),
    Sample("expand", (T(()), 2, 3), kind="method"),
    Sample("expand", (T((1,)), 5), kind="method"),
    Sample("expand", (T((3, 4)), 3, 4), kind="method"),
    Sample("expand", (T((1, 4)), 0, 4), kind="method", gradcheck=False),
    Sample("expand", (T((3, 1), dtype="int64"), 3, 4), kind="method", grad=False),
    Sample("expand_as", (T((1, 4)), T((3, 4), requires_grad=False)), kind="method"),
    Sample("expand_as", (T(()), T((2, 2), requires_grad=False)), kind="method"),
)

# ----- squeeze / unsqueeze -----

add(
    Sample("squeeze", (T((1, 3, 1, 4)),)),
    Sample("squeeze", (T((1, 3, 1, 4)), 0)),
    Sample("squeeze", (T((1, 3, 1, 4)), -2)),
    Sample("squeeze", (T((1, 3, 1, 4)), 1)),  # not size 1: unchanged, still SqueezeBackward1
    Sample("squeeze", (T((1, 3, 1, 4)), (0, 2))),
    Sample("squeeze", (T((1, 3, 1, 4)), [0, 1, -2])),
    Sample("squeeze", (T((1, 3, 1, 4)),), {"dim": 2}, kind="method"),
    Sample("squeeze", (T((1, 3, 1, 4)),), kind="method"),
    Sample("squeeze", (T(()),)),
    Sample("squeeze", (T(()), 0)),
    Sample("squeeze", (T(()), -1)),
    Sample("squeeze", (T((1,)),)),
    Sample("squeeze", (T((1, 1)), ())),
    Sample("unsqueeze", (T((3, 4)), 0)),
    Sample("unsqueeze", (T((3, 4)), 2)),
    Sample("unsqueeze", (T((3, 4)), -1)),
    Sample("unsqueeze", (T((3, 4)), -3)),
    Sample("unsqueeze", (T(()), 0)),
    Sample("unsqueeze", (T(()), -1)),
    Sample("unsqueeze", (T((3, 4)), 1), kind="method"),
    Sample("unsqueeze", (T((3,), dtype="bool"), 0), grad=False),
)

# ----- transpose / t / permute / T / mT -----

for _op in ("transpose", "swapaxes", "swapdims"):
    add(
        Sample(_op, (T((3, 4)), 0, 1)),
        Sample(_op, (T((2, 3, 4)), 0, -1)),
        Sample(_op, (T((2, 3, 4)), 1, 1)),
        Sample(_op, (T((2, 3, 4)), -1, -2), kind="method"),
    )
add(
    Sample("transpose", (T(()), 0, -1)),
    Sample("transpose", (T((5,)), 0, -1)),
    Sample("t", (T((3, 4)),)),
    Sample("t", (T((4,)),)),
    Sample("t", (T(()),)),
    Sample("t", (T((3, 4)),), kind="method"),
    Sample("t", (T((3, 4), dtype="int64"),), grad=False),
    Sample("permute", (T((2, 3, 4)), (2, 0, 1))),
    Sample("permute", (T((2, 3, 4)), [-1, 0, -2])),
    Sample("permute", (T((2, 3, 4)), 1, 2, 0), kind="method"),
    Sample("permute", (T((2, 3, 4)), (0, 1, 2)), kind="method"),
    Sample("permute", (T((2, 3, 4)), [2, 1, 0]), kind="method"),
    Sample("permute", (T(()), ())),
    Sample("permute", (T((3,)), (0,))),
    Sample("T", (T((3, 4)),), kind="property"),
    Sample("T", (T((2, 3, 4)),), kind="property"),
    Sample("T", (T((4,)),), kind="property"),
    Sample("T", (T(()),), kind="property"),
    Sample("mT", (T((3, 4)),), kind="property"),
    Sample("mT", (T((2, 3, 4)),), kind="property"),
    Sample("mT", (T((2, 1, 3, 4)),), kind="property"),
    Sample("mT", (T(()),), kind="property"),  # torch: a warning, and the tensor itself
)

# ----- matmul: every rank combination, with batch broadcasting -----

MATMUL_SHAPES = [
    ((4,), (4,)),  # 1-1: dot
    ((3, 4), (4,)),  # 2-1: mv
    ((4,), (4, 5)),  # 1-2: unsqueeze, mm, squeeze_
    ((3, 4), (4, 5)),  # 2-2: mm
    ((2, 3, 4), (4, 5)),  # 3-2: fold into mm
    ((2, 3, 4), (4,)),  # 3-1: fold into mm
    ((3, 4), (2, 4, 5)),  # 2-3: bmm with an expanded left operand
    ((4,), (2, 4, 5)),  # 1-3
    ((2, 3, 4), (2, 4, 5)),  # 3-3: bmm
    ((1, 3, 4), (2, 4, 5)),  # 3-3 broadcasting the batch
    ((2, 1, 3, 4), (5, 4, 2)),  # 4-3 broadcasting
    ((2, 2, 3, 4), (4,)),  # 4-1
    ((4,), (2, 2, 4, 5)),  # 1-4
    ((2, 2, 3, 4), (2, 2, 4, 5)),  # 4-4
    ((1, 3, 4), (4, 5)),  # 3-2 with a batch of 1
    ((2, 0, 4), (4, 5)),  # empty
]
for _a, _b in MATMUL_SHAPES:
    _gc = 0 not in _a
    add(Sample("matmul", (T(_a), T(_b)), gradcheck=_gc))
add(
    Sample("matmul", (T((3, 4)), T((4, 5))), kind="method"),
    Sample("matmul", (T((2, 3, 4)), T((2, 4, 5))), kind="method"),
    Sample("matmul", (T((3, 4)), T((4, 5), requires_grad=False))),
    Sample("matmul", (T((3, 4), requires_grad=False), T((4, 5)))),
    Sample("matmul", (T((2, 3, 4), requires_grad=False), T((4, 5)))),
    Sample("matmul", (T((3, 4)), T((2, 4, 5), requires_grad=False))),
    Sample("matmul", (T((3, 4), dtype="int64"), T((4, 5), dtype="int64")), grad=False),
    Sample("matmul", (T((4,), dtype="int64"), T((4,), dtype="int64")), grad=False),
    Sample("__matmul__", (T((3, 4)), T((4,))), kind="method"),
    Sample("__matmul__", (T((4,)), T((4,))), kind="method"),
    Sample("__rmatmul__", (T((4, 5)), T((4,))), kind="method"),
)

# ----- mm, mv, dot, bmm, addmm, outer -----

add(
    Sample("mm", (T((3, 4)), T((4, 5)))),
    Sample("mm", (T((1, 4)), T((4, 1)))),
    Sample("mm", (T((3, 4)), T((4, 5), requires_grad=False))),
    Sample("mm", (T((3, 4)), T((4, 5))), kind="method"),
    Sample("mm", (T((0, 4)), T((4, 5))), gradcheck=False),
    Sample("mm", (T((3, 4), dtype="int64"), T((4, 2), dtype="int64")), grad=False),
    Sample("mv", (T((3, 4)), T((4,)))),
    Sample("mv", (T((3, 4)), T((4,), requires_grad=False))),
    Sample("mv", (T((3, 4), requires_grad=False), T((4,)))),
    Sample("mv", (T((3, 4)), T((4,))), kind="method"),
    Sample("dot", (T((5,)), T((5,)))),
    Sample("dot", (T((5,)), T((5,), requires_grad=False))),
    Sample("dot", (T((5,)), T((5,))), kind="method"),
    Sample("dot", (T((5,), dtype="int64"), T((5,), dtype="int64")), grad=False),
    Sample("dot", (T((0,)), T((0,))), gradcheck=False),
    Sample("bmm", (T((2, 3, 4)), T((2, 4, 5)))),
    Sample("bmm", (T((1, 3, 4)), T((1, 4, 2)))),
    Sample("bmm", (T((2, 3, 4)), T((2, 4, 5), requires_grad=False))),
    Sample("bmm", (T((2, 3, 4)), T((2, 4, 5))), kind="method"),
    Sample("addmm", (T((3, 5)), T((3, 4)), T((4, 5)))),
    Sample("addmm", (T((5,)), T((3, 4)), T((4, 5)))),
    Sample("addmm", (T((1, 5)), T((3, 4)), T((4, 5)))),
    Sample("addmm", (T(()), T((3, 4)), T((4, 5)))),
    Sample("addmm", (T((3, 5)), T((3, 4)), T((4, 5))), {"beta": 0.5, "alpha": 2.0}),
    Sample("addmm", (T((3, 5)), T((3, 4)), T((4, 5))), {"beta": 0}),
    Sample("addmm", (T((3, 5)), T((3, 4)), T((4, 5))), {"alpha": -1}),
    Sample("addmm", (T((5,), requires_grad=False), T((3, 4)), T((4, 5)))),
    Sample("addmm", (T((3, 5)), T((3, 4), requires_grad=False), T((4, 5), requires_grad=False))),
    Sample("addmm", (T((3, 5)), T((3, 4)), T((4, 5))), {"beta": 2}, kind="method"),
    Sample("outer", (T((3,)), T((4,)))),
    Sample("outer", (T((3,)), T((4,), requires_grad=False))),
    Sample("outer", (T((3,)), T((4,))), kind="method"),
    Sample("outer", (T((3,), dtype="int64"), T((2,), dtype="int64")), grad=False),
    Sample("ger", (T((3,)), T((4,)))),
)

# ----- errors -----

ERRORS += [
    # several dims mismatch: torch names the last one (at::infer_size compares from the end)
    ErrorSample("add", (T((2, 3)), T((4, 5)))),
    ErrorSample("matmul", (T((2, 1, 3, 4)), T((5, 2, 4, 2)))),
    # reductions
    ErrorSample("mean", (T((3, 4), dtype="int64"),)),
    ErrorSample("mean", (T((3, 4), dtype="int64"), 0)),
    ErrorSample("mean", (T((3, 4), dtype="bool"),)),
    ErrorSample("sum", (T((3, 4)), 2)),
    ErrorSample("sum", (T((3, 4)), -3)),
    ErrorSample("mean", (T((3, 4)), (0, 0))),
    ErrorSample("sum", (T((3, 4)), [1, -1])),
    ErrorSample("sum", (T(()), 1)),
    ErrorSample("sum", (T((3, 4)),), {"dtype": "int64"}),  # a grad-requiring input: autograd refuses Long
    ErrorSample("mean", (T((3, 4)),), {"dtype": "int64"}),
    # view / reshape
    ErrorSample("view", (T((2, 6)), 5, 3), kind="method"),
    ErrorSample("view", (T((2, 6)), -1, -1), kind="method"),
    ErrorSample("view", (T((2, 6)), 5, -1), kind="method"),
    ErrorSample("view", (T((2, 6)), -2, 6), kind="method"),
    ErrorSample("reshape", (T((2, 6)), (3, -2))),
    ErrorSample("view", (T((0, 3)), -1, 0), kind="method"),
    ErrorSample("reshape", (T((2, 6)), (5, 2))),
    ErrorSample("reshape", (T((2, 6)), (-1, 5))),
    ErrorSample("flatten", (T((2, 3, 4)), 2, 1)),
    ErrorSample("flatten", (T((2, 3, 4)), 3)),
    # expand
    ErrorSample("expand", (T((3, 2)), 3, 4), kind="method"),
    ErrorSample("expand", (T((3, 1)), 4), kind="method"),
    ErrorSample("expand", (T((3, 1)), -1, 3, 4), kind="method"),
    ErrorSample("expand", (T((2, 3, 1)), 2, 4, 5), kind="method"),
    # squeeze / unsqueeze / transpose / permute / t / mT
    ErrorSample("squeeze", (T((1, 3)), 2)),
    ErrorSample("squeeze", (T((1, 3)), (0, 0))),
    ErrorSample("unsqueeze", (T((3, 4)), 3)),
    ErrorSample("unsqueeze", (T((3, 4)), -4)),
    ErrorSample("transpose", (T((3, 4)), 0, 2)),
    ErrorSample("transpose", (T((3, 4)), -3, 0)),
    ErrorSample("permute", (T((2, 3, 4)), (0, 1))),
    ErrorSample("permute", (T((2, 3, 4)), (0, 1, 1))),
    ErrorSample("permute", (T((2, 3, 4)), (0, 1, 3))),
    ErrorSample("t", (T((2, 3, 4)),)),
    ErrorSample("mT", (T((3,)),), kind="property"),
    # matrix products
    ErrorSample("matmul", (T(()), T((3,)))),
    ErrorSample("matmul", (T((3,)), T(()))),
    ErrorSample("matmul", (T((4,)), T((5,)))),
    ErrorSample("matmul", (T((3, 4)), T((5,)))),
    ErrorSample("matmul", (T((4,)), T((5, 3)))),
    ErrorSample("matmul", (T((3, 4)), T((5, 6)))),
    ErrorSample("matmul", (T((2, 3, 4)), T((5, 6)))),
    ErrorSample("matmul", (T((2, 3, 4)), T((5,)))),
    ErrorSample("matmul", (T((2, 3, 4)), T((2, 5, 6)))),
    ErrorSample("matmul", (T((2, 3, 4)), T((3, 4, 5)))),
    ErrorSample("matmul", (T((3, 4)), T((4, 5), dtype="float64"))),
    ErrorSample("mm", (T((3, 4)), T((5, 6)))),
    ErrorSample("mm", (T((3,)), T((3, 4)))),
    ErrorSample("mm", (T((3, 4)), T((4,)))),
    ErrorSample("mm", (T((3, 4)), T((4, 5), dtype="float64"))),
    ErrorSample("mv", (T((3, 4)), T((5,)))),
    ErrorSample("mv", (T((3, 4)), T((4, 1)))),
    ErrorSample("dot", (T((3,)), T((4,)))),
    ErrorSample("dot", (T((3, 1)), T((3,)))),
    ErrorSample("dot", (T((3,)), T((3,), dtype="float64"))),
    ErrorSample("bmm", (T((2, 3, 4)), T((3, 4, 5)))),
    ErrorSample("bmm", (T((2, 3, 4)), T((2, 5, 5)))),
    ErrorSample("bmm", (T((3, 4)), T((2, 4, 5)))),
    ErrorSample("addmm", (T((3, 6)), T((3, 4)), T((4, 5)))),
    ErrorSample("addmm", (T((3, 5)), T((3, 4)), T((3, 5)))),
    ErrorSample("outer", (T((3, 1)), T((4,)))),
]
