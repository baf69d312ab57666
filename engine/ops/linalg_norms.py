"""aten's compositions of other ops: matrix_norm / linalg.norm / cond (vector norms, amax / amin, svdvals, inv_ex)
and tensorinv / tensorsolve (inv_ex, solve_ex over reshaped tensors), each with torch's argument checks and
messages. (Its catalog entries follow linalg_lu's.)"""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget
from engine import dtypes as D
from engine.errors import TorchRuntimeError
from engine.ops import join as J
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.ops._util import list_str, wrap_dim
from engine.ops.indexing import masked_fill
from engine.ops.linalg_common import (
    _np,
    _raise_info,
    _t,
)
from engine.ops.linalg_decomp import inv_ex_op, solve_ex_op
from engine.ops.reduction_stats import _scalar_str
from engine.ops.registry import entry
from engine.tensor import Tensor

# ----- matrix_norm, linalg.norm, cond -----


def _backshift(d0, d1, ndim):
    return [i for i in range(ndim) if i not in (d0, d1)] + [d0, d1]


def _matrix_norm_checks(A, dim, name="linalg.matrix_norm"):  # noqa: N803
    if A.ndim < 2:
        raise TorchRuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if len(dim) != 2:
        raise TorchRuntimeError(f"{name}: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    d0, d1 = wrap_dim(dim[0], A.ndim), wrap_dim(dim[1], A.ndim)
    if d0 == d1:
        raise TorchRuntimeError(f"{name}: dims must be different. Got ({d0}, {d1})")
    return d0, d1


def matrix_norm(A: Tensor, ord: float | str = "fro", dim: list[int] = (-2, -1),  # noqa: N803, A002
                keepdim: bool = False, *, dtype=None) -> Tensor:
    from engine.ops.linalg_spectral import svdvals  # noqa: PLC0415

    dim = list(dim)
    if isinstance(ord, str):
        if ord not in ("fro", "nuc"):
            raise TorchRuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
        d0, d1 = _matrix_norm_checks(A, dim)
        if ord == "fro":
            return R.vector_norm(A, 2, dim, keepdim, dtype=dtype)
        perm = _backshift(d0, d1, A.ndim)
        A_ = A.to(dtype) if dtype is not None else A
        result = R.sum(svdvals(S.permute(A_, perm)), -1, keepdim)
        if keepdim:
            result = S.permute(S.unsqueeze(result, -1), list(np.argsort(perm)))
        return result
    o = float(ord)
    if abs(o) not in (1.0, 2.0, float("inf")):
        raise TorchRuntimeError(f"linalg.matrix_norm: Order {_scalar_str(ord)} not supported.")
    d0, d1 = _matrix_norm_checks(A, dim)

    def max_min(t, d):
        return R.amax(t, d, keepdim) if o > 0 else R.amin(t, d, keepdim)

    if abs(o) == 2.0:
        perm = _backshift(d0, d1, A.ndim)
        A_ = A.to(dtype) if dtype is not None else A
        result = max_min(svdvals(S.permute(A_, perm)), -1)
        if keepdim:
            result = S.permute(S.unsqueeze(result, -1), list(np.argsort(perm)))
        return result
    if abs(o) == float("inf"):
        d0, d1 = d1, d0
    if not keepdim and d0 < d1:
        d1 -= 1
    return max_min(R.vector_norm(A, 1.0, [d0], keepdim, dtype=dtype), d1)


def linalg_norm(A: Tensor, ord: float | str | None = None, dim: int | list[int] | None = None,  # noqa: N803, A002
                keepdim: bool = False, *, dtype=None) -> Tensor:
    dims = [dim] if isinstance(dim, int) else (list(dim) if dim is not None else None)
    if isinstance(ord, str):
        if dims is not None:
            if len(dims) not in (1, 2):
                raise TorchRuntimeError(f"linalg.norm: If dim is specified, it mut be of length 1 or 2. Got "
                                        f"{list_str(dims)}")
        elif A.ndim not in (1, 2):
            raise TorchRuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                                    f"{A.ndim}D.")
        return matrix_norm(A, ord, dims if dims is not None else [0, 1], keepdim, dtype=dtype)
    if dims is not None:
        if len(dims) not in (1, 2):
            raise TorchRuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got "
                                    f"{list_str(dims)}")
    elif ord is not None and A.ndim not in (1, 2):
        raise TorchRuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                                f"{A.ndim}D.")
    if ord is not None and ((dims is not None and len(dims) == 2) or (dims is None and A.ndim == 2)):
        return matrix_norm(A, ord, dims if dims is not None else [0, 1], keepdim, dtype=dtype)
    return R.vector_norm(A, 2.0 if ord is None else ord, dims, keepdim, dtype=dtype)


