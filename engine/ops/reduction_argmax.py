"""argmax / argmin: the index of a slice's extreme, int64, no gradient."""

from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.errors import TorchIndexError, TorchRuntimeError
from engine.ops._util import wrap_dim
from engine.ops.reduction_common import _out, _red
from engine.ops.registry import nondiff
from engine.tensor import Tensor

# ----- argmax / argmin -----


def _arg_fwd(name, fn):
    def f(a, dim=None, keepdim=False):
        if a.dtype == np.bool_:
            raise TorchRuntimeError(f"{name}(): does not support bool input")
        if dim is None:
            if a.size == 0:
                raise TorchIndexError(
                    f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
                )
            r = B.xp.asarray(fn(a.reshape(-1)), dtype=np.int64)
            return r.reshape([1] * a.ndim) if keepdim else r
        d = wrap_dim(dim, a.ndim)
        if a.ndim == 0:
            return B.xp.zeros((), np.int64)
        if a.shape[d] == 0:
            raise TorchIndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        return _out(fn(a, axis=d, keepdims=keepdim).astype(np.int64))

    return f


# the flattened copy of a strided input; the indices before their int64 copy
argmax_op = nondiff(
    "argmax(Tensor self, int? dim=None, bool keepdim=False) -> Tensor", _arg_fwd("argmax", np.argmax),
    rule=lambda self, dim, keepdim: _red(self, dim, keepdim, temp=1, out_temp=1),
)
argmin_op = nondiff(
    "argmin(Tensor self, int? dim=None, bool keepdim=False) -> Tensor", _arg_fwd("argmin", np.argmin),
    rule=lambda self, dim, keepdim: _red(self, dim, keepdim, temp=1, out_temp=1),
)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return argmax_op(input, dim=dim, keepdim=keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return argmin_op(input, dim=dim, keepdim=keepdim)
