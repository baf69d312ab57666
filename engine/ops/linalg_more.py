"""More products: addmv / addr / addbmm / baddbmm, trace, vdot, linalg.cross / cross, and aten's compositions
inner / tensordot / kron, linalg.vecdot / multi_dot / matrix_power / vander / diagonal, recorded node by node
as aten composes them (LinearAlgebra.cpp, Linear.cpp)."""
from __future__ import annotations

import warnings

import numpy as np

from engine import _backend as B
from engine import budget
from engine import dtypes as D
from engine.autograd import Node, _seq, edge_of, grad_mode
from engine.errors import TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops import nn_functional as NF
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.ops._util import list_str, wrap_dim
from engine.ops.registry import defop, entry
from engine.ops.rules import PY_STEP, Cost, numel
from engine.tensor import Tensor


def _t(a):
    return Tensor._make(a)


def _word(x):
    return D.scalar_type_name(D.FROM_NP[x.dtype] if hasattr(x, "dtype") and not isinstance(x, Tensor) else x.dtype)


def _scaled(x, s):
    return x if s == 1 else x * x.dtype.type(s)


def _combine(c, p, beta, alpha):
    """beta * c + alpha * p, with beta == 0 ignoring c (NaN included), as BLAS's gemv / gemm."""
    p = _scaled(p, alpha)
    if beta == 0:
        return p + np.zeros_like(c) if c.shape != p.shape else p
    return _scaled(c, beta) + p


def _maybe_multiply(t, s):
    return t if s == 1 else t * s


# ----- addmv, addr, addbmm, baddbmm -----


def _addmv(c, a, v, beta=1, alpha=1):
    if a.ndim != 2 or v.ndim != 1:
        raise TorchRuntimeError(f"vector + matrix @ vector expected, got {c.ndim}, {a.ndim}, {v.ndim}")
    if a.shape[1] != v.shape[0] or (c.ndim and c.shape[-1] not in (1, a.shape[0])) or c.ndim > 1:
        raise TorchRuntimeError(f"size mismatch, got input ({c.shape[0] if c.ndim else 1}), mat "
                                f"({a.shape[0]}x{a.shape[1]}), vec ({v.shape[0]})")
    if not (c.dtype == a.dtype == v.dtype):
        raise TorchRuntimeError(f"addmv input tensors must have the same dtype, but got {_word(c)}, {_word(a)}, and "
                                f"{_word(v)}")
    p = L._matmul_np(a, v[:, None])[:, 0]
    return _combine(np.broadcast_to(c, p.shape), p, beta, alpha)


addmv_op = defop(
    "addmv(Tensor self, Tensor mat, Tensor vec, *, Scalar beta=1, Scalar alpha=1) -> Tensor", _addmv,
    self=lambda grad, beta: _maybe_multiply(grad, beta),
    mat=lambda grad, vec, alpha: _maybe_multiply(L.outer(grad, vec), alpha),
    vec=lambda grad, mat, alpha: _maybe_multiply(L.mv(S.t(mat), grad), alpha),
    rule=lambda mat: Cost((mat.shape[0] if len(mat.shape) == 2 else 0,), 2 * numel(mat.shape)))


def _addr(c, v1, v2, beta=1, alpha=1):
    if v1.ndim != 1:
        raise TorchRuntimeError(f"addr: Expected 1-D argument vec1, but got {v1.ndim}-D")
    if v2.ndim != 1:
        raise TorchRuntimeError(f"addr: Expected 1-D argument vec2, but got {v2.ndim}-D")
    c = S._expand(c, (v1.shape[0], v2.shape[0]))
    p = np.multiply.outer(v1, v2)
    return _combine(c, p, beta, alpha)


