"""The wire: reading a request document's fields, numbers and leaf data; writing arrays back as JSON."""
from __future__ import annotations

import base64
import binascii
import math
from itertools import chain

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine import dtypes as D
from engine.errors import EngineError, RequestError, TorchRuntimeError
from engine.tensor import as_tensor, tensor

TOP_FIELDS = {"leaves", "ops", "backward", "retain_grad", "grads", "outputs", "device", "seed", "encoding",
              "detect_anomaly", "functions", "expression"}
LEAF_FIELDS = {"data", "dtype", "requires_grad"}
OP_FIELDS = {"name", "op", "args", "kwargs", "no_grad"}
BACKWARD_FIELDS = {"tensor", "gradient", "retain_graph", "create_graph", "inputs"}
NAME_MAX = 128
SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# ----- request checking helpers -----


def req(cond, msg, loc, type="value_error"):
    if not cond:
        raise RequestError(msg, loc, type)


def check_fields(obj, allowed, loc):
    req(isinstance(obj, dict), "Input should be a valid dictionary", loc, "dict_type")
    for k in obj:
        if k not in allowed:
            raise RequestError("Extra inputs are not permitted", [*loc, k], "extra_forbidden")


def check_name(name, loc):
    req(isinstance(name, str), "Input should be a valid string", loc, "string_type")
    req(len(name) >= 1, "String should have at least 1 character", loc, "string_too_short")
    req(len(name) <= NAME_MAX, f"String should have at most {NAME_MAX} characters", loc, "string_too_long")


def decode_b64(obj, loc):
    """{"dtype", "shape", "b64"} -> a NumPy array (little-endian bytes), checked against its shape."""
    for k in obj:
        if k not in ("dtype", "shape", "b64"):
            raise RequestError("Extra inputs are not permitted", [*loc, k], "extra_forbidden")
    for k in ("dtype", "shape", "b64"):
        req(k in obj, "Field required", [*loc, k], "missing")
    dt, shape, text = obj["dtype"], obj["shape"], obj["b64"]
    req(dt in D.WIRE, f"Input should be {', '.join(repr(w) for w in D.WIRE)}", [*loc, "dtype"], "enum")
    req(isinstance(shape, list) and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape),
         "shape must be a list of non-negative integers", [*loc, "shape"])
    req(isinstance(text, str), "Input should be a valid string", [*loc, "b64"], "string_type")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("invalid base64", [*loc, "b64"]) from None
    npdt = D.BY_NAME[dt].np.newbyteorder("<")
    n = numel(shape)
    req(len(raw) == n * npdt.itemsize,
         f"b64 holds {len(raw)} bytes but shape {shape} of {dt} needs {n * npdt.itemsize}", [*loc, "b64"])
    # NumPy holds at most 64 dimensions, and no shape whose sizes' product passes its index type even where a
    # zero makes the count 0 ([0, 10**20]): refused here as the request's error, not NumPy's (redteam12 F7)
    req(len(shape) <= _MAX_DIMS, f"shape has {len(shape)} dimensions; at most {_MAX_DIMS} are supported",
        [*loc, "shape"])
    try:
        return np.frombuffer(raw, dtype=npdt).astype(npdt.newbyteorder("="), copy=True).reshape(shape)
    except (ValueError, OverflowError):
        raise RequestError(f"shape {shape} is too large to hold", [*loc, "shape"]) from None


_MAX_DIMS = 64


def decode_numbers(data, loc):
    """Wire numbers -> Python numbers: "NaN"/"Infinity"/"-Infinity" become floats; other strings fail;
    a {"dtype", "shape", "b64"} object becomes an array."""
    if isinstance(data, dict) and "b64" in data:
        return decode_b64(data, loc)
    if isinstance(data, str):
        if data in SPECIAL:
            return SPECIAL[data]
        raise RequestError(f"invalid number {data!r}: only \"NaN\", \"Infinity\" and \"-Infinity\" may stand "
                           "for numbers", loc, "value_error")
    if isinstance(data, list):
        out = []
        stack = [(data, out)]
        walk = _Instalments()
        while stack:
            src, dst = stack.pop()
            n = len(src)
            walk.need(DECODE_LIST_FLOPS + DECODE_VALUE_FLOPS * n)
            for lo in range(0, n, _CHUNK):
                if lo:  # the deadline within a long list (redteam13 F6)
                    _budget.check()
                for x in src if n <= _CHUNK else src[lo:lo + _CHUNK]:
                    if isinstance(x, list):
                        sub = []
                        dst.append(sub)
                        stack.append((x, sub))
                    elif isinstance(x, str):
                        dst.append(decode_numbers(x, loc))
                    elif x is None or isinstance(x, dict):
                        raise RequestError("Input should be a number or a nested list of numbers", loc,
                                           "value_error")
                    else:
                        dst.append(x)
        return out
    if data is None or isinstance(data, dict):
        raise RequestError("Input should be a number or a nested list of numbers", loc, "value_error")
    return data


