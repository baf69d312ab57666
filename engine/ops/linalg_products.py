"""The matrix products: the entries (mm, mv, dot, bmm, addmm: torch's summation order for small products,
BLAS past a size) with their cost rules and formulas, outer, and matmul with at::matmul's folding and
batching (the entries' formulas call matmul and outer), plus the reshape / contiguous / mT steps the
decompositions here and in linalg_einsum record."""

from __future__ import annotations

import inspect

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchRuntimeError
from engine.ops import pointwise as P
from engine.ops import rules as R
from engine.ops import shape as S
from engine.ops._util import broadcast_shapes
from engine.ops.jvp import batched, tmap, tsum
from engine.ops.registry import defop
from engine.tensor import Tensor

# ----- dtype words in torch's messages -----

_cname = D.cpp_type_name
_word = D.scalar_type_name


# ----- the entries -----

# Exact bits for small products, speed for the rest: the k-order loop costs k NumPy calls, which past a few
# thousand multiply-adds is many times slower than BLAS (the MLP benchmark went 1.6x -> 5.1x torch with k <= 64).
_SEQ_MAX_K = 16
_SEQ_MAX_WORK = 1 << 14  # multiply-adds; past that, NumPy's BLAS


def _matmul_np(a, b, acc=None):
    """a @ b (batched), or acc + a @ b. For small inner sizes the products are added in k order, one rounding
    per step: that is the order torch's CPU kernels (MKL gemm for small k, its own bmm loop) use, so the bits
    agree far more often than with NumPy's BLAS (which fuses and reorders)."""
    k = a.shape[-1]
    if (
        a.dtype.kind == "f"
        and a.dtype.itemsize >= 4
        and 0 < k <= _SEQ_MAX_K
        and a.size * b.shape[-1] <= _SEQ_MAX_WORK
    ):
        # from a +0 accumulator, as BLAS: -0 products sum to +0
        out = (0.0 if acc is None else acc) + a[..., :, 0:1] * b[..., 0:1, :]
        for i in range(1, k):
            out += a[..., :, i : i + 1] * b[..., i : i + 1, :]
        return out
    out = np.matmul(a, b)
    if acc is not None:
        return acc + out
    if out.dtype.kind == "f":
        out += 0.0  # BLAS sums from a +0 accumulator: a sum of -0 products is +0 there
    return out


def _product_cost(out, k, *operands, extra=0):
    """A matrix product with contraction size k. Forward: _matmul_np's product terms (or acc + a @ b) beside
    the output, and NumPy's contiguous copies of strided operands for BLAS. Backward: one product per input,
    each with the same copies, the incoming gradient's own copy, and the sum of a broadcast bias."""
    n = R.numel(out)
    ins = sum(R.numel(R.shape_of(x)) for x in operands)
    return R.Cost(tuple(out), 2.0 * n * max(k, 1), n * (1 + extra) + ins, True, 3 * n + 2 * ins, 4.0 * n * max(k, 1))


def _mm(a, b):
    if a.ndim != 2:
        raise TorchRuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise TorchRuntimeError("mat2 must be a matrix")
    if a.shape[1] != b.shape[0]:
        raise TorchRuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
            f"{b.shape[0]}x{b.shape[1]})"
        )
    if a.dtype != b.dtype:
        raise TorchRuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {_cname(a)} != {_cname(b)}"
        )
    return _matmul_np(a, b)


def _bilinear(op, first, second, batch):
    """The forward formula of a product bilinear in its two tensor inputs (derivatives.yaml's
    `op(self_t, mat2_p) + op(self_p, mat2_t)`); batched, `batch(a, b)` is the product with a batch dim on one side
    (matmul's broadcasting)."""

    def jvp(*args):
        (a, b), (at, bt) = args[:2], args[2:]
        return tsum(tmap(at, lambda t: op(t, b)), tmap(bt, lambda t: op(a, t)))

    jvp.__signature__ = inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                           for n in (first, second, first + "_t", second + "_t")])

    def rule(op_, vals, tangents, out, bsz):
        a, b = vals[0], vals[1]
        at, bt = tangents
        return tsum(tmap(at, lambda t: batch(t, b)), tmap(bt, lambda t: batch(a, t)))

    return batched(jvp, rule)


def _mv_batch(a, v):
    return matmul(a, v) if v.ndim == 1 else matmul(v, S.t(a))  # (B, n, k) @ (k,), or (B, k) @ (k, n)


