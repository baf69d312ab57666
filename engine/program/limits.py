"""The configured ceilings of a request, and the error for a device this engine does not have."""
from __future__ import annotations

from dataclasses import dataclass

from engine.errors import EngineError

# ----- limits -----


@dataclass(frozen=True)
class Limits:
    """Configured ceilings; crossing one raises LimitExceeded (HTTP 413) before anything is allocated."""

    max_tensor_elements: int = 10_000_000
    max_total_elements: int = 50_000_000
    max_ops: int = 10_000


DEFAULT_LIMITS = Limits()


class DeviceUnavailable(EngineError):
    """device "cuda" asked of an engine without a CUDA backend: HTTP 503."""

    type = "device_unavailable"

