"""Samples for engine/ops/nn_functional.py: activations, the softmax family, normalize, linear, dropout, pad,
embedding, one_hot, layer_norm, batch_norm, cosine_similarity (torch.nn.functional, and the torch.* and
Tensor.* spellings where torch has them)."""
from __future__ import annotations

from tests.engine.opinfo import ErrorSample, Sample, T

S = (3, 4)
SAMPLES: list = []
ERRORS: list = []


_FIELDS = ("grad", "gradcheck", "gradgrad", "rtol", "atol", "note")


def F(op, *args, **kwargs):
    """A torch.nn.functional sample; Sample's own fields (gradcheck=, note=, ...) are split off kwargs."""
    fields = {k: kwargs.pop(k) for k in _FIELDS if k in kwargs}
    return Sample(op, args, kwargs, kind="functional", **fields)


def FE(op, *args, **kwargs):
    return ErrorSample(op, args, kwargs, kind="functional")


def add(*items):
    SAMPLES.extend(items)


# ----- activations: plain, 0-d, 3-D, and parameters -----

for _op in ("relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus",
            "hardtanh", "hardsigmoid", "hardswish", "softsign", "logsigmoid", "tanhshrink", "hardshrink",
            "softshrink"):
    _gg = _op != "hardsigmoid"  # torch: "derivative for aten::hardsigmoid_backward is not implemented"
    add(F(_op, T(S, low=-4, high=4), gradgrad=_gg), F(_op, T(()), gradgrad=_gg),
        F(_op, T((2, 3, 2), low=-4, high=4), gradgrad=_gg))

add(
    F("leaky_relu", T(S), 0.2),
    F("leaky_relu", T(S), negative_slope=-0.5),
    F("elu", T(S), alpha=2.0),
    F("elu", T(S), 0.5),
    F("celu", T(S), alpha=2.0),
    F("celu", T(S), 0.3),
    F("gelu", T(S, low=-4, high=4), approximate="tanh"),
    F("gelu", T((), low=-4, high=4), approximate="tanh"),
    F("softplus", T(S, low=-3, high=3), beta=2.0),
    F("softplus", T(S, low=-3, high=3), 0.5, 1.0),
    F("softplus", T(S, low=-30, high=30), threshold=5.0),
    F("hardtanh", T(S, low=-3, high=3), -2.0, 0.5),
    F("hardtanh", T(S, low=-3, high=3), min_val=0.0, max_val=1.0),
    F("hardshrink", T(S), 1.0),
    F("softshrink", T(S), lambd=1.0),
    F("threshold", T(S), 0.5, -3.0),
    F("threshold", T(S), threshold=-0.5, value=2.0),
    # large magnitudes: the stable branches
    F("logsigmoid", T(S, low=-60, high=60)),
    F("silu", T(S, low=-60, high=60)),
    F("softplus", T(S, low=-60, high=60)),
    F("elu", T(S, low=-60, high=60)),
    F("mish", T(S, low=-30, high=30)),
    # torch.* and Tensor.* spellings
    Sample("relu", (T(S),)),
    Sample("relu", (T(S),), kind="method"),
    Sample("selu", (T(S),)),
    Sample("celu", (T(S), 1.5)),
    Sample("threshold", (T(S), 0.1, 20.0)),
    Sample("hardshrink", (T(S),)),
    Sample("hardshrink", (T(S), 0.3), kind="method"),
    # integer inputs where torch allows them
    F("relu", T(S, dtype="int64", low=-3, high=3)),
    F("relu6", T(S, dtype="int64", low=-3, high=9)),
    F("hardtanh", T(S, dtype="int64", low=-3, high=3)),
    F("softsign", T(S, dtype="int64", low=-3, high=3)),
    F("threshold", T(S, dtype="int64", low=-3, high=3), 1, 7),
)