mm_op = defop(
    "mm(Tensor self, Tensor mat2) -> Tensor",
    _mm,
    rule=lambda self, mat2: _product_cost((self.shape[0], mat2.shape[1]), self.shape[1], self, mat2),
    vjp={"self": lambda grad, mat2: _mm(grad, mat2.T), "mat2": lambda grad, self: _mm(self.T, grad)},
    jvp=_bilinear(lambda a, b: mm_op(a, b), "self", "mat2", lambda a, b: matmul(a, b)),
    self=lambda grad, mat2: grad.mm(mat2.t()),
    mat2=lambda grad, self: self.t().mm(grad),
)


def _mv(a, v):
    if a.ndim != 2 or v.ndim != 1:
        raise TorchRuntimeError(f"vector + matrix @ vector expected, got 1, {a.ndim}, {v.ndim}")
    if a.shape[1] != v.shape[0]:
        raise TorchRuntimeError(
            f"size mismatch, got input ({a.shape[0]}), mat ({a.shape[0]}x{a.shape[1]}), vec ({v.shape[0]})"
        )
    if a.dtype != v.dtype:
        raise TorchRuntimeError(
            f"addmv input tensors must have the same dtype, but got {_word(v)}, {_word(a)}, and {_word(v)}"
        )
    k = v.shape[0]
    if a.dtype.char in "fd" and 0 < k <= _SEQ_MAX_K and a.size <= _SEQ_MAX_WORK:
        # _matmul_np's additions (+0, then each row's products in k order) with k + 1 NumPy calls, not 2k + 1:
        # every product at once, laid out one row per k, then the same in-place adds of contiguous rows (the
        # same loop as there, so a NaN's sign and payload too)
        p = np.multiply(a.T, v[:, None], order="C")
        out = p[0] + 0.0
        for i in range(1, k):
            out += p[i]
        return out
    return _matmul_np(a, v[:, None])[:, 0]


mv_op = defop(
    "mv(Tensor self, Tensor vec) -> Tensor",
    _mv,
    rule=lambda self, vec: _product_cost((self.shape[0],), self.shape[1], self, vec),
    jvp=_bilinear(lambda a, b: mv_op(a, b), "self", "vec", _mv_batch),
    self=lambda grad, vec: outer(grad, vec),
    vec=lambda grad, self: self.t().mv(grad),
)


def _dot(a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise TorchRuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype != b.dtype:
        names = [D.scalar_type_name(D.FROM_NP[x.dtype]) for x in (a, b)]
        raise TorchRuntimeError(f"dot : expected both vectors to have same dtype, but found {names[0]} and {names[1]}")
    if a.shape[0] != b.shape[0]:
        raise TorchRuntimeError(
            f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to have the "
            "same "
            f"number of elements, but got {a.shape[0]} and {b.shape[0]} elements respectively"
        )
    if a.dtype != b.dtype:
        raise TorchRuntimeError(
            f"dot : expected both vectors to have same dtype, but found {_word(a)} and {_word(b)}"
        )
    if a.dtype.char in "fd" and 0 < a.shape[0] <= 3 and type(a) is np.ndarray:
        # torch's sdot/ddot (MKL here) adds up to 3 products in index order, NumPy's BLAS not always (measured,
        # docs/runs/exact.md; longer vectors: MKL's lanes, which neither order matches): _matmul_np's order
        return _matmul_np(a[None, :], b[:, None]).reshape(())
    out = B.xp.asarray(np.dot(a, b))
    return out + 0.0 if out.dtype.kind == "f" else out  # BLAS sums from +0: a sum of -0 products is +0


dot_op = defop(
    "dot(Tensor self, Tensor tensor) -> Tensor",
    _dot,
    rule=lambda self, tensor: _product_cost((), self.shape[0], self, tensor),
    jvp=_bilinear(lambda a, b: dot_op(a, b), "self", "tensor", lambda a, b: (a * b).sum(-1)),
    self=lambda grad, tensor: grad * tensor,
    tensor=lambda grad, self: grad * self,
)


def _bmm(a, b):
    if a.ndim != 3:
        raise TorchRuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise TorchRuntimeError("batch2 must be a 3D tensor")
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise TorchRuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{a.shape[0]}, {a.shape[2]}] "
            "but "
            f"got: [{b.shape[0]}, {b.shape[1]}]."
        )
    if a.dtype != b.dtype:
        raise TorchRuntimeError(f"expected scalar type {_word(a)} but found {_word(b)}")
    return _matmul_np(a, b)


