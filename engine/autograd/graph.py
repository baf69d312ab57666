"""torch.autograd.graph: saved-tensor hooks (pack when a node saves a tensor, unpack at each use), the SavedTensor
objects that `grad_fn._raw_saved_<name>` gives, gradient edges and the version bump.

With a pair of hooks pushed (`with saved_tensors_hooks(pack, unpack):`), every tensor a node saves for its
backward is handed to `pack` when it is saved (an input as the very tensor given, an output as the very tensor
returned) and only what `pack` returns is kept; each use (the backward, `grad_fn._saved_<name>`,
`ctx.saved_tensors`) calls `unpack` on it and gives a new tensor with the saved tensor's place in the graph. As in
torch: the innermost pair applies, the hooks are per thread, pack runs under no_grad and must not modify its input
in place, and a saved tensor with hooks has no version check (torch cannot see through the hooks either).
"""
from __future__ import annotations

import threading
import weakref
from typing import NamedTuple

from engine import autograd as A
from engine.autograd import Node  # noqa: F401 - torch.autograd.graph.Node: every grad_fn is one
from engine.errors import TorchRuntimeError, TorchTypeError

PACK_INPLACE_MSG = (
    "A saved tensor pack hook is modifying its input in place. Tensors provided as input to pack hook cannot be "
    "modified by in-place operations as this can lead to unexpected side-effects. Please open an issue if you need "
    "to perform in-place operations on the input to a pack hook.")
DETACHED_MSG = ("Trying to use a saved tensor that has been detached in-place, i.e. with .detach_().This is not "
                "supported, please use out-of-place `.detach()` instead")
HOOKS_SET_MSG = ("Calling register_hooks on a saved tensor whose hooks have already been set. Hint: only one pair "
                 "of hooks is allowed at a time.")
HOOKS_FREED_MSG = (
    "Calling register_hooks on a saved tensor after it has been freed. Saved intermediate values of the graph are "
    "freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through "
    "the graph a second time or if you need to access saved variables after calling backward.")
HOOKS_NONE_MSG = "Calling register_hooks on a saved tensor with value None is forbidden"


def _tensor_cls():
    from engine.tensor import Tensor  # noqa: PLC0415 - engine.tensor imports engine.autograd

    return Tensor


def typename(x) -> str:
    """CPython's tp_name, as torch's messages print a Python object's type: `int`, `Tensor`, `numpy.ndarray`."""
    t = type(x)
    if t.__flags__ & (1 << 9) or t.__module__ == "builtins":  # a class defined in Python, or a builtin
        return t.__name__
    return f"{t.__module__}.{t.__qualname__}"


# ----- the hooks in force on this thread -----


class _State(threading.local):
    stack = ()  # the (pack, unpack) pairs pushed on this thread, innermost last
    disabled = None  # the message disable_saved_tensors_hooks set, or None


_state = _State()
_count_lock = threading.Lock()
# Threads with hooks pushed: while 0, a node that saves tensors pays one read of this for them (engine.ops.registry).
packing = 0


def _push(pack_hook, unpack_hook):
    global packing
    if _state.disabled is not None:
        raise TorchRuntimeError(_state.disabled)
    if not _state.stack:
        with _count_lock:
            packing += 1
    _state.stack = (*_state.stack, (pack_hook, unpack_hook))


def _pop():
    global packing
    _state.stack = _state.stack[:-1]
    if not _state.stack:
        with _count_lock:
            packing -= 1


