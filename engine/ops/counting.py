"""Ops whose output size depends on the input's VALUES: nonzero (and as_tuple) / argwhere, bincount, histc.

Safety: each charges its output before it allocates it. nonzero's rule bounds its output by every element being
nonzero (numel x ndim indices); histc's output is `bins` long, known from its arguments, so its rule states it
exactly; bincount's length is max(input) + 1 (or minlength), which only the values tell: its forward reads the
maximum first and charges the output (elements and bytes) before np.zeros / np.bincount make it, as
repeat_interleave charges its repeats' sum (engine/ops/shape_more.py)."""
from __future__ import annotations

import math

import numpy as np

from engine import dtypes as D
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchTypeError
from engine.ops import factory as F
from engine.ops import pointwise as P
from engine.ops.registry import entry, nondiff
from engine.ops.rules import Cost, numel, wide
from engine.ops.scalar_fit import check_fits
from engine.tensor import Tensor

# ----- nonzero / argwhere -----


def _nonzero(a):
    return np.asarray(np.argwhere(a), dtype=np.int64)


def _nonzero_rule(self):
    n, d = numel(self.shape), len(self.shape)
    # at most every element nonzero; np.argwhere holds a bool mask and the d index arrays before their stack
    return Cost((n, d), n, wide(n * d, self) + n, exact=False)


nonzero_op = nondiff("nonzero(Tensor self) -> Tensor", _nonzero, rule=_nonzero_rule)


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, or with as_tuple one 1-d tensor per dim (a
    0-d input counts as 1-d)."""
    if not isinstance(input, Tensor):
        raise TorchTypeError(f"nonzero(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not as_tuple:
        return nonzero_op(input)
    x = input.reshape(1) if input.ndim == 0 else input
    idx = nonzero_op(x)._data
    return tuple(Tensor._make(idx[:, i]) for i in range(x.ndim))


def argwhere(input: Tensor) -> Tensor:
    """The indices of the nonzero elements, one row each (torch.nonzero(input))."""
    if not isinstance(input, Tensor):
        raise TorchTypeError(f"argwhere(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return nonzero_op(input)


# ----- bincount -----


def _charge(n, itemsize, flops, what):
    F._charge((int(n),), itemsize, what, flops=flops)


def _bincount(a, weights=None, minlength=0):
    if a.dtype.kind not in "iu":
        raise TorchNotImplementedError(f"\"bincount_cpu\" not implemented for '{D.scalar_type_name(a.dtype)}'")
    minlength = int(minlength)
    if minlength < 0:
        raise TorchRuntimeError("minlength should be >= 0")
    if a.ndim == 1 and a.size == 0:
        _charge(minlength, 8, 0, "bincount")
        return np.zeros(minlength, dtype=np.int64)
    if a.ndim != 1 or int(a.min()) < 0:
        raise TorchRuntimeError("bincount only supports 1-d non-negative integral inputs.")
    nbins = max(int(a.max()) + 1, minlength)
    if weights is not None and (weights.ndim != 1 or weights.shape[0] != a.shape[0]):
        raise TorchRuntimeError("weights should be 1-d and have the same length as input")
    out_dt = np.int64 if weights is None else (np.float32 if weights.dtype == np.float32 else np.float64)
    # the output's length is the input's largest VALUE plus one: charged before anything of that length exists
    _charge(nbins, 8, a.size + nbins, "bincount")
    if weights is None:
        return np.bincount(a, minlength=nbins).astype(np.int64, copy=False)
    if out_dt == np.float32:  # torch adds float weights one by one in float32
        out = np.zeros(nbins, dtype=np.float32)
        np.add.at(out, a, weights)
        return out
    return np.bincount(a, weights=weights.astype(np.float64, copy=False), minlength=nbins)


bincount_op = nondiff("bincount(Tensor self, Tensor? weights=None, int minlength=0) -> Tensor", _bincount,
                      rule=lambda self, weights, minlength: Cost((max(int(minlength), 0),), numel(self.shape),
                                                                 exact=False))


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Counts of each value of a 1-d non-negative integer tensor (or the sums of `weights` at them); its length is
    max(input) + 1 or minlength. No derivative (with weights that require grad, grad_fn NotImplemented)."""
    out = bincount_op(input, weights, minlength)
    if weights is not None:
        return P._not_implemented("bincount", out, weights)
    return out


# ----- histc -----


def _cpp_double(v: float) -> str:
    """A double as C++'s ostream prints it (torch's message): 6 significant digits, a NaN as nan or -nan by its
    sign bit (the input's NaN, which min / max propagate)."""
    if np.isnan(v):
        return "-nan" if np.signbit(v) else "nan"
    return f"{v:g}"


def _widen(dtype, lo: float, hi: float):
    """torch's bins_edges_correction (Histogram.cpp) of an empty range: for float32 / float64 the wider of one
    step of the dtype (nexttoward its lowest / max, from the edge cast to the dtype) and one (lo - 1, hi + 1, in
    double: 1e300 - 1 is 1e300); for the other dtypes lo - 1 and hi + 1."""
    if dtype.kind != "f" or dtype.itemsize < 4:
        return lo - 1, hi + 1
    info = np.finfo(dtype)
    with np.errstate(all="ignore"):
        down = float(np.nextafter(dtype.type(lo), info.min))
        up = float(np.nextafter(dtype.type(hi), info.max))
    return min(down, lo - 1), max(up, hi + 1)


