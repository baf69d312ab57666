"""Binding: a request op's JSON args and kwargs to the values its Python function takes, by its signature."""
from __future__ import annotations

import inspect
import re

from engine import dtypes as D
from engine.catalog import OPS
from engine.errors import RequestError
from engine.ops._util import broadcast_shapes
from engine.program.wire import SPECIAL, req
from engine.tensor import Tensor

# ----- argument binding -----


class _Binder:
    """How a request's args/kwargs map to a Python-facing function, read once from its signature."""

    __slots__ = ("params", "var_kind", "positional", "by_name")

    def __init__(self, fn):
        self.params = []
        self.var_kind = "literal"  # how extra positional arguments (*size, *operands) bind
        self.positional = ()  # kind_of(i=k) for each positional parameter k, read once
        self.by_name = {}  # kind_of(name=n), the first parameter of that name
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
            if "list[Tensor" in ann or "Sequence[Tensor]" in ann or "tuple[Tensor" in ann:
                kind = "tensor_or_tensors" if "| Tensor" in ann else "tensors"
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
        self.positional = tuple(k for _, k, kw_only in self.params if not kw_only)
        for n, k, _ in self.params:
            self.by_name.setdefault(n, k)

    def kind_of(self, i=None, name=None):
        if name is not None:
            return self.by_name.get(name, "literal")
        positional = self.positional
        return positional[i] if i < len(positional) else self.var_kind


_BINDERS: dict = {}


def binder(fn):
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
        return lookup(ix, env, loc)
    if isinstance(ix, dict):
        req(set(ix) == {"slice"} and isinstance(ix["slice"], list) and len(ix["slice"]) in (2, 3),
             'a slice index is {"slice": [start, stop, step]}', loc)
        parts = list(ix["slice"]) + [None] * (3 - len(ix["slice"]))
        for p in parts:
            req(p is None or (isinstance(p, int) and not isinstance(p, bool)),
                 "slice bounds must be integers or null", loc)
        return slice(*parts)
    if isinstance(ix, list):
        return tuple(_convert_index(x, env, [*loc, k]) for k, x in enumerate(ix))
    raise RequestError(f"invalid index {ix!r}", loc)


_MISSING = object()


def lookup(name, env, loc):
    """The tensor a name is bound to (None where a step bound it to null: a grad that is None)."""
    t = env.get(name, _MISSING)
    if t is _MISSING:
        raise RequestError(f"unknown tensor name {name!r}: names must refer to an earlier leaf or op", loc,
                           "value_error")
    return t


def convert(value, kind, env, loc):
    if kind == "tensor":
        if isinstance(value, str):
            return lookup(value, env, loc)
        if value is None:
            return None
        raise RequestError("a Tensor argument takes the name of an earlier leaf or op", loc)
    if kind == "tensor_or_scalar":
        if isinstance(value, str):
            if value in SPECIAL and value not in env:
                return SPECIAL[value]
            return lookup(value, env, loc)
        return value
    if kind == "tensor_or_tensors" and not isinstance(value, list):
        return convert(value, "tensor_or_scalar", env, loc)
    if kind in ("tensors", "tensor_or_tensors"):
        req(isinstance(value, list), "a list-of-Tensors argument takes a list of names", loc)
        return [lookup(v, env, [*loc, k]) if isinstance(v, str) else v for k, v in enumerate(value)]
    if kind == "dtype":
        if value is None:
            return None
        req(isinstance(value, str) and value in D.BY_NAME, f"unknown dtype {value!r}", loc)
        return D.BY_NAME[value]
    if kind == "index":
        return _convert_index(value, env, loc)
    if kind == "number" and isinstance(value, str) and value in SPECIAL:
        return SPECIAL[value]
    if isinstance(value, list):
        return [(lookup(v, env, loc) if isinstance(v, str) and v in env else v) for v in value]
    return value



# ----- the evaluator -----


def op_function(name, run=None):
    """The function a request op names: the catalog's, getitem, or one of the request's own Functions."""
    functions = getattr(run, "functions", None)
    if functions and name in functions:
        return functions[name]
    fn = OPS.get(name)
    if fn is None and name == "getitem":
        fn = getattr(Tensor, "__getitem__", None)
    return fn



# ----- list-returning ops: their count of tensors from shapes and literals, before they run -----
# (redteam8 F1: tensor_split(x, 10**6) is a 190-byte request. Each op charges its pieces itself before it makes
# them; these counts let the estimate place or refuse such a request, and the binder check its names, before it runs.)

_SPLIT_SIZE = {"split": "split_size_or_sections", "unsafe_split": "split_size"}
_SIZES = {"split_with_sizes", "split_with_sizes_copy"}
_CHUNKS = {"chunk", "unsafe_chunk"}
_UNBINDS = {"unbind", "unbind_copy"}
_DIM_SPLITS = {"hsplit": (1, 1), "vsplit": (0, 2), "dsplit": (2, 3)}  # (dim, the least ndim)
_SPLITS = frozenset({*_SPLIT_SIZE, *_SIZES, *_CHUNKS, *_UNBINDS, *_DIM_SPLITS, "tensor_split"})
OPERAND_OPS = frozenset({"meshgrid", "broadcast_tensors", "atleast_1d", "atleast_2d", "atleast_3d"})
# the list-returning ops whose names check_names checks before they run (run_op; engine/program/signatures.py
# leaves them to run_op): the splits by their count from shapes and literals, the others one output per operand
PIECE_OPS = _SPLITS | OPERAND_OPS
_FIRST = {"split": "tensor"}
_SECOND = {**_SPLIT_SIZE, "split_with_sizes": "split_sizes", "split_with_sizes_copy": "split_sizes", "chunk": "chunks",
           "unsafe_chunk": "chunks", "tensor_split": "indices_or_sections", "hsplit": "indices_or_sections",
           "vsplit": "indices_or_sections", "dsplit": "indices_or_sections"}


