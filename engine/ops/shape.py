"""View and shape ops: view/reshape, expand, squeeze/unsqueeze, transpose/permute, with torch's graphs."""
from __future__ import annotations

import warnings

import numpy as np

from engine import _backend as B
from engine.errors import TorchRuntimeError
from engine.ops import rules as R
from engine.ops._util import infer_size, list_str, size_arg, wrap_dim, wrap_dims
from engine.ops.jvp import batched, reshaped, shifted
from engine.ops.registry import defop
from engine.tensor import Tensor

# ----- cost rules: every entry here is a view (or a copy of the same size); the rule gives its shape -----


def _view_cost(out):
    return R.Cost(tuple(out), 0.0, 0)


def _expanded(shape, size):
    lead = len(size) - len(shape)
    return tuple(int(s) if i < lead or s != -1 else shape[i - lead] for i, s in enumerate(size))


def _squeezed(shape, dim):
    if not shape:
        return ()
    dims = set(wrap_dims(dim, len(shape)))
    return tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))


def _unsqueezed(shape, dim):
    d = wrap_dim(dim, len(shape) + 1)
    return tuple(shape[:d]) + (1,) + tuple(shape[d:])


def _transposed(shape, dim0, dim1):
    if not shape:
        return ()
    out = list(shape)
    d0, d1 = wrap_dim(dim0, len(shape)), wrap_dim(dim1, len(shape))
    out[d0], out[d1] = out[d1], out[d0]
    return tuple(out)


def _permuted(shape, dims):
    return tuple(shape[wrap_dim(d, len(shape))] for d in dims) if shape else ()

T_WARNING = (
    "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated and it will "
    "throw an error in a future release. Consider `x.mT` to transpose batches of matrices or "
    "`x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor."
)


def _view(a, size):
    shape = infer_size(size, a.size)
    try:
        return B.reshape_view(a, shape)
    except ValueError:
        raise TorchRuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one dimension spans "
            "across two contiguous subspaces). Use .reshape(...) instead."
        ) from None


view_op = defop("view(Tensor(a) self, SymInt[] size) -> Tensor(a)", _view,
                rule=lambda self, size: _view_cost(infer_size(size, self.size)),
                jvp=reshaped(lambda self_t, result: self_t.reshape(result.shape)),
                self=lambda grad, self_shape: grad.reshape(self_shape))
unsafe_view = defop("_unsafe_view(Tensor self, SymInt[] size) -> Tensor",
                    lambda a, size: np.reshape(a, infer_size(size, a.size)),
                    rule=lambda self, size: _view_cost(infer_size(size, self.size)),
                    jvp=reshaped(lambda self_t, result: self_t.reshape(result.shape)),
                    self=lambda grad, self_shape: grad.reshape(self_shape))


def _expand(a, size, implicit=False):
    size = tuple(int(s) for s in size)
    if len(size) < a.ndim:
        raise TorchRuntimeError(
            f"expand({_type_name(a)}{{{list_str(a.shape)}}}, size={list_str(size)}): the number of sizes "
            f"provided ({len(size)}) must be greater or equal to the number of dimensions in the tensor "
            f"({a.ndim})"
        )
    lead = len(size) - a.ndim
    out = []
    for i, s in enumerate(size):
        if i < lead:
            if s < 0:
                raise TorchRuntimeError(
                    f"The expanded size of the tensor ({s}) isn't allowed in a leading, non-existing dimension {i}"
                )
            out.append(s)
            continue
        cur = a.shape[i - lead]
        if s == -1:
            out.append(cur)
        elif cur == 1 or cur == s:
            out.append(s)
        else:
            raise TorchRuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at non-singleton "
                f"dimension {i}.  Target sizes: {list_str(size)}.  Tensor sizes: {list_str(a.shape)}"
            )
    return np.broadcast_to(a, tuple(out))


def _type_name(a):
    return {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor", "float16": "torch.HalfTensor",
            "int64": "torch.LongTensor", "int32": "torch.IntTensor", "bool": "torch.BoolTensor"}.get(
        a.dtype.name, "torch.Tensor")


# the output is a view; its elements are charged all the same (what it weighs once anything reads it); its
# backward sums the gradient back in torch's order (reduction_common._TORCH_SUM: three gradient-sized arrays at most)
expand_op = defop("expand(Tensor(a) self, SymInt[] size, *, bool implicit=False) -> Tensor(a)", _expand,
                  rule=lambda self, size: R.Cost(_expanded(self.shape, size), 0.0, 0, True,
                                                 3 * R.numel(_expanded(self.shape, size))),
                  # batched: the tangent with singleton dims up to the output's rank (expanded as it is conformed)
                  jvp=batched("linear", lambda op, vals, tangents, out, bsz: tangents[0].reshape(
                      (bsz,) + (1,) * (out.ndim + 1 - tangents[0].ndim) + tuple(tangents[0].shape[1:]))),
                  self=lambda grad, self_shape: _sum_to(grad, self_shape))


