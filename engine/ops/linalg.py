"""Matrix products: mm, mv, dot, bmm, addmm, outer, and matmul decomposed exactly as torch decomposes it."""
from __future__ import annotations

import numpy as np

from engine.errors import TorchRuntimeError
from engine.ops import shape as S
from engine.ops.registry import defop
from engine.tensor import Tensor


def _same_dtype(name, a, b):
    if a.dtype != b.dtype:
        raise TorchRuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_cname(a)} != {_cname(b)}")


def _cname(a):
    return {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
            "int32": "int", "bool": "bool"}[a.dtype.name]


def _mm(a, b):
    if a.ndim != 2:
        raise TorchRuntimeError(f"self must be a matrix")
    if b.ndim != 2:
        raise TorchRuntimeError(f"mat2 must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise TorchRuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and {b.shape[0]}x{b.shape[1]})"
        )
    _same_dtype("mm", a, b)
    return np.matmul(a, b)


mm_op = defop("mm(Tensor self, Tensor mat2) -> Tensor", _mm,
              self=lambda grad, mat2: grad.mm(mat2.t()),
              mat2=lambda grad, self: self.t().mm(grad))


def _mv(a, v):
    if a.ndim != 2 or v.ndim != 1:
        raise TorchRuntimeError(f"vector + matrix @ vector expected, got 1, {a.ndim}, {v.ndim}")
    if a.shape[1] != v.shape[0]:
        raise TorchRuntimeError(
            f"size mismatch, got input ({a.shape[0]}), mat ({a.shape[0]}x{a.shape[1]}), vec ({v.shape[0]})"
        )
    _same_dtype("mv", a, v)
    return np.matmul(a, v)


mv_op = defop("mv(Tensor self, Tensor vec) -> Tensor", _mv,
              self=lambda grad, vec: grad.unsqueeze(1) * vec.unsqueeze(0) if False else outer(grad, vec),
              vec=lambda grad, self: self.t().mv(grad))


def _dot(a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise TorchRuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.shape[0] != b.shape[0]:
        raise TorchRuntimeError(
            f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to have the same "
            "number of elements, but got {} and {} elements respectively".format(a.shape[0], b.shape[0])
        )
    if a.dtype != b.dtype:
        raise TorchRuntimeError(
            f"dot : expected both vectors to have same dtype, but found {_word(a)} and {_word(b)}"
        )
    return np.dot(a, b)


def _word(a):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
            "bool": "Bool"}[a.dtype.name]


dot_op = defop("dot(Tensor self, Tensor tensor) -> Tensor", _dot,
               self=lambda grad, tensor: grad * tensor,
               tensor=lambda grad, self: grad * self)


def _bmm(a, b):
    if a.ndim != 3:
        raise TorchRuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise TorchRuntimeError("batch2 must be a 3D tensor")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise TorchRuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{a.shape[0]}, {a.shape[2]}] but "
            f"got: [{b.shape[0]}, {b.shape[1]}]."
        )
    _same_dtype("bmm", a, b)
    return np.matmul(a, b)


bmm_op = defop("bmm(Tensor self, Tensor mat2) -> Tensor", _bmm,
               self=lambda grad, mat2: grad.bmm(mat2.transpose(1, 2)),
               mat2=lambda grad, self: self.transpose(1, 2).bmm(grad))


def _addmm(c, a, b, beta=1, alpha=1):
    p = _mm(a, b)
    if alpha != 1:
        p = p * alpha
    return c + p if beta == 1 else c * beta + p


addmm_op = defop(
    "addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor", _addmm,
    self=lambda grad, self_shape, beta: S._sum_to(grad if beta == 1 else grad * beta, self_shape),
    mat1=lambda grad, mat2, alpha: grad.mm(mat2.t()) if alpha == 1 else grad.mm(mat2.t()) * alpha,
    mat2=lambda grad, mat1, alpha: mat1.t().mm(grad) if alpha == 1 else mat1.t().mm(grad) * alpha,
)


def _outer(a, b):
    return np.multiply.outer(a, b)