class saved_tensors_hooks:  # noqa: N801 - torch's name
    """torch.autograd.graph.saved_tensors_hooks(pack_hook, unpack_hook): `pack_hook(tensor) -> Any` is called when
    a node saves a tensor for backward, `unpack_hook(packed) -> Tensor` each time the saved tensor is used."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        _push(self.pack_hook, self.unpack_hook)

    def __exit__(self, *exc):
        _pop()


class save_on_cpu(saved_tensors_hooks):  # noqa: N801 - torch's name
    """torch.autograd.graph.save_on_cpu: saved tensors kept in host memory, copied back to their device at each use.
    Under NumPy every tensor is in host memory already (nothing is copied, as torch on a CPU). The engine has no
    page-locked allocator: with pin_memory=True the host copy is an ordinary one and the copies are synchronous."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        import engine  # noqa: PLC0415

        def pack_to_cpu(tensor):
            if not pin_memory:
                return (tensor.device, tensor.cpu())
            packed = engine.empty(tensor.size(), dtype=tensor.dtype, device="cpu")  # not page-locked
            packed.copy_(tensor)
            return (tensor.device, packed)

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device, non_blocking=pin_memory)

        super().__init__(pack_to_cpu, unpack_from_cpu)


class disable_saved_tensors_hooks:  # noqa: N801 - torch's name (a contextmanager there)
    """torch.autograd.graph.disable_saved_tensors_hooks(error_message): pushing hooks inside raises
    RuntimeError(error_message); entering it while hooks are pushed raises it at once."""

    def __init__(self, error_message: str):
        self.error_message = error_message

    def __enter__(self):
        self.prev = _state.disabled
        _state.disabled = self.error_message
        if _state.stack:
            _state.disabled = self.prev
            raise TorchRuntimeError(self.error_message)

    def __exit__(self, *exc):
        _state.disabled = self.prev
        return False


def current_hooks():
    """The (pack, unpack) pair in force on this thread, or None."""
    stack = _state.stack
    return stack[-1] if stack else None


# ----- packing -----


class Packed:
    """What a node keeps of a saved tensor that went through a pack hook: the hook's result, the unpack hook, and
    the saved tensor's place in the graph (its grad_fn and output number, or, for a leaf, requires_grad and its
    AccumulateGrad), which the unpacked tensor is given. `output`: the saving node's own output (its grad_fn is
    the node that unpacks it, as torch does not store it). `fw`: the saved tensor's forward-mode tangent at pack
    time (torch's SavedVariable keeps fw_grad_ beside the packed data and gives it back at unpack)."""

    __slots__ = ("packed", "unpack_hook", "grad_fn", "output_nr", "requires_grad", "acc", "output", "fw")

    def unpack(self, node):
        r = self.unpack_hook(self.packed)
        Tensor = _tensor_cls()
        if not isinstance(r, Tensor):
            raise TorchTypeError(
                f"Output of saved tensor unpack_hook expected to be a Tensor but got result of type {typename(r)}")
        t = Tensor._make(r._data)
        fn = self.grad_fn
        if self.output:
            if node is None:
                raise TorchRuntimeError(DETACHED_MSG)
            fn = node
        if fn is not None:
            t._req, t.grad_fn, t._output_nr = True, fn, self.output_nr
        else:
            t._req, t._acc = self.requires_grad, self.acc
        if self.fw is not None:
            t._fw = self.fw
        return t


def pack(hooks, t, output_nr=None, meta=None):
    """A Packed of tensor `t` through the pair `hooks`: `output_nr` where t is the saving node's output; `meta`, the
    tensor whose graph place the unpacked value takes, where it is not t itself (a detached copy was packed)."""
    pack_hook, unpack_hook = hooks
    src = t if meta is None else meta
    p = Packed()
    p.unpack_hook = unpack_hook
    p.output = output_nr is not None
    p.output_nr = output_nr if p.output else src._output_nr
    p.grad_fn = None if p.output else src.grad_fn
    p.requires_grad = src._req
    p.acc = src._acc if src.grad_fn is None else None
    p.fw = getattr(src, "_fw", None)
    version = t._version
    prev = A.grad_mode.enabled
    A.grad_mode.enabled = False
    try:
        p.packed = pack_hook(t)
    finally:
        A.grad_mode.enabled = prev
    if t._version != version:
        raise TorchRuntimeError(PACK_INPLACE_MSG)
    return p


