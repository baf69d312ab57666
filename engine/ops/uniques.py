"""unique and unique_consecutive (with return_inverse, return_counts and dim), as torch 2.13's CPU kernels
answer them: sorted values (NaNs each their own value, -0.0 one with 0.0), the inverse indices in the input's
shape (the selected dim's length with `dim`), the counts. Their output is at most the input's size: the rules
charge that bound (three outputs of the input's size and the sort's keys) before the forward runs. torch has no
derivative for them: a float input that requires grad gives Unique2Backward0 / UniqueDimBackward0 /
UniqueConsecutiveBackward0 nodes whose backward raises "the derivative for '_unique2' is not implemented."."""
from __future__ import annotations

import numpy as np

from engine.errors import TorchIndexError, TorchRuntimeError
from engine.ops._util import not_implemented_formulas, wrap_dim
from engine.ops.registry import defop, entry
from engine.ops.rules import Cost, numel, sort_flops, wide
from engine.tensor import Tensor


def _not_implemented(aten):
    return not_implemented_formulas(aten, aten, pr=True)


def _groups(keys_sorted_equal, n):
    """Group starts of n sorted items, where keys_sorted_equal[i] says item i+1 equals item i."""
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = ~keys_sorted_equal
    return new


def _finish(vals_first, new, order, n, return_inverse, return_counts):
    gid = np.cumsum(new) - 1
    inverse = np.empty(0, dtype=np.int64)
    counts = np.empty(0, dtype=np.int64)
    if return_inverse:
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = gid
    if return_counts:
        starts = np.flatnonzero(new)
        counts = np.diff(np.append(starts, n)).astype(np.int64)
    return vals_first, inverse, counts


def _unique2(a, sorted=True, return_inverse=False, return_counts=False):  # noqa: A002
    flat = a.reshape(-1)
    n = flat.size
    order = np.argsort(flat, kind="stable")
    s = flat[order]
    new = _groups(s[1:] == s[:-1], n)  # NaN != NaN: each NaN its own value, as torch's
    vals, inverse, counts = _finish(s[new], new, order, n, return_inverse, return_counts)
    if return_inverse:
        inverse = inverse.reshape(a.shape)
    return vals, inverse, counts


def _rows(a, dim):
    moved = np.moveaxis(a, dim, 0)
    return moved, moved.reshape(moved.shape[0], numel(moved.shape[1:]))


def _dim_checks(a, dim):
    """torch's checks of unique_dim / unique_consecutive(dim=) (aten's _unique_dim_cpu_template and
    unique_consecutive_cpu_template, in their order): the wrapped dim. A zero-element tensor is refused unless its
    only zero-sized dim is the selected one (redteam9 F1: [N, 0] with dim=0 made N-long index arrays)."""
    if a.ndim == 0:
        raise TorchIndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = wrap_dim(dim, a.ndim)
    if a.size == 0:
        if a.shape[d] != 0:
            raise TorchRuntimeError("There are 0 sized dimensions, and they aren't selected, so unique cannot be "
                                    "applied")
        if sum(1 for s in a.shape if s == 0) != 1:
            raise TorchRuntimeError("Number of zero sized dimensions is more than one, so unique cannot be applied ")
    return d


LEXSORT_MAX_KEYS = 8  # rows wider than this sort as one key each (_row_keys), not by one NumPy key per column


def _row_keys(rows):
    """One void key per row of a 2-d array whose bytes compare (memcmp) in the rows' lexicographic numeric
    order, as np.lexsort(rows.T[::-1]) orders them: -0.0 one with 0.0, NaN after +inf. A copy of the rows and
    a bool mask at most, where lexsort would make one key array per column (redteam9 F2/F4: 4e6 columns of one
    row took a worker to 614 MiB)."""
    dt = rows.dtype
    if dt.kind in "bu":
        u = np.array(rows.view(np.uint8) if dt.kind == "b" else rows, copy=True)
    else:
        ut = np.dtype(f"u{dt.itemsize}")
        sign = ut.type(1 << (8 * dt.itemsize - 1))
        if dt.kind == "f":
            x = np.array(rows, copy=True)
            x += dt.type(0)  # -0.0 -> 0.0
            x[np.isnan(x)] = dt.type(np.nan)  # one NaN (positive): after +inf
            u = x.view(ut)
            neg = (u & sign).astype(bool)
            u[neg] = ~u[neg]  # negatives: every bit flipped (more negative, smaller)
            u[~neg] |= sign  # positives: above every negative
        else:
            u = np.array(rows, copy=True).view(ut)
            u ^= sign
    u = u.byteswap().view(u.dtype.newbyteorder(">")) if u.dtype.byteorder != "|" else u  # most significant first
    u = np.ascontiguousarray(u)
    return u.view(np.dtype((np.void, u.dtype.itemsize * u.shape[1]))).reshape(-1)


def _row_order(rows):
    """The stable lexicographic order of the rows of a 2-d array; no sort for 0 or 1 rows (a [0, N] tensor's N
    columns are no work)."""
    m, k = rows.shape
    if m <= 1 or k == 0:
        return np.arange(m)
    if k <= LEXSORT_MAX_KEYS:
        return np.lexsort(rows.T[::-1])
    return np.argsort(_row_keys(rows), kind="stable")


