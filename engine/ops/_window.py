"""The sliding windows that convolution and pooling share: the padded input, its strided window view, one
kernel offset's slice of it, and the loop over the kernel offsets that checks the request's deadline."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.tensor import Tensor


def windows(xp, out_hw, k_hw, stride, dilation):
    """Strided view (N, C, P, Q, kH, kW) of the padded input xp (read-only: the windows overlap)."""
    n, c, h, w = xp.shape
    sn, sc, sh, sw = xp.strides
    shape = (n, c, out_hw[0], out_hw[1], k_hw[0], k_hw[1])
    strides = (sn, sc, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1])
    if isinstance(xp, np.ndarray):
        return np.lib.stride_tricks.as_strided(xp, shape=shape, strides=strides, writeable=False)
    return B.xp.lib.stride_tricks.as_strided(xp, shape=shape, strides=strides)  # CuPy


def pad_hw(x, pad, value=0, extra=(0, 0)):
    if not any(pad) and not any(extra):
        return B.xp.ascontiguousarray(x)
    return np.pad(
        x, ((0, 0), (0, 0), (pad[0], pad[0] + extra[0]), (pad[1], pad[1] + extra[1])), constant_values=value
    )


def offsets(kh, kw):
    """The kernel offsets (i, j) in row-major order; the request's deadline is checked at each."""
    for i in range(kh):
        for j in range(kw):
            _budget.check()
            yield i, j


def tap(xp, i, j, out_hw, stride, dilation):
    """The (N, C, P, Q) view of the padded input xp that kernel offset (i, j) reads."""
    hs, ws = i * dilation[0], j * dilation[1]
    p, q = out_hw
    return xp[:, :, hs : hs + (p - 1) * stride[0] + 1 : stride[0], ws : ws + (q - 1) * stride[1] + 1 : stride[1]]


def detached(t):
    return Tensor._make(t._data)
