"""engine.evaluate: API.md's request document in, its response document out, over the library API."""
from __future__ import annotations

import base64
import binascii
import copy
import inspect
import math
import re
import threading
import warnings
from dataclasses import dataclass

import numpy as np
import orjson

from engine import _backend as B
from engine import dtypes as D
from engine.autograd import AccumulateGrad, grad_mode, run_backward
from engine.catalog import OPS
from engine.errors import (
    EngineError,
    LimitExceeded,
    RequestError,
    TorchNotImplementedError,
    TorchRuntimeError,
    TorchTypeError,
)
from engine.expression import expand as expand_expression
from engine.lower import lower
from engine.ops._util import infer_size, size_arg, wrap_dim
from engine.ops.registry import trace
from engine.printing import FIXED_RANGE, format_tensor, format_value
from engine.tensor import REQUIRES_GRAD_DTYPE_MSG, Tensor, as_tensor, tensor

# ----- limits -----


@dataclass(frozen=True)
class Limits:
    """Configured ceilings; crossing one raises LimitExceeded (HTTP 413) before anything is allocated."""

    max_tensor_elements: int = 10_000_000
    max_total_elements: int = 50_000_000
    max_ops: int = 10_000


DEFAULT_LIMITS = Limits()

TOP_FIELDS = {"leaves", "ops", "backward", "retain_grad", "grads", "outputs", "device", "seed", "encoding",
              "expression"}
LEAF_FIELDS = {"data", "dtype", "requires_grad"}
OP_FIELDS = {"name", "op", "args", "kwargs", "no_grad"}
BACKWARD_FIELDS = {"tensor", "gradient", "retain_graph", "create_graph", "inputs"}
NAME_MAX = 128
SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# torch raises these with TORCH_WARN_ONCE: once per process. A request answers as a fresh process would.
ONCE_WARNINGS = ("The use of `x.T` on tensors of dimension other than 2", "Tensor.T is deprecated on 0-D",
                 "Tensor.mT is deprecated on 0-D", "Using backward() with create_graph=True")
_TRIGGERED = re.compile(r" \(Triggered internally at .*\)\s*$", re.S)


class DeviceUnavailable(EngineError):
    """device "cuda" asked of an engine without a CUDA backend: HTTP 503."""

    type = "device_unavailable"


# ----- request checking helpers -----


def _req(cond, msg, loc, type="value_error"):
    if not cond:
        raise RequestError(msg, loc, type)


def _check_fields(obj, allowed, loc):
    _req(isinstance(obj, dict), "Input should be a valid dictionary", loc, "dict_type")
    for k in obj:
        if k not in allowed:
            raise RequestError("Extra inputs are not permitted", [*loc, k], "extra_forbidden")


def _check_name(name, loc):
    _req(isinstance(name, str), "Input should be a valid string", loc, "string_type")
    _req(len(name) >= 1, "String should have at least 1 character", loc, "string_too_short")
    _req(len(name) <= NAME_MAX, f"String should have at most {NAME_MAX} characters", loc, "string_too_long")


def decode_b64(obj, loc):
    """{"dtype", "shape", "b64"} -> a NumPy array (little-endian bytes), checked against its shape."""
    for k in obj:
        if k not in ("dtype", "shape", "b64"):
            raise RequestError("Extra inputs are not permitted", [*loc, k], "extra_forbidden")
    for k in ("dtype", "shape", "b64"):
        _req(k in obj, "Field required", [*loc, k], "missing")
    dt, shape, text = obj["dtype"], obj["shape"], obj["b64"]
    _req(dt in D.WIRE, f"Input should be {', '.join(repr(w) for w in D.WIRE)}", [*loc, "dtype"], "enum")
    _req(isinstance(shape, list) and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape),
         "shape must be a list of non-negative integers", [*loc, "shape"])
    _req(isinstance(text, str), "Input should be a valid string", [*loc, "b64"], "string_type")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("invalid base64", [*loc, "b64"]) from None
    npdt = D.BY_NAME[dt].np.newbyteorder("<")
    n = _numel(shape)
    _req(len(raw) == n * npdt.itemsize,
         f"b64 holds {len(raw)} bytes but shape {shape} of {dt} needs {n * npdt.itemsize}", [*loc, "b64"])
    return np.frombuffer(raw, dtype=npdt).astype(npdt.newbyteorder("="), copy=True).reshape(shape)


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
        while stack:
            src, dst = stack.pop()
            for x in src:
                if isinstance(x, list):
                    sub = []
                    dst.append(sub)
                    stack.append((x, sub))
                elif isinstance(x, str):
                    dst.append(decode_numbers(x, loc))
                elif x is None or isinstance(x, dict):
                    raise RequestError("Input should be a number or a nested list of numbers", loc, "value_error")
                else:
                    dst.append(x)
        return out
    if data is None or isinstance(data, dict):
        raise RequestError("Input should be a number or a nested list of numbers", loc, "value_error")
    return data


def _shape_of(data):
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


