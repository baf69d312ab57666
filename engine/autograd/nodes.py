"""Backward graph nodes: Node (a grad_fn), AccumulateGrad (a leaf's sink) and accumulate_into (torch's
AccumulateGrad: .grad stored, then added in place), CopyBackwards (copy_'s node), the leaves' grad accumulators and
edge_of (an op input's (node, input_nr)). The op table's nodes (engine.ops.registry.OpNode) subclass Node; the
backward pass (engine.autograd) runs them. Moved out of engine/autograd/__init__.py, which re-exports every name.
"""
from __future__ import annotations

import itertools
import sys
import weakref

# engine.tensor imports engine.autograd, so the Tensor class is handed over once it exists: engine.autograd._bind
# sets this global too (accumulate_into and _copy_backwards read it, as a global of this module)
Tensor = None
_fw_levels = 0  # threads with a forward-AD level entered (engine.autograd.forward_ad keeps it): tangents of .grad

_seq = itertools.count()


class Node:
    """A grad_fn object. `next_functions` holds (node, input_nr) per differentiable input, (None, 0)
    for constants, exactly as torch's."""

    # _hooks: None, or the node's engine.autograd.hooks.NodeHooks (tensor hooks, retain_grad, pre- and post-hooks):
    # the one attribute the backward loop reads for them. _retained and _pre_hooks are no longer used (always None):
    # kept so that the places that build nodes need no change.
    __slots__ = ("next_functions", "_seq", "_retained", "_pre_hooks", "_hooks", "__weakref__", "metadata")

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) after the node ran (tuples; None where undefined); a tuple it returns
        replaces grad_inputs. Returns a RemovableHandle."""
        from engine.autograd.hooks import register_node_hook  # noqa: PLC0415

        return register_node_hook(self, fn, "post")

    def register_prehook(self, fn):
        """fn(grad_outputs) before the node runs; a tuple it returns replaces grad_outputs."""
        from engine.autograd.hooks import register_node_hook  # noqa: PLC0415

        return register_node_hook(self, fn, "pre")

    # subclasses implement: apply(grads: list) -> list of grads aligned with next_functions,
    # release() to free saved tensors, num_outputs.
    num_outputs = 1
    # _raw(g): apply([Tensor(g)], create_graph=False) on arrays, or None for the Tensor route (the op table's
    # entries with array formulas give one: engine.ops.array_vjp._make_raw); run_backward's array loop calls it
    _raw = None
    # how run_backward's array loop frees a node once it ran (retain_graph=False): 0 calls release(); an op
    # node's class sets 1 (it saves tensors: release() drops them, inline there) or 2 (nothing to drop). An op
    # node's class also reads its _bwd slot (the backward's cost) there where this is not 0.
    _release_kind = 0

    def release(self):
        pass


class AccumulateGrad(Node):
    """Sink of a leaf that requires grad: adds the incoming gradient into `variable.grad`."""

    __slots__ = ("variable",)

    def name(self) -> str:  # torch's C++ node: its name() is namespaced (its repr is not)
        return "torch::autograd::AccumulateGrad"

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()
        self._seq = float("inf")  # torch gives these UINT64_MAX: run as soon as ready
        self._retained = None
        self._hooks = None
        self._pre_hooks = None

    def apply(self, grads, create_graph):
        accumulate_into(self.variable, grads[0], create_graph)
        return ()


def accumulate_into(var, new, create_graph):
    """torch's AccumulateGrad: first grad stored (detached unless create_graph), later ones added."""
    old = var._grad
    if old is None:
        # A new Tensor object either way (never one that another leaf's .grad may also be); under
        # create_graph a differentiable gradient is copied into it as torch's clone_obey_contract does
        # (new_empty_strided(...).copy_(grad)): grad_fn CopyBackwards.
        if create_graph and new.requires_grad:
            var._grad = _copy_backwards(new)
        else:
            var._grad = Tensor._make(_own(new._data))
        if _fw_levels:  # forward-over-reverse: a copied gradient keeps its tangent, a stolen one has none (torch)
            # torch steals (detaches) a gradient nothing else holds whose layout is the variable's; references
            # here: the caller's list of gradients, this argument and getrefcount's own
            stolen = not create_graph and sys.getrefcount(new) <= 3 and _same_strides(new, var)
            _fw_accumulated(var, new, stolen)
    elif create_graph:
        var._grad = old + new
    else:
        # The same Tensor object is updated in place, as torch's accumulation is: references to `.grad` (a
        # program's `grad` op, a view of it) see the sum, and its version counter moves. The buffer is the
        # grad's own (_own made it so), never one shared with another leaf's gradient.
        d = old._data
        if d.flags.writeable and d.base is None and d.shape == new._data.shape and d.dtype == new._data.dtype:
            d += new._data
        else:
            old._data = d + new._data
        if old._vc is not None:
            old._vc.version += 1
        if _fw_levels:
            _fw_accumulated(var, new, None)


