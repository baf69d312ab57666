"""Matrix products: mm, mv, dot, bmm, addmm, outer, matmul and einsum, decomposed exactly as torch decomposes
them (at::matmul's folding and batching, at::einsum's permute / diagonal / sum / bmm pipeline). The family module:
the Python-facing functions and the CATALOG; the entries, outer and matmul are in linalg_products, einsum in
linalg_einsum."""

from __future__ import annotations

# The parts first, in registration order (this module is imported early, through engine/_methods.py: the modules
# linalg_products imports register their entries at that point); the entries and functions, and the private names
# other modules import from here (linalg_more.py: _matmul_np, _dot; autograd/batched.py: _SEQ_MAX_K, _SEQ_MAX_WORK)
# isort: off
from engine.ops.linalg_products import (  # noqa: F401
    _SEQ_MAX_K,
    _SEQ_MAX_WORK,
    _dot,
    _matmul_np,
    addmm_op,
    bmm_op,
    dot_op,
    ger,
    matmul,
    mm_op,
    mv_op,
    outer,
)
from engine.ops.linalg_einsum import einsum
from engine.ops import shape as S
from engine.ops.registry import entry
from engine.tensor import Tensor
# isort: on

# ----- Python-facing functions -----


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    return mm_op(input, mat2)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    return mv_op(input, vec)


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    return dot_op(input, tensor)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    return bmm_op(input, mat2)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    return addmm_op(input, mat1, mat2, beta=beta, alpha=alpha)


CATALOG = [
    entry(
        "matmul",
        matmul,
        "Matrix product with torch's rank rules (dot, mv, mm, folded mm/mv, batched bmm).",
        dot_op,
        mv_op,
        mm_op,
        bmm_op,
        S.unsafe_view,
    ),
    entry("mm", mm, "Matrix @ matrix.", mm_op),
    entry("mv", mv, "Matrix @ vector.", mv_op),
    entry("dot", dot, "Dot product of two 1-D tensors.", dot_op),
    entry("bmm", bmm, "Batched matrix product of 3-D tensors.", bmm_op),
    entry("addmm", addmm, "beta * input + alpha * (mat1 @ mat2).", addmm_op),
    entry("outer", outer, "Outer product of two vectors.", grad_fns=("MulBackward0",)),
    entry("ger", outer, "Alias of outer.", grad_fns=("MulBackward0",)),
    entry(
        "einsum",
        einsum,
        "Einstein summation, decomposed into permute / diagonal / sum / bmm as torch does.",
        bmm_op,
        method=False,
        grad_fns=("ViewBackward0", "PermuteBackward0", "SumBackward1", "MulBackward0"),
    ),
]
