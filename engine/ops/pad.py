"""F.pad's reflect, replicate and circular modes, as aten computes them.

reflect / replicate are torch's reflection_pad{1,2,3}d and replication_pad{1,2,3}d entries (grad_fn
ReflectionPad2DBackward0, ...): the forward gathers each output element from the input position it mirrors or
clamps to; the backward adds each output gradient into that position, in the output's row-major order (torch's
CPU kernels' order, so the sums round as torch's do), and is itself an entry (ReflectionPad2DBackwardBackward0)
whose gradient is the forward again. circular is aten's _pad_circular composed of engine ops (an empty tensor,
slices of it, copy_), so it records torch's graph (CopySlices). Each kernel's checks come first, with torch's
messages (its meta functions').
"""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.errors import TorchNotImplementedError, TorchRuntimeError
from engine.ops import rules as R
from engine.ops.jvp import only
from engine.ops.registry import defop
from engine.tensor import Tensor

_KIND = {"reflect": "reflection", "replicate": "replication"}


def _shape_str(shape) -> str:
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"


# ----- the index maps: which input position each output position reads, per padded dim -----


def _source(size, lo, hi, mode):
    """Input positions read by the output positions -lo .. size+hi-1 of one dim (reflect excludes the edge)."""
    i = np.arange(-lo, size + hi, dtype=np.int64)
    if mode == "reflect":
        i = np.abs(i)
        return np.where(i >= size, 2 * (size - 1) - i, i)
    return np.clip(i, 0, size - 1)


def _maps(shape, padding, mode):
    """Per padded dim, front to back (D, H, W), its index map."""
    k = len(padding) // 2
    return [_source(shape[len(shape) - k + j], padding[2 * (k - 1 - j)], padding[2 * (k - 1 - j) + 1], mode)
            for j in range(k)]


def _forward(mode):
    def forward(x, padding):
        maps = np.ix_(*_maps(x.shape, padding, mode))
        return x[(Ellipsis, *(B.xp.asarray(m) for m in maps))]

    return forward


def _backward(mode):
    def backward(grad_output, x, padding):
        shape = x.shape
        k = len(padding) // 2
        spatial = shape[len(shape) - k:]
        flat = np.zeros((), dtype=np.int64)  # each output position's flat input position, row-major
        for size, m in zip(spatial, _maps(shape, padding, mode)):
            flat = flat[..., None] * size + m
        lead = int(np.prod(shape[:len(shape) - k], dtype=np.int64))
        out = B.xp.zeros((lead, int(np.prod(spatial, dtype=np.int64))), dtype=grad_output.dtype)
        if flat.size and lead:
            B.xp.add.at(out, (slice(None), B.xp.asarray(flat.reshape(-1))), grad_output.reshape(lead, -1))
        return out.reshape(shape)

    return backward


def _padded(shape, padding):
    out = list(shape)
    k = len(padding) // 2
    for i in range(k):
        out[len(shape) - 1 - i] += int(padding[2 * i]) + int(padding[2 * i + 1])
    return tuple(out)


def _fwd_rule(self, padding):
    out = _padded(self.shape, padding)
    return R.Cost(out, R.numel(out), 0, True, R.wide(R.numel(out), self), 2 * R.numel(out))


def _bwd_rule(grad_output, self, padding):
    return R.Cost(tuple(self.shape), R.numel(grad_output.shape), R.wide(R.numel(grad_output.shape), grad_output))


def _zeros_like(shape, dtype):
    from engine.ops.factory import zeros  # noqa: PLC0415 - the factories import the op table

    return zeros(tuple(shape), dtype=dtype)


def _entries(mode, k):
    """The forward entry and its backward entry of one mode and number of padded dims."""
    name = f"{_KIND[mode]}_pad{k}d"

    def self_formula(grad, self, padding):
        return bwd(grad, self, padding)

    def grad_output_formula(grad, padding):
        return fwd(grad, padding)

    def self_of_backward(grad, self_shape, self_dtype):
        return _zeros_like(self_shape, self_dtype)

    # forward formulas (derivatives.yaml): the pad is linear in self (auto_linear); its backward is linear in
    # grad_output, self giving its shape only
    fwd = defop(f"{name}(Tensor self, SymInt[{2 * k}] padding) -> Tensor", _forward(mode), rule=_fwd_rule,
                jvp="linear", self=self_formula)
    bwd = defop(f"{name}_backward(Tensor grad_output, Tensor self, SymInt[{2 * k}] padding) -> Tensor",
                _backward(mode), rule=_bwd_rule, jvp=only(("grad_output",), "linear"),
                grad_output=grad_output_formula, self=self_of_backward)
    return fwd


