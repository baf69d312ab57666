"""Typed results: the server's JSON as dataclasses, with plain-Python values (no NumPy needed).

Tensor values are Python numbers or nested lists; the wire's "NaN", "Infinity", "-Infinity" become the
floats, and `encoding="base64"` data is decoded with the standard library. `repr(tensor)` is PyTorch's.
"""
from __future__ import annotations

import base64
import math
import struct
from dataclasses import dataclass, field
from typing import Any

NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_STRUCT = {"float32": "f", "float64": "d", "float16": "e", "int64": "q", "int32": "i", "int16": "h",
           "int8": "b", "uint8": "B", "bool": "?"}


def _name(t: Any) -> str:
    """A tensor's name from a name or a builder handle (anything with `.name`)."""
    return t if isinstance(t, str) else t.name


def plain(x: Any) -> Any:
    """Wire data as Python values: non-finite strings to floats, {dtype, shape, b64} decoded."""
    if isinstance(x, list):
        return [plain(v) for v in x]
    if isinstance(x, str):
        return NON_FINITE.get(x, x)
    if isinstance(x, dict) and "b64" in x:
        return decode_b64(x)
    return x


def decode_b64(obj: dict) -> Any:
    """A {dtype, shape, b64} object as nested lists (little-endian, C order)."""
    code = _STRUCT.get(obj["dtype"])
    if code is None:
        raise ValueError(f"cannot decode base64 data of dtype {obj['dtype']!r}")
    shape = list(obj["shape"])
    n = math.prod(shape)
    flat = list(struct.unpack(f"<{n}{code}", base64.b64decode(obj["b64"])))
    return _reshape(flat, shape)


