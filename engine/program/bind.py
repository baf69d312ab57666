"""Binding: a request op's JSON args and kwargs to the values its Python function takes, by its signature."""
from __future__ import annotations

import inspect
import re

from engine import dtypes as D
from engine.catalog import OPS
from engine.errors import RequestError
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

