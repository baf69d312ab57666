"""Request and response documents of API.md as Pydantic models.

Requests are checked here only as far as their envelope goes (field names, types, names' lengths):
tensor `data` stays `Any` and is read once, by the engine, which does every semantic check. Responses
come from the engine already as JSON; these models describe them in OpenAPI and are never run on them.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]

_BASE64 = {
    "type": "object",
    "properties": {"dtype": {"type": "string", "description": "Element type of the bytes."},
                   "shape": {"type": "array", "items": {"type": "integer"},
                             "description": "The tensor's shape."},
                   "b64": {"type": "string", "description": "The elements, little-endian, C order, base64."}},
    "required": ["dtype", "shape", "b64"],
    "additionalProperties": False,
    "description": "Compact form of a tensor's data (`encoding: \"base64\"`).",
}
TensorData = Annotated[Any, WithJsonSchema({
    "anyOf": [{"type": "number"}, {"type": "boolean"},
              {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
              {"type": "array", "items": {}}, _BASE64],
    "description": "A number (or \"NaN\", \"Infinity\", \"-Infinity\"), a rectangular nested list of them, "
                   "or a {dtype, shape, b64} object.",
})]
JsonLiteral = Annotated[Any, WithJsonSchema({"description": "Any JSON value."})]


class _Request(BaseModel):
    # strict: what passes here is exactly what the engine reads (no "true" -> True coercion on the way).
    model_config = ConfigDict(extra="forbid", strict=True)


class LeafSpec(_Request):
    """A leaf tensor, as `torch.tensor(data, dtype=dtype, requires_grad=requires_grad)`."""

    data: TensorData = Field(description="The tensor's values: a number or a rectangular nested list "
                                         "(\"NaN\", \"Infinity\" and \"-Infinity\" stand for non-finite "
                                         "values), or a {dtype, shape, b64} object.")
    dtype: Literal["float32", "float64", "float16", "int64", "int32", "bool"] | None = Field(
        None, description="Element type. Absent: inferred as torch infers it (a float anywhere -> float32, "
                          "all ints -> int64, all bools -> bool).")
    requires_grad: bool = Field(False, description="Whether autograd records operations on this leaf.")

    @field_validator("data")
    @classmethod
    def _b64_envelope(cls, v: Any) -> Any:
        # A {dtype, shape, b64} object's envelope is checked here, before the service's cost estimate reads
        # its shape (a shape of dicts or strings made the estimate raise TypeError: a 500). The engine still
        # decodes and checks the bytes; messages follow the engine's.
        if isinstance(v, dict):
            for k in v:
                if k not in ("dtype", "shape", "b64"):
                    raise PydanticCustomError("extra_forbidden", "{key}: Extra inputs are not permitted",
                                              {"key": str(k)[:64]})
            for k in ("dtype", "shape", "b64"):
                if k not in v:
                    raise PydanticCustomError("missing", "{key}: Field required", {"key": k})
            shape = v["shape"]
            if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
                raise PydanticCustomError("value_error", "shape must be a list of non-negative integers")
            if not isinstance(v["b64"], str):
                raise PydanticCustomError("string_type", "b64: Input should be a valid string")
            if not isinstance(v["dtype"], str):
                raise PydanticCustomError("string_type", "dtype: Input should be a valid string")
        return v


class OpSpec(_Request):
    """One step of the program: `name = op(*args, **kwargs)`."""

    name: Name | list[Name] = Field(
        description="Name of the new tensor; a list of names for ops with several results "
                    "(`max` with `dim`, `split`, `chunk`, `unbind`).")
    op: str = Field(min_length=1, max_length=128,
                    description="A function of `torch` or `torch.nn.functional`, or a Tensor method or "
                                "property (`T`, `mT`); `getitem` indexes. `GET /v1/ops` lists them all.")
    args: list[JsonLiteral] = Field(
        default_factory=list,
        description="Positional arguments, bound to the op's signature in order: a Tensor parameter takes "
                    "the name of an earlier leaf or op, a Tensor-or-Scalar one a name or a number, a list of "
                    "Tensors a list of names, any other parameter a JSON literal.")
    kwargs: dict[str, JsonLiteral] = Field(default_factory=dict,
                                           description="Keyword arguments, bound like `args`.")
    no_grad: bool = Field(False, description="Run this op as under `torch.no_grad()`.")


class BackwardSpec(_Request):
    """One pass of `torch.autograd.backward(tensor, gradient, retain_graph, create_graph, inputs)`."""

    tensor: Name = Field(description="Name of the tensor to differentiate.")
    gradient: TensorData | None = Field(
        None, description="The gradient w.r.t. `tensor` (its shape); needed where `tensor` is not a scalar.")
    retain_graph: bool | None = Field(
        None, description="Keep the graph's saved tensors for another pass; defaults to `create_graph`.")
    create_graph: bool = Field(False, description="Record the backward pass itself, for higher-order grads.")
    inputs: list[Name] | None = Field(
        None, description="Accumulate only into these tensors' `.grad`; default: every leaf that needs it.")


class EvaluateRequest(_Request):
    """A program of tensor operations to run with PyTorch 2.13's autograd semantics."""

    leaves: dict[Name, LeafSpec] = Field(default_factory=dict, description="Name -> leaf tensor.")
    ops: list[OpSpec] = Field(default_factory=list,
                              description="The program, in order; each entry defines new tensor(s).")
    backward: list[BackwardSpec] = Field(
        default_factory=list,
        description="Backward passes, in order. Gradients accumulate into leaves across passes as in "
                    "PyTorch.")
    retain_grad: list[Name] = Field(
        default_factory=list, description="Non-leaf names on which `.retain_grad()` is called when created.")
    grads: list[Name] | None = Field(
        None, description="Names whose `.grad` the caller reads. Default: every leaf with `requires_grad`.")
    outputs: list[Name] | None = Field(
        None, description="Names to return. Default: every leaf and op result.")
    device: Literal["cpu", "cuda", "auto"] = Field(
        "auto", description="`cpu`, `cuda` (503 where no CUDA backend is available) or `auto` "
                            "(CUDA only where available and worth it).")
    encoding: Literal["json", "base64"] = Field(
        "json", description="How the response carries `data` and `grad`: nested lists (`json`) or "
                            "{dtype, shape, b64} objects (`base64`, compact and exact for large tensors).")
    seed: int | None = Field(
        None, ge=0, le=(1 << 63) - 1,
        description="Seeds the generator of random factories (`rand`, `randn`, ...) and `dropout`, so the "
                    "request is reproducible.")