def _unique_dim(a, dim, sorted=True, return_inverse=False, return_counts=False):  # noqa: A002
    d = _dim_checks(a, dim)
    moved, rows = _rows(a, d)
    m = rows.shape[0]
    order = _row_order(rows)
    s = rows[order]
    new = _groups((s[1:] == s[:-1]).all(axis=1) if m > 1 else np.zeros(0, bool), m)
    kept, inverse, counts = _finish(s[new], new, order, m, return_inverse, return_counts)
    vals = np.moveaxis(kept.reshape((kept.shape[0],) + moved.shape[1:]), 0, d)
    return np.ascontiguousarray(vals), inverse, counts


def _unique_consecutive(a, return_inverse=False, return_counts=False, dim=None):
    if dim is None:
        flat = a.reshape(-1)
        n = flat.size
        new = _groups(flat[1:] == flat[:-1], n)
        vals, inverse, counts = _finish(flat[new], new, np.arange(n), n, return_inverse, return_counts)
        return vals, inverse.reshape(a.shape) if return_inverse else inverse, counts
    d = _dim_checks(a, dim)
    moved, rows = _rows(a, d)
    m = rows.shape[0]
    new = _groups((rows[1:] == rows[:-1]).all(axis=1) if m > 1 else np.zeros(0, bool), m)
    kept, inverse, counts = _finish(rows[new], new, np.arange(m), m, return_inverse, return_counts)
    vals = np.moveaxis(kept.reshape((kept.shape[0],) + moved.shape[1:]), 0, d)
    return np.ascontiguousarray(vals), inverse, counts


def _rule(self, return_inverse=False, return_counts=False, dim=None):
    n = numel(self.shape)
    # values, inverse and counts at most the input's size each; the sort's order and keys, the group marks; with
    # the inverse or the counts, their int64 index arrays on top (measured: docs/runs/fixrev.md, B4)
    work = wide((6 if return_inverse or return_counts else 3) * n, self) + n
    if dim is None:
        return Cost((tuple(self.shape), tuple(self.shape), (n,)), sort_flops(n, n) + 8 * n, work, exact=False)
    # with dim: the inverse and counts are as long as the selected dim; a zero-element tensor passes the forward's
    # checks only where that dim is the zero one (redteam9 F1), so its bound is 0 (torch's 422 first, not a 413).
    # Rows wider than LEXSORT_MAX_KEYS sort as one key each: a copy of the rows and a mask on top (_row_keys)
    if not len(self.shape):
        length = 1
    else:
        length = int(self.shape[dim % len(self.shape)]) if n else 0
    work += 2 * n + length
    return Cost((tuple(self.shape), (length,), (length,)), sort_flops(n, length) + 8 * n + length, work, exact=False)


_b, _j = _not_implemented("_unique2")
unique2_op = defop("_unique2(Tensor self, bool sorted=True, bool return_inverse=False, bool return_counts=False) "
                   "-> (Tensor, Tensor, Tensor)", _unique2, nout=3, jvp=_j, self=_b,
                   rule=lambda self, sorted, return_inverse, return_counts: _rule(self, return_inverse, return_counts))
_b, _j = _not_implemented("unique_dim")
unique_dim_op = defop("unique_dim(Tensor self, int dim, bool sorted=True, bool return_inverse=False, "
                      "bool return_counts=False) -> (Tensor, Tensor, Tensor)", _unique_dim, nout=3, jvp=_j, self=_b,
                      rule=lambda self, dim, sorted, return_inverse, return_counts: _rule(self, return_inverse,
                                                                                      return_counts, dim))
_b, _j = _not_implemented("unique_consecutive")
unique_consecutive_op = defop("unique_consecutive(Tensor self, bool return_inverse=False, bool return_counts=False, "
                              "int? dim=None) -> (Tensor, Tensor, Tensor)", _unique_consecutive, nout=3, jvp=_j,
                              self=_b, rule=lambda self, return_inverse, return_counts, dim: _rule(self, return_inverse,
                                                                                               return_counts, dim))


def _pick(out, return_inverse, return_counts):
    if return_inverse and return_counts:
        return out[0], out[1], out[2]
    if return_inverse:
        return out[0], out[1]
    if return_counts:
        return out[0], out[2]
    return out[0]


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim: int | None = None):
    """The distinct values (or slices along `dim`), sorted; optionally the inverse indices and the counts."""
    ri, rc = bool(return_inverse), bool(return_counts)
    if dim is None:
        return _pick(unique2_op(input, bool(sorted), ri, rc), ri, rc)
    return _pick(unique_dim_op(input, dim, bool(sorted), ri, rc), ri, rc)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None):
    """Each run of equal consecutive values (or slices along `dim`) collapsed to one; optionally the inverse
    indices and the run lengths."""
    ri, rc = bool(return_inverse), bool(return_counts)
    return _pick(unique_consecutive_op(input, ri, rc, dim), ri, rc)


CATALOG = [
    entry("unique", unique, "Distinct values (or slices along `dim`), sorted; with return_inverse / "
          "return_counts a tuple. No derivative (its node's backward fails, as torch's).", unique2_op,
          unique_dim_op),
    entry("unique_consecutive", unique_consecutive, "Runs of equal consecutive values (or slices along `dim`) "
          "collapsed; with return_inverse / return_counts a tuple. No derivative.", unique_consecutive_op),
]
