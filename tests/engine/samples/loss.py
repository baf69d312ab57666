"""Samples for engine/ops/loss.py: mse/l1/smooth_l1/huber, binary_cross_entropy (+ with_logits),
cross_entropy (class indices, class probabilities, weights, ignore_index, label smoothing), nll_loss (1-D,
2-D, N-D), kl_div; every reduction, and torch's messages."""
from __future__ import annotations

from tests.engine.opinfo import ErrorSample, Sample, T

S = (3, 4)
C = 4
SAMPLES: list = []
ERRORS: list = []
REDUCTIONS = ("mean", "sum", "none")
_FIELDS = ("grad", "gradcheck", "gradgrad", "rtol", "atol", "note")


def F(op, *args, **kwargs):
    """A torch.nn.functional sample; Sample's own fields (gradcheck=, note=, ...) are split off kwargs."""
    fields = {k: kwargs.pop(k) for k in _FIELDS if k in kwargs}
    return Sample(op, args, kwargs, kind="functional", **fields)


def FE(op, *args, **kwargs):
    return ErrorSample(op, args, kwargs, kind="functional")


def add(*items):
    SAMPLES.extend(items)


def tgt(shape, high=C, low=0):
    """Class-index target."""
    return T(shape, dtype="int64", low=low, high=high, requires_grad=False)


def idx(values):
    return T(values=values, dtype="int64", requires_grad=False)


PROB = dict(low=0.05, high=0.95)

# ----- regression losses -----

for _r in REDUCTIONS:
    add(
        F("mse_loss", T(S), T(S), reduction=_r),
        F("mse_loss", T(S), T(S, requires_grad=False), reduction=_r),
        F("mse_loss", T(S), T((4,)), reduction=_r),  # broadcast (with torch's warning)
        F("l1_loss", T(S), T(S), reduction=_r),
        F("l1_loss", T((2, 3, 2)), T((3, 1)), reduction=_r),
        F("smooth_l1_loss", T(S), T(S), reduction=_r),
        F("smooth_l1_loss", T(S), T(S), reduction=_r, beta=0.5),
        F("smooth_l1_loss", T(S), T(S), reduction=_r, beta=0.0),
        F("huber_loss", T(S), T(S), reduction=_r),
        F("huber_loss", T(S), T(S), _r, 0.3),
        F("mse_loss", T(S), T(S), reduction=_r, weight=T(S, low=0.1, high=1.0)),
        F("l1_loss", T(S), T(S), reduction=_r, weight=T(S, low=0.1, high=1.0)),
        F("huber_loss", T(S), T(S), reduction=_r, weight=T(S, low=0.1, high=1.0)),
    )
add(
    F("mse_loss", T(()), T(())),
    F("mse_loss", T(S), T(S), size_average=False),
    F("mse_loss", T(S), T(S), reduce=False),
    F("mse_loss", T(S), T(S, dtype="float64")),
    F("l1_loss", T(S), T(S), False, True),
    F("smooth_l1_loss", T(S), T(S), size_average=True, reduce=True, beta=2.0),
    F("huber_loss", T(S), T((4,)), delta=2.0),
    F("l1_loss", T(S, dtype="int64", low=-3, high=3), T(S, dtype="int64", low=-3, high=3), reduction="sum"),
    F("mse_loss", T(S), T(S), reduction="elementwise_mean"),
    # exact kink points (|d| == beta / delta, d == 0)
    F("smooth_l1_loss", T(values=[0.0, 1.0, -1.0, 2.0]), T(values=[0.0, 0.0, 0.0, 0.0]), gradcheck=False),
    F("huber_loss", T(values=[0.0, 1.0, -1.0, 2.0]), T(values=[0.0, 0.0, 0.0, 0.0]), gradcheck=False),
    F("l1_loss", T(values=[0.0, 1.0, -1.0]), T(values=[0.0, 1.0, 0.0]), gradcheck=False),
)
ERRORS.extend([
    FE("mse_loss", T(S), T((5,))),
    FE("mse_loss", T(S), T(S), reduction="foo"),
    FE("mse_loss", T(S, dtype="int64"), T(S, dtype="int64")),
    FE("mse_loss", T(S), T(S), weight=T((4,))),
    FE("mse_loss", T(S), T(S), weight=T(S), reduction="foo"),
    FE("l1_loss", T(S, dtype="int64"), T(S, dtype="int64")),
    FE("l1_loss", T(S), T(S), reduction="bad"),
    FE("smooth_l1_loss", T(S), T(S), beta=-1.0),
    FE("smooth_l1_loss", T(S, dtype="int64"), T(S, dtype="int64")),
    FE("huber_loss", T(S), T(S), delta=0.0),
    FE("huber_loss", T(S), T(S), delta=-1.0),
    FE("huber_loss", T(S), T(S), reduction="bad"),
    FE("huber_loss", T(S, dtype="int64"), T(S, dtype="int64")),
    FE("huber_loss", T(S), T(S), weight=T(S), reduction="bad"),
])

