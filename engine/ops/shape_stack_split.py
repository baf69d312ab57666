"""atleast_1d / 2d / 3d and the stacking and splitting compositions: hstack / vstack / dstack / column_stack,
tensor_split, hsplit / vsplit / dsplit, and unsafe_split / unsafe_chunk (split's pieces under UnsafeSplitBackward0)."""
from __future__ import annotations

import numpy as np

from engine import budget as _budget
from engine import dtypes as D
from engine.errors import TorchRuntimeError
from engine.ops import indexing as I
from engine.ops import join as J
from engine.ops import shape as S
from engine.ops._util import wrap_dim
from engine.ops.join_cat import _tensor_list
from engine.ops.join_common import _KEEP_ARITY, _Formula, _many
from engine.ops.jvp import shifted
from engine.ops.registry import defop
from engine.ops.rules import numel
from engine.tensor import Tensor


def _tensors(args, fname):
    """f(a, b), f([a, b]) and f((a, b)) as torch's *tensors functions take them."""
    if len(args) == 1 and isinstance(args[0], list | tuple):
        return list(args[0]), True
    return list(args), len(args) != 1


def _pieces(n, what):
    """Charge n pieces (their Tensors, views and graph nodes: _many's 2 KB each, a Python step each) before any
    is made or listed: the count comes from a literal or a value (1e6 sections of ten elements is a 190-byte
    request), so it is checked against the request's limits first (413, or a spill off the loop)."""
    if n > _KEEP_ARITY:
        _many(n, what)


# ----- atleast_* -----


def _atleast(t, n):
    d = t.ndim
    if d >= n:
        return t
    if d == 0:
        return S.reshape(t, (1,) * n)
    if n == 2:
        return S.unsqueeze(t, 0)
    if d == 1:
        return S.unsqueeze(S.unsqueeze(t, 0), -1)
    return S.unsqueeze(t, -1)


def _atleast_fn(n):
    def fn(*tensors: Tensor):
        ts, seq = _tensors(tensors, f"atleast_{n}d")
        _pieces(len(ts), f"atleast_{n}d's outputs")
        out = []
        for t in ts:
            _budget.check()
            out.append(_atleast(t, n))
        return tuple(out) if seq else out[0]

    fn.__name__ = f"atleast_{n}d"
    return fn


atleast_1d, atleast_2d, atleast_3d = _atleast_fn(1), _atleast_fn(2), _atleast_fn(3)


# ----- stacking -----


def _nonempty(tensors, name):
    tensors = _tensor_list(tensors, name)
    if not tensors:
        raise TorchRuntimeError(f"{name} expects a non-empty TensorList")
    return tensors


def hstack(tensors: list[Tensor]) -> Tensor:
    ts = [_atleast(t, 1) for t in _nonempty(tensors, "hstack")]
    return J.cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: list[Tensor]) -> Tensor:
    return J.cat([_atleast(t, 2) for t in _nonempty(tensors, "vstack")], 0)


def dstack(tensors: list[Tensor]) -> Tensor:
    return J.cat([_atleast(t, 3) for t in _nonempty(tensors, "dstack")], 2)


def column_stack(tensors: list[Tensor]) -> Tensor:
    ts = _nonempty(tensors, "column_stack")
    return hstack([S.reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in ts])


# ----- tensor_split, hsplit / vsplit / dsplit -----


def _slices(input, d, bounds):
    out = []
    for s, e in bounds:
        _budget.check()
        out.append(I.slice_op(input, d, s, e, 1))
    return tuple(out)


def _section_bounds(size, n):
    big, rem = divmod(size, n)
    start = 0
    for i in range(n):
        length = big + (1 if i < rem else 0)
        yield start, start + length
        start += length