class PackedSaved(dict):
    """An op node's saved tensors once one of them went through a pack hook: OpNode.apply then unpacks each once a
    call (apply_unpacked), as torch's nodes unpack every saved variable once at the top of their apply."""

    __slots__ = ()


def apply_unpacked(node, grads, create_graph):
    """node.apply over its saved tensors unpacked once each: inputs as the unpacked tensors, outputs as their
    values; the version bookkeeping of a packed entry is dropped (torch checks no versions through hooks)."""
    saved = node._saved
    plain = {}
    packed = set()
    for k, v in saved.items():
        if type(v) is Packed:
            u = v.unpack(node)
            plain[k] = u._data if v.output else u
            packed.add(k)
        elif type(k) is str:
            plain[k] = v
    for k, v in saved.items():
        if type(k) is tuple:
            if k[0] == "fw":  # a saved output's tangent (forward-over-reverse) stays with it
                plain[k] = v
                continue
            name = k[1] if k[0] == "v" else ("result" if k[1] == 0 else f"result{k[1]}")
            if name not in packed:
                plain[k] = v
    node._saved = plain
    try:
        return node.apply(grads, create_graph)
    finally:
        node._saved = saved


def pack_node(node, outs):
    """Pack what an op node (engine.ops.registry) has just saved, with this thread's hooks, if any: its saved
    inputs are the tensors given, its saved outputs `outs` (the tensors the op returns)."""
    hooks = current_hooks()
    if hooks is None:
        return
    Tensor = _tensor_cls()
    saved = node._saved
    for name in [k for k in saved if type(k) is str]:
        v = saved[name]
        if isinstance(v, Tensor):
            saved[name] = pack(hooks, v)
        elif node.op.argkind.get(name) == 1:
            nr = 0 if name == "result" else int(name[6:])
            saved[name] = pack(hooks, outs[nr], nr)
    node._saved = PackedSaved(saved)


def pack_function(ctx, outputs):
    """Pack what a custom Function's ctx saved (engine.autograd.function), with this thread's hooks, if any."""
    hooks = current_hooks()
    if hooks is None:
        return
    rows = []
    for t, version, nr, storage_check in ctx._saved:
        if t is None:
            rows.append((t, version, nr, storage_check))
        else:
            rows.append((pack(hooks, t, nr if storage_check is not None else None), 0, nr, None))
    ctx._saved = tuple(rows)


# ----- grad_fn._raw_saved_<name>: torch._C._autograd.SavedTensor -----


_proxies: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # (id(node), key) -> SavedTensor


