"""Factories sized by their arguments and the diagonal fill: tril_indices / triu_indices, logspace, vander,
Tensor.fill_diagonal_.

Safety: tril_indices / triu_indices count their output in closed form (no loop over rows) and charge it
before building it, and build it from the rows that have entries only (a 10**12-row request with few entries
never makes a 10**12 array); logspace charges its steps as linspace does; vander is torch's own composition
(a filled matrix, a slice copy, cumprod, flip) of engine ops, each charging its part, so its graph is torch's
(CopySlices, CumprodBackward0, FlipBackward0)."""
from __future__ import annotations

import math

import numpy as np

from engine import budget
from engine import dtypes as D
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchValueError
from engine.ops import factory as F
from engine.ops import join_rearrange as JR
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.ops.registry import entry
from engine.ops.scalar_fit import check_fits, converted, float32_of_int, scalar_arg
from engine.tensor import Tensor

# ----- tril_indices / triu_indices -----


def _tril_count(row: int, col: int, offset: int) -> int:
    """Entries (i, j) of a row x col matrix with j <= i + offset, in closed form."""
    if row <= 0 or col <= 0:
        return 0
    a = min(max(-offset, 0), row)  # the first row with an entry (i + offset + 1 >= 1)
    b = min(max(col - offset - 1, a), row)  # the first full row (i + offset + 1 >= col)
    return (b - a) * (offset + 1) + (a + b - 1) * (b - a) // 2 + (row - b) * col


def _check_args(name, row, col, dtype):
    if row < 0:
        raise TorchRuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise TorchRuntimeError(f"col must be non-negative, got{col}")
    dt = dtype or D.int64
    if dt.category != 1:
        raise TorchNotImplementedError(f"\"{name}\" not implemented for '{D.scalar_type_name(dt.np)}'")
    return dt


def _indices(name, row, col, offset, dtype, lower):
    row, col, offset = int(row), int(col), int(offset)
    if any(not -2**63 <= v < 2**63 for v in (row, col, offset)):  # torch's argument parser: int64 only
        raise TorchValueError("Overflow when unpacking long long")
    dt = _check_args(name, row, col, dtype)
    n = _tril_count(row, col, offset) if lower else row * col - _tril_count(row, col, offset - 1)
    # the (2, n) output, and the index arrays it is made from (about four of n int64)
    F._charge((2, n), dt.itemsize, name, 16, flops=4.0 * n)
    if n == 0:
        return F._finish(np.zeros((2, 0), dtype=dt.np), False)
    if lower:  # rows [first, row): min(col, i + offset + 1) entries from column 0
        first = min(max(-offset, 0), row)
        rows = np.arange(first, row, dtype=np.int64)
        start = np.zeros_like(rows)
        counts = np.minimum(col, rows + offset + 1)
    else:  # rows [0, min(row, col - offset)): columns from max(0, i + offset) to col - 1
        rows = np.arange(0, min(row, col - offset), dtype=np.int64)
        start = np.clip(rows + offset, 0, col)
        counts = col - start
    ends = np.cumsum(counts)
    out = np.empty((2, n), dtype=dt.np)
    out[0] = np.repeat(rows, counts)
    out[1] = np.arange(n, dtype=np.int64) - np.repeat(ends - counts, counts) + np.repeat(start, counts)
    return F._finish(out, False)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None,
                 pin_memory=False) -> Tensor:
    """The (2, n) indices of the lower triangle of a row x col matrix (j <= i + offset), row by row."""
    return _indices("tril_indices", row, col, offset, dtype, True)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None,
                 pin_memory=False) -> Tensor:
    """The (2, n) indices of the upper triangle of a row x col matrix (j >= i + offset), row by row."""
    return _indices("triu_indices", row, col, offset, dtype, False)


# ----- logspace -----

_POW = np.frompyfunc(lambda b, x: _pow_or_inf(b, x), 2, 1)
_CHUNK = 1 << 16


def _pow_or_inf(b, x):
    try:
        return math.pow(b, x)
    except OverflowError:  # (a negative base to an odd integer power keeps its sign)
        return -math.inf if b < 0 and x == int(x) and int(x) % 2 == 1 else math.inf
    except ValueError:  # C's pow: a pole at zero (+-inf, the sign of zero for an odd integer power) or NaN
        if b == 0 and x < 0:
            odd = x == int(x) and int(x) % 2 == 1
            return math.copysign(math.inf, b) if odd else math.inf
        return math.nan