# decode_numbers' walk (the lists the fast path declines: "NaN" strings, ragged or deep nesting, ints past int64),
# charged before each list is read (flops: rules.PY_STEP's 1,000 a microsecond): ~0.6-1.3 us a list, ~100-160 ns a
# value, measured over 10^6-value lists at load ~11 (docs/runs/safeL.md); torch.tensor's reading after it charges
# its own (engine.tensor_data.WALK_FLOPS). Uncharged and unchecked before: ~1 s a million rows past the deadline
# (redteam13 F6), in a thread of the server process for a body under worker_parse_min_bytes (redteam12 F1).
DECODE_LIST_FLOPS = 2000
DECODE_VALUE_FLOPS = 300
_CHUNK = 1 << 16  # a long list's values read between two checks of the deadline


class _Instalments:
    """A walk's flops charged before its work, in instalments that grow: each at least what was charged before,
    so that a nest of many short lists costs O(log) charges, never more than twice its work."""

    __slots__ = ("covered", "charged")

    def __init__(self):
        self.covered = 0.0
        self.charged = 0.0

    def need(self, flops: float) -> None:
        self.covered -= flops
        if self.covered < 0:
            more = max(-self.covered, self.charged)
            _budget.charge(0, 8, more, "the data's value-by-value reading")
            self.covered += more
            self.charged += more


def shape_of(data):
    if isinstance(data, np.ndarray):
        return list(data.shape)
    shape = []
    x = data
    while isinstance(x, list):
        shape.append(len(x))
        if not x:
            break
        x = x[0]
    return shape