class SavedTensor:
    """One tensor a node saved (torch._C._autograd.SavedTensor): `register_hooks(pack, unpack)` packs it now and
    unpacks it at each later use, `data` is what the node holds (the packed object once hooked), `unpack()` the
    tensor as a use sees it."""

    __slots__ = ("_node", "_key", "__weakref__")

    def __init__(self, *args, **kwargs):
        raise TorchRuntimeError("Trying to create a SavedTensor object from Python is forbidden.")

    @classmethod
    def _of(cls, node, key):
        """The one SavedTensor object of `node`'s saved `key` while anything holds it (torch's are unique too)."""
        k = (id(node), key)
        s = _proxies.get(k)
        if s is None:
            s = object.__new__(cls)
            s._node, s._key = node, key
            _proxies[k] = s
        return s

    def _slot(self):
        """(state, value, is_output): state "none" (nothing saved there), "freed", or "saved"."""
        node, key = self._node, self._key
        if isinstance(key, int):  # a custom Function's ctx: the key-th tensor of save_for_backward
            if node._released:
                return "freed", None, False
            t, _, _, storage_check = node._saved[key]
            return ("none" if t is None else "saved"), t, storage_check is not None
        if key not in _planned(node):
            return "none", None, False
        if node._released:
            return "freed", None, False
        return "saved", node._saved[key], node.op.argkind[key] == 1

    def _store(self, value):
        node, key = self._node, self._key
        if isinstance(key, int):
            rows = list(node._saved)
            rows[key] = (value, 0, rows[key][2], None)
            node._saved = tuple(rows)
        else:
            node._saved = PackedSaved(node._saved)
            node._saved[key] = value

    @property
    def data(self):
        state, v, is_output = self._slot()
        if state != "saved":
            return None
        if type(v) is Packed:
            return v.packed
        if is_output:
            return _tensor_cls()._make(v if not isinstance(v, _tensor_cls()) else v._data)
        return v

    @property
    def unpack_hook(self):
        state, v, _ = self._slot()
        return v.unpack_hook if state == "saved" and type(v) is Packed else None

    def unpack(self):
        state, v, is_output = self._slot()
        if state == "none":
            return None
        if state == "freed":
            raise TorchRuntimeError(A.FREED_MSG)
        if type(v) is Packed:
            return v.unpack(None)
        if is_output:
            raise TorchRuntimeError(DETACHED_MSG)
        if isinstance(self._key, int):
            return self._node.saved_tensors[self._key]
        return self._node._resolve(self._key)

    def register_hooks(self, pack_hook, unpack_hook):
        state, v, is_output = self._slot()
        if state == "saved" and type(v) is Packed:
            raise TorchRuntimeError(HOOKS_SET_MSG)
        if state == "none":
            raise TorchRuntimeError(HOOKS_NONE_MSG)
        if state == "freed":
            raise TorchRuntimeError(HOOKS_FREED_MSG)
        Tensor = _tensor_cls()
        hooks = (pack_hook, unpack_hook)
        if is_output:  # the node's output, as torch holds it: its values, outside the graph
            nr = self._key if not isinstance(self._key, int) else self._node._saved[self._key][2]
            nr = (0 if nr == "result" else int(nr[6:])) if isinstance(nr, str) else nr
            values = Tensor._make(v._data if isinstance(v, Tensor) else v)
            self._store(pack(hooks, values, nr))
        else:
            self._store(pack(hooks, v.detach(), meta=v))

    def __repr__(self):
        return f"<torch._C._autograd.SavedTensor object at {hex(id(self))}>"


def _planned(node):
    """The names an op node saved when it was recorded (its entry's save plan for the inputs that needed a grad)."""
    op = node.op
    return {name for name, _, _ in op._save_plan(list(node._needs))}


def raw_saved(node, key):
    """grad_fn._raw_saved_<key> of an op node: a SavedTensor for a tensor its entry saves, else None (the caller
    raises AttributeError)."""
    if node.op.argkind.get(key) in (0, 1):
        return SavedTensor._of(node, key)
    return None


def raw_saved_tensors(ctx):
    """ctx._raw_saved_tensors of a custom Function's node."""
    if ctx._released:
        raise TorchRuntimeError(A.FREED_MSG)
    return tuple(SavedTensor._of(ctx, i) for i in range(len(ctx._saved)))


# ----- gradient edges, version counters -----


class GradientEdge(NamedTuple):
    """torch.autograd.graph.GradientEdge: the (node, output_nr) a tensor's gradient flows into."""

    node: object
    output_nr: int


def get_gradient_edge(tensor) -> GradientEdge:
    """torch.autograd.graph.get_gradient_edge: `autograd.grad(loss, get_gradient_edge(x))` is `autograd.grad(loss,
    x)`."""
    if not tensor.requires_grad:
        raise TorchRuntimeError("It is not possible to get the gradient edge for a Tensor that does not require "
                                "gradients")
    fn = tensor.grad_fn if tensor.grad_fn is not None else A.grad_accumulator(tensor)
    return GradientEdge(fn, tensor._output_nr)


def increment_version(tensor) -> None:
    """torch.autograd.graph.increment_version: mark tensors as modified in place behind autograd's back, so that
    a backward that saved them before fails its version check."""
    Tensor = _tensor_cls()
    for t in (tensor,) if isinstance(tensor, Tensor) else tensor:
        t._storage().version += 1
