"""Joining: cat / concat / concatenate and stack, one entry made (and cached) per number of inputs, with torch's
graphs (CatBackward0, StackBackward0) and messages."""
from __future__ import annotations

from engine import _backend as B
from engine import budget as _budget
from engine import dtypes as D
from engine.errors import TorchRuntimeError, TorchTypeError, TorchValueError
from engine.ops import rules as R
from engine.ops._util import list_str, wrap_dim
from engine.ops.join_common import _KEEP_ARITY, _Formula, _many, _zeros
from engine.ops.join_rearrange import narrow
from engine.ops.jvp import batched, shifted
from engine.ops.registry import defop
from engine.tensor import Tensor

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
    from engine.ops.join import unbind  # noqa: PLC0415 - join (splitting) imports this module

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
