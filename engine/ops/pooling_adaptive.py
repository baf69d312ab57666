"""Adaptive pools: adaptive_avg_pool1d/2d/3d (AdaptiveAvgPool2DBackward0 / 3D, or a mean over the spatial dims
for an output of ones, as aten) and adaptive_max_pool1d/2d/3d (AdaptiveMaxPool2DBackward0 / 3D)."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.errors import TorchNotImplementedError, TorchRuntimeError, TorchValueError
from engine.ops import shape as S
from engine.ops._util import list_str
from engine.ops.nn_common import _errstate, _word
from engine.ops.pooling_regions import (
    _adaptive_max_arr,
    _check1d,
    _dim_range,
    _ints,
    _lead,
    _max_backward,
    _t,
    _zeros_like,
    adaptive_chunk_bytes,
    adaptive_chunks,
)
from engine.ops.registry import defop
from engine.ops.rules import Cost, numel
from engine.tensor import Tensor

# ----- adaptive pools -----


def _list_with_default(out_size, defaults):
    """torch.nn.modules.utils._list_with_default: None entries take the input's sizes."""
    if isinstance(out_size, int):
        return out_size
    if len(defaults) <= len(out_size):
        raise TorchValueError(f"Input dimension should be at least {len(out_size) + 1}")
    return [v if v is not None else d for v, d in zip(out_size, defaults[-len(out_size):])]


def _adaptive_nonzero(name, x, first):
    for i in range(first, x.ndim):
        if x.shape[i] <= 0:
            raise TorchRuntimeError(
                f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes "
                f"{list_str(x.shape)} with dimension {i} being empty")


def _adaptive_avg_fwd(nsp):
    name = f"adaptive_avg_pool{nsp}d"

    def fwd(x, output_size):
        outsz = tuple(_ints(output_size))
        if nsp == 2:
            if x.ndim not in (3, 4):
                raise TorchRuntimeError(f"{name}(): Expected 3D or 4D tensor, but got {list_str(x.shape)}")
            for i in (-2, -1):
                if x.shape[i] <= 0:
                    raise TorchRuntimeError(
                        f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input has "
                        f"sizes {list_str(x.shape)} with dimension {i + x.ndim} being empty")
        else:
            _adaptive_nonzero(name, x, 1)
            if x.ndim not in (4, 5):
                raise TorchRuntimeError(f"{name}(): Expected 4D or 5D tensor, but got {list_str(x.shape)}")
        if x.dtype.kind != "f":
            raise TorchNotImplementedError(f"\"{name}\" not implemented for '{_word(x)}'")
        lead, n, insz = _lead(x, nsp)
        xf = np.asarray(B.to_numpy(x)).reshape(n, numel(insz))
        out = np.empty((n, numel(outsz)), dtype=x.dtype)
        for lo, hi, flat, mask in adaptive_chunks(insz, outsz, n) if n else ():  # (the table a chunk at a time:
            cnt = mask.sum(axis=-1)                                   # rows are independent, the values one pass's)
            with _errstate():
                out[:, lo:hi] = (np.where(mask[None], xf[:, flat], 0).sum(axis=-1) / cnt).astype(x.dtype)
        return B.xp.asarray(out.reshape(*lead, *outsz))

    return fwd


def _adaptive_avg_bwd_arr(g, x, nsp):
    if nsp == 2:  # aten's adaptive_avg_pool2d_backward checks its gradient's non-batch dims
        for i in range(1, g.ndim):
            if g.shape[i] <= 0:
                raise TorchRuntimeError(
                    "adaptive_avg_pool2d_backward(): Expected grad_output to have non-zero size for non-batch "
                    f"dimensions, but grad_output has sizes {list_str(g.shape)} with dimension {i} being empty")
    lead, n, insz = _lead(x, nsp)
    outsz = tuple(g.shape[g.ndim - nsp:])
    ga = np.asarray(B.to_numpy(g)).reshape(n, numel(outsz))
    out = np.zeros(n * numel(insz), dtype=ga.dtype)
    base = (np.arange(n) * numel(insz))[:, None, None]
    if n == 0:
        return B.xp.asarray(out.reshape(x.shape))
    # chunk by chunk: each input element receives its contributions in the one pass's order (rows ascending;
    # the leading positions write disjoint parts), so the sums are that pass's, bit for bit
    for lo, hi, flat, mask in adaptive_chunks(insz, outsz, n):
        cnt = mask.sum(axis=-1)
        gd = (ga[:, lo:hi] / cnt).astype(ga.dtype)
        contrib = np.broadcast_to(gd[..., None], (n, *flat.shape))
        rows = np.broadcast_to(base, contrib.shape)
        m = np.broadcast_to(mask[None], contrib.shape)
        np.add.at(out, (rows + flat[None])[m], contrib[m])
    return B.xp.asarray(out.reshape(x.shape))


