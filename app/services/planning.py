"""What a request's document decides about where it runs, for the server and for a compute worker alike: the
envelope check, the CUDA choice, and a large body's whole handling inside a compute worker.

A large body (GRADSERVE_WORKER_PARSE_MIN_BYTES) is parsed only in a compute worker: orjson holds the GIL for
the whole parse (~20 ms a MiB on a busy core), and one 16 MiB body parsed in a server thread once kept
/healthz waiting 412 ms. The worker checks and plans it as the server would (`cuda_choice`, from a `Routing`
snapshot of the server's state) and runs it there; only where it belongs to the CUDA worker does the server
get it back, to forward. This module imports no event loop or worker code: a worker imports it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from app.core.body import check_duplicate_keys, parse_doc, parsed_memory
from app.core.errors import (
    KEYS_PAST_FIELDS,
    DeviceUnavailable,
    OpsLimitExceeded,
    SchemaError,
    unknown_keys,
    validation_errors,
)
from app.schemas import EvaluateRequest
from app.services import engine as eng
from app.services.cuda_forward import force_cuda
from engine.errors import EngineError


def check_envelope(doc, max_ops: int, model=EvaluateRequest) -> None:
    """Schema of the request (not of tensor data: the engine reads that once, itself).

    Pydantic reports every error it finds, each built in memory (~0.2-0.4 KB inside pydantic-core, ~0.6 KB more as
    `errors()`): a body of N bad entries made N errors (redteam16 F2: 1 M of them held 2.4 GB in a worker). So
    before it reads the request: `ops` is held to max_ops, and no object in the request's structure (the document,
    a leaf, an op, a backward pass, a custom Function and its parts) may hold more than KEYS_PAST_FIELDS keys past
    its model's fields (its first unknown keys are listed, then how many more); every list and dict of the
    schema stops at its first bad entry (app/schemas.py `fail_fast`). So one request's errors are a few dozen."""
    if isinstance(doc, dict) and isinstance(ops := doc.get("ops"), list) and len(ops) > max_ops:
        # Before Pydantic walks them all.
        raise OpsLimitExceeded(f"the request has {len(ops)} ops, over the limit max_ops={max_ops}",
                               ["body", "ops"])
    if type(doc) is dict:
        _keys_bounded(doc, model, ("body",))
    try:
        model.model_validate(doc)
    except ValidationError as e:
        errors = e.errors(include_url=False, include_input=False)
        raise SchemaError(validation_errors(errors, ("body",))) from None


def _models_in(annotation) -> tuple[str, type] | None:
    """("one" | "list" | "dict", model) where a field's type holds request models, else None."""
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "one", annotation
    if origin is Annotated:
        return _models_in(get_args(annotation)[0])
    if origin is list:
        inner = _models_in(get_args(annotation)[0])
        return ("list", inner[1]) if inner is not None and inner[0] == "one" else None
    if origin is dict:
        inner = _models_in(get_args(annotation)[1])
        return ("dict", inner[1]) if inner is not None and inner[0] == "one" else None
    for arm in get_args(annotation) if origin in (Union, UnionType) else ():
        if (inner := _models_in(arm)) is not None:
            return inner
    return None


@functools.cache
def _shape_of(model) -> tuple[frozenset, tuple]:
    """A request model's field names, and its fields that hold models."""
    fields = model.model_fields
    subs = tuple((name, *sub) for name, f in fields.items() if (sub := _models_in(f.annotation)) is not None)
    return frozenset(fields), subs


