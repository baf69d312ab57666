"""torch.nn.functional's family: linear, dropout, pad, embedding, one_hot, and the family's CATALOG.

The family's other jobs are modules of their own: nn_common (shared helpers, cost-rule builders, the small private
entries the decompositions record), nn_activation (activations), nn_softmax (the softmax family), nn_normalization
(layer_norm, batch_norm, normalize, cosine_similarity). This module imports them in the order their entries were
always registered, and re-exports the names other modules import from here.

Each op reproduces torch 2.13's CPU graph: ops with their own derivative in derivatives.yaml are entries
(relu -> ReluBackward0, gelu -> GeluBackward0, ...), and the Python-facing functions compose entries
exactly where torch decomposes (softsign -> DivBackward0, selu -> EluBackward0, relu6 -> HardtanhBackward0,
softmin -> SoftmaxBackward0 over NegBackward0, normalize, linear, cosine_similarity, dropout on CPU ->
MulBackward0). Backward formulas are written with the engine's own ops, so grad-of-grad works.

Tensor arguments that torch treats as non-differentiable (indices, targets, masks, running statistics)
are given a non-Tensor schema type, so that they are attributes: no edge in next_functions, as in torch.
"""
from __future__ import annotations

import math

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine.errors import (
    TorchIndexError,
    TorchNotImplementedError,
    TorchRuntimeError,
    TorchValueError,
)
from engine.ops import linalg as L
from engine.ops import pad as _pad_modes
from engine.ops import pointwise as P
from engine.ops import rules as C
from engine.ops import shape as S
from engine.ops._util import (
    broadcast_shapes,
    list_str,
    wrap_dim,  # noqa: F401 - re-exported (loss.py reads NF.wrap_dim)
)
from engine.ops.jvp import pointwise

# The family's parts: their names for CATALOG below, and re-exported for the modules that import them from here
# (engine/ops/loss.py, loss_more.py, reduction_calculus.py, reduction_cov.py, engine/autograd/batched.py)
from engine.ops.nn_activation import (  # noqa: F401
    _log_sigmoid_arr,
    celu,
    celu_op,
    elu,
    elu_op,
    gelu,
    gelu_op,
    hardshrink,
    hardshrink_op,
    hardsigmoid,
    hardsigmoid_op,
    hardswish,
    hardswish_op,
    hardtanh,
    hardtanh_op,
    leaky_relu,
    leaky_relu_op,
    log_sigmoid_op,
    logsigmoid,
    mish,
    mish_op,
    relu,
    relu6,
    relu_op,
    selu,
    silu,
    silu_op,
    softplus,
    softplus_op,
    softshrink,
    softshrink_op,
    softsign,
    tanhshrink,
    threshold,
    threshold_op,
)
from engine.ops.nn_common import (  # noqa: F401
    _cfmt,
    _check_no_requires_grad,
    _const,
    _errstate,
    _inplace,
    _need_float,
    _not_implemented,
    _scalar,
    _word,
    add_scalar,
    div_scalar,
    masked_fill,
    mul_scalar,
    xlogy,
)
from engine.ops.nn_softmax import (  # noqa: F401
    log_softmax,
    log_softmax_backward_data,
    log_softmax_op,
    softmax,
    softmax_backward_data,
    softmax_op,
    softmin,
    torch_log_softmax,
    torch_softmax,
)
from engine.ops.registry import defop
from engine.ops.scalar_fit import fill_value
from engine.tensor import Tensor

# ----- linear, dropout, pad, embedding, one_hot -----


def _addmm_checked(bias, mat1, mat2):
    """at::addmm's checks in its order and words, then the op (AddmmBackward0)."""
    if mat1.ndim != 2:
        raise TorchRuntimeError(f"mat1 must be a matrix, got {mat1.ndim}-D tensor")
    if mat2.ndim != 2:
        raise TorchRuntimeError(f"mat2 must be a matrix, got {mat2.ndim}-D tensor")
    if bias.dtype is not mat2.dtype:
        raise TorchRuntimeError(
            f"self and mat2 must have the same dtype, but got {_word(bias.dtype)} and {_word(mat2.dtype)}")
    if mat1.dtype is not mat2.dtype:
        raise TorchRuntimeError(
            f"mat1 and mat2 must have the same dtype, but got {_word(mat1.dtype)} and {_word(mat2.dtype)}")
    if mat1.shape[1] != mat2.shape[0]:
        raise TorchRuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x{mat1.shape[1]} and "
            f"{mat2.shape[0]}x{mat2.shape[1]})")
    S._expand(bias._data, (mat1.shape[0], mat2.shape[1]))  # torch's expand message for a bad bias
    return L.addmm(bias, mat1, mat2)


