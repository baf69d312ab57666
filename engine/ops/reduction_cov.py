"""cov and corrcoef, recorded node by node as aten/src/ATen/native/Correlation.cpp composes them."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchRuntimeError
from engine.ops import join as J
from engine.ops import linalg as L
from engine.ops import nn_functional as NF
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.tensor import Tensor


def _t(a):
    return Tensor._make(a)


def _word(dt):
    return D.scalar_type_name(dt)


# ----- cov, corrcoef (aten/src/ATen/native/Correlation.cpp, step by step) -----

COV_DOF_WARNING = ("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
                   "observations.")


def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    if input.ndim > 2:
        raise TorchRuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                                f"{input.ndim} dimensions")
    if input.dtype is D.bool_:
        raise TorchRuntimeError("cov(): bool dtype is not supported for input")
    x = S.view(input, 1, -1) if input.ndim < 2 else input
    num_obs = x.shape[1]
    w = None
    if fweights is not None:
        w = fweights
        if w.ndim > 1:
            raise TorchRuntimeError("cov(): expected fweights to have one or fewer dimensions but got fweights with "
                                    f"{w.ndim} dimensions")
        if w.dtype.is_floating_point or w.dtype is D.bool_:
            raise TorchRuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with "
                                    f"{_word(w.dtype)} dtype")
        if w.numel() != num_obs:
            raise TorchRuntimeError("cov(): expected fweights to have the same numel as there are observations in the "
                                    f"input but got {w.numel()} != {num_obs}")
        if num_obs and float(w._data.min()) < 0:
            raise TorchRuntimeError("cov(): fweights cannot be negative")
    if aweights is not None:
        aw = aweights
        if aw.ndim > 1:
            raise TorchRuntimeError("cov(): expected aweights to have one or fewer dimensions but got aweights with "
                                    f"{aw.ndim} dimensions")
        if not aw.dtype.is_floating_point:
            raise TorchRuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                                    f"{_word(aw.dtype)} dtype")
        if aw.numel() != num_obs:
            raise TorchRuntimeError("cov(): expected aweights to have the same numel as there are observations in the "
                                    f"input but got {aw.numel()} != {num_obs}")
        if num_obs and float(aw._data.min()) < 0:
            raise TorchRuntimeError("cov(): aweights cannot be negative")
        w = w * aw if w is not None else aw
    if w is not None:
        w_sum = R.sum(w)
        if float(w_sum._data) == 0:
            raise TorchRuntimeError("cov(): weights sum to zero, can't be normalized")
    else:
        w_sum = _t(B.xp.asarray(num_obs, dtype=np.int64))
    avg = P.div(R.sum(x * w if w is not None else x, 1), w_sum)
    if w is None:
        norm_factor = _t(B.xp.asarray(num_obs - correction, dtype=np.int64))
    elif correction == 0:
        norm_factor = w_sum
    elif aweights is None:
        norm_factor = w_sum - correction
    elif fweights is None and num_obs == 1 and correction == 1:
        norm_factor = _t(B.xp.asarray(0, dtype=np.int64))
    else:
        norm_factor = w_sum - NF.mul_scalar(R.sum(w * aweights), correction) / w_sum  # C++'s int * Tensor
    if float(norm_factor._data) <= 0:
        import warnings  # noqa: PLC0415

        warnings.warn(COV_DOF_WARNING, UserWarning, stacklevel=2)
        norm_factor = _t(B.xp.zeros_like(norm_factor._data))
    if num_obs == 1 and (fweights is not None) != (aweights is not None):
        x = _t(B.xp.zeros_like(x._data))
        if not x.dtype.is_floating_point:
            x = x.to(D.float32)
    else:
        x = x - S.unsqueeze(avg, 1)
    c = L.mm(x, S.t(x * w if w is not None else x))
    return S.squeeze(P.true_divide(c, norm_factor))


def corrcoef(input: Tensor) -> Tensor:
    if input.ndim > 2:
        raise TorchRuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but got an input with "
                                f"{input.ndim} dimensions")
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = J.diagonal(c)
    stddev = P.sqrt(d)
    c = c / S.view(stddev, -1, 1)
    c = c / S.view(stddev, 1, -1)
    return P.clamp(c, -1, 1)