def _by_size(size, s):
    """split's count for a piece size (join._split_count), None where split refuses it."""
    if type(s) is not int or s < 0 or (s == 0 and size != 0):
        return None
    return 1 if s == 0 else max(-(-size // s), 1)


def _count(op, x, p, dim):
    if not hasattr(x, "shape") or len(x.shape) == 0 or type(dim) is not int:
        return None
    shape = tuple(x.shape)
    if op in _DIM_SPLITS:
        d, least = _DIM_SPLITS[op]
        if len(shape) < least:
            return None
        d = 0 if op == "hsplit" and len(shape) == 1 else d
        if type(p) is int:
            return p if p > 0 and shape[d] % p == 0 else None
        return len(p) + 1 if isinstance(p, list) and all(type(i) is int for i in p) else None
    if not -len(shape) <= dim < len(shape):
        return None
    size = shape[dim]
    if op in _UNBINDS:
        return size
    if op in _CHUNKS:
        if type(p) is not int or p <= 0:
            return None
        s = -(-size // p)
        return p if s == 0 else _by_size(size, s)
    if op == "tensor_split":
        if type(p) is int:
            return p if p > 0 else None
        if isinstance(p, list):
            return len(p) + 1 if all(type(i) is int for i in p) else None
        if isinstance(p, Tensor) and p.ndim == 1 and p.dtype is D.int64:  # (a stand-in has no dtype: not counted)
            return p.numel() + 1
        return None
    if type(p) is int and op in _SPLIT_SIZE:
        return _by_size(size, p)
    if isinstance(p, list) and op != "unsafe_split" and all(type(i) is int and i >= 0 for i in p):
        return len(p) if sum(p) == size else None
    return None


def returned_count(op, args, kwargs):
    """How many tensors a list-returning op of the catalog returns, from its input's shape and its literal
    arguments (tensors as Tensors or shape stand-ins), or None: not such an op, a count that needs values, or
    a call the op itself refuses (its own error comes first). The count the op charges its pieces by."""
    if op not in _SPLITS or len(args) > 3:
        return None
    first, second = _FIRST.get(op, "input"), _SECOND.get(op)
    if any(k not in (first, second, "dim") for k in kwargs):
        return None
    x = args[0] if args else kwargs.get(first)
    if second is None:  # unbind: (input, dim)
        if len(args) > 2:
            return None
        p, dim = None, args[1] if len(args) > 1 else kwargs.get("dim", 0)
    else:
        p = args[1] if len(args) > 1 else kwargs.get(second)
        dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
        if op in _DIM_SPLITS and (len(args) > 2 or "dim" in kwargs):
            return None
    if isinstance(p, tuple):
        p = list(p)
    try:
        return _count(op, x, p, dim)
    except Exception:  # noqa: BLE001 - cannot tell: the op decides
        return None


def operand_count(op, args):
    """The outputs of meshgrid / broadcast_tensors / atleast_*d: one per operand (bounded by the body)."""
    if op not in OPERAND_OPS:
        return None
    return len(args[0]) if len(args) == 1 and isinstance(args[0], list | tuple) else len(args)


def operand_returns(op, args, kwargs):
    """(how many tensors meshgrid / broadcast_tensors / atleast_*d return, whether as a tuple) for a call the
    op will not refuse (every operand a Tensor; meshgrid's one dtype, 0-d or 1-d operands and indexing; the
    operands' shapes broadcast), else None: the op runs and its own error comes first, as before."""
    if op not in OPERAND_OPS:
        return None
    seq = len(args) != 1
    ts = args
    if len(args) == 1 and isinstance(args[0], list | tuple):
        ts, seq = args[0], True
    if not all(isinstance(t, Tensor) for t in ts):
        return None
    if op == "meshgrid":
        if any(k != "indexing" for k in kwargs) or kwargs.get("indexing") not in (None, "xy", "ij") or not ts:
            return None
        dt = ts[0].dtype
        if any(t.dtype is not dt or t.ndim > 1 for t in ts):
            return None
        return len(ts), True
    if kwargs:
        return None
    if op == "broadcast_tensors":
        shape = ()
        try:
            for t in ts:
                shape = broadcast_shapes(shape, tuple(t.shape))
        except Exception:  # noqa: BLE001 - the op's own error
            return None
        return len(ts), True
    return len(ts), seq  # atleast_*d: one tensor for one Tensor operand, else a tuple


def check_names(op, fn, name, args, kwargs, loc):
    """The binder's names check before the op runs, where its count is known from shapes and literals (or its
    operands): a single name for an op that returns a list (or a list of the wrong length) is refused before
    its pieces are made or charged (it was refused after them: 10^5 pieces made in a worker for a 422)."""
    if op not in PIECE_OPS or fn is not OPS.get(op) or not (type(name) is str or isinstance(name, list)):
        return
    if op in OPERAND_OPS:
        r = operand_returns(op, args, kwargs)
        if r is None:
            return
        n, seq = r
        if not seq:  # one Tensor: a name, or a list of one
            if type(name) is str:
                return
    else:
        n = returned_count(op, args, kwargs)
        if n is None:
            return
    if type(name) is str:
        raise RequestError(f"op {op!r} returns {n} tensors: give a list of names", [*loc, "name"])
    req(len(name) == n, f"op {op!r} returned {n} tensors but {len(name)} names were given", [*loc, "name"])