def tensor_split(input: Tensor, indices_or_sections: int | list[int] | Tensor, dim: int = 0) -> tuple:
    if input.ndim == 0:
        raise TorchRuntimeError(
            "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.ndim > 1:
            raise TorchRuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                                    f"one-dimensional tensor, but got a tensor with {ios.ndim} dims")
        if ios.dtype is not D.int64:
            raise TorchRuntimeError("tensor_split expected tensor_indices_or_sections to have dtype of long, but "
                                    f"got {D.scalar_type_name(ios.dtype)}")
        if ios.ndim == 0:
            ios = int(ios.item())
        else:  # (an expanded index of 1e6 entries is a few bytes: its pieces are charged before its list is made)
            _pieces(ios.numel() + 1, "tensor_split's pieces")
            ios = [int(i) for i in ios.tolist()]
    d = wrap_dim(dim, input.ndim)
    size = input.shape[d]
    if isinstance(ios, int | np.integer):
        n = int(ios)
        if n <= 0:
            raise TorchRuntimeError(f"number of sections must be larger than 0, got {n}")
        _pieces(n, "tensor_split's pieces")
        return _slices(input, d, _section_bounds(size, n))
    _pieces(len(ios) + 1, "tensor_split's pieces")
    idx = [int(i) for i in ios]
    return _slices(input, d, zip([0, *idx], [*idx, size]))


def _split_dims(name, input, ios, dim, min_ndim):
    if input.ndim < min_ndim:
        dims = "dimension" if min_ndim == 1 else "dimension"
        raise TorchRuntimeError(f"torch.{name} requires a tensor with at least {min_ndim} {dims}, but got a tensor "
                                f"with {input.ndim} dimensions!")
    if isinstance(ios, int | np.integer):
        size = input.shape[dim]
        if ios == 0 or size % ios:
            raise TorchRuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                                    f"dimension {size} is not divisible by the split_size {ios}!")
    return tensor_split(input, ios, dim)


def hsplit(input: Tensor, indices_or_sections: int | list[int]) -> tuple:
    return _split_dims("hsplit", input, indices_or_sections, 0 if input.ndim == 1 else 1, 1)


def vsplit(input: Tensor, indices_or_sections: int | list[int]) -> tuple:
    return _split_dims("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input: Tensor, indices_or_sections: int | list[int]) -> tuple:
    return _split_dims("dsplit", input, indices_or_sections, 2, 3)


# ----- unsafe_split / unsafe_chunk: split's pieces under UnsafeSplitBackward0 -----

_UNSAFE_SPLIT: dict[int, object] = {}


def _unsafe_split_rule(self, split_size, dim=0):
    """split's rule (its pieces listed, or bounded past _LIST_PIECES: never made), plus an operation an element
    (the forward's pieces are copies in torch's eyes)."""
    c = J._split_rule(self, split_size, dim)
    return c._replace(flops=c.flops + numel(self.shape))


def _unsafe_split_op(n):
    op = _UNSAFE_SPLIT.get(n)
    if op is None:
        fwd, bwd = J._split_forward, J._split_backward
        names = ("self_shape", "split_size", "dim")
        if n == 1:
            forward = lambda *args: fwd(*args)[0]  # noqa: E731
            formula = _Formula(lambda grad, *rest: bwd([grad], *rest), names)
        else:
            forward, formula = fwd, _Formula(bwd, names)
        op = defop("unsafe_split.Tensor(Tensor self, SymInt split_size, int dim=0) -> Tensor[]", forward, nout=n,
                   index=0, self=formula, jvp=shifted("linear", "dim"), rule=_unsafe_split_rule)
        if n <= _KEEP_ARITY:  # (one entry per arity asked for would grow without bound)
            _UNSAFE_SPLIT[n] = op
    return op


def unsafe_split(input: Tensor, split_size: int, dim: int = 0) -> tuple:
    split_size = int(split_size)
    _, size = J._check_split(input._data, split_size, dim)
    n = J._split_count(size, split_size)
    _pieces(n, "unsafe_split's pieces")  # before its entry of n outputs is made
    out = _unsafe_split_op(n)(input, split_size, dim)
    return (out,) if n == 1 else out


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    split_size = J.chunk_split_size(input, chunks, dim, "unsafe_chunk's pieces")
    if split_size == 0:
        return tuple(J.split_with_sizes(input, [0] * chunks, dim))
    return unsafe_split(input, split_size, dim)
