"""Samples for engine/ops/conv.py: conv1d / conv2d / conv_transpose1d / conv_transpose2d (ConvolutionBackward0;
'same' with an even kernel adds ConstantPadNdBackward0; unbatched input adds Unsqueeze / Squeeze), max_pool2d
(MaxPool2DWithIndicesBackward0) and avg_pool2d (AvgPool2DBackward0)."""

from __future__ import annotations

import math

from tests.engine.opinfo import ErrorSample, Sample, T

inf, nan = math.inf, math.nan

SAMPLES: list = []
ERRORS: list = []


def add(*items):
    SAMPLES.extend(items)


def err(*items):
    ERRORS.extend(items)


F = "functional"

# ----- conv2d -----
add(
    Sample("conv2d", (T((2, 3, 6, 5)), T((4, 3, 3, 2))), kind=F),
    Sample("conv2d", (T((2, 3, 6, 5)), T((4, 3, 3, 2)), T((4,))), kind=F),
    Sample(
        "conv2d",
        (T((2, 3, 7, 6)), T((4, 3, 3, 2)), T((4,))),
        dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1)),
        kind=F,
    ),
    Sample(
        "conv2d", (T((2, 4, 7, 6)), T((6, 2, 3, 3)), T((6,))), dict(stride=2, padding=1, groups=2), kind=F
    ),
    Sample("conv2d", (T((1, 4, 5, 5)), T((4, 1, 3, 3))), dict(padding=1, groups=4), kind=F, note="depthwise"),
    Sample("conv2d", (T((1, 2, 5, 5)), T((3, 2, 3, 3))), dict(padding="same"), kind=F),
    Sample(
        "conv2d",
        (T((1, 2, 5, 6)), T((3, 2, 2, 4))),
        dict(padding="same"),
        kind=F,
        note="even kernel: constant_pad_nd first",
    ),
    Sample("conv2d", (T((1, 2, 7, 6)), T((3, 2, 2, 3))), dict(padding="same", dilation=2), kind=F),
    Sample("conv2d", (T((1, 2, 7, 6)), T((3, 2, 2, 3))), dict(padding="valid", stride=2), kind=F),
    Sample("conv2d", (T((2, 5, 5)), T((3, 2, 3, 3)), T((3,))), kind=F, note="unbatched"),
    Sample("conv2d", (T((1, 2, 5, 5)), T((3, 2, 3, 3))), dict(stride=[2]), kind=F),
    Sample(
        "conv2d",
        (T((0, 2, 5, 5)), T((3, 2, 3, 3))),
        kind=F,
        gradgrad=False,
        note="empty batch (torch leaves the empty input's grad-of-grad undefined)",
    ),
    Sample("conv2d", (T((1, 2, 5, 5)), T((3, 2, 3, 3)), None, 1, 1)),
    Sample(
        "conv2d",
        (T((1, 2, 4, 4), dtype="int64", low=-3, high=3), T((2, 2, 3, 3), dtype="int64", low=-3, high=3)),
        kind=F,
        grad=False,
    ),
    Sample("conv2d", (T((2, 3, 6, 5)), T((4, 3, 3, 2), requires_grad=False), T((4,))), kind=F),
    Sample("conv2d", (T((2, 3, 6, 5), requires_grad=False), T((4, 3, 3, 2))), kind=F),
)

# ----- conv1d -----
add(
    Sample("conv1d", (T((2, 3, 9)), T((4, 3, 3))), kind=F),
    Sample("conv1d", (T((2, 2, 7)), T((4, 1, 3)), T((4,))), dict(stride=2, padding=1, groups=2), kind=F),
    Sample("conv1d", (T((2, 3, 9)), T((4, 3, 3))), dict(dilation=2, padding=2), kind=F),
    Sample("conv1d", (T((2, 7)), T((4, 2, 3))), kind=F, note="unbatched"),
    Sample("conv1d", (T((2, 2, 7)), T((4, 2, 4))), dict(padding="same"), kind=F),
    Sample("conv1d", (T((2, 2, 7)), T((4, 2, 3))), dict(padding="valid"), kind=F),
    Sample("conv1d", (T((1, 2, 5)), T((3, 2, 3)), T((3,)))),
)