# ----- Python-facing functions -----


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    return mm_op(input, mat2)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    return mv_op(input, vec)


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    return dot_op(input, tensor)


inner_1d = dot


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    return bmm_op(input, mat2)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    return addmm_op(input, mat1, mat2, beta=beta, alpha=alpha)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    # torch: outer is mul of a column and a row
    return S.unsqueeze(input, 1) * vec2


ger = outer


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """torch's at::matmul, including the graph it records for each rank combination."""
    d1, d2 = input.ndim, other.ndim
    if d1 == 0 or d2 == 0:
        raise TorchRuntimeError(f"both arguments to matmul need to be at least 1D, but they are {d1}D and {d2}D")
    if d1 == 1 and d2 == 1:
        return dot_op(input, other)
    if d1 == 2 and d2 == 1:
        return mv_op(input, other)
    if d1 == 1 and d2 == 2:
        return S.squeeze_inplace_dim(mm_op(S.unsqueeze(input, 0), other), dim=0)
    if d1 == 2 and d2 == 2:
        return mm_op(input, other)
    if d1 >= 3 and d2 in (1, 2):
        # fold the batch into the rows: one mm, then _unsafe_view back
        t2 = S.unsqueeze(other, -1) if d2 == 1 else other
        sizes = tuple(input.shape)
        out_shape = sizes[:-1] + ((t2.shape[-1],) if d2 == 2 else ())
        if sizes[-1] != t2.shape[0]:
            raise TorchRuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({int(np.prod(sizes[:-1]))}x{sizes[-1]} and "
                f"{t2.shape[0]}x{t2.shape[1]})"
            )
        folded = S.reshape(input, (-1, sizes[-1]))
        out = mm_op(folded, t2)
        return S.unsafe_view(out, size=out_shape)
    if d1 in (1, 2) and d2 >= 3 and False:
        pass
    # general batched case: broadcast the batch dims, expand, reshape to 3-D, bmm, _unsafe_view
    t1 = S.unsqueeze(input, 0) if d1 == 1 else input
    t2 = S.unsqueeze(other, -1) if d2 == 1 else other
    n, m1 = t1.shape[-2], t1.shape[-1]
    m2, p = t2.shape[-2], t2.shape[-1]
    from engine.ops._util import broadcast_shapes  # noqa: PLC0415

    batch1, batch2 = tuple(t1.shape[:-2]), tuple(t2.shape[:-2])
    batch = broadcast_shapes(batch1, batch2)
    if m1 != m2:
        raise TorchRuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{int(np.prod(batch))}, {m1}] but "
            f"got: [{int(np.prod(batch))}, {m2}]."
        )
    bn = int(np.prod(batch)) if batch else 1
    e1 = t1 if batch1 + (n, m1) == batch + (n, m1) else S.expand(t1, batch + (n, m1))
    e2 = t2 if batch2 + (m2, p) == batch + (m2, p) else S.expand(t2, batch + (m2, p))
    r1 = S.reshape(e1, (bn, n, m1))
    r2 = S.reshape(e2, (bn, m2, p))
    out = bmm_op(r1, r2)
    out_shape = batch + ((n,) if d1 > 1 else ()) + ((p,) if d2 > 1 else ())
    return S.unsafe_view(out, size=out_shape)


from engine.ops.registry import entry  # noqa: E402

CATALOG = [
    entry("matmul", matmul, "Matrix product with torch's rank rules (dot, mv, mm, batched bmm).", dot_op, mv_op,
          mm_op, bmm_op, unsafe_view_op := S.unsafe_view),
    entry("mm", mm, "Matrix @ matrix.", mm_op),
    entry("mv", mv, "Matrix @ vector.", mv_op),
    entry("dot", dot, "Dot product of two 1-D tensors.", dot_op),
    entry("bmm", bmm, "Batched matrix product of 3-D tensors.", bmm_op),
    entry("addmm", addmm, "beta * input + alpha * (mat1 @ mat2).", addmm_op),
    entry("outer", outer, "Outer product of two vectors.", grad_fns=("MulBackward0",)),
]
