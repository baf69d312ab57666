"""Dense linear algebra's shared helpers (array and tensor conversions, column-major outputs, torch's square and
float checks, batch prefixes, LAPACK info errors) and LAPACK's getrf (LU with partial pivoting: the first largest
pivot) in NumPy."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchLinAlgError, TorchRuntimeError
from engine.ops import shape as S
from engine.ops.rules import Cost, numel
from engine.tensor import Tensor


def _t(a):
    return Tensor._make(a)


def _np(a):
    return np.asarray(B.to_numpy(a))


def _back(a, dtype):
    return B.xp.asarray(np.asarray(a).astype(dtype, copy=False))


def _fortran(a):
    """a with column-major strides in its last two dims (LAPACK's layout, which torch's results keep)."""
    if a.ndim < 2:
        return a
    return np.swapaxes(np.ascontiguousarray(np.swapaxes(a, -1, -2)), -1, -2)


def _mH(t):  # noqa: N802 - real tensors: the transpose of the last two dims
    return S.transpose_op(t, dim0=-2, dim1=-1)


def _word(t):
    return D.scalar_type_name(t.dtype if isinstance(t, Tensor) else D.FROM_NP[t.dtype])


def _float_check(a, name):
    if a.dtype.kind != "f" or a.dtype == np.float16:
        raise TorchRuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got {_word(a)}")


def _square(a, name, float_check=True):
    if a.ndim < 2:
        raise TorchRuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise TorchRuntimeError(f"{name}: A must be batches of square matrices, but they are {a.shape[-2]} by "
                                f"{a.shape[-1]} matrices")
    if float_check:
        _float_check(a, name)


def _batch_prefix(info_shape, idx, batched):
    return f"(Batch element {idx}): " if batched else ""


def per_matrix(shape, matrix: float, element: float = 0.0) -> float:
    """Flops for the work a batched LAPACK call (or a loop of whole-batch NumPy steps) does beside its multiply-adds:
    `matrix` for each matrix of the stack (NumPy's gufuncs copy each matrix to column-major and call LAPACK once for
    it: ~0.6 us for gesdd on a 1x1, ~40-150 ns for the others), `element` for each element (those copies, the
    gathers). The rules' k^3 terms alone left a [10^6, 1, 1] svd charged 20 flops a matrix for ~600 ns of CPU
    (slogdet 42x, qr 9x, cholesky_inverse 33x, lu 67x: docs/runs/safeL.md, where each constant was measured)."""
    shape = tuple(shape)
    return matrix * numel(shape[:-2]) + element * numel(shape)


def _cube(self):
    n = self.shape[-1] if len(self.shape) else 1
    return Cost(tuple(self.shape), 2 * numel(self.shape) * n, numel(self.shape))


# ----- LU with partial pivoting (LAPACK's getf2: the first largest pivot), batched -----


def lu_factor_array(a, check=None):
    """(LU packed, pivots 1-based int32, info int32) of a (..., m, n) float array, as LAPACK's getrf."""
    a = np.array(a, dtype=a.dtype, copy=True)
    *batch, m, n = a.shape
    k = min(m, n)
    flat = a.reshape(-1, m, n)
    piv = np.zeros((flat.shape[0], k), dtype=np.int32)
    info = np.zeros(flat.shape[0], dtype=np.int32)
    rows = np.arange(flat.shape[0])
    for j in range(k):
        if check is not None:
            check()
        col = np.abs(flat[:, j:, j])
        p = np.argmax(col, axis=1) + j  # argmax takes the first of ties, as idamax
        piv[:, j] = p + 1
        if j != 0 or True:
            tmp = flat[rows, j, :].copy()
            flat[rows, j, :] = flat[rows, p, :]
            flat[rows, p, :] = tmp
        pivot = flat[:, j, j]
        zero = pivot == 0
        info = np.where((info == 0) & zero, j + 1, info)
        safe = np.where(zero, 1, pivot)
        if j + 1 < m:
            mult = np.where(zero[:, None], flat[:, j + 1:, j], flat[:, j + 1:, j] / safe[:, None])
            flat[:, j + 1:, j] = mult
            if j + 1 < n:
                flat[:, j + 1:, j + 1:] -= mult[:, :, None] * flat[:, j, j + 1:][:, None, :]
    return flat.reshape(a.shape), piv.reshape(*batch, k), info.reshape(batch)


def _det_array(a):
    lu, piv, _ = lu_factor_array(a)
    diag = np.diagonal(lu, axis1=-2, axis2=-1)
    swaps = (piv != np.arange(1, piv.shape[-1] + 1)).sum(-1)
    sign = np.where(swaps % 2, -1.0, 1.0).astype(a.dtype)
    return sign * np.prod(diag, axis=-1)


def _raise_info(info, name, fmt, matrix=None):
    """aten's _linalg_check_errors: torch.linalg.LinAlgError for the first batch element whose LAPACK info is
    positive, "(Batch element i): " before the message unless the input was one matrix (matrix: whether it was;
    by default, whether info is 0-d)."""
    bad = np.nonzero(np.asarray(info).reshape(-1) > 0)[0]
    if bad.size:
        i = int(bad[0])
        matrix = np.asarray(info).ndim == 0 if matrix is None else matrix
        prefix = "" if matrix else f"(Batch element {i}): "
        raise TorchLinAlgError(f"{name}: {prefix}" + fmt.format(int(np.asarray(info).reshape(-1)[i])))


def broadcast_solves(a, b_shape, solves: int = 1) -> tuple[float, int]:
    """(flops, float64 temp elements) of `solves` np.linalg.solve calls of A (an array, or a rule's operand) beside
    B, broadcast: NumPy factors A again for every matrix of the broadcast batch (2 k^3 a factorization, as inv's
    charge, and the solves of B's columns), and its cast to float64 copies A broadcast where A is not float64 (a
    float64 A is read in place). A rule that charged A once let A [1, 200, 200] beside B [500, 200, 1] run 6-9 s
    charged as 8e4 flops (lu_solve, cholesky_solve; safeJ)."""
    a_shape = tuple(a.shape)
    k = a_shape[-1] if len(a_shape) else 1
    m = b_shape[-1] if len(b_shape) else 1
    nb = numel(np.broadcast_shapes(a_shape[:-2], tuple(b_shape[:-2])))
    copy = 0 if np.dtype(a.dtype) == np.float64 else nb * k * k
    return solves * nb * (2.0 * k ** 3 + 2.0 * k * k * m + 150.0), solves * copy
