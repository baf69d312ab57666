"""The join family: split / split_with_sizes / chunk / unbind, and the family's CATALOG (cat and stack are
engine/ops/join_cat.py; narrow, repeat / tile, flip, roll, unflatten, tril / triu, diag, diagonal are
engine/ops/join_rearrange.py; their shared helpers engine/ops/join_common.py), with torch's graphs and messages.

cat and stack take a list of differentiable tensors, and split / unbind give a number of outputs that
depends on the input; the registry's entries have fixed arity, so one entry is made (and cached) per
arity, all with torch's grad_fn name (CatBackward0, SplitBackward0, ...).
"""
from __future__ import annotations

import numpy as np

from engine import budget as _budget
from engine.errors import TorchIndexError, TorchRuntimeError
from engine.ops import rules as R
from engine.ops._util import list_str, wrap_dim
from engine.ops.indexing import slice_op
from engine.ops.join_cat import (  # noqa: F401 - _cat_dim, _legacy_empty: engine/autograd/batched.py
    _cat_dim,
    _legacy_empty,
    cat,
    concat,
    concatenate,
    stack,
)
from engine.ops.join_common import _KEEP_ARITY, _LIST_PIECES, _Formula, _grad_dtype, _ints, _many, _pieces_cost, _zeros
from engine.ops.join_rearrange import (
    diag,
    diag_embed_op,
    diagonal,
    diagonal_copy_op,
    diagonal_op,
    flip,
    flip_op,
    narrow,
    repeat,
    repeat_op,
    roll,
    roll_op,
    tile,
    tril,
    tril_op,
    triu,
    triu_op,
    unflatten,
)
from engine.ops.jvp import shifted
from engine.ops.registry import defop
from engine.tensor import Tensor

# ----- split / split_with_sizes / chunk / unbind -----