def _numel(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _wire_number(v):
    """A Python number as the protocol writes it: non-finite floats as strings."""
    if type(v) is float and v - v != 0:  # inf - inf and NaN - NaN are NaN: not finite
        return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
    return v


def encode_array(arr):
    """An array -> JSON-ready nested lists, non-finite floats as the protocol's strings."""
    a = B.to_numpy(arr)
    if a.ndim == 0:  # most values of small graphs: one Python number, no array pass
        return _wire_number(a.item())
    if a.dtype.kind == "f" and a.size and not np.isfinite(a).all():
        obj = a.astype(object)
        obj[np.isnan(a)] = "NaN"
        obj[np.isposinf(a)] = "Infinity"
        obj[np.isneginf(a)] = "-Infinity"
        return obj.tolist()
    return a.tolist()


# ----- argument binding -----


class _Binder:
    """How a request's args/kwargs map to a Python-facing function, read once from its signature."""

    __slots__ = ("params", "var_kind")

    def __init__(self, fn):
        self.params = []
        self.var_kind = "literal"  # how extra positional arguments (*size, *operands) bind
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return
        for p in sig.parameters.values():
            if p.kind is p.VAR_POSITIONAL:
                ann = p.annotation if isinstance(p.annotation, str) else ""
                self.var_kind = "tensor" if ann.startswith("Tensor") else "literal"
                continue
            if p.kind is p.VAR_KEYWORD:
                continue
            ann = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
            ann = ann or ""
            if "list[Tensor]" in ann or "Sequence[Tensor]" in ann or "tuple[Tensor" in ann:
                kind = "tensors"
            elif ann.startswith("Tensor") or "| Tensor" in ann:
                kind = "tensor_or_scalar" if re.search(r"\b(float|int|Number|bool)\b", ann) else "tensor"
            elif p.name == "dtype":
                kind = "dtype"
            elif p.name == "index" and ann == "Index":
                kind = "index"
            elif re.search(r"\bfloat\b", ann):
                kind = "number"  # the protocol's "Infinity"/"NaN" strings stand for floats here too
            else:
                kind = "literal"
            self.params.append((p.name, kind, p.kind is p.KEYWORD_ONLY))

    def kind_of(self, i=None, name=None):
        if name is not None:
            for n, k, _ in self.params:
                if n == name:
                    return k
            return "literal"
        positional = [p for p in self.params if not p[2]]
        if i < len(positional):
            return positional[i][1]
        return self.var_kind


_BINDERS: dict = {}


def _binder(fn):
    b = _BINDERS.get(fn)
    if b is None:
        b = _BINDERS[fn] = _Binder(fn)
    return b


def _convert_index(ix, env, loc):
    if isinstance(ix, bool):
        return ix
    if isinstance(ix, int):
        return ix
    if ix is None:
        return None
    if ix == "...":
        return Ellipsis
    if isinstance(ix, str):
        return _lookup(ix, env, loc)
    if isinstance(ix, dict):
        _req(set(ix) == {"slice"} and isinstance(ix["slice"], list) and len(ix["slice"]) in (2, 3),
             'a slice index is {"slice": [start, stop, step]}', loc)
        parts = list(ix["slice"]) + [None] * (3 - len(ix["slice"]))
        for p in parts:
            _req(p is None or (isinstance(p, int) and not isinstance(p, bool)),
                 "slice bounds must be integers or null", loc)
        return slice(*parts)
    if isinstance(ix, list):
        return tuple(_convert_index(x, env, [*loc, k]) for k, x in enumerate(ix))
    raise RequestError(f"invalid index {ix!r}", loc)


def _lookup(name, env, loc):
    t = env.get(name)
    if t is None:
        raise RequestError(f"unknown tensor name {name!r}: names must refer to an earlier leaf or op", loc,
                           "value_error")
    return t


def _convert(value, kind, env, loc):
    if kind == "tensor":
        if isinstance(value, str):
            return _lookup(value, env, loc)
        if value is None:
            return None
        raise RequestError("a Tensor argument takes the name of an earlier leaf or op", loc)
    if kind == "tensor_or_scalar":
        if isinstance(value, str):
            if value in SPECIAL and value not in env:
                return SPECIAL[value]
            return _lookup(value, env, loc)
        return value
    if kind == "tensors":
        _req(isinstance(value, list), "a list-of-Tensors argument takes a list of names", loc)
        return [_lookup(v, env, [*loc, k]) if isinstance(v, str) else v for k, v in enumerate(value)]
    if kind == "dtype":
        if value is None:
            return None
        _req(isinstance(value, str) and value in D.BY_NAME, f"unknown dtype {value!r}", loc)
        return D.BY_NAME[value]
    if kind == "index":
        return _convert_index(value, env, loc)
    if kind == "number" and isinstance(value, str) and value in SPECIAL:
        return SPECIAL[value]
    if isinstance(value, list):
        return [(_lookup(v, env, loc) if isinstance(v, str) and v in env else v) for v in value]
    return value


# ----- shape rules: output shapes from input shapes, for the 413 guard and for the estimate -----
# Each rule takes the op's (args, kwargs) with tensors as engine Tensors (evaluate's guard, before an op
# allocates) or as _Shaped stand-ins (estimate, before anything runs) and returns the output's shape (an
# upper bound where the exact one depends on values), or None where it cannot say.


class _Shaped:
    """Stands in for a tensor in the shape rules: its shape, nothing else."""

    __slots__ = ("shape", "ndim")

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.ndim = len(self.shape)

    def numel(self):
        return _numel(self.shape)


def _is_t(a) -> bool:
    return isinstance(a, Tensor | _Shaped)



def _bshape(shapes):
    try:
        return np.broadcast_shapes(*shapes) if shapes else ()
    except ValueError:
        return max(shapes, key=_numel)


def _size_from(args, kwargs, name="size"):
    if name in kwargs:
        size = kwargs[name]
    elif args and all(isinstance(a, int) for a in args):
        size = list(args)  # zeros(2, 3): the sizes as separate arguments
    else:
        size = args[0] if args and not _is_t(args[0]) else []
    if isinstance(size, int):
        size = [size]
    if isinstance(size, list | tuple) and len(size) == 1 and isinstance(size[0], list | tuple):
        size = size[0]
    return size


def _rule_expand(args, kwargs):
    t = args[0]
    size = size_arg(kwargs.get("size") or args[1:])
    if size and _is_t(size[0]):  # expand_as
        return tuple(size[0].shape)
    shp = list(t.shape)
    lead = len(size) - len(shp)
    return tuple((shp[i - lead] if (s == -1 and i >= lead) else s) for i, s in enumerate(size))


def _rule_repeat(args, kwargs):
    t = args[0]
    reps = [int(r) for r in size_arg(kwargs.get("repeats") or kwargs.get("dims") or args[1:])]
    shp = [1] * max(0, len(reps) - t.ndim) + list(t.shape)
    reps = [1] * max(0, len(shp) - len(reps)) + reps
    return tuple(a * b for a, b in zip(shp, reps))


def _rule_matmul(args, kwargs):
    a, b = args[0], args[1]
    if not _is_t(a) or not _is_t(b):
        return None
    sa, sb = tuple(a.shape), tuple(b.shape)
    if len(sa) == 0 or len(sb) == 0:
        return None
    batch = _bshape([sa[:-2], sb[:-2]])
    return tuple(batch) + ((sa[-2],) if len(sa) > 1 else ()) + ((sb[-1],) if len(sb) > 1 else ())


def _rule_outer(args, kwargs):
    return (args[0].numel(), args[1].numel())


def _cat_shape(args, kwargs, stack):
    """cat / stack: the real shape where the operands agree, else their total size (a bound)."""
    ts = [t for t in (args[0] if args else kwargs.get("tensors", [])) if _is_t(t)]
    total = (sum(t.numel() for t in ts),)
    dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
    shapes = [tuple(t.shape) for t in ts if tuple(t.shape) != (0,)]  # cat skips legacy empty tensors
    if not isinstance(dim, int) or not shapes:
        return total
    first = shapes[0]
    try:
        if stack:
            if any(sh != first for sh in shapes):
                return total
            d = wrap_dim(dim, len(first) + 1)
            return first[:d] + (len(ts),) + first[d:]
        d = wrap_dim(dim, len(first))
        if any(len(sh) != len(first) or sh[:d] + sh[d + 1:] != first[:d] + first[d + 1:] for sh in shapes):
            return total
        return first[:d] + (sum(sh[d] for sh in shapes),) + first[d + 1:]
    except EngineError:
        return total


def _rule_cat(args, kwargs):
    return _cat_shape(args, kwargs, stack=False)


def _rule_stack(args, kwargs):
    return _cat_shape(args, kwargs, stack=True)


def _size_list(args, kwargs, key):
    return [int(x) for x in size_arg(kwargs.get(key, args[1:]))]


def _rule_reshape(args, kwargs):
    t = args[0]
    return tuple(infer_size(_size_list(args, kwargs, "shape" if "shape" in kwargs else "size"), t.numel()))


def _rule_transpose(args, kwargs):
    t = args[0]
    shp = list(t.shape)
    if not shp:
        return ()
    d0 = wrap_dim(kwargs.get("dim0", args[1] if len(args) > 1 else 0), len(shp))
    d1 = wrap_dim(kwargs.get("dim1", args[2] if len(args) > 2 else 1), len(shp))
    shp[d0], shp[d1] = shp[d1], shp[d0]
    return tuple(shp)


def _rule_permute(args, kwargs):
    t = args[0]
    dims = _size_list(args, kwargs, "dims")
    return tuple(t.shape[wrap_dim(d, t.ndim)] for d in dims)


def _rule_reverse(args, kwargs):  # t, T
    return tuple(reversed(args[0].shape))


def _rule_unsqueeze(args, kwargs):
    t = args[0]
    d = wrap_dim(kwargs.get("dim", args[1] if len(args) > 1 else 0), t.ndim + 1)
    return tuple(t.shape[:d]) + (1,) + tuple(t.shape[d:])


def _rule_flatten(args, kwargs):
    t = args[0]
    if not t.ndim:
        return (1,)
    a = wrap_dim(kwargs.get("start_dim", args[1] if len(args) > 1 else 0), t.ndim)
    b = wrap_dim(kwargs.get("end_dim", args[2] if len(args) > 2 else -1), t.ndim)
    return tuple(t.shape[:a]) + (_numel(t.shape[a:b + 1]),) + tuple(t.shape[b + 1:])


def _rule_factory(args, kwargs):
    return tuple(int(s) for s in _size_from(args, kwargs))


def _rule_full(args, kwargs):
    size = kwargs.get("size", args[0] if args else ())
    return (size,) if isinstance(size, int) else tuple(size)


def _rule_arange(args, kwargs):
    nums = [a for a in args if isinstance(a, int | float)]
    start, end, step = 0, None, kwargs.get("step", 1)
    if len(nums) == 1:
        end = nums[0]
    elif len(nums) >= 2:
        start, end = nums[0], nums[1]
        if len(nums) > 2:
            step = nums[2]
    start = kwargs.get("start", start)
    end = kwargs.get("end", end)
    if end is None or not step:
        return ()
    return (max(0, math.ceil((end - start) / step)),)


def _rule_linspace(args, kwargs):
    steps = kwargs.get("steps", args[2] if len(args) > 2 else 0)
    return (int(steps),)


def _rule_eye(args, kwargs):
    n = kwargs.get("n", args[0] if args else 0)
    m = kwargs.get("m", args[1] if len(args) > 1 else n)
    return (int(n), int(m if m is not None else n))


def _rule_one_hot(args, kwargs):
    t = args[0]
    n = kwargs.get("num_classes", args[1] if len(args) > 1 else -1)
    if n is None or n < 0:
        if not isinstance(t, Tensor):
            return None  # the class count comes from the values
        n = int(B.to_numpy(t._data).max()) + 1 if t.numel() else 0
    return (*t.shape, int(n))


def _rule_index(args, kwargs):
    """Advanced indexing can gather more elements than the input holds."""
    t = args[0]
    tensors = [a for a in args[1:] if _is_t(a)]
    for v in list(kwargs.values()) + list(args[1:]):
        if isinstance(v, tuple | list):
            tensors += [x for x in v if _is_t(x)]
    if not tensors:
        return None
    idx = max(x.numel() for x in tensors)
    return (max(idx, 1) * t.numel(),)


def _rule_pad(args, kwargs):
    t = args[0]
    pad = kwargs.get("pad", args[1] if len(args) > 1 else ())
    shp = list(t.shape)
    for i in range(len(pad) // 2):
        d = len(shp) - 1 - i
        if d >= 0:
            shp[d] += int(pad[2 * i]) + int(pad[2 * i + 1])
    return tuple(max(0, s) for s in shp)


def _rule_embedding(args, kwargs):
    idx, w = args[0], args[1] if len(args) > 1 else kwargs.get("weight")
    return (*idx.shape, w.shape[-1]) if _is_t(w) else None


def _rule_einsum(args, kwargs):
    ts = [a for a in args[1:] if _is_t(a)]
    if args and isinstance(args[-1], list):
        ts += [a for a in args[-1] if _is_t(a)]
    n = 1
    for t in ts:
        n *= max(1, t.numel())
    return (n,)


def _rule_linear(args, kwargs):
    x, w = args[0], args[1] if len(args) > 1 else kwargs.get("weight")
    if not (_is_t(x) and _is_t(w)) or not x.ndim:
        return None
    return tuple(x.shape[:-1]) + ((w.shape[0],) if w.ndim == 2 else ())


def _rule_addmm(args, kwargs):
    m1 = args[1] if len(args) > 1 else kwargs.get("mat1")
    m2 = args[2] if len(args) > 2 else kwargs.get("mat2")
    if not (_is_t(m1) and _is_t(m2)) or m1.ndim != 2 or m2.ndim != 2:
        return None
    return (m1.shape[0], m2.shape[1])


def _rule_mv(args, kwargs):
    return (args[0].shape[0],) if _is_t(args[0]) and args[0].ndim == 2 else None


SHAPE_RULES = {
    "expand": _rule_expand, "expand_as": _rule_expand,
    "repeat": _rule_repeat, "tile": _rule_repeat,
    "matmul": _rule_matmul, "mm": _rule_matmul, "bmm": _rule_matmul, "outer": _rule_outer, "ger": _rule_outer,
    "cat": _rule_cat, "concat": _rule_cat, "concatenate": _rule_cat, "stack": _rule_stack,
    "reshape": _rule_reshape, "view": _rule_reshape, "transpose": _rule_transpose, "swapaxes": _rule_transpose,
    "permute": _rule_permute, "t": _rule_reverse, "T": _rule_reverse, "unsqueeze": _rule_unsqueeze,
    "flatten": _rule_flatten,
    "zeros": _rule_factory, "ones": _rule_factory, "empty": _rule_factory, "rand": _rule_factory,
    "randn": _rule_factory, "full": _rule_full, "arange": _rule_arange, "linspace": _rule_linspace,
    "eye": _rule_eye, "one_hot": _rule_one_hot, "getitem": _rule_index, "index_select": _rule_index,
    "gather": _rule_index, "pad": _rule_pad, "embedding": _rule_embedding, "einsum": _rule_einsum,
    "linear": _rule_linear, "addmm": _rule_addmm, "mv": _rule_mv, "dot": lambda a, k: (),
}
_MATMULS = {"matmul", "mm", "bmm", "mv", "dot", "linear", "addmm"}  # flops: 2 * out * contraction


def output_bound(op, args, kwargs) -> int:
    """An upper bound on the elements `op` will allocate, from its inputs' shapes alone."""
    rule = SHAPE_RULES.get(op)
    if rule is not None:
        try:
            shp = rule(args, kwargs)
        except Exception:  # a malformed call: let the op itself raise torch's error
            shp = None
        if shp is not None:
            return _numel(shp)
    shapes = [tuple(a.shape) for a in args if _is_t(a)]
    shapes += [tuple(a.shape) for a in kwargs.values() if _is_t(a)]
    for a in args:
        if isinstance(a, list | tuple):
            shapes += [tuple(x.shape) for x in a if _is_t(x)]
    if not shapes:
        return 1
    first = shapes[0]
    if all(s == first or not s for s in shapes):  # one shape (0-d operands broadcast to anything)
        return _numel(first) if first else max(_numel(s) for s in shapes)
    return max(_numel(_bshape(shapes)), max(_numel(s) for s in shapes))


def _bound_reads_values(op, args, kwargs, bound) -> bool:
    """Whether output_bound gave `bound` from the tensors' values too (one_hot's class count, a size given
    as a tensor), not from their shapes alone: the bound again over shape-only stand-ins differs. A
    Program replays only documents whose shapes are the recorded ones, so it re-checks just these."""
    def shaped(v):
        if isinstance(v, Tensor):
            return _Shaped(v._data.shape)
        return [shaped(x) for x in v] if isinstance(v, list | tuple) else v

    try:
        return output_bound(op, [shaped(a) for a in args], {k: shaped(v) for k, v in kwargs.items()}) != bound
    except Exception:  # noqa: BLE001 - cannot tell: check it on every replay
        return True


# ----- the evaluator -----


def _op_function(name):
    fn = OPS.get(name)
    if fn is None and name == "getitem":
        fn = getattr(Tensor, "__getitem__", None)
    return fn


def _leaf(name, spec, loc):
    _check_fields(spec, LEAF_FIELDS, loc)
    _req("data" in spec, "Field required", [*loc, "data"], "missing")
    dt = spec.get("dtype")
    if dt is not None:
        _req(dt in D.WIRE, f"Input should be {', '.join(repr(w) for w in D.WIRE)}", [*loc, "dtype"], "enum")
        dt = D.BY_NAME[dt]
    rg = spec.get("requires_grad", False)
    _req(isinstance(rg, bool), "Input should be a valid boolean", [*loc, "requires_grad"], "bool_type")
    raw = spec["data"]
    if isinstance(raw, list) or type(raw) in (float, int, bool):
        arr = _fast_array(raw)
        if arr is not None:
            return arr, dt or _INFERRED[arr.dtype.kind], rg
    data = decode_numbers(raw, [*loc, "data"])
    return data, dt, rg


_INFERRED = {"b": D.bool_, "i": D.int64, "f": D.default_float}


def _fast_array(raw):
    """The common case in one NumPy call: a rectangular list of plain numbers. Anything else (the
    protocol's "NaN" strings, ragged or deep nesting, integers past int64, wrong types) returns None and
    takes the element-by-element path, which gives torch's messages."""
    try:
        arr = np.array(raw)
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None
    if arr.dtype.kind not in "bif":
        return None
    return arr


def leaf_array(a):
    """A leaf's array as PlanCache.key gives it: a float leaf's is the float itself."""
    return np.array(a) if type(a) is float else a


def _make_tensor(data, dt, loc):
    try:
        if isinstance(data, np.ndarray):
            if dt is not None and dt.category == 1 and data.size and dt.np != data.dtype:
                info = np.iinfo(dt.np)
                lo, hi = data.min(), data.max()
                if not (info.min <= lo and hi <= info.max):  # NaN compares False: refused as well
                    raise OverflowError
            return as_tensor(data if dt is None else data.astype(dt.np), dtype=dt)  # fresh: no copy
        return tensor(data, dtype=dt)
    except EngineError as e:
        e.loc = loc
        raise
    except OverflowError:
        if dt is None or dt is D.int64:
            raise TorchRuntimeError("Overflow when unpacking long", loc) from None
        raise TorchRuntimeError(f"value cannot be converted to type {dt.name} without overflow", loc) from None
    except (TypeError, ValueError) as e:
        raise RequestError(f"invalid tensor data: {e}", loc) from None


def _torch_warning_text(w):
    return _TRIGGERED.sub("", str(w.message))


class _Run:
    """State of one evaluation: tensors by name, limits, warnings."""

    def __init__(self, spec, limits):
        self.spec = spec
        self.limits = limits
        self.env: dict[str, Tensor] = {}
        self.order: list[str] = []
        self.kind: dict[str, str] = {}
        self.total = 0
        self.warnings: list[dict] = []
        self._seen_once: set[str] = set()
        self.program: Program | None = None  # filled in as the run goes, where a PlanCache asked for it
        self.traces: list | None = None  # per op, the entries its function ran (registry.trace), to lower

    def count(self, n, loc):
        lim = self.limits
        if n > lim.max_tensor_elements:
            raise LimitExceeded(
                f"tensor of {n} elements exceeds the limit of {lim.max_tensor_elements} elements per tensor "
                "(max_tensor_elements)", loc)
        if self.total + n > lim.max_total_elements:
            raise LimitExceeded(
                f"the request's tensors would hold {self.total + n} elements, over the limit of "
                f"{lim.max_total_elements} elements in all (max_total_elements)", loc)
        self.total += n

    def record_warnings(self, caught):
        for w in caught:
            text = _torch_warning_text(w)
            if any(text.startswith(p) for p in ONCE_WARNINGS):
                if text in self._seen_once:
                    continue
                self._seen_once.add(text)
            self.warnings.append({"category": w.category.__name__, "message": text})

    def add(self, name, t, kind, loc):
        _req(name not in self.env, f"duplicate name {name!r}: names are unique across leaves and ops", loc)
        self.env[name] = t
        self.order.append(name)
        self.kind[name] = kind


def evaluate(spec: dict, *, limits: Limits | None = None, cache: PlanCache | None = None,
             found: tuple | None = None) -> dict:
    """Run a request document (API.md) and return its response document, as plain Python objects.

    cache: where a document of the same structure (everything but the leaves' values) ran before, run its
    Program (the checks skipped, the same functions called), and record one after a first success. Only
    for documents as a JSON parser gives them (see PlanCache). found: what cache.lookup(spec, limits) gave,
    where the caller has asked already."""
    return _answer(spec, limits, cache, found, False)


def evaluate_json(spec: dict, *, limits: Limits | None = None, cache: PlanCache | None = None,
                  found: tuple | None = None) -> bytes:
    """evaluate's response, encoded: encode(evaluate(...)) byte for byte, but a lowered replay writes its
    bytes straight from its arrays (no document built; _Writer)."""
    return _answer(spec, limits, cache, found, True)


def encode(doc) -> bytes:
    """A response document as JSON (orjson). The engine's documents are plain Python objects; a stray NumPy
    scalar or array is written as its list rather than failing the request."""
    return orjson.dumps(doc, default=_plain)


def _plain(obj):
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _answer(spec, limits, cache, found, encoded):
    limits = limits or DEFAULT_LIMITS
    out = None
    if cache is not None:
        if found is None:
            found = cache.lookup(spec, limits)
        if found is not None:
            key, program, arrays = found
            if program is not None:
                if program.lowered is None:  # its first replay: run in full once more, traced, to lower it
                    out = _evaluate(spec, limits, cache, key, lowering=True)
                else:
                    out = program.run(spec, arrays, limits, encoded)
            if out is None:
                out = _evaluate(spec, limits, cache, key)
    if out is None:
        out = _evaluate(spec, limits)
    return encode(out) if encoded and type(out) is dict else out


def _evaluate(spec, limits, cache=None, key=None, lowering=False):
    if isinstance(spec, dict) and "expression" in spec:  # API.md v1.1: the ops it parses into (engine/expression)
        spec = expand_expression(spec, limits.max_ops)
    _check_fields(spec, TOP_FIELDS, ["body"])
    device = spec.get("device", "auto")
    _req(device in ("cpu", "cuda", "auto"), "Input should be 'cpu', 'cuda' or 'auto'", ["body", "device"], "enum")
    if device == "cuda" and B.xp is np:
        raise DeviceUnavailable("device 'cuda' was requested but this engine has no CUDA backend",
                                ["body", "device"])
    run = _Run(spec, limits)
    if key is not None:
        run.program = Program()
        if lowering:
            run.traces = []
    with _Evaluating(spec) as caught:
        _build_leaves(run, spec)
        _run_ops(run, spec, caught)
        _run_backward(run, spec, caught)
        out = _respond(run, spec, caught)
    if key is not None:
        if lowering:
            run.program.lowered = _lowered(run, limits)
        elif run.total > LOWER_MAX_ELEMENTS or len(run.program.steps) > LOWER_MAX_OPS:
            run.program.lowered = False  # never tried: see LOWER_MAX_ELEMENTS
        cache.store(key, run.program, replace=lowering)
    return out


# Programs that lower: up to this many elements in all their tensors (as the limits count them) and ops.
# Lowering costs its one request a few times a full run (the traced run, the walk, the check at other
# values: time and memory outside what the limits bound), and saves only per-op Python: worth it for the
# small programs that are most requests, not for large tensors, whose time is the arrays'.
LOWER_MAX_ELEMENTS = 1 << 16
LOWER_MAX_OPS = 1024


def _lowered(run, limits):
    """The run's Program lowered (engine.lower), and checked at two sets of other leaf values against the
    full path, response against response: a constant that depended on values after all, or anything else
    that only the values decide, shows there. False where it does not lower, or disagrees."""
    program = run.program
    try:
        with np.errstate(all="ignore"):  # the walk runs the forwards and formulas again, on the recording's values
            low = lower(program, run, run.traces)
        if low is None:
            return False
        program.lowered = low
        with np.errstate(all="ignore"):
            data, grads = low.fn(*[run.env[name]._data for name, *_ in program.leaves])
        low.writer = _writer(program, data, grads)
        for k in range(len(_MOVES)):
            twin, arrays = _other_values(run.spec, k)
            full = encode(_evaluate(twin, limits))
            if encode(program._run_lowered(twin, arrays)) != full:
                return False
            if low.writer is not None and program._run_lowered(twin, arrays, encoded=True) != full:
                low.writer = None
        return low
    except Exception:  # noqa: BLE001 - lowering is an optimization: the Program's own replay stays
        return False


# How _lowered moves a document's leaf values for its checks: floats, ints, bools. Two moves, so that a
# constant a function derived from values (a sign, a magnitude, a maximum) differs under one of them.
_MOVES = ((lambda a: a * -0.75 + 0.3125, lambda a: a + 1, lambda a: ~a),
          (lambda a: a * 1.5 + 0.75, lambda a: a * 2 - 3, lambda a: ~a))


def _other_values(spec, k=0):
    """The document with every leaf's numbers moved by _MOVES[k], so its key stays the same; and its leaf
    arrays, as PlanCache.key gives them."""
    moves = _MOVES[k]
    leaves, arrays = {}, []
    for name, lspec in spec["leaves"].items():
        a = _fast_array(lspec["data"])
        b = moves[0](a) if a.dtype.kind == "f" else (moves[1](a) if a.dtype.kind == "i" else moves[2](a))
        leaves[name] = {**lspec, "data": b.tolist()}
        v = leaves[name]["data"]
        arrays.append(v if type(v) is float else np.array(v))  # a float leaf's is the float (PlanCache.key)
    return {**spec, "leaves": leaves}, arrays


class _Evaluating:
    """The context of one evaluation (the full path's and a Program's): grad mode on, warnings recorded
    (`as` gives their list), NumPy's floating-point warnings off, the request's seed applied."""

    __slots__ = ("spec", "prev", "cw", "es")

    def __init__(self, spec):
        self.spec = spec

    def __enter__(self):
        self.prev = grad_mode.enabled
        grad_mode.enabled = True
        self.cw = warnings.catch_warnings(record=True)
        caught = self.cw.__enter__()
        self.es = np.errstate(all="ignore")
        self.es.__enter__()
        try:
            warnings.simplefilter("always")
            _seed(self.spec)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return caught

    def __exit__(self, *exc):
        self.es.__exit__(None, None, None)
        self.cw.__exit__(None, None, None)
        grad_mode.enabled = self.prev
        return False


def _seed(spec):
    from engine.ops.factory import manual_seed  # noqa: PLC0415

    seed = spec.get("seed")
    if seed is not None:
        _req(isinstance(seed, int) and not isinstance(seed, bool), "Input should be a valid integer",
             ["body", "seed"], "int_type")
        _req(0 <= seed < 2**63, "seed must be between 0 and 2**63 - 1", ["body", "seed"])
        manual_seed(seed)
    # without a seed the thread's generator goes on drawing: reseeding from the OS costs ~20 us a request


def _build_leaves(run, spec):
    leaves = spec.get("leaves", {})
    _req(isinstance(leaves, dict), "Input should be a valid dictionary", ["body", "leaves"], "dict_type")
    for name, lspec in leaves.items():
        loc = ["body", "leaves", name]
        _check_name(name, loc)
        data, dt, rg = _leaf(name, lspec, loc)
        run.count(_numel(_shape_of(data)), loc)
        t = _make_tensor(data, dt, loc)
        if rg:
            try:
                t._set_requires_grad(True, REQUIRES_GRAD_DTYPE_MSG)
            except EngineError as e:
                e.loc = loc
                raise
        run.add(name, t, "leaf", loc)
        if run.program is not None:
            run.program.leaves.append((name, dt, rg, loc))


def _run_ops(run, spec, caught):
    if run.program is not None:
        run.program.leaf_total = run.total
    ops = spec.get("ops", [])
    _req(isinstance(ops, list), "Input should be a valid list", ["body", "ops"], "list_type")
    if len(ops) > run.limits.max_ops:
        raise LimitExceeded(f"{len(ops)} ops exceed the limit of {run.limits.max_ops} ops per request (max_ops)",
                            ["body", "ops"])
    retain = set(spec.get("retain_grad", []) or [])
    for i, op in enumerate(ops):
        loc = ["body", "ops", i]
        _check_fields(op, OP_FIELDS, loc)
        for f in ("name", "op"):
            _req(f in op, "Field required", [*loc, f], "missing")
        name, opname = op["name"], op["op"]
        names = name if isinstance(name, list) else [name]
        _req(len(names) >= 1, "List should have at least 1 item", [*loc, "name"], "too_short")
        for n in names:
            _check_name(n, [*loc, "name"])
            _req(n not in run.env, f"duplicate name {n!r}: names are unique across leaves and ops", [*loc, "name"])
        _req(isinstance(opname, str), "Input should be a valid string", [*loc, "op"], "string_type")
        fn = _op_function(opname)
        _req(fn is not None, f"unknown op {opname!r}; GET /v1/ops lists the ops", [*loc, "op"])
        args_in = op.get("args", [])
        kwargs_in = op.get("kwargs", {})
        _req(isinstance(args_in, list), "Input should be a valid list", [*loc, "args"], "list_type")
        _req(isinstance(kwargs_in, dict), "Input should be a valid dictionary", [*loc, "kwargs"], "dict_type")
        binder = _binder(fn)
        akinds = [binder.kind_of(i=k) for k in range(len(args_in))]
        kkinds = {k: binder.kind_of(name=k) for k in kwargs_in}
        args = [_convert(v, akinds[k], run.env, [*loc, "args", k]) for k, v in enumerate(args_in)]
        kwargs = {k: _convert(v, kkinds[k], run.env, [*loc, "kwargs", k]) for k, v in kwargs_in.items()}
        bound = output_bound(opname, args, kwargs)
        run.count(bound, loc)
        no_grad = op.get("no_grad", False)
        _req(isinstance(no_grad, bool), "Input should be a valid boolean", [*loc, "no_grad"], "bool_type")
        n_before = len(caught)
        grad_mode.enabled = not no_grad
        try:
            if run.traces is None:
                out = fn(*args, **kwargs)
            else:
                with trace() as log:
                    out = fn(*args, **kwargs)
                run.traces.append(log)
        except EngineError as e:
            e.loc = loc
            raise
        except MemoryError:
            raise LimitExceeded("the op ran out of memory", loc) from None
        except TypeError as e:
            raise TorchTypeError(str(e), loc) from None
        except NotImplementedError as e:
            raise TorchNotImplementedError(str(e), loc) from None
        except RecursionError:
            raise LimitExceeded("the op nests too deeply", loc) from None
        except Exception as e:  # noqa: BLE001 - a client's program must never surface as a server error
            raise TorchRuntimeError(f"{type(e).__name__}: {e}" if not isinstance(e, ValueError | IndexError)
                                    else str(e), loc) from None
        finally:
            grad_mode.enabled = True
        run.record_warnings(caught[n_before:])
        del caught[n_before:]
        if isinstance(name, list):
            outs = list(out) if isinstance(out, tuple | list) else [out]
            _req(len(outs) == len(names),
                 f"op {opname!r} returned {len(outs)} tensors but {len(names)} names were given", [*loc, "name"])
        else:
            _req(isinstance(out, Tensor),
                 f"op {opname!r} returns {len(out) if isinstance(out, tuple | list) else 'no'} tensors: give a "
                 "list of names", [*loc, "name"])
            outs = [out]
        shapes = []
        for n, t in zip(names, outs):
            if not isinstance(t, Tensor):
                t = tensor(t)
            run.add(n, t, "op", [*loc, "name"])
            shapes.append(t._data.shape)
            if n in retain:
                try:
                    t.retain_grad()
                except EngineError as e:
                    e.loc = ["body", "retain_grad"]
                    raise
        if run.program is not None:  # copies: the caller may reuse (and change) its document afterwards
            run.program.steps.append(_Step(
                opname if _bound_reads_values(opname, args, kwargs, bound) else None,
                fn, copy.deepcopy(list(zip(args_in, akinds))),
                {k: (copy.deepcopy(v), kkinds[k]) for k, v in kwargs_in.items()}, no_grad,
                isinstance(name, list), list(names), tuple(shapes), [n for n in names if n in retain], loc))
    for n in retain:
        _req(n in run.env, f"unknown tensor name {n!r}", ["body", "retain_grad"])


def _run_backward(run, spec, caught):
    passes = spec.get("backward", []) or []
    _req(isinstance(passes, list), "Input should be a valid list", ["body", "backward"], "list_type")
    for i, p in enumerate(passes):
        loc = ["body", "backward", i]
        _check_fields(p, BACKWARD_FIELDS, loc)
        _req("tensor" in p, "Field required", [*loc, "tensor"], "missing")
        _backward_pass(run, p, loc, caught)
    if run.program is not None:
        run.program.passes = [(copy.deepcopy(p), ["body", "backward", i]) for i, p in enumerate(passes)]


def _backward_pass(run, p, loc, caught):
    t = _lookup(p["tensor"], run.env, [*loc, "tensor"])
    g = p.get("gradient")
    if g is not None:
        g = _make_tensor(decode_numbers(g, [*loc, "gradient"]), t.dtype, [*loc, "gradient"])
    inputs = p.get("inputs")
    if inputs is not None:
        _req(isinstance(inputs, list), "Input should be a valid list", [*loc, "inputs"], "list_type")
        inputs = [_lookup(n, run.env, [*loc, "inputs", k]) for k, n in enumerate(inputs)]
        if not inputs:
            raise TorchRuntimeError("`inputs` argument to `backward()` cannot be empty.", loc)
    rg, cg = p.get("retain_graph"), p.get("create_graph", False)
    n_before = len(caught)
    try:
        run_backward([t], [g], rg, bool(cg), inputs=inputs)
    except EngineError as e:
        e.loc = loc
        raise
    run.record_warnings(caught[n_before:])
    del caught[n_before:]


def _respond(run, spec, caught):
    env = run.env
    grads = spec.get("grads")
    if grads is None:
        grads = [n for n in run.order if run.kind[n] == "leaf" and env[n].requires_grad]
    for k, n in enumerate(grads):
        _lookup(n, env, ["body", "grads", k])
    outputs = spec.get("outputs")
    if outputs is None:
        outputs = list(run.order)
    for k, n in enumerate(outputs):
        _lookup(n, env, ["body", "outputs", k])
    grad_set = set(grads)
    names = list(dict.fromkeys([*[n for n in run.order if n in set(outputs) or n in grad_set]]))
    encode = spec.get("encoding", "json")
    _req(encode in ("json", "base64"), "Input should be 'json' or 'base64'", ["body", "encoding"], "enum")
    if run.program is not None:
        run.program.respond = (names, grad_set, encode)
    return _response(run, names, grad_set, encode, caught)


def _response(run, names, grad_set, encode, caught, fixed=None):
    """The response document. fixed: a replay's Program.fixed, the fields that structure alone decides
    (shape, dtype, flags, grad_fn, repr's suffixes, the graph), as the first run found them, checked
    against the replay's tensors; values are read afresh either way."""
    env = run.env
    n_before = len(caught)
    if fixed is None:
        rows, nodes = _structure(env, names), _graph(env, names)
        if run.program is not None:
            run.program.fixed = (rows, nodes)
    else:
        rows, nodes = fixed
    wire = encode_array if encode == "json" else _wire_b64
    one_value = encode == "json" and B.xp is np
    tensors = {}
    for n, shape, dn, rq, fn_cls, gf, rg, suffixes in rows:
        t = env[n]
        d = t._data
        if fixed is not None and (type(t.grad_fn) is not fn_cls or D.FROM_NP[d.dtype].name != dn):
            raise _Diverged
        g = t.grad if n in grad_set else t._grad
        if not shape and one_value:  # one value: read once, for data and repr
            v = d.item()
            data, text = _wire_number(v), format_value(v, dn, suffixes)
        else:
            data, text = wire(d), format_tensor(B.to_numpy(d), dn, suffixes)
        tensors[n] = _tensor_doc(shape, dn, rq, gf, rg, data, wire(g._data) if g is not None else None, text)
    run.record_warnings(caught[n_before:])
    return _document(tensors, nodes, run.warnings)


def _tensor_doc(shape, dn, rq, gf, rg, data, grad, text):
    """One tensor of the response: what structure decides (a _structure row's fields), data, grad, repr."""
    return {"shape": list(shape), "dtype": dn, "data": data, "requires_grad": rq, "is_leaf": gf is None,
            "grad_fn": gf, "grad": grad, "retains_grad": rg, "repr": text}


def _document(tensors, nodes, warnings_):
    return {
        "tensors": tensors,
        "graph": [{"id": i, "name": nm, "tensor": tn, "next_functions": [list(e) if e is not None else None
                                                                          for e in nf]}
                  for i, nm, tn, nf in nodes],
        "warnings": warnings_,
        "device": "cpu" if B.xp is np else "cuda",
    }


def _structure(env, names):
    """Per returned tensor what structure decides, as the Tensor properties give it: (name, shape, dtype
    name, requires_grad, grad_fn class, grad_fn name, retains_grad, repr's suffixes)."""
    rows = []
    for n in names:
        t = env[n]
        d = t._data
        fn = t.grad_fn
        rows.append((n, d.shape, D.FROM_NP[d.dtype].name, t._req, type(fn),
                     type(fn).__name__ if fn is not None else None, t._retains_grad, t._repr_suffixes()))
    return rows


def _wire_b64(arr):
    a = np.ascontiguousarray(B.to_numpy(arr))
    return {"dtype": D.FROM_NP[a.dtype].name, "shape": list(a.shape),
            "b64": base64.b64encode(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()).decode()}


def _graph(env, names):
    """Every grad_fn reachable from the returned tensors, ids in breadth-first order: (id, name, tensor,
    next_functions) each, which _response writes out."""
    owner = {}
    for n, t in env.items():
        if t.grad_fn is not None and id(t.grad_fn) not in owner:
            owner[id(t.grad_fn)] = n
    leaf_names = {id(t): n for n, t in env.items() if t.grad_fn is None}
    ids: dict[int, int] = {}
    nodes = []
    queue = []
    for n in names:
        fn = env[n].grad_fn
        if fn is not None and id(fn) not in ids:
            ids[id(fn)] = len(nodes)
            nodes.append(fn)
            queue.append(fn)
    k = 0
    while k < len(queue):
        fn = queue[k]
        k += 1
        for nxt, _ in fn.next_functions:
            if nxt is not None and id(nxt) not in ids:
                ids[id(nxt)] = len(nodes)
                nodes.append(nxt)
                queue.append(nxt)
    out = []
    for i, fn in enumerate(nodes):
        if isinstance(fn, AccumulateGrad):
            tname = leaf_names.get(id(fn.variable))
        else:
            tname = owner.get(id(fn))
        out.append((i, fn.name(), tname,
                    tuple((ids[id(nxt)], nr) if nxt is not None else None for nxt, nr in fn.next_functions)))
    return out


# ----- programs: a request's structure, checked once, run again with other values -----


class _Step:
    __slots__ = ("op", "fn", "args", "kwargs", "no_grad", "multi", "names", "shapes", "retain", "loc")

    def __init__(self, op, fn, args, kwargs, no_grad, multi, names, shapes, retain, loc):
        self.op, self.fn, self.args, self.kwargs, self.no_grad = op, fn, args, kwargs, no_grad
        self.multi, self.names, self.shapes, self.retain, self.loc = multi, names, shapes, retain, loc


class _Diverged(Exception):
    """A replayed op gave another shape than the recorded run (a value-dependent shape): run it in full."""


class Program:
    """What a successful evaluation learned about its document's structure: each leaf's dtype and
    requires_grad, each op's function, its arguments with their binding kinds and its outputs' shapes, the
    backward passes, and the response's names. `run` evaluates a document of the same structure with other
    leaf values, calling the same functions in the same order, without the checks that structure alone
    decides (fields, names, signatures, the 413 guard): so its response is the one the full path gives,
    bit for bit (tests/engine/test_plans.py holds the two together). Where anything goes differently (an
    error, a warning with a value-dependent text, an op whose output shape depends on values) it gives up
    and the full path runs, which answers as it always does. `notes`: free for the caller (the service keeps
    its cost estimate and the body's colon count there)."""

    __slots__ = ("leaves", "leaf_total", "steps", "passes", "respond", "fixed", "notes", "lowered")

    def __init__(self):
        self.leaves: list = []  # (name, dtype or None, requires_grad, loc)
        self.leaf_total = 0  # their elements, as counted against the limits
        self.steps: list[_Step] = []
        self.passes: list = []  # (pass spec, loc)
        self.respond = None  # (names, grad_set, encoding)
        self.fixed = None  # what structure decides of the response: (_structure rows, _graph nodes)
        self.notes: dict = {}
        # engine.lower.Lowered: the same program as a function over arrays; None until its first replay tries
        # (evaluate), False where it does not lower
        self.lowered = None

    def run(self, spec, arrays, limits, encoded=False):
        """The response document (or, encoded, its JSON bytes where a lowered replay writes them), or None
        where the full path must answer instead."""
        if self.lowered:
            try:
                return self._run_lowered(spec, arrays, encoded)
            except Exception:  # noqa: BLE001 - the replay below answers (or gives up) as it would have
                pass
        run = _Run(spec, limits)
        env = run.env
        try:
            with _Evaluating(spec) as caught:
                for (name, dt, rg, loc), arr in zip(self.leaves, arrays):
                    t = _make_tensor(leaf_array(arr), dt, loc)
                    if rg:
                        t._set_requires_grad(True, REQUIRES_GRAD_DTYPE_MSG)
                    env[name] = t
                run.total = self.leaf_total  # the leaves' shapes are the key's: their count passed before
                for st in self.steps:
                    args = [_convert(v, k, env, st.loc) for v, k in st.args]
                    kwargs = {n: _convert(v, k, env, st.loc) for n, (v, k) in st.kwargs.items()} if st.kwargs \
                        else _NO_KWARGS
                    if st.op is not None:  # the 413 guard, where the bound reads values (_bound_reads_values)
                        run.count(output_bound(st.op, args, kwargs), st.loc)
                    grad_mode.enabled = not st.no_grad
                    out = st.fn(*args, **kwargs)
                    grad_mode.enabled = True
                    if caught:
                        run.record_warnings(caught)
                        del caught[:]
                    outs = (list(out) if isinstance(out, tuple | list) else [out]) if st.multi else [out]
                    for n, t, shape in zip(st.names, outs, st.shapes):
                        if type(t) is not Tensor or t._data.shape != shape:
                            raise _Diverged
                        env[n] = t
                    for n in st.retain:
                        env[n].retain_grad()
                for p, loc in self.passes:
                    _backward_pass(run, p, loc, caught)
                names, grad_set, encode = self.respond
                return _response(run, names, grad_set, encode, caught, self.fixed)
        except Exception:  # noqa: BLE001 - any surprise: the full path answers (and raises what it must)
            return None

    def _run_lowered(self, spec, arrays, encoded=False):
        low = self.lowered
        if "seed" in spec:  # the generator's state goes on as the full path leaves it
            _seed(spec)
        with np.errstate(all="ignore"):
            # as _make_tensor converts a leaf's data; a float leaf as a NumPy scalar of its dtype, what the
            # formulas give for a 0-d array anyway (NumPy's scalar arithmetic: ~1.5 us less for the seed).
            # That holds for ufuncs and + - * /, not for `**`: on a scalar it is libm's pow, on an array
            # NumPy's (other roundings at some values); array formulas call np.power, never `**`.
            xs = [d.type(a) if type(a) is float else np.array(a, d) for a, d in zip(arrays, low.leaf_np)]
            data, grads = low.fn(*xs)
        if encoded and low.writer is not None:
            return low.writer.write(data, grads)
        return self._lowered_doc(data, grads)

    def _lowered_doc(self, data, grads):
        """The response document of a lowered replay from its function's output."""
        low = self.lowered
        wire = encode_array if self.respond[2] == "json" else _wire_b64
        tensors = {}
        for (n, shape, dn, rq, _cls, gf, rg, suffixes), rep, d, g in zip(self.fixed[0], low.reprs, data, grads):
            if rep is not None:  # one value, as JSON: read once, for data and repr (and its grad's one)
                v = d.item()
                tensors[n] = _tensor_doc(shape, dn, rq, gf, rg, _wire_number(v),
                                         _wire_number(g.item()) if g is not None else None, rep(v))
            else:
                tensors[n] = _tensor_doc(shape, dn, rq, gf, rg, wire(d), wire(g) if g is not None else None,
                                         format_tensor(d, dn, suffixes))
        return _document(tensors, self.fixed[1], [])


class _Writer:
    """A lowered program's response written as JSON bytes straight from its arrays: what structure decides
    (keys, shapes, dtypes, flags, grad_fn names, the graph) is orjson's own text of the document, made once
    with placeholders; per request a generated straight-line function (`source`) formats the values,
    grads and reprs into its holes, the numbers in one orjson call and the reprs in another. It gives
    orjson's text of _lowered_doc's document byte for byte (_writer checks that before it is kept, and
    _lowered again at other values)."""

    __slots__ = ("write", "source")

    def __init__(self, write, source):
        self.write = write  # write(data, grads) -> bytes: the lowered function's output in, the response out
        self.source = source


_LO, _HI = FIXED_RANGE
_HOLE = re.compile(rb'"\xee\x80\x80([0-9]+)\xee\x80\x81"')  # "\ue000<k>\ue001", placeholders k


def _writer(program, data, grads):
    """The _Writer of a lowered program whose response is JSON, None where its text cannot be templated.
    data, grads: the lowered function's output on some values, which the writer must reproduce."""
    low = program.lowered
    if program.respond[2] != "json" or B.xp is not np:
        return None
    rows, nodes = program.fixed
    # the holes, each a Python expression of the generated function, in the order of the document's text
    numbers, arrays, texts, tensors, holes = [], [], [], {}, {}
    ns = {"dumps": orjson.dumps, "wire": _wire_number, "encode_array": encode_array,
          "format_tensor": format_tensor}
    lines = []
    for i, ((n, shape, dn, rq, _cls, gf, rg, suffixes), rep, g) in enumerate(zip(rows, low.reprs, grads)):
        if rep is not None:  # one value: read once, for data and repr
            # a float's value by float(): .item() gives the same number at 5x the cost (258 vs 47 ns)
            read = "float({})" if data[i].dtype.kind == "f" else "{}.item()"
            lines.append(f"    v{i} = " + read.format(f"data[{i}]"))
            holes[3 * i] = ("numbers", len(numbers))
            numbers.append(f"v{i}")
            if g is not None:
                lines.append(f"    w{i} = " + read.format(f"grads[{i}]"))
                holes[3 * i + 1] = ("numbers", len(numbers))
                numbers.append(f"w{i}")
            ns[f"rep{i}"] = rep
            fixed = getattr(rep, "fixed", None)  # printing.value_repr's fixed-point formats, if it has them
            if fixed is not None and all(orjson.dumps(f)[1:-1] == f.encode() for f in fixed):
                # rep_fixed's own choice, written out here: its formats are bytes needing no JSON escape,
                # formatted straight into the text (no call, no list of texts); elsewhere its own call
                ns[f"F{i}"], ns[f"W{i}"] = (f.encode() for f in fixed)
                text_hole = ("inline", f"((F{i} % v{i} if v{i} % 1 else W{i} % v{i}) if {_LO!r} <= abs(v{i}) "
                                       f"<= {_HI!r} else dumps(rep{i}(v{i}))[1:-1])")
            else:
                texts.append(f"rep{i}(v{i})")
                text_hole = ("texts", len(texts) - 1)
        else:
            holes[3 * i] = ("arrays", len(arrays))
            arrays.append(f"dumps(encode_array(data[{i}]))")
            if g is not None:
                holes[3 * i + 1] = ("arrays", len(arrays))
                arrays.append(f"dumps(encode_array(grads[{i}]))")
            ns[f"suffixes{i}"] = suffixes
            texts.append(f"format_tensor(data[{i}], {dn!r}, suffixes{i})")
            text_hole = ("texts", len(texts) - 1)
        holes[3 * i + 2] = text_hole
        tensors[n] = _tensor_doc(shape, dn, rq, gf, rg, f"\ue000{3 * i}\ue001",
                                 f"\ue000{3 * i + 1}\ue001" if g is not None else None, f"\ue000{3 * i + 2}\ue001")
    text = orjson.dumps(_document(tensors, nodes, []))
    parts = _HOLE.split(text)  # text, k, text, k, ..., text
    found = [int(k) for k in parts[1::2]]
    if found != sorted(holes):
        return None  # a placeholder's text also in a name, say: no writer
    template = parts[0].replace(b"%", b"%%")
    refs = []
    for k, piece in zip(found, parts[2::2]):  # a repr's hole keeps its quotes: reprs come unquoted
        kind, j = holes[k]
        refs.append(j if kind == "inline" else f"{kind}[{j}]")
        template += (b'"%b"' if kind in ("texts", "inline") else b"%b") + piece.replace(b"%", b"%%")
    ns["TEMPLATE"] = template
    if numbers:
        lines += [f"    numbers = dumps(({', '.join(numbers)},))",
                  "    if b'null' in numbers:  # orjson writes a non-finite float as null: the protocol's strings",
                  f"        numbers = dumps(tuple(map(wire, ({', '.join(numbers)},))))",
                  "    numbers = numbers[1:-1].split(b',')"]
    if arrays:
        lines.append(f"    arrays = ({', '.join(arrays)},)")
    if texts:  # ["t1","t2"], split at '","': a repr holds no quote (numbers, dtype and grad_fn names)
        lines.append(f"""    texts = dumps(({', '.join(texts)},))[2:-2].split(b'","')""")
    lines.append(f"    return TEMPLATE % ({''.join(r + ', ' for r in refs)})")
    source = "def write(data, grads):\n" + "\n".join(lines) + "\n"
    exec(compile(source, "<engine.evaluate writer>", "exec"), ns)  # noqa: S102 - our own generated source
    writer = _Writer(ns["write"], source)
    if writer.write(data, grads) != encode(program._lowered_doc(data, grads)):
        return None
    return writer


_NO_KWARGS: dict = {}


_FLOAT_LEAF = ((), "f")  # a leaf whose data is one Python float: its shape and kind, without an array


class PlanCache:
    """Programs by structure: the leaves' names, shapes, kinds (bool/int/float, as dtype inference sees them)
    and their other fields; every other field of the document; the limits and the array backend. The key is
    all of that as one JSON text (bytes hash once and compare by memcmp: a tuple key was hashed afresh by
    every dict operation). For documents as a JSON parser gives them (dicts, lists, str, int, float, bool,
    None): where a tuple and a list, or a float NaN and None, would read alike. Bounded: max_entries
    programs and max_bytes of key text (the least recently used dropped first); a document whose key passes
    max_key_bytes is not kept. Threads may share one: a Program is never changed after it is stored (but
    for its notes), and holds copies of the document's parts, none of the caller's objects. hits/misses
    are counted without a lock (metrics, not accounts)."""

    def __init__(self, max_entries: int = 256, max_key_bytes: int = 16384, max_bytes: int = 1 << 20):
        self.max_entries = max_entries
        self.max_key_bytes = max_key_bytes
        self.max_bytes = max_bytes  # of key text in all; a program holds ~20x its key's size
        self._programs: dict = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def key(self, spec, limits):
        """(key, leaf arrays), or None where this document cannot be cached (b64 or special-number data,
        a value that is not JSON, a document over max_key_bytes, a cache of no entries). A leaf of one float
        gives that float as its array (leaf_array makes it one where an array is needed)."""
        if self.max_entries <= 0:
            return None
        leaves = spec.get("leaves", _NO_KWARGS) if type(spec) is dict else None
        if type(leaves) is not dict:
            return None
        sig = []
        arrays = []
        for name, lspec in leaves.items():
            if type(lspec) is not dict:
                return None
            raw = lspec.get("data")
            if type(raw) is float:
                sig += (name, _FLOAT_LEAF, len(lspec))
                arrays.append(raw)
            else:
                if type(raw) is not list and type(raw) not in (int, bool):
                    return None
                arr = _fast_array(raw)
                if arr is None:
                    return None
                sig += (name, (arr.shape, arr.dtype.kind), len(lspec))
                arrays.append(arr)
            for k, v in lspec.items():  # len(lspec) above: where a leaf's fields end
                if k != "data":
                    sig += (k, v)  # as JSON: 1, 1.0 and true are equal in Python, not equal requests
        try:
            key = orjson.dumps((sig, [[k, v] for k, v in spec.items() if k != "leaves"], limits,
                                B.xp.__name__))
        except (TypeError, orjson.JSONEncodeError):
            return None
        if len(key) > self.max_key_bytes:
            return None
        return key, arrays

    def lookup(self, spec, limits):
        """(key, Program or None, leaf arrays), or None where the document cannot be cached."""
        k = self.key(spec, limits)
        if k is None:
            return None
        key, arrays = k
        program = self._programs.get(key)
        if program is None:
            self.misses += 1
        else:
            self.hits += 1
            with self._lock:  # least recently used goes first: a hit moves to the end
                if self._programs.pop(key, None) is not None:
                    self._programs[key] = program
        return key, program, arrays

    def get(self, key):
        return self._programs.get(key)

    def store(self, key, program, replace=False):
        if self.max_entries <= 0:
            return
        size = len(key)  # the key's text
        with self._lock:
            programs = self._programs
            if key in programs:
                if replace:  # the same structure, lowered now: what the caller noted of it stays
                    program.notes = programs[key].notes
                    programs[key] = program
                return
            while programs and (len(programs) >= self.max_entries or self._bytes + size > self.max_bytes):
                oldest = next(iter(programs))
                self._bytes -= len(oldest)
                del programs[oldest]
            programs[key] = program
            self._bytes += size

    def clear(self):
        with self._lock:
            self._programs.clear()
            self._bytes = 0

    def __len__(self):
        return len(self._programs)


def estimate(spec: dict, *, limits: Limits | None = None) -> dict:
    """Cost of a request without running it or allocating anything: shapes are propagated from the leaves'
    shapes through the ops by kind (elementwise broadcasts, reductions, matmul family, factories, shape
    ops; an unknown op is taken as elementwise over its largest input), and each op is charged flops by
    kind (1 per output element, ~10 for transcendental ones, 2*M*N*K for matmuls, the input's size for
    reductions); `backward` passes triple it. `bytes` is the tensor traffic (inputs read + outputs written,
    at 4 bytes an element unless a leaf says float64/int64). The service uses it to run cheap requests
    inline and costly ones in killable workers, and to send only big `auto` graphs to CUDA."""
    limits = limits or DEFAULT_LIMITS
    _check_fields(spec, TOP_FIELDS, ["body"])
    leaves = spec.get("leaves", {})
    _req(isinstance(leaves, dict), "Input should be a valid dictionary", ["body", "leaves"], "dict_type")
    ops = spec.get("ops", [])
    _req(isinstance(ops, list), "Input should be a valid list", ["body", "ops"], "list_type")
    if len(ops) > limits.max_ops:
        raise LimitExceeded(f"{len(ops)} ops exceed the limit of {limits.max_ops} ops per request (max_ops)",
                            ["body", "ops"])
    shapes: dict = {}
    item = 4
    elements = 0
    for name, v in leaves.items():
        if isinstance(v, dict):
            d = v.get("data")
            shp = tuple(d["shape"]) if isinstance(d, dict) and isinstance(d.get("shape"), list) else \
                tuple(_shape_of(d))
            if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shp):
                raise RequestError("shape must be a list of non-negative integers",
                                   ["body", "leaves", name, "data", "shape"])
            shapes[name] = shp
            elements += _numel(shp)
            if v.get("dtype") in ("float64", "int64"):
                item = 8
    flops = 0
    traffic = elements
    n_heavy = 0
    for o in ops:
        if not isinstance(o, dict):
            continue
        try:
            out, f, read = _estimate_op(o, shapes)
        except Exception:  # noqa: BLE001 - a malformed op fails later, in evaluate, with its own message
            out, f, read = (), 1, 0
        if f > 16 * max(1, _numel(out)):
            n_heavy += 1
        n_out = _numel(out)
        flops += f
        traffic += read + n_out
        elements += n_out
        names = o.get("name")
        for n in names if isinstance(names, list) else [names]:
            if isinstance(n, str):
                shapes[n] = out
    if spec.get("backward"):
        flops *= 3
        traffic *= 2
    return {"elements": elements, "ops": len(ops), "heavy_ops": n_heavy,
            "bytes": item * traffic, "flops": max(flops, 1)}


_TRANSCENDENTAL = {"exp", "log", "log1p", "expm1", "sin", "cos", "tan", "tanh", "sigmoid", "softmax",
                   "log_softmax", "pow", "sqrt", "rsqrt", "erf", "gelu", "silu", "softplus", "atan2", "asin",
                   "acos", "atan", "sinh", "cosh", "logsumexp", "cross_entropy", "nll_loss", "mish", "elu",
                   "binary_cross_entropy_with_logits", "binary_cross_entropy", "lgamma", "digamma", "exp2",
                   "log2", "log10", "logsigmoid", "selu", "celu", "norm", "dropout"}
_REDUCTIONS = {"sum", "mean", "prod", "amax", "amin", "max", "min", "var", "std", "argmax", "argmin", "all",
               "any", "norm", "logsumexp", "nansum", "count_nonzero"}


_LIKE = {"full_like", "zeros_like", "ones_like", "rand_like", "randn_like", "empty_like"}
_VIEWS = {"reshape", "view", "flatten", "squeeze", "unsqueeze", "t", "T", "mT", "transpose", "permute", "detach",
          "clone", "contiguous", "movedim", "swapaxes", "narrow", "select", "getitem", "view_as", "reshape_as"}


def _estimate_op(o, shapes):
    """(output shape, flops, elements read) of one request op, from the known shapes; nothing allocated.
    Output shapes come from the same SHAPE_RULES as evaluate's 413 guard, over _Shaped stand-ins."""
    op = o.get("op")
    args = o.get("args", []) or []
    kwargs = o.get("kwargs", {}) or {}
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        return (), 1, 0

    def stand(v):
        if isinstance(v, str) and v in shapes:
            return _Shaped(shapes[v])
        if isinstance(v, list) and any(isinstance(x, str) for x in v):
            return [stand(x) for x in v]
        return v

    sargs = [stand(v) for v in args]
    skw = {k: stand(v) for k, v in kwargs.items()}
    flat = [*sargs, *skw.values()]
    tin = [x.shape for v in flat for x in (v if isinstance(v, list) else [v]) if isinstance(x, _Shaped)]
    read = sum(_numel(t) for t in tin)
    if op in ("einsum", "conv1d", "conv2d", "conv3d", "cdist", "tensordot", "kron") and tin:
        # Without their full rules: as a matmul over the two largest operands (an upper-ish guess).
        big = sorted((_numel(t) for t in tin), reverse=True)
        m = big[0] * (big[1] if len(big) > 1 else 1)
        return max(tin, key=_numel), 2 * int(math.sqrt(m)) * max(1, int(math.sqrt(m))), read
    if op in _LIKE and tin:
        return tin[0], _numel(tin[0]), 0
    if op == "randint":
        size = kwargs.get("size", next((x for x in args if isinstance(x, list)), []))
        out = tuple(int(x) for x in size)
        return out, _numel(out), 0
    if op in _VIEWS and tin:
        x = tin[0]
        if op == "getitem" and len(tin) > 1:  # advanced indexing gathers
            return (max(_numel(t) for t in tin[1:]),) + tuple(x[1:]), _numel(x), read
        rule = SHAPE_RULES.get(op)
        try:
            out = tuple(rule(sargs, skw)) if rule is not None else x
        except Exception:  # noqa: BLE001 - evaluate gives the error
            out = x
        return out, 1, 0  # views (a copy at most)
    rule = SHAPE_RULES.get(op) if op not in ("getitem", "index_select", "gather") else None
    if rule is not None:
        try:
            out = rule(sargs, skw)
        except Exception:  # noqa: BLE001 - a malformed op fails later, in evaluate, with its own message
            out = None
        if out is not None:
            out = tuple(int(n) for n in out)
            if op in _MATMULS and len(tin) >= 2:
                first = tin[1] if op == "addmm" and len(tin) >= 3 else tin[0]
                k = first[-1] if first else 1
                return out, 2 * max(_numel(out), 1) * k, read
            return out, max(_numel(out), 1), read
    if not tin:
        return (), 1, 0
    x = tin[0]
    if op in _REDUCTIONS:
        dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
        if dim is None:
            out = ()
        else:
            dl = dim if isinstance(dim, list) else [dim]
            dims = {d % max(1, len(x)) for d in dl if isinstance(d, int)}
            out = tuple(1 if i in dims else s for i, s in enumerate(x)) if kwargs.get("keepdim") else \
                tuple(s for i, s in enumerate(x) if i not in dims)
        return out, max(1, read), read
    out = tuple(_bshape(tin))
    per = 10 if op in _TRANSCENDENTAL else 1
    return out, per * max(_numel(out), 1), read