# ----- conv_transpose1d / conv_transpose2d (convolution with transposed=True) -----
CT1, CT2 = "conv_transpose1d", "conv_transpose2d"
add(
    Sample(CT2, (T((2, 4, 5, 5)), T((4, 3, 3, 3))), kind=F),
    Sample(CT2, (T((2, 4, 4, 5)), T((4, 3, 3, 2)), T((6,))), dict(stride=(2, 1), padding=1, groups=2,
                                                                   output_padding=(1, 0)), kind=F),
    Sample(CT2, (T((1, 2, 4, 4)), T((2, 2, 4, 5)), T((4,))),
           dict(stride=(3, 2), padding=(1, 2), output_padding=(2, 3), groups=2, dilation=(4, 4)), kind=F,
           note="output_padding past the stride (below the dilation)"),
    Sample(CT2, (T((4, 3, 3)), T((4, 2, 2, 2)), T((2,))), dict(stride=2), kind=F, note="unbatched"),
    Sample(CT2, (T((1, 2, 3, 3)), T((2, 3, 3, 3))), dict(padding=1, dilation=2), kind=F),
    Sample(CT2, (T((1, 2, 3, 3)), T((2, 3, 2, 2)), None, 2, 0, 1, 1, 1)),
    Sample(CT2, (T((2, 3, 4, 4), requires_grad=False), T((3, 2, 3, 3))), dict(stride=2), kind=F),
    Sample(CT2, (T((2, 3, 4, 4)), T((3, 2, 3, 3), requires_grad=False), T((2,))), kind=F),
    Sample(CT2, (T((0, 3, 4, 4)), T((3, 2, 3, 3))), kind=F, gradgrad=False,
           note="empty batch (grad-of-grad: torch None, the engine an empty tensor)"),
    Sample(CT1, (T((2, 4, 5)), T((4, 3, 3))), kind=F),
    Sample(CT1, (T((2, 4, 5)), T((4, 2, 3)), T((4,))), dict(stride=3, padding=1, output_padding=2, groups=2),
           kind=F),
    Sample(CT1, (T((2, 2, 4)), T((2, 2, 4)), T((4,))),
           dict(stride=3, padding=1, output_padding=2, groups=2, dilation=4), kind=F),
    Sample(CT1, (T((3, 6)), T((3, 2, 3))), dict(stride=2, output_padding=1), kind=F, note="unbatched"),
    Sample(CT1, (T((1, 3, 5)), T((3, 2, 3)), T((2,)), 2, 1, 1)),
    Sample(CT2, (T((1, 2, 4, 4), dtype="int64", low=-5, high=5, requires_grad=False),
                 T((2, 3, 3, 3), dtype="int64", low=-5, high=5, requires_grad=False)), kind=F, grad=False),
)

# ----- max_pool2d -----
add(
    Sample("max_pool2d", (T((2, 3, 5, 5)), 2), kind=F),
    Sample("max_pool2d", (T((3, 5, 5)), 2), kind=F, note="unbatched"),
    Sample("max_pool2d", (T((2, 3, 5, 4)), 3), dict(stride=1, padding=1), kind=F),
    Sample(
        "max_pool2d",
        (T((2, 3, 8, 7)), (3, 2)),
        dict(stride=(2, 1), padding=1, dilation=(2, 1), ceil_mode=True),
        kind=F,
    ),
    Sample("max_pool2d", (T((1, 2, 5, 5)), 2), dict(ceil_mode=True), kind=F),
    Sample("max_pool2d", (T((1, 2, 5, 5)), 2), dict(return_indices=True), kind=F),
    Sample("max_pool2d", (T((1, 2, 6, 6)), 3, 2, 1)),
    Sample("max_pool2d", (T((1, 2, 4, 4), dtype="int64", low=-5, high=5), 2), kind=F, grad=False),
    Sample(
        "max_pool2d",
        (T((1, 1, 3, 3), values=(((1.0, nan, 2.0), (nan, 0.5, 3.0), (4.0, 5.0, -1.0)),)), 2),
        dict(stride=1),
        kind=F,
        gradcheck=False,
        gradgrad=False,
        note="NaN: the last NaN in the window wins",
    ),
    Sample(
        "max_pool2d",
        (T((1, 1, 2, 2), values=(((-inf, -inf), (-inf, -inf)),), requires_grad=False), 3),
        dict(stride=1, padding=1, return_indices=True),
        kind=F,
        grad=False,
    ),
    Sample(
        "max_pool2d",
        (
            T(
                (1, 1, 4, 4),
                values=(
                    ((1.0, 1.0, 2.0, 2.0), (1.0, 1.0, 2.0, 2.0), (0.0, 3.0, 3.0, 0.0), (3.0, 0.0, 0.0, 3.0)),
                ),
            ),
            2,
        ),
        dict(return_indices=True),
        kind=F,
        gradcheck=False,
        note="ties: the first maximum",
    ),
)

