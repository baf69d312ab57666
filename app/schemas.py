"""Request and response documents of API.md (v1.1) as Pydantic models, and the named OpenAPI components
they refer to.

Requests are checked here only as far as their envelope goes (field names, types, names' lengths):
tensor `data` stays `Any` and is read once, by the engine, which does every semantic check. Responses
come from the engine already as JSON; these models describe them in OpenAPI and are never run on them.

For client generators (tests/app/test_openapi_generators.py): tensor data is a named, recursive type
(`TensorData` = `Scalar` | `NestedList` | `Base64Data`, `NestedList` an array of `Scalar` or `NestedList`),
the non-finite strings are the enum `NonFinite` with member names, the closed string sets are named enums,
and request fields carry no JSON Schema `default` (their default is said in the description): generators
read `default` as "always present" (openapi-typescript makes such a field required), which is true of a
response and false of a request.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
# Every list and dict of a request stops at its first bad entry (fail_fast): a list of N bad entries answered N
# errors, ~125 bytes each for an entry's 2-3 bytes, all built in memory first (redteam16 F2: `backward: [0] x 340,000`,
# a 1 MB body, answered a 42.7 MB 422). An object's own unknown keys are bounded before Pydantic reads it
# (app/services/planning.py `check_envelope`).
Names = Annotated[list[Name], Field(fail_fast=True)]


def ref(component: str) -> dict:
    return {"$ref": f"#/components/schemas/{component}"}


def _enum(values: list[str], names: list[str], description: str) -> dict:
    return {"type": "string", "enum": values, "x-enum-varnames": names, "description": description}


# Named schemas that the models below refer to by `$ref` (app/openapi.py adds them to the components).
# Written out rather than generated, because the values they describe stay `Any` (or a Literal) at run time:
# Pydantic walking a 10-million-element list would cost more than the evaluation.
COMPONENTS: dict[str, dict] = {
    "NonFinite": _enum(["NaN", "Infinity", "-Infinity"], ["NAN", "INFINITY", "NEGATIVE_INFINITY"],
                       "A non-finite number, written as a string (the protobuf JSON convention)."),
    "Scalar": {"anyOf": [{"type": "number"}, {"type": "boolean"}, ref("NonFinite")],
               "description": "One element: a number, a boolean, or a non-finite number's string."},
    "NestedList": {"type": "array", "items": {"anyOf": [ref("Scalar"), ref("NestedList")]},
                   "description": "A rectangular nested list of elements (one level per dimension)."},
    "Base64Data": {
        "type": "object",
        "properties": {"dtype": {"type": "string", "description": "Element type of the bytes."},
                       "shape": {"type": "array", "items": {"type": "integer", "minimum": 0},
                                 "description": "The tensor's shape."},
                       "b64": {"type": "string", "description": "The elements, little-endian, C order, base64."}},
        "required": ["dtype", "shape", "b64"],
        "additionalProperties": False,
        "description": "Compact form of a tensor's data (`encoding: \"base64\"`).",
    },
    "TensorData": {"anyOf": [ref("Scalar"), ref("NestedList"), ref("Base64Data")],
                   "description": "A tensor's values: one element (a 0-d tensor), a rectangular nested list, or "
                                  "a {dtype, shape, b64} object."},
    "DType": _enum(["float32", "float64", "float16", "int64", "int32", "bool"],
                   ["FLOAT32", "FLOAT64", "FLOAT16", "INT64", "INT32", "BOOL"], "A tensor's element type."),
    "Device": _enum(["cpu", "cuda", "auto"], ["CPU", "CUDA", "AUTO"],
                    "Where to run: `cpu`, `cuda` (503 where no CUDA backend is available) or `auto` (CUDA only "
                    "where available and worth it)."),
    "Encoding": _enum(["json", "base64"], ["JSON", "BASE64"],
                      "How a response carries `data` and `grad`: nested lists, or {dtype, shape, b64} objects."),
    "GraphFormat": _enum(["svg", "dot"], ["SVG", "DOT"], "A drawn graph (`image/svg+xml`) or Graphviz DOT text."),
    "Transform": _enum(["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"],
                       ["JACOBIAN", "HESSIAN", "VJP", "JVP", "HVP", "VHP"],
                       "A function of `torch.autograd.functional`."),
    "Strategy": _enum(["reverse-mode", "forward-mode"], ["REVERSE_MODE", "FORWARD_MODE"],
                      "How `jacobian` (`strategy`) or `hessian` (`outer_jacobian_strategy`) computes."),
    "FunctionalValue": {"anyOf": [ref("TensorOut"), {"type": "array", "items": ref("FunctionalValue")},
                                  {"type": "null"}],
                        "description": "A return value of `torch.autograd.functional`: a tensor, or a list "
                                       "(a Python tuple) of them, nested as PyTorch nests them."},
}

_MARK = "x-gradserve-component"


def component(name: str) -> WithJsonSchema:
    """Documents the annotated type as `$ref` to COMPONENTS[name]. Pydantic rejects a `$ref` it did not make
    (and inlines its own definitions used once), so the field's schema holds a mark that `resolve_marks`
    turns into the `$ref` once the whole document is built (app/openapi.py)."""
    assert name in COMPONENTS, name
    return WithJsonSchema({_MARK: name})


def resolve_marks(doc):
    """`doc` with every component mark replaced by its `$ref` (siblings such as `description` kept)."""
    if isinstance(doc, dict):
        out = {k: resolve_marks(v) for k, v in doc.items() if k != _MARK}
        return {**ref(doc[_MARK]), **out} if _MARK in doc else out
    if isinstance(doc, list):
        return [resolve_marks(v) for v in doc]
    return doc


TensorData = Annotated[Any, component("TensorData")]
FunctionalValue = Annotated[Any, component("FunctionalValue")]
JsonLiteral = Annotated[Any, WithJsonSchema({"description": "Any JSON value."})]
DType = Annotated[Literal["float32", "float64", "float16", "int64", "int32", "bool"], component("DType")]
Device = Annotated[Literal["cpu", "cuda", "auto"], component("Device")]
Encoding = Annotated[Literal["json", "base64"], component("Encoding")]
GraphFormat = Annotated[Literal["svg", "dot"], component("GraphFormat")]
Transform = Annotated[Literal["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"], component("Transform")]
Strategy = Annotated[Literal["reverse-mode", "forward-mode"], component("Strategy")]


def _defaults_in_descriptions(schema: dict) -> None:
    """A request field's default goes from JSON Schema's `default` into its description (see the module)."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop:
            default = prop.pop("default")
            if default not in (None, [], {}):  # "absent" needs no words; the description says what it means
                text = "true" if default is True else "false" if default is False else repr(default).replace("'", '"')
                prop["description"] = f"{prop.get('description', '').rstrip()} Default: `{text}`.".lstrip()


