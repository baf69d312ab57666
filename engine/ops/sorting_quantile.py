"""quantile / nanquantile: aten's composition over sort, gather and lerp (moved out of engine/ops/sorting.py, which
had passed 600 lines), with the two in-place view ops its graph records (unsqueeze_, transpose_)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.errors import TorchRuntimeError
from engine.ops import indexing as I
from engine.ops import pointwise as P
from engine.ops import reduction as R
from engine.ops import shape as S
from engine.ops._cost import by_forward
from engine.ops._util import wrap_dim
from engine.ops.registry import defop, entry
from engine.ops.sorting import _t, sort_op
from engine.tensor import Tensor

unsqueeze_inplace = defop("unsqueeze_(Tensor(a!) self, int dim) -> Tensor(a!)", S._unsqueeze, index=1,
                          self=lambda grad, dim: grad.squeeze(dim),
                          rule=by_forward(S._unsqueeze, ("self", "dim"), ("self",)))
transpose_inplace = defop("transpose_(Tensor(a!) self, int dim0, int dim1) -> Tensor(a!)", S._transpose, index=1,
                          self=lambda grad, dim0, dim1: grad.transpose(dim0, dim1),
                          rule=by_forward(S._transpose, ("self", "dim0", "dim1"), ("self",)))
_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(name, input, q, dim, keepdim, interpolation, ignore_nan):
    if isinstance(q, Tensor):
        if input.numel() == 0:
            raise TorchRuntimeError(f"{name}() input tensor must be non-empty")
        if q.ndim > 1:
            raise TorchRuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if input.dtype not in (D.float32, D.float64):
            raise TorchRuntimeError(f"{name}() input tensor must be either float or double dtype")
        if q.dtype is not input.dtype:
            raise TorchRuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        qa = np.asarray(B.to_numpy(q._data))
    else:
        q = float(q)
        if not 0 <= q <= 1:
            raise TorchRuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        if input.numel() == 0:
            raise TorchRuntimeError(f"{name}() input tensor must be non-empty")
        if input.dtype not in (D.float32, D.float64):
            raise TorchRuntimeError(f"{name}() input tensor must be either float or double dtype")
        qa = np.asarray(q, dtype=input._data.dtype)
    if interpolation not in _MODES:
        raise TorchRuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                                f"but got {interpolation}")
    nd = input.ndim
    wrapped = wrap_dim(dim, nd) if dim is not None else 0
    if qa.ndim and not np.all((qa >= 0) & (qa <= 1)):
        raise TorchRuntimeError(f"{name}() q values must be in the range [0, 1]")
    # out_shape as aten computes it
    if dim is not None and nd > 0:
        out_shape = list(input.shape)
        if keepdim:
            out_shape[wrapped] = 1
        else:
            del out_shape[wrapped]
    elif keepdim:
        out_shape = [1] * nd
    else:
        out_shape = []
    if qa.ndim > 0:
        out_shape = [qa.size, *out_shape]
    if dim is None:
        sorted_ = sort_op(S.flatten(input), -1, False)[0]
    elif wrapped == nd - 1:
        sorted_ = sort_op(input, -1, False)[0]
    else:
        sorted_ = sort_op(S.transpose(S.unsqueeze(input, -1), wrapped, -1), -1, False)[0]
    if qa.ndim == 0:
        out_shape = [1, *out_shape]
    in_shape = [*out_shape[1:], sorted_.shape[-1] if sorted_.ndim else 1]  # aten: out_shape[1:], then the sorted size
    sorted_ = S.view(sorted_, *in_shape)
    sv = np.asarray(B.to_numpy(sorted_._data))
    qd = qa.astype(sv.dtype).reshape(-1)
    if ignore_nan:
        count = (~np.isnan(sv)).sum(-1, keepdims=True)
        ranks = qd * (count - 1).astype(sv.dtype)
        ranks = np.where(ranks < 0, 0, ranks)
    else:
        last = sv.shape[-1] - 1
        has_nan = np.isnan(sv).any(-1, keepdims=True)
        ranks, has_nan = np.broadcast_arrays(qd * last, has_nan)
        ranks = np.where(has_nan, last, ranks).astype(sv.dtype)
    if interpolation == "lower":
        ranks = np.floor(ranks)
    elif interpolation == "higher":
        ranks = np.ceil(ranks)
    elif interpolation == "nearest":
        ranks = np.round(ranks)
    below = ranks.astype(np.int64)
    out = I.gather_op(sorted_, -1, _t(B.xp.asarray(below)))
    if interpolation in ("linear", "midpoint"):
        if interpolation == "linear" and isinstance(q, Tensor) and (q.requires_grad or _has_tangent(q)):
            weights = _quantile_weights(q, sorted_, ignore_nan, below)
        else:
            w = np.full_like(ranks, 0.5) if interpolation == "midpoint" else ranks - below
            weights = _t(B.xp.asarray(w.astype(sv.dtype)))
        above = np.ceil(ranks).astype(np.int64)
        out = P.lerp_tensor(out, I.gather_op(sorted_, -1, _t(B.xp.asarray(above))), weights)
    if qa.ndim == 0:
        return S.squeeze_inplace_dim(out, -1)
    out = transpose_inplace(unsqueeze_inplace(out, 0), 0, -1)
    return S.squeeze_inplace_dim(out, -1)


def _has_tangent(t):
    from engine.autograd import forward_ad as FW  # noqa: PLC0415

    return FW.active() and FW.tangent_of(t) is not None


def _quantile_weights(q, sorted_, ignore_nan, below):
    """The interpolation weights as aten computes them from a q that requires grad (ranks - ranks_below), so that
    the gradient reaches q through lerp's weight."""
    from engine.ops.nn_common import mul_scalar  # noqa: PLC0415
    from engine.ops.shape_more import broadcast_tensors  # noqa: PLC0415

    nan = P.isnan(sorted_)
    if ignore_nan:
        count = R.sum(P.logical_not(nan), -1, True)
        ranks = q * (count - 1)
        ranks = I.masked_fill(ranks, ranks < 0, 0)
    else:
        last = sorted_.shape[-1] - 1
        scaled, has_nan = broadcast_tensors(mul_scalar(q, last), _t(B.xp.asarray(nan._data.any(-1, keepdims=True))))
        ranks = I.masked_fill(scaled, has_nan, last)
    return ranks - _t(B.xp.asarray(below))


def quantile(input: Tensor, q: Tensor | float, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input: Tensor, q: Tensor | float, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    return _quantile("quantile", input, q, dim, keepdim, interpolation, True)


CATALOG = [
    entry("quantile", quantile, "The q-th quantiles (linear, lower, higher, midpoint or nearest).",
          grad_fns=("SqueezeBackward4", "LerpBackward1", "GatherBackward0", "SortBackward0")),
    entry("nanquantile", nanquantile, "quantile ignoring NaN.",
          grad_fns=("SqueezeBackward4", "LerpBackward1", "GatherBackward0", "SortBackward0")),
]
