"""Random ops, drawn from the engine's seeded generator (engine.manual_seed), with torch's graphs: bernoulli,
normal, dropout1d / dropout2d / dropout3d (feature dropout), alpha_dropout / feature_alpha_dropout, rrelu
(rrelu_with_noise), and native_dropout_backward. The values are the engine's own draws (not torch's stream);
shapes, dtypes, graphs, gradients given the draw, and errors are torch's."""
from __future__ import annotations

import math
import warnings

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.errors import TorchRuntimeError, TorchValueError
from engine.ops import pointwise as P
from engine.ops import shape as S
from engine.ops.nn_activation import _leaky_fwd
from engine.ops.registry import defop, entry
from engine.ops.rules import Cost, elementwise, numel
from engine.tensor import Tensor


def _gen():
    from engine.ops.factory import _generator  # noqa: PLC0415

    return _generator[0]


def _t(a):
    return Tensor._make(a)


def _zeros(grad):
    return _t(B.xp.zeros_like(grad._data))


# ----- bernoulli, normal -----


def _bernoulli(a, generator=None):
    x = np.asarray(B.to_numpy(a))
    if x.size and not ((x >= 0) & (x <= 1)).all():
        raise TorchRuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
                                "message be improved?  If so, please report an enhancement request to PyTorch.)")
    return B.xp.asarray((_gen().random(x.shape) < x).astype(a.dtype))


bernoulli_op = defop("bernoulli(Tensor self, *, Generator? generator=None) -> Tensor", _bernoulli,
                     self=lambda grad: _zeros(grad), rule=elementwise(2))


def bernoulli(input: Tensor, p: float | None = None, *, generator=None) -> Tensor:
    if p is not None:  # bernoulli.p: no derivative in torch (a NotImplemented node)
        if not 0 <= p <= 1:
            raise TorchRuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        n = numel(input.shape)  # its float64 draw, the bool mask and the output (redteam14 F6: charged nothing)
        bud = _budget.current()
        if bud is not None:
            bud.charge(n * (9 + input._data.dtype.itemsize), 10.0 * n, "bernoulli", n)
        out = _t(B.xp.asarray((_gen().random(tuple(input.shape)) < p).astype(input._data.dtype)))
        if bud is not None:
            bud.track(out._data)
        return P._not_implemented("bernoulli.p", out, input)
    return bernoulli_op(input, generator)


def _std_check(std):
    s = np.asarray(B.to_numpy(std)) if hasattr(std, "shape") else np.asarray(std)
    if s.ndim == 0 and not hasattr(std, "shape"):
        if s < 0:
            raise TorchRuntimeError(f"normal expects std >= 0.0, but found std {_num(float(s))}")
    elif s.size and (s < 0).any():
        raise TorchRuntimeError("normal expects all elements of std >= 0.0")


def _num(v):
    return str(int(v)) if float(v).is_integer() else repr(v)


def _normal(mean, std, generator=None):
    _std_check(std)
    m = mean if hasattr(mean, "shape") else np.asarray(mean)
    s = std if hasattr(std, "shape") else np.asarray(std)
    shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    dt = (m if hasattr(mean, "shape") else s).dtype
    return B.xp.asarray((np.asarray(B.to_numpy(m)) + np.asarray(B.to_numpy(s)) * _gen().standard_normal(shape))
                        .astype(dt))


def _normal_rule(**vals):
    shapes = [tuple(v.shape) for v in vals.values() if hasattr(v, "shape")]
    out = np.broadcast_shapes(*shapes) if shapes else ()
    return Cost(tuple(out), 10 * numel(out))


normal_tensor_float = defop("normal.Tensor_float(Tensor mean, float std=1, *, Generator? generator=None) -> Tensor",
                            _normal, index=1, mean=lambda grad: _zeros(grad),
                            rule=lambda mean: Cost(tuple(mean.shape), 10 * numel(mean.shape)))
