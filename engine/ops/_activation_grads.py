"""Array gradients of activations in aten's kernel order (grad18): hardswish_backward's float16 branch (in float,
rounded once), log_sigmoid_backward on the forward's buffer exp(-|x|)."""
from __future__ import annotations

import numpy as np

from engine.ops.nn_common import _errstate

_F16, _F32 = np.dtype(np.float16), np.dtype(np.float32)


def _hardswish_grad_arr(grad, self):
    """hardswish's Tensor formula (nn_activation.py) on arrays, but for float16 hardswish_backward_kernel's
    reduced-float branch: `grad * (self / 3 + 0.5)` in float, rounded once to float16 (the Tensor formula rounds
    each step to float16)."""
    with _errstate():
        if grad.dtype == _F16 and self.dtype == _F16:
            m = self.astype(_F32)  # in place after: one float32 copy (within the charged temporaries)
            m /= np.float32(3)
            m += np.float32(0.5)
            m *= grad
            mid = m.astype(_F16)
            del m
        else:
            t = np.result_type(grad, self).type
            mid = grad * (self / t(3) + t(0.5))
        return np.where(self <= -3, mid.dtype.type(0), np.where(self < 3, mid, grad))


def _log_sigmoid_grad_arr(grad, self):
    """log_sigmoid_backward's kernel on the forward's buffer b = exp(-|x|): `(max_deriv - sign * (b / (1 + b))) *
    grad` (max_deriv 1 and sign 1 below 0, else 0 and -1), was grad * sigmoid(-x) (the Tensor formula, kept for
    create_graph). float16: the buffer is stored as float16, the rest in float, rounded once. float32's exp
    through float64 (closer to torch's SLEEF exp than NumPy's float32 one: 4x fewer last-bit differences)."""
    dt = np.result_type(grad, self)
    with _errstate():
        if dt == _F16:
            b = np.exp(-np.abs(self.astype(_F32))).astype(_F16).astype(_F32)
        elif dt == _F32:
            b = np.exp(-np.abs(self.astype(np.float64))).astype(_F32)
        else:
            b = np.exp(-np.abs(self))
        q = b / (b.dtype.type(1) + b)
        d = np.where(self < 0, b.dtype.type(1) - q, q)  # (0 - (-1) * q is q)
        return (d * grad.astype(d.dtype, copy=False)).astype(dt, copy=False)
