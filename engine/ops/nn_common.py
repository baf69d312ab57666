"""torch.nn.functional's shared pieces: argument helpers, cost-rule builders, and the small private entries
(mul.Scalar_nn, masked_fill.Scalar_nn, clamp_min.nn, xlogy, ...) that the family's decompositions record."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.autograd import forward_ad as FW
from engine.autograd import grad_mode
from engine.errors import (
    TorchNotImplementedError,
    TorchRuntimeError,
)
from engine.ops import pointwise as P
from engine.ops import rules as C
from engine.ops.jvp import pointwise, tmap, tsum
from engine.ops.registry import defop
from engine.tensor import Tensor

_word = D.scalar_type_name


def _need_float(a, kernel):
    """A floating-only CPU kernel: torch's NotImplementedError for integer and bool inputs."""
    if a.dtype.kind != "f":
        raise TorchNotImplementedError(f'"{kernel}" not implemented for \'{_word(a)}\'')


def _cfmt(x) -> str:
    """A double as C++'s ostream prints it in torch's messages (1.5, 2, 1e-05)."""
    return f"{float(x):g}"


def _scalar(x, dtype):
    """A Python number as a 0-d value of dtype (the scalar_t cast torch's kernels make)."""
    return B.xp.asarray(x).astype(dtype)


def _const(arr) -> Tensor:
    return Tensor._make(arr)


def _errstate():
    return np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore")


def _check_no_requires_grad(t, name, fn):
    """VariableType's check_no_requires_grad for arguments torch does not differentiate."""
    if t is not None and t.requires_grad and grad_mode.enabled:
        raise TorchRuntimeError(
            f"The function '{fn}' is not differentiable with respect to argument '{name}'. This input cannot "
            "have requires_grad True."
        )


def _inplace(input, fn, inplace_op=None, *args):
    """torch's in-place variant: the result is written into `input` (a leaf that requires grad refuses).

    With autograd recording, `input` takes the new node as its grad_fn (torch's rebase_history);
    `inplace_op` is the entry torch records for the in-place overload where its name differs."""
    if input.requires_grad and grad_mode.enabled:
        if input.grad_fn is None:
            raise TorchRuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation.")
        alias = Tensor._make(input._data)
        alias._req = True
        alias.grad_fn = input.grad_fn
        alias._output_nr = input._output_nr
        alias._fw = getattr(input, "_fw", None)  # its tangent too (forward-mode AD)
        out = inplace_op(alias, *args) if inplace_op is not None else fn(alias)
        input._data = out._data
        input.grad_fn = out.grad_fn
        input._output_nr = out._output_nr
        FW.inplace_tangent(input, out)
        return input
    out = fn(input)
    if out._data.dtype != input._data.dtype:
        raise TorchRuntimeError(
            f"result type {_word(out._data)} can't be cast to the desired output type {_word(input._data)}")
    try:
        input._data[...] = out._data  # in the storage, so that views of it see the change as in torch
    except (ValueError, TypeError):
        input._data = out._data
    FW.inplace_tangent(input, out)
    return input


def _not_implemented(name):
    def f(grad):
        raise TorchRuntimeError(f"derivative for aten::{name} is not implemented")

    return f


# a tensor of an array, and an array of a tensor or array on the host (nn_more.py, nn_norm_more.py)
def _t(a):
    return Tensor._make(a)


def _np(t):
    return np.asarray(B.to_numpy(t._data if isinstance(t, Tensor) else t))


# ----- cost rules (engine/ops/rules.py): output-sized temporaries of each forward and backward -----

_TR = C.TRANSCENDENTAL


def _act(weight=1, temp=0, bwd=2, f64=0, work=0):
    """An activation of self: `temp` / `bwd` output-sized temporaries, `f64` float64 work arrays of its size,
    `work` float64 arrays of at most one erf piece (P._ERF_CHUNK elements)."""

    def rule(self):
        out = C.shape_of(self)
        n = C.numel(out)
        w = C.wide(f64 * n + work * min(n, P._ERF_CHUNK), self)
        return C.Cost(out, weight * n, int(temp * n) + w, True, int(bwd * n) + w)

    rule.tensors_only = True
    return rule


