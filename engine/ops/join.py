"""Joining, splitting and rearranging ops: cat, stack, split / chunk / unbind, repeat / tile, flip, roll,
narrow, unflatten, tril / triu, diag, diagonal, with torch's graphs and messages.

cat and stack take a list of differentiable tensors, and split / unbind give a number of outputs that
depends on the input; the registry's entries have fixed arity, so one entry is made (and cached) per
arity, all with torch's grad_fn name (CatBackward0, SplitBackward0, ...).
"""
from __future__ import annotations

import inspect

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine import dtypes as D
from engine.errors import TorchIndexError, TorchRuntimeError, TorchTypeError, TorchValueError
from engine.ops import rules as R
from engine.ops._util import list_str, wrap_dim, wrap_dims
from engine.ops.indexing import slice_op
from engine.ops.jvp import batched, pointwise, shifted
from engine.ops.registry import defop
from engine.ops.shape import view
from engine.tensor import Tensor


class _Formula:
    """A formula taking its arguments positionally under names given at run time (for n-ary entries)."""

    def __init__(self, fn, names):
        self.fn = fn
        params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("grad", *names)]
        self.__signature__ = inspect.Signature(params)

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def _zeros(shape, dtype):
    return Tensor._make(B.xp.zeros(tuple(shape), dtype=dtype))


def _grad_dtype(grads):
    for g in grads:
        if g is not None:
            return g._data.dtype
    return np.float32


def _ints(seq):
    if isinstance(seq, int | np.integer):
        return (int(seq),)
    return tuple(int(s) for s in seq)


def _vararg_ints(first, more, name):
    """f(2, 3), f((2, 3)) and f([2, 3]) as torch's IntArrayRef arguments."""
    if first is None:
        return ()
    if more:
        return _ints((first, *more))
    if isinstance(first, Tensor):
        return (int(first),) if first.ndim == 0 else tuple(int(x) for x in first.tolist())
    return _ints(first)


# ----- cat -----


def _legacy_empty(shape):
    return len(shape) == 1 and shape[0] == 0


def _cat_dim(shapes, dim):
    """at::legacy_cat_wrap_dim: wrap against the first tensor that is not a legacy empty (0,) tensor."""
    for s in shapes:
        if _legacy_empty(s):
            continue
        return wrap_dim(dim, len(s))
    return dim


def _cat_check(shapes, dim):
    for i, s in enumerate(shapes):
        if len(s) == 0:
            raise TorchRuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    d = _cat_dim(shapes, dim)
    valid = next((i for i, s in enumerate(shapes) if not _legacy_empty(s)), None)
    if valid is None:
        return d, None
    first = shapes[valid]
    for i, s in enumerate(shapes):
        if _legacy_empty(s):
            continue
        if len(s) != len(first):
            raise TorchRuntimeError(
                f"Tensors must have same number of dimensions: got {len(first)} and {len(s)}")
        for k in range(len(first)):
            if k != d and first[k] != s[k]:
                raise TorchRuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size {first[k]} but got "
                    f"size {s[k]} for tensor number {i} in the list.")
    return d, valid


def _result_dtype(arrays):
    dts = {a.dtype for a in arrays}
    if len(dts) == 1:
        return next(iter(dts))
    return D.result_type(*(Tensor._make(a) for a in arrays)).np


def _mixed(arrays):
    """Elements cast to the result dtype first where the dtypes differ (a bound: all of them)."""
    return 0 if len({a.dtype for a in arrays}) <= 1 else sum(R.numel(a.shape) for a in arrays)


def _cat_rule(names):
    def rule(**vals):
        arrays = [vals[n] for n in names]
        shapes = [tuple(a.shape) for a in arrays if not _legacy_empty(a.shape)]
        if not shapes:
            return R.Cost((0,), 0.0)
        d = _cat_dim(shapes, vals["dim"])
        out = list(shapes[0])
        out[d] = sum(s[d] for s in shapes)
        n = R.numel(out)
        return R.Cost(tuple(out), n, _mixed(arrays))

    rule.by_name = (*names, "dim")
    return rule