# kinks (exact boundary values): torch's one-sided choices, no gradcheck
add(
    F("relu", T(values=[-1.0, 0.0, 2.0]), gradcheck=False),
    F("relu6", T(values=[-1.0, 0.0, 3.0, 6.0, 7.0]), gradcheck=False),
    F("hardtanh", T(values=[-2.0, -1.0, 0.0, 1.0, 2.0]), gradcheck=False),
    F("leaky_relu", T(values=[-1.0, 0.0, 2.0]), gradcheck=False),
    F("elu", T(values=[-1.0, 0.0, 2.0]), gradcheck=False),
    F("hardsigmoid", T(values=[-4.0, -3.0, 0.0, 3.0, 4.0]), gradcheck=False, gradgrad=False),
    F("hardswish", T(values=[-4.0, -3.0, 0.0, 3.0, 4.0]), gradcheck=False),
    F("threshold", T(values=[-1.0, 0.5, 2.0]), 0.5, 9.0, gradcheck=False),
    F("hardshrink", T(values=[-1.0, -0.5, 0.0, 0.5, 1.0]), gradcheck=False),
    F("softshrink", T(values=[-1.0, -0.5, 0.0, 0.5, 1.0]), gradcheck=False),
    F("softplus", T(values=[-1.0, 20.0, 25.0]), gradcheck=False),
)

# in-place variants on a non-leaf (the input is an expression of the leaf) go through "functional" with
# inplace=True on a leaf: torch refuses, as the engine must
ERRORS.extend([
    FE("relu", T(S), inplace=True),
    FE("elu", T(S), inplace=True),
    FE("leaky_relu", T(S), inplace=True),
])

# ----- softmax family -----

for _op in ("softmax", "log_softmax", "softmin"):
    add(
        F(_op, T(S), 1),
        F(_op, T(S), dim=0),
        F(_op, T(S), -1),
        F(_op, T((2, 3, 4)), dim=1),
        F(_op, T((2, 3, 4)), 2),
        F(_op, T(()), 0),
        F(_op, T((5,)), 0),
        F(_op, T(S), 1, dtype="float64"),
        F(_op, T(S, low=-50, high=50), 1),
        F(_op, T(S)),  # implicit dim (deprecated): 1 for 2-D
        F(_op, T((2, 3, 4))),  # implicit dim: 0 for 3-D
    )
add(
    F("softmax", T(S, dtype="int64", low=-3, high=3), 1, dtype="float32"),
    Sample("softmax", (T(S), 1)),
    Sample("log_softmax", (T(S), 0)),
    Sample("softmax", (T(S), 1), {"dtype": "float64"}),
    Sample("softmax", (T((2, 3, 4)), -1), kind="method"),
    Sample("log_softmax", (T((2, 3, 4)), 1), kind="method"),
    Sample("log_softmax", (T(S), 1), {"dtype": "float64"}, kind="method"),
)
ERRORS.extend([
    FE("softmax", T(S), 2),
    FE("log_softmax", T(S), -3),
    FE("softmax", T(S, dtype="int64"), 1),
    FE("softmax", T(S, dtype="int64"), 0),
    FE("log_softmax", T(S, dtype="int64"), 1),
    FE("softmin", T(S, dtype="int64"), 1),
    FE("softmax", T(S), 0, dtype="int64"),
])

# ----- normalize, cosine_similarity -----

