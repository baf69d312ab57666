"""Evaluation of one request: cheap ones inline in a thread, costly ones in a killable worker process.

"Costly" is decided by the engine's estimate (shape inference, nothing allocated) against the
offload thresholds. The time limit covers the whole evaluation; a worker past it is killed, an
inline thread (cheap by construction) is abandoned and its result dropped.
"""
from __future__ import annotations

import logging
import time

import anyio
import anyio.to_thread
from pydantic import ValidationError

from app.core.body import parse_json
from app.core.config import Settings
from app.core.errors import (
    ComputeTimeout,
    DeviceUnavailable,
    OpsLimitExceeded,
    SchemaError,
    validation_errors,
)
from app.core.workers import WorkerPool, WorkerTimeout
from app.schemas import EvaluateRequest
from app.services import engine as eng

log = logging.getLogger("gradserve")


def check_envelope(doc, max_ops: int) -> None:
    """Schema of the request (not of tensor data: the engine reads that once, itself)."""
    if isinstance(doc, dict) and isinstance(ops := doc.get("ops"), list) and len(ops) > max_ops:
        # Before Pydantic walks them all.
        raise OpsLimitExceeded(f"the request has {len(ops)} ops, over the limit max_ops={max_ops}",
                               ["body", "ops"])
    try:
        EvaluateRequest.model_validate(doc)
    except ValidationError as e:
        errors = e.errors(include_url=False, include_input=False)
        raise SchemaError(validation_errors(errors, ("body",))) from None


class EvaluateService:
    def __init__(self, settings: Settings, pool: WorkerPool | None):
        self.settings = settings
        self.pool = pool
        self.limits: eng.LimitsTuple = (settings.max_tensor_elements, settings.max_total_elements,
                                        settings.max_ops)

    async def evaluate(self, body: bytes) -> bytes:
        """The response document, encoded; raises the errors that errors.to_response maps."""
        limit = self.settings.time_limit_s
        deadline = time.monotonic() + limit
        try:
            with anyio.fail_after(limit):
                out = await anyio.to_thread.run_sync(self._inline, body, abandon_on_cancel=True)
        except TimeoutError:
            # The estimate called this cheap, so it ran inline, where it cannot be stopped: it is left to
            # finish in its thread. Worth knowing: the estimate needs a better rule for this program.
            log.warning("an inline evaluation ran past the time limit of %g s; its thread runs on", limit)
            raise ComputeTimeout(f"the computation ran past the time limit of {limit:g} s (time_limit_s)") \
                from None
        if isinstance(out, bytes):
            return out
        # The worker parses the raw body again (orjson, fast) rather than being sent a pickled dict.
        try:
            return await self.pool.run(eng.evaluate_body, body, self.limits, out,
                                       timeout=max(deadline - time.monotonic(), 0.001))
        except WorkerTimeout as e:
            if e.waited:
                raise ComputeTimeout(f"no compute worker became free within the time limit of {limit:g} s "
                                     "(time_limit_s)") from None
            raise ComputeTimeout(f"the computation ran past the time limit of {limit:g} s (time_limit_s) "
                                 "and was stopped") from None

    def _inline(self, body: bytes) -> bytes | str:
        """Parse, check, estimate, and evaluate when cheap: the response; else the array backend ("numpy",
        "cupy") of the worker process it belongs in."""
        doc = parse_json(body)
        check_envelope(doc, self.settings.max_ops)
        device = doc.get("device", "auto")
        cuda, why = eng.cuda_status()
        if device == "cuda" and not (cuda and self.pool is not None):
            why = why if not cuda else "CUDA runs only in compute workers, and GRADSERVE_COMPUTE_WORKERS is 0"
            raise DeviceUnavailable(f"device 'cuda' was requested but no CUDA backend is available ({why})",
                                    ["body", "device"])
        if self.pool is None:
            return eng.evaluate_json(doc, self.limits)
        if device == "cuda":  # a CUDA context lives in a worker, never in the server process
            return "cupy"
        cost = eng.estimate(doc, self.limits)
        if (cost.get("flops", 0) >= self.settings.offload_min_flops
                or cost.get("bytes", 0) >= self.settings.offload_min_bytes):
            # "auto": a costly request is worth the GPU where there is one.
            return "cupy" if device == "auto" and cuda else "numpy"
        return eng.evaluate_json(doc, self.limits)
