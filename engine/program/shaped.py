"""What the shape rules (engine/program/shapes.py, shapes_gather.py) take for a tensor: an engine Tensor (evaluate's
413 guard, before an op allocates) or a Shaped stand-in (the estimate, before anything runs)."""
from __future__ import annotations

from engine.program.wire import numel
from engine.tensor import Tensor


class Shaped:
    """Stands in for a tensor in the shape rules: its shape, nothing else."""

    __slots__ = ("shape", "ndim")

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.ndim = len(self.shape)

    def numel(self):
        return numel(self.shape)


def is_t(a) -> bool:
    return isinstance(a, Tensor | Shaped)