def _dropout_impl(input, p, train):
    if not (0 <= p <= 1):
        raise TorchRuntimeError(f"dropout probability has to be between 0 and 1, but got {_cfmt(p)}")
    if p == 0 or not train or input.numel() == 0:
        return input
    a = input._data
    if p == 1:
        return P.mul(input, _const(B.xp.zeros((), dtype=a.dtype)))
    if a.dtype.kind != "f":
        raise TorchRuntimeError(f"result type Float can't be cast to the desired output type {_word(a)}")
    from engine.ops.factory import _generator  # noqa: PLC0415

    # the uniform draws (float64), their mask and the noise tensor, before they are made
    _budget.charge(a.size, 8 + 1 + 2 * a.dtype.itemsize, 4.0 * a.size, what="dropout's noise")
    keep = _generator[0].random(a.shape) < (1.0 - p)
    noise = np.true_divide(B.xp.asarray(keep).astype(a.dtype), _scalar(1.0 - p, a.dtype))
    return P.mul(input, _const(noise))


def _narrow_len(length):
    if length < 0:
        raise TorchRuntimeError("narrow(): length must be non-negative.")


def _constant_pad_fwd(a, pad, value=0):
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise TorchRuntimeError(f"Length of pad must be even but instead it equals {len(pad)}")
    n = a.ndim
    lp = len(pad) // 2
    if n < lp:
        raise TorchRuntimeError(
            "Length of pad should be no more than twice the number of dimensions of the input. "
            f"Pad length is {len(pad)}while the input has {n}dimensions.")
    ld = n - lp
    slices = [slice(None)] * n
    cur = list(a.shape)
    offsets = [0] * n
    new_shape = list(a.shape)
    all_nonpos = True
    for i in range(ld, n):
        pi = 2 * (n - i - 1)
        lo, hi = pad[pi], pad[pi + 1]
        start, stop = 0, cur[i]
        if lo < 0:
            _narrow_len(cur[i] + lo)
            start = -lo
        elif lo:
            all_nonpos = False
        if hi < 0:
            _narrow_len(stop - start + hi)
            stop = stop + hi
        elif hi:
            all_nonpos = False
        slices[i] = slice(start, stop)
        offsets[i] = max(lo, 0)
        new_shape[i] = a.shape[i] + lo + hi
    c = a[tuple(slices)]
    if all_nonpos:
        return c.copy()
    if a.dtype.kind == "b":
        fill = bool(value)
    else:  # torch's output.fill_(value): c10's checked conversion (int8 refuses 300, float16 70000), a double into
        # float16 through float32; a one-element fill unchecked
        fill = fill_value(value, a.dtype, one=math.prod(new_shape) == 1)
    with np.errstate(over="ignore"):  # (a one-element float16 fill of 70000 is inf, unchecked)
        out = B.xp.full(tuple(new_shape), fill, dtype=a.dtype)
    out[tuple(slice(o, o + s) for o, s in zip(offsets, c.shape))] = c
    return out


def _padded(shape, pad):
    out = list(shape)
    for i in range(len(pad) // 2):
        out[len(shape) - 1 - i] += int(pad[2 * i]) + int(pad[2 * i + 1])
    return tuple(out)


constant_pad_nd = defop(
    "constant_pad_nd(Tensor self, SymInt[] pad, Scalar value=0) -> Tensor", _constant_pad_fwd, index=0,
    rule=lambda self, pad: C.Cost(_padded(self.shape, pad), C.numel(_padded(self.shape, pad))),
    jvp=pointwise(lambda self_t, pad: constant_pad_nd(self_t, pad, 0)),
    self=lambda grad, pad: constant_pad_nd(grad, [-p for p in pad], 0),
)


def _check_indices(indices, fn):
    a = indices._data if isinstance(indices, Tensor) else indices
    if a.dtype not in (np.int64, np.int32):
        raise TorchRuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, "
            f"Int; but got {S._type_name(a)} instead (while checking arguments for {fn})")
    return a


