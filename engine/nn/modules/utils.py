"""Argument helpers of torch.nn.modules.utils, and the lookup of functional ops by name."""
from __future__ import annotations

import collections
from itertools import repeat

from engine.errors import TorchNotImplementedError


def _ntuple(n, name="parse"):
    def parse(x):
        if isinstance(x, collections.abc.Iterable):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")


def _reverse_repeat_tuple(t, n):
    """(1, 2) -> (2, 2, 1, 1) for n=2: the order F.pad takes padding in."""
    return tuple(x for x in reversed(t) for _ in range(n))


def functional(name: str):
    """engine.nn.functional.<name>, or torch's NotImplementedError where the op table lacks it (modules over
    ops that are still being added: they work as soon as the functional op exists)."""
    from engine.nn import functional as F  # noqa: PLC0415

    fn = getattr(F, name, None)
    if fn is None:
        raise TorchNotImplementedError(f"engine.nn.functional.{name} is not in the engine's op table yet")
    return fn


def empty(shape, device=None, dtype=None):
    """A new tensor for a parameter or buffer (torch.empty(..., device, dtype); zeros here), on `device` as the
    factories place it (engine.ops.factory: a device the engine cannot put a tensor on is refused)."""
    from engine.ops.factory import zeros  # noqa: PLC0415

    return zeros(tuple(shape) if not isinstance(shape, int) else (shape,), dtype=dtype, device=device)
