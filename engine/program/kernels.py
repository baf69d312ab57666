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

_exp, _abs, _negative, _add, _divide = np.exp, np.abs, np.negative, np.add, np.divide
_copyto, _array = np.copyto, np.array
_ndarray, _f32, _f64 = np.ndarray, np.float32, np.float64


def sigmoid_kernel(entry):
    """engine.ops.pointwise's sigmoid forward (`entry`) on float32/float64 input: e = exp(-|a|), then 1 / (1 + e)
    where a >= 0 and e / (1 + e) elsewhere, as the entry computes them (it makes 1 + e twice and both
    quotients for every element, then selects and casts: ~10 NumPy calls); a 0-d input or a NumPy scalar as
    NumPy scalars (one branch: float32 scalar arithmetic rounds each step as the 0-d array's ufuncs do), a
    0-d array out, as the entry gives."""

    def sigmoid(a):
        if type(a) is _ndarray:
            c = a.dtype.char
            if c != "f" and c != "d":
                return entry(a)
            if a.ndim:
                e = _abs(a)
                _negative(e, out=e)
                _exp(e, out=e)
                d = _add(e, 1)  # 1 + e
                _divide(e, d, out=e)  # e / (1 + e): a < 0
                _divide(1, d, out=d)  # 1 / (1 + e): a >= 0
                _copyto(e, d, where=a >= 0)
                return e
            x = a[()]
        elif type(a) is _f32 or type(a) is _f64:
            x = a
        else:
            return entry(a)
        e = _exp(-abs(x))
        return _array(1 / (1 + e) if x >= 0 else e / (1 + e))

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