normal_float_tensor = defop("normal.float_Tensor(float mean, Tensor std, *, Generator? generator=None) -> Tensor",
                            _normal, index=2, std=lambda grad: _zeros(grad),
                            rule=lambda std: Cost(tuple(std.shape), 10 * numel(std.shape)))
normal_tensor_tensor = defop("normal.Tensor_Tensor(Tensor mean, Tensor std, *, Generator? generator=None) -> Tensor",
                             _normal, index=3, mean=lambda grad: _zeros(grad), std=lambda grad: _zeros(grad),
                             rule=elementwise(10))


def normal(mean: Tensor | float, std: Tensor | float = 1.0, size: list[int] | None = None, *,
           generator=None, dtype=None, layout=None, device=None) -> Tensor:
    if isinstance(mean, Tensor) and isinstance(std, Tensor):
        return normal_tensor_tensor(mean, std, generator)
    if isinstance(mean, Tensor):
        return normal_tensor_float(mean, float(std), generator)
    if isinstance(std, Tensor):
        return normal_float_tensor(float(mean), std, generator)
    from engine.ops.factory import randn  # noqa: PLC0415

    if size is None:
        raise TorchRuntimeError("normal() with two numbers needs a size")
    _std_check(float(std))
    return P.add(P.mul(randn(*size, dtype=dtype), float(std)), float(mean))


# ----- feature dropout, alpha dropout -----

_ALPHA = 1.7580993408473766


def _feature_noise_shape(a):
    if a.ndim < 2:
        raise TorchRuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return tuple(a.shape[:2]) + (1,) * (a.ndim - 2)


def _dropout_impl(input, p, train, feature, alpha):
    if not 0 <= p <= 1:
        raise TorchRuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0 or not train or input.numel() == 0:
        return input
    a = input._data
    if p == 1:
        return P.mul(input, _t(B.xp.zeros((), dtype=a.dtype)))
    shape = _feature_noise_shape(a) if feature else tuple(a.shape)
    noise = (_gen().random(shape) < (1 - p)).astype(a.dtype)
    if alpha:
        scale = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
        b = (noise - 1) * (_ALPHA * scale) + _ALPHA * scale * p
        return P.add(P.mul(input, _t(B.xp.asarray(noise * scale))), _t(B.xp.asarray(b.astype(a.dtype))))
    return P.mul(input, _t(B.xp.asarray((noise / (1 - p)).astype(a.dtype))))


