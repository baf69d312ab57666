"""The service's only door to `engine`: evaluate, transforms, estimate, catalog, backends. Light enough for workers."""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

import engine  # noqa: F401 - the package first: it wires the op catalog up
from engine import _backend, catalog, expression
from engine import program as _evaluate_mod  # the request path: evaluate, estimate, plans, limits
from engine.budget import (  # noqa: F401
    Budget,
    DeadlinePassed,
    ProcessBusy,
    Spill,
    active,
    set_process_limit,
    timeout_message,
)
from engine.errors import EngineError, LimitExceeded
from engine.program import batch as _batch

# (max_tensor_elements, max_total_elements, max_ops, max_request_bytes, max_flops, op_max_flops,
# max_response_bytes): engine.program.Limits' fields in order, as a tuple that pickles anywhere
LimitsTuple = tuple


dumps = _evaluate_mod.encode  # orjson; a stray NumPy scalar becomes its number rather than a failed request


@functools.cache  # one Limits per configuration, not two per request
def make_limits(limits: LimitsTuple):
    return _evaluate_mod.Limits(*limits)


def make_budget(limits: LimitsTuple, deadline: float | None, spill_flops: float = float("inf"),
                spill_bytes: int = 1 << 62, killable: bool = False, spill_ops: bool = False) -> Budget:
    """The engine budget of one run: the limits, the request's deadline (time.monotonic(), the same clock in
    every process of this machine), and the caps of where it runs (past them the engine raises Spill);
    killable: a compute worker's run (one op may be long: the worker is killed at the deadline); spill_ops: a
    long op goes to a worker (there is a pool)."""
    return make_limits(limits).budget(deadline, spill_flops, spill_bytes, killable, spill_ops)


def expand(spec: dict, limits: LimitsTuple) -> dict:
    """A request's `expression` (API.md v1.1) replaced by the `ops` it means: the schema check, the estimate
    and the plan cache then see ops (a worker given the raw body expands it again, identically)."""
    return expression.expand(spec, limits[2])


def estimate(spec: dict, limits: LimitsTuple) -> dict:
    """Flops, bytes and elements of a valid request, by shape inference alone (nothing is allocated)."""
    return _evaluate_mod.estimate(spec, limits=make_limits(limits))


# The programs this process has run, by structure (engine.program.PlanCache): a request shaped like an
# earlier one skips the checks its structure alone decides, here (schema, duplicate keys, cost estimate)
# and in the engine (fields, names, signatures, the 413 guard). Per process: each compute worker has its own.
PLANS = _evaluate_mod.PlanCache()


def configure_plans(max_entries: int) -> None:
    """GRADSERVE_PLAN_CACHE_ENTRIES for this process (the server's, or a compute worker's)."""
    if PLANS.max_entries != max_entries:
        PLANS.max_entries = max_entries
        PLANS.clear()


def lookup(spec: Any, limits: LimitsTuple):
    """(key, Program or None, leaf arrays) for a parsed request, or None where it cannot be cached."""
    return PLANS.lookup(spec, make_limits(limits)) if type(spec) is dict else None


def cached(key: bytes):
    """The Program cached under a plan key the caller found itself (app/services/bytext.py), or None; no hit
    counted (see touch)."""
    return PLANS.get(key)


def touch(key: bytes) -> None:
    """A request answered by the Program under `key` without `lookup`: counted as a hit (and kept longer)."""
    PLANS.touch(key)


def replay_json(program, arrays: list, budget: Budget) -> bytes | None:
    """evaluate_json's bytes for a document of a cached, lowered program's structure, from its leaf arrays
    (engine.program.replay_json); None where the document's own evaluate_json must answer."""
    return _evaluate_mod.replay_json(program, arrays, budget)


def evaluate_json(spec: dict, limits: LimitsTuple, extra: dict | None = None, hit=None,
                  settled: dict | None = None, budget: Budget | None = None) -> bytes:
    """The response document, already encoded. `extra`: fields set on the response (`device_note`; and
    `device: "cuda"` under GRADSERVE_ACCEPT_CUDA_ON_CPU, testing only, where the NumPy engine then runs a
    `cuda` request as if on the CPU). `hit`: what `lookup` gave for this very document, if it was asked;
    `settled`: what the service checked of it, noted on the program its first run stores. `budget`: the run's
    engine budget (make_budget); raises engine.budget.Spill past its caps."""
    lim = make_limits(limits)
    if not extra:  # a lowered replay writes its bytes directly
        out = _evaluate_mod.evaluate_json(spec, limits=lim, cache=PLANS, found=hit, budget=budget)
    elif extra.get("device") == "cuda" and spec.get("device") == "cuda" and _backend.xp is np:
        out = _evaluate_mod.evaluate({**spec, "device": "cpu"}, limits=lim, cache=PLANS, budget=budget)
    else:
        out = _evaluate_mod.evaluate(spec, limits=lim, cache=PLANS, found=hit, budget=budget)
    if settled is not None and hit is not None:
        program = PLANS.get(hit[0])
        if program is not None:
            program.notes.update(settled)
    return dumps({**out, **extra}) if extra else out