class _Request(BaseModel):
    # strict: what passes here is exactly what the engine reads (no "true" -> True coercion on the way).
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_defaults_in_descriptions)


# ----- requests -----

class LeafSpec(_Request):
    """A leaf tensor, as `torch.tensor(data, dtype=dtype, requires_grad=requires_grad)`."""

    data: TensorData = Field(description="The tensor's values: a number or a rectangular nested list "
                                         "(\"NaN\", \"Infinity\" and \"-Infinity\" stand for non-finite "
                                         "values), or a {dtype, shape, b64} object.")
    dtype: DType | None = Field(
        None, description="Element type. Absent: inferred as torch infers it (a float anywhere -> float32, "
                          "all ints -> int64, all bools -> bool), except that whole numbers with "
                          "`requires_grad` are float32 (v1.1: JSON writes 2.0 as 2).")
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
    """One line of the program: `name = op(*args, **kwargs)`, or a statement (`setitem`, `backward`, ...)."""

    name: Name | Names | None = Field(
        None, description="Name of the new tensor; a list of names for ops with several results "
                          "(`max` with `dim`, `split`, `chunk`, `unbind`, `autograd.grad`); absent for ops "
                          "that return nothing (`setitem`, `backward`, `retain_grad`).")
    op: str = Field(min_length=1, max_length=128,
                    description="A function of `torch` or `torch.nn.functional`, a Tensor method or property "
                                "(`T`, `mT`), an in-place method (`add_`, ...), `getitem`/`setitem`, an autograd "
                                "step (`backward`, `grad`, `autograd.grad`, `detach`, `requires_grad_`, "
                                "`retain_grad`), or the name of a function of `functions`. `GET /v1/ops` lists "
                                "the catalog.")
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
        None, description="Keep the graph's saved tensors for another pass; absent: `create_graph`.")
    create_graph: bool = Field(False, description="Record the backward pass itself, for higher-order grads.")
    inputs: Names | None = Field(
        None, description="Accumulate only into these tensors' `.grad`; absent: every leaf that needs it.")