def _libm_pow(base, expo):
    """base ** expo elementwise by libm's pow (std::pow, torch's kernel), not NumPy's vectorized power (its
    roundings differ by an ulp at some values), a chunk at a time with the deadline checked between."""
    out = np.empty(expo.shape, dtype=np.float64)
    for k in range(0, expo.size, _CHUNK):
        budget.check()
        out[k:k + _CHUNK] = _POW(base, expo[k:k + _CHUNK])
    return out


def logspace(start: float, end: float, steps: int, base: float = 10.0, *, dtype=None, requires_grad=False,
             device=None, layout=None, pin_memory=False) -> Tensor:
    """base ** linspace(start, end, steps): torch's kernel (exponents in double from the dtype's start and end,
    the second half counted back from end), cast to dtype."""
    if isinstance(start, Tensor) or isinstance(end, Tensor):
        ds, de = (x.ndim if isinstance(x, Tensor) else 0 for x in (start, end))
        if ds or de:
            raise TorchRuntimeError("logspace only supports 0-dimensional start and end tensors, but got start with "
                                    f"{ds} dimension(s) and end with {de} dimension(s).")
        start, end = (x.item() if isinstance(x, Tensor) else x for x in (start, end))
    scalar_arg(start)  # the parser's Scalars first: OverflowError past uint64 / below int64 (review15 R4)
    scalar_arg(end)
    if type(steps) is int and not -(1 << 63) <= steps < 1 << 63:
        raise TorchValueError("Overflow when unpacking long long")
    steps = int(steps)
    if steps < 0:
        raise TorchRuntimeError("number of steps must be non-negative")
    dt = dtype or D.default_float
    F._charge((steps,), dt.np.itemsize, "logspace", 32, 10)  # the double exponents, powers, index; the cast
    base = float(base)
    kind = dt.np.kind
    if steps == 0:
        vals = np.zeros(0, dtype=np.float64)
    elif steps == 1:  # the kernel fills std::pow(base, start), a Scalar checked as the dtype stores it (float16
        v = _pow_or_inf(base, float(start))  # unchecked: a one-element fill)
        if kind in "iu" or dt.np == np.float32:
            check_fits(v, dt.np)
        vals = np.array([bool(v) if kind == "b" else v], dtype=np.float64)
    elif kind == "b":
        raise TorchNotImplementedError('"logspace_cpu" not implemented for \'Bool\'')
    else:  # the kernel's checked Scalar::to<scalar_t> of both ends, then exponents in double
        check_fits(start, dt.np)
        check_fits(end, dt.np)
        if kind in "iu":  # the ends wrapped as the dtype stores them
            s, e = converted(start, dt.np), converted(end, dt.np)
            diff = e - s if dt.np.itemsize < 8 else converted(e - s, dt.np)  # int64's subtraction wraps
        elif dt.np.itemsize == 8:
            s, e = float(start), float(end)
            diff = e - s
        else:  # c10 converts a number into float32, and into float16 through float32
            with np.errstate(all="ignore"):
                s, e = (np.float32(float32_of_int(v) if type(v) is int else v).astype(dt.np) for v in (start, end))
                diff = e - s  # (in the dtype: float16's difference rounds, or overflows, to float16)
        step = float(diff) / (steps - 1)
        i = np.arange(steps, dtype=np.float64)
        half = steps // 2
        expo = np.where(i < half, float(s) + step * i, float(e) - step * (steps - i - 1))
        vals = _libm_pow(base, expo)
    if dt.np == np.float16:  # (a double stored into float16 is rounded through float, as c10's Half)
        with np.errstate(all="ignore"):
            vals = vals.astype(np.float32)
    with np.errstate(all="ignore"):
        out = vals.astype(dt.np)
    return F._finish(out, requires_grad)


# ----- vander -----


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:  # noqa: N803 - torch's name
    """The Vandermonde matrix of 1-d x: columns x ** (N - 1), ..., x ** 0 (or increasing); integer input
    computes in int64. torch's composition, so its graph is torch's."""
    if x.ndim != 1:
        raise TorchRuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0]
    if N is not None:
        n = int(N)
        if n < 0:
            raise TorchRuntimeError("N must be non-negative.")
    dt = D.promote_types(x.dtype, D.int64)
    result = F.zeros(x.shape[0], n, dtype=dt)
    if n > 0:
        result.fill_(1)
        if n > 1:
            tail = result[:, 1:]
            tail.copy_(S.unsqueeze(x, 1))
            tail = result[:, 1:]
            tail.copy_(R.cumprod(tail, 1))
    if not increasing:
        return JR.flip(result, [1])
    return result


# ----- fill_diagonal_ -----


