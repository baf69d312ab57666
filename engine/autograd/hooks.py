"""Backward hooks on tensors and nodes, run where torch's engine runs them.

A node's hooks live in one NodeHooks object (`node._hooks`, None until something is registered: the backward
loop reads that one attribute per node). Around a node, torch's engine (call_function) runs, in this order:
the tensor hooks of its outputs (`Tensor.register_hook`, grouped per tensor in the order each tensor's first
hook came, each group in registration order), the retain_grad captures, the node's pre-hooks
(`Node.register_prehook`), the node, then its post-hooks (`Node.register_hook`); an AccumulateGrad also runs the
leaf's post-accumulate-grad hooks after accumulating. A hook's result replaces what it was given, checked as
torch checks it (type, size, tuple length, no value where there was None), with torch's messages.
"""
from __future__ import annotations

import weakref

from engine._hooks import RemovableHandle
from engine.autograd import graph
from engine.errors import TorchRuntimeError, TorchTypeError


def _tensor_cls():
    from engine.tensor import Tensor  # noqa: PLC0415 - engine.tensor imports engine.autograd

    return Tensor


class NodeHooks:
    """Everything registered on one node."""

    __slots__ = ("tensor_pre", "retains", "pre", "post", "post_acc")

    def __init__(self):
        self.tensor_pre = []  # [weak reference to the tensor, its output_nr, {handle id: hook}] per tensor
        self.retains = None  # {output_nr: weak reference to the tensor that retains its grad}
        self.pre = None  # {handle id: hook(grad_outputs) -> tuple or None}
        self.post = None  # {handle id: hook(grad_inputs, grad_outputs) -> tuple or None}
        self.post_acc = None  # AccumulateGrad only: {handle id: hook(leaf) -> None}

    # ----- what the backward loop calls -----

    def before_capture(self, grads, create_graph, retain=True):
        """The tensor hooks and retain_grad captures (what torch runs before autograd.grad captures a gradient
        at a node it does not execute)."""
        for _ref, nr, hooks in self.tensor_pre:
            if hooks:
                g = grads[nr]
                for fn in tuple(hooks.values()):
                    r = fn(g)
                    if r is not None and r is not g:
                        _check_single(g, r, fn)
                        g = r
                if g is not grads[nr]:
                    grads = list(grads)
                    grads[nr] = g
        if self.retains and retain:
            _store_retained(self.retains, grads, create_graph)
        return grads

    def before(self, grads, create_graph, retain=True):
        """Everything that runs before the node: tensor hooks, retain_grad captures, pre-hooks (a batched
        backward's rows skip retain_grad: retain=False)."""
        grads = self.before_capture(grads, create_graph, retain)
        if self.pre:
            t = tuple(grads)
            for fn in tuple(self.pre.values()):
                r = fn(t)
                if r is not None and r is not t:
                    _check_tuple(t, r, fn)
                    t = r
            grads = list(t)
        return grads

    def after(self, out, grads):
        """The post-hooks: hook(grad_inputs, grad_outputs) may replace grad_inputs (what the node gives)."""
        gi, go = tuple(out), tuple(grads)
        for fn in tuple(self.post.values()):
            r = fn(gi, go)
            if r is not None and r is not gi:
                _check_tuple(gi, r, fn)
                gi = r
        return list(gi)

    def after_accumulate(self, var):
        modified = False
        for fn in tuple(self.post_acc.values()):
            r = fn(var)
            if r is not None and r is not var:
                _check_single(var, r, fn)
                var, modified = r, True
        if modified:
            raise TorchRuntimeError("Tensor post accumulate grad hooks should return None.")


def hooks_of(node) -> NodeHooks:
    hk = node._hooks
    if hk is None:
        hk = node._hooks = NodeHooks()
    return hk


def _detached(g):
    """g detached, with its tangent under a forward-AD level (torch's retains_grad hook clones g as it is)."""
    from engine import autograd as A  # noqa: PLC0415

    if not A._fw_levels:
        return g.detach()
    return A._keep_tangent(g.detach(), g)


def _store_retained(retains, grads, create_graph):
    """torch's retains_grad hook: the first gradient cloned into .grad, later ones added (a new tensor)."""
    for nr, ref in retains.items():
        t = ref()
        g = grads[nr]
        if t is None or g is None:
            continue
        if t._grad is None:
            t._grad = g.clone() if create_graph else _detached(g).clone()
        else:
            t._grad = t._grad + g


