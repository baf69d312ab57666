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


class CopySlices(Node):
    """grad_fn of a base one of whose views was modified in place: `fn` is the in-place op's node, applied to
    the view's region of the base's gradient; its gradient for the view goes back into that region, which
    then flows to the base's old history (next_functions[0]); its other inputs' gradients flow as fn gives."""

    __slots__ = ("fn", "shape", "pos")

    def apply(self, grads, create_graph):
        g = grads[0]
        region = _gather(g, self.pos)
        res = self.fn.apply([region], create_graph)
        out = [None] * len(self.next_functions)
        if res and res[0] is not None:
            out[0] = _scatter(self.shape, self.pos, res[0], into=g)
        for i, r in enumerate(res[1:], 1):
            out[i] = r
        return out

    def release(self):
        self.fn.release()


class AsStridedBackward0(Node):
    """grad_fn of a view regenerated after an in-place change of its memory: its gradient is scattered into
    a gradient of the base's shape (elements the view repeats add up)."""

    __slots__ = ("shape", "pos")

    def apply(self, grads, create_graph):
        return [_scatter(self.shape, self.pos, grads[0])]


def copy_slices(base, view, fn):
    """Rewrite base's history after view was modified in place by the op whose node is `fn`."""
    node = _new_node(CopySlices, (edge_of(base), *fn.next_functions[1:]))
    node.fn = fn
    node.shape = base._data.shape
    node.pos = positions(view._data, base._data)
    base.grad_fn = node
    base._output_nr = 0
    base._req = True


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
            w.grad_fn = node
            w._output_nr = 0
            w._req = True
    storage.views = live


def mark_views(outs, src, multi, recording):
    """The outputs of a view op on `src` share its memory: same base (the root of its views), same Storage."""
    Tensor = _tensor()
    base = src._base if src._base is not None else src
    st = src._storage()
    flags = (VIEW_MULTI if multi else 0) | (VIEW_NO_GRAD if not recording and base._req else 0)
    bdata = base._data
    for o in outs:
        if type(o) is not Tensor or not np.may_share_memory(o._data, bdata):
            continue  # NumPy had to copy: not a view of this memory
        o._vc = st
        o._base = base
        o._vflags = flags
        if st.views is None:
            st.views = []
        st.views.append(weakref.ref(o))