# ----- responses (documentation only) -----

class TensorOut(BaseModel):
    """One tensor after all backward passes."""

    shape: list[int] = Field(description="`list(t.shape)`.")
    dtype: str = Field(description="Element type, e.g. `float32`.")
    data: TensorData = Field(description="Values as a number or nested list (non-finite values as "
                                         "\"NaN\", \"Infinity\", \"-Infinity\"), or a {dtype, shape, b64} "
                                         "object with `encoding: \"base64\"`.")
    requires_grad: bool = Field(description="`t.requires_grad`.")
    is_leaf: bool = Field(description="`t.is_leaf`.")
    grad_fn: str | None = Field(description="`t.grad_fn.name()`, e.g. `MulBackward0`; null for leaves.")
    grad: TensorData | None = Field(description="`t.grad` after all passes; null where PyTorch gives None.")
    retains_grad: bool = Field(description="`t.retains_grad`.")
    repr: str = Field(description="`repr(t)` exactly as PyTorch 2.13 prints it.")


class GraphNode(BaseModel):
    """One grad_fn object of the backward graph."""

    id: int = Field(description="Node id, referenced by `next_functions`.")
    name: str = Field(description="The grad_fn's class name, e.g. `AccumulateGrad`, `MmBackward0`.")
    tensor: str | None = Field(description="The request tensor whose grad_fn this node is; null for internal "
                                           "nodes.")
    next_functions: list[tuple[int, int] | None] = Field(
        description="Aligned with PyTorch's `grad_fn.next_functions`: `[node id, input_nr]` or null.")


class WarningOut(BaseModel):
    """A warning PyTorch would raise for this program."""

    category: str = Field(description="Warning class, e.g. `UserWarning`.")
    message: str = Field(description="Message as PyTorch words it.")


class EvaluateResponse(BaseModel):
    """The evaluated program: tensors, backward graph, warnings."""

    tensors: dict[str, TensorOut] = Field(description="Name -> tensor, for every name in `outputs`.")
    graph: list[GraphNode] = Field(description="The backward graph as PyTorch builds it.")
    warnings: list[WarningOut] = Field(description="Warnings raised while running the program.")
    device: str = Field(description="Where the program ran: `cpu` or `cuda`.")


class ErrorItem(BaseModel):
    """One error."""

    type: str = Field(description="PyTorch's exception class (`RuntimeError`, ...) for errors PyTorch "
                                  "raises; else a short code (`missing`, `extra_forbidden`, "
                                  "`limit_exceeded`, `timeout`, ...).")
    loc: list[str | int] = Field(description="Where: a path into the request, e.g. `[\"body\", \"ops\", 3]`.")
    msg: str = Field(description="What went wrong; for PyTorch's errors, its message to the character.")


class ErrorResponse(BaseModel):
    """Every error body, in FastAPI's shape."""

    detail: list[ErrorItem] = Field(description="The errors found.")


class OpInfo(BaseModel):
    """One op of the catalog."""

    name: str = Field(description="The name a request's `op` uses.")
    signature: str = Field(description="Its signature as PyTorch writes it.")
    grad_fn: list[str] = Field(description="The grad_fn class name(s) it can produce.")
    description: str = Field(description="One line on what it does.")
    kinds: list[str] = Field(description="Where PyTorch has it: `function` (torch.*), `method` (Tensor.*), "
                                         "`functional` (torch.nn.functional.*).")


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"] = Field(description="Always `ok` while the process serves requests.")


class Backends(BaseModel):
    """Array backends this server can compute on."""

    numpy: bool = Field(description="NumPy (CPU); always available.")
    cupy: bool = Field(description="CuPy on a CUDA GPU.")
    cupy_reason: str = Field(description="Why CuPy is or is not usable.")


class WorkerProcess(BaseModel):
    """One compute worker process."""

    pid: int = Field(description="Process id.")
    busy: bool = Field(description="Whether it is computing a request now.")


class Workers(BaseModel):
    """The pool of killable compute processes that run costly requests."""

    size: int = Field(description="Configured number of worker processes.")
    alive: int = Field(description="Worker processes alive now.")
    busy: int = Field(description="Worker processes computing now.")
    idle: int = Field(description="Worker processes ready for a request now.")
    restarts: int = Field(description="Workers replaced so far (after a time-out or a crash).")
    processes: list[WorkerProcess] = Field(description="Each worker process.")
    in_flight: int = Field(description="Evaluations in progress in this server process.")
    max_in_flight: int = Field(description="Evaluations allowed at once before 503.")


class Ready(BaseModel):
    """Readiness; with the backends and workers only for a caller with a valid API key."""

    status: Literal["ready"] = Field(description="`ready` when requests can be served.")
    backends: Backends | None = Field(None, description="Array backends available (with a valid API key).")
    workers: Workers | None = Field(None, description="Compute workers and load (with a valid API key).")
