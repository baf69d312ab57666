"""linspace and arange values as torch's CPU kernels compute them (RangeFactoriesKernel.cpp), to the bit.

linspace: step = (end - start) / (steps - 1) in the dtype; element i is start + step * i for the first half
and end - step * (steps - 1 - i) for the rest (the two-sided step, exact at both ends), each a fused
multiply-add (torch's vectorized and scalar paths agree on this: measured on torch 2.13). float16 rounds every
operation to half (c10::Half's operators), unfused. Integer dtypes take start and end as integers and the
step and the products in double, truncated.

arange: in double (float32/float64; float for float16), in 32-byte vectors as torch's kernel runs them: each
vector's base is start + step * i0, rounded to the dtype, and its lanes are base + j * step (fused, in double,
then rounded); elements past the last pair of vectors are start + step * i. Past GRAIN_SIZE elements torch
splits the range among its threads, each starting its own vectors: the split follows engine.ops._torch_sum's
model of torch's thread count.
"""
from __future__ import annotations

import math

import numpy as np

from engine._fma import fma
from engine.errors import TorchRuntimeError, TorchValueError
from engine.ops._torch_sum import GRAIN_SIZE, VECTOR_BYTES, torch_threads
from engine.ops.scalar_fit import check_fits, converted, float32_of_int


def linspace_values(start, end, steps, dt):
    """`steps` values from start to end as a NumPy array of dtype dt."""
    dt = np.dtype(dt)
    if steps == 0:
        return np.zeros(0, dt)
    i = np.arange(steps)
    half = steps // 2
    if dt == np.float16:  # c10::Half arithmetic: every operation rounds to half, no fusion
        h = np.float16
        with np.errstate(over="ignore"):  # c10 stores a number into float16 through float32 (one rounding each)
            s, e = (h(np.float32(float32_of_int(v) if type(v) is int else v)) for v in (start, end))
        if steps == 1:
            return np.array([s], dt)
        step = h(h(e - s) / h(steps - 1))
        lo = s + step * i[:half].astype(h)
        hi = e - step * (steps - 1 - i[half:]).astype(h)
        return np.concatenate([lo, hi]).astype(dt)
    if dt.kind == "f":
        s, e = dt.type(start), dt.type(end)
        if steps == 1:
            return np.array([s], dt)
        step = (e - s) / dt.type(steps - 1)  # step_t is the dtype itself
        lo = fma(step, i[:half].astype(dt), s, dt)
        hi = fma(-step, (steps - 1 - i[half:]).astype(dt), e, dt)
        return np.concatenate([lo, hi]).astype(dt)
    s, e = int(start), int(end)  # scalar_start.to<int>: truncation toward zero
    if steps == 1:
        return np.array([s], dt)
    step = (float(e) - float(s)) / (steps - 1)
    lo = fma(step, i[:half].astype(np.float64), float(s), np.float64)
    hi = fma(-step, (steps - 1 - i[half:]).astype(np.float64), float(e), np.float64)
    return np.trunc(np.concatenate([lo, hi])).astype(dt)