addr_op = defop(
    "addr(Tensor self, Tensor vec1, Tensor vec2, *, Scalar beta=1, Scalar alpha=1) -> Tensor", _addr, promote=True,
    self=lambda grad, beta: _maybe_multiply(grad, beta),
    vec1=lambda grad, vec2, alpha: _maybe_multiply(L.mv(grad, vec2), alpha),
    vec2=lambda grad, vec1, alpha: _maybe_multiply(L.mv(S.t(grad), vec1), alpha),
    rule=lambda vec1, vec2: Cost((vec1.shape[0] if vec1.shape else 0, vec2.shape[0] if vec2.shape else 0),
                                 3 * numel(vec1.shape) * numel(vec2.shape)))


def _bmm_check(b1, b2, name):
    if b1.ndim != 3:
        raise TorchRuntimeError("batch1 must be a 3D tensor")
    if b2.ndim != 3:
        raise TorchRuntimeError("batch2 must be a 3D tensor")


def _addbmm(c, b1, b2, beta=1, alpha=1):
    _bmm_check(b1, b2, "addbmm")
    if b1.shape[0] != b2.shape[0] or b1.shape[2] != b2.shape[1]:
        raise TorchRuntimeError(f"Incompatible matrix sizes for bmm ({b1.shape[1]}x{b1.shape[2]} and "
                                f"{b2.shape[1]}x{b2.shape[2]})")
    p = L._matmul_np(b1, b2).sum(0) if b1.shape[0] else np.zeros((b1.shape[1], b2.shape[2]), dtype=b1.dtype)
    c = S._expand(c, p.shape)
    return _combine(c, p, beta, alpha)


def _addbmm_batch(grad, b1_shape, b2_shape):
    return S.expand(S.unsqueeze(grad, 0), b1_shape[0], b1_shape[1], b2_shape[2])


addbmm_op = defop(
    "addbmm(Tensor self, Tensor batch1, Tensor batch2, *, Scalar beta=1, Scalar alpha=1) -> Tensor", _addbmm,
    self=lambda grad, beta: _maybe_multiply(grad, beta),
    batch1=lambda grad, batch1_shape, batch2, alpha: _maybe_multiply(
        L.bmm(_addbmm_batch(grad, batch1_shape, tuple(batch2.shape)), S.transpose(batch2, 1, 2)), alpha),
    batch2=lambda grad, batch1, batch2_shape, alpha: _maybe_multiply(
        L.bmm(S.transpose(batch1, 1, 2), _addbmm_batch(grad, tuple(batch1.shape), batch2_shape)), alpha),
    rule=lambda batch1, batch2: Cost((batch1.shape[1], batch2.shape[2]) if len(batch1.shape) == 3 == len(
        batch2.shape) else (0,), 2 * numel(batch1.shape) * (batch2.shape[-1] if batch2.shape else 1),
        numel(batch1.shape[:2]) * (batch2.shape[-1] if batch2.shape else 1)))


def _baddbmm(c, b1, b2, beta=1, alpha=1):
    _bmm_check(b1, b2, "baddbmm")
    if b1.shape[0] != b2.shape[0] or b1.shape[2] != b2.shape[1]:
        raise TorchRuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b1.shape[0]}, "
                                f"{b1.shape[2]}] but got: [{b2.shape[0]}, {b2.shape[1]}].")
    p = L._matmul_np(b1, b2)
    c = S._expand(c, p.shape)
    return _combine(c, p, beta, alpha)


