"""Samples for engine/ops/linalg.py: einsum (torch's permute / diagonal / sum / bmm decomposition), the matmul
decompositions that depend on which operand requires grad or on strides (folded mm / mv, the transposed fold,
batch-1 squeeze, expand + _reshape_alias / clone), outer, and the error messages of mm / mv / dot / bmm /
addmm.
The plain mm / mv / dot / bmm / addmm / matmul samples live in core.py."""

from __future__ import annotations

from tests.engine.opinfo import ErrorSample, Sample, T

SAMPLES: list = []
ERRORS: list = []


def add(*items):
    SAMPLES.extend(items)


def err(*items):
    ERRORS.extend(items)


def C(*shape):
    """A constant operand (requires_grad=False): at::matmul's should_fold looks at requires_grad."""
    return T(shape, requires_grad=False)


# ----- einsum -----
EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->j", [(3, 3, 2)]),
    ("ijij->ij", [(2, 3, 2, 3)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("...ij,...jk", [(2, 2, 3), (2, 3, 4)]),
    ("b...i,bi->b...", [(2, 3, 4), (2, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("ij,j->i", [(2, 3), (3,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("i,i,i->", [(3,), (3,), (3,)]),
    ("ij,jk->", [(2, 3), (3, 4)]),
    ("ik,jk->ij", [(2, 1), (3, 4)]),
    ("ij,kl->ijkl", [(2, 3), (1, 2)]),
    ("ij,ji->", [(3, 3), (3, 3)]),
    ("iI->I", [(2, 3)]),
    (" i j , j k -> i k ", [(2, 3), (3, 4)]),
]
for _eq, _shapes in EINSUM:
    add(Sample("einsum", (_eq, *(T(s) for s in _shapes))))
add(
    Sample("einsum", ("ij,jk->ik", C(2, 3), T((3, 4)))),
    Sample(
        "einsum",
        ("ij,jk->ik", T((2, 3), dtype="int64", low=-2, high=3), T((3, 4), dtype="int64")),
        grad=False,
    ),
)

# ----- matmul decompositions that depend on requires_grad and strides -----
add(
    Sample("matmul", (T((5, 2, 3)), C(3, 4)), note="folded mm, constant rhs"),
    Sample("matmul", (C(5, 2, 3), T((3, 4)))),
    Sample(
        "matmul", (T((2, 3)), T((5, 3, 4))), note="transposed fold: CloneBackward0(TransposeBackward0(...))"
    ),
    Sample("matmul", (T((2, 3)), C(5, 3, 4))),
    Sample("matmul", (C(2, 3), T((5, 3, 4))), note="no fold: expand + bmm"),
    Sample("matmul", (T((3,)), T((5, 3, 4))), note="fold through mv"),
    Sample("matmul", (C(3), T((5, 3, 4)))),
    Sample("matmul", (T((5, 2, 3)), T((3,)))),
    Sample("matmul", (T((2, 5, 2, 3)), T((3,)))),
    Sample("matmul", (T((1, 2, 3)), T((5, 3, 4))), note="batch 1 squeezed (SqueezeBackward1)"),
    Sample("matmul", (T((5, 2, 3)), T((1, 3, 4)))),
    Sample("matmul", (T((7, 1, 2, 3)), T((5, 3, 4))), note="expanded batch: clone + _unsafe_view"),
    Sample("matmul", (T((1, 1, 2, 3)), T((5, 1, 3, 4))), note="expanded batch: _reshape_alias"),
    Sample("matmul", (T((5, 2, 3)), T((2, 5, 3, 1)))),
    Sample("matmul", (T((2, 3)), T((2, 2, 3, 4)))),
    Sample("matmul", (T((3,)), T((2, 2, 3, 4)))),
    Sample("matmul", (T((0, 2, 3)), T((3, 4)))),
)

# ----- outer -----
add(
    Sample("outer", (T((3,)), T((2,)))),
    Sample("outer", (T((3,)), T((2,))), kind="method"),
    Sample("ger", (T((3,)), T((4,)))),
    Sample("outer", (T((3,)), T((2,), dtype="int64", low=-2, high=3))),
)

# ----- errors -----
err(
    ErrorSample("mm", (T((3,)), T((3, 4)))),
    ErrorSample("mm", (T((2, 3)), T((3,)))),
    ErrorSample("mm", (T((2, 3)), T((4, 5)))),
    ErrorSample("mm", (T((2, 3)), T((3, 5), dtype="float64"))),
    ErrorSample("mm", (T((2, 3), dtype="int64"), T((3, 5)))),
    ErrorSample("mv", (T((2, 3)), T((4,)))),
    ErrorSample("mv", (T((3,)), T((3,)))),
    ErrorSample("mv", (T((2, 3)), T((3,), dtype="float64"))),
    ErrorSample("mv", (T((2, 3), dtype="int64"), T((3,)))),
    ErrorSample("dot", (T((3,)), T((4,)))),
    ErrorSample("dot", (T((3, 1)), T((3,)))),
    ErrorSample("dot", (T((3,)), T((3,), dtype="float64"))),
    ErrorSample("bmm", (T((2, 3)), T((2, 3, 4)))),
    ErrorSample("bmm", (T((2, 2, 3)), T((2, 3)))),
    ErrorSample("bmm", (T((2, 2, 3)), T((3, 3, 4)))),
    ErrorSample("bmm", (T((2, 2, 3)), T((2, 4, 4)))),
    ErrorSample("bmm", (T((2, 2, 3)), T((2, 3, 4), dtype="float64"))),
    ErrorSample("addmm", (T((2, 4)), T((2, 3)), T((4, 4)))),
    ErrorSample("addmm", (T((3, 4)), T((2, 3)), T((3, 4)))),
    ErrorSample("addmm", (T((2, 4)), T((3,)), T((3, 4)))),
    ErrorSample("addmm", (T((2, 4)), T((2, 3)), T((3,)))),
    ErrorSample("addmm", (T((2, 4), dtype="float64"), T((2, 3)), T((3, 4)))),
    ErrorSample("addmm", (T((2, 4)), T((2, 3), dtype="float64"), T((3, 4)))),
    ErrorSample("addmm", (T((2, 4)), T((2, 3)), T((3, 4), dtype="float64"))),
    ErrorSample("outer", (T((2, 2)), T((3,)))),
    ErrorSample("outer", (T((3,)), T((2, 2)))),
    ErrorSample("matmul", (T(()), T((3,)))),
    ErrorSample("matmul", (T((3,)), T((4,)))),
    ErrorSample("matmul", (T((2, 2, 3)), T((4,)))),
    ErrorSample("matmul", (T((2, 2, 3)), T((4, 5)))),
    ErrorSample("matmul", (T((2, 3)), T((2, 4, 5)))),
    ErrorSample("matmul", (T((2, 2, 3)), T((3, 4, 5)))),
    ErrorSample("matmul", (T((2, 2, 3)), T((2, 3, 4), dtype="float64"))),
    ErrorSample("einsum", ("ii->i", T((3, 4)))),
    ErrorSample("einsum", ("i,i->", T((3,)), T((4,)))),
    ErrorSample("einsum", ("ij,jk", T((2, 3)))),
    ErrorSample("einsum", ("ij", T((2, 3)), T((2, 3)))),
    ErrorSample("einsum", ("ij->ij", T((2, 3, 4)))),
    ErrorSample("einsum", ("ij...k->", T((2,)))),
    ErrorSample("einsum", ("ij->k", T((2, 3)))),
    ErrorSample("einsum", ("ij->ii", T((2, 3)))),
    ErrorSample("einsum", ("i1->i", T((2, 3)))),
    ErrorSample("einsum", ("i.j->i", T((2, 3)))),
    ErrorSample("einsum", ("...i..,i", T((2, 3)), T((3,)))),
    ErrorSample("einsum", ("i->..", T((3,)))),
    ErrorSample("einsum", ("...i->......", T((2, 3)))),
    ErrorSample("einsum", ("...i,...i->...", T((2, 3)), T((4, 3)))),
    ErrorSample("einsum", ("ij,jk->ik", T((2, 3)), T((3, 4), dtype="float64"))),
    ErrorSample("einsum", ("ij->",)),
)
