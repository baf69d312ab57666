"""engine.evaluate: API.md's request document in, its response document out, over the library API."""
from __future__ import annotations

import gc

import numpy as np

from engine import _backend as B
from engine.budget import Budget, DeadlinePassed, ProcessBusy, Spill, _local, active, current
from engine.errors import LimitExceeded
from engine.expression import expand as expand_expression
from engine.program import functions
from engine.program.glue import WATCH_WORK
from engine.program.limits import DEFAULT_LIMITS, DeviceUnavailable, Limits
from engine.program.plans import LOWER_MAX_ELEMENTS, LOWER_MAX_OPS, PlanCache, Program, lowered_checked
from engine.program.respond import encode, respond
from engine.program.run import Evaluating, Run, build_leaves, drew_random, run_backward_section, run_ops
from engine.program.wire import TOP_FIELDS, check_fields, req


def evaluate(spec: dict, *, limits: Limits | None = None, cache: PlanCache | None = None,
             found: tuple | None = None, budget: Budget | None = None) -> dict:
    """Run a request document (API.md) and return its response document, as plain Python objects.

    cache: where a document of the same structure (everything but the leaves' values) ran before, run its
    Program (the checks skipped, the same functions called), and record one after a first success. Only
    for documents as a JSON parser gives them (see PlanCache). found: what cache.lookup(spec, limits) gave,
    where the caller has asked already. budget: the engine.budget.Budget the run charges (its deadline and
    the caps of where it runs); by default a fresh one of `limits`, with no deadline."""
    return _answer(spec, limits, cache, found, False, budget)


def evaluate_json(spec: dict, *, limits: Limits | None = None, cache: PlanCache | None = None,
                  found: tuple | None = None, budget: Budget | None = None) -> bytes:
    """evaluate's response, encoded: encode(evaluate(...)) byte for byte, but a lowered replay writes its
    bytes straight from its arrays (no document built; Writer)."""
    return _answer(spec, limits, cache, found, True, budget)


def replay_json(program: Program, arrays: list, budget: Budget) -> bytes | None:
    """evaluate_json's answer for a document of a lowered Program's structure from its leaf arrays alone (as
    PlanCache.key gives them), without the document; None where only the document's own evaluation can answer
    (the replay diverged, or the program is not lowered): the caller then calls evaluate_json on it, which
    answers as it always does. Raises what the lowered replay raises there (the budget's limits and caps:
    Spill, DeadlinePassed, ProcessBusy, LimitExceeded)."""
    if not program.lowered:
        return None
    paused = gc.isenabled()  # as _answer: the collector paused, the budget installed for the run
    if paused:
        gc.disable()
    local = _local
    prev = local.budget
    local.budget = budget
    try:
        try:
            out = program._run_lowered(None, arrays, True)
        except LimitExceeded:
            if program.lowered.guarded:  # as Program.run: the cost of these values' branch is the document's own
                return None  # evaluation's to charge
            raise  # as Program.run: the full path would pass its limits as well
        except (DeadlinePassed, ProcessBusy):
            raise
        except Exception:  # noqa: BLE001 - as Program.run: the document's own evaluation answers
            return None
        return encode(out) if type(out) is dict else out
    finally:
        local.budget = prev
        budget.close()
        if paused:
            gc.enable()


def _answer(spec, limits, cache, found, encoded, budget):
    limits = limits or DEFAULT_LIMITS
    b = budget if budget is not None else limits.budget()
    # The cyclic collector is paused for the run: a program's tensors, nodes and edges (several objects an op)
    # are freed by reference counting when it ends, and the engine makes no cycles; collected mid-run, they
    # survive into the old generation, whose full collections (the whole process's heap) then cost more than
    # the program (docs/PERFORMANCE.md). Another thread's pause or resume only brings a collection sooner.
    paused = gc.isenabled()
    if paused:
        gc.disable()
    # active(b), written out: the thread's budget installed and the previous one restored
    local = _local
    prev = local.budget
    local.budget = b
    try:
        return _answer_within(spec, limits, cache, found, encoded)
    finally:
        local.budget = prev
        b.close()
        if paused:
            gc.enable()