# ----- registering -----


def _handle(hooks_dict, fn):
    h = RemovableHandle(hooks_dict)
    hooks_dict[h.id] = fn
    return h


def register_node_hook(node, fn, kind):
    """Node.register_hook (kind "post") / Node.register_prehook ("pre")."""
    hk = hooks_of(node)
    d = getattr(hk, kind)
    if d is None:
        d = {}
        setattr(hk, kind, d)
    return _handle(d, fn)


def _leaf_node(t):
    """A leaf's AccumulateGrad, held by the tensor from now on (torch keeps a leaf's hooks on the tensor; the node
    is otherwise only weakly held until a graph uses it)."""
    from engine.autograd import grad_accumulator  # noqa: PLC0415
    from engine.tensor import _StrongRef  # noqa: PLC0415

    node = grad_accumulator(t)
    t._acc = _StrongRef(node)
    return node


def register_tensor_hook(t, fn):
    """Tensor.register_hook: fn(grad) -> Tensor or None, run on the gradient of t before its grad_fn (or its
    AccumulateGrad) runs; called with None where no gradient reaches t's output of a node that runs."""
    if not t._req:
        raise TorchRuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    node = _leaf_node(t) if t.grad_fn is None else t.grad_fn
    hk = hooks_of(node)
    for ref, nr, hooks in hk.tensor_pre:
        if ref() is t and nr == t._output_nr:
            return _handle(hooks, fn)
    hooks = {}
    hk.tensor_pre.append((weakref.ref(t), t._output_nr, hooks))
    return _handle(hooks, fn)


def register_post_accumulate_grad_hook(t, fn):
    """Tensor.register_post_accumulate_grad_hook: fn(leaf) after the leaf's .grad was accumulated."""
    if not t._req:
        raise TorchRuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is not None:
        raise TorchRuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    hk = hooks_of(_leaf_node(t))
    if hk.post_acc is None:
        hk.post_acc = {}
    return _handle(hk.post_acc, fn)


def retain(node, nr, t):
    """t (output nr of node) retains its grad: captured at node, after the tensor hooks."""
    hk = hooks_of(node)
    if hk.retains is None:
        hk.retains = {}
    hk.retains[nr] = weakref.ref(t)


def move_retains(old, old_nr, node, nr, t):
    """t's history moved from (old, old_nr) to (node, nr) (an in-place change): its retain_grad goes with it."""
    hk = old._hooks if old is not None else None
    if hk is not None and hk.retains and old_nr in hk.retains:
        del hk.retains[old_nr]
    retain(node, nr, t)


# ----- torch's checks of what a hook returns (torch/csrc/autograd/python_hook.cpp) -----


def _hook_name(fn) -> str:
    return getattr(fn, "__name__", "<unknown>")


def _check_single(original, result, fn):
    Tensor = _tensor_cls()
    if original is None:
        raise TorchRuntimeError("can't replace a None gradient with a non-None value")
    if not isinstance(result, Tensor):
        raise TorchTypeError(f"expected Variable, but hook returned '{graph.typename(result)}'")
    if original.type() != result.type():
        raise TorchRuntimeError(f"hook '{_hook_name(fn)}' has changed the type of value (was {original.type()} got "
                                f"{result.type()})")
    if original.is_cuda != result.is_cuda:
        where = " (was CUDA tensor got CPU tensor)" if original.is_cuda else " (was CPU tensor got CUDA tensor)"
        raise TorchRuntimeError(f"hook '{_hook_name(fn)}' has changed the type of value{where}")
    if tuple(original._data.shape) != tuple(result._data.shape):
        raise TorchRuntimeError(f"hook '{_hook_name(fn)}' has changed the size of value")


def _check_tuple(original, result, fn):
    if not isinstance(result, tuple):
        raise TorchTypeError(f"expected tuple, but hook returned '{graph.typename(result)}'")
    if len(result) != len(original):
        raise TorchRuntimeError(f"hook '{_hook_name(fn)}' has returned an incorrect number of values (got "
                                f"{len(result)}, but expected {len(original)})")
    for o, r in zip(original, result):
        if r is not None:
            _check_single(o, r, fn)