def numel(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def wire_number(v):
    """A Python number as the protocol writes it: non-finite floats as strings."""
    if type(v) is float and v - v != 0:  # inf - inf and NaN - NaN are NaN: not finite
        return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
    return v


_SUM_CHECK_MAX = 256  # a vector up to this long is checked finite on its Python list (NumPy's call costs more)


def encode_array(arr):
    """An array -> JSON-ready nested lists, non-finite floats as the protocol's strings."""
    a = arr if type(arr) is np.ndarray else B.to_numpy(arr)
    if a.ndim == 0:  # most values of small graphs: one Python number, no array pass
        return wire_number(a.item())
    if a.ndim == 1 and a.shape[0] <= _SUM_CHECK_MAX:
        out = a.tolist()
        if a.dtype.kind != "f":
            return out
        total = sum(out)  # finite where every value is (NaN or an infinity makes it NaN or inf; an overflow
        if total - total == 0:  # of finite values too: that case takes the check below)
            return out
    if a.dtype.kind == "f" and a.size and not np.isfinite(a).all():
        obj = a.astype(object)
        obj[np.isnan(a)] = "NaN"
        obj[np.isposinf(a)] = "Infinity"
        obj[np.isneginf(a)] = "-Infinity"
        return obj.tolist()
    return a.tolist()



def read_leaf(name, spec, loc):
    check_fields(spec, LEAF_FIELDS, loc)
    req("data" in spec, "Field required", [*loc, "data"], "missing")
    dt = spec.get("dtype")
    if dt is not None:
        req(dt in D.WIRE, f"Input should be {', '.join(repr(w) for w in D.WIRE)}", [*loc, "dtype"], "enum")
        dt = D.BY_NAME[dt]
    rg = spec.get("requires_grad", False)
    req(isinstance(rg, bool), "Input should be a valid boolean", [*loc, "requires_grad"], "bool_type")
    raw = spec["data"]
    if isinstance(raw, list) or type(raw) in (float, int, bool):
        arr = fast_leaf(raw, spec)
        if arr is not None:
            if dt is None and rg and arr.dtype.kind == "i":
                dt = D.default_float  # whole numbers of a leaf that requires grad (API.md v1.1)
            return arr, dt or INFERRED[arr.dtype.kind], rg
    data = decode_numbers(raw, [*loc, "data"])
    if dt is None and rg and _whole_numbers(data):
        dt = D.default_float
    return data, dt, rg


def _whole_numbers(data) -> bool:
    """Only integers (no floats, no bools) in a decoded leaf: JSON's `2` for 2.0 (API.md v1.1, whole numbers)."""
    if isinstance(data, np.ndarray):
        return data.dtype.kind in "iu" and data.size > 0
    stack = [data]
    seen = False
    left = _CHUNK
    while stack:
        x = stack.pop()
        left -= 1
        if not left:  # the deadline (redteam13 F6); its flops are within decode_numbers' charge
            left = _CHUNK
            _budget.check()
        if isinstance(x, list):
            stack.extend(x)
        elif type(x) is int:
            seen = True
        else:
            return False
    return seen


INFERRED = {"b": D.bool_, "i": D.int64, "f": D.default_float}


def fast_array(raw):
    """The common case in one NumPy call: a rectangular list of plain numbers. Anything else (the
    protocol's "NaN" strings, ragged or deep nesting, integers past int64, wrong types) returns None and
    takes the element-by-element path, which gives torch's messages."""
    if type(raw) is list and not _numbers_only(raw):
        return None
    try:
        arr = np.array(raw)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None
    if arr.dtype.kind not in "bif":
        return None
    # NumPy makes [1, 2**63] a float64 array, where torch infers int64 and raises: the element-by-element path
    if arr.dtype.kind == "f" and arr.ndim and arr.size and _has_int_past(arr, raw, _2_63, _2_63f):
        return None
    return arr


def _numbers_only(raw: list) -> bool:
    """Whether the values of a list at its first path's depth are all numbers (JSON's ints, floats and bools),
    told before NumPy reads it. Where one is a string (the protocol's "NaN", or any other) np.array makes a
    unicode array of the whole list, each value as wide as the longest string (a float's repr: 32 characters,
    128 bytes): ~30 MB from a 1 MB body of floats and a "NaN", and ~380 MB, filled, from a 53 KB body of
    2,500 floats and one 40,000-character string (n values x 4 bytes x the longest: quadratic in the body),
    charged nowhere; where one is null or an object, an object array. Python's sum over the values (~40
    instructions a value, np.array's ~340) raises TypeError at the first that is not a number, as at a list or
    a string met where the first path had a number (a nest np.array refuses as well), and OverflowError at an
    int past a double beside floats (np.array's object array): the element-by-element path then reads the
    list, charged, and answers the request's error for a value that is not a number (422) before any array."""
    x = raw[0] if raw else None
    if type(x) is not list:  # a vector
        try:
            sum(raw)
        except (TypeError, OverflowError):
            return False
        return True
    flat = raw
    depth = 1
    while type(x) is list:
        depth += 1
        if depth > _MAX_DIMS:  # (np.array refuses it too; no chain of iterators that deep)
            return False
        row = x
        x = x[0] if x else None
        if type(x) is list:
            flat = chain.from_iterable(flat)
    try:  # the rows (the innermost lists): long ones summed a row a C call, short ones as one stream
        sum(map(sum, flat)) if len(row) >= _ROW_SUMS else sum(chain.from_iterable(flat))
    except (TypeError, OverflowError):
        return False
    return True


_ROW_SUMS = 16  # rows of at least this many values: a sum a row costs less than a chain through them


def fast_leaf(raw, lspec):
    """fast_array for a leaf's data, where the array it gives is what torch.tensor makes of the data with the
    leaf's other fields; None (the element-by-element path) where it is not (redteam12 F6, F10):
    - an integer dtype takes each Python int exactly, but NumPy makes [1.5, 2**63 - 1] one float64 array
      (every int rounded to a double: 2**63 - 1 then wraps to -2**63 in int64): declined where such an int
      has a magnitude of 2**53 or more (below it a double holds it exactly);
    - the whole-number rule (requires_grad, no dtype: float32) is for integers only, and NumPy makes
      [true, 2] an int64 array, which torch infers as int64 (and refuses requires_grad for)."""
    arr = fast_array(raw)
    if arr is None or not arr.ndim:
        return arr
    kind = arr.dtype.kind
    if kind == "f":
        if type(dt := lspec.get("dtype")) is str and dt in INT_WIRE and arr.size and _has_int_past(
                arr, raw, _2_53, _2_53f):
            return None
    elif kind == "i" and lspec.get("requires_grad") is True and lspec.get("dtype") is None and _has_bool(arr, raw):
        return None
    return arr


INT_WIRE = frozenset(n for n in D.WIRE if D.BY_NAME[n].category == 1)


def _has_bool(arr, raw) -> bool:
    """Whether an integer array's list held a JSON true or false (NumPy reads them as 1 and 0)."""
    flat = raw
    for _ in range(arr.ndim - 1):  # the innermost lists' elements, streamed (no object array: review13a F-E)
        flat = chain.from_iterable(flat)
    return bool in set(map(type, flat))


def _has_int_past(arr, raw, bound: int, boundf: float) -> bool:
    """Whether a float array's list holds a Python int outside [-bound, bound). Exact: the raw elements
    are read only where the array's magnitude is `boundf` or more (none, almost always: two reductions tell), a
    block at a time. (An int just below `bound` may round to `boundf` in the array: read, and compared exactly.)"""
    if arr.ndim == 1 and len(raw) <= 16:
        if -bound <= min(raw) and max(raw) < bound:
            return False
        return any(type(x) is int and not -bound <= x < bound for x in raw)
    v = arr.reshape(-1)
    if -boundf < v.min() and v.max() < boundf:  # (NaN compares False: looked at below, and is no int)
        return False
    flat = np.array(raw, dtype=object).reshape(-1)  # the raw numbers themselves, in the array's order
    for i in range(0, v.size, _BLOCK):  # bounded temporaries: a block's magnitudes at a time
        big = np.flatnonzero(np.abs(v[i:i + _BLOCK]) >= boundf)
        if big.size and any(type(x) is int and not -bound <= x < bound for x in flat[big + i]):
            return True
    return False


_2_63 = 2**63
_2_63f = 2.0**63
_2_53 = 2**53
_2_53f = 2.0**53
_BLOCK = 1 << 16


def leaf_array(a):
    """A leaf's array as PlanCache.key gives it: a float leaf's is the float itself."""
    return np.array(a) if type(a) is float else a


def check_int_range(a, npdt):
    """make_tensor's range check for data converted to integer dtype `npdt` without it (a lowered replay, a
    batch's stacked leaves: redteam7 F2): OverflowError where a value is past its range, as make_tensor raises
    (3e9 into int32 would wrap). One pass over min and max, for integer targets only."""
    if npdt.kind in "iu":
        a = np.asarray(a)
        if a.size and a.dtype != npdt:
            lo, hi = _INT_RANGE.get(npdt) or _INT_RANGE.setdefault(npdt, (np.iinfo(npdt).min, np.iinfo(npdt).max))
            if a.ndim == 0:  # one value: no reductions (a replay's common case)
                v = a.item()
                if not (lo <= v <= hi):  # NaN compares False: refused as well
                    raise OverflowError
            elif not (lo <= a.min() and a.max() <= hi):
                raise OverflowError


_INT_RANGE: dict = {}  # integer dtype -> (min, max): np.iinfo costs ~10 us a call


def cast(a, npdt, copy=True):
    """An array of a leaf's data in the leaf's dtype, as torch.tensor converts each number: an integer through
    a double (THPUtils_unpackDouble) where the dtype is a float narrower than it, so 2**60 + 2**36 + 1 rounds
    twice (to 2**60 in float32), as torch's does, not once (2**60 + 2**37) as NumPy's int64 -> float32 cast does
    (redteam12 F8). Integers of magnitude below 2**24 round alike either way: cast directly. (An int Scalar beside
    a float32 tensor is the opposite case: torch casts it once, engine.ops.scalar_fit.float32_of_int.)"""
    if a.dtype.kind in "iu" and npdt.kind == "f" and npdt.itemsize < 8 and a.size and (
            a.min() <= -_2_24 or a.max() >= _2_24):
        a = a.astype(np.float64)
    return D.cast_array(a, npdt, copy=copy)  # (a double into float16 through float32, as c10)


_2_24 = 1 << 24


def make_tensor(data, dt, loc, numbers=False):
    """A leaf's tensor from its data: Python numbers (torch.tensor's reading), or an array, cast to `dt` as a
    tensor cast does; `numbers`: the array is JSON numbers read at once (fast_leaf), cast as torch.tensor casts
    each number (wire.cast), not an array the request gave as such (base64: one rounding, as torch's .to)."""
    try:
        if isinstance(data, np.ndarray):
            if dt is not None and dt.category == 1 and data.size and dt.np != data.dtype:
                info = np.iinfo(dt.np)
                lo, hi = data.min(), data.max()
                if not (info.min <= lo and hi <= info.max):  # NaN compares False: refused as well
                    raise OverflowError
            if dt is not None:
                data = cast(data, dt.np) if numbers else D.cast_array(data, dt.np)
            return as_tensor(data, dtype=dt)  # fresh: no copy
        return tensor(data, dtype=dt)
    except EngineError as e:
        e.loc = loc
        raise
    except OverflowError:  # the array path's range check (tensor() raises torch's errors itself)
        if dt is None:  # (not reached: only an integer dtype's range is checked above)
            raise TorchRuntimeError("value cannot be converted without overflow", loc) from None
        raise TorchRuntimeError(f"value cannot be converted to type {dt.name} without overflow", loc) from None
    except (TypeError, ValueError) as e:
        raise RequestError(f"invalid tensor data: {e}", loc) from None



def wire_b64(arr):
    a = np.ascontiguousarray(B.to_numpy(arr))
    return {"dtype": D.FROM_NP[a.dtype].name, "shape": list(a.shape),
            "b64": base64.b64encode(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()).decode()}