bmm_op = defop(
    "bmm(Tensor self, Tensor mat2) -> Tensor",
    _bmm,
    rule=lambda self, mat2: _product_cost((self.shape[0], self.shape[1], mat2.shape[2]), self.shape[2], self, mat2),
    jvp=_bilinear(lambda a, b: bmm_op(a, b), "self", "mat2", lambda a, b: matmul(a, b)),
    self=lambda grad, mat2: grad.bmm(mat2.transpose(1, 2)),
    mat2=lambda grad, self: self.transpose(1, 2).bmm(grad),
)


def _addmm(c, a, b, beta=1, alpha=1):
    if a.ndim != 2:
        raise TorchRuntimeError(f"mat1 must be a matrix, got {a.ndim}-D tensor")
    if b.ndim != 2:
        raise TorchRuntimeError(f"mat2 must be a matrix, got {b.ndim}-D tensor")
    if c.dtype != b.dtype:
        raise TorchRuntimeError(f"self and mat2 must have the same dtype, but got {_word(c)} and {_word(b)}")
    if a.dtype != b.dtype:
        raise TorchRuntimeError(f"mat1 and mat2 must have the same dtype, but got {_word(a)} and {_word(b)}")
    if a.shape[1] != b.shape[0]:
        raise TorchRuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
            f"{b.shape[0]}x{b.shape[1]})"
        )
    c = S._expand(c, (a.shape[0], b.shape[1]))
    if beta == 1 and alpha == 1:
        if b.ndim == 2 and b.shape[0] > 1 and b.strides[0] == b.itemsize and b.shape[1] > 1:
            # a transposed mat2 (F.linear's weight.t()): MKL's kernel for it sums the products, then adds C
            # (measured: 85% of small draws bit-identical this way, 5% onto C; docs/runs/exact.md)
            return _matmul_np(a, b) + c
        return _matmul_np(a, b, acc=c)  # gemm accumulates onto C
    p = _matmul_np(a, b)
    if alpha != 1:
        p = p * p.dtype.type(alpha)
    if beta == 0:
        return p
    return c * c.dtype.type(beta) + p


addmm_op = defop(
    "addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor",
    _addmm,
    # beta / alpha != 1: the product, its scaled copy and beta * self at once
    rule=lambda self, mat1, mat2: _product_cost((mat1.shape[0], mat2.shape[1]), mat1.shape[1], mat1, mat2, extra=2),
    # the Tensor formulas' operations on the arrays: mm's forward, t() as .T, the operators as written
    vjp={"self": True,
         "mat1": lambda grad, mat2, alpha: _mm(grad, mat2.T) if alpha == 1 else _mm(grad, mat2.T) * alpha,
         "mat2": lambda grad, mat1, alpha: _mm(mat1.T, grad) if alpha == 1 else _mm(mat1.T, grad) * alpha},
    jvp=batched(lambda self_t, mat1_t, mat2_t, mat1, mat2, beta, alpha: _addmm_jvp(
        self_t, mat1_t, mat2_t, mat1, mat2, beta, alpha, mm_op),
        lambda op, vals, tangents, out, bsz: _addmm_jvp(*tangents, vals[1], vals[2], vals[3], vals[4], matmul, True)),
    self=lambda grad, beta: grad if beta == 1 else grad * beta,
    mat1=lambda grad, mat2, alpha: grad.mm(mat2.t()) if alpha == 1 else grad.mm(mat2.t()) * alpha,
    mat2=lambda grad, mat1, alpha: mat1.t().mm(grad) if alpha == 1 else mat1.t().mm(grad) * alpha,
)


def _addmm_jvp(self_t, mat1_t, mat2_t, mat1, mat2, beta, alpha, prod, batch=False):
    """beta * self_t + alpha * (mat1_t @ mat2 + mat1 @ mat2_t) (maybe_multiply: no product by a factor of 1)."""
    if batch and self_t is not None and self_t.ndim < 3:
        self_t = self_t.reshape((self_t.shape[0],) + (1,) * (3 - self_t.ndim) + tuple(self_t.shape[1:]))
    term = tsum(tmap(mat1_t, lambda t: prod(t, mat2)), tmap(mat2_t, lambda t: prod(mat1, t)))
    return tsum(tmap(self_t, lambda t: t if beta == 1 else t * beta),
                tmap(term, lambda t: t if alpha == 1 else t * alpha))


# ----- torch's reshape / contiguous, as the decompositions below record them -----


def _reshape(t, shape):
    return S.reshape(t, shape)


