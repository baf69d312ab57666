"""Custom autograd Functions: torch.autograd.Function, its ctx, and once_differentiable.

As in torch, `ctx` is the backward node itself (`<Name>Backward`, whose next_functions hold an edge per tensor
input): `forward(ctx, *args)` runs with grad mode off and may `ctx.save_for_backward(...)`; the node's
`apply` calls `backward(ctx, *grads)` (grad mode on under create_graph, so a backward written with engine ops
is differentiable again) and checks what it returns with torch's messages.
"""
from __future__ import annotations

import functools

from engine import autograd as A
from engine.autograd import graph
from engine.autograd.graph import Packed, raw_saved_tensors
from engine.autograd.views import VIEW_CUSTOM, mark_views
from engine.errors import TorchRuntimeError


def _tensor_cls():
    from engine.tensor import Tensor  # noqa: PLC0415 - engine.tensor imports engine.autograd

    return Tensor


class FunctionNode(A.Node):
    """The backward node of one application of a Function (the `ctx` its forward and backward receive)."""

    __slots__ = ("needs_input_grad", "to_save", "_saved", "_released", "_is_tensor", "_in_meta", "_out_meta",
                 "non_differentiable", "materialize_grads", "dirty", "to_save_forward", "_in_jvp", "__dict__")
    function = None  # the Function subclass (set on each subclass of this node)

    def name(self):
        return type(self).__name__

    def __repr__(self):  # torch's Python-defined nodes print with the module torch defines them in
        return f"<torch.autograd.function.{type(self).__name__} object at {hex(id(self))}>"

    def save_for_backward(self, *tensors):
        self.to_save = tensors

    def save_for_forward(self, *tensors):
        """What `jvp` reads as ctx.saved_tensors (forward-mode AD)."""
        self.to_save_forward = tensors

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    def mark_dirty(self, *tensors):
        self.dirty = tensors

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        if getattr(self, "_in_jvp", False):
            return tuple(getattr(self, "to_save_forward", ()))
        if self._released:
            raise TorchRuntimeError(A.FREED_MSG)
        from engine.ops.registry import check_saved_output, check_saved_version  # noqa: PLC0415

        out = []
        for t, version, out_nr, storage_check in self._saved:
            if t is None:
                out.append(None)
                continue
            if type(t) is Packed:  # through saved-tensor hooks (engine.autograd.graph): unpacked at each use
                out.append(t.unpack(self))
                continue
            if storage_check is not None:
                check_saved_output(self, out_nr, *storage_check)
            elif t._vc is not None:
                check_saved_version(t, version)
            out.append(t)
        return tuple(out)

    saved_variables = saved_tensors

    @property
    def _raw_saved_tensors(self):
        return raw_saved_tensors(self)

    def release(self):
        self._released = True
        self._saved = ()

    def apply(self, grads, create_graph):
        Tensor = _tensor_cls()
        fn = type(self).function
        if self.materialize_grads:
            import numpy as np  # noqa: PLC0415

            grads = [g if g is not None or dt is None else Tensor._make(np.zeros(shape, dtype=dt))
                     for g, (shape, dt) in zip(grads, self._out_meta)]
        prev = A.grad_mode.enabled
        A.grad_mode.enabled = create_graph
        try:
            res = fn.backward(self, *grads)
        finally:
            A.grad_mode.enabled = prev
        if not isinstance(res, tuple):
            res = (res,)
        n = len(self._is_tensor)
        if len(res) != n:
            if len(res) > n and all(r is None for r in res[n:]):
                res = res[:n]  # torch drops trailing Nones
            else:
                raise TorchRuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                                        f"(expected {n}, got {len(res)})")
        out = []
        k = 0
        for i, (g, is_t) in enumerate(zip(res, self._is_tensor)):
            if not is_t:
                if g is not None:
                    raise TorchRuntimeError(
                        f"function {self.name()} returned a gradient different than None at position {i + 1}, but "
                        "the corresponding forward input was not a Variable")
                continue
            meta = self._in_meta[k]
            k += 1
            if g is None:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise TorchRuntimeError(f"function {self.name()} returned a gradient that is not a Tensor or None "
                                        f"at position {i + 1}")
            shape, dt = meta
            if g._data.shape != shape:
                if not _expandable(shape, g._data.shape):
                    raise TorchRuntimeError(
                        f"Function {self.name()} returned an invalid gradient at index {i} - got "
                        f"[{', '.join(map(str, g._data.shape))}] but expected shape compatible with "
                        f"[{', '.join(map(str, shape))}]")
            from engine.ops.registry import _conform  # noqa: PLC0415

            out.append(_conform(g, meta, not create_graph))
        return out


