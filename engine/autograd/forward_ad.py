"""torch.autograd.forward_ad: dual levels, dual tensors (a primal and its tangent), as PyTorch 2.13 has them.

A tensor's tangent lives in its `_fw` slot as (level, tangent): it counts only while that level is the one
entered on this thread, and exiting the level drops every tangent it gave (as torch deletes them). While no
level is entered anywhere, the op table's hook costs one global read per op (engine/ops/registry.py's
`_dual`); with one entered, each op whose operands have tangents computes its output's tangent from its
entry's forward formula (engine/ops/jvp.py), with the same engine ops, so under the request's budget and
differentiable again (reverse-over-forward), and the backward formulas of a pass run inside a level carry
tangents too (forward-over-reverse).

One level at a time, as torch ("Nested forward mode AD is not supported at the moment"); unlike torch, whose
level is global to the process, the level is per thread (grad mode is per thread in both): a service runs
requests on several threads at once. A level may be *batched* (private: functional.jacobian's and
func.jacfwd's vectorized forward mode, gradcheck's check_batched_forward_grad): every tangent then carries a
leading batch dimension, as torch's vmap over forward AD does.
"""
from __future__ import annotations

import threading
import weakref
from typing import NamedTuple

from engine import autograd as _A
from engine.autograd import backward_loop as _loop
from engine.autograd import nodes as _nodes
from engine.errors import TorchRuntimeError, TorchValueError

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual", "dual_level"]


def _tensor_cls():
    from engine.tensor import Tensor  # noqa: PLC0415 - engine.tensor imports engine.autograd

    return Tensor


# ----- the levels -----


class _Level:
    """One entered level: its number (torch's, always 0: one at a time), its batch size (None: unbatched
    tangents), and weak references to the tensors it gave tangents (their tangents go when it is exited)."""

    __slots__ = ("idx", "batch", "duals", "__weakref__")

    def __init__(self, idx, batch):
        self.idx = idx
        self.batch = batch
        self.duals = []


class _State(threading.local):
    level = None  # the _Level entered on this thread
    off = 0  # > 0 while a tangent formula (or the primal under the hook) runs: nothing propagates then


_state = _State()
_lock = threading.Lock()
_entered = 0  # threads with a level entered now (the hooks' global flags mirror it)


def _count(delta):
    global _entered
    from engine.ops import jvp as _jvp  # noqa: PLC0415 - installs the op table's hook on first use
    from engine.ops import registry  # noqa: PLC0415

    _jvp.installed()
    with _lock:
        _entered += delta
        registry._dual = _entered
        _A._fw_levels = _entered
        _loop._fw_levels = _entered
        _nodes._fw_levels = _entered


def current_level() -> int:
    """torch's forward_ad._current_level: this thread's entered level, -1 where none is."""
    lv = _state.level
    return -1 if lv is None else lv.idx


def enter_dual_level(*, _batch=None):
    """Enter a new forward grad level (the only one: torch supports no nesting); returns its number."""
    if _state.level is not None:
        raise TorchRuntimeError("Nested forward mode AD is not supported at the moment")
    _state.level = _Level(0, _batch)
    _count(1)
    return 0


def exit_dual_level(*, level=None):
    """Exit the level entered last, dropping every tangent it gave."""
    cur = current_level()
    if level is None:
        level = cur
    if level != cur:
        raise TorchRuntimeError(
            "Trying to exit a forward AD level that was not the last one that was created. This is not supported.")
    if level < 0:
        raise TorchRuntimeError("Dual level must be a positive number.")
    lv = _state.level
    _state.level = None
    _count(-1)
    for ref in lv.duals:
        t = ref()
        if t is not None and getattr(t, "_fw", None) is not None and t._fw[0] is lv:
            t._fw = None
    lv.duals = []


class dual_level:  # noqa: N801 - torch's name
    """`with dual_level():` enters a level and exits it on leaving (also usable as a decorator)."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False

    def __call__(self, fn):
        def wrapper(*a, **k):
            with dual_level():
                return fn(*a, **k)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


class _batched_level(dual_level):  # noqa: N801
    """A level whose tangents carry a leading batch dimension of `size` (vmap over forward AD)."""

    def __init__(self, size):
        self.size = int(size)

    def __enter__(self):
        return enter_dual_level(_batch=self.size)


# ----- tangents -----


def tangent_of(t):
    """t's tangent at this thread's level, or None."""
    fw = getattr(t, "_fw", None)
    if fw is None:
        return None
    lv = _state.level
    return fw[1] if lv is not None and fw[0] is lv else None


def set_tangent(t, tangent) -> None:
    """Make `tangent` t's tangent at this thread's level."""
    lv = _state.level
    t._fw = (lv, tangent)
    lv.duals.append(weakref.ref(t))


def batch_size():
    """The entered level's batch size (None: unbatched tangents, or no level)."""
    lv = _state.level
    return None if lv is None else lv.batch