class FunctionForward(_Request):
    """The `forward` of a custom `torch.autograd.Function`, as a sub-program (run with grad mode off)."""

    inputs: Names = Field(description="Parameter names: the arguments the op passes (tensors or numbers).")
    ops: list[OpSpec] = Field(default_factory=list, fail_fast=True, description="The forward's lines, as in `ops`.")
    output: Name | Names = Field(description="What forward returns: a name, or a list (a tuple).")
    save: Names = Field(default_factory=list,
                             description="What `ctx.save_for_backward` keeps: inputs or forward values.")


class FunctionBackward(_Request):
    """The `backward` of a custom `torch.autograd.Function`, as a sub-program."""

    inputs: Names = Field(description="Names of the incoming gradients, one per forward output; the saved "
                                           "tensors are visible by their forward names.")
    ops: list[OpSpec] = Field(default_factory=list, fail_fast=True, description="The backward's lines, as in `ops`.")
    output: Name | None | Annotated[list[Name | None], Field(fail_fast=True)] = Field(
        description="One gradient per forward input (a name, or null for no gradient); a single name where "
                    "forward has one input.")


class CustomFunction(_Request):
    """A `torch.autograd.Function` subclass; an op whose `op` is its name applies it (`Fn.apply(*args)`)."""

    forward: FunctionForward = Field(description="The forward sub-program.")
    backward: FunctionBackward = Field(description="The backward sub-program (`<Name>Backward` in the graph).")


class Program(_Request):
    """What every program-running endpoint reads: leaves, then ops (or an expression)."""

    leaves: dict[Name, LeafSpec] = Field(default_factory=dict, fail_fast=True, description="Name -> leaf tensor.")
    ops: list[OpSpec] = Field(default_factory=list, fail_fast=True,
                              description="The program, in order; each entry defines new tensor(s).")
    expression: str | None = Field(
        None, description="Instead of `ops`: Python-syntax statements separated by newlines or `;`, each "
                          "`name = expr`, the last optionally a bare expression named `out` (`a*b + c`). Parsed "
                          "into the same ops with PyTorch's operator semantics; never evaluated as code.")
    functions: dict[Name, CustomFunction] = Field(
        default_factory=dict, fail_fast=True,
        description="Custom autograd Functions by name, applied by ops of that name.")
    seed: int | None = Field(
        None, ge=0, le=(1 << 63) - 1,
        description="Seeds the generator of random factories (`rand`, `randn`, ...) and `dropout`, so the "
                    "request is reproducible.")
    device: Device = Field("auto", description="`cpu`, `cuda` (503 where no CUDA backend is available) or "
                                               "`auto` (CUDA only where available and worth it).")


class EvaluateRequest(Program):
    """A program of tensor operations to run with PyTorch 2.13's autograd semantics."""

    backward: list[BackwardSpec] = Field(
        default_factory=list, fail_fast=True,
        description="Backward passes after the ops, in order. Gradients accumulate into leaves across passes as "
                    "in PyTorch.")
    retain_grad: Names = Field(
        default_factory=list, description="Non-leaf names on which `.retain_grad()` is called when created.")
    grads: Names | None = Field(
        None, description="Names whose `.grad` the caller reads. Absent: every leaf with `requires_grad`.")
    outputs: Names | None = Field(
        None, description="Names to return. Absent: every leaf and op result.")
    detect_anomaly: bool = Field(
        False, description="Run under `torch.autograd.set_detect_anomaly(True)`: a backward that produces NaN "
                           "fails with PyTorch's error.")
    encoding: Encoding = Field(
        "json", description="How the response carries `data` and `grad`: nested lists (`json`) or "
                            "{dtype, shape, b64} objects (`base64`, compact and exact for large tensors).")