ENTRIES = {(mode, k): _entries(mode, k) for mode in _KIND for k in (1, 2, 3)}


# ----- torch's checks (the kernels' meta functions) -----


def _check_valid_input(shape, k):
    batch = len(shape) == k + 2
    if not all(s != 0 for s in (shape[1:] if batch else shape)):
        raise TorchRuntimeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 batch size and "
                                f"other non-zero dimensions for input, but got: {_shape_str(shape)}")


def _check(mode, shape, padding):
    k = len(padding) // 2
    _check_valid_input(shape, k)
    nd = len(shape)
    sizes = [shape[nd - 1 - i] for i in range(k)]  # W, H, D
    outs = [sizes[i] + padding[2 * i] + padding[2 * i + 1] for i in range(k)]
    if mode == "reflect":
        for i in range(k):
            lo, hi = padding[2 * i], padding[2 * i + 1]
            if not (lo < sizes[i] and hi < sizes[i]):
                raise TorchRuntimeError(
                    f"Argument #{4 + 2 * i}: Padding size should be less than the corresponding input dimension, but "
                    f"got: padding ({lo}, {hi}) at dimension {nd - 1 - i} of input {_shape_str(shape)}")
    if all(o < 1 for o in outs):
        if k == 1:
            msg = f"input (W: {sizes[0]}) is too small. Calculated output W: {outs[0]}"
        elif k == 2:
            space = " " if mode == "replicate" else ""
            msg = (f"input (H: {sizes[1]}, W: {sizes[0]}{space}) is too small. Calculated output H: {outs[1]} "
                   f"W: {outs[0]}")
        else:
            msg = (f"input (D: {sizes[2]} H: {sizes[1]}, W: {sizes[0]}) is too small. Calculated output D: "
                   f"{outs[2]} H: {outs[1]} W: {outs[0]}")
        raise TorchRuntimeError(msg)
    out = _padded(shape, padding)
    for s in out:
        if s < 0:
            raise TorchRuntimeError(f"Trying to create tensor with negative dimension {s}: {_shape_str(out)}")


# ----- circular: aten's _pad_circular, in engine ops -----


def _pad_circular(x: Tensor, padding) -> Tensor:
    from engine.ops.factory import empty  # noqa: PLC0415
    from engine.ops.indexing import slice_op  # noqa: PLC0415
    from engine.ops.inplace import copy_  # noqa: PLC0415

    in_shape = tuple(x.shape)
    nd = len(in_shape)
    k = len(padding) // 2
    lead = nd - k
    out_shape = list(in_shape)
    for i in range(k):
        lo, hi = padding[2 * (k - i - 1)], padding[2 * (k - i - 1) + 1]
        size = in_shape[lead + i]
        out_shape[lead + i] = size + lo + hi
        if not (lo <= size and hi <= size):
            raise TorchRuntimeError("Padding value causes wrapping around more than once.")
        if out_shape[lead + i] < 0:
            raise TorchRuntimeError("Negative padding value is resulting in an empty dimension")
    out = empty(*out_shape, dtype=x.dtype, device=x.device)
    out_slice, in_slice = out, x
    for i in range(k):
        dim = k - i + lead - 1
        lo, hi = padding[2 * i], padding[2 * i + 1]
        out_slice = slice_op(out_slice, dim, max(lo, 0), out_shape[dim] - max(hi, 0))
        in_slice = slice_op(in_slice, dim, max(-lo, 0), in_shape[dim] - max(-hi, 0))
    copy_(out_slice, in_slice)
    for i in range(k):  # the left side, then the right one; corners are written more than once
        dim = k - i + lead - 1
        lo, hi = padding[2 * i], padding[2 * i + 1]
        if lo > 0:
            copy_(slice_op(out, dim, 0, lo),
                  slice_op(out, dim, out_shape[dim] - lo - max(hi, 0), out_shape[dim] - max(hi, 0)))
        if hi > 0:
            copy_(slice_op(out, dim, out_shape[dim] - hi, out_shape[dim]),
                  slice_op(out, dim, max(lo, 0), max(lo, 0) + hi))
    return out


def pad_mode(input: Tensor, pad: list, mode: str) -> Tensor:
    """F.pad for mode reflect / replicate / circular (the checks common to every mode done by the caller)."""
    k = len(pad) // 2
    nd = input.ndim
    if not (1 <= k <= 3 and nd in (k + 1, k + 2)):
        raise TorchNotImplementedError(
            f"Padding size {len(pad)} is not supported for {nd}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    if mode == "circular":
        return _pad_circular(input, pad)
    _check(mode, tuple(input.shape), pad)
    return ENTRIES[(mode, k)](input, list(pad))
