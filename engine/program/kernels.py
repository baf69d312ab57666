"""Kernels a lowered program calls in place of an entry's forward: the same values bit for bit, fewer NumPy calls.

A lowered program (engine.program.lower) calls each entry's forward as the op table has it. A few forwards are
written for every input the op takes (any dtype, any shape, a tensor or a NumPy scalar) and pay for that on the
small float inputs most requests give them. Here, per such forward, a kernel for the float32/float64 inputs: the
same operations on the same values (so the same bits; tests/engine/test_lower_kernels.py holds them to the
entry and to live torch with hypothesis), any other input handed to the entry itself. A lowered function is
kept only where it gives the recording's values bit for bit, checked again at two other sets of values
(engine.program.plans), so a kernel that differed would make its program decline, not answer differently.

No check is skipped: an entry replaced here charges nothing itself (a lowered replay charges its recorded cost
at once, Program._run_lowered) and raises nothing on these inputs."""
from __future__ import annotations

import numpy as np

from engine.ops.pointwise_math import _sigmoid

_ndarray, _f32, _f64 = np.ndarray, np.float32, np.float64


def sigmoid_kernel(entry):
    """engine.ops.pointwise's sigmoid forward (`entry`: `_float_out(_sigmoid)`) on float32/float64 input:
    pointwise_math's `_sigmoid` itself (e = exp(-|a|), then 1 / (1 + e) where a >= 0 and e / (1 + e) elsewhere, in
    8 NumPy calls on an array, NumPy scalars on a 0-d input or a NumPy scalar), without the entry's dtype
    conversion; any other input goes to the entry."""

    def sigmoid(a):
        t = type(a)
        if t is _ndarray:
            c = a.dtype.char
            if c == "f" or c == "d":
                return _sigmoid(a)
        elif t is _f32 or t is _f64:
            return _sigmoid(a)
        return entry(a)

    return sigmoid


_MAKERS = {"sigmoid": sigmoid_kernel}
_KERNELS: dict = {}  # an entry's forward -> its kernel, made on first use


def kernel(op):
    """The function a lowered program calls for op table entry `op`: its kernel here, else its own forward."""
    make = _MAKERS.get(op.qualname)
    if make is None:
        return op.forward
    k = _KERNELS.get(op.forward)
    if k is None:
        k = _KERNELS[op.forward] = make(op.forward)
    return k