baddbmm_op = defop(
    "baddbmm(Tensor self, Tensor batch1, Tensor batch2, *, Scalar beta=1, Scalar alpha=1) -> Tensor", _baddbmm,
    self=lambda grad, beta: _maybe_multiply(grad, beta),
    batch1=lambda grad, batch2, alpha: _maybe_multiply(L.bmm(grad, S.transpose(batch2, 1, 2)), alpha),
    batch2=lambda grad, batch1, alpha: _maybe_multiply(L.bmm(S.transpose(batch1, 1, 2), grad), alpha),
    rule=lambda batch1, batch2: Cost(tuple(batch1.shape[:2]) + (batch2.shape[-1],) if len(batch1.shape) == 3 == len(
        batch2.shape) else (0,), 2 * numel(batch1.shape) * (batch2.shape[-1] if batch2.shape else 1)))


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    return addmv_op(input, mat, vec, beta, alpha)


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    return addr_op(input, vec1, vec2, beta, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    return addbmm_op(input, batch1, batch2, beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    return baddbmm_op(input, batch1, batch2, beta, alpha)


# ----- trace, vdot, cross -----


def _trace(a):
    if a.ndim != 2:
        raise TorchRuntimeError(f"trace: expected a matrix, but got tensor with dim {a.ndim}")
    if a.dtype.kind in "biu":
        return B.xp.asarray(np.trace(a), dtype=np.int64)
    return B.xp.asarray(np.trace(a)).astype(a.dtype)


def _trace_backward(grad, self_shape):
    eye = B.xp.eye(self_shape[0], self_shape[1], dtype=grad._data.dtype)
    return grad * _t(eye)


trace_op = defop("trace(Tensor self) -> Tensor", _trace, self=_trace_backward,
                 rule=lambda self: Cost((), min(self.shape) if len(self.shape) == 2 else 0))


def trace(input: Tensor) -> Tensor:
    return trace_op(input)


vdot_op = defop("vdot(Tensor self, Tensor other) -> Tensor", L._dot,
                self=lambda grad, other: grad * other, other=lambda grad, self: grad * self,
                rule=lambda self: Cost((), 2 * numel(self.shape)))


def vdot(input: Tensor, other: Tensor) -> Tensor:
    return vdot_op(input, other)


def _cross(a, b, dim=-1):
    if a.ndim != b.ndim:
        raise TorchRuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = wrap_dim(dim, a.ndim)
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise TorchRuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {a.shape[d]} and "
                                f"{b.shape[d]}")
    from engine.ops._util import broadcast_shapes  # noqa: PLC0415

    broadcast_shapes(tuple(a.shape), tuple(b.shape))
    return np.cross(a, b, axis=d)


cross_op = defop("linalg_cross(Tensor self, Tensor other, *, int dim=-1) -> Tensor", _cross, promote=True,
                 self=lambda grad, other, dim: cross_op(other, grad, dim),
                 other=lambda grad, self, dim: cross_op(grad, self, dim),
                 rule=lambda self, other: Cost(tuple(np.broadcast_shapes(tuple(self.shape), tuple(other.shape))),
                                               3 * max(numel(self.shape), numel(other.shape))))

CROSS_DIM_WARNING = ("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                     "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree with "
                     "that of linalg.cross in a future release.")


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    return cross_op(input, other, dim)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    if dim is None:
        warnings.warn(CROSS_DIM_WARNING, UserWarning, stacklevel=2)
        from engine.ops._util import broadcast_shapes  # noqa: PLC0415

        shape = broadcast_shapes(tuple(input.shape), tuple(other.shape))
        dim = next((i for i, s in enumerate(shape) if s == 3), -1)
    return cross_op(input, other, dim)


# ----- tensordot, inner, kron -----


def _tensordot(a, b, dims_a, dims_b):
    if len(dims_a) != len(dims_b):
        raise TorchRuntimeError("both dimension lists should have same length")
    if a.dtype is not b.dtype:
        raise TorchRuntimeError("both inputs should have same dtype")
    dims_a = [wrap_dim(d, a.ndim) for d in dims_a]
    dims_b = [wrap_dim(d, b.ndim) for d in dims_b]
    t1, t2, csize = a, b, 1
    for da, db in zip(dims_a, dims_b):
        s1, s2 = a.shape[da], b.shape[db]
        if s2 == 1:
            t1 = R.sum(t1, da, True)
        elif s1 == 1:
            t2 = R.sum(t2, db, True)
        else:
            if s1 != s2:
                raise TorchRuntimeError(f"contracted dimensions need to match, but first has size {s1} in dim {da} and "
                                        f"second has size {s2} in dim {db}")
            csize *= s1
    p1 = [i for i in range(a.ndim) if i not in dims_a]
    p2 = [i for i in range(b.ndim) if i not in dims_b]
    rsizes = [t1.shape[i] for i in p1] + [t2.shape[i] for i in p2]
    size1 = int(np.prod([t1.shape[i] for i in p1])) if p1 else 1
    size2 = int(np.prod([t2.shape[i] for i in p2])) if p2 else 1
    t1 = S.permute(t1, [*p1, *dims_a])
    t2 = S.permute(t2, [*dims_b, *p2])
    if size1 == 1 and size2 == 1:  # a full contraction
        if _flat_view(t1) and _flat_view(t2):  # a dot product of the flattened operands (a 1-D one stays itself)
            out = L.dot(S.flatten(t1), S.flatten(t2))
        else:  # flattening would copy: aten multiplies the squeezed operands and sums instead
            out = R.sum(S.squeeze(t1) * S.squeeze(t2))
    else:
        out = L.mm(S.reshape(t1, (size1, csize)), S.reshape(t2, (csize, size2)))
    return S.reshape(out, tuple(rsizes))


def _flat_view(t):
    try:
        B.reshape_view(t._data, (-1,))
    except ValueError:
        return False
    return True


def tensordot(a: Tensor, b: Tensor, dims: int | list = 2) -> Tensor:
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise TorchRuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise TorchRuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        return _tensordot(a, b, list(range(a.ndim - dims, a.ndim)), list(range(dims)))
    da, db = dims
    da = [da] if isinstance(da, int) else list(da)
    db = [db] if isinstance(db, int) else list(db)
    return _tensordot(a, b, da, db)


def inner(input: Tensor, other: Tensor) -> Tensor:
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise TorchRuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                                f"{list_str(input.shape)} and {list_str(other.shape)}")
    return _tensordot(input, other, [-1], [-1])


