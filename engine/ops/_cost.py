"""Rule builders shared by the newer op families (engine.ops.rules holds the Cost type and the common kinds)."""
from __future__ import annotations

import numpy as np

from engine.ops.rules import Cost, numel, shape_of


def stand_in(a):
    """A zero-stride array of a's shape and dtype: what a view's forward can run on to give its exact output
    shape without reading or allocating a's elements."""
    dt = getattr(a, "dtype", None)
    dt = np.dtype(str(dt)) if dt is not None else np.dtype("float64")
    return np.broadcast_to(np.zeros((), dtype=dt), tuple(a.shape))


def by_forward(forward, params, tensor_params, copy=False, weight=0.0):
    """The exact output shape(s) of a view-like forward, run on stand-ins (views only: nothing is allocated,
    nothing read). copy: the op copies its output (one element operation each)."""
    tensors = set(tensor_params)

    def rule(**vals):
        args = [stand_in(vals[p]) if p in tensors and hasattr(vals[p], "shape") else vals[p] for p in params]
        out = forward(*args)
        if isinstance(out, tuple | list):
            shapes = tuple(tuple(o.shape) for o in out)
            n = sum(numel(s) for s in shapes)
        else:
            shapes = tuple(out.shape)
            n = numel(shapes)
        return Cost(shapes, (1 if copy else 0) * n + weight * n)

    rule.by_name = tuple(params)
    return rule


def fixed(shape_fn, flops_fn=None, temp_fn=None, params=None):
    """A rule from functions of the bound values: shape_fn(**vals) -> out; flops/temp likewise (default: one
    operation per output element, no temporary)."""

    def rule(**vals):
        out = shape_fn(**vals)
        n = sum(numel(s) for s in out) if out and isinstance(out[0], tuple) else numel(out)
        flops = flops_fn(**vals) if flops_fn else n
        temp = temp_fn(**vals) if temp_fn else 0
        return Cost(out, flops, temp)

    if params is not None:
        rule.by_name = tuple(params)
    return rule


__all__ = ["Cost", "by_forward", "fixed", "numel", "shape_of", "stand_in"]
