"""Rearranging one tensor: narrow, repeat / tile, flip, roll, unflatten, tril / triu, diag, diagonal, with torch's
graphs and messages."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.errors import TorchIndexError, TorchRuntimeError, TorchTypeError, TorchValueError
from engine.ops import rules as R
from engine.ops._util import list_str, wrap_dim, wrap_dims
from engine.ops.indexing import slice_op
from engine.ops.join_common import _ints, _vararg_ints, _zeros
from engine.ops.jvp import batched, pointwise, shifted
from engine.ops.registry import defop
from engine.ops.shape import view
from engine.tensor import Tensor

# ----- narrow -----


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    if input.ndim == 0:
        raise TorchRuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if isinstance(start, Tensor) and (start.ndim != 0 or start._data.dtype.kind not in "iu"):
        raise TorchRuntimeError("start must be an 0-dim integral Tensor.")
    start, length = int(start), int(length)
    if length < 0:
        raise TorchRuntimeError("narrow(): length must be non-negative.")
    d = wrap_dim(dim, input.ndim)
    size = input.shape[d]
    if not -size <= start <= size:
        raise TorchIndexError(
            f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    if start < 0:
        start += size
    if start > size - length:
        raise TorchRuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return slice_op(input, d, start, start + length, 1)


# ----- repeat / tile -----


def _repeat_forward(a, repeats):
    repeats = tuple(int(r) for r in repeats)
    if len(repeats) < a.ndim:
        raise TorchRuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    padded = (1,) * (len(repeats) - a.ndim) + tuple(a.shape)
    target = [p * r for p, r in zip(padded, repeats)]
    for t in target:
        if t < 0:
            raise TorchRuntimeError(
                f"Trying to create tensor with negative dimension {t}: {list_str(target)}")
    if 0 in target:  # np.tile would repeat along the other dims first, for nothing
        return B.xp.empty(tuple(target), dtype=a.dtype)
    return B.xp.tile(a.reshape(padded), repeats)


def _repeat_backward(grad, repeats, self_shape):
    repeats = tuple(int(r) for r in repeats)
    if 0 in repeats:
        return _zeros(self_shape, grad._data.dtype)
    from engine.ops.reduction import sum_dim  # noqa: PLC0415
    from engine.ops.shape import reshape  # noqa: PLC0415

    lead = grad.ndim - len(self_shape)
    for _ in range(lead):
        grad = sum_dim(grad, dim=0, keepdim=False)
    grad_size = []
    sum_dims = []
    for k, s in enumerate(self_shape):
        r = repeats[k + lead]
        if r != 1:
            grad_size.append(r)
            sum_dims.append(len(grad_size) - 1)
        grad_size.append(s)
    if sum_dims:
        grad = reshape(grad, tuple(grad_size))
        grad = sum_dim(grad, dim=sum_dims, keepdim=False)
    return grad


def _repeat_rule(self, repeats):
    padded = (1,) * (len(repeats) - self.ndim) + tuple(self.shape)
    out = tuple(p * int(r) for p, r in zip(padded, repeats))
    n = R.numel(out)
    return R.Cost(out, n, n, True, 2 * n)  # np.tile's repeat along each axis in turn; the backward's sums


repeat_op = defop("repeat(Tensor self, SymInt[] repeats) -> Tensor", _repeat_forward, rule=_repeat_rule,
                  jvp=batched("linear", lambda op, vals, tangents, out, bsz: repeat_op(
                      tangents[0].reshape((bsz,) + (1,) * (len(vals[1]) - vals[0].ndim) + tuple(vals[0].shape)),
                      (1, *vals[1]))),
                  self=lambda grad, repeats, self_shape: _repeat_backward(grad, repeats, self_shape))


def repeat(input: Tensor, repeats: list[int] = None, *more: int) -> Tensor:
    if repeats is None:
        raise TorchTypeError('repeat() missing 1 required positional arguments: "repeats"')
    return repeat_op(input, _vararg_ints(repeats, more, "repeats"))


def tile(input: Tensor, dims: list[int] = None, *more: int) -> Tensor:
    if dims is None:
        raise TorchTypeError('tile() missing 1 required positional arguments: "dims"')
    dims = _vararg_ints(dims, more, "dims")
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat_op(input, dims)


# ----- flip / roll -----


def _flip(a, dims):
    w = wrap_dims(list(dims), a.ndim)
    if a.ndim == 0 or not w:
        return a.copy()
    return B.xp.flip(a, axis=w).copy()


flip_op = defop("flip(Tensor self, int[] dims) -> Tensor", _flip, rule=R.like(), jvp=shifted("linear", "dims"),
                self=lambda grad, dims: flip_op(grad, dims))


def flip(input: Tensor, dims: list[int] = None, *more: int) -> Tensor:
    if dims is None:
        raise TorchTypeError('flip() missing 1 required positional arguments: "dims"')
    return flip_op(input, list(_vararg_ints(dims, more, "dims")))


# below SymInt's smallest inline int (-2**62) a shift is a symbolic node, which roll's CPU kernel refuses first
_SYMINT_MIN = -(1 << 62)
_ROLL_SYMINT = ("/__w/pytorch/pytorch/build/aten/src/ATen/RegisterCPU_3.cpp:4890: SymIntArrayRef expected to contain "
                "only concrete integers")


def _roll(a, shifts, dims=()):
    shifts = list(shifts)
    dims = list(dims)
    if any(s < _SYMINT_MIN for s in shifts):  # (and so the backward of a shift past 2**62, as torch's; F9)
        raise TorchRuntimeError(_ROLL_SYMINT)
    if not shifts:
        raise TorchRuntimeError("`shifts` required")
    if not dims and len(shifts) == 1:
        if a.size == 0:
            return a.copy()
        return B.xp.roll(a.reshape(-1), shifts[0]).reshape(a.shape)
    if len(shifts) != len(dims):
        raise TorchRuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    if a.ndim == 0:
        raise TorchIndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    w = [wrap_dim(d, a.ndim) for d in dims]
    if a.size == 0:
        return a.copy()
    return B.xp.roll(a, shifts, axis=w)


roll_op = defop("roll(Tensor self, SymInt[1] shifts, int[1] dims=[]) -> Tensor", _roll,
                rule=R.like(temp_factor=1), jvp="linear",  # the flattened copy of a strided input
                self=lambda grad, shifts, dims: roll_op(grad, [-s for s in shifts], dims))


def roll(input: Tensor, shifts: int | list[int], dims: int | list[int] | None = None) -> Tensor:
    shifts = list(_ints(shifts)) if isinstance(shifts, list | tuple) else shifts
    for i, v in enumerate(shifts if isinstance(shifts, list) else [shifts]):  # the parser's int64 unpack
        if isinstance(v, int) and not -(1 << 63) <= v < 1 << 63:
            if not isinstance(shifts, list):
                raise TorchValueError("Overflow when unpacking long long")
            raise TorchTypeError(f"roll(): argument 'shifts' failed to unpack the object at pos {i + 1} with error "
                                 "\"Overflow when unpacking long long\"")
    return roll_op(input, list(_ints(shifts)), [] if dims is None else list(_ints(dims)))


# ----- unflatten -----


def unflatten(input: Tensor, dim: int, sizes: list[int]) -> Tensor:
    d = wrap_dim(dim, input.ndim)
    sizes = list(_ints(sizes))
    if not sizes:
        raise TorchRuntimeError("unflatten: sizes must be non-empty")
    numel = input.shape[d] if input.ndim else 1
    inferred = _unflatten_sizes(sizes, numel, d)
    shape = list(input.shape)
    shape[d:d + 1] = inferred
    return view(input, tuple(shape))


def _unflatten_sizes(sizes, numel, d):
    infer = None
    prod = 1
    for i, s in enumerate(sizes):
        if s == -1:
            if infer is not None:
                raise TorchRuntimeError(
                    "unflatten got an unexpected error:\nonly one dimension can be inferred")
            infer = i
        elif s < 0:
            raise TorchRuntimeError(
                f"unflatten got an unexpected error:\ninvalid shape dimension {s} at index {i} of shape "
                f"{list_str(sizes)}")
        else:
            prod *= s
    out = list(sizes)
    if infer is not None:
        if prod == 0:
            raise TorchRuntimeError(
                f"unflatten got an unexpected error:\ncannot reshape tensor of 0 elements into shape "
                f"{list_str(sizes)} because the unspecified dimension size -1 can be any value and is "
                "ambiguous")
        if numel % prod == 0:
            out[infer] = numel // prod
            return out
    elif prod == numel:
        return out
    raise TorchRuntimeError(
        f"unflatten: Provided sizes {list_str(sizes)} don't multiply up to the size of dim {d} ({numel}) in "
        "the input tensor")


# ----- tril / triu -----


def _tri_check(a, name):
    if a.ndim < 2:
        raise TorchRuntimeError(f"{name}: input tensor must have at least 2 dimensions")


def _tril(a, diagonal=0):
    _tri_check(a, "tril")
    if a.size == 0:  # np.tril's mask would take aranges of the long dim
        return a.copy()
    return B.xp.tril(a, int(diagonal))


def _triu(a, diagonal=0):
    _tri_check(a, "triu")
    if a.size == 0:
        return a.copy()
    return B.xp.triu(a, int(diagonal))


def _tri_rule(self):
    n = R.numel(self.shape)
    return R.Cost(tuple(self.shape), n, R.numel(self.shape[-2:]))  # np.tril's (rows, cols) mask


tril_op = defop("tril(Tensor self, int diagonal=0) -> Tensor", _tril, rule=_tri_rule, jvp=pointwise("linear"),
                self=lambda grad, diagonal: tril_op(grad, diagonal))
triu_op = defop("triu(Tensor self, int diagonal=0) -> Tensor", _triu, rule=_tri_rule, jvp=pointwise("linear"),
                self=lambda grad, diagonal: triu_op(grad, diagonal))


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    return tril_op(input, diagonal)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    return triu_op(input, diagonal)


# ----- diagonal / diag -----


def _diag_dims(ndim, dim1, dim2):
    d1 = wrap_dim(dim1, ndim)
    d2 = wrap_dim(dim2, ndim)
    if d1 == d2:
        raise TorchRuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def _diagonal_shape(shape, offset, dim1, dim2):
    d1, d2 = _diag_dims(len(shape), dim1, dim2)
    offset = int(offset)
    length = max(0, min(shape[d1], shape[d2] - offset) if offset >= 0 else min(shape[d1] + offset, shape[d2]))
    return tuple(s for i, s in enumerate(shape) if i not in (d1, d2)) + (length,)


def _diagonal_rule(self, offset=0, dim1=0, dim2=1):
    out = _diagonal_shape(self.shape, offset, dim1, dim2)
    return R.Cost(out, R.numel(out), 0)


def _diag_embed_shape(shape, offset, dim1, dim2):
    n = shape[-1] + abs(int(offset))
    d1, d2 = _diag_dims(len(shape) + 1, dim1, dim2)
    rest = iter(shape[:-1])
    return tuple(n if i in (d1, d2) else next(rest) for i in range(len(shape) + 1))


def _diagonal(a, offset=0, dim1=0, dim2=1):
    d1, d2 = _diag_dims(a.ndim, dim1, dim2)
    return B.xp.diagonal(a, int(offset), d1, d2)


def _diagonal_backward(grad, input_sizes, offset, dim1, dim2):
    out = B.xp.zeros(tuple(input_sizes), dtype=grad.dtype)
    d1, d2 = _diag_dims(len(input_sizes), dim1, dim2)
    n = grad.shape[-1]
    if n:
        i = B.xp.arange(n)
        r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
        moved = np.moveaxis(out, (d1, d2), (-2, -1))  # a view: np.diagonal's own view is read-only
        moved[..., B.xp.asarray(r), B.xp.asarray(c)] = grad
    return out


diagonal_op = defop(
    "diagonal(Tensor(a) self, int offset=0, int dim1=0, int dim2=1) -> Tensor(a)", _diagonal, rule=_diagonal_rule,
    jvp=shifted("linear", "dim1", "dim2"),
    self=lambda grad, self_shape, offset, dim1, dim2: diagonal_backward_op(
        grad, self_shape, offset, dim1, dim2))
diagonal_backward_op = defop(
    "diagonal_backward(Tensor grad_output, SymInt[] input_sizes, int offset, int dim1, int dim2) -> Tensor",
    _diagonal_backward,
    # the zeros of input_sizes; arange and the row / column indices of the diagonal
    rule=lambda grad_output, input_sizes: R.Cost(tuple(input_sizes), R.numel(input_sizes),
                                                 R.wide(3 * grad_output.shape[-1], grad_output)),
    jvp=batched("linear", lambda op, vals, tangents, out, bsz: diagonal_backward_op(
        tangents[0], (bsz, *vals[1]), vals[2], *(wrap_dim(d, len(vals[1])) + 1 for d in vals[3:]))),
    grad_output=lambda grad, offset, dim1, dim2: diagonal_op(grad, offset, dim1, dim2))
# torch.diag of a matrix runs diagonal_copy, whose node torch names "DiagonalBackward0_copy"
diagonal_copy_op = defop(
    "diagonal_copy(Tensor self, int offset=0, int dim1=0, int dim2=1) -> Tensor",
    lambda a, offset=0, dim1=0, dim2=1: _diagonal(a, offset, dim1, dim2).copy(), rule=_diagonal_rule,
    jvp=shifted("linear", "dim1", "dim2"),
    self=lambda grad, self_shape, offset, dim1, dim2: diagonal_backward_op(
        grad, self_shape, offset, dim1, dim2))
diagonal_copy_op.grad_fn_name = "DiagonalBackward0_copy"
diagonal_copy_op.node_cls.__name__ = diagonal_copy_op.node_cls.__qualname__ = "DiagonalBackward0_copy"


def _diag_embed(a, offset=0, dim1=-2, dim2=-1):
    n = a.shape[-1] + abs(int(offset))
    nd = a.ndim + 1
    d1, d2 = _diag_dims(nd, dim1, dim2)
    out_shape_front = tuple(a.shape[:-1]) + (n, n)
    out = B.xp.zeros(out_shape_front, dtype=a.dtype)
    i = B.xp.arange(a.shape[-1])
    r, c = (i, i + offset) if offset >= 0 else (i - offset, i)
    out[..., B.xp.asarray(r), B.xp.asarray(c)] = a
    return np.moveaxis(out, (-2, -1), (d1, d2))


diag_embed_op = defop(
    "diag_embed(Tensor self, int offset=0, int dim1=-2, int dim2=-1) -> Tensor", _diag_embed,
    rule=lambda self, offset, dim1, dim2: R.Cost(_diag_embed_shape(self.shape, offset, dim1, dim2),
                                                 R.numel(_diag_embed_shape(self.shape, offset, dim1, dim2)),
                                                 R.wide(3 * self.shape[-1], self)),
    jvp="linear",
    self=lambda grad, offset, dim1, dim2: diagonal_op(grad, offset, dim1, dim2))


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    return diagonal_op(input, offset, dim1, dim2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    if input.ndim == 1:
        return diag_embed_op(input, diagonal, 0, 1)
    if input.ndim == 2:
        return diagonal_copy_op(input, diagonal, 0, 1)
    raise TorchRuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