def kron(input: Tensor, other: Tensor) -> Tensor:
    n = max(input.ndim, other.ndim)
    pa, pb = n - input.ndim, n - other.ndim
    a_shape, b_shape, out_shape = [], [], []
    for i in range(n):
        sa = input.shape[i - pa] if i >= pa else 1
        sb = other.shape[i - pb] if i >= pb else 1
        a_shape += [sa, 1]
        b_shape += [1, sb]
        out_shape.append(sa * sb)
    a = S.unsafe_view(input, size=tuple(a_shape))
    b = S.unsafe_view(other, size=tuple(b_shape))
    return S.unsafe_view(P.mul(a, b), size=tuple(out_shape))


# ----- linalg.vecdot, multi_dot, diagonal, vander, matrix_power -----


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    if x.dtype is not y.dtype:
        raise TorchRuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                                f"{D.scalar_type_name(x.dtype)} and y of type {D.scalar_type_name(y.dtype)} instead")
    if x.ndim == 1 and y.ndim == 1:
        return vdot_op(x, y)
    return R.sum(x * y, dim)


def _chain_order(shapes):
    """torch's dynamic programme for the cheapest product order (int64 costs; the first k of the least cost),
    one whole-array step a chain length instead of a Python step a (i, k, j): a chain of 1,000 had taken 119 s.
    Its tables and each step's candidates (at most n^2 / 4 of them) are charged, and the deadline checked a step."""
    n = len(shapes)
    budget.charge(3 * n * n, 8, PY_STEP * n + 2 * n ** 3, "multi_dot's order")
    p = np.array([s[0] for s in shapes] + [shapes[-1][1]], dtype=np.int64)
    m = np.zeros(n * n, dtype=np.int64)  # m[i, j] at i * n + j
    s = np.zeros((n, n), dtype=np.int64)
    view, w = np.lib.stride_tricks.as_strided, m.itemsize
    for length in range(1, n):
        budget.check()
        rows, diag = n - length, (n + 1) * w  # chain i (0 <= i < rows), split k = i + t (0 <= t < length)
        left = view(m, (rows, length), (diag, w), writeable=False)  # m[i, i + t]
        right = view(m[n + length:], (rows, length), (diag, n * w), writeable=False)  # m[i + t + 1, i + length]
        q = left + right
        q += (p[:rows] * p[length + 1:])[:, None] * view(p[1:], (rows, length), (w, w), writeable=False)
        best = np.argmin(q, axis=1)  # the first of the least, as torch's strict `<`
        i = np.arange(rows)
        m[i * (n + 1) + length] = q[i, best]
        s[i, i + length] = i + best
    return s  # an array (its n^2 / 2 entries as Python ints would be uncharged objects)