def _table_cost(x_shape, outsz, nsp):
    """(elements, bytes at the peak) of the region tables an adaptive pool walks: n x O x K gathered in all (its
    flops), a chunk of them at a time (adaptive_chunks)."""
    n = numel(x_shape[: len(x_shape) - nsp])
    insz = tuple(x_shape[len(x_shape) - nsp:])
    k = 1
    for i, o in zip(insz, outsz):
        k *= -(-int(i) // max(int(o), 1)) + 1
    return n * numel(outsz) * k, adaptive_chunk_bytes(n, outsz, insz)


def _adaptive_rule(nsp, nout=1):
    def rule(self, output_size):
        outsz = tuple(_ints(output_size))
        out = (*tuple(self.shape[: len(self.shape) - nsp]), *outsz)
        table, temp_bytes = _table_cost(tuple(self.shape), outsz, nsp)
        itemsize = self.dtype.itemsize if getattr(self, "dtype", None) is not None else 4
        # the input flattened (a copy where strided) and a chunk's tables; a max pool's int64 indices (an output,
        # counted at the input's itemsize by the charge) the rest of their bytes
        temp = numel(self.shape) + -(-temp_bytes // max(itemsize, 1))
        if nout == 2:
            temp += -(-numel(out) * 8 // max(itemsize, 1)) - numel(out)
        return Cost(out if nout == 1 else (out, out), 2 * numel(self.shape) + numel(out) + 2 * table, temp)

    return rule


def _adaptive_bwd_rule(nsp):
    def rule(grad_output, self):
        outsz = tuple(grad_output.shape[len(grad_output.shape) - nsp:])
        table, temp_bytes = _table_cost(tuple(self.shape), outsz, nsp)
        itemsize = self.dtype.itemsize if getattr(self, "dtype", None) is not None else 4
        # grad_output flattened (a copy where strided) and a chunk's tables, contributions and add.at indices
        temp = numel(grad_output.shape) + -(-temp_bytes // max(itemsize, 1))
        return Cost(tuple(self.shape), 2 * numel(self.shape) + 2 * table, temp)

    return rule


def _make_adaptive_avg(nsp):
    fwd_name = f"_adaptive_avg_pool{nsp}d"
    ops = {}

    def grad_output_formula(grad, grad_output_shape):
        return ops["fwd"](grad, list(grad_output_shape[len(grad_output_shape) - nsp:]))

    ops["bwd"] = defop(
        f"{fwd_name}_backward(Tensor grad_output, Tensor self) -> Tensor",
        lambda g, x: _adaptive_avg_bwd_arr(g, x, nsp),
        grad_output=grad_output_formula,
        self=lambda grad, self: _zeros_like(self),
        rule=_adaptive_bwd_rule(nsp),
    )
    ops["fwd"] = defop(
        f"{fwd_name}(Tensor self, SymInt[{nsp}] output_size) -> Tensor", _adaptive_avg_fwd(nsp),
        self=lambda grad, self: ops["bwd"](grad, self), rule=_adaptive_rule(nsp),
    )
    return ops["fwd"], ops["bwd"]


adaptive_avg_pool2d_op, adaptive_avg_pool2d_backward_op = _make_adaptive_avg(2)
adaptive_avg_pool3d_op, adaptive_avg_pool3d_backward_op = _make_adaptive_avg(3)


def _adaptive_avg(nsp, input, output_size):
    name = f"adaptive_avg_pool{nsp}d"
    out = _ints(output_size) if not (isinstance(output_size, list | tuple) and len(output_size) == 0) else []
    if isinstance(output_size, int):
        out = [output_size] * nsp
    if len(out) != nsp:
        raise TorchRuntimeError(f"{name}: output_size must be {nsp}")
    if any(o < 0 for o in out):
        shown = ", ".join(str(o) for o in out[:2]) + "".join(f",{o}" for o in out[2:])  # torch's own spacing
        raise TorchRuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 but received "
                                f"{{{shown}}}")
    if all(o == 1 for o in out):
        from engine.ops import reduction as R  # noqa: PLC0415

        return R.mean(input, list(range(-1, -nsp - 1, -1)), True)
    return (adaptive_avg_pool2d_op if nsp == 2 else adaptive_avg_pool3d_op)(input, out)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average over adaptive regions: AdaptiveAvgPool2DBackward0 (a mean for output size 1 x 1)."""
    return _adaptive_avg(2, input, _list_with_default(output_size, list(input.shape)))


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Average over adaptive regions: AdaptiveAvgPool3DBackward0 (a mean for output size 1 x 1 x 1)."""
    return _adaptive_avg(3, input, _list_with_default(output_size, list(input.shape)))


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """adaptive_avg_pool2d over input.unsqueeze(-2) to (1, output_size), then squeeze(-2)."""
    _dim_range("adaptive_avg_pool1d", input, 2, 4)
    o = _check1d("adaptive_avg_pool1d", "output_size", output_size)
    return S.squeeze(_adaptive_avg(2, S.unsqueeze(input, -2), [1, o]), -2)


def _adaptive_max_fwd(nsp):
    name = f"adaptive_max_pool{nsp}d"

    def fwd(x, output_size):
        if x.ndim not in ((3, 4) if nsp == 2 else (4, 5)):
            dims = "3D or 4D" if nsp == 2 else "4D or 5D"
            raise TorchRuntimeError(f"{name}(): Expected {dims} tensor, but got: {list_str(x.shape)}")
        _adaptive_nonzero(name, x, 1)
        outsz = tuple(_ints(output_size))
        if len(outsz) != nsp:
            raise TorchRuntimeError(f"{name}(): internal error: output_size.size() must be {nsp}")
        if any(o < 0 for o in outsz):
            bad = next(o for o in outsz if o < 0)
            raise TorchRuntimeError(f"Trying to create tensor with negative dimension {bad}: "
                                    f"{list_str((*x.shape[: x.ndim - nsp], *outsz))}")
        if x.dtype.kind != "f":
            raise TorchNotImplementedError(f"\"{name}\" not implemented for '{_word(x)}'")
        return _adaptive_max_arr(x, nsp, outsz)

    return fwd


adaptive_max_pool2d_op = defop(
    "adaptive_max_pool2d(Tensor self, int[2] output_size) -> (Tensor, Tensor)", _adaptive_max_fwd(2), nout=2,
    self=_max_backward(2), rule=_adaptive_rule(2, 2),
)
adaptive_max_pool3d_op = defop(
    "adaptive_max_pool3d(Tensor self, int[3] output_size) -> (Tensor, Tensor)", _adaptive_max_fwd(3), nout=2,
    self=_max_backward(3), rule=_adaptive_rule(3, 2),
)


def _sizes_arg(output_size, nsp):
    return [output_size] * nsp if isinstance(output_size, int) else _ints(output_size)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Maximum over adaptive regions: AdaptiveMaxPool2DBackward0."""
    out, idx = adaptive_max_pool2d_op(input, _sizes_arg(_list_with_default(output_size, list(input.shape)), 2))
    return (out, _t(idx._data)) if return_indices else out


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Maximum over adaptive regions: AdaptiveMaxPool3DBackward0."""
    out, idx = adaptive_max_pool3d_op(input, _sizes_arg(_list_with_default(output_size, list(input.shape)), 3))
    return (out, _t(idx._data)) if return_indices else out


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """adaptive_max_pool2d over input.unsqueeze(-2) to (1, output_size), then squeeze(-2) (both outputs)."""
    _dim_range("adaptive_max_pool1d", input, 2, 4)
    o = _check1d("adaptive_max_pool1d", "output_size", output_size)
    _adaptive_nonzero("adaptive_max_pool1d", input, 1)
    out, idx = adaptive_max_pool2d_op(S.unsqueeze(input, -2), [1, o])
    out = S.squeeze(out, -2)
    return (out, _t(B.xp.squeeze(idx._data, -2))) if return_indices else out