def _expandable(shape, grad_shape) -> bool:
    """Whether `shape` expands to `grad_shape` (a gradient torch sums back down to the input's shape)."""
    if len(shape) > len(grad_shape):
        return False
    return all(s == 1 or s == g for s, g in zip(reversed(shape), reversed(grad_shape)))


class FunctionMeta(type):
    """Gives each Function subclass its node class, `<Name>Backward`."""

    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_cls = type(f"{name}Backward", (FunctionNode,), {"__slots__": (), "function": cls})


class Function(metaclass=FunctionMeta):
    """torch.autograd.Function: subclass it with static `forward(ctx, *args)` and `backward(ctx, *grads)`, and
    call `Fn.apply(*args)`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it with "
                                  "forward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _tensor_cls()
        node_cls = cls._backward_cls
        ctx = node_cls.__new__(node_cls)
        is_tensor = tuple(isinstance(a, Tensor) for a in args)
        ctx._is_tensor = is_tensor
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._req for a in args)
        ctx.to_save = ()
        ctx.non_differentiable = ()
        ctx.dirty = ()
        ctx.materialize_grads = True
        ctx._released = False
        ctx._saved = ()
        tensors = [a for a in args if isinstance(a, Tensor)]
        ctx._in_meta = tuple((t._data.shape, t._data.dtype) for t in tensors)
        record = A.grad_mode.enabled and any(ctx.needs_input_grad)
        tangents = _input_tangents(args) if A._fw_levels else None  # forward-mode AD: jvp runs after forward
        prev = A.grad_mode.enabled
        A.grad_mode.enabled = False
        try:
            if tangents is None:
                out = cls.forward(ctx, *args, **kwargs)
            else:
                with _fwad().suspended():  # forward sees no tangents, as torch's
                    out = cls.forward(ctx, *args, **kwargs)
        finally:
            A.grad_mode.enabled = prev
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not record:
            if tangents is not None:
                _forward_ad(cls, ctx, args, tangents, outs, outs)
            return out
        ctx.next_functions = tuple(A.edge_of(t) for t in tensors)
        ctx.num_outputs = len(outs)
        ctx._seq = next(A._seq)
        ctx._retained = ctx._pre_hooks = ctx._hooks = None
        results = []
        meta = []
        for nr, o in enumerate(outs):
            if not isinstance(o, Tensor):
                results.append(o)
                meta.append(((), None))
                continue
            differentiable = not any(o is nd for nd in ctx.non_differentiable)
            if any(o is a for a in tensors):  # an input given back: a view of it carries the new history
                src = o
                o = Tensor._make(o._data)
                mark_views((o,), src, False, True)
            if o._base is not None:  # torch's CreationMeta::IN_CUSTOM_FUNCTION: no in-place change allowed
                o._vflags = VIEW_CUSTOM
            meta.append((o._data.shape, o._data.dtype))
            if o._data.dtype.kind == "f" and differentiable:
                o._req, o.grad_fn, o._output_nr = True, ctx, nr
            results.append(o)
        ctx._out_meta = tuple(meta)
        ctx._saved = tuple(_save(ctx, t, results) for t in ctx.to_save)
        if tangents is not None:  # torch runs jvp (_wrap_outputs) before it saves (and packs) the tensors
            _forward_ad(cls, ctx, args, tangents, outs, results)
        if graph.packing and ctx._saved:
            graph.pack_function(ctx, results)
        return results[0] if single else tuple(results)


# ----- forward-mode AD: Function.jvp -----


def _fwad():
    from engine.autograd import forward_ad  # noqa: PLC0415 - it imports this package

    return forward_ad


def _input_tangents(args):
    """Per argument, its tangent (zeros for a float tensor without one, None for anything else), or None where
    no argument has a tangent (nothing to propagate)."""
    fw = _fwad()
    if not fw.active():
        return None
    Tensor = _tensor_cls()
    ts = [fw.tangent_of(a) if isinstance(a, Tensor) else None for a in args]
    if all(t is None for t in ts):
        return None
    from engine.ops.factory import zeros_like  # noqa: PLC0415

    with fw.suspended():
        return [t if t is not None or not (isinstance(a, Tensor) and a._data.dtype.kind == "f") else zeros_like(a)
                for a, t in zip(args, ts)]


_ASSERT_FLOAT = (
    "(new_grad_base.is_floating_point() || new_grad_base.is_complex()) && (self_base.is_floating_point() || "
    "self_base.is_complex()) INTERNAL ASSERT FAILED at \"/__w/pytorch/pytorch/torch/csrc/autograd/autograd_meta.cpp\""
    ":159, please report a bug to PyTorch. Expected both tensor and its forward grad to be floating point or complex")


def _forward_ad(cls, ctx, args, tangents, outs, results):
    """cls.jvp(ctx, *tangents) (grad mode as the caller's, nothing propagating inside), its tangents checked as
    torch checks them and given to the outputs (`results`: what apply returns for `outs`)."""
    fw = _fwad()
    Tensor = _tensor_cls()
    ctx._in_jvp = True
    try:
        with fw.suspended():
            res = cls.jvp(ctx, *tangents)
    finally:
        ctx._in_jvp = False
    if not isinstance(res, tuple):
        res = (res,)
    if len(res) != len(outs):
        raise TorchRuntimeError("Function's jvp returned an invalid number of forward gradients "
                                f"(expected {len(outs)} but got {len(res)})")
    for i, (o, r, final) in enumerate(zip(outs, res, results)):
        if not isinstance(o, Tensor) or o._data.dtype.kind != "f" or any(o is n for n in ctx.non_differentiable):
            continue
        if r is None:
            raise TorchRuntimeError(_ASSERT_FLOAT)
        if not isinstance(r, Tensor):
            raise TorchRuntimeError(f"expected Variable or None (got {type(r).__name__}) for grad output {i}.")
        if r._data.shape != o._data.shape:
            raise TorchRuntimeError(
                "Trying to set a forward gradient that has a different size than that of the original Tensor, this "
                f"is not supported. Tensor is of size [{', '.join(map(str, o._data.shape))}] while the given forward "
                f"gradient is of size [{', '.join(map(str, r._data.shape))}].")
        if final is o or fw.tangent_of(final) is None:
            if fw.tangent_of(final) is not None:
                fw.update_inplace(final, r)  # an input modified in place (mark_dirty): its tangent, in place
            else:
                fw.set_tangent(final, r)


def _save(ctx, t, outputs):
    """A saved tensor with what its check at backward needs: its version now, or, for an output of this very
    Function, its Storage (checked as a saved output, named by this node)."""
    if t is None:
        return (None, 0, 0, None)
    for nr, o in enumerate(outputs):
        if o is t:
            st = t._storage()
            import weakref  # noqa: PLC0415

            return (t, st.version, nr, (st, st.version, weakref.ref(t)))
    return (t, t._version, 0, None)


def once_differentiable(fn):
    """torch.autograd.function.once_differentiable: backward runs with grad mode off; differentiating its result
    again fails, as in torch."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = A.grad_mode.enabled
        A.grad_mode.enabled = False
        try:
            out = fn(ctx, *args)
        finally:
            A.grad_mode.enabled = prev
        if not prev:
            return out
        Tensor = _tensor_cls()
        requires = any(isinstance(a, Tensor) and a._req for a in args)
        if not requires:
            return out
        outs = out if isinstance(out, tuple) else (out,)
        wrapped = tuple(_delayed_error(o, ctx) if isinstance(o, Tensor) else o for o in outs)
        return wrapped if isinstance(out, tuple) else wrapped[0]

    return wrapper


class DelayedError(A.Node):
    __slots__ = ("msg",)

    def name(self) -> str:  # torch's C++ node: its name() is namespaced (its repr is not)
        return "torch::autograd::DelayedError"

    def apply(self, grads, create_graph):
        raise TorchRuntimeError(self.msg)


def _delayed_error(t, ctx):
    node = DelayedError.__new__(DelayedError)
    node.msg = "trying to differentiate twice a function that was marked with @once_differentiable"
    node.next_functions = ((None, 0),)
    node._seq = next(A._seq)
    node._retained = node._pre_hooks = node._hooks = None
    out = _tensor_cls()._make(t._data)
    out._req, out.grad_fn = True, node
    return out