def _arange_range(start, step, lo, hi, dt, acc):
    """Elements lo..hi-1 of one thread's range, as torch's serial kernel makes them from index lo."""
    w = VECTOR_BYTES // dt.itemsize
    nvec = ((hi - lo) // (2 * w)) * 2 * w
    out = []
    if nvec:
        bases = fma(acc(step), np.arange(lo, lo + nvec, w, dtype=acc), acc(start), acc).astype(dt).astype(acc)
        lanes = np.arange(w, dtype=acc)
        out.append(fma(lanes[None, :], acc(step), bases[:, None], acc).astype(dt).reshape(-1))
    k = np.arange(lo + nvec, hi, dtype=acc)
    out.append(fma(acc(step), k, acc(start), acc).astype(dt))
    return np.concatenate(out)


def arange_values(start, step, n, dt):
    """n values start, start + step, ... as a NumPy array of a float dtype dt."""
    dt = np.dtype(dt)
    acc = np.float32 if dt == np.float16 else np.float64
    threads = torch_threads()
    if n < GRAIN_SIZE or threads == 1:
        return _arange_range(start, step, 0, n, dt, acc)
    used = min(threads, -(-n // GRAIN_SIZE))
    chunk = -(-n // used)
    return np.concatenate([_arange_range(start, step, lo, min(n, lo + chunk), dt, acc)
                           for lo in range(0, n, chunk)])


def _c_double(x: float) -> str:
    """A double as C++'s ostream writes it (printf's %g: six significant digits; glibc's -nan)."""
    if x != x:
        return "-nan" if math.copysign(1.0, x) < 0 else "nan"
    return f"{x:g}"


def _int64_of(v) -> int:
    """Scalar::to<int64_t>(): checked (c10's overflow test, "value cannot be converted to type int64_t without
    overflow"), a double truncated toward zero (2.0**63 passes the test and wraps, as c10's cast)."""
    check_fits(v, _I64)
    return converted(v, _I64)


_I64 = np.dtype(np.int64)


def arange_size(start, end, step, dt) -> int:
    """torch's compute_arange_size for a result of NumPy dtype dt, with its errors in its order:
    arange_check_bounds in double (step nonzero, start and end finite, the step's sign), then for int64 the
    exact integer count ceil((end - start + step - sign) / step) over int64 (C's wrapping arithmetic and
    truncating division; the three converted as Scalar::to<int64_t>, a zero step torch's ValueError) and
    for any other dtype ceil((end - start) / step) in double; a count below 0 or above 2**63 (or NaN) is
    "invalid size", and 2**63 itself becomes INT64_MIN, which resize refuses."""
    ds, de, dst = float(start), float(end), float(step)
    if not (dst > 0 or dst < 0):
        raise TorchRuntimeError("step must be nonzero")
    if not (math.isfinite(ds) and math.isfinite(de)):
        raise TorchRuntimeError(f"unsupported range: {_c_double(ds)} -> {_c_double(de)}")
    if not (dst > 0 and de >= ds or dst < 0 and de <= ds):
        raise TorchRuntimeError("upper bound and lower bound inconsistent with step sign")
    if np.dtype(dt) == _I64:
        xs, xe, xst = _int64_of(start), _int64_of(end), _int64_of(step)
        if xst == 0:
            raise TorchValueError("step must be nonzero")
        num = _wrap64(_wrap64(_wrap64(xe - xs) + xst) - (1 if xst > 0 else -1))
        q = abs(num) // abs(xst) * (1 if (num < 0) == (xst < 0) else -1)  # C's division: toward zero
        size_d = float(_wrap64(q))
    else:
        with np.errstate(all="ignore"):
            size_d = math.ceil(d) if math.isfinite(d := (de - ds) / dst) else d
    if not (size_d >= 0 and size_d <= 2.0**63):
        raise TorchRuntimeError("invalid size, possible overflow?")
    if size_d == 2.0**63:  # static_cast<int64_t>(2**63) is INT64_MIN
        raise TorchRuntimeError("IntArrayRef contains an int that cannot be represented as a SymInt: "
                                "-9223372036854775808")
    return int(size_d)


def _wrap64(v: int) -> int:
    return (v + (1 << 63)) % (1 << 64) - (1 << 63)


def arange_start_step(start, step, dt):
    """arange_kernel's start and step in its accumulate type (Scalar::to, checked): int64 for every integer
    dtype, float for float16 (c10's one rounding of an int: float32_of_int), double otherwise."""
    dt = np.dtype(dt)
    if dt.kind in "iu":
        return _int64_of(start), _int64_of(step)
    if dt == np.float16:
        out = []
        for v in (start, step):
            check_fits(v, np.float32)
            out.append(float32_of_int(int(v)) if isinstance(v, int) else float(np.float32(v)))
        return tuple(out)
    return float(start), float(step)


def arange_int_values(start: int, step: int, n: int, dt):
    """start + step * i over int64 (wrapping, as the kernel's C arithmetic), cast to the integer dtype dt."""
    with np.errstate(over="ignore"):
        return (np.arange(n, dtype=np.int64) * np.int64(step) + np.int64(start)).astype(dt)