def _pointwise(temp=0, bwd=2):
    """An elementwise entry of several tensors (the backward helpers, xlogy)."""
    return C.elementwise(temp=temp, bwd=bwd)


def _stat_rule(f64, bwd):
    """native_layer_norm / native_batch_norm: float64 work arrays of the input's size; the backward's."""

    def rule(input):
        out = C.shape_of(input)
        n = C.numel(out)
        return C.Cost(out, 8 * n, C.wide(f64 * n, input), True, bwd * n)

    rule.tensors_only = True
    return rule


# ----- small private entries used by the decompositions (overload names kept apart from other families) ---


def _mul_scalar_fwd(a, other):
    return np.multiply(a, _scalar(other, a.dtype) if a.dtype.kind == "f" else other)


mul_scalar = defop("mul.Scalar_nn(Tensor self, Scalar other) -> Tensor", _mul_scalar_fwd,
                   jvp="element_wise", index=1, rule=_act(bwd=1),
                   self=lambda grad, other: grad * other)
def _div_scalar_fwd(a, other):
    return np.true_divide(a, _scalar(other, a.dtype) if a.dtype.kind == "f" else other)


def _add_scalar_fwd(a, other, alpha=1):
    return np.add(a, _scalar(other * alpha, a.dtype) if a.dtype.kind == "f" else other * alpha)


div_scalar = defop("div.Scalar_nn(Tensor self, Scalar other) -> Tensor", _div_scalar_fwd,
                   jvp="element_wise", index=1, rule=_act(bwd=1),
                   self=lambda grad, other: grad / other)
add_scalar = defop(
    "add.Scalar_nn(Tensor self, Scalar other, Scalar alpha=1) -> Tensor",
    _add_scalar_fwd, jvp="element_wise", index=1, rule=_act(bwd=1), self=lambda grad: grad,
)


def _masked_fill_fwd(a, mask, value):
    m = mask._data if isinstance(mask, Tensor) else mask
    return np.where(m, _scalar(value, a.dtype), a)


# mask is an attribute: torch's MaskedFillBackward0 has one edge (self)
masked_fill = defop("masked_fill.Scalar_nn(Tensor self, Mask mask, Scalar value) -> Tensor", _masked_fill_fwd,
                    jvp="element_wise", index=0, rule=lambda self, mask: C.elementwise(bwd=2)(self, mask),
                    self=lambda grad, mask: P.where(mask, 0.0, grad))


def _clamp_min_fwd(a, min):
    return np.maximum(a, _scalar(min, a.dtype))


clamp_min = defop("clamp_min.nn(Tensor self, Scalar min) -> Tensor", _clamp_min_fwd,
                  jvp="element_wise", index=0, rule=_act(bwd=2),
                  self=lambda grad, self, min: P.where(self >= min, grad, 0.0))


def _xlogy_fwd(x, y):
    with _errstate():
        out = np.where(x == 0, B.xp.zeros((), dtype=np.result_type(x, y)), x * np.log(y))
        return np.where(np.isnan(y), y, out).astype(np.result_type(x, y), copy=False)


xlogy = defop(
    "xlogy.Tensor_nn(Tensor self, Tensor other) -> Tensor", _xlogy_fwd, promote=True, index=0,
    jvp=pointwise(lambda self_t, other_t, self, other: tsum(
        tmap(self_t, lambda t: P.where(P.logical_and(self == 0, other <= 0), 0.0, xlogy(t, other))),
        tmap(other_t, lambda t: t * self / other))),
    # log(y), x * log(y), the where, the NaN where; self's formula runs xlogy again beside a cast mask
    rule=C.elementwise(_TR, temp=4, bwd=10),
    self=lambda grad, self, other: grad * xlogy((self != 0).to(other.dtype), other),
    other=lambda grad, self, other: grad * self / other,
)