def _chain_mult(ts, order, i, j):
    """The products in `order`, left operand first as a recursion would make them, without recursion (a chain
    of thousands would pass Python's recursion limit)."""
    todo, done = [(i, j, False)], []
    while todo:
        a, b, ready = todo.pop()
        if a == b:
            done.append(ts[a])
        elif ready:
            right = done.pop()
            done.append(L.mm(done.pop(), right))
        else:
            k = int(order[a, b])
            todo += [(a, b, True), (k + 1, b, False), (a, k, False)]
    return done[0]


def multi_dot(tensors: list[Tensor]) -> Tensor:
    n = len(tensors)
    if n < 2:
        raise TorchRuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    ts = list(tensors)
    out_shape = []
    if ts[0].ndim == 1:
        ts[0] = S.unsqueeze(ts[0], 0)
    elif ts[0].ndim == 2:
        out_shape.append(ts[0].shape[0])
    else:
        raise TorchRuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {ts[0].ndim}D")
    if ts[-1].ndim == 1:
        ts[-1] = S.unsqueeze(ts[-1], -1)
    elif ts[-1].ndim == 2:
        out_shape.append(ts[-1].shape[1])
    else:
        raise TorchRuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {ts[-1].ndim}D")
    for i in range(1, n - 1):
        if ts[i].ndim != 2:
            raise TorchRuntimeError(f"multi_dot(): tensor {i} must be 2D but got {ts[i].ndim}D")
    for i in range(1, n):
        if ts[i].dtype is not ts[0].dtype:
            raise TorchRuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                                    f"{ts[0].dtype} and tensor {i} {ts[i].dtype}")
        if ts[i - 1].shape[-1] != ts[i].shape[0]:
            raise TorchRuntimeError(f"multi_dot(): tensors {i - 1} and {i} with shapes "
                                    f"{list_str(tensors[i - 1].shape)} and {list_str(tensors[i].shape)} cannot be "
                                    "multiplied")
    if n == 2:
        out = L.mm(ts[0], ts[1])
    elif n == 3:
        a, b, c, d = ts[0].shape[0], ts[1].shape[0], ts[2].shape[0], ts[2].shape[1]
        if (a * c) * (b + d) > (b * d) * (a + c):
            out = L.mm(ts[0], L.mm(ts[1], ts[2]))
        else:
            out = L.mm(L.mm(ts[0], ts[1]), ts[2])
    else:
        out = _chain_mult(ts, _chain_order([tuple(t.shape) for t in ts]), 0, n - 1)
    return S.view(out, *out_shape)


def linalg_diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: N803
    return J.diagonal(A, offset, dim1, dim2)


def vander(x: Tensor, N: int | None = None) -> Tensor:  # noqa: N803
    if not (x.dtype in (D.float32, D.float64) or (not x.dtype.is_floating_point and x.dtype is not D.bool_)):
        raise TorchRuntimeError(f"linalg.vander supports floating point, complex, and integer tensors, but got "
                                f"{D.scalar_type_name(x.dtype)}")
    x_ = S.unsqueeze(x, -1) if x.ndim == 0 else x
    shape = list(x_.shape)
    n = shape[-1] if N is None else N
    if n <= 1:
        raise TorchRuntimeError("N must be greater than 1.")
    shape.append(n - 1)
    result = R.cumprod(S.expand(S.unsqueeze(x_, -1), shape), -1)
    shape[-1] = 1
    ones = _t(B.xp.ones(shape, dtype=result._data.dtype))
    return J.cat([ones, result], -1)