class GraphRequest(EvaluateRequest):
    """POST /v1/graph: a program, and the form of its backward graph's picture."""

    format: GraphFormat = Field("svg", description="`svg` (drawn, `image/svg+xml`) or `dot` (Graphviz DOT text, "
                                                   "`text/vnd.graphviz`).")


class FunctionIO(_Request):
    """The program seen as a Python function: which leaves are its parameters, which tensors it returns."""

    inputs: Name | Names = Field(description="A leaf name (one Tensor) or a list of them (a tuple); their "
                                                  "values are the point. Other leaves are constants.")
    output: Name | Names = Field(description="A name (one Tensor) or a list of names (a tuple).")


class FunctionalRequest(Program):
    """POST /v1/functional: `torch.autograd.functional.<transform>` of the program."""

    transform: Transform = Field(description="`jacobian`, `hessian`, `vjp`, `jvp`, `hvp` or `vhp`.")
    function: FunctionIO = Field(description="The program as a function: its inputs and output(s).")
    v: Annotated[Any, WithJsonSchema({"anyOf": [ref("TensorData"), {"type": "array", "items": ref("TensorData")},
                                                {"type": "null"}]})] = Field(
        None, description="For `vjp` (shaped like the output(s)), `jvp`, `hvp`, `vhp` (like the inputs): data, or "
                          "a list of data for a tuple; absent where PyTorch allows `v=None`.")
    create_graph: bool | None = Field(None, description="PyTorch's `create_graph`; absent: its default (false).")
    strict: bool | None = Field(None, description="PyTorch's `strict`; absent: its default (false).")
    vectorize: bool | None = Field(None, description="`jacobian`/`hessian` only; absent: PyTorch's default (false).")
    strategy: Strategy | None = Field(None, description="`jacobian` only; absent: PyTorch's default (reverse-mode).")
    outer_jacobian_strategy: Strategy | None = Field(
        None, description="`hessian` only; absent: PyTorch's default (reverse-mode).")
    detect_anomaly: bool = Field(False, description="Run under `torch.autograd.set_detect_anomaly(True)`.")
    encoding: Encoding = Field(
        "json", description="How the result's tensors carry `data` and `grad`: nested lists (`json`) or "
                            "{dtype, shape, b64} objects (`base64`, compact and exact for large Jacobians).")


class GradcheckRequest(Program):
    """POST /v1/gradcheck: `torch.autograd.gradcheck` (and `gradgradcheck`) of the program."""

    function: FunctionIO = Field(description="The program as a function; its inputs must require grad.")
    eps: float | None = Field(None, gt=0, description="Finite-difference step; absent: PyTorch's (1e-6).")
    atol: float | None = Field(None, ge=0, description="Absolute tolerance; absent: PyTorch's (1e-5).")
    rtol: float | None = Field(None, ge=0, description="Relative tolerance; absent: PyTorch's (1e-3).")
    fast_mode: bool | None = Field(None, description="PyTorch's fast mode; absent: its default (false).")
    gradgrad: bool = Field(False, description="Also run `gradgradcheck` (its random `grad_outputs` are the "
                                              "engine's own draws, not torch's).")
    detect_anomaly: bool = Field(False, description="Run under `torch.autograd.set_detect_anomaly(True)`.")


class BatchRequest(_Request):
    """POST /v1/evaluate/batch: several /v1/evaluate bodies, each run (and failing) on its own."""

    requests: list[EvaluateRequest] = Field(fail_fast=True,
        description="The documents, in order; each is checked and run as a `POST /v1/evaluate` body. Their "
                    "number has its own limit (413, `max_batch_documents`); the body limit is the whole body's.")


# ----- responses (documentation only) -----