def _answer_within(spec, limits, cache, found, encoded):
    out = None
    if cache is not None and "functions" not in spec:  # a request's Functions are its own: never replayed
        if found is None:
            found = cache.lookup(spec, limits)
        if found is not None:
            key, program, arrays = found
            if program is not None:
                if program.lowered is None and program.replays + 1 >= program.lower_at():
                    # it has recurred enough: run in full once more, traced, to lower it; where the request's
                    # time or memory stops that (a loaded server), the next try only after as many replays again
                    program.replays = 0  # (review15 R13: not at every request, each ~5x a replay's cost)
                    out = _evaluate(spec, limits, cache, key, lowering=True)
                else:
                    if program.lowered is None:
                        program.replays += 1  # (unlocked: two threads may count one; a rough bar)
                    out = program.run(spec, arrays, limits, encoded)
            if out is None:
                out = _evaluate(spec, limits, cache, key)
    if out is None:
        out = _evaluate(spec, limits)
    return encode(out) if encoded and type(out) is dict else out


def _evaluate(spec, limits, cache=None, key=None, lowering=False):
    if isinstance(spec, dict) and "expression" in spec:  # API.md v1.1: the ops it parses into (engine/expression)
        spec = expand_expression(spec, limits.max_ops)
    check_fields(spec, TOP_FIELDS, ["body"])
    device = spec.get("device", "auto")
    req(device in ("cpu", "cuda", "auto"), "Input should be 'cpu', 'cuda' or 'auto'", ["body", "device"], "enum")
    if device == "cuda" and B.xp is np:
        raise DeviceUnavailable("device 'cuda' was requested but this engine has no CUDA backend",
                                ["body", "device"])
    run = Run(spec, limits)
    bud = current()
    flops0 = bud.used_flops
    bud.peak = bud.live
    if key is not None:
        run.program = Program()
        if lowering:
            run.traces = []
            run.watch_work = [WATCH_WORK]  # the work its watches share (glue.WATCH_WORK)
    with Evaluating(spec) as caught:
        build_leaves(run, spec)
        functions.build(run, spec, caught)
        run_ops(run, spec, caught)
        run_backward_section(run, spec, caught)
        out = respond(run, spec, caught)
        if lowering and drew_random():
            run.program.notes["random"] = True  # the request's stream: a lowered replay would not set it up
    if key is not None:
        program = run.program
        program.cost = (bud.peak, bud.used_flops - flops0)
        if lowering:
            program.lowered = _lower(run, limits, bud)
            if program.lowered is None:
                return out  # not now: the next document of this structure tries again
        elif run.total > LOWER_MAX_ELEMENTS or len(program.steps) > LOWER_MAX_OPS:
            program.lowered = False  # never tried: see LOWER_MAX_ELEMENTS
            program.notes["declined"] = "over LOWER_MAX_ELEMENTS or LOWER_MAX_OPS"
        cache.store(key, program, replace=lowering)
    return out


def _lower(run, limits, bud):
    """lowered_checked of the run, its cost (two full runs more, and as much again for the lowered ones)
    charged to the request first; None where the request cannot afford it now. The checks charge a budget
    of their own, so that they are not counted twice."""
    if run.program.stateful:
        run.program.notes["declined"] = "an op changes tensors or autograd state (run.STATEFUL)"
        return False
    peak, flops = run.program.cost
    # the lowered function is one call that cannot be stopped midway: it may cost no more than one op may
    if flops > limits.op_max_flops:
        run.program.notes["declined"] = "its cost passes op_max_flops (one uninterruptible call)"
        return False
    try:
        for _ in range(4):  # two full runs and two lowered ones, each of the recording's cost
            bud.charge(2 * peak, flops, "lowering the program")
    except (Spill, LimitExceeded, ProcessBusy):
        return None
    with active(limits.budget(deadline=bud.deadline)):
        return lowered_checked(run, lambda twin: _evaluate(twin, limits))