def _contiguous(t):
    return t if t._data.flags.c_contiguous else P.clone(t)


def _mT(t):
    return S.transpose_op(t, dim0=-2, dim1=-1)

# ----- outer and matmul -----


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """torch: input.reshape({n, 1}) * vec2 (MulBackward0 over ViewBackward0)."""
    if input.ndim != 1:
        raise TorchRuntimeError(f"outer: Expected 1-D argument self, but got {input.ndim}-D")
    if vec2.ndim != 1:
        raise TorchRuntimeError(f"outer: Expected 1-D argument vec2, but got {vec2.ndim}-D")
    return P.mul(_reshape(input, (input.shape[0], 1)), vec2)


ger = outer


def _should_fold(t1, t2):
    """at::matmul's should_fold (no out=): fold the batch of the larger operand into mm / mv rows."""
    larger = t1.ndim >= t2.ndim
    dim_big = t1.ndim if larger else t2.ndim
    dim_small = t2.ndim if larger else t1.ndim
    if not (dim_big >= 3 and dim_small <= 2):
        return False
    if (t2 if larger else t1).requires_grad:
        return True
    if t1.ndim == 2:
        return False
    a = t1._data if larger else np.swapaxes(t2._data, -1, -2)
    if a.size == 0:
        return True
    shape, strides = a.shape, a.strides
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(dim_big - 2))


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """torch's at::matmul (_matmul_impl), including the graph it records for each rank combination."""
    t1, t2 = input, other
    d1, d2 = t1.ndim, t2.ndim
    if d1 == 0 or d2 == 0:
        raise TorchRuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {d1}D and {d2}D"
        )
    if d1 == 1 and d2 == 1:
        return dot_op(t1, t2)
    if d1 == 2 and d2 == 1:
        return mv_op(t1, t2)
    if d1 == 1 and d2 == 2:
        return S.squeeze_inplace_dim(mm_op(S.unsqueeze(t1, 0), t2), dim=0)
    if d1 == 2 and d2 == 2:
        return mm_op(t1, t2)
    if _should_fold(t1, t2):
        transpose = d2 > d1
        a = _mT(t2) if transpose else t1
        b = (S.t(t1) if d1 == 2 else t1) if transpose else t2
        sizes = tuple(a.shape)
        out_shape = sizes[:-1]
        folded = int(np.prod(out_shape)) if out_shape else 1
        if b.ndim == 2:
            out_shape = out_shape + (b.shape[1],)
        a_folded = _reshape(a, (folded, sizes[-1]))
        if b.ndim == 2:
            out = S.unsafe_view(mm_op(a_folded, b), size=out_shape)
            return _contiguous(_mT(out)) if transpose else out
        return S.unsafe_view(mv_op(a_folded, b), size=out_shape)
    # batched: expand both batches to their broadcast, fold into 3-D, bmm, _unsafe_view back
    n = t1.shape[-2] if d1 > 1 else 1
    m1 = t1.shape[-1]
    batch1 = tuple(t1.shape[: max(d1 - 2, 0)])
    m2 = t2.shape[-2] if d2 > 1 else t2.shape[0]
    p = t2.shape[-1] if d2 > 1 else 1
    batch2 = tuple(t2.shape[: max(d2 - 2, 0)])
    if d1 == 3 and d2 == 3 and batch1[0] != batch2[0]:
        if batch1[0] == 1 and t1.requires_grad:
            return matmul(S.squeeze_dim(t1, dim=0), t2)
        if batch2[0] == 1 and t2.requires_grad:
            return matmul(t1, S.squeeze_dim(t2, dim=0))
    out_batch = broadcast_shapes(batch1, batch2)
    bprod = int(np.prod(out_batch)) if out_batch else 1
    e1 = _reshape(S.expand_op(t1, size=out_batch + (n, m1)), (bprod, n, m1))
    vector_rhs = d2 == 1
    e2 = S.expand_op(t2, size=out_batch + ((m2,) if vector_rhs else (m2, p)))
    if vector_rhs:
        e2 = S.unsqueeze(_reshape(e2, (bprod, m2)), 2)
    else:
        e2 = _reshape(e2, (bprod, m2, p))
    out_shape = out_batch + ((n,) if d1 > 1 else ()) + ((p,) if d2 > 1 else ())
    r = bmm_op(e1, e2)
    if vector_rhs:
        r = S.squeeze_dim(r, dim=-1)
    return S.unsafe_view(r, size=out_shape)
