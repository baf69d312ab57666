"""conv_transpose1d / conv_transpose2d as aten builds them: batchify (an unbatched input gains and loses a
leading batch dimension), then `convolution` with transposed=True (engine/ops/conv.py: its checks, rule,
backward and forward formulas), so grad_fn is ConvolutionBackward0 (SqueezeBackward1 over it, unbatched).
Listed in engine/ops/conv.py's CATALOG."""
from __future__ import annotations

from engine.errors import TorchTypeError
from engine.ops import shape as S
from engine.ops.conv import _batchify, convolution_op
from engine.tensor import Tensor


def _ints(v, n, fname, arg):
    """An int or a sequence of ints, as torch's argument parser takes an int[n] (an int repeats n times)."""
    if isinstance(v, list | tuple):
        if all(isinstance(i, int) and not isinstance(i, bool) for i in v):
            return [int(i) for i in v]
    elif isinstance(v, int) and not isinstance(v, bool):
        return [int(v)] * n
    raise TorchTypeError(f"{fname}(): argument '{arg}' must be tuple of ints, not {type(v).__name__}")


def _conv_transpose_nd(fname, nsp, input, weight, bias, stride, padding, output_padding, groups, dilation):
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TorchTypeError(f"{fname}(): argument 'groups' must be int, not {type(groups).__name__}")
    stride, padding, output_padding, dilation = (
        _ints(v, nsp, fname, a) for v, a in ((stride, "stride"), (padding, "padding"),
                                            (output_padding, "output_padding"), (dilation, "dilation")))
    x, batched = _batchify(input, nsp, fname)
    out = convolution_op(x, weight, bias, stride, padding, dilation, True, output_padding, groups)
    return out if batched else S.squeeze_dim(out, dim=0)


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | list[int] = 1,
    padding: int | list[int] = 0,
    output_padding: int | list[int] = 0,
    groups: int = 1,
    dilation: int | list[int] = 1,
) -> Tensor:
    return _conv_transpose_nd("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding,
                              groups, dilation)


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | list[int] = 1,
    padding: int | list[int] = 0,
    output_padding: int | list[int] = 0,
    groups: int = 1,
    dilation: int | list[int] = 1,
) -> Tensor:
    return _conv_transpose_nd("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding,
                              groups, dilation)