def _p_check(p):
    if p < 0.0 or p > 1.0:
        raise TorchValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    _p_check(p)
    if input.ndim not in (2, 3):
        raise TorchRuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                                "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, "
                                "a channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    batched = input.ndim == 3
    x = input if batched else S.unsqueeze(input, 0)
    out = _dropout_impl(x, p, training, True, False)
    return out if batched else S.squeeze(out, 0)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    _p_check(p)
    nd = input.ndim
    if nd not in (3, 4):
        warnings.warn(f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use dropout "
                      "instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial "
                      "dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
                      UserWarning, stacklevel=2)
    if nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior "
                      "is desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior "
                      "will change in a future release to interpret the input as one without a batch dimension, i.e. "
                      "shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using "
                      "dropout1d instead.", UserWarning, stacklevel=2)
    return _dropout_impl(input, p, training, True, False)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    _p_check(p)
    nd = input.ndim
    if nd not in (4, 5):
        warnings.warn(f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and will result in an "
                      "error in a future release. To retain the behavior and silence this warning, please use dropout "
                      "instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 spatial "
                      "dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).",
                      UserWarning, stacklevel=2)
    batched = nd == 5
    x = input if batched else S.unsqueeze(input, 0)
    out = _dropout_impl(x, p, training, True, False)
    return out if batched else S.squeeze(out, 0)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    _p_check(p)
    return _dropout_impl(input, p, training, False, True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    _p_check(p)
    return _dropout_impl(input, p, training, True, True)


# ----- rrelu (rrelu_with_noise), native_dropout_backward -----


def _rrelu_fwd(a, noise, lower, upper, training=False, generator=None):
    if lower > upper:
        raise TorchRuntimeError("Lower bound should be less than or equal to the upper bound")
    if training:
        r = _gen().uniform(lower, upper, a.shape).astype(a.dtype)
        slope = np.where(a >= 0, np.asarray(1, dtype=a.dtype), r)
        noise._data = B.xp.asarray(slope)  # the noise buffer torch fills in place
        return (a * slope).astype(a.dtype)
    # torch's eval rrelu is leaky_relu at the mean slope, (lower + upper) / 2 in double: that kernel's `a > 0 ? a
    # : a * slope` (0.0 times a negative slope is -0.0), float16 computed in float with the slope `.to<float>()`
    return _leaky_fwd(a, (lower + upper) / 2)


def _rrelu_backward(grad, self, noise, lower, upper, training):
    if training and upper - lower > 1e-6:
        return grad * _t(noise._data)
    return P.where(self > 0, grad, grad * ((lower + upper) / 2))  # leaky_relu_backward at the mean slope


rrelu_op = defop("rrelu_with_noise(Tensor self, NoiseTensor noise, Scalar lower=0.125, "
                 "Scalar upper=0.3333333333333333, bool training=False, Generator? generator=None) -> Tensor",
                 _rrelu_fwd, self=_rrelu_backward,
                 rule=lambda self: Cost(tuple(self.shape), 3 * numel(self.shape), numel(self.shape)))


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    noise = _t(B.xp.zeros_like(input._data))
    return rrelu_op(input, noise, lower, upper, training, None)


native_dropout_backward_op = defop(
    "native_dropout_backward(Tensor grad_output, Tensor mask, float scale) -> Tensor",
    lambda g, mask, scale: (g * (B.xp.asarray(mask) * np.asarray(scale, dtype=g.dtype))).astype(g.dtype),
    grad_output=lambda grad, mask, scale: native_dropout_backward_op(grad, mask, scale),
    mask=lambda grad: None,  # non-differentiable, but an edge of torch's node all the same
    rule=lambda grad_output: Cost(tuple(grad_output.shape), 2 * numel(grad_output.shape)))


def native_dropout_backward(grad_output: Tensor, mask: Tensor, scale: float) -> Tensor:
    return native_dropout_backward_op(grad_output, mask, scale)


_F = {"function": False, "method": False, "functional": True}
CATALOG = [
    entry("bernoulli", bernoulli, "0/1 draws with probability input (or p).", bernoulli_op),
    entry("normal", normal, "Normal draws with the given mean and std (tensors or numbers).", normal_tensor_float,
          normal_float_tensor, normal_tensor_tensor, method=False),
    entry("dropout1d", dropout1d, "Channel-wise dropout of (N, C, L) or (C, L) inputs.", grad_fns=("MulBackward0",),
          **_F),
    entry("dropout2d", dropout2d, "Channel-wise dropout (whole feature maps).", grad_fns=("MulBackward0",), **_F),
    entry("dropout3d", dropout3d, "Channel-wise dropout of 3-D feature maps.", grad_fns=("MulBackward0",), **_F),
    entry("alpha_dropout", alpha_dropout, "Dropout that keeps SELU's mean and variance.",
          grad_fns=("AddBackward0", "MulBackward0"), **_F),
    entry("feature_alpha_dropout", feature_alpha_dropout, "Channel-wise alpha dropout.",
          grad_fns=("AddBackward0", "MulBackward0"), **_F),
    entry("rrelu", rrelu, "Randomized leaky ReLU (a random slope below 0 when training).", rrelu_op, **_F),
    entry("native_dropout_backward", native_dropout_backward, "aten::native_dropout_backward: grad * mask * scale.",
          native_dropout_backward_op, method=False),
]