def _split_sizes_of(size, split_size):
    if split_size == 0:
        return [0]
    n = max((size + split_size - 1) // split_size, 1)
    sizes = [split_size] * n
    sizes[-1] = split_size - (split_size * n - size)
    return sizes


def _split_pieces(a, d, sizes):
    out = []
    off = 0
    for s in sizes:
        _budget.check()
        out.append(a[(slice(None),) * d + (slice(off, off + s),)])
        off += s
    return tuple(out)


def _check_split(a, split_size, dim):
    if a.ndim == 0:
        raise TorchRuntimeError("split expects at least a 1-dimensional tensor")
    if split_size < 0:
        raise TorchRuntimeError(f"split expects split_size be non-negative, but got split_size={split_size}")
    d = wrap_dim(dim, a.ndim)
    size = a.shape[d]
    if split_size == 0 and size != 0:
        raise TorchRuntimeError(
            f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}")
    return d, size


def _check_split_with_sizes(a, sizes, dim):
    if a.ndim == 0:
        raise TorchRuntimeError("split expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, a.ndim)
    size = a.shape[d]
    if any(s < 0 for s in sizes):
        raise TorchRuntimeError(
            "split_with_sizes expects split_sizes have only non-negative entries, but got "
            f"split_sizes={list_str(sizes)}")
    if sum(sizes) != size:
        raise TorchRuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at "
            f"dimension {d}), but got split_sizes={list_str(sizes)}")
    return d


def _split_forward(a, split_size, dim=0):
    d, size = _check_split(a, split_size, dim)
    return _split_pieces(a, d, _split_sizes_of(size, split_size))


def _split_with_sizes_forward(a, split_sizes, dim=0):
    d = _check_split_with_sizes(a, split_sizes, dim)
    return _split_pieces(a, d, split_sizes)


def _split_with_sizes_backward(grads, sizes, dim, self_shape):
    d = wrap_dim(dim, len(self_shape))
    dt = _grad_dtype(grads)
    parts = []
    for g, s in zip(grads, sizes):
        _budget.check()
        if g is None:
            shape = list(self_shape)
            shape[d] = s
            g = _zeros(shape, dt)
        parts.append(g)
    return cat(parts, d)


_SPLIT_OPS: dict[tuple, object] = {}


def _split_backward(grads, self_shape, split_size, dim):
    sizes = _split_sizes_of(self_shape[wrap_dim(dim, len(self_shape))], split_size)
    return _split_with_sizes_backward(grads, sizes, dim, self_shape)


def _split_count(size, split_size):
    """len(_split_sizes_of(size, split_size)), without the list."""
    return 1 if split_size == 0 else max(-(-size // split_size), 1)


def _split_rule(self, split_size, dim=0):
    d = wrap_dim(dim, self.ndim)
    if _split_count(self.shape[d], split_size) > _LIST_PIECES:
        return _pieces_cost(self.shape, d, range(_split_count(self.shape[d], split_size)))
    return _pieces_cost(self.shape, d, _split_sizes_of(self.shape[d], split_size))


def _split_with_sizes_rule(self, split_sizes, dim=0):
    return _pieces_cost(self.shape, wrap_dim(dim, self.ndim), split_sizes)


def _unbind_rule(self, dim=0):
    d = wrap_dim(dim, self.ndim)
    k = self.shape[d]
    if k > _LIST_PIECES:
        return R.Cost((tuple(self.shape),), R.PY_STEP * k, R.OBJECT * k, exact=False)
    piece = tuple(self.shape[:d]) + tuple(self.shape[d + 1:])
    return R.Cost(piece if k == 1 else (piece,) * k, R.PY_STEP * k, R.OBJECT * k if k > 1 else 0)


def _split_defs():
    return {
        "split": ("split.Tensor(Tensor(a) self, SymInt split_size, int dim=0) -> Tensor(a)[]", _split_forward,
                  _split_backward, ("self_shape", "split_size", "dim"), _split_rule),
        "split_with_sizes": ("split_with_sizes(Tensor(a) self, SymInt[] split_sizes, int dim=0) "
                             "-> Tensor(a)[]",
                             _split_with_sizes_forward,
                             lambda grads, split_sizes, dim, self_shape: _split_with_sizes_backward(
                                 grads, split_sizes, dim, self_shape),
                             ("split_sizes", "dim", "self_shape"), _split_with_sizes_rule),
        "unbind": ("unbind.int(Tensor(a) self, int dim=0) -> Tensor(a)[]", _unbind_forward, _unbind_backward,
                   ("self_shape", "dim"), _unbind_rule),
    }


def _split_op(kind, n):
    """The entry for `kind` with n outputs (one output: the registry hands out a Tensor and one grad)."""
    op = _SPLIT_OPS.get((kind, n))
    if op is None:
        schema, fwd, bwd, names, rule = _split_defs()[kind]
        if n == 1:
            forward = lambda *args, _f=fwd: _f(*args)[0]  # noqa: E731
            formula = _Formula(lambda grad, *rest, _b=bwd: _b([grad], *rest), names)
        else:
            forward = fwd
            formula = _Formula(bwd, names)
        op = defop(schema, forward, nout=n, index=0, rule=rule, jvp=shifted("linear", "dim"), self=formula)
        if n <= _KEEP_ARITY:
            _SPLIT_OPS[(kind, n)] = op
    return op


def _call_split(kind, n, *args):
    if n > _KEEP_ARITY:
        _many(n, f"{kind}'s pieces")
    out = _split_op(kind, n)(*args)
    return (out,) if n == 1 else out


def _split_tensor(input, split_size, dim):
    split_size = int(split_size)
    _, size = _check_split(input._data, split_size, dim)
    return _call_split("split", _split_count(size, split_size), input, split_size, dim)


def split_with_sizes(input: Tensor, split_sizes: list[int], dim: int = 0) -> tuple:
    sizes = list(_ints(split_sizes))
    _check_split_with_sizes(input._data, sizes, dim)
    return _call_split("split_with_sizes", len(sizes), input, sizes, dim)


def split(tensor: Tensor, split_size_or_sections: int | list[int], dim: int = 0) -> tuple:
    if isinstance(split_size_or_sections, int | np.integer) or (
            isinstance(split_size_or_sections, Tensor) and split_size_or_sections.ndim == 0):
        return _split_tensor(tensor, int(split_size_or_sections), dim)
    return split_with_sizes(tensor, list(split_size_or_sections), dim)


def chunk_split_size(input: Tensor, chunks: int, dim: int, what: str) -> int:
    """chunk's and unsafe_chunk's checks and the size of their pieces; 0 for an empty dim, whose `chunks` empty
    pieces are charged here, before their list of sizes is made."""
    if input.ndim == 0:
        raise TorchRuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise TorchRuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    split_size = (input.shape[wrap_dim(dim, input.ndim)] + chunks - 1) // chunks
    if split_size == 0:  # (only where the dim is empty)
        _many(chunks, what)
    return split_size


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    split_size = chunk_split_size(input, chunks, dim, "chunk's pieces")
    if split_size == 0:  # as many empty pieces as asked for
        return split_with_sizes(input, [0] * chunks, dim)
    return _split_tensor(input, split_size, dim)


def _unbind_forward(a, dim=0):
    if a.ndim == 0:
        raise TorchIndexError("Dimension specified as 0 but tensor has no dimensions")
    d = wrap_dim(dim, a.ndim)
    out = []
    for i in range(a.shape[d]):
        _budget.check()
        out.append(a[(slice(None),) * d + (i, Ellipsis)])
    return tuple(out)


def _unbind_backward(grads, self_shape, dim):
    d = wrap_dim(dim, len(self_shape))
    dt = _grad_dtype(grads)
    shape = tuple(self_shape[:d]) + tuple(self_shape[d + 1:])
    return stack([g if g is not None else _zeros(shape, dt) for g in grads], d)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    if input.ndim == 0:
        raise TorchIndexError("Dimension specified as 0 but tensor has no dimensions")
    n = input.shape[wrap_dim(dim, input.ndim)]
    return _call_split("unbind", n, input, dim)


from engine.ops.registry import entry  # noqa: E402

CATALOG = [
    entry("cat", cat, "Concatenate tensors along an existing dim (legacy empty (0,) tensors are skipped).",
          method=False, grad_fns=("CatBackward0",)),
    entry("concat", concat, "Alias of cat.", method=False, grad_fns=("CatBackward0",)),
    entry("concatenate", concatenate, "Alias of cat (numpy's `axis`).", method=False,
          grad_fns=("CatBackward0",)),
    entry("stack", stack, "Join equal-shaped tensors along a new dim.", method=False,
          grad_fns=("StackBackward0",)),
    entry("split", split, "Pieces of `split_size` (the last may be smaller) or of the listed sizes along "
          "`dim`.",
          grad_fns=("SplitBackward0", "SplitWithSizesBackward0")),
    entry("split_with_sizes", split_with_sizes, "Pieces of the listed sizes along `dim`.",
          grad_fns=("SplitWithSizesBackward0",)),
    entry("chunk", chunk, "At most `chunks` pieces of equal size (the last may be smaller), via split.",
          grad_fns=("SplitBackward0",)),
    entry("unbind", unbind, "The slices along `dim`, each without that dim.", grad_fns=("UnbindBackward0",)),
    entry("narrow", narrow, "`length` entries from `start` along `dim` (a slice).", slice_op),
    entry("repeat", repeat, "Tile the tensor `repeats` times per dim (leading dims added).", repeat_op,
          function=False),
    entry("tile", tile, "repeat, with too few dims padded by ones in front.", repeat_op),
    entry("flip", flip, "Reverse the order of entries along `dims`.", flip_op),
    entry("roll", roll, "Rotate entries by `shifts` along `dims` (the flattened tensor when dims is None).",
          roll_op),
    entry("unflatten", unflatten, "Split dim `dim` into `sizes` (one -1 inferred); a view.",
          grad_fns=("ViewBackward0",)),
    entry("tril", tril, "Lower triangle (on and below `diagonal`) of the last two dims.", tril_op),
    entry("triu", triu, "Upper triangle (on and above `diagonal`) of the last two dims.", triu_op),
    entry("diag", diag, "1-D: the square matrix with input on diagonal `diagonal`; 2-D: that diagonal.",
          diag_embed_op, diagonal_copy_op),
    entry("diagonal", diagonal, "The diagonal `offset` of dims dim1 and dim2, as the last dim (a view).",
          diagonal_op),
]