def _sum_to(g, shape):
    from engine.ops.reduction import sum_to_shape  # noqa: PLC0415

    return sum_to_shape(g, shape)


def _squeeze_all(a):
    return np.squeeze(a) if a.ndim else a


def _squeeze_dims(a, dim):
    dims = wrap_dims(dim, a.ndim) if a.ndim else ()
    dims = tuple(d for d in dims if a.shape[d] == 1)
    return np.squeeze(a, axis=dims) if dims else a


squeeze_op = defop("squeeze(Tensor(a) self) -> Tensor(a)", _squeeze_all,
                   rule=lambda self: _view_cost(s for s in self.shape if s != 1), jvp=reshaped("linear"),
                   self=lambda grad, self_shape: grad.reshape(self_shape))
squeeze_dim = defop("squeeze.dim(Tensor(a) self, int dim) -> Tensor(a)", _squeeze_dims,
                    rule=lambda self, dim: _view_cost(_squeezed(self.shape, dim)), jvp=reshaped("linear"),
                    self=lambda grad, self_shape: grad.reshape(self_shape))
squeeze_dims = defop("squeeze.dims(Tensor(a) self, int[] dim) -> Tensor(a)", _squeeze_dims,
                     rule=lambda self, dim: _view_cost(_squeezed(self.shape, dim)), jvp=reshaped("linear"),
                     self=lambda grad, self_shape: grad.reshape(self_shape))
# torch counts the in-place overloads too: squeeze_.dim is SqueezeBackward4 (matmul's 1-D @ 2-D).
squeeze_inplace_dim = defop("squeeze_.dim(Tensor(a!) self, int dim) -> Tensor(a!)", _squeeze_dims, index=4,
                            rule=lambda self, dim: _view_cost(_squeezed(self.shape, dim)),
                            jvp=reshaped("linear"),
                            self=lambda grad, self_shape: grad.reshape(self_shape))


def _unsqueeze(a, dim):
    return np.expand_dims(a, wrap_dim(dim, a.ndim + 1))


unsqueeze_op = defop("unsqueeze(Tensor(a) self, int dim) -> Tensor(a)", _unsqueeze,
                     rule=lambda self, dim: _view_cost(_unsqueezed(self.shape, dim)), jvp=reshaped("linear"),
                     self=lambda grad, dim: grad.squeeze(dim))


def _transpose(a, dim0, dim1):
    if a.ndim == 0:
        wrap_dim(dim0, 0)
        wrap_dim(dim1, 0)
        return a
    return np.swapaxes(a, wrap_dim(dim0, a.ndim), wrap_dim(dim1, a.ndim))


transpose_op = defop("transpose.int(Tensor(a) self, int dim0, int dim1) -> Tensor(a)", _transpose,
                     rule=lambda self, dim0, dim1: _view_cost(_transposed(self.shape, dim0, dim1)),
                     jvp=shifted("linear", "dim0", "dim1"),
                     self=lambda grad, dim0, dim1: grad.transpose(dim0, dim1))


def _t(a):
    if a.ndim > 2:
        raise TorchRuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a.ndim}D")
    return a.T


t_op = defop("t(Tensor(a) self) -> Tensor(a)", _t, vjp={"self": lambda grad: _t(grad)},
             rule=lambda self: _view_cost(self.shape[::-1]),
             jvp=batched("linear", lambda op, vals, tangents, out, bsz: tangents[0].transpose(1, 2)
                         if tangents[0].ndim == 3 else tangents[0]),
             self=lambda grad: grad.t())


def _permute(a, dims):
    dims = tuple(dims)
    if len(dims) != a.ndim:
        raise TorchRuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the "
            f"desired ordering of dimensions i.e. input.dim() = {a.ndim} is not equal to len(dims) = {len(dims)}"
        )
    w = [wrap_dim(d, a.ndim) for d in dims]
    if len(set(w)) != len(w):
        raise TorchRuntimeError("permute(): duplicate dims are not allowed.")
    return np.transpose(a, w) if a.ndim else a


permute_op = defop("permute(Tensor(a) self, int[] dims) -> Tensor(a)", _permute,
                   rule=lambda self, dims: _view_cost(_permuted(self.shape, dims)),
                   jvp=batched("linear", lambda op, vals, tangents, out, bsz: tangents[0].permute(
                       [0] + [wrap_dim(d, tangents[0].ndim - 1) + 1 for d in vals[1]])),
                   self=lambda grad, dims: grad.permute(_inverse_perm(dims, grad.ndim)))