def cond(A: Tensor, p: float | str | None = None) -> Tensor:  # noqa: N803
    from engine.ops.linalg_spectral import svdvals  # noqa: PLC0415

    if isinstance(p, str):  # aten's string overload: squareCheckInputs first, even for an empty A
        if A.ndim < 2:
            raise TorchRuntimeError(f"linalg.cond(ord={p}): The input tensor A must have at least 2 dimensions.")
        if A.shape[-1] != A.shape[-2]:
            raise TorchRuntimeError(f"linalg.cond(ord={p}): A must be batches of square matrices, but they are "
                                    f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if A.ndim < 2:
        raise TorchRuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    ord_ = 2 if p is None else p
    if isinstance(ord_, str):
        if ord_ not in ("fro", "nuc"):
            raise TorchRuntimeError(f"linalg.cond got an invalid norm type: {ord_}")
        label = ord_
    else:
        if ord_ not in (2, -2, 1, -1, float("inf"), float("-inf")):
            raise TorchRuntimeError("linalg.cond got an invalid norm type: " + _scalar_str(ord_))
        label = None
    if A.numel() == 0:
        real = A.dtype if A.dtype.is_floating_point else D.float32
        n = int(np.prod(A.shape[:-2], dtype=np.int64))
        budget.charge(n, real.np.itemsize, n, "linalg.cond's zeros")  # [N, 0, 2]'s N zeros, outside the op table
        return _t(B.xp.zeros(tuple(A.shape[:-2]), dtype=real.np))
    if not isinstance(ord_, str) and abs(float(ord_)) == 2.0:
        sv = svdvals(A)
        s_max, s_min = J.narrow(sv, -1, 0, 1), J.narrow(sv, -1, -1, 1)
        result = s_min / s_max if ord_ == -2 else s_max / s_min
        return S.squeeze(result, -1)
    if label is None:
        label = f"{float(ord_):.6f}" if isinstance(ord_, float) and not np.isinf(ord_) else str(int(ord_)) \
            if not np.isinf(ord_) else ("inf" if ord_ > 0 else "-inf")
    if A.shape[-1] != A.shape[-2]:
        raise TorchRuntimeError(f"linalg.cond(ord={label}): A must be batches of square matrices, but they are "
                                f"{A.shape[-2]} by {A.shape[-1]} matrices")
    inverse, info = inv_ex_op(A, False)
    bad = _t(B.xp.asarray(_np(info._data) > 0)[..., None, None])
    inverse = masked_fill(inverse, bad, float("inf"))
    result = matrix_norm(A, ord_) * matrix_norm(inverse, ord_)
    return _nan_to_num(result)


def _nan_to_num(t):
    from engine.ops.pointwise_more import nan_to_num  # noqa: PLC0415

    return nan_to_num(t, float("inf"), float("inf"), float("-inf"))


# ----- tensorinv, tensorsolve -----


def tensorinv(A: Tensor, ind: int = 2) -> Tensor:  # noqa: N803
    if ind <= 0:
        raise TorchRuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    end, start = list(A.shape[ind:]), list(A.shape[:ind])
    prod_end = int(np.prod(end)) if end else 1
    prod_start = int(np.prod(start)) if start else 1
    if prod_end != prod_start:
        raise TorchRuntimeError("Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                                f"prod(self.shape[:ind]), but got {prod_end} != {prod_start}")
    result, info = inv_ex_op(S.reshape(A, (prod_start, prod_end)), False)
    _raise_info(_np(info._data), "inv", "The diagonal element {} is zero, the inversion could not be completed "
                "because the input matrix is singular.", True)  # aten's tensorinv: its check in the name "inv"
    return S.reshape(result, tuple(end + start))


def tensorsolve(A: Tensor, B_: Tensor, dims: list[int] | None = None) -> Tensor:  # noqa: N803
    from engine.ops.shape_more import movedim  # noqa: PLC0415

    nd = A.ndim
    a = A
    if dims is not None:
        a = movedim(a, list(dims), list(range(nd - len(dims), nd)))
    result_shape = list(a.shape[B_.ndim:])
    rp = int(np.prod(result_shape)) if result_shape else 1
    op = int(np.prod(B_.shape)) if B_.ndim else 1
    if rp != op:
        raise TorchRuntimeError("Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                                f"prod(self.shape[:other.ndim]), but got {rp} != {op}")
    a = S.reshape(a, (rp, rp))
    result = solve_ex_op(a, S.flatten(B_), True, True)[0]
    return S.reshape(result, tuple(result_shape))


CATALOG = [
    entry("linalg.matrix_norm", matrix_norm, "Matrix norms: 'fro', 'nuc', 1, -1, 2, -2, inf, -inf.", method=False,
          grad_fns=("LinalgVectorNormBackward0", "AmaxBackward0", "SumBackward1")),
    entry("linalg.norm", linalg_norm, "Vector or matrix norm by ord and dim.", method=False,
          grad_fns=("LinalgVectorNormBackward0",)),
    entry("linalg.cond", cond, "The condition number in a given norm.", method=False,
          grad_fns=("SqueezeBackward1", "NanToNumBackward0")),
    entry("linalg.tensorinv", tensorinv, "The inverse of a tensor for tensordot over ind dims.", method=False,
          grad_fns=("LinalgInvExBackward0",)),
    entry("linalg.tensorsolve", tensorsolve, "X with tensordot(A, X, X.ndim) = B.", method=False,
          grad_fns=("LinalgSolveExBackward0",)),
]