def portable(e: EngineError) -> EngineError:
    """The same error as a class that pickles (the torch-named classes are renamed, so pickle cannot find
    them), keeping what the HTTP mapping reads: the category, type, loc and msg."""
    for cls in (LimitExceeded, _evaluate_mod.DeviceUnavailable, DeadlinePassed, ProcessBusy):
        if isinstance(e, cls):
            return cls(e.msg, e.loc, e.type)
    return EngineError(e.msg, e.loc, e.type)


def evaluate_body(body: bytes, limits: LimitsTuple, backend: str = "numpy",
                  extra: dict | None = None, plan_entries: int = 256, deadline: float | None = None,
                  process_bytes: int = 0) -> bytes:
    """What a worker process runs: the raw request body (already checked by the server) in, JSON out, under a
    budget of the limits and the request's deadline (the server kills the worker a little later, should a
    NumPy call overrun it)."""
    # the same parse as the server's (big integers stay exact, so the engine reports their overflow), its
    # document held from this worker's memory budget as the server holds it from its own
    from app.core.body import parse_json, parsed_memory  # noqa: PLC0415

    worker_limits(limits, process_bytes)
    try:
        with parsed_memory(body):
            return evaluate_parsed(parse_json(body, checked=True), limits, backend, extra, plan_entries, deadline,
                                   process_bytes)
    except EngineError as e:
        raise portable(e) from None


def worker_limits(limits: LimitsTuple, process_bytes: int) -> None:
    """A compute worker's process-wide limits for the call it runs: its memory budget (tensors and parsed
    documents) and the most one body's parse may build (max_request_bytes)."""
    from app.core.body import set_parse_limit  # noqa: PLC0415

    set_process_limit(process_bytes)
    set_parse_limit(limits[3])


def evaluate_parsed(spec: Any, limits: LimitsTuple, backend: str = "numpy", extra: dict | None = None,
                    plan_entries: int = 256, deadline: float | None = None, process_bytes: int = 0) -> bytes:
    """evaluate_body of a document parsed (and checked) in this worker already. The array backend is
    process-wide, which is safe here: a worker runs one request at a time."""
    configure_plans(plan_entries)
    set_process_limit(process_bytes)
    try:
        if backend != "numpy":
            _backend.use(backend)
        return evaluate_json(spec, limits, extra, budget=make_budget(limits, deadline, killable=True))
    except EngineError as e:
        raise portable(e) from None
    finally:
        if backend != "numpy":
            _backend.use("numpy")


def batch_keys(specs: list, limits: LimitsTuple) -> list:
    """Per document of a batch, its plan cache key and leaf arrays (PlanCache.key), or None; once a structure
    (engine.program.batch.keys)."""
    return _batch.keys(specs, PLANS, make_limits(limits)) if PLANS.max_entries > 0 else [None] * len(specs)


def evaluate_vectorized(program, arrays: list, budget: Budget) -> list[bytes] | None:
    """Documents of one lowered program (their leaf arrays, as `lookup` gives them) in one call over their stacked
    values (engine.program.batch): each one's response bytes, as evaluate_json writes them; None where the
    program does not vectorize."""
    try:
        with active(budget):
            return _batch.run(program, arrays)
    finally:
        budget.close()


# POST /v1/functional and /v1/gradcheck: the request's program as a function, under a transform or a check
TRANSFORMS = {"functional": _evaluate_mod.functional, "gradcheck": _evaluate_mod.gradcheck}


def transform_json(kind: str, spec: dict, limits: LimitsTuple, budget: Budget | None = None,
                   extra: dict | None = None) -> bytes:
    """POST /v1/functional's (kind "functional") or /v1/gradcheck's ("gradcheck") response, encoded, under
    `budget` (make_budget); raises engine.budget.Spill past its caps. `extra`: as for evaluate_json (`device:
    "cuda"` under GRADSERVE_ACCEPT_CUDA_ON_CPU, testing only: a `cuda` request then runs on the CPU)."""
    if extra and extra.get("device") == "cuda" and spec.get("device") == "cuda" and _backend.xp is np:
        spec = {**spec, "device": "cpu"}
    out = TRANSFORMS[kind](spec, limits=make_limits(limits), budget=budget)
    return dumps({**out, **extra} if extra else out)


def transform_body(kind: str, body: bytes, limits: LimitsTuple, backend: str = "numpy",
                   deadline: float | None = None, process_bytes: int = 0, extra: dict | None = None) -> bytes:
    """evaluate_body's sibling for a worker process: the raw body of a transform request in, JSON out."""
    from app.core.body import parse_json, parsed_memory  # noqa: PLC0415

    worker_limits(limits, process_bytes)
    try:
        if backend != "numpy":
            _backend.use(backend)
        with parsed_memory(body):
            return transform_json(kind, parse_json(body, checked=True), limits, make_budget(limits, deadline), extra)
    except EngineError as e:
        raise portable(e) from None
    finally:
        if backend != "numpy":
            _backend.use("numpy")


DeviceUnavailable = _evaluate_mod.DeviceUnavailable


@functools.cache
def cuda_status() -> tuple[bool, str]:
    """(usable, reason). Asked once: a GPU does not come or go while the server runs."""
    return _backend.cupy_available()


@functools.cache
def catalog_json() -> bytes:
    return dumps(catalog.describe())