def _inverse_perm(dims, n):
    w = [d % max(n, 1) for d in dims]
    inv = [0] * len(w)
    for i, d in enumerate(w):
        inv[d] = i
    return inv


# ----- Python-facing functions -----


def view(input: Tensor, *size) -> Tensor:
    return view_op(input, size=size_arg(size))


reshape_alias = defop(
    "_reshape_alias(Tensor(a) self, SymInt[] size, SymInt[] stride) -> Tensor(a)",
    lambda a, size, stride=None: B.reshape_view(a, tuple(size)),
    rule=lambda self, size: _view_cost(size),
    jvp=reshaped(lambda self_t, result: self_t.reshape(result.shape)),
    self=lambda grad, self_shape: grad.reshape(self_shape),
)


def reshape(input: Tensor, shape: list[int]) -> Tensor:
    """at::reshape: a view when contiguous, `_reshape_alias` when strides allow a view, else a copy."""
    shape = size_arg(shape) if not isinstance(shape, int) else (shape,)
    a = input._data
    new = infer_size(shape, a.size)
    if a.flags.c_contiguous:
        return view_op(input, size=new)
    try:
        B.reshape_view(a, new)
    except ValueError:
        # torch copies a tensor whose strides allow no view: CloneBackward0 under UnsafeViewBackward0
        return unsafe_view(input.clone(), size=new)
    return reshape_alias(input, size=new, stride=None)


def expand(input: Tensor, *size) -> Tensor:
    return expand_op(input, size=size_arg(size))


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand_op(input, size=tuple(other.shape))


def squeeze(input: Tensor, dim: int | list[int] | None = None) -> Tensor:
    if dim is None:
        return squeeze_op(input)
    if isinstance(dim, list | tuple):
        return squeeze_dims(input, dim=list(dim))
    return squeeze_dim(input, dim=dim)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    return unsqueeze_op(input, dim=dim)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    return transpose_op(input, dim0=dim0, dim1=dim1)


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    return t_op(input)


def permute(input: Tensor, *dims) -> Tensor:
    return permute_op(input, dims=size_arg(dims))


T_0D_WARNING = "Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases."
MT_0D_WARNING = "Tensor.mT is deprecated on 0-D tensors. This function is the identity in these cases."


def numpy_T(input: Tensor) -> Tensor:  # noqa: N802 - torch's name for the .T property
    n = input.ndim
    if n != 2:
        warnings.warn(T_0D_WARNING if n == 0 else T_WARNING, UserWarning, stacklevel=3)
    return permute_op(input, dims=tuple(range(n - 1, -1, -1)))


def mT(input: Tensor) -> Tensor:  # noqa: N802
    if input.ndim == 0:  # torch: a warning, and the tensor itself
        warnings.warn(MT_0D_WARNING, UserWarning, stacklevel=3)
        return input
    if input.ndim < 2:
        raise TorchRuntimeError(
            f"tensor.mT is only supported on matrices or batches of matrices. Got {input.ndim}-D tensor."
        )
    return transpose_op(input, dim0=-2, dim1=-1)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    n = input.ndim
    if n == 0:
        return reshape(input, (1,))
    s = wrap_dim(start_dim, n)
    e = wrap_dim(end_dim, n)
    if s > e:
        raise TorchRuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    shape = input.shape
    new = tuple(shape[:s]) + (-1 if input.numel() else int(np.prod(shape[s:e + 1])),) + tuple(shape[e + 1:])
    return reshape(input, new)


from engine.ops.registry import entry  # noqa: E402

CATALOG = [
    entry("view", view, "Same data, new shape (-1 infers one size).", view_op, function=False),
    entry("reshape", reshape, "New shape; a view where strides allow, else a copy.", view_op, unsafe_view),
    entry("expand", expand, "Broadcast size-1 dims to `size` without copying.", expand_op, function=False),
    entry("expand_as", expand_as, "expand to other's shape.", expand_op, function=False),
    entry("squeeze", squeeze, "Drop size-1 dims (all, or those in `dim`).", squeeze_op, squeeze_dim, squeeze_dims),
    entry("unsqueeze", unsqueeze, "Insert a size-1 dim at `dim`.", unsqueeze_op),
    entry("transpose", transpose, "Swap two dims.", transpose_op),
    entry("swapaxes", transpose, "Alias of transpose.", transpose_op),
    entry("swapdims", transpose, "Alias of transpose.", transpose_op),
    entry("t", t, "Transpose of a matrix (<= 2-D).", t_op),
    entry("permute", permute, "Reorder dims.", permute_op),
    entry("T", numpy_T, "Property: reverse all dims (warns unless 2-D).", permute_op, function=False),
    entry("mT", mT, "Property: transpose the last two dims.", transpose_op, function=False),
    entry("flatten", flatten, "Merge dims start_dim..end_dim.", view_op),
]