def _stack_rule(names):
    def rule(**vals):
        arrays = [vals[n] for n in names]
        first = tuple(arrays[0].shape)
        d = wrap_dim(vals["dim"], len(first) + 1)
        out = first[:d] + (len(arrays),) + first[d:]
        return R.Cost(out, R.numel(out), _mixed(arrays))

    rule.by_name = (*names, "dim")
    return rule


# Entries with this many outputs or fewer are made once per arity and kept; past it, per call (a client that
# asked for every arity would otherwise grow the caches, each entry's schema as long as its arity).
_KEEP_ARITY = 64
# Past this many pieces a rule stops listing their shapes (its own time and memory would grow with the
# request): it bounds their elements by the input's (exact=False), with the pieces' objects in temp.
_LIST_PIECES = 4096


def _many(n, what):
    """Charge n operands' or pieces' Python objects and steps before a list or an entry of n is made: an
    entry of n parameters holds about 900 bytes for each (its schema, names, indices, save plans)."""
    _budget.charge(n, 2048, R.PY_STEP * n, what=what)


def _pieces_cost(shape, d, sizes):
    """Views, one per size along d: their elements, and a Python step and objects per piece."""
    k = len(sizes)
    if k > _LIST_PIECES:
        return R.Cost((tuple(shape),), R.PY_STEP * k, R.OBJECT * k, exact=False)
    outs = tuple(tuple(shape[:d]) + (s,) + tuple(shape[d + 1:]) for s in sizes)
    out = outs[0] if k == 1 else outs
    return R.Cost(out, R.PY_STEP * k, R.OBJECT * k if k > 1 else 0)


def _cat_forward(*args):
    arrays, dim = args[:-1], args[-1]
    shapes = [a.shape for a in arrays]
    d, valid = _cat_check(shapes, dim)
    dt = _result_dtype(arrays)
    keep = [a.astype(dt, copy=False) for a in arrays if not _legacy_empty(a.shape)]
    if valid is None:
        return B.xp.zeros((0,), dtype=dt)
    return B.xp.concatenate(keep, axis=d)


def _cat_backward(grad, dim, shapes, output_mask=None):
    d = _cat_dim(shapes, dim)
    out = []
    offset = 0
    for i, s in enumerate(shapes):
        _budget.check()
        if _legacy_empty(s):
            out.append(_zeros((0,), grad._data.dtype) if output_mask is None or output_mask[i] else None)
            continue
        size = s[d]
        if output_mask is None or output_mask[i]:
            out.append(narrow(grad, d, offset, size))
        else:
            out.append(None)
        offset += size
    return tuple(out)


_CAT_OPS: dict[int, object] = {}


def _cat_op(n):
    op = _CAT_OPS.get(n)
    if op is None:
        names = [f"tensors{i}" for i in range(n)]
        shape_names = [f"{x}_shape" for x in names]
        schema = "cat(" + ", ".join(f"Tensor {x}" for x in names) + ", int dim=0) -> Tensor"
        if n == 1:
            formula = _Formula(lambda grad, dim, s0: _cat_backward(grad, dim, [s0])[0], ["dim", *shape_names])
            op = defop(schema, _cat_forward, index=0, rule=_cat_rule(names), jvp=shifted("linear", "dim"),
                       tensors0=formula)
        else:
            formula = _Formula(
                lambda grad, dim, *shapes, output_mask: _cat_backward(grad, dim, shapes, output_mask),
                ["dim", *shape_names])
            op = defop(schema, _cat_forward, index=0, joint_mask=True, rule=_cat_rule(names),
                       jvp=shifted("linear", "dim"),
                       **{"__".join(names): formula})
        if n <= _KEEP_ARITY:
            _CAT_OPS[n] = op
    return op