def _embedding_fwd(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    if weight.ndim != 2:
        raise TorchRuntimeError("'weight' must be 2-D")
    idx = _check_indices(indices, "embedding")
    flat = idx.reshape(-1).astype(np.int64)
    if flat.size and (flat.min() < 0 or flat.max() >= weight.shape[0]):
        raise TorchIndexError("index out of range in self")
    return weight[flat].reshape(tuple(idx.shape) + (weight.shape[1],))


def _embedding_backward_fwd(grad, indices, num_weights, padding_idx, scale_grad_by_freq):
    idx = indices._data.reshape(-1).astype(np.int64)
    d = grad.shape[-1]
    g = grad.reshape(-1, d)
    out = B.xp.zeros((int(num_weights), d), dtype=grad.dtype)
    keep = idx != padding_idx
    if scale_grad_by_freq:
        counts = np.bincount(B.to_numpy(idx), minlength=int(num_weights))
        g = g / B.xp.asarray(counts[B.to_numpy(idx)]).astype(grad.dtype)[:, None]
    B.xp.add.at(out, idx[keep], g[keep])
    return out


def _embedding_cost(weight, indices):
    m = C.numel(C.shape_of(indices))
    out = tuple(C.shape_of(indices)) + (weight.shape[1],)
    n = C.numel(out)
    bwd = C.numel(weight.shape) + _embedding_backward_temp(n, m, weight.shape[0], weight)
    # its backward adds the rows through np.add.at's general path: ADD_AT a value (redteam16 F8: 8x under)
    return C.Cost(out, n, C.wide(2 * m, weight), True, bwd, C.ADD_AT * n)


def _embedding_double(grad, indices, padding_idx):
    """torch's embedding_dense_double_backward: the rows of grad at indices, padding rows zeroed."""
    out = embedding_op(grad, indices, -1, False, False)
    if padding_idx >= 0:
        mask = _const(np.expand_dims(indices._data == padding_idx, -1))
        out = P.where(mask, 0.0, out)
    return out


def _embedding_backward_temp(grad_n, indices_n, num_weights, like):
    """The indices' int64 copy, the kept mask, the kept rows (and their scaled copy), the counts."""
    return 2 * grad_n + C.wide(4 * indices_n + num_weights, like)


embedding_dense_backward = defop(
    "embedding_dense_backward(Tensor grad_output, Index indices, SymInt num_weights, SymInt padding_idx, "
    "bool scale_grad_by_freq) -> Tensor",
    _embedding_backward_fwd, index=0,
    rule=lambda grad_output, indices, num_weights: C.Cost(
        (int(num_weights), grad_output.shape[-1]), C.ADD_AT * C.numel(grad_output.shape),
        _embedding_backward_temp(C.numel(grad_output.shape), C.numel(C.shape_of(indices)), int(num_weights),
                                 grad_output)),
    jvp="linear",
    grad_output=lambda grad, indices, padding_idx: _embedding_double(grad, indices, padding_idx),
)
embedding_op = defop(
    "embedding(Tensor weight, Index indices, SymInt padding_idx=-1, bool scale_grad_by_freq=False, "
    "bool sparse=False) -> Tensor",
    _embedding_fwd, index=0,
    rule=lambda weight, indices: _embedding_cost(weight, indices), jvp="linear",
    weight=lambda grad, weight_shape, indices, padding_idx, scale_grad_by_freq: embedding_dense_backward(
        grad, indices, weight_shape[0], padding_idx, scale_grad_by_freq),
)


def _embedding_renorm(weight, indices, max_norm, norm_type):
    """torch.embedding_renorm_ (under no_grad): rows used by indices rescaled to norm <= max_norm."""
    w = weight._data
    ind = _check_indices(indices, "embedding_renorm_")
    _budget.charge(3 * ind.size, 8, what="embedding's max_norm")  # np.unique's sorted copy and its list
    idx = np.unique(B.to_numpy(ind).reshape(-1))
    if idx.size and (idx.min() < 0 or idx.max() >= w.shape[0]):
        raise TorchIndexError("index out of range in self")
    for i in idx.tolist():
        _budget.check()
        row = w[i].astype(np.float64)
        p = float(norm_type)
        if p == math.inf:
            nrm = float(np.max(np.abs(row))) if row.size else 0.0
        elif p == 0:
            nrm = float(np.count_nonzero(row))
        else:
            nrm = float(np.sum(np.abs(row) ** p) ** (1.0 / p))
        if nrm > max_norm:
            w[i] = w[i] * _scalar(max_norm / (nrm + 1e-7), w.dtype)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias with at::linear's graph: addmm for 2-D input (and flattened N-D input)."""
    di, dw = input.ndim, weight.ndim
    if di == 0 or dw == 0:
        raise TorchRuntimeError(
            f"both arguments to linear need to be at least 1D, but they are {di}D and {dw}D")
    if bias is not None:
        if di == 2:
            return _addmm_checked(bias, input, weight.t())
        if bias.ndim == 1 or sum(1 for s in bias.shape if s != 1) == 1:  # is_bias_likely_fusable
            sizes = tuple(input.shape)
            flat = 1
            for s in sizes[:-1]:
                flat *= s
            res = _addmm_checked(bias, S.view(input, (flat, sizes[-1])), weight.t())
            return S.view(res, sizes[:-1] + (res.shape[1],))
    out = L.matmul(input, weight.t())
    if bias is not None:  # torch: output.add_(bias), in place
        full = broadcast_shapes(tuple(out.shape), tuple(bias.shape))
        if full != tuple(out.shape):
            raise TorchRuntimeError(
                f"output with shape {list_str(out.shape)} doesn't match the broadcast shape {list_str(full)}")
        out = P.add(out, bias)
    return out


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero elements with probability p (engine's seeded generator), scale the rest by 1/(1-p): on CPU
    torch records MulBackward0 (input times a constant noise tensor)."""
    if p < 0.0 or p > 1.0:
        raise TorchValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if inplace:
        if p == 0 or not training or input.numel() == 0:
            return input
        return _inplace(input, lambda t: _dropout_impl(t, p, training))
    return _dropout_impl(input, p, training)


def torch_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.dropout(input, p, train)."""
    return _dropout_impl(input, p, train)


torch_dropout.__name__ = "dropout"


def pad(input: Tensor, pad: list[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Constant padding (negative pads crop): ConstantPadNdBackward0; reflect / replicate / circular
    (engine.ops.pad): ReflectionPad2DBackward0, ReplicationPad1DBackward0, ..., CopySlices."""
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise TorchNotImplementedError(f"Unrecognised padding mode {mode}")
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise TorchRuntimeError("Padding length must be divisible by 2")
    if len(pad) > input.ndim * 2:
        raise TorchRuntimeError(
            "Padding length should be less than or equal to two times the input dimension but got padding "
            f"length {len(pad)} and input of dimension {input.ndim}")
    if mode == "constant":  # (F.pad's value is a `float`: an int is parsed as a double, so uint8 refuses -1 here,
        # where constant_pad_nd's Scalar takes it as 255)
        return constant_pad_nd(input, pad, 0.0 if value is None else float(value) if type(value) is int else value)
    if value is not None and value != 0:
        raise TorchRuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    return _pad_modes.pad_mode(input, pad, mode)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of weight at the indices in input: EmbeddingBackward0 (an edge to weight only)."""
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= weight.shape[0]:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -weight.shape[0]:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = weight.shape[0] + padding_idx
    else:
        padding_idx = -1
    if max_norm is not None:
        _embedding_renorm(weight, input, max_norm, norm_type)
    return embedding_op(weight, input, padding_idx, scale_grad_by_freq, sparse)


def torch_embedding(weight: Tensor, indices: Tensor, padding_idx: int = -1, scale_grad_by_freq: bool = False,
                    sparse: bool = False) -> Tensor:
    """torch.embedding(weight, indices, ...) (weight first, as aten's schema)."""
    return embedding_op(weight, indices, padding_idx, scale_grad_by_freq, sparse)


torch_embedding.__name__ = "embedding"


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim (no autograd)."""
    a = tensor._data
    if a.dtype != np.int64:
        raise TorchRuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if a.size == 0:
        if num_classes <= 0:
            raise TorchRuntimeError("Can not infer total number of classes from empty tensor.")
        return _const(B.xp.zeros(tuple(a.shape) + (int(num_classes),), dtype=np.int64))  # no element
    if int(a.min()) < 0:
        raise TorchRuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        num_classes = int(a.max()) + 1
    elif num_classes <= int(a.max()):
        raise TorchRuntimeError("Class values must be smaller than num_classes.")
    # the int64 output, and the bool comparison it is cast from, sized by a value of the request's tensor
    _budget.charge(a.size * int(num_classes), 9, a.size * int(num_classes), what="one_hot")
    return _const((a[..., None] == B.xp.arange(int(num_classes))).astype(np.int64))


from engine.ops.nn_normalization import (  # noqa: E402, F401 - after this module's entries: their old registration order
    batch_norm,
    batch_norm_op,
    cosine_similarity,
    layer_norm,
    layer_norm_op,
    normalize,
    torch_batch_norm,
    torch_layer_norm,
)
from engine.ops.registry import entry  # noqa: E402

_F = {"function": False, "method": False, "functional": True}
_FT = {"function": True, "method": False, "functional": True}
_FTM = {"function": True, "method": True, "functional": True}
_TM = {"function": True, "method": True, "functional": False}
_T = {"function": True, "method": False, "functional": False}

CATALOG = [
    entry("relu", relu, "max(x, 0).", relu_op, **_FTM),
    entry("relu6", relu6, "min(max(x, 0), 6) (recorded as hardtanh).", hardtanh_op, **_F),
    entry("hardtanh", hardtanh, "Clamp into [min_val, max_val].", hardtanh_op, **_F),
    entry("leaky_relu", leaky_relu, "x if x > 0 else negative_slope * x.", leaky_relu_op, **_F),
    entry("elu", elu, "x if x > 0 else alpha * (exp(x) - 1).", elu_op, **_F),
    entry("selu", selu, "scale * elu(x, alpha) with the SELU constants.", elu_op, **_FT),
    entry("celu", celu, "max(0, x) + min(0, alpha * (exp(x / alpha) - 1)).", celu_op, **_FT),
    entry("gelu", gelu, "x * Phi(x); approximate='tanh' for the tanh form.", gelu_op, **_F),
    entry("silu", silu, "x * sigmoid(x).", silu_op, **_F),
    entry("mish", mish, "x * tanh(softplus(x)).", mish_op, **_F),
    entry("softplus", softplus, "log(1 + exp(beta * x)) / beta, linear above threshold.", softplus_op, **_F),
    entry("hardsigmoid", hardsigmoid, "Piecewise-linear sigmoid: clamp(x / 6 + 1 / 2, 0, 1).", hardsigmoid_op,
          **_F),
    entry("hardswish", hardswish, "x * hardsigmoid(x).", hardswish_op, **_F),
    entry("softsign", softsign, "x / (1 + |x|).", grad_fns=("DivBackward0",), **_F),
    entry("tanhshrink", tanhshrink, "x - tanh(x).", grad_fns=("SubBackward0",), **_F),
    entry("logsigmoid", logsigmoid, "log(sigmoid(x)), computed stably.", log_sigmoid_op, **_F),
    entry("threshold", threshold, "x if x > threshold else value.", threshold_op, **_FT),
    entry("hardshrink", hardshrink, "x where |x| > lambd, else 0.", hardshrink_op, **_FTM),
    entry("softshrink", softshrink, "x - sign(x) * lambd where |x| > lambd, else 0.", softshrink_op, **_F),
    entry("softmax", softmax, "exp(x) / sum(exp(x)) along dim (dtype: cast first).", softmax_op, **_F),
    entry("softmax", torch_softmax, "exp(x) / sum(exp(x)) along dim.", softmax_op, **_TM),
    entry("log_softmax", log_softmax, "x - logsumexp(x) along dim (dtype: cast first).", log_softmax_op,
          **_F),
    entry("log_softmax", torch_log_softmax, "x - logsumexp(x) along dim.", log_softmax_op, **_TM),
    entry("softmin", softmin, "softmax(-x) along dim.", softmax_op, **_F),
    entry("normalize", normalize, "x / max(||x||_p along dim, eps).", grad_fns=("DivBackward0",), **_F),
    entry("linear", linear, "x @ weight.T + bias (addmm for 2-D input).", L.addmm_op, L.mm_op, **_F),
    entry("dropout", dropout, "Zero with probability p, scale by 1 / (1 - p) (training only; seeded).",
          grad_fns=("MulBackward0",), **_F),
    entry("dropout", torch_dropout, "torch.dropout(input, p, train).", grad_fns=("MulBackward0",), **_T),
    entry("pad", pad, "Constant padding; negative pads crop.", constant_pad_nd, **_F),
    entry("embedding", embedding, "Rows of weight at the indices in input.", embedding_op, **_F),
    entry("embedding", torch_embedding, "torch.embedding(weight, indices, ...).", embedding_op, **_T),
    entry("one_hot", one_hot, "int64 one-hot encoding (num_classes=-1 infers).", **_F),
    entry("layer_norm", layer_norm, "Normalize over the trailing normalized_shape dims.", layer_norm_op,
          **_F),
    entry("layer_norm", torch_layer_norm, "torch.layer_norm.", layer_norm_op, **_T),
    entry("batch_norm", batch_norm, "Per-channel normalization (batch stats when training; running stats).",
          batch_norm_op, **_F),
    entry("batch_norm", torch_batch_norm, "torch.batch_norm (aten's argument order).", batch_norm_op, **_T),
    entry("cosine_similarity", cosine_similarity, "Cosine of the angle between x1 and x2 along dim.",
          grad_fns=("SumBackward1",), **_FT),
]