# ----- binary cross entropy -----

for _r in REDUCTIONS:
    add(
        F("binary_cross_entropy", T(S, **PROB), T(S, **PROB), reduction=_r),
        F("binary_cross_entropy", T(S, **PROB), T(S, **PROB, requires_grad=False), reduction=_r),
        F("binary_cross_entropy", T(S, **PROB), T(S, **PROB), T((4,), **PROB, requires_grad=False),
          reduction=_r),
        F("binary_cross_entropy_with_logits", T(S), T(S, **PROB), reduction=_r),
        F("binary_cross_entropy_with_logits", T(S), T(S, **PROB), T((4,), **PROB, requires_grad=False),
          reduction=_r),
        F("binary_cross_entropy_with_logits", T(S), T(S, **PROB), reduction=_r,
          pos_weight=T((4,), low=0.5, high=3.0, requires_grad=False)),
        F("binary_cross_entropy_with_logits", T(S), T(S, **PROB), T(S, **PROB, requires_grad=False),
          reduction=_r, pos_weight=T((4,), low=0.5, high=3.0, requires_grad=False)),
    )
add(
    F("binary_cross_entropy", T((), **PROB), T((), **PROB)),
    F("binary_cross_entropy", T(values=[0.0, 1.0, 0.5, 1e-45]), T(values=[0.3, 0.6, 0.5, 1.0]), grad=False),
    F("binary_cross_entropy", T(S, **PROB), T(S, **PROB), size_average=False),
    F("binary_cross_entropy", T(S, **PROB), T(S, **PROB), T(S, **PROB, dtype="float64", requires_grad=False)),
    F("binary_cross_entropy_with_logits", T(S, low=-40, high=40), T(S, **PROB)),
    F("binary_cross_entropy_with_logits", T(S, low=-40, high=40), T(S, **PROB), reduction="sum",
      pos_weight=T((4,), low=0.5, high=3.0, requires_grad=False)),
    F("binary_cross_entropy_with_logits", T(S), T(S, **PROB, dtype="float64")),
    F("binary_cross_entropy_with_logits", T(S), T(S, **PROB), reduce=False),
    Sample("binary_cross_entropy_with_logits", (T(S), T(S, **PROB))),
    Sample("binary_cross_entropy_with_logits", (T(S), T(S, **PROB), None, T((4,), low=0.5, high=2.0,
                                                                              requires_grad=False), 0)),
)
ERRORS.extend([
    FE("binary_cross_entropy", T(S, **PROB), T((4,), **PROB)),
    FE("binary_cross_entropy", T(values=[0.5, 1.5]), T(values=[0.5, 0.5])),
    FE("binary_cross_entropy", T(values=[0.5, 0.5]), T(values=[0.5, 1.5])),
    FE("binary_cross_entropy", T(S, **PROB), T(S, **PROB), T((5,), **PROB)),
    FE("binary_cross_entropy", T(S, **PROB), T(S, **PROB, dtype="float64")),
    FE("binary_cross_entropy", T(S, **PROB), T(S, **PROB), T((4,), **PROB)),  # weight requires grad
    FE("binary_cross_entropy", T(S, **PROB), T(S, **PROB), T((2, 3, 4), **PROB, requires_grad=False)),
    FE("binary_cross_entropy", T(values=[1, 0], dtype="int64"), T(values=[1, 0], dtype="int64")),
    FE("binary_cross_entropy", T(S, **PROB), T(S, **PROB), reduction="bad"),
    FE("binary_cross_entropy_with_logits", T(S), T((4,), **PROB)),
    FE("binary_cross_entropy_with_logits", T(S), T(S, **PROB), pos_weight=T((5,), requires_grad=False)),
    FE("binary_cross_entropy_with_logits", T(S), T(S, **PROB), T((5,), requires_grad=False)),
    FE("binary_cross_entropy_with_logits", T(S), T(S, **PROB), T((4,))),  # weight requires grad
    FE("binary_cross_entropy_with_logits", T(S), T(S, **PROB), pos_weight=T((4,))),
    FE("binary_cross_entropy_with_logits", T(S), T(S, **PROB), T((2, 3, 4), requires_grad=False)),
    FE("binary_cross_entropy_with_logits", T(S), T(S, dtype="int64", low=0, high=2)),
    FE("binary_cross_entropy_with_logits", T(S, dtype="int64"), T(S, dtype="int64")),
])

# ----- cross_entropy, nll_loss -----