def _tensor_list(tensors, fname):
    if isinstance(tensors, Tensor):
        raise TorchTypeError(
            f"{fname}(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TorchTypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    return list(tensors)


def cat(tensors: list[Tensor], dim: int = 0) -> Tensor:
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise TorchValueError("torch.cat(): expected a non-empty list of Tensors")
    if len(tensors) > _KEEP_ARITY:
        _many(len(tensors), "cat's operands")
    return _cat_op(len(tensors))(*tensors, dim)


def concat(tensors: list[Tensor], dim: int = 0) -> Tensor:
    return cat(tensors, dim)


def concatenate(tensors: list[Tensor], axis: int = 0) -> Tensor:
    return cat(tensors, axis)


# ----- stack -----


def _stack_forward(*args):
    arrays, dim = args[:-1], args[-1]
    first = arrays[0].shape
    d = wrap_dim(dim, len(first) + 1)
    for i, a in enumerate(arrays[1:], 1):
        if a.shape != first:
            raise TorchRuntimeError(
                f"stack expects each tensor to be equal size, but got {list_str(first)} at entry 0 and "
                f"{list_str(a.shape)} at entry {i}")
    expanded = [B.xp.expand_dims(a, d) for a in arrays]
    dt = _result_dtype(arrays)
    return B.xp.concatenate([a.astype(dt, copy=False) for a in expanded], axis=d)


def _stack_backward(grad, dim, output_mask=None):
    parts = unbind(grad, wrap_dim(dim, grad.ndim))
    if output_mask is None:
        return parts
    return tuple(p if m else None for p, m in zip(parts, output_mask))


_STACK_OPS: dict[int, object] = {}
# batched: the stack dim wraps over the inputs' rank + 1, then moves past the batch
_STACK_JVP = batched("linear", lambda op, vals, tangents, out, bsz: op(
    *_batched_or_zeros(vals[:-1], tangents, bsz), wrap_dim(vals[-1], vals[0].ndim + 1) + 1))


def _batched_or_zeros(vals, tangents, bsz):
    return [t if t is not None else _zeros((bsz, *v.shape), v._data.dtype) for v, t in zip(vals, tangents)]


def _stack_op(n):
    op = _STACK_OPS.get(n)
    if op is None:
        names = [f"tensors{i}" for i in range(n)]
        schema = "stack(" + ", ".join(f"Tensor {x}" for x in names) + ", int dim=0) -> Tensor"
        if n == 1:
            op = defop(schema, _stack_forward, index=0, rule=_stack_rule(names), jvp=_STACK_JVP,
                       tensors0=_Formula(lambda grad, dim: _stack_backward(grad, dim)[0], ["dim"]))
        else:
            op = defop(schema, _stack_forward, index=0, joint_mask=True, rule=_stack_rule(names), jvp=_STACK_JVP,
                       **{"__".join(names): _Formula(
                           lambda grad, dim, output_mask: _stack_backward(grad, dim, output_mask), ["dim"])})
        if n <= _KEEP_ARITY:
            _STACK_OPS[n] = op
    return op


def stack(tensors: list[Tensor], dim: int = 0) -> Tensor:
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise TorchRuntimeError("stack expects a non-empty TensorList")
    if len(tensors) > _KEEP_ARITY:
        _many(len(tensors), "stack's operands")
    return _stack_op(len(tensors))(*tensors, dim)


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


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    if input.ndim == 0:
        raise TorchRuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise TorchRuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input.shape[wrap_dim(dim, input.ndim)]
    split_size = (size + chunks - 1) // chunks
    if split_size == 0 and size == 0:
        _many(chunks, "chunk's pieces")  # as many empty pieces as asked for
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


def _roll(a, shifts, dims=()):
    shifts = list(shifts)
    dims = list(dims)
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
    return B.xp.tril(a, int(diagonal))


def _triu(a, diagonal=0):
    _tri_check(a, "triu")
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