def _reshape(flat: list, shape: list[int]) -> Any:
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat
    step = math.prod(shape[1:])
    return [_reshape(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def to_wire(x: Any) -> Any:
    """Python values as wire data: non-finite floats as their strings, tuples as lists, `.tolist()` used."""
    if hasattr(x, "tolist") and not isinstance(x, (list, tuple)):
        x = x.tolist()
    if isinstance(x, (list, tuple)):
        return [to_wire(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return x


@dataclass(frozen=True, repr=False)
class Tensor:
    """One tensor of a response. `repr(t)` is what PyTorch 2.13 prints for it; `data` and `grad` are Python
    numbers or nested lists (`grad` None where PyTorch's `.grad` is None)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    data: Any
    requires_grad: bool
    is_leaf: bool
    grad_fn: str | None
    grad: Any
    retains_grad: bool
    repr: str

    @classmethod
    def from_json(cls, name: str, doc: dict) -> Tensor:
        return cls(name=name, shape=tuple(doc["shape"]), dtype=doc["dtype"], data=plain(doc["data"]),
                   requires_grad=doc["requires_grad"], is_leaf=doc["is_leaf"], grad_fn=doc["grad_fn"],
                   grad=None if doc["grad"] is None else plain(doc["grad"]), retains_grad=doc["retains_grad"],
                   repr=doc["repr"])

    def __repr__(self) -> str:
        return self.repr

    def __str__(self) -> str:
        return self.repr

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def tolist(self) -> Any:
        return self.data

    def item(self) -> Any:
        """The one value of a one-element tensor, as `Tensor.item()`."""
        if self.numel != 1:
            raise RuntimeError(f"a Tensor with {self.numel} elements cannot be converted to Scalar")
        v = self.data
        while isinstance(v, list):
            v = v[0]
        return v

    def numpy(self):
        """The values as a NumPy array of the tensor's dtype (imports NumPy)."""
        import numpy as np  # noqa: PLC0415 - optional

        return np.array(self.data, dtype=np.bool_ if self.dtype == "bool" else self.dtype).reshape(self.shape)


@dataclass(frozen=True)
class GraphNode:
    """One grad_fn object: `next_functions` holds (node id, input_nr) or None, as PyTorch aligns them."""

    id: int
    name: str
    tensor: str | None
    next_functions: tuple[tuple[int, int] | None, ...]

    @classmethod
    def from_json(cls, doc: dict) -> GraphNode:
        return cls(doc["id"], doc["name"], doc["tensor"],
                   tuple(None if e is None else (e[0], e[1]) for e in doc["next_functions"]))


@dataclass(frozen=True)
class ServerWarning:
    """A warning PyTorch would raise for the program."""

    category: str
    message: str

    def __str__(self) -> str:
        return f"{self.category}: {self.message}"


def _warnings(doc: dict) -> tuple[ServerWarning, ...]:
    return tuple(ServerWarning(w["category"], w["message"]) for w in doc.get("warnings", ()))


@dataclass(frozen=True)
class EvaluateResult:
    """A POST /v1/evaluate answer. Index it by name or by builder handle: `result["f"]`, `result.grad(a)`."""

    tensors: dict[str, Tensor | None]
    graph: tuple[GraphNode, ...]
    warnings: tuple[ServerWarning, ...]
    device: str
    device_note: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: dict) -> EvaluateResult:
        tensors = {n: None if t is None else Tensor.from_json(n, t) for n, t in doc["tensors"].items()}
        return cls(tensors, tuple(GraphNode.from_json(g) for g in doc.get("graph", ())), _warnings(doc),
                   doc.get("device", "cpu"), doc.get("device_note"), doc)

    def tensor(self, t: Any) -> Tensor:
        name = _name(t)
        if name not in self.tensors:
            raise KeyError(f"{name!r} is not among the returned tensors ({', '.join(self.tensors) or 'none'}); "
                           "`outputs` chooses them")
        value = self.tensors[name]
        if value is None:
            raise KeyError(f"{name!r} is bound to None")
        return value

    __getitem__ = tensor

    def value(self, t: Any) -> Any:
        """The tensor's values (a number or nested lists)."""
        return self.tensor(t).data

    def grad(self, t: Any) -> Any:
        """The tensor's `.grad` values after the program, None where PyTorch's is None."""
        return self.tensor(t).grad

    def repr(self, t: Any) -> str:
        """`repr(t)` as PyTorch prints it."""
        return self.tensor(t).repr


def _functional_value(x: Any) -> Any:
    if isinstance(x, list):
        return [_functional_value(v) for v in x]
    if isinstance(x, dict):
        return Tensor.from_json("", x)
    return x


@dataclass(frozen=True)
class FunctionalResult:
    """A POST /v1/functional answer: `result` (and `output` for vjp/jvp/hvp/vhp) as PyTorch nests them:
    a Tensor, or lists (PyTorch's tuples) of them."""

    result: Any
    output: Any
    warnings: tuple[ServerWarning, ...]
    device: str
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: dict) -> FunctionalResult:
        return cls(_functional_value(doc.get("result")), _functional_value(doc.get("output")), _warnings(doc),
                   doc.get("device", "cpu"), doc)


@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict: `error_msg` is PyTorch's GradcheckError message where it failed."""

    ok: bool
    error_type: str | None = None
    error_msg: str | None = None

    @classmethod
    def from_json(cls, doc: dict | None) -> CheckOutcome | None:
        if doc is None:
            return None
        error = doc.get("error") or {}
        return cls(bool(doc["ok"]), error.get("type"), error.get("msg"))


@dataclass(frozen=True)
class GradcheckResult:
    """A POST /v1/gradcheck answer."""

    gradcheck: CheckOutcome
    gradgradcheck: CheckOutcome | None
    warnings: tuple[ServerWarning, ...]
    device: str
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: dict) -> GradcheckResult:
        return cls(CheckOutcome.from_json(doc["gradcheck"]), CheckOutcome.from_json(doc.get("gradgradcheck")),
                   _warnings(doc), doc.get("device", "cpu"), doc)

    @property
    def ok(self) -> bool:
        return self.gradcheck.ok and (self.gradgradcheck is None or self.gradgradcheck.ok)