_W = dict(low=0.2, high=1.5, requires_grad=False)
for _r in REDUCTIONS:
    add(
        F("cross_entropy", T(S), tgt((3,)), reduction=_r),
        F("cross_entropy", T(S), tgt((3,)), T((C,), **_W), reduction=_r),
        F("cross_entropy", T(S), idx([0, -100, 3]), reduction=_r),
        F("cross_entropy", T(S), idx([0, 2, 3]), ignore_index=2, reduction=_r),
        F("cross_entropy", T(S), idx([0, 2, 3]), T((C,), **_W), ignore_index=2, reduction=_r),
        F("cross_entropy", T(S), tgt((3,)), reduction=_r, label_smoothing=0.1),
        F("cross_entropy", T(S), idx([1, -100, 3]), T((C,), **_W), reduction=_r, label_smoothing=0.25),
        F("cross_entropy", T((2, C, 5)), tgt((2, 5)), reduction=_r),
        F("cross_entropy", T((2, C, 3, 2)), tgt((2, 3, 2)), T((C,), **_W), reduction=_r),
        F("cross_entropy", T((2, C, 2, 2, 2)), tgt((2, 2, 2, 2)), reduction=_r, label_smoothing=0.2),
        F("cross_entropy", T((C,)), tgt(()), reduction=_r),
        F("cross_entropy", T((C,)), tgt(()), reduction=_r, label_smoothing=0.3),
        F("cross_entropy", T(S), T(S, low=0.0, high=1.0, requires_grad=False), reduction=_r),
        F("cross_entropy", T(S), T(S, low=0.0, high=1.0), reduction=_r),
        F("cross_entropy", T(S), T(S, low=0.0, high=1.0, requires_grad=False), T((C,), **_W), reduction=_r,
          label_smoothing=0.2),
        F("cross_entropy", T(S), T(S, low=0.0, high=1.0), T((C,), low=0.2, high=1.5), reduction=_r),
        F("cross_entropy", T(S), T(S, low=0.0, high=1.0), reduction=_r, label_smoothing=0.4),
        F("cross_entropy", T((2, C, 3)), T((2, C, 3), low=0.0, high=1.0), reduction=_r),
        F("nll_loss", T(S), tgt((3,)), reduction=_r),
        F("nll_loss", T(S), tgt((3,)), T((C,), **_W), reduction=_r),
        F("nll_loss", T(S), idx([0, -100, 3]), T((C,), **_W), reduction=_r),
        F("nll_loss", T(S), idx([0, 1, 3]), ignore_index=1, reduction=_r),
        F("nll_loss", T((C,)), tgt(()), reduction=_r),
        # torch's backward refuses a [1] target with a 1-D input (nll_loss_backward's size check)
        F("nll_loss", T((C,)), tgt((1,)), T((C,), **_W), reduction=_r, grad=False),
        F("nll_loss", T((2, C, 5)), tgt((2, 5)), reduction=_r),
        F("nll_loss", T((2, C, 3, 2)), tgt((2, 3, 2)), T((C,), **_W), reduction=_r),
        F("nll_loss", T((2, C, 2, 2, 2)), tgt((2, 2, 2, 2)), reduction=_r),
        F("nll_loss", T(S), T((3,), dtype="uint8", low=0, high=C, requires_grad=False), reduction=_r),
    )