class CopyBackwards(Node):
    """grad_fn of `dst.copy_(src)` where dst requires grad and src does not: dst's history gets zeros."""

    __slots__ = ()

    def apply(self, grads, create_graph):
        g = grads[0]
        return [_t(B.xp.zeros_like(g._data)), None]


def _square_check(a, name):
    if a.ndim < 2:
        raise TorchRuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise TorchRuntimeError(f"{name}: A must be batches of square matrices, but they are {a.shape[-2]} by "
                                f"{a.shape[-1]} matrices")


def matrix_power(A: Tensor, n: int) -> Tensor:  # noqa: N803
    _square_check(A, "linalg.matrix_power")
    if n == 0:
        out = P.clone(A)
        eye = B.xp.broadcast_to(B.xp.eye(A.shape[-1], dtype=A._data.dtype), tuple(A.shape)).copy()
        res = _t(eye)
        if out.requires_grad and grad_mode.enabled:
            node = CopyBackwards()
            node.next_functions = (edge_of(out), (None, 0))
            node._seq = next(_seq)
            node._retained = node._pre_hooks = node._hooks = None
            res._req = True
            res.grad_fn = node
        return res
    if n == 1:
        return P.clone(A)
    from engine.ops.linalg_decomp import inv  # noqa: PLC0415

    if n == -1:
        return inv(A)
    a = inv(A) if n < 0 else A
    n = abs(n)
    if n == 2:
        return L.matmul(a, a)
    if n == 3:
        return L.matmul(L.matmul(a, a), a)
    z = result = None
    while n > 0:
        bit, n = n % 2, n // 2
        z = a if z is None else L.matmul(z, z)
        if bit:
            result = z if result is None else L.matmul(result, z)
    return result


_ = NF

CATALOG = [
    entry("addmv", addmv, "beta * input + alpha * (mat @ vec).", addmv_op),
    entry("addr", addr, "beta * input + alpha * outer(vec1, vec2).", addr_op),
    entry("addbmm", addbmm, "beta * input + alpha * sum over the batch of batch1 @ batch2.", addbmm_op),
    entry("baddbmm", baddbmm, "beta * input + alpha * (batch1 @ batch2), batched.", baddbmm_op),
    entry("trace", trace, "The sum of a matrix's diagonal.", trace_op),
    entry("vdot", vdot, "The dot product of two 1-D tensors (conjugating the first).", vdot_op),
    entry("linalg.cross", linalg_cross, "The 3-vector cross product along dim (broadcasting).", cross_op,
          method=False),
    entry("cross", cross, "The 3-vector cross product along dim (the first size-3 dim when None, with torch's "
          "warning).", cross_op),
    entry("tensordot", tensordot, "Contract dims of a and b (the last dims / first dims, or the listed pairs).",
          method=False, grad_fns=("ViewBackward0", "MmBackward0", "DotBackward0")),
    entry("inner", inner, "The dot product over the last dims.", grad_fns=("ViewBackward0", "MmBackward0")),
    entry("kron", kron, "The Kronecker product.", grad_fns=("UnsafeViewBackward0", "MulBackward0")),
    entry("linalg.vecdot", vecdot, "Dot products of vectors along dim (x * y summed).", method=False,
          grad_fns=("SumBackward1", "MulBackward0")),
    entry("linalg.multi_dot", multi_dot, "A chain of matrix products in the cheapest order.", method=False,
          grad_fns=("ViewBackward0", "MmBackward0")),
    entry("linalg.diagonal", linalg_diagonal, "The diagonal of the last two dims (a view).", J.diagonal_op,
          method=False),
    entry("linalg.vander", vander, "The Vandermonde matrix of x's powers.", method=False,
          grad_fns=("CatBackward0", "CumprodBackward0")),
    entry("linalg.matrix_power", matrix_power, "The n-th power of square matrices (n < 0 through the inverse).",
          method=False, grad_fns=("MmBackward0", "LinalgInvExBackward0", "CloneBackward0")),
    entry("matrix_power", matrix_power, "Alias of linalg.matrix_power.", grad_fns=("MmBackward0",)),
]