def _same_strides(g, var):
    """torch's obeys_layout_contract for a dense variable: the gradient's strides are the variable's (dims of
    size one aside)."""
    a, b = g._data, var._data
    return a.shape == b.shape and all(n == 1 or x == y for n, x, y in zip(a.shape, a.strides, b.strides))


def _fw_accumulated(var, new, stolen):
    from engine.autograd.forward_ad import accumulated  # noqa: PLC0415

    accumulated(var, new, stolen)


def _own(arr):
    """The gradient buffer itself where nothing else holds it (torch steals it then), else a copy of it, so that
    an in-place change of one leaf's .grad never reaches another's (add's backward hands one buffer to both)."""
    # references: the one Tensor that holds it, this frame's argument and getrefcount's own (three, measured
    # on CPython 3.11-3.13); any more is another holder
    if arr.base is None and arr.flags.writeable and sys.getrefcount(arr) <= 3:
        return arr
    return arr.copy()


def note_output_storage(node, nr, storage, tensor) -> None:
    """A node's output `nr` (`tensor`) now has a Storage (it was aliased, or is being modified in place): if
    the node saved those values for its backward, its backward checks them against this counter."""
    saved = getattr(node, "_saved", None)
    if saved and ("result" if nr == 0 else f"result{nr}") in saved:
        saved[("out", nr)] = (storage, storage.version, weakref.ref(tensor))


class CopyBackwards(Node):
    """grad_fn of `self.copy_(src)`: edges (the overwritten tensor's history, src); zeros for the overwritten
    tensor, the gradient for src, summed to src's shape where it was broadcast and cast to its dtype."""

    __slots__ = ("src_meta",)

    def name(self) -> str:  # torch's C++ node: its name() is namespaced (its repr is not)
        return "torch::autograd::CopyBackwards"

    def apply(self, grads, create_graph):
        g = grads[0]
        first = None
        if self.next_functions[0][0] is not None:
            from engine.ops.factory import zeros_like  # noqa: PLC0415

            first = zeros_like(g)
        shape, dt = self.src_meta
        if g._data.shape != shape or g._data.dtype != dt:
            from engine.ops.registry import _conform  # noqa: PLC0415

            g = _conform(g, (shape, dt), not create_graph)
        return [first, g]


def _copy_backwards(src):

    node = CopyBackwards()
    node.next_functions = ((None, 0), edge_of(src))
    node.src_meta = (src._data.shape, src._data.dtype)
    node._seq = next(_seq)
    node._retained = None
    node._pre_hooks = None
    node._hooks = None
    t = Tensor._make(src._data)
    t._req = True
    t.grad_fn = node
    return t


def grad_accumulator(t) -> AccumulateGrad:
    """The leaf's AccumulateGrad node, created once and shared while anything holds it (as torch)."""
    ref = t._acc
    node = ref() if ref is not None else None
    if node is None:
        node = AccumulateGrad(t)
        t._acc = weakref.ref(node)
    return node


_NO_EDGE = (None, 0)


def edge_of(t):
    """(node, input_nr) for a tensor argument of an op, or (None, 0) for a constant."""
    fn = t.grad_fn
    if fn is not None:
        return (fn, t._output_nr)
    if t._req:  # (requires_grad's own slot: the property costs a call per edge)
        return (grad_accumulator(t), 0)
    return _NO_EDGE
