"""Views and in-place history: where a view's elements sit in its base, CopySlices and AsStridedBackward0.

An in-place op on a view rewrites its base's history, as torch does: the base's grad_fn becomes a
`CopySlices` that wraps the op's node (its gradient flows into the view's region of the base's gradient, the
rest passes through to the base's old history), and every live view of that memory gets an
`AsStridedBackward0` from the base's new grad_fn (torch 2.13 regenerates views with as_strided). A view's place
in its base is kept as the flat (C-order) positions of its elements in the base, read off the two arrays'
memory layout once, when needed.
"""
from __future__ import annotations

import weakref

import numpy as np

from engine.autograd import Node, _seq, edge_of

# Tensor._vflags
VIEW_MULTI = 1  # one of the views an op returned several of (unbind, split, chunk)
VIEW_NO_GRAD = 2  # made while grad mode was off, of a base that requires grad
VIEW_CUSTOM = 4  # an output of a custom Function that is a view (an input returned as-is, a view made in forward)


def positions(view, base) -> np.ndarray:
    """For each element of `view` (an array sharing `base`'s memory) its flat C-order index in `base`."""
    b, v = base, view
    item = b.itemsize
    # every byte offset the base's elements sit at, and which logical index sits there
    span = 1 + sum((n - 1) * abs(s) for n, s in zip(b.shape, b.strides)) // item if b.size else 0
    low = sum((n - 1) * s for n, s in zip(b.shape, b.strides) if s < 0) // item  # the lowest element's offset
    buf = np.full(max(span, 1), -1, dtype=np.int64)
    b_ptr = b.__array_interface__["data"][0]
    start = -low
    lay = np.lib.stride_tricks.as_strided(buf[start:], b.shape, tuple(s // item * 8 for s in b.strides))
    lay[...] = np.arange(b.size, dtype=np.int64).reshape(b.shape)
    off = (v.__array_interface__["data"][0] - b_ptr) // item + start
    out = np.lib.stride_tricks.as_strided(buf[off:], v.shape, tuple(s // item * 8 for s in v.strides))
    return out.copy()


def _tensor():
    from engine.tensor import Tensor  # noqa: PLC0415 - engine.tensor imports engine.autograd

    return Tensor


def _new_node(cls, next_functions):
    node = cls.__new__(cls)
    node.next_functions = next_functions
    node._seq = next(_seq)
    node._retained = None
    node._pre_hooks = None
    node._hooks = None
    return node


def _gather(g, pos):
    """g's elements at flat positions `pos`, in pos's shape (IndexBackward0 where it records: create_graph)."""
    from engine.ops.indexing import index_op  # noqa: PLC0415 - the op table imports this package

    return index_op(g.reshape(-1), [pos.reshape(-1)]).reshape(pos.shape)


def _scatter(shape, pos, g, into=None):
    """A tensor of `shape`: `into` with g's elements written at flat positions `pos`, or zeros with them added
    (positions a view repeats add up)."""
    from engine.ops.indexing import index_put_impl_op  # noqa: PLC0415

    Tensor = _tensor()
    if into is None:
        flat = Tensor._make(np.zeros(int(np.prod(shape, dtype=np.int64)), dtype=g._data.dtype))
        return index_put_impl_op(flat, [pos.reshape(-1)], g.reshape(-1), accumulate=True).reshape(shape)
    return index_put_impl_op(into.reshape(-1), [pos.reshape(-1)], g.reshape(-1)).reshape(shape)


def _affine(pos):
    """(offset, element strides) where flat positions `pos` are offset + sum(index * stride), else None."""
    if pos.size == 0:
        return None
    offset = int(pos.reshape(-1)[0])
    strides = []
    for k, n in enumerate(pos.shape):
        if n > 1:
            idx = [0] * pos.ndim
            idx[k] = 1
            strides.append(int(pos[tuple(idx)]) - offset)
        else:
            strides.append(0)
    grid = offset + sum(np.arange(n).reshape([-1 if j == k else 1 for j in range(pos.ndim)]) * st
                        for k, (n, st) in enumerate(zip(pos.shape, strides)))
    if not np.array_equal(np.broadcast_to(grid, pos.shape), pos) or len(np.unique(pos)) != pos.size:
        return None
    return offset, strides


def strided_view(t, pos, geometry):
    """t.as_strided(...) of a C-contiguous t at the flat positions pos (their `geometry`, from _affine): a view
    sharing t's memory, its grad_fn AsStridedBackward0 where it records, as torch's as_strided."""
    Tensor = _tensor()
    offset, strides = geometry
    flat = t._data.reshape(-1)
    item = flat.itemsize
    arr = np.lib.stride_tricks.as_strided(flat[offset:], pos.shape, tuple(s * item for s in strides))
    v = Tensor._make(arr)
    mark_views((v,), t, False, True)
    from engine.autograd import grad_mode  # noqa: PLC0415

    if grad_mode.enabled and t._req:
        node = _new_node(AsStridedBackward0, (edge_of(t),))
        node.shape, node.pos = t._data.shape, pos
        v.grad_fn, v._req = node, True
    return v


class CopySlices(Node):
    """grad_fn of a base one of whose views was modified in place: `fn` is the in-place op's node, applied to
    the view's region of the base's gradient; its gradient for the view goes back into that region, which
    then flows to the base's old history (next_functions[0]); its other inputs' gradients flow as fn gives.
    Computed as torch computes it (a copy of the gradient, its strided view, fn on a clone of that, copied back
    in), so that a create_graph backward records torch's nodes."""

    def name(self) -> str:  # torch's C++ node: its name() is namespaced (its repr is not)
        return "torch::autograd::CopySlices"

    __slots__ = ("fn", "shape", "pos", "geometry")

    def apply(self, grads, create_graph):
        g = grads[0]
        out = [None] * len(self.next_functions)
        if self.geometry is None:  # a region no strided view gives (a view NumPy laid out otherwise): by index
            res = self.fn.apply([_gather(g, self.pos)], create_graph)
            if res and res[0] is not None:
                out[0] = _scatter(self.shape, self.pos, res[0], into=g)
        else:
            from engine.ops.inplace import copy_  # noqa: PLC0415 - the op table imports this package

            Tensor = _tensor()
            result = Tensor._make(np.empty(self.shape, dtype=g._data.dtype))
            copy_(result, g)
            grad_slice = strided_view(result, self.pos, self.geometry)
            res = self.fn.apply([grad_slice.clone()], create_graph)
            if res and res[0] is not None:
                copy_(grad_slice, res[0])
                out[0] = result
        for i, r in enumerate(res[1:], 1):
            out[i] = r
        return out

    def release(self):
        self.fn.release()


class AsStridedBackward0(Node):
    """grad_fn of a view regenerated after an in-place change of its memory: its gradient is scattered into
    a gradient of the base's shape (elements the view repeats add up). As torch computes it where the view does
    not repeat elements: zeros, the view's region of them copied from the gradient, as_strided back."""

    __slots__ = ("shape", "pos")

    def apply(self, grads, create_graph):
        g = grads[0]
        geometry = _affine(self.pos)
        if geometry is None:
            return [_scatter(self.shape, self.pos, g)]
        from engine.ops.inplace import copy_  # noqa: PLC0415

        Tensor = _tensor()
        result = Tensor._make(np.zeros(self.shape, dtype=g._data.dtype))
        copy_(strided_view(result, self.pos, geometry), g)
        whole = np.arange(result._data.size, dtype=np.int64).reshape(self.shape)
        return [strided_view(result, whole, (0, [int(s) // result._data.itemsize for s in result._data.strides]))]


def rebase(t, node, nr=0):
    """t's history is now `node` (an in-place change): its grad_fn, and its retain_grad with it, as torch moves
    the retains_grad hook to the new grad_fn."""
    old, old_nr = t.grad_fn, t._output_nr
    t.grad_fn, t._output_nr, t._req = node, nr, True
    if t._retains_grad and old is not None and old is not node:
        from engine.autograd.hooks import move_retains  # noqa: PLC0415

        move_retains(old, old_nr, node, nr, t)


def copy_slices(base, view, fn):
    """Rewrite base's history after view was modified in place by the op whose node is `fn`."""
    node = _new_node(CopySlices, (edge_of(base), *fn.next_functions[1:]))
    node.fn = fn
    node.shape = base._data.shape
    node.pos = positions(view._data, base._data)
    node.geometry = _affine(node.pos)
    rebase(base, node)


def regenerate_views(storage, base) -> None:
    """After an in-place change of this memory: every live view of `base` gets an AsStridedBackward0 from the
    base's grad_fn (where the base requires grad), as torch regenerates them."""
    views = storage.views
    if not views:
        return
    live = []
    for ref in views:
        w = ref()
        if w is None:
            continue
        live.append(ref)
        if base._req and base.grad_fn is not None:
            node = _new_node(AsStridedBackward0, ((base.grad_fn, base._output_nr),))
            node.shape = base._data.shape
            node.pos = positions(w._data, base._data)
            rebase(w, node)
    storage.views = live


def mark_views(outs, src, multi, recording):
    """The outputs of a view op on `src` share its memory: same base (the root of its views), same Storage."""
    Tensor = _tensor()
    base = src._base if src._base is not None else src
    st = src._storage()
    # torch's CreationMeta::NO_GRAD_MODE: any differentiable view made with grad mode off (checked when an in-place
    # op with an input that requires grad writes it)
    flags = (VIEW_MULTI if multi else 0) | (VIEW_NO_GRAD if not recording and base._data.dtype.kind in "fc" else 0)
    bdata = base._data
    for o in outs:
        if type(o) is not Tensor or (o._data.size and not np.may_share_memory(o._data, bdata)):
            continue  # NumPy had to copy: not a view of this memory (an empty result shares none: a view still)
        o._vc = st
        o._base = base
        o._vflags = flags
        if st.views is None:
            st.views = []
        st.views.append(weakref.ref(o))