def _wrap_mask(self: Tensor, height: int, width: int, size: int):
    """The logical elements torch's wrap writes (storage positions stride0 * (width + 1) + k * (stride0 +
    stride1) from the first element) as a bool mask over self; a position that is no element of self (a column
    slice's storage beyond its columns) or two elements sharing one is refused: the engine has no storage to
    write it to."""
    s0, s1 = self.stride()
    step = s0 + s1
    count = (self.numel() + width) // (width + 1) - size  # torch counts by width + 1, steps by the strides
    if count <= 0:
        return None
    n = height * width
    b = budget.current()
    if b is not None:  # the element positions, their order, the targets and the mask
        b.charge(n * 17 + count * 16, 2.0 * n, "fill_diagonal_")
    pos = (np.arange(height, dtype=np.int64)[:, None] * s0 + np.arange(width, dtype=np.int64)[None, :] * s1)
    pos = pos.reshape(-1)
    order = np.argsort(pos, kind="stable")
    ranked = pos[order]
    targets = s0 * (width + 1) + step * np.arange(count, dtype=np.int64)
    at = np.searchsorted(ranked, targets)
    inside = at < n
    hit = np.zeros(count, dtype=bool)
    hit[inside] = ranked[at[inside]] == targets[inside]
    shared = n > 1 and bool((ranked[1:] == ranked[:-1]).any())
    if not hit.all() or shared:
        raise TorchRuntimeError(
            f"fill_diagonal_ with wrap=True on a non-contiguous tensor (strides ({s0}, {s1})) would write memory "
            "outside the tensor; gradserve does not model storage beyond a tensor's elements: make it contiguous "
            "first (.contiguous()), or fill without wrap")
    mask = np.zeros(n, dtype=bool)
    mask[order[at]] = True
    return mask.reshape(height, width)


def fill_diagonal_(self: Tensor, fill_value: float, wrap: bool = False) -> Tensor:
    """Tensor.fill_diagonal_: the main diagonal (every dim equal beyond 2-d) set to fill_value in place; with
    wrap, a tall matrix's diagonal restarts every width + 1 rows. torch fills as_strided(self, [min(h, w)],
    [sum of strides]): always the logical diagonal x[i, ..., i], here a chain of diagonal views, so any layout
    is written through (CopySlices, as torch); the wrap part by storage positions, mapped to self's elements."""
    from engine.ops.shape_strided import as_strided  # noqa: PLC0415

    scalar_arg(fill_value)  # the parser's OverflowError past uint64 / below int64, before any check (review15 R4)
    nd = self.ndim
    if nd < 2:
        raise TorchRuntimeError("dimensions must larger than 1")
    height, width = self.shape[0], self.shape[1]
    if nd > 2 and any(s != height for s in self.shape[1:]):
        raise TorchRuntimeError("all dimensions of input must be of equal length")
    if isinstance(fill_value, bool | int | float | np.number):  # fill_'s Scalar::to<T>: c10's overflow message
        check_fits(fill_value, self._data.dtype)
        fill_value = converted(fill_value, self._data.dtype)
    size = min(height, width)
    wrap = wrap and nd == 2 and height > width + 1
    contiguous = self.is_contiguous()
    mask = _wrap_mask(self, height, width, size) if wrap and not contiguous else None  # refused before writing
    diag = self.diagonal(0, 0, 1)
    while diag.ndim > 1:
        diag = diag.diagonal(0, 0, -1)
    diag.fill_(fill_value)
    if wrap and contiguous:
        step = width + 1
        wrap_size = (self.numel() + step - 1) // step - size
        as_strided(self, [wrap_size], [step], width * (width + 1)).fill_(fill_value)
    elif mask is not None:
        self[:].masked_fill_(F._finish(mask, False), fill_value)
    return self


CATALOG = [
    entry("tril_indices", tril_indices, "(2, n) indices of the lower triangle of a row x col matrix (offset "
          "diagonals above); counted and charged before they are made.", method=False),
    entry("triu_indices", triu_indices, "(2, n) indices of the upper triangle of a row x col matrix (offset "
          "diagonals above); counted and charged before they are made.", method=False),
    entry("logspace", logspace, "base ** linspace(start, end, steps), as torch's kernel.", method=False),
    entry("vander", vander, "Vandermonde matrix of 1-d x (N columns, decreasing powers unless increasing).",
          method=False, grad_fns=("CopySlices", "CumprodBackward0", "FlipBackward0")),
    entry("fill_diagonal_", fill_diagonal_, "Fill the main diagonal in place (wrap: restart every width + 1 rows "
          "of a tall matrix); CopySlices, as torch.", function=False, grad_fns=("CopySlices",)),
]
