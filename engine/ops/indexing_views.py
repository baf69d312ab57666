"""Indexing's shared helpers and cost rules, and its view entries: select (and its function), slice, alias (with
their backward entries select_backward, slice_backward)."""
from __future__ import annotations

from engine import _backend as B
from engine.errors import TorchIndexError, TorchRuntimeError
from engine.ops import rules as R
from engine.ops._util import list_str, wrap_dim
from engine.ops.jvp import batched, pointwise, shifted
from engine.ops.registry import defop
from engine.tensor import Tensor

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)


def _arr(x):
    return x._data if isinstance(x, Tensor) else x


def _zeros(shape, dtype):
    return B.xp.zeros(tuple(shape), dtype=dtype)


def _dim_prefix(d):
    return (slice(None),) * d




# ----- cost rules (engine/ops/rules.py) -----


def _view_cost(out):
    return R.Cost(tuple(out), 0.0, 0)


def _selected(shape, dim):
    d = wrap_dim(dim, len(shape))
    return tuple(shape[:d]) + tuple(shape[d + 1:])


def _sliced(shape, dim, start, end, step):
    d = wrap_dim(dim, len(shape))
    s, e = _slice_bounds(shape[d], start, end, step)
    out = list(shape)
    out[d] = max(0, _slice_size(e - s, int(step)))
    return tuple(out)


def _indexed(shape, indices):
    """numpy's advanced indexing shape for index.Tensor's indices (int64 arrays, None for `:`): the
    broadcast index shape in place of the indexed dims where they are adjacent, else in front."""
    defined = [k for k, i in enumerate(indices) if i is not None]
    bshape = R.broadcast(*(tuple(indices[k].shape) for k in defined))
    first, last = defined[0], defined[-1]
    rest = tuple(shape[len(indices):])
    if last - first + 1 == len(defined):
        return tuple(shape[:first]) + bshape + tuple(shape[last + 1:len(indices)]) + rest
    return bshape + tuple(s for k, s in enumerate(shape[:len(indices)]) if indices[k] is None) + rest


def _index_rule(self, indices):
    out = _indexed(self.shape, indices)
    n = R.numel(out)
    return R.Cost(out, n, 0, True, 2 * R.numel(self.shape) + n)  # the zeros and their copy in index_put


def _numel(x):
    return R.numel(R.shape_of(x))


# ----- select / slice / alias -----


def _select(a, dim, index):
    if a.ndim == 0:
        raise TorchIndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, a.ndim)
    size = a.shape[d]
    index = int(index)
    if not -size <= index < size:
        raise TorchIndexError(
            f"select(): index {index} out of range for tensor of size {list_str(a.shape)} at dimension {d}")
    return a[_dim_prefix(d) + (index, Ellipsis)]


def _select_backward(grad, input_sizes, dim, index):
    out = _zeros(input_sizes, grad.dtype)
    d = wrap_dim(dim, len(input_sizes))
    out[_dim_prefix(d) + (int(index), Ellipsis)] = grad
    return out


select_int = defop("select.int(Tensor(a) self, int dim, SymInt index) -> Tensor(a)", _select,
                   rule=lambda self, dim: _view_cost(_selected(self.shape, dim)), jvp=shifted("linear", "dim"),
                   self=lambda grad, self_shape, dim, index: select_backward_op(grad, self_shape, dim, index))
select_backward_op = defop(
    "select_backward(Tensor grad_output, SymInt[] input_sizes, int dim, SymInt index) -> Tensor",
    _select_backward, rule=lambda input_sizes: R.Cost(tuple(input_sizes), R.numel(input_sizes)),
    jvp=batched("linear", lambda op, vals, tangents, out, bsz: select_backward_op(
        tangents[0], (bsz, *vals[1]), wrap_dim(vals[2], len(vals[1])) + 1, vals[3])),
    grad_output=lambda grad, dim, index: select_int(grad, dim, index))


def _slice_bounds(size, start, end, step):
    """at::slice's normalisation of start / end (step > 0)."""
    start = 0 if start is None else int(start)
    end = _INT64_MAX if end is None else int(end)
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = min(max(start, 0), size)
    end = min(max(end, start), size)
    return start, end