class suspended:  # noqa: N801
    """While inside, no op propagates tangents (a tangent formula runs on primals and tangents as plain
    tensors, as torch's formulas read `self_p` and `self_t`)."""

    __slots__ = ()

    def __enter__(self):
        _state.off += 1

    def __exit__(self, *exc):
        _state.off -= 1
        return False


def active() -> bool:
    """Whether tangents propagate on this thread now."""
    return _state.level is not None and not _state.off


# ----- make_dual, unpack_dual -----


def _size(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _check_level(level, what):
    if level is None:
        level = current_level()
    if level < 0:
        return -1
    if level != current_level():
        raise TorchRuntimeError(f"Invalid level given to {what}")
    return level


def make_dual(tensor, tangent, *, level=None):
    """A new tensor aliasing `tensor` (a view of it: ViewBackward0 where it requires grad) whose tangent is
    `tangent`: as it is where its layout is tensor's, else a copy in tensor's layout."""
    if level is None:
        level = current_level()
    if level < 0:
        raise TorchRuntimeError(
            "Trying to create a dual Tensor for forward AD but no level exists, make sure to enter_dual_level() "
            "first.")
    if not tensor.is_floating_point():
        raise TorchValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not tangent.is_floating_point():
        raise TorchValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if level != current_level():
        raise TorchRuntimeError("Invalid level given to _make_dual")
    if tangent_of(tensor) is not None:
        raise TorchRuntimeError(
            "Making a dual Tensor based on a Tensor that already has a forward gradient at the same level "
            f"{level} is not supported.")
    batch = batch_size()
    shape = tuple(tensor._data.shape)
    tshape = tuple(tangent._data.shape)
    want = shape if batch is None else (batch, *shape)
    if tshape != want:
        raise TorchRuntimeError(
            "Trying to set a forward gradient that has a different size than that of the original Tensor, this is "
            f"not supported. Tensor is of size {_size(shape)} while the given forward gradient is of size "
            f"{_size(tshape)}.")
    if batch is None and not _same_layout(tangent, tensor):
        tangent = _copy_in_layout(tangent, tensor)
    from engine.ops.shape import view  # noqa: PLC0415

    with suspended():
        dual = view(tensor, shape)
    set_tangent(dual, tangent)
    return dual


def _same_layout(tangent, tensor):
    a, b = tangent._data, tensor._data
    return a.strides == b.strides or a.size <= 1 or (tangent.stride() == tensor.stride() and 0 not in a.strides)


def _copy_in_layout(tangent, tensor):
    """tangent's values in an array laid out as tensor's (torch's new_empty_strided + copy_)."""
    import numpy as np  # noqa: PLC0415

    from engine import budget  # noqa: PLC0415

    budget.charge(tensor._data.size, tangent._data.itemsize, what="a tangent's copy")
    arr = np.empty_like(tensor._data, dtype=tangent._data.dtype)
    arr[...] = tangent._data
    out = _tensor_cls()._make(arr)
    if tangent._req and _A.grad_mode.enabled:  # the copy stays differentiable in the tangent
        from engine.ops.pointwise import clone  # noqa: PLC0415

        with suspended():
            out = clone(tangent)
    return out


class UnpackedDualTensor(NamedTuple):
    """What unpack_dual returns: the primal (a view of the tensor, without tangent) and the tangent or None."""

    primal: object
    tangent: object


class Identity(_A.Node):
    """grad_fn of unpack_dual's primal where the dual requires grad (torch's C++ torch::autograd::Identity)."""

    __slots__ = ()

    def name(self):
        return "torch::autograd::Identity"

    def __repr__(self):
        return f"<CppFunction object at {hex(id(self))}>"

    def apply(self, grads, create_graph):
        return [grads[0]]


def unpack_dual(tensor, *, level=None):
    """(primal, tangent): the primal a view of `tensor` with no tangent, the tangent as it is (or None)."""
    if level is None:
        level = current_level()
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    if level != current_level() and getattr(tensor, "_fw", None) is not None:  # (torch checks duals only)
        raise TorchRuntimeError("Invalid level given to _fw_primal")
    return UnpackedDualTensor(primal_view(tensor), tangent_of(tensor))


def primal_view(t):
    """torch's _fw_primal: an alias of t (a view, grad_fn Identity where t requires grad) without tangent."""
    from engine.autograd.views import mark_views  # noqa: PLC0415

    Tensor = _tensor_cls()
    t._storage()  # a one-value tensor's NumPy scalar becomes an array its alias can share
    p = Tensor._make(t._data[...])
    mark_views((p,), t, False, _A.grad_mode.enabled)
    if t._req and _A.grad_mode.enabled:
        node = Identity.__new__(Identity)
        node.next_functions = (_A.edge_of(t),)
        node._seq = next(_A._seq)
        node._retained = node._pre_hooks = node._hooks = None
        p._req, p.grad_fn = True, node
    return p


# ----- the backward pass under a level (forward-over-reverse): where torch's gradients keep their tangents -----


def keep_tangent(dst, src):
    """dst (src.detach(), or a copy of src's values) with src's tangent, as torch's gradients keep it where the
    engine detaches them (autograd.grad's results, its grad_outputs, retain_grad's clone): torch never detaches
    there, and a gradient computed by formulas on dual tensors is dual (forward-over-reverse)."""
    t = tangent_of(src) if _state.level is not None and not _state.off else None
    if t is not None and dst._data.dtype.kind == "f":
        set_tangent(dst, t)
    return dst


def copied_tangent(dst, src):
    """dst (a copy of src's values made outside the op table) gets a copy of src's tangent, as torch's copy_ formula
    gives (diff with n=0: zeros_like(self).copy_(self))."""
    t = tangent_of(src) if _state.level is not None and not _state.off else None
    if t is not None:
        from engine.ops.pointwise import clone  # noqa: PLC0415

        with suspended():
            set_tangent(dst, clone(t))


def accumulated(var, new, stolen):
    """torch's AccumulateGrad for the tangents, after var.grad was set or added to (engine.autograd.nodes): a first
    gradient taken as it is (torch's detach of a buffer it steals: `stolen`) has no tangent, one copied
    (clone_obey_contract: new_empty_strided + copy_) has new's; a later one added in place (`grad += new`, no
    create_graph) adds new's tangent to the grad's in place (torch's add_ formula: `self_t.add_(other_t)`)."""
    if _state.level is None or _state.off:
        return
    grad = var._grad
    nt = tangent_of(new)
    if stolen is None:  # added in place
        if nt is None:
            return
        old = tangent_of(grad)
        if old is None:
            update_inplace(grad, nt)
            return
        with suspended():
            from engine.ops.inplace import write  # noqa: PLC0415

            write(old, (old + nt)._data)
            old._storage().version += 1
    elif not stolen and nt is not None and tangent_of(grad) is None:
        from engine.ops.pointwise import clone  # noqa: PLC0415

        with suspended():
            set_tangent(grad, clone(nt))


# ----- in-place ops: the tangent changes in place, as torch's do -----


def update_inplace(t, new):
    """After an in-place op on t whose out-of-place result had tangent `new` (None: it had none): t's tangent
    takes those values in place where t has one (its views and its base see them); where t had none, t gets
    one, a view of its base's tangent where t is a view (the base gets zeros first where it had none)."""
    if new is None:
        return
    from engine.ops.inplace import write  # noqa: PLC0415

    old = tangent_of(t)
    if old is not None:
        with suspended():
            if (new._req or old._req) and _A.grad_mode.enabled:  # torch's self_t.copy_(...): recorded
                from engine.ops.inplace import copy_  # noqa: PLC0415

                copy_(old, new)
            else:
                write(old, new._data)
                old._storage().version += 1
        return
    base = t._base
    if base is None:
        set_tangent(t, new)
        return
    view = _region_of_base_tangent(t, base)
    if view is None:
        set_tangent(t, new)
        return
    with suspended():
        write(view, new._data)
    set_tangent(t, view)


def inplace_tangent(t, out):
    """After an in-place op that wrote the values of `out` (its out-of-place result) into t outside
    engine.ops.inplace (nn.functional's inplace=True): t's tangent follows out's."""
    if _entered and active():
        update_inplace(t, tangent_of(out))


def _region_of_base_tangent(t, base):
    """A view of base's tangent (made, zeros, where it has none) at t's place in base, or None where no
    strided view gives that place."""
    import numpy as np  # noqa: PLC0415

    from engine.autograd.views import _affine, mark_views, positions  # noqa: PLC0415

    Tensor = _tensor_cls()
    bsz = batch_size()  # a batched level: each tangent has the batch dim in front, the view's region per row
    bt = tangent_of(base)
    if bt is None:
        from engine.ops.factory import zeros, zeros_like  # noqa: PLC0415

        with suspended():
            bt = zeros_like(base) if bsz is None else zeros((bsz, *base._data.shape), dtype=base.dtype)
        set_tangent(base, bt)
    if not bt._data.flags.c_contiguous:
        return None
    geometry = _affine(positions(t._data, base._data))
    if geometry is None:
        return None
    offset, strides = geometry
    flat = bt._data.reshape(-1)
    item = flat.itemsize
    shape = t._data.shape
    if bsz is not None:
        shape, strides = (bsz, *shape), (base._data.size, *strides)
    arr = np.lib.stride_tricks.as_strided(flat[offset:], shape, tuple(s * item for s in strides))
    v = Tensor._make(arr)
    mark_views((v,), bt, False, True)
    return v