# ----- avg_pool2d -----
add(
    Sample("avg_pool2d", (T((2, 3, 5, 5)), 2), kind=F),
    Sample("avg_pool2d", (T((3, 5, 5)), 2), kind=F, note="unbatched"),
    Sample("avg_pool2d", (T((2, 3, 6, 5)), 3), dict(stride=2, padding=1), kind=F),
    Sample("avg_pool2d", (T((2, 3, 6, 5)), 3), dict(stride=2, padding=1, count_include_pad=False), kind=F),
    Sample("avg_pool2d", (T((2, 3, 6, 5)), 3), dict(stride=2, padding=1, ceil_mode=True), kind=F),
    Sample(
        "avg_pool2d",
        (T((2, 3, 6, 5)), (3, 2)),
        dict(stride=2, padding=(1, 0), ceil_mode=True, count_include_pad=False),
        kind=F,
    ),
    Sample("avg_pool2d", (T((2, 3, 5, 5)), 2), dict(divisor_override=3), kind=F),
    Sample("avg_pool2d", (T((1, 1, 5, 5)), 2), dict(ceil_mode=True), kind=F),
    Sample("avg_pool2d", (T((1, 2, 4, 4), dtype="int64", low=-5, high=5), 2), kind=F, grad=False),
)

# ----- errors -----
err(
    ErrorSample(CT2, (T((1, 1, 2, 5, 5)), T((2, 3, 3, 3))), kind=F),
    ErrorSample(CT2, (T((5, 5)), T((2, 3, 3, 3))), kind=F),
    ErrorSample(CT1, (T((1, 2, 5, 5)), T((2, 3, 3))), kind=F),
    ErrorSample(CT1, (T((1, 2, 5)), T((2, 3, 3, 3))), kind=F),
    ErrorSample(CT1, (T((1, 2, 5)), T((2, 3))), kind=F),
    ErrorSample(CT2, (T((1, 2, 5, 5)), T((2, 3, 3))), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((3, 3, 3, 3))), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(groups=3), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(groups=0), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3)), T((4,))), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(stride=2, output_padding=2), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(output_padding=1), kind=F),
    ErrorSample(CT2, (T((4, 5, 5)), T((4, 3, 3, 3))), dict(stride=2, output_padding=(0, 2)), kind=F),
    ErrorSample(CT1, (T((1, 4, 5)), T((4, 3, 3))), dict(stride=2, output_padding=2), kind=F),
    ErrorSample(CT1, (T((1, 4, 5), dtype="float64"), T((4, 3, 3), dtype="float64")), dict(output_padding=1),
                kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(output_padding=-1), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(output_padding=(1, 1, 1)), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(stride=0), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(padding=-1), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(dilation=-1), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(dilation=0), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5), dtype="float64"), T((4, 3, 3, 3), dtype="float64")), dict(dilation=0),
                kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(padding=5), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5), dtype="float64"), T((4, 3, 3, 3), dtype="float64")), dict(padding=5),
                kind=F),
    ErrorSample(CT1, (T((1, 4, 5), dtype="float64"), T((4, 3, 3), dtype="float64")), dict(padding=(4,)), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5), dtype="float64"), T((4, 0, 3, 3), dtype="float64")), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3), dtype="float64")), kind=F),
    ErrorSample(CT2, (T((2, 4, 5, 5)), T((4, 3, 3, 3)), T((3,), dtype="float64")), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5), dtype="float64"), T((4, 3, 3, 3))), kind=F),
    ErrorSample(CT2, (T((2, 4, 0, 5)), T((4, 3, 3, 3))), kind=F),
    ErrorSample(CT2, (T((1, 4, 5, 5)), T((4, 3, 3, 3))), dict(padding="same"), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((3, 2, 3, 3), dtype="float64")), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5), dtype="float64"), T((3, 2, 3, 3))), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((3, 2, 3, 3)), T((3,), dtype="float64")), kind=F),
    ErrorSample("conv1d", (T((1, 2, 5)), T((3, 2, 3)), T((3,), dtype="float64")), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5), dtype="int64"), T((3, 2, 3, 3))), kind=F),
    ErrorSample("conv1d", (T((1, 2, 5, 5)), T((3, 2, 3))), kind=F),
    ErrorSample("conv2d", (T((1, 1, 2, 5, 5)), T((6, 2, 3, 3))), kind=F),
    ErrorSample("conv2d", (T((1, 4, 5, 5)), T((6, 3, 3, 3))), dict(groups=2), kind=F),
    ErrorSample("conv2d", (T((1, 4, 5, 5)), T((5, 2, 3, 3))), dict(groups=2), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((3, 2, 3, 3))), dict(groups=4), kind=F),
    ErrorSample("conv2d", (T((1, 4, 5, 5)), T((6, 3, 3, 3))), kind=F),
    ErrorSample("conv2d", (T((1, 2, 2, 2)), T((6, 2, 3, 3))), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((6, 2, 3, 3))), dict(stride=0), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((6, 2, 3, 3))), dict(padding=-1), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((6, 2, 3, 3))), dict(dilation=0), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((6, 2, 3, 3))), dict(groups=0), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((6, 2, 3, 3))), dict(padding="same", stride=2), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((6, 2, 3, 3))), dict(padding="foo"), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((6, 2, 3, 3)), T((5,))), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((3, 2, 3, 3)), T((3, 1))), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((6, 2, 3))), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((6, 2))), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((3, 2, 3, 3))), dict(stride=(1, 1, 1)), kind=F),
    ErrorSample("conv2d", (T((1, 2, 5, 5)), T((3, 2, 3))), dict(padding="same"), kind=F),
    ErrorSample("max_pool2d", (T((1, 2, 5, 5)), 3), dict(padding=2), kind=F),
    ErrorSample("max_pool2d", (T((1, 2, 9, 9)), 3), dict(padding=2, dilation=2), kind=F),
    ErrorSample("max_pool2d", (T((1, 2, 9, 9)), 3), dict(padding=-1), kind=F),
    ErrorSample("max_pool2d", (T((1, 2, 5, 5)), 0), kind=F),
    ErrorSample("max_pool2d", (T((1, 2, 2, 2)), 3), kind=F),
    ErrorSample("max_pool2d", (T((1, 1, 2, 5, 5)), 2), kind=F),
    ErrorSample("max_pool2d", (T((9, 9)), 3), kind=F),
    ErrorSample("max_pool2d", (T((1, 2, 5, 5)), 2), dict(stride=0), kind=F),
    ErrorSample("max_pool2d", (T((1, 2, 5, 5)), 2), dict(dilation=0), kind=F),
    ErrorSample("max_pool2d", (T((1, 2, 5, 5)), (2, 2, 2)), kind=F),
    ErrorSample("max_pool2d", (T((1, 2, 9, 9)), 3, (1, 1, 1)), kind=F),
    ErrorSample("max_pool2d", (T((1, 2, 9, 9)), 3, 1, (1, 1, 1)), kind=F),
    ErrorSample("max_pool2d", (T((1, 0, 9, 9)), 3), kind=F),
    ErrorSample("max_pool2d", (T((1, 2, 4, 4), dtype="bool"), 2), kind=F),
    ErrorSample("avg_pool2d", (T((1, 2, 5, 5)), 3), dict(padding=2), kind=F),
    ErrorSample("avg_pool2d", (T((1, 2, 2, 2)), 3), kind=F),
    ErrorSample("avg_pool2d", (T((9, 9)), 3), kind=F),
    ErrorSample("avg_pool2d", (T((1, 1, 2, 9, 9)), 3), kind=F),
    ErrorSample("avg_pool2d", (T((1, 2, 9, 9)), 3), dict(divisor_override=0), kind=F),
    ErrorSample("avg_pool2d", (T((1, 2, 9, 9)), 0), kind=F),
    ErrorSample("avg_pool2d", (T((1, 2, 9, 9)), (3, 3, 3)), kind=F),
    ErrorSample("avg_pool2d", (T((1, 2, 9, 9)), 3, (1, 1, 1)), kind=F),
    ErrorSample("avg_pool2d", (T((1, 2, 4, 4), dtype="bool"), 2), kind=F),
)
