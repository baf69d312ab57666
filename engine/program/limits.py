"""The configured ceilings of a request, and the error for a device this engine does not have."""
from __future__ import annotations

from dataclasses import dataclass

from engine.budget import Budget
from engine.errors import EngineError

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Configured ceilings; crossing one raises LimitExceeded (HTTP 413) before it is paid for.

    max_request_bytes: the request's live tensor bytes plus what one op holds at its peak (engine.budget);
    max_flops: all the request's ops and backward nodes together; op_max_flops: one op (one NumPy call cannot
    be stopped midway, so this bounds how far past its deadline a request can run); max_response_bytes: the
    response's JSON, bounded before it is written."""

    max_tensor_elements: int = 10_000_000
    max_total_elements: int = 50_000_000
    max_ops: int = 10_000
    max_request_bytes: int = 256 * MiB
    max_flops: float = 1e12
    op_max_flops: float = 5e10
    max_response_bytes: int = 32 * MiB
    time_limit_s: float | None = None  # what the deadlines given to `budget` are set from (its 504's message)

    def budget(self, deadline: float | None = None, spill_flops: float = float("inf"),
               spill_bytes: int = 1 << 62, killable: bool = False, spill_ops: bool = False) -> Budget:
        """A fresh Budget of these limits (deadline: a time.monotonic() value). op_max_flops bounds one op where
        it cannot be killed: killable (a worker process, stopped by a kill at the deadline) lifts it; spill_ops
        (there is a worker to go to) makes an op past it a spill rather than a 413."""
        op_cap = float("inf") if killable or spill_ops else self.op_max_flops
        return Budget(max_bytes=self.max_request_bytes, max_flops=self.max_flops, op_max_flops=op_cap,
                      max_elements=self.max_tensor_elements, deadline=deadline, spill_flops=spill_flops,
                      spill_bytes=spill_bytes, spill_op_flops=self.op_max_flops if spill_ops else float("inf"),
                      time_limit_s=self.time_limit_s)


DEFAULT_LIMITS = Limits()


class DeviceUnavailable(EngineError):
    """device "cuda" asked of an engine without a CUDA backend: HTTP 503."""

    type = "device_unavailable"