def _histc_edges(a, lo: float, hi: float):
    """The outer edges torch's kernel reads: linspace(lo, hi, bins + 1) in the input's dtype, its first element
    start + step * 0 and its last end - step * 0 (RangeFactoriesKernel), with step = (end - start) / bins in that
    dtype: where end - start overflows the dtype the step is inf, both edges NaN, and every element is skipped."""
    dt = a.dtype.type
    left, right = dt(lo), dt(hi)
    with np.errstate(all="ignore"):
        if not np.isfinite(right - left):
            return dt(math.nan), dt(math.nan)
    return left, right


def _histc_positions(x, left, right, bins: int):
    """torch's LINEAR_INTERPOLATION bin of each element (HistogramKernel.cpp), in its order and dtype:
    (x - left) * bins / (right - left), bins cast to the dtype (float16 rounds 4099 to 4100), truncated to int64.
    A NaN or infinite quotient (the product overflows, or right == left once cast) casts to INT64_MIN, which
    torch's pointer arithmetic (INT64_MIN times the element size wraps to 0) lands in bin 0; the right edge
    (pos == bins) belongs to the last bin; a position past bins (float16's rounded-up bins only) is torch's write
    past its histogram row (undefined: another thread's row, or heap corruption): dropped here."""
    dt = x.dtype.type
    with np.errstate(all="ignore"):
        q = (((x - left) * dt(bins)) / (right - left)).astype(np.float64)
    ok = np.isfinite(q) & (q < 2.0 ** 63)
    pos = np.zeros(q.shape, dtype=np.int64)
    pos[ok] = q[ok].astype(np.int64)
    pos[pos == bins] = bins - 1
    return pos[pos < bins]


def _histc(a, bins=100, min=0, max=0):  # noqa: A002
    bins = int(bins)
    if bins <= 0:
        raise TorchRuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(np.min(a)), float(np.max(a))  # NaN propagates, as aminmax
        if a.size > 1 and lo != lo:  # aminmax's vector reduction makes the CPU's default NaN (x86: -nan); one
            lo = hi = -math.nan  # element is read as it is (its own sign): torch 2.13, measured
    if lo == hi:
        lo, hi = _widen(a.dtype, lo, hi)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise TorchRuntimeError(f"torch.histc: range of [{_cpp_double(lo)}, {_cpp_double(hi)}] is not finite")
    if not lo < hi:
        raise TorchRuntimeError("torch.histc: max must be larger than min")
    if a.dtype.kind == "b":  # torch makes the edges with linspace in the input's dtype first
        raise TorchNotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    check_fits(lo, a.dtype)  # linspace's Scalar::to<T>: its overflow message
    check_fits(hi, a.dtype)
    if a.dtype.kind != "f":
        raise TorchNotImplementedError(f"\"histogram_cpu\" not implemented for '{D.scalar_type_name(a.dtype)}'")
    left, right = _histc_edges(a, lo, hi)
    x = a.reshape(-1)
    x = x[(x >= left) & (x <= right)]  # NaN elements (and NaN edges) skipped, as torch
    return np.bincount(_histc_positions(x, left, right, bins), minlength=bins)[:bins].astype(a.dtype)


def _histc_rule(self, bins, min, max):  # noqa: A002
    n = numel(self.shape)
    # the in-range copy and two dtype temporaries; the float64 quotient, the int64 positions and their filtered
    # copy (with the masks, a fourth wide array); bincount's int64 counts of `bins` before the cast (an empty input
    # with bins = N: N of them)
    return Cost((int(bins),), 6 * n + int(bins), 3 * n + wide(4 * n + int(bins), self))


histc_op = nondiff("histc(Tensor self, int bins=100, Scalar min=0, Scalar max=0) -> Tensor", _histc, rule=_histc_rule)


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """A histogram of `bins` equal bins over [min, max] (the data's range where min == max); values outside are
    ignored. Float input only; no derivative."""
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer):
        raise TorchTypeError(f"histc(): argument 'bins' (position 2) must be int, not {type(bins).__name__}")
    return histc_op(input, bins, min, max)


CATALOG = [
    entry("nonzero", nonzero, "Indices of the nonzero elements: (n, ndim) int64, or one 1-d tensor per dim with "
          "as_tuple=True. Its size depends on the values (charged at its bound, every element nonzero)."),
    entry("argwhere", argwhere, "Indices of the nonzero elements, one row each (nonzero)."),
    entry("bincount", bincount, "Counts (or summed weights) of each value of a 1-d non-negative integer tensor; "
          "length max(input) + 1 or minlength, charged before it is made."),
    entry("histc", histc, "Histogram of `bins` equal bins over [min, max] (the data's range when min == max); "
          "float input."),
]
