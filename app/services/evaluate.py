"""Evaluation of one request: tiny ones on the event loop, cheap ones in a thread, costly ones in a killable
worker process.

A small body (GRADSERVE_LOOP_MAX_BODY_BYTES) is parsed, checked and estimated on the event loop, and a
tiny program (GRADSERVE_LOOP_MAX_FLOPS / _ELEMENTS, 64 ops) evaluated there as well: the hop to a thread
cost more than such an evaluation; where nothing but its structure and the settings decided that (no CUDA
to weigh), the program's notes say so and a later request of that structure skips the deciding. "Costly"
is decided by the engine's estimate (shape inference, nothing allocated) against the offload thresholds,
and enforced by the engine's budget of each tier (a run that passes its tier's caps spills to the next one
before the op that would pass them). A large body (GRADSERVE_WORKER_PARSE_MIN_BYTES) is never parsed here
where there are compute workers: one parses, checks, plans and runs it (app/services/planning.py). The time
limit covers the whole evaluation; a worker past it is killed, a thread's budget is cancelled (it stops at
its next check) and its slot held until it has stopped.

CUDA routing (`device`): `cpu` runs here on NumPy. `cuda` runs on CuPy in a compute worker where this
server has a usable GPU (GRADSERVE_BACKEND auto|cupy), else it is forwarded to the CUDA worker at
GRADSERVE_CUDA_WORKER_URL, else 503. `auto` goes to CUDA only where one of those is available AND the
estimate reaches GRADSERVE_CUDA_MIN_FLOPS or GRADSERVE_CUDA_MIN_BYTES (a CUDA launch costs microseconds,
a forward a network hop: 200 tiny ops took 6.6 ms in torch on an H200 against 1.3 ms on its CPU; the
defaults are the crossover bench/gpu_crossover.py measured for engine.evaluate on an H200 host). An
`auto` request whose CUDA worker fails runs on the CPU, and its response says so in `device_note`; a
`cuda` one gets 503.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field

import anyio
import anyio.to_thread

from app.core.body import (
    check_duplicate_keys,
    check_parse_cost,
    colons_known,
    parse_doc,
    parsed_memory,
    set_parse_limit,
)
from app.core.config import Settings
from app.core.errors import ComputeTimeout, DeviceUnavailable
from app.core.front import InFlight
from app.core.workers import WorkerPool, WorkerTimeout
from app.schemas import FunctionalRequest, GradcheckRequest
from app.services import engine as eng
from app.services.bytext import Texts
from app.services.cuda_forward import CudaForwarder, CudaWorkerUnavailable
from app.services.planning import Routing, check_envelope, cuda_choice, evaluate_large_body
from engine.program import replay_json as _replay_json
from engine.program.functions import expanded_ops

log = logging.getLogger("gradserve")
# Bodies with an expression are planned on the event loop up to this size (~100 ops of parsing, a few ms);
# a longer one is parsed in a thread, as a large body is.
LOOP_MAX_EXPRESSION_BYTES = 1024
# A list in a body weighs this many bytes where its placement is decided (the loop, a thread, a worker's parse):
# reading a leaf's data walks it in Python, one step a list (wire.decode_numbers, check_rectangular), ~10 us a
# list against ~0.25 us a byte of flat numbers; 4,500 branches 100 deep (909 KB, under worker_parse_min_bytes)
# held a server thread 4.45 s (redteam16 F7). `[` counts every list (and a few bytes of strings: the safe side).
LIST_WEIGHT_BYTES = 64


def read_weight(body: bytes) -> int:
    """What reading `body` costs, in bytes of flat numbers: its length, each `[` as LIST_WEIGHT_BYTES."""
    return len(body) + LIST_WEIGHT_BYTES * body.count(b"[")

_TRANSFORM_MODELS = {"functional": FunctionalRequest, "gradcheck": GradcheckRequest}

# A cancelled thread stops at its next check: between two ops, or in a long kernel's loop; one NumPy call is at
# most max_op_flops. A worker is killed this long after the deadline, should its own stop not come first.
_STOP_GRACE_S = 2.0
_STRAYS_LOCK = threading.Lock()  # InFlight.strays: counted on the loop, given back by the threads
_KILL_GRACE_S = 0.5


@dataclass
class Plan:
    """Where a request runs, decided in the inline thread (which also runs it when cheap and on the CPU)."""

    kind: str  # "pool" (a compute worker, on `backend`), "forward" (the CUDA worker) or "thread" (inline)
    doc: dict | None  # None: a large body, parsed only in a compute worker
    device: str  # as requested
    backend: str = "numpy"
    cpu_offload: bool = False  # costly enough for a compute worker when run on the CPU
    extra: dict = field(default_factory=dict)
    hit: tuple | None = None  # engine.lookup's answer for this document
    settled: dict | None = None  # checks passed by this document, for its program's notes
    forced: bytes | None = None  # the body to forward, `"device": "cuda"` in it already (a large body's)


def _steps(doc: dict, cost: dict | None = None) -> int:
    """A bound on the interpreter's steps of a program, apart from its flops: its ops (with the ops of the
    custom Functions they apply: the estimate's `ops`), and each backward pass walking a graph of up to as
    many nodes."""
    ops, passes = doc.get("ops") or (), doc.get("backward") or ()
    n = max(len(ops) if isinstance(ops, list) else 0, (cost or {}).get("ops", 0))
    return n + (len(passes) * (n + 1) if isinstance(passes, list) else 0)


def _transform_steps(doc: dict) -> int:
    """A transform's interpreter steps, apart from its flops (redteam7 F4): the program's steps once per element
    of its inputs, twice (gradcheck perturbs each element both ways; a Jacobian runs a pass per element)."""
    fn, leaves = doc.get("function"), doc.get("leaves")
    names = fn.get("inputs") if isinstance(fn, dict) else None
    names = [names] if isinstance(names, str) else names if isinstance(names, list) else []
    n = 0
    for name in names:
        spec = leaves.get(name) if isinstance(leaves, dict) and isinstance(name, str) else None
        data = spec.get("data") if isinstance(spec, dict) else None
        if isinstance(data, dict):  # b64: its shape
            shape = data.get("shape")
            n += math.prod(d for d in shape if isinstance(d, int)) if isinstance(shape, list) else 1
            continue
        stack = [data]
        while stack:  # nested lists: their numbers (the body is parsed already: bounded by it)
            x = stack.pop()
            if isinstance(x, list):
                stack.extend(x)
            else:
                n += 1
    # (its ops with the custom Functions they apply expanded, as the estimate counts them for a program)
    return (2 * n + 1) * max(_steps(doc, {"ops": expanded_ops(doc, _PLACEMENT_CAP)}), 1)


_PLACEMENT_CAP = 10**6  # counts past this place like it (a count stops there: max_ops refuses far sooner)


class EvaluateService:
    def __init__(self, settings: Settings, pool: WorkerPool | None, metrics=None):
        self.settings = settings
        self.pool = pool
        self._metrics = metrics  # app.core.observability.Metrics (placements counted there), or None
        self.limits: eng.LimitsTuple = (settings.max_tensor_elements, settings.max_total_elements,
                                        settings.max_ops, settings.max_request_bytes, settings.max_flops,
                                        settings.max_op_flops, settings.max_response_bytes, settings.time_limit_s)
        eng.set_process_limit(settings.max_process_bytes)
        for problem in settings.process_budget_warnings():  # redteam12 F5: such limits answer 413, not 503
            log.warning("settings: %s", problem)
        set_parse_limit(settings.max_request_bytes)
        eng.configure_plans(settings.plan_cache_entries)
        url = (settings.cuda_worker_url or "").strip()
        self.forwarder = (CudaForwarder(url, settings.time_limit_s, settings.cuda_worker_retry_s,
                                        answer_s=settings.cuda_worker_timeout_s) if url else None)
        self._static_routing: Routing | None = None  # self.routing() where nothing in it changes
        # Noted on a program whose structure this service runs on the loop, with nothing else to decide
        # (_inline); one per service: the plan cache is the process's, and another app in this process
        # (tests) may route the same structure elsewhere.
        self._on_loop = object()
        self._budgets: dict = {}  # tier -> a Budget of its limits and caps, which _budget copies (Budget.fresh)
        self._texts = Texts()  # templates of small bodies whose structure runs on the loop (_by_text)

    async def aclose(self) -> None:
        if self.forwarder is not None:
            await self.forwarder.aclose()

    # ----- backends -----

    def cuda_in_process(self) -> tuple[bool, str]:
        """Whether this server runs CUDA work itself (CuPy in its compute workers), and why (not)."""
        if self.settings.backend == "numpy":
            return False, "GRADSERVE_BACKEND=numpy"
        cupy, why = eng.cuda_status()
        if not cupy:
            return False, why
        if self.pool is None:
            return False, f"{why}, but CUDA runs only in compute workers and GRADSERVE_COMPUTE_WORKERS is 0"
        return True, why

    def backend_problem(self) -> str | None:
        """Why this server is not ready for its configured backend (GRADSERVE_BACKEND=cupy without a GPU)."""
        if self.settings.backend == "cupy":
            ok, why = self.cuda_in_process()
            if not ok:
                return f"GRADSERVE_BACKEND=cupy but CuPy is not usable here ({why})"
        return None

    def routing(self) -> Routing:
        """The server's side of the CUDA choice now (planning.cuda_choice)."""
        if self._static_routing is not None:
            return self._static_routing
        s = self.settings
        in_process, why = self.cuda_in_process()
        forward = self.forwarder is not None and not in_process
        note = None
        if forward and self.forwarder.recently_failed():
            note = f"cuda worker unreachable: {self.forwarder.last_error}; ran on cpu"
        r = Routing(in_process, why, forward, note, s.accept_cuda_on_cpu, s.cuda_min_flops, s.cuda_min_bytes)
        if not forward:  # no CUDA worker whose state changes: the same answer for the life of the service
            self._static_routing = r
        return r

    async def cuda_state(self) -> dict:
        """The CUDA backend's state for /readyz."""
        ok, why = self.cuda_in_process()
        s = self.settings
        return {
            "in_process": ok,
            "in_process_reason": why,
            "worker": await self.forwarder.probe() if self.forwarder is not None else None,
            "accept_cuda_on_cpu": s.accept_cuda_on_cpu,
            "auto_min_flops": s.cuda_min_flops,
            "auto_min_bytes": s.cuda_min_bytes,
        }

    # ----- evaluation -----

    async def evaluate(self, body: bytes) -> bytes:
        """The response document, encoded; raises the errors that errors.to_response maps."""
        deadline = time.monotonic() + self.settings.time_limit_s
        size = len(body)
        weight = read_weight(body)
        # small: parsed and planned here, on the loop; but an expression's parse costs ~40 us an op
        if weight <= self.settings.loop_max_body_bytes and (size <= LOOP_MAX_EXPRESSION_BYTES
                                                            or body.find(b'"expression"') < 0):
            out = self._inline(body, deadline, on_loop=True)
            placement = "loop"
            if not isinstance(out, bytes):
                out, placement = await self._evaluate(body, deadline, out)
        elif self.pool is not None and weight >= self.settings.worker_parse_min_bytes:
            out, placement = await self._evaluate_large(body, deadline)
        else:
            with parsed_memory(body):  # its document lives here until the answer
                out, placement = await self._evaluate(body, deadline)
        m = self._metrics
        if m is not None:
            m.placed(placement)
        return out

    # ----- POST /v1/functional, /v1/gradcheck -----

    async def transform(self, kind: str, body: bytes) -> bytes:
        """A transform request's response, encoded (kind "functional" or "gradcheck"; engine.program.transforms):
        parsed, checked and run in a thread under the thread's caps, and where it passes them (engine Spill) in a
        compute worker, within the time limit. Never on the event loop: what a transform costs is known only as
        it runs (a Jacobian is a backward pass per output element). `device: "cuda"` runs in a compute worker on
        CuPy where this server has one, else 503 (the CUDA worker forwards POST /v1/evaluate only)."""
        deadline = time.monotonic() + self.settings.time_limit_s
        s = self.settings

        def first(budget):
            doc = parse_doc(body, checked=True)
            check_duplicate_keys(body, doc)
            check_envelope(doc, s.max_ops, _TRANSFORM_MODELS[kind])
            extra = None
            if doc.get("device") == "cuda":
                in_process, why = self.cuda_in_process()
                if in_process:
                    return "cupy", None
                if not s.accept_cuda_on_cpu:
                    raise DeviceUnavailable(f"device 'cuda' was requested but no CUDA backend is available ({why}); "
                                            f"POST /v1/{kind} runs on CUDA only in this server's compute workers",
                                            ["body", "device"])
                extra = {"device": "cuda"}  # TESTING ONLY: NumPy stands in for CUDA
            if self.pool is not None and _transform_steps(doc) >= s.offload_min_steps:
                return "numpy", extra  # the interpreter's work, which flops do not show: a killable worker
            try:
                return eng.transform_json(kind, doc, self.limits, budget, extra)
            except eng.Spill:  # past the thread's caps (there is a pool): a worker runs it
                return "numpy", extra

        with parsed_memory(body):
            out = await self._in_thread(first, deadline, self._budget(deadline, "thread"))
            placement = "thread"
            if not isinstance(out, bytes):
                backend, extra = out
                out = await self._in_worker(eng.transform_body, kind, body, self.limits, backend, deadline,
                                            s.max_process_bytes, extra, deadline=deadline)
                placement = "worker"
        if self._metrics is not None:
            self._metrics.placements.inc(placement)
        return out

    # ----- POST /v1/evaluate/batch: documents of one structure together -----

    def vectorizes(self, doc: dict) -> bool:
        """Whether a document would run on the CPU here, where the vectorized path runs (never for CUDA)."""
        device = doc.get("device", "auto")
        return device == "cpu" or (device == "auto" and self.forwarder is None and not self.cuda_in_process()[0])

    def chunk_size(self, program, n: int) -> int:
        """How many documents of a program run in one vectorized call: all n, up to 1,024, as long as together
        they stay under what one thread-run request may cost (the offload thresholds: past them a request goes
        to a worker, which a vectorized run does not); 0 where one document alone is past them."""
        s = self.settings
        peak, flops = program.cost
        return min(n, 1024, int(s.offload_min_flops // max(flops, 1.0)), s.offload_min_bytes // max(peak, 1))

    async def evaluate_vectorized(self, program, arrays: list) -> list[bytes] | None:
        """Documents of one lowered program (their leaf arrays) answered by one call of its function over their
        stacked values (engine.program.batch), in a thread within the time limit: each document's response, as
        its own evaluation would write it; None where the program does not vectorize."""
        deadline = time.monotonic() + self.settings.time_limit_s
        out = await self._in_thread(lambda b: eng.evaluate_vectorized(program, arrays, b), deadline,
                                    eng.make_budget(self.limits, deadline))
        if out is not None and self._metrics is not None:
            self._metrics.placements.inc("vectorized", by=len(out))
        return out

    async def _in_worker(self, fn, *args, deadline: float):
        """fn(*args) in a compute worker, which stops itself at the deadline (its budget) and is killed a little
        later should one NumPy call overrun it."""
        limit = self.settings.time_limit_s
        try:
            return await self.pool.run(fn, *args, timeout=max(deadline - time.monotonic(), 0.001) + _KILL_GRACE_S)
        except WorkerTimeout as e:
            if e.waited:
                raise ComputeTimeout(f"no compute worker became free within the time limit of {limit:g} s "
                                     "(time_limit_s)") from None
            raise ComputeTimeout(eng.timeout_message(limit)) from None

    def _budget(self, deadline: float, tier: str):
        """The engine budget of a run on the loop, in a thread, or in a worker: the limits and the deadline,
        and the caps of that tier, past which the run stops (engine.budget.Spill) before it pays for more and
        the request goes to the next tier. The loop runs only what its caps let through; a thread spills to a
        worker where there is a pool."""
        proto = self._budgets.get(tier)
        if proto is None:  # the tier's limits and caps, made once (settings and pool do not change)
            proto = self._budgets[tier] = self._tier_budget(tier)
        return proto.fresh(deadline)

    def _tier_budget(self, tier: str):
        """_budget's prototype of a tier: its budget with no deadline."""
        s = self.settings
        deadline = None
        pool = self.pool is not None
        if tier == "loop":
            return eng.make_budget(self.limits, deadline, s.loop_max_flops, s.loop_max_elements * 8, spill_ops=pool)
        if tier == "thread" and pool:
            return eng.make_budget(self.limits, deadline, s.offload_min_flops, s.offload_min_bytes, spill_ops=True)
        return eng.make_budget(self.limits, deadline)

    async def _evaluate(self, body: bytes, deadline: float, plan: Plan | None = None) -> tuple[bytes, str]:
        """(response, placement) of a body planned on the loop (`plan`), or of a large one, planned here."""
        limit = self.settings.time_limit_s
        if plan is None:
            plan = await self._in_thread(lambda b: self._inline(body, deadline, budget=b, checked=True), deadline,
                                         self._budget(deadline, "thread"))
            if isinstance(plan, bytes):
                return plan, "thread"
        if plan.kind == "thread":
            out = await self._in_thread(
                lambda b: eng.evaluate_json(plan.doc, self.limits, plan.extra or None, plan.hit, plan.settled, b),
                deadline, self._budget(deadline, "thread"))
            if isinstance(out, bytes):
                return out, "thread"
            plan = Plan("pool", plan.doc, plan.device, "numpy", True, plan.extra)  # it spilled
        if plan.kind == "forward":
            try:
                left = max(deadline - time.monotonic(), 0.001)
                if plan.forced is not None:
                    return await self.forwarder.forward(plan.forced, None, timeout=left), "cuda_worker"
                return await self.forwarder.forward(body, plan.doc, timeout=left), "cuda_worker"
            except TimeoutError:
                raise ComputeTimeout(f"the CUDA worker did not answer within the time limit of {limit:g} s "
                                     "(time_limit_s)") from None
            except CudaWorkerUnavailable as e:
                if plan.device == "cuda":
                    raise DeviceUnavailable(
                        f"device 'cuda' was requested but the CUDA worker is unavailable ({e}); "
                        "device 'auto' would run on the CPU", ["body", "device"]) from None
                log.warning("CUDA worker failed (%s); running an 'auto' request on the CPU", e)
                plan = self._cpu_fallback(plan, f"cuda worker unreachable: {e}; ran on cpu")
                if not plan.cpu_offload or self.pool is None:
                    out = await self._in_thread(
                        lambda b: eng.evaluate_json(plan.doc, self.limits, plan.extra, budget=b), deadline,
                        self._budget(deadline, "thread"))
                    if isinstance(out, bytes):
                        return out, "thread"
        # The worker parses the raw body again (orjson, fast) rather than being sent a pickled dict. It stops
        # itself at the deadline (its budget); it is killed a little later should one NumPy call overrun it.
        s = self.settings
        return await self._in_worker(eng.evaluate_body, body, self.limits, plan.backend, plan.extra or None,
                                     s.plan_cache_entries, deadline, s.max_process_bytes, deadline=deadline), "worker"

    async def _evaluate_large(self, body: bytes, deadline: float) -> tuple[bytes, str]:
        """(response, placement) of a large body, parsed, checked, planned and run in a compute worker
        (planning.evaluate_large_body), never parsed in this process; forwarded from here where the worker
        finds it belongs to the CUDA worker."""
        s = self.settings
        out = await self._in_worker(evaluate_large_body, body, self.limits, self.routing(), s.plan_cache_entries,
                                    deadline, s.max_process_bytes, deadline=deadline)
        if isinstance(out, bytes):
            return out, "worker"
        _, device, forced = out
        return await self._evaluate(body, deadline, Plan("forward", None, device, cpu_offload=True, forced=forced))

    async def _in_thread(self, fn, deadline: float, budget):
        """fn(budget) in a thread, until the deadline. Past it the budget is cancelled, so the computation
        stops at its next check (between ops, inside long kernels' loops), and this waits for the thread to
        end before answering 504: the request's in-flight slot is held for as long as its thread runs. A run
        that spilled (engine.budget.Spill: past the thread's caps) gives None: it belongs in a worker."""
        limit = self.settings.time_limit_s
        result: list = []
        done = anyio.Event()

        stray = [False, False]  # (outlived its grace: holds a stray slot, ended)

        def call():
            try:
                return ("ok", fn(budget))
            except eng.Spill:
                return ("spill",)
            finally:
                with _STRAYS_LOCK:
                    stray[1] = True
                    if stray[0]:  # its request answered long ago: its slot is given back only now (logged first:
                        log.warning("an evaluation's thread that outlived its cancellation has ended")
                        InFlight.strays -= 1  # a request the free slot admits comes after the line)

        async def runner():
            try:
                result.append(await anyio.to_thread.run_sync(call, abandon_on_cancel=True))
            except BaseException as e:  # noqa: BLE001 - handed to the caller below
                result.append(("raised", e))
            finally:
                done.set()

        timed_out = False
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner)
            with anyio.move_on_after(max(deadline - time.monotonic(), 0.0)):
                await done.wait()
            if not done.is_set():
                timed_out = True
                budget.cancel()
                with anyio.move_on_after(_STOP_GRACE_S):
                    await done.wait()
                if not done.is_set():  # one NumPy call past the grace: answer now; it keeps a slot till it ends
                    with _STRAYS_LOCK:
                        if not stray[1]:
                            stray[0] = True
                            InFlight.strays += 1
                    log.error("an evaluation did not stop within %g s of its cancellation; its thread runs on",
                              _STOP_GRACE_S)
                    tg.cancel_scope.cancel()
        # (raised outside the task group, which would wrap it in an ExceptionGroup)
        if timed_out:  # the engine's own DeadlinePassed says where it stopped (loc: the op); else, unknown
            if result and result[0][0] == "raised" and isinstance(result[0][1], eng.DeadlinePassed):
                raise result[0][1]
            raise ComputeTimeout(eng.timeout_message(limit))
        kind = result[0][0]
        if kind == "ok":
            return result[0][1]
        if kind == "spill":
            return None
        raise result[0][1]

    @staticmethod
    def _cpu_fallback(plan: Plan, note: str) -> Plan:
        return Plan("pool", plan.doc, plan.device, "numpy", plan.cpu_offload, {"device_note": note})

    def _offload(self, cost: dict, doc: dict | None = None) -> bool:
        """Whether a request of this estimate runs on the CPU in a compute worker rather than inline: by its
        flops and bytes, or by the Python work of its steps (20,000 backward passes of a tiny graph: 18 flops,
        1.3 s of the interpreter, which in a server thread shares the GIL with the event loop)."""
        s = self.settings
        return self.pool is not None and (cost.get("flops", 0) >= s.offload_min_flops
                                          or cost.get("bytes", 0) >= s.offload_min_bytes
                                          or (doc is not None and _steps(doc, cost) >= s.offload_min_steps))

    def _tiny(self, doc: dict, cost: dict) -> bool:
        s = self.settings
        return (cost.get("flops", 0) <= s.loop_max_flops and cost.get("elements", 0) <= s.loop_max_elements
                and len(doc.get("ops", ())) <= 64 and _steps(doc, cost) <= 256)

    def _by_text(self, body: bytes, deadline: float) -> bytes | None:
        """The answer of a small body whose text matches a template of an earlier one of a structure that runs
        on the loop (app/services/bytext.py): its leaf values read from the text, the cached lowered program
        replayed on them, under the loop's budget; None where _inline's usual path must answer (no template,
        no match, the program not cached, not lowered or not the loop's, a replay that gave up or spilled).
        What the usual path checks of such a body is its template's: the same text but for the numbers of
        its data (the same schema, keys, colons and structure), which its match and colon count show."""
        found = self._texts.find(body)
        if found is None:
            return None
        key, arrays, colons = found
        plans = eng.PLANS  # (eng.cached, eng.replay_json, eng.touch and self._budget written out: four calls less)
        program = plans.get(key)
        if program is None:
            return None
        notes = program.notes
        if not program.lowered or notes.get("route") is not self._on_loop:
            if program.lowered is False:  # never lowered: no template tried for it again
                self._texts.forget(body)
            return None
        if colons < 0 or colons != notes.get("colons", -1):  # colons_known(body, ...), the template's count
            return None
        check_parse_cost(body)  # as parse_doc would (nothing for a small body): its 413 the same
        proto = self._budgets.get("loop")
        if proto is None:
            proto = self._budgets["loop"] = self._tier_budget("loop")
        try:
            out = _replay_json(program, arrays, proto.fresh(deadline))
        except eng.Spill:  # past the loop's caps: the usual path plans it for a thread
            return None
        if out is not None:
            plans.touch(key)
        return out

    def _inline(self, body: bytes, deadline: float, on_loop: bool = False, budget=None,
                checked: bool = False) -> bytes | Plan:
        """Parse, check, estimate, and evaluate when cheap and on the CPU: the response; else the Plan.
        On the event loop (a small body) it evaluates only what the loop's budget lets through (a program
        that passes it spills, and a thread runs it); in a thread, under `budget`, which spills to a worker.
        `checked`: the parse's cost was checked and is held (body.parsed_memory)."""
        if on_loop:
            out = self._by_text(body, deadline)
            if out is not None:
                return out
        doc = parse_doc(body, checked)
        expression = type(doc) is dict and "expression" in doc
        if expression:  # from here on, the ops it means; duplicate keys checked first, on the text it came from
            check_duplicate_keys(body, doc)
            doc = eng.expand(doc, self.limits)
        # A request shaped like one that ran before (engine PlanCache): its schema, duplicate keys and cost
        # were settled then, as its colon count, for the same structure, says (body.colons_known).
        hit = eng.lookup(doc, self.limits)
        notes = hit[1].notes if hit is not None and hit[1] is not None else None
        if notes is None or not colons_known(body, notes.get("colons", -1)):
            notes = None
            if not expression:
                check_duplicate_keys(body, doc)
            check_envelope(doc, self.settings.max_ops)
        elif on_loop and notes.get("route") is self._on_loop:  # decided below for this structure before
            try:
                out = eng.evaluate_json(doc, self.limits, None, hit, None, self._budget(deadline, "loop"))
            except eng.Spill:
                return Plan("thread", doc, doc.get("device", "auto"), hit=hit)
            if not expression:  # its text, for the next bodies of its structure (_by_text)
                self._texts.learn(body, doc, hit[0], hit[2])
            return out
        device = doc.get("device", "auto")
        routing = self.routing() if device != "cpu" else None
        cost: dict = {}

        def estimated() -> dict:
            nonlocal cost
            if not cost:
                c = notes.get("cost") if notes is not None else None
                if c is None:
                    c = eng.estimate(doc, self.limits)
                    if notes is not None:
                        notes["cost"] = c
                cost = c
            return cost

        where, extra = cuda_choice(device, routing, estimated) if routing is not None else ("cpu", {})
        if where != "cpu":  # `cuda` is never offloaded on its own cost; `auto` here had its estimate
            kind, backend = ("forward", "numpy") if where == "forward" else ("pool", "cupy")
            return Plan(kind, doc, device, backend, self._offload(cost))
        if on_loop or self.pool is not None:
            estimated()
        cpu_offload = self._offload(cost, doc)
        if cpu_offload:
            return Plan("pool", doc, device, "numpy", True, extra)
        # what this request settled, kept with its program once the engine has stored one
        settled = {"colons": body.count(b":"), **({"cost": cost} if cost else {})} if notes is None else None
        if on_loop and not self._tiny(doc, cost):
            return Plan("thread", doc, device, extra=extra, hit=hit, settled=settled)
        if settled is not None and on_loop and not extra and (routing is None
                                                              or not (routing.in_process or routing.forward)):
            settled["route"] = self._on_loop  # nothing above depended on more than structure and settings
        if on_loop:
            try:
                return eng.evaluate_json(doc, self.limits, extra or None, hit, settled, self._budget(deadline, "loop"))
            except eng.Spill:  # past the loop's caps, found before the op that would pass them ran
                return Plan("thread", doc, device, extra=extra, hit=hit)
        try:
            return eng.evaluate_json(doc, self.limits, extra or None, hit, settled, budget)
        except eng.Spill:  # past the thread's caps (there is a pool): a worker runs it
            return Plan("pool", doc, device, "numpy", True, extra)