class TensorOut(BaseModel):
    """One tensor after the whole program (all ops, then all backward passes)."""

    shape: list[int] = Field(description="`list(t.shape)`.")
    dtype: DType = Field(description="Element type, e.g. `float32`.")
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
    next_functions: list[Annotated[list[int], Field(min_length=2, max_length=2)] | None] = Field(
        description="Aligned with PyTorch's `grad_fn.next_functions`: `[node id, input_nr]` or null.")


class WarningOut(BaseModel):
    """A warning PyTorch would raise for this program."""

    category: str = Field(description="Warning class, e.g. `UserWarning`.")
    message: str = Field(description="Message as PyTorch words it.")


class EvaluateResponse(BaseModel):
    """The evaluated program: tensors, backward graph, warnings."""

    tensors: dict[str, TensorOut | None] = Field(
        description="Name -> tensor, for every name in `outputs` (null for a name bound to None, v1.1).")
    graph: list[GraphNode] = Field(description="The backward graph as PyTorch builds it.")
    warnings: list[WarningOut] = Field(description="Warnings raised while running the program.")
    device: str = Field(description="Where the program ran: `cpu` or `cuda`.")
    device_note: str | None = Field(None, description="Why an `auto` request ran elsewhere than planned (a CUDA "
                                                      "worker that failed); absent otherwise.")


class ErrorItem(BaseModel):
    """One error."""

    type: str = Field(description="PyTorch's exception class (`RuntimeError`, ...) for errors PyTorch "
                                  "raises; else a short code (`missing`, `extra_forbidden`, "
                                  "`limit_exceeded`, `timeout`, `unauthorized`, ...).")
    loc: list[str | int] = Field(description="Where: a path into the request, e.g. `[\"body\", \"ops\", 3]`.")
    msg: str = Field(description="What went wrong; for PyTorch's errors, its message to the character.")


class ErrorResponse(BaseModel):
    """Every error body, in FastAPI's shape."""

    detail: list[ErrorItem] = Field(description="The errors found.")


class BatchResult(BaseModel):
    """One document's answer: the status and body that `POST /v1/evaluate` would have given it."""

    status: int = Field(description="HTTP status of this document alone (200, 413, 422, 503, 504, ...).")
    body: EvaluateResponse | ErrorResponse = Field(description="Its response body (200) or error body.")


class BatchResponse(BaseModel):
    """The batch's answers, in the order of `requests`."""

    results: list[BatchResult] = Field(description="One per document, in order.")


class FunctionalResponse(BaseModel):
    """`torch.autograd.functional`'s return value as JSON."""

    result: FunctionalValue = Field(description="The Jacobian, Hessian or product: a tensor, or lists of them "
                                                "nested as PyTorch nests its tuples.")
    output: FunctionalValue = Field(None, description="`vjp`, `jvp`, `hvp`, `vhp`: the function's output (PyTorch "
                                                      "returns `(func_output, result)`); absent otherwise.")
    warnings: list[WarningOut] = Field(description="Warnings raised while running.")
    device: str = Field(description="Where it ran: `cpu` or `cuda`.")


class GradcheckError(BaseModel):
    """Why a check failed."""

    type: Literal["GradcheckError"] = Field(description="`GradcheckError`.")
    msg: str = Field(description="PyTorch's message to the character (numerical and analytical Jacobians).")


class GradcheckOutcome(BaseModel):
    """One check's verdict."""

    ok: bool = Field(description="Whether the analytical gradients match the numerical ones.")
    error: GradcheckError | None = Field(description="Why not; null when `ok`.")


class GradcheckResponse(BaseModel):
    """`gradcheck` (and `gradgradcheck`) of the program."""

    gradcheck: GradcheckOutcome = Field(description="`torch.autograd.gradcheck`'s verdict.")
    gradgradcheck: GradcheckOutcome | None = Field(description="`gradgradcheck`'s, with `gradgrad`; else null.")
    warnings: list[WarningOut] = Field(description="Warnings raised while running.")
    device: str = Field(description="Where it ran: `cpu` or `cuda`.")


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