add(
    F("normalize", T(S)),
    F("normalize", T(S), dim=0),
    F("normalize", T((2, 3, 4)), p=1.0, dim=2),
    F("normalize", T(S), 3.0),
    F("normalize", T(S), p=1.5, dim=-1),
    F("normalize", T(S), p=0.5, dim=1, gradgrad=False),
    F("normalize", T(S), p=float("inf"), dim=1),
    F("normalize", T((5,)), dim=0),
    F("normalize", T(values=[[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]), gradcheck=False, gradgrad=False),
    F("normalize", T(values=[[1e-14, -1e-14], [1.0, 2.0]]), gradcheck=False, gradgrad=False),
    F("cosine_similarity", T(S), T(S)),
    F("cosine_similarity", T(S), T(S), dim=0),
    F("cosine_similarity", T((2, 3, 4)), T((2, 3, 4)), 2),
    F("cosine_similarity", T(S), T((4,))),
    F("cosine_similarity", T((3, 1)), T((1, 4)), dim=0),
    F("cosine_similarity", T((4,)), T((4,)), dim=0),
    F("cosine_similarity", T(S), T(S), eps=0.5),
    F("cosine_similarity", T(S), T(S, requires_grad=False)),
    Sample("cosine_similarity", (T(S), T(S))),
    Sample("cosine_similarity", (T((2, 3, 4)), T((2, 3, 4)), -1)),
)
ERRORS.extend([
    FE("normalize", T(S, dtype="int64"), dim=0),
    FE("normalize", T(S), dim=3),
    FE("cosine_similarity", T(S), T((3, 5))),
    FE("cosine_similarity", T(S), T(S), dim=2),
    FE("cosine_similarity", T(S, dtype="int64"), T(S, dtype="int64")),
])

# ----- linear -----

add(
    F("linear", T(S), T((5, 4)), T((5,))),
    F("linear", T(S), T((5, 4))),
    F("linear", T((2, 3, 4)), T((5, 4)), T((5,))),
    F("linear", T((2, 3, 4)), T((5, 4))),
    F("linear", T((2, 2, 3, 4)), T((5, 4)), T((5,))),
    F("linear", T((2, 2, 3, 4)), T((5, 4))),
    F("linear", T((4,)), T((5, 4)), T((5,))),
    F("linear", T((4,)), T((5, 4))),
    F("linear", T(S), T((4,))),
    F("linear", T((4,)), T((4,))),
    F("linear", T(S), T((5, 4)), T(())),
    F("linear", T(S), T((5, 4)), T((3, 5))),
    F("linear", T((2, 3, 4)), T((5, 4)), T((3, 5))),
    F("linear", T((2, 2, 3, 4)), T((5, 4)), T(())),
    F("linear", T(S), T((5, 4), requires_grad=False), T((5,), requires_grad=False)),
    F("linear", T(S, requires_grad=False), T((5, 4)), T((5,))),
    F("linear", T(S), T((5, 4)), bias=T((5,))),
    F("linear", T((2, 3, 4)), T((5, 4)), T((1, 5))),
    F("linear", T((4,)), T((5, 4)), T((1, 5))),
)
ERRORS.extend([
    FE("linear", T(S), T((5, 3))),
    FE("linear", T(S), T((5, 3)), T((5,))),
    FE("linear", T(S), T((5, 4)), T((3,))),
    FE("linear", T(()), T((5, 4))),
    FE("linear", T(S), T((4,)), T((3,))),
    FE("linear", T((2, 3, 4)), T((5, 3)), T((5,))),
    FE("linear", T((2, 3, 4)), T((5, 3))),
    FE("linear", T(S), T((2, 5, 4))),
    FE("linear", T(S, dtype="float32"), T((5, 4), dtype="float64")),
    FE("linear", T(S, dtype="float64"), T((5, 4), dtype="float32")),
    FE("linear", T(S, dtype="float32"), T((5, 4), dtype="float32"), T((5,), dtype="float64")),
])

# ----- dropout -----

_RANDOM = "xfail[values,grad,gradcheck,gradgrad]: the mask comes from the engine's own generator, not torch's"
add(
    F("dropout", T(S), 0.0),
    F("dropout", T(S), 0.5, training=False),
    F("dropout", T(S), p=1.0),
    F("dropout", T((0, 3)), 0.5),
    F("dropout", T(S, dtype="int64"), 1.0),
    F("dropout", T(S), 0.5, note=_RANDOM),
    Sample("dropout", (T(S), 0.0, True)),
    Sample("dropout", (T(S), 0.3, False)),
    Sample("dropout", (T(S), 1.0, True)),
    Sample("dropout", (T(S), 0.25, True), note=_RANDOM),
)
ERRORS.extend([
    FE("dropout", T(S), 1.5),
    FE("dropout", T(S), -0.1),
    ErrorSample("dropout", (T(S), 1.5, True)),
    FE("dropout", T(S, dtype="int64"), 0.5),
    FE("dropout", T(S), 0.5, inplace=True),
])

# ----- pad -----

add(
    F("pad", T(S), (1, 2)),
    F("pad", T(S), [1, 1, 2, 0]),
    F("pad", T(S), (1, 2), value=3.5),
    F("pad", T(S), (1, 2), "constant", -1.0),
    F("pad", T((2, 3, 4)), (0, 1, 1, 0, 2, 2)),
    F("pad", T(S), (-1, 1)),
    F("pad", T(S), (-1, -1, 1, -1)),
    F("pad", T(S), (-1, -2)),
    F("pad", T(S), (-4, 0)),
    F("pad", T(S), (1, 0, 0, -3)),
    F("pad", T(S), ()),
    F("pad", T(()), ()),
    F("pad", T(S, dtype="int64"), (1, 1), value=2.5),
    F("pad", T(S, dtype="bool"), (1, 1)),
)
ERRORS.extend([
    FE("pad", T(S), (1,)),
    FE("pad", T(S), (1, 1, 1, 1, 1, 1)),
    FE("pad", T(S), (-3, -2)),
    FE("pad", T(S), (-5, 1)),
    FE("pad", T(S), (1, 1), mode="foo"),
    FE("pad", T(S), (1, 1), mode="reflect", value=1.0),
])

# reflect / replicate / circular (engine/ops/pad.py): 1, 2 and 3 padded dims, with and without a batch dim,
# negative pads that crop
for _mode in ("reflect", "replicate", "circular"):
    add(
        F("pad", T((2, 3, 5)), (2, 1), mode=_mode),
        F("pad", T((3, 5)), (1, 3), mode=_mode),
        F("pad", T((2, 3, 5)), (-1, 2), mode=_mode),
        F("pad", T((1, 2, 4, 5)), (1, 2, 3, 0), mode=_mode),
        F("pad", T((2, 4, 5)), (2, 2, 1, 1), mode=_mode),
        F("pad", T((1, 1, 4, 4)), (-1, 2, 2, -2), mode=_mode),
        F("pad", T((1, 2, 3, 4, 5)), (1, 2, 0, 1, 2, 1), mode=_mode),
        F("pad", T((2, 3, 4, 5)), (1, 0, 2, 1, 1, 1), mode=_mode),
        F("pad", T((0, 2, 3)), (1, 1), mode=_mode),
    )
add(F("pad", T((2, 3, 5), dtype="int64", low=-3, high=3), (2, 1), mode="reflect"))
ERRORS.extend([
    FE("pad", T((1, 1, 3)), (3, 3), mode="reflect"),
    FE("pad", T((1, 1, 3, 3)), (3, 3, 3, 3), mode="reflect"),
    FE("pad", T((1, 1, 3, 3)), (1, 1, 3, 3), mode="reflect"),
    FE("pad", T((1, 1, 3, 3, 3)), (1, 1, 1, 1, 3, 3), mode="reflect"),
    FE("pad", T((1, 1, 3)), (-2, -1), mode="reflect"),
    FE("pad", T((1, 1, 3, 3)), (-3, -1, -3, -1), mode="reflect"),
    FE("pad", T((1, 1, 3, 3, 3)), (-3, -1, -3, -1, -3, -1), mode="reflect"),
    FE("pad", T((1, 1, 3)), (-3, 0), mode="replicate"),
    FE("pad", T((1, 1, 3, 3)), (-3, 0, -3, 0), mode="replicate"),
    FE("pad", T((1, 1, 3, 3)), (-2, -2, 0, 0), mode="replicate"),
    FE("pad", T((1, 1, 3, 3, 3)), (-2, -2, -2, -2, -2, -2), mode="replicate"),
    FE("pad", T((1, 0, 3)), (1, 1), mode="reflect"),
    FE("pad", T((1, 0, 3, 3)), (1, 1, 1, 1), mode="replicate"),
    FE("pad", T((3,)), (1, 1), mode="reflect"),
    FE("pad", T((2, 2, 2, 2)), (1, 1), mode="replicate"),
    FE("pad", T((1, 1, 3)), (4, 0), mode="circular"),
    FE("pad", T((1, 1, 3)), (-2, -2), mode="circular"),
    FE("pad", T((2, 3)), (1, 1, 1, 1), mode="circular"),
    FE("pad", T(S), (1, 1), mode="circular", value=2.0),
])

# ----- embedding, one_hot -----

_IDX = dict(dtype="int64", low=0, high=6, requires_grad=False)
add(
    F("embedding", T((2, 3), **_IDX), T((6, 4))),
    F("embedding", T((5,), **_IDX), T((6, 4))),
    F("embedding", T((), **_IDX), T((6, 4))),
    # padding rows get no gradient and scale_grad_by_freq divides by counts: torch's choices, not the
    # derivative, so no gradcheck; max_norm renormalizes the weight in place on every call
    F("embedding", T(values=[[1, 2, 1], [0, 2, 5]], dtype="int64", requires_grad=False), T((6, 4)),
      padding_idx=2, gradcheck=False),
    F("embedding", T(values=[[1, 2, 1], [0, 2, 5]], dtype="int64", requires_grad=False), T((6, 4)),
      padding_idx=-1, gradcheck=False),
    F("embedding", T(values=[1, 1, 3, 1, 0], dtype="int64", requires_grad=False), T((6, 4)),
      scale_grad_by_freq=True, gradcheck=False),
    F("embedding", T(values=[1, 1, 3], dtype="int32", requires_grad=False), T((6, 4))),
    F("embedding", T(values=[[1, 3], [3, 0]], dtype="int64", requires_grad=False), T((6, 4)), max_norm=1.0,
      gradcheck=False),
    F("embedding", T(values=[[1, 3], [3, 0]], dtype="int64", requires_grad=False), T((6, 4)), max_norm=0.5,
      norm_type=1.0, gradcheck=False),
    Sample("embedding", (T((6, 4)), T((2, 3), **_IDX))),
    Sample("embedding", (T((6, 4)), T(values=[1, 2, 2], dtype="int64", requires_grad=False), 2),
           gradcheck=False),
    F("one_hot", T((5,), dtype="int64", low=0, high=4)),
    F("one_hot", T((2, 3), dtype="int64", low=0, high=4), 6),
    F("one_hot", T((), dtype="int64", low=0, high=4), num_classes=4),
    F("one_hot", T((0,), dtype="int64"), 3),
)
ERRORS.extend([
    FE("embedding", T(values=[6], dtype="int64"), T((6, 4))),
    FE("embedding", T(values=[-1], dtype="int64"), T((6, 4))),
    FE("embedding", T(values=[1.0]), T((6, 4))),
    FE("embedding", T(values=[1], dtype="int64"), T((6, 4)), padding_idx=6),
    FE("embedding", T(values=[1], dtype="int64"), T((6, 4)), padding_idx=-7),
    FE("embedding", T(values=[1], dtype="int64"), T((6,))),
    FE("one_hot", T(values=[1.0])),
    FE("one_hot", T(values=[1], dtype="int32")),
    FE("one_hot", T(values=[-1], dtype="int64")),
    FE("one_hot", T(values=[3], dtype="int64"), 2),
    FE("one_hot", T((0,), dtype="int64")),
])

# ----- layer_norm, batch_norm -----

add(
    F("layer_norm", T(S), (4,)),
    F("layer_norm", T(S), [4], T((4,)), T((4,))),
    F("layer_norm", T(S), (4,), weight=T((4,))),
    # torch's own double backward fails without weight ("Expected a proper Tensor but got None")
    F("layer_norm", T(S), (4,), bias=T((4,)), gradgrad=False),
    F("layer_norm", T((2, 3, 4)), (3, 4), T((3, 4)), T((3, 4)), eps=1e-3),
    F("layer_norm", T((2, 3, 4)), (2, 3, 4)),
    F("layer_norm", T((5,)), (5,), T((5,)), T((5,))),
    F("layer_norm", T(S), (4,), T((4,), requires_grad=False), T((4,), requires_grad=False)),
    F("layer_norm", T(S, requires_grad=False), (4,), T((4,)), T((4,))),
    Sample("layer_norm", (T(S), (4,), T((4,)), T((4,)))),
)
ERRORS.extend([
    FE("layer_norm", T(S), (5,)),
    FE("layer_norm", T(S), (3, 4), T((4,))),
    FE("layer_norm", T(S), (4,), None, T((3,))),
    FE("layer_norm", T(S), (2, 3, 4)),
    FE("layer_norm", T(S), []),
    FE("layer_norm", T(S, dtype="int64"), (4,)),
    FE("layer_norm", T(S, dtype="float32"), (4,), T((4,), dtype="float64")),
])

_RM = dict(low=-0.5, high=0.5, requires_grad=False)
_RV = dict(low=0.5, high=1.5, requires_grad=False)
add(
    F("batch_norm", T(S), None, None, training=True),
    F("batch_norm", T(S), None, None, T((4,)), T((4,)), True),
    F("batch_norm", T((2, 3, 5)), T((3,), **_RM), T((3,), **_RV), T((3,)), T((3,)), training=True,
      momentum=0.3),
    F("batch_norm", T((2, 3, 2, 2)), T((3,), **_RM), T((3,), **_RV), T((3,)), T((3,)), True, 0.1, 1e-3),
    F("batch_norm", T(S), T((4,), **_RM), T((4,), **_RV)),
    F("batch_norm", T((2, 3, 5)), T((3,), **_RM), T((3,), **_RV), T((3,)), T((3,))),
    F("batch_norm", T((2, 3, 2, 2)), T((3,), **_RM), T((3,), **_RV), weight=T((3,)), training=False),
    F("batch_norm", T(S), None, None, bias=T((4,)), training=True, gradgrad=False),  # torch's fails
    F("batch_norm", T(S, requires_grad=False), None, None, T((4,)), T((4,)), True),
    Sample("batch_norm", (T(S), T((4,)), T((4,)), T((4,), **_RM), T((4,), **_RV), True, 0.1, 1e-5, False)),
    Sample("batch_norm", (T(S), T((4,)), None, T((4,), **_RM), T((4,), **_RV), False, 0.1, 1e-5, False)),
)
ERRORS.extend([
    FE("batch_norm", T(S), None, None, training=False),
    FE("batch_norm", T((1, 4)), None, None, training=True),
    FE("batch_norm", T(S), T((3,), **_RM), T((3,), **_RV), training=True),
    FE("batch_norm", T(S), None, None, T((3,)), training=True),
    FE("batch_norm", T(S), None, None, None, T((3,)), training=True),
    FE("batch_norm", T((4,)), None, None, training=True),
    FE("batch_norm", T(S), T((4,), **_RM), None, training=False),
    FE("batch_norm", T(S), None, T((4,), **_RV), training=True),
    FE("batch_norm", T(S), None, None, training=True, eps=0.0),
    FE("batch_norm", T(S), T((4,), **_RM), T((4,), **_RV), eps=-1.0),
    FE("batch_norm", T(S, dtype="int64"), None, None, training=True),
])

# ----- dtype errors of the float-only kernels -----

for _op in ("gelu", "elu", "selu", "celu", "silu", "softplus", "leaky_relu", "hardsigmoid", "hardswish",
            "mish", "logsigmoid", "hardshrink", "softshrink"):
    ERRORS.append(FE(_op, T(S, dtype="int64")))
ERRORS.extend([
    FE("gelu", T(S), approximate="foo"),
    FE("hardtanh", T(S), 2.0, 1.0),
    FE("celu", T(S), alpha=0.0),
    FE("softshrink", T(S), -1.0),
    FE("softshrink", T(S), 1e39),
    FE("threshold", T(S, dtype="bool"), 0, 1),
    FE("linear", T((2, 3, 4)), T((5, 4)), T((2, 2, 3, 5))),
    FE("linear", T((2, 3, 4)), T((5, 4)), T((1, 1, 5))),
])
ERRORS.extend([
    FE("relu", T(S, dtype="bool")),
    FE("relu6", T(S, dtype="bool")),
    FE("hardtanh", T(S, dtype="bool")),
])
add(
    F("threshold", T(S, dtype="int64", low=-3, high=3), -1.5, 9.7),
    F("hardtanh", T(S, dtype="int64", low=-3, high=3), -1.5, 2.5),
    F("pad", T(S, dtype="int64", low=-3, high=3), (1, 1), value=-1.7),
    F("pad", T(S, dtype="bool"), (1, 1), value=2.5),
)