def _wrap64(v):
    """v as an int64 holds it: C's wrap-around past the range."""
    v &= (1 << 64) - 1
    return v - (1 << 64) if v >> 63 else v


def _slice_size(length, step):
    """at::slice's size, (len + step - 1) / step in int64 (C's division): a step near 2**63 overflows the sum, so
    that 4+ elements at a step of INT64_MAX give 0 (not one), 2 or 3 give -1 (as_strided's error)."""
    v = _wrap64(length + step - 1)
    return -(-v // step) if v < 0 else v // step


def _np_slice(s, e, step):
    """The NumPy slice that selects at::slice's elements (none where its size arithmetic says none)."""
    return slice(s, e, step) if _slice_size(e - s, step) > 0 else slice(s, s)


def _torch_strides(a):
    """Element strides as Tensor.stride() gives them (C order where NumPy's layout has no torch counterpart)."""
    strides = [int(x) // a.itemsize for x in a.strides] if a.itemsize else []
    if len(strides) != a.ndim or any(x < 0 for x in strides):
        strides, acc = [], 1
        for n in reversed(a.shape):
            strides.insert(0, acc)
            acc *= n
    return strides


def _check_huge_step(a, d, n, step):
    """as_strided's checks on at::slice's view where the step is huge (its stride times the step wraps in int64,
    its size may be -1: redteam15 F9): a negative stride, then a storage size that overflows."""
    strides = _torch_strides(a)
    strides[d] = _wrap64(strides[d] * step)
    if strides[d] < 0:
        raise TorchRuntimeError(f"as_strided: Negative strides are not supported at the moment, got strides: "
                                f"{list_str(strides)}")
    if n < 0 and 0 not in a.shape:
        sizes = list(a.shape)
        sizes[d] = n
        raise TorchRuntimeError(f"Storage size calculation overflowed with sizes={list_str(sizes)} and "
                                f"strides={list_str(strides)}")


def _slice(a, dim=0, start=None, end=None, step=1):
    if a.ndim == 0:
        raise TorchIndexError("slice() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, a.ndim)
    if step <= 0:
        raise TorchRuntimeError("slice step must be positive")
    s, e = _slice_bounds(a.shape[d], start, end, step)
    step = int(step)
    if step >= 1 << 31:  # (below, no stride times the step nor len + step reaches 2**63)
        _check_huge_step(a, d, _slice_size(e - s, step), step)
    return a[_dim_prefix(d) + (_np_slice(s, e, step),)]


def _slice_backward(grad, input_sizes, dim, start, end, step):
    out = _zeros(input_sizes, grad.dtype)
    d = wrap_dim(dim, len(input_sizes))
    s, e = _slice_bounds(input_sizes[d], start, end, step)
    out[_dim_prefix(d) + (_np_slice(s, e, int(step)),)] = grad
    return out


slice_op = defop(
    "slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1) "
    "-> Tensor(a)",
    _slice,
    rule=lambda self, dim, start, end, step: _view_cost(_sliced(self.shape, dim, start, end, step)),
    jvp=shifted("linear", "dim"),
    self=lambda grad, self_shape, dim, start, end, step: slice_backward_op(
        grad, self_shape, dim, start, end, step))
slice_backward_op = defop(
    "slice_backward(Tensor grad_output, SymInt[] input_sizes, int dim, SymInt start, SymInt end, "
    "SymInt step) -> Tensor",
    _slice_backward, rule=lambda input_sizes: R.Cost(tuple(input_sizes), R.numel(input_sizes)),
    jvp=batched("linear", lambda op, vals, tangents, out, bsz: slice_backward_op(
        tangents[0], (bsz, *vals[1]), wrap_dim(vals[2], len(vals[1])) + 1, *vals[3:])),
    grad_output=lambda grad, dim, start, end, step: slice_op(grad, dim, start, end, step))

alias_op = defop("alias(Tensor(a) self) -> Tensor(a)", lambda a: a[...], rule=lambda self: _view_cost(self.shape),
                 jvp=pointwise("linear"), self=lambda grad: grad)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    return select_int(input, dim, int(index))