add(
    F("cross_entropy", T(S), idx([-100, -100, -100]), gradcheck=False),  # nan loss
    F("cross_entropy", T(S), idx([-100, -100, -100]), label_smoothing=0.1, gradcheck=False),
    F("nll_loss", T(S), idx([-100, -100, -100]), reduction="sum"),
    F("nll_loss", T((0, C)), T((0,), dtype="int64", requires_grad=False)),
    F("nll_loss", T((0, C)), T((0,), dtype="int64", requires_grad=False), reduction="sum"),
    F("cross_entropy", T(S), tgt((3,)), size_average=False),
    F("cross_entropy", T(S), tgt((3,)), label_smoothing=1.0),
    F("cross_entropy", T(S), tgt((3,)), label_smoothing=-0.1),
    F("cross_entropy", T(S), T(S, low=0.0, high=1.0, dtype="float64")),
    F("nll_loss", T(S), tgt((3,)), reduce=False),
    F("nll_loss", T(S, low=-50, high=50), tgt((3,)), T((C,), low=0.0, high=2.0, requires_grad=False)),
    F("cross_entropy", T(S, low=-50, high=50), tgt((3,))),
)
ERRORS.extend([
    FE("cross_entropy", T(S), idx([0, 5, 1])),
    FE("cross_entropy", T(S), idx([0, -1, 1])),
    FE("cross_entropy", T(S), idx([0, 1])),
    FE("cross_entropy", T(S), T((3,), requires_grad=False)),
    FE("cross_entropy", T(S), tgt((3,)), T((3,), **_W)),
    FE("cross_entropy", T(S), tgt((3,)), label_smoothing=1.5),
    FE("cross_entropy", T(S), T(S, **PROB, requires_grad=False), label_smoothing=1.5),
    FE("cross_entropy", T(S), T(S, **PROB, requires_grad=False), ignore_index=1),
    FE("cross_entropy", T(S), T(S, **PROB, requires_grad=False), T((3,), **_W)),
    FE("cross_entropy", T(S), T((3,), dtype="int32", low=0, high=4)),
    FE("cross_entropy", T(()), tgt(())),
    FE("cross_entropy", T(S), tgt((3, 4))),
    FE("cross_entropy", T(S), tgt((3,)), T((C,), **_W, dtype="float64")),
    FE("cross_entropy", T(S), tgt((3,)), reduction="bad"),
    FE("cross_entropy", T((2, C, 5)), tgt((2, 6))),
    FE("cross_entropy", T(S), tgt((3,)), T((C,), low=0.2, high=1.5), label_smoothing=0.1),
    FE("cross_entropy", T(S), idx([0, 7, 1]), label_smoothing=0.1),
    FE("cross_entropy", T(S, dtype="int64"), tgt((3,))),
    FE("nll_loss", T(S), idx([0, 5, 1])),
    FE("nll_loss", T(S), idx([0, 1])),
    FE("nll_loss", T(()), idx(1)),
    FE("nll_loss", T(S), T((3,), requires_grad=False)),
    FE("nll_loss", T(S), tgt((3,)), T((3,), **_W)),
    FE("nll_loss", T(S), tgt((3, 2))),
    FE("nll_loss", T((C,)), idx([1, 2])),
    FE("nll_loss", T((C,)), idx(5)),
    FE("nll_loss", T(S), T((3,), dtype="int32", low=0, high=4)),
    FE("nll_loss", T(S, dtype="int64"), idx([0, 1, 2])),
    FE("nll_loss", T((2, C, 5)), tgt((2, 6))),
    FE("nll_loss", T((2, C, 5, 2)), tgt((2, 5))),
    FE("nll_loss", T((2, C, 5, 2)), tgt((2, 5, 3))),
    FE("nll_loss", T((2, C, 5, 2)), tgt((2, 5, 2)), T((3,), **_W)),
    FE("nll_loss", T((2, C, 5, 2)), T((2, 5, 2), requires_grad=False)),
    FE("nll_loss", T((2, C, 5, 2)), tgt((2, 5, 2), high=6, low=4)),
    FE("nll_loss", T((2, C, 5)), tgt((2, 5), high=6, low=4)),
    FE("nll_loss", T(S), tgt((3,)), T((C,), low=0.2, high=1.5)),  # weight requires grad
    FE("nll_loss", T((2, C, 5, 2)), tgt((2, 5, 2)), T((C,), low=0.2, high=1.5)),
    FE("nll_loss", T(S), idx([2, 1, -5]), ignore_index=7),
    FE("nll_loss", T(S), tgt((3,)), T((C,), **_W, dtype="float64")),
])

# ----- kl_div -----

for _r in ("mean", "sum", "none", "batchmean"):
    add(
        F("kl_div", T(S, low=-3, high=0), T(S, low=0.0, high=1.0), reduction=_r),
        F("kl_div", T(S, low=-3, high=0), T(S, low=-3, high=0), reduction=_r, log_target=True),
        F("kl_div", T(S, low=-3, high=0), T(S, low=0.05, high=1.0, requires_grad=False), reduction=_r),
    )
add(
    F("kl_div", T(S), T(values=[[0.0, 0.5, 1.0, 0.2]] * 3), gradcheck=False),
    F("kl_div", T(()), T((), low=0.1, high=1.0), reduction="batchmean"),
    F("kl_div", T(S), T((4,), low=0.1, high=1.0), reduction="sum"),
    F("kl_div", T(S), T(S, low=0.1, high=1.0), size_average=False),
    F("kl_div", T(S), T(S, low=0.1, high=1.0, dtype="float64")),
    Sample("kl_div", (T(S), T(S, low=0.1, high=1.0))),
    Sample("kl_div", (T(S), T(S, low=-2, high=0), 2), {"log_target": True}),
    Sample("kl_div", (T(S), T(S, low=0.1, high=1.0), 0)),
    Sample("kl_div", (T(S), T(S, low=0.1, high=1.0), 1)),
)
ERRORS.extend([
    FE("kl_div", T(S), T(S, dtype="int64", low=0, high=2)),
    FE("kl_div", T(S), T((5,))),
    FE("kl_div", T(S), T(S), reduction="bad"),
    ErrorSample("kl_div", (T(S), T(S)), {"reduction": "mean"}),
])