def _keys_bounded(obj: dict, model, loc: tuple) -> None:
    """SchemaError where an object in `obj`'s structure holds more than KEYS_PAST_FIELDS unknown keys."""
    fields, subs = _shape_of(model)
    if len(obj) > KEYS_PAST_FIELDS:  # (fewer keys cannot be more unknown ones)
        extra = [k for k in obj if k not in fields]
        if len(extra) > KEYS_PAST_FIELDS:
            raise SchemaError(unknown_keys(extra, loc, model.__name__))
    for name, kind, sub in subs:
        v = obj.get(name)
        if kind == "one":
            if type(v) is dict:
                _keys_bounded(v, sub, (*loc, name))
        elif kind == "list":
            if type(v) is list:
                for i, x in enumerate(v):
                    if type(x) is dict:
                        _keys_bounded(x, sub, (*loc, name, i))
        elif type(v) is dict:
            for k, x in v.items():
                if type(x) is dict:
                    _keys_bounded(x, sub, (*loc, name, k))


@dataclass(frozen=True)
class Routing:
    """The server's side of the CUDA choice (plain values: it pickles to a worker).

    in_process: CuPy runs in this server's compute workers (`why` says why not); forward: a CUDA worker is
    configured (and no in-process CUDA); forward_note: the CUDA worker failed lately, so `auto` stays on the
    CPU with this note (None: try it)."""

    in_process: bool
    why: str
    forward: bool
    forward_note: str | None
    accept_cuda_on_cpu: bool
    cuda_min_flops: float
    cuda_min_bytes: int


def cuda_choice(device: str, routing: Routing, cost) -> tuple[str, dict]:
    """Where a request of `device` runs: ("cpu", extra), ("cupy", {}) or ("forward", {}); `extra` is set on the
    response (device_note; device "cuda" under GRADSERVE_ACCEPT_CUDA_ON_CPU, testing only). cost() gives the
    request's estimate; it is asked only for `auto` where CUDA is available."""
    r = routing
    if device == "cpu":
        return "cpu", {}
    if device == "cuda":
        if r.in_process:  # a CUDA context lives in a worker, never in the server process
            return "cupy", {}
        if r.forward:
            return "forward", {}
        if r.accept_cuda_on_cpu:
            return "cpu", {"device": "cuda"}  # TESTING ONLY: NumPy stands in for CUDA
        raise DeviceUnavailable(
            f"device 'cuda' was requested but no CUDA backend is available ({r.why}; and no "
            "GRADSERVE_CUDA_WORKER_URL is configured)", ["body", "device"])
    if r.in_process or r.forward:
        c = cost()
        if c.get("flops", 0) >= r.cuda_min_flops or c.get("bytes", 0) >= r.cuda_min_bytes:
            if r.in_process:
                return "cupy", {}
            if r.forward_note is None:
                return "forward", {}
            return "cpu", {"device_note": r.forward_note}
    return "cpu", {}


def evaluate_large_body(body: bytes, limits: eng.LimitsTuple, routing: Routing, plan_entries: int,
                        deadline: float, process_bytes: int) -> bytes | tuple[str, str, bytes]:
    """What a compute worker runs for a large body: parsed, checked (duplicate keys, envelope), planned and
    evaluated here, under the request's budget; the response bytes, or ("forward", its device, the body with
    `"device": "cuda"`) where the CUDA worker is to run it (the server forwards it)."""
    eng.worker_limits(limits, process_bytes)
    try:
        with parsed_memory(body):
            return _plan_and_run(body, parse_doc(body, checked=True), limits, routing, plan_entries, deadline,
                                 process_bytes)
    except EngineError as e:
        raise eng.portable(e) from None


def _plan_and_run(body, doc, limits, routing, plan_entries, deadline, process_bytes):
    check_duplicate_keys(body, doc)
    ops_doc = eng.expand(doc, limits) if type(doc) is dict and "expression" in doc else doc
    check_envelope(ops_doc, limits[2])
    device = ops_doc.get("device", "auto")
    where, extra = cuda_choice(device, routing, lambda: eng.estimate(ops_doc, limits))
    if where == "forward":
        return "forward", device, force_cuda(body, doc)
    return eng.evaluate_parsed(ops_doc, limits, "cupy" if where == "cupy" else "numpy", extra or None,
                               plan_entries, deadline, process_bytes)
