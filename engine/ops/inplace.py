"""In-place ops: `t.add_(x)`, `t[i] = v`, `copy_`, `zero_`, ..., with torch's version counters and history.

Every in-place variant runs its op out of place on a stand-in of `t` (same history, same values), then writes
the result into `t`'s memory (so views and `detach()`ed aliases see it), moves `t`'s version counter, and
makes the op's node `t`'s grad_fn; on a view, the base's history is rewritten instead (CopySlices) and the
views regenerated (engine.autograd.views). torch's checks come first, with its messages: a leaf that requires
grad, a view of one, one of several views an op returned, a view made under no_grad, memory that several
elements share, a result dtype that cannot be cast back.
"""
from __future__ import annotations

import functools

import numpy as np

from engine import budget as _budget
from engine import dtypes as D
from engine.autograd import CopyBackwards, _seq, edge_of, grad_mode, note_output_storage
from engine.autograd import forward_ad as FW
from engine.autograd import graph as _graph
from engine.autograd.views import VIEW_CUSTOM, VIEW_MULTI, VIEW_NO_GRAD, copy_slices, rebase, regenerate_views
from engine.errors import TorchRuntimeError, TorchTypeError
from engine.ops import registry as _registry
from engine.ops import rules as R
from engine.ops._util import broadcast_shapes
from engine.ops.jvp import tmap, tsum
from engine.ops.registry import REGISTRY, Entry, defop, friendly_name
from engine.ops.scalar_fit import fill_value as _fill_value
from engine.ops.scalar_fit import setitem_value
from engine.tensor import Tensor

LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_MSG = "a view of a leaf Variable that requires grad is being used in an in-place operation."
OVERLAP_MSG = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
               "location. Please clone() the tensor before performing the operation.")
NO_GRAD_VIEW_MSG = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given that this use "
    "case is ambiguous and error-prone, it is forbidden. You can clarify your code by moving both the view and "
    "the inplace either both inside the no_grad block (if you don't want the inplace to be tracked) or both "
    "outside (if you want the inplace to be tracked).")

_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def check_inplace(t, others_require_grad=False):
    """torch's checks before an in-place op on t (check_inplace, handle_view_on_rebase)."""
    if grad_mode.enabled:
        base = t._base
        if base is None:
            if t._req and t.grad_fn is None:
                raise TorchRuntimeError(LEAF_MSG)
        else:
            if t._vflags & VIEW_CUSTOM and t._req:  # torch's handle_view_on_rebase comes before the leaf check
                fn = getattr(type(t.grad_fn), "function", None)
                raise TorchRuntimeError(
                    f"Output {t._output_nr} of {fn.__name__ if fn else friendly_name(t.grad_fn)} is a view and is "
                    "being modified inplace. This view was created inside a custom Function (or because an input "
                    "was returned as-is) and the autograd logic to handle view+inplace would override the custom "
                    "backward associated with the custom Function, leading to incorrect gradients. This behavior is "
                    "forbidden. You can fix this by cloning the output of the custom Function.")
            if t._vflags & VIEW_MULTI and t._req:
                raise TorchRuntimeError(
                    f"Output {t._output_nr} of {friendly_name(t.grad_fn)} is a view and is being modified inplace. "
                    "This view is the output of a function that returns multiple views. Such functions do not "
                    "allow the output views to be modified inplace. You should replace the inplace operation by "
                    "an out-of-place one.")
            if t._vflags & VIEW_NO_GRAD and (base._req or others_require_grad):
                raise TorchRuntimeError(NO_GRAD_VIEW_MSG)
            if base._req and base.grad_fn is None:  # after the view's own checks, as torch's check_inplace
                raise TorchRuntimeError(VIEW_OF_LEAF_MSG)
    d = t._data
    if d.size > 1 and any(st == 0 and n > 1 for st, n in zip(d.strides, d.shape)):
        raise TorchRuntimeError(OVERLAP_MSG)


def _can_cast(src, dst) -> bool:
    """torch.can_cast: no float to integer or bool, no integer to bool."""
    if src.kind == "f" and dst.kind in "iub":
        return False
    return not (src.kind in "iu" and dst.kind == "b")


def _stand_in(t):
    """A tensor of t's values and history that the out-of-place op records on: where its node saves it, it keeps
    the values from before the write (torch saves original_self), and no version check ties it to t."""
    s = Tensor._make(t._data)
    s._req, s.grad_fn, s._output_nr, s._acc = t._req, t.grad_fn, t._output_nr, t._acc
    if _registry._dual:
        s._fw = getattr(t, "_fw", None)  # and its tangent: the op's forward formula reads it
    return s


def apply(t, compute, others_require_grad=False):
    """Run `compute(stand_in)` (t's op out of place) and make its result t's new value and history; returns t."""
    check_inplace(t, others_require_grad)
    s = _stand_in(t)
    if _graph.packing and _graph.current_hooks() is not None:
        s._data = s._data.copy()  # a pack hook may keep s itself: it must keep the values from before the write
    out = compute(s)
    if not isinstance(out, Tensor):
        raise TorchRuntimeError("an in-place op must give one tensor")
    node = out.grad_fn if out._req else None
    if node is not None and s is not t:
        saved = getattr(node, "_saved", None)
        if saved and any(v is s for v in saved.values()):
            s._data = s._data.copy()  # the node keeps the values from before the write
    write(t, out._data)
    st = t._storage()
    st.version += 1
    if _registry._dual:  # forward-mode AD: t's tangent takes the result's, in place (engine.autograd.forward_ad)
        if node is not None and s is not t and FW.tangent_of(s) is not None:
            saved = getattr(node, "_saved", None)
            if saved and any(v is s for v in saved.values()):
                with FW.suspended():  # the node keeps the tangent from before the write too
                    FW.set_tangent(s, FW.tangent_of(s).clone())
        FW.inplace_tangent(t, out)
    if node is None:
        return t
    note_output_storage(node, out._output_nr, st, t)  # what the node saved of its output is t's memory now
    base = t._base
    if base is None:
        rebase(t, node, out._output_nr)
        regenerate_views(st, t)
    else:
        copy_slices(base, t, node)
        regenerate_views(st, base)
    return t


def write(t, values) -> None:
    """values into t's memory (cast to t's dtype), where every alias of it sees them."""
    d = t._data
    if values.shape != d.shape:
        try:
            np.broadcast_to(values, d.shape)
        except ValueError:
            raise TorchRuntimeError(
                f"output with shape [{', '.join(map(str, d.shape))}] doesn't match the broadcast shape "
                f"[{', '.join(map(str, values.shape))}]") from None
    if not _can_cast(values.dtype, d.dtype):
        raise TorchRuntimeError(f"result type {_TYPE_NAMES.get(values.dtype.name, values.dtype.name)} can't be cast "
                                f"to the desired output type {_TYPE_NAMES.get(d.dtype.name, d.dtype.name)}")
    if t._vc is None and t._base is None:
        # nothing aliases t's memory: its array is replaced (a buffer the engine shares inside, a gradient, stays)
        t._data = np.array(np.broadcast_to(values, d.shape), dtype=d.dtype) if values.shape != d.shape or \
            values.dtype != d.dtype else values
        return
    if not d.flags.writeable:
        d = _writable(t)
    np.copyto(d, values, casting="unsafe")


def _writable(t):
    """A writable array over t's memory, where NumPy handed out a read-only view (np.diagonal)."""
    base = t._base
    root = base._data if base is not None else t._data
    while isinstance(root.base, np.ndarray) and not root.flags.owndata:
        root = root.base
    if not root.flags.writeable:
        raise TorchRuntimeError(OVERLAP_MSG)
    d = t._data
    offset = d.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    w = np.ndarray(d.shape, d.dtype, buffer=root, offset=offset, strides=d.strides)
    t._data = w
    return w


def _requires_grad(values) -> bool:
    for v in values:
        if isinstance(v, Tensor) and v._req:
            return True
        if isinstance(v, list | tuple) and _requires_grad(v):
            return True
    return False


def _not_self(name, obj) -> TypeError:
    """torch's error for Tensor.<name>(obj, ...) where obj is no tensor (a request op's first argument)."""
    return TypeError(f"descriptor '{name}' for 'torch._C.TensorBase' objects doesn't apply to a "
                     f"'{type(obj).__name__}' object")


def _clamp_precheck(self, min=None, max=None):  # noqa: A002
    """clamp_ with number bounds: torch's structured meta refuses a result type self cannot hold before it
    converts a bound, naming self's C++ type ("result type Float can't be cast to the desired output type
    unsigned char")."""
    if isinstance(min, Tensor) or isinstance(max, Tensor) or (min is None and max is None):
        return
    from engine.dtypes import cpp_type_name, scalar_type_name  # noqa: PLC0415
    from engine.ops.pointwise_arith import clamp_dtype  # noqa: PLC0415
    from engine.ops.scalar_fit import scalar_arg  # noqa: PLC0415

    scalar_arg(min)
    scalar_arg(max)
    dt = clamp_dtype(self._data.dtype, min, max)
    if not _can_cast(dt, self._data.dtype):
        raise TorchRuntimeError(f"result type {scalar_type_name(dt)} can't be cast to the desired output type "
                                f"{cpp_type_name(self._data.dtype)}")


def _index_fill_precheck(self, dim=None, index=None, value=None, *args, **kwargs):
    """index_fill_ with a number: c10's checked conversion to self's dtype ("value cannot be converted to type
    uint8_t without overflow") before the op runs (scatter._index_fill makes the same check for the out-of-place
    index_fill, in the same order: dim and index, the value, then the bounds)."""
    dim, index, value = kwargs.get("dim", dim), kwargs.get("index", index), kwargs.get("value", value)
    if value is None or isinstance(value, Tensor) or not isinstance(index, Tensor):
        return
    from engine.ops.scalar_fit import fill_value, scalar_arg  # noqa: PLC0415
    from engine.ops.scatter import _index_check  # noqa: PLC0415

    scalar_arg(value)  # the Python parser's OverflowError comes before every check
    _index_check(self._data, dim, index, None, "index_fill")  # dim and index's dtype and dims come first,
    fill_value(value, self._data.dtype)  # then the value, then the bounds (the op's)


def _masked_fill_precheck(self, mask=None, value=None, *args, **kwargs):
    """masked_fill_ names self first where the mask does not broadcast (masked_fill names the mask first)."""
    mask = kwargs.get("mask", mask)
    if isinstance(mask, Tensor):
        broadcast_shapes(tuple(self._data.shape), tuple(mask._data.shape))


def _clamp_min_precheck(self, min=None):  # noqa: A002
    _clamp_precheck(self, min=min)  # clamp_min_ / clamp_max_: clamp_'s refusal with one bound (parity11)


def _clamp_max_precheck(self, max=None):  # noqa: A002
    _clamp_precheck(self, max=max)


def _divmod_precheck(self, other=None, *args, **kwargs):
    """fmod_ / remainder_ / floor_divide_ / div_ (rounding): torch's TensorIterator checks the output's shape, then
    the result type, before the kernel's refusals (bool not implemented, integer division by zero): a bool self
    refuses a result type it cannot hold ("result type Long can't be cast to the desired output type Bool"), the
    parser's and the promotion's errors first (parity12); an integer self of a broadcast shape other than its own
    is "output with shape ... doesn't match the broadcast shape ..." before a zero divisor's ZeroDivisionError."""
    kind = self._data.dtype.kind
    if other is None or kind not in "iub":
        return
    if kind == "b":
        from engine.ops.pointwise_divmod import number_check  # noqa: PLC0415

        number_check(self, other)
    _shape_first(self, other)
    if kind == "b":
        _cast_check(self, other)


def _shape_first(self, other) -> None:
    """TensorIterator's order for an in-place op of a tensor `other`: shapes that do not broadcast raise torch's
    size error ("The size of tensor a (2) must match ...", redteam12 F4: not the result type's), then a broadcast
    shape other than self's is "output with shape ... doesn't match the broadcast shape ..."."""
    if isinstance(other, Tensor):
        shape = tuple(self._data.shape)
        full = tuple(broadcast_shapes(shape, tuple(other._data.shape)))
        if full != shape:
            raise TorchRuntimeError(f"output with shape [{', '.join(map(str, shape))}] doesn't match the broadcast "
                                    f"shape [{', '.join(map(str, full))}]")


def _cast_check(self, other) -> None:
    """TensorIterator's next check: the result type must cast to self's dtype."""
    from engine.dtypes import result_type, scalar_type_name  # noqa: PLC0415

    dt = result_type(self, other)
    if not _can_cast(dt.np, self._data.dtype):
        raise TorchRuntimeError(f"result type {scalar_type_name(dt)} can't be cast to the desired output type "
                                f"{scalar_type_name(self._data.dtype)}")


def _bitwise_precheck(self, other=None, *args, **kwargs):
    """bitwise_and_ / or_ / xor_ by a tensor: the shapes, then the result type's cast, before the kernel's
    "not implemented for 'Float'" (redteam12 F4)."""
    if isinstance(other, Tensor):
        _shape_first(self, other)
        _cast_check(self, other)


def _ldexp_precheck(self, other=None, *args, **kwargs):
    """ldexp_: torch's ldexp_out refuses an integer or bool self (its result is floating) before the shapes."""
    if self._data.dtype.kind in "iub":
        from engine.dtypes import scalar_type_name  # noqa: PLC0415

        raise TorchRuntimeError(f"ldexp can't be cast to the desired output type {scalar_type_name(self._data.dtype)}")


def _float_power_precheck(self, exponent=None, *args, **kwargs):
    """float_power_: torch's first check, before the shapes: self must be of the result's dtype, Double."""
    if self._data.dtype != np.float64 and not isinstance(kwargs.get("exponent", exponent), complex):
        from engine.dtypes import scalar_type_name  # noqa: PLC0415

        raise TorchRuntimeError(f"the base given to float_power_ has dtype {scalar_type_name(self._data.dtype)} but "
                                "the operation's result requires dtype Double")


_PRECHECK = {"clamp_": _clamp_precheck, "clip_": _clamp_precheck, "index_fill_": _index_fill_precheck,
             "masked_fill_": _masked_fill_precheck, "clamp_min_": _clamp_min_precheck,
             "clamp_max_": _clamp_max_precheck, "fmod_": _divmod_precheck, "remainder_": _divmod_precheck,
             "floor_divide_": _divmod_precheck, "ldexp_": _ldexp_precheck, "float_power_": _float_power_precheck,
             "bitwise_and_": _bitwise_precheck, "bitwise_or_": _bitwise_precheck, "bitwise_xor_": _bitwise_precheck,
             "div_": lambda self, other=None, *a, rounding_mode=None, **k: None if rounding_mode is None
             else _divmod_precheck(self, other)}


def variant(name, fn):
    """The in-place method `name` (e.g. "add_") of the out-of-place function fn (engine's `add`); where the op
    table has an entry of that name (zero_, leaky_relu_: their own grad_fn names), that entry."""
    entry = REGISTRY.get(name)

    pre = _PRECHECK.get(name)

    def method(self, *args, **kwargs):
        if not isinstance(self, Tensor):
            raise _not_self(name, self)
        if pre is not None:
            pre(self, *args, **kwargs)
        rg = _requires_grad(args) or _requires_grad(kwargs.values())
        if entry is not None and not kwargs and len(args) + 1 <= entry.nparams:
            return apply(self, lambda s: entry(s, *args), rg)
        return apply(self, lambda s: fn(s, *args, **kwargs), rg)

    method.__name__ = name
    method.__doc__ = f"In place: self = {fn.__name__}(self, ...), as torch's Tensor.{name}."
    return method


# Tensor's in-place methods in torch 2.13 (dir(torch.Tensor)), each X_ of an out-of-place X: where the catalog
# has X, the engine has X_ (engine.ops.inplace.install). The metadata ones (t_, transpose_, squeeze_,
# unsqueeze_, swapaxes_, swapdims_) change the tensor's shape instead.
TORCH_INPLACE = (
    "abs_ absolute_ acos_ acosh_ add_ addbmm_ addcdiv_ addcmul_ addmm_ addmv_ addr_ arccos_ arccosh_ arcsin_ arcsinh_ "
    "arctan2_ arctan_ arctanh_ asin_ asinh_ atan2_ atan_ atanh_ baddbmm_ bitwise_and_ bitwise_left_shift_ "
    "bitwise_not_ bitwise_or_ bitwise_right_shift_ bitwise_xor_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ copysign_ "
    "cos_ cosh_ cumprod_ cumsum_ deg2rad_ digamma_ div_ divide_ eq_ erf_ erfc_ erfinv_ exp2_ exp_ expm1_ "
    "fill_diagonal_ fix_ float_power_ floor_ floor_divide_ fmod_ frac_ gcd_ ge_ greater_ greater_equal_ gt_ "
    "heaviside_ hypot_ i0_ index_add_ index_copy_ index_fill_ index_put_ index_reduce_ lcm_ ldexp_ le_ lerp_ less_ "
    "less_equal_ lgamma_ log10_ log1p_ log2_ log_ logical_and_ logical_not_ logical_or_ logical_xor_ logit_ lt_ "
    "masked_fill_ masked_scatter_ mul_ multiply_ mvlgamma_ nan_to_num_ ne_ neg_ negative_ nextafter_ not_equal_ "
    "polygamma_ pow_ put_ rad2deg_ reciprocal_ relu_ remainder_ renorm_ round_ rsqrt_ scatter_ scatter_add_ "
    "scatter_reduce_ sgn_ sigmoid_ sign_ sin_ sinc_ sinh_ sqrt_ square_ sub_ subtract_ tan_ tanh_ tril_ triu_ "
    "true_divide_ trunc_ xlogy_").split()
METADATA_INPLACE = ("t_", "transpose_", "squeeze_", "unsqueeze_", "swapaxes_", "swapdims_")
# The ones torch 2.13 also has as functions (torch.sin_(t), dir(torch)): engine.<name> where the engine has the method
TORCH_FUNCTION_INPLACE = frozenset((
    "abs_ acos_ acosh_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ atanh_ ceil_ clamp_ "
    "clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_ erf_ erfc_ exp2_ exp_ expm1_ fill_ fix_ floor_ frac_ gcd_ i0_ "
    "index_put_ lcm_ ldexp_ log10_ log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_ rad2deg_ reciprocal_ relu_ "
    "round_ rsqrt_ sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ trunc_ xlogy_ zero_").split())


def metadata_variant(name, fn):
    """t_, transpose_, ...: the tensor itself becomes the view the out-of-place op gives (torch: as_strided_)."""

    def method(self, *args, **kwargs):
        if not isinstance(self, Tensor):
            raise _not_self(name, self)
        check_inplace(self)
        out = fn(_stand_in(self), *args, **kwargs)
        self._data = out._data
        if out.grad_fn is not None:
            self.grad_fn, self._output_nr = out.grad_fn, out._output_nr
        if _registry._dual and FW.active() and FW.tangent_of(out) is not None:
            FW.set_tangent(self, FW.tangent_of(out))  # its tangent takes the new shape the same way
        return self

    method.__name__ = name
    return method


# ----- the ones that are not an out-of-place op written back -----

def _fill_value_check(value):
    if isinstance(value, Tensor) and value._data.ndim:
        raise TorchRuntimeError(
            f"fill_ only supports 0-dimension value tensor but got tensor with {value._data.ndim} dimensions.")


def _zeros_like(grad):
    from engine.ops.factory import zeros_like  # noqa: PLC0415

    return zeros_like(grad)


fill_scalar = defop("fill_.Scalar(Tensor(a!) self, Scalar value) -> Tensor(a!)",
                    lambda a, value: np.full_like(a, _fill_value(value, a.dtype, a.size == 1)), index=2,
                    rule=R.like("self"),
                    jvp="element_wise",
                    self=lambda grad: _zeros_like(grad))
fill_tensor = defop("fill_.Tensor(Tensor(a!) self, Tensor value) -> Tensor(a!)",
                    lambda a, value: np.full_like(a, D.cast_array(value, a.dtype)), index=3, rule=R.like("self"),
                    jvp=lambda self_t, value_t: tsum(tmap(self_t, _zeros_like), value_t),
                    self=lambda grad: _zeros_like(grad), value=lambda grad: grad.sum())


def fill_(self: Tensor, value: Tensor | float) -> Tensor:
    """Every element set to value (a number or a 0-d tensor): FillBackward2 / FillBackward3."""
    _fill_value_check(value)
    if isinstance(value, Tensor):
        return apply(self, lambda s: fill_tensor(s, value), value._req)
    return apply(self, lambda s: fill_scalar(s, value))


def zero_(self: Tensor) -> Tensor:
    """Every element set to zero: ZeroBackward0."""
    entry = REGISTRY["zero_"]
    return apply(self, lambda s: entry(s))


def copy_(self: Tensor, src: Tensor, non_blocking: bool = False) -> Tensor:
    """src's values (broadcast to self's shape, cast to its dtype) into self: CopyBackwards."""
    if not isinstance(src, Tensor):
        raise TorchTypeError(f"copy_(): argument 'src' (position 1) must be Tensor, not {type(src).__name__}")
    broadcast_shapes(tuple(self._data.shape), tuple(src._data.shape))
    if broadcast_shapes(tuple(self._data.shape), tuple(src._data.shape)) != tuple(self._data.shape):
        raise TorchRuntimeError(
            f"output with shape [{', '.join(map(str, self._data.shape))}] doesn't match the broadcast shape "
            f"[{', '.join(map(str, src._data.shape))}]")

    def compute(s):
        _budget.charge(s._data.size, s._data.itemsize, s._data.size, "copy_")
        sd = src._data
        if sd.dtype == D._F64 and s._data.dtype == D._F16:  # c10's double -> float -> Half (two roundings)
            sd = sd.astype(np.float32)
        out = Tensor._make(np.array(np.broadcast_to(sd, s._data.shape), dtype=s._data.dtype))
        if grad_mode.enabled and (s._req or src._req):
            node = CopyBackwards.__new__(CopyBackwards)
            node.next_functions = (edge_of(s), edge_of(src))
            node.src_meta = (src._data.shape, src._data.dtype)
            node._seq = next(_seq)
            node._retained = node._pre_hooks = node._hooks = None
            out._req, out.grad_fn = True, node
        if _registry._dual and FW.active():  # torch's: self_t.copy_(src_t), zeros where src has none
            src_t, self_t = FW.tangent_of(src), FW.tangent_of(s)
            if src_t is not None or self_t is not None:
                with FW.suspended():
                    t = _copy_tangent(src_t, out, FW.batch_size())
                FW.set_tangent(out, t)
        return out

    return apply(self, compute, src._req)


def _copy_tangent(src_t, out, bsz):
    """src's tangent as out's (zeros where src has none), the batch dim in front under a batched level."""
    shape = tuple(out._data.shape) if bsz is None else (bsz, *out._data.shape)
    if src_t is None:
        from engine.ops.factory import zeros  # noqa: PLC0415

        return zeros(shape, dtype=out.dtype)
    if bsz is not None and src_t._data.ndim < len(shape):  # the batch dim first, then broadcast as copy_ does
        src_t = src_t.reshape((bsz,) + (1,) * (len(shape) - src_t._data.ndim) + tuple(src_t._data.shape[1:]))
    t = src_t.expand(shape) if tuple(src_t._data.shape) != shape else src_t
    return t.to(out.dtype).clone() if t._data.dtype != out._data.dtype else t.clone()


def _random_fill(self, draw):
    check_inplace(self)
    _budget.charge(self._data.size, self._data.itemsize, self._data.size, "a random fill")
    from engine.ops.factory import _generator  # noqa: PLC0415

    values = np.asarray(draw(_generator[0], self._data.shape), dtype=self._data.dtype)
    write(self, values)
    self._storage().version += 1
    if _registry._dual and FW.active() and FW.tangent_of(self) is not None:  # torch's: self_t.zero_()
        FW.update_inplace(self, _zeros_like(self))
    return self


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    return _random_fill(self, lambda g, shape: g.uniform(a, b, shape))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    if not std >= 0.0:  # torch's check (C++ streams print the double as %g does)
        raise TorchRuntimeError(f"normal expects std >= 0.0, but found std {float(std):g}")
    return _random_fill(self, lambda g, shape: g.normal(mean, std, shape))


# ----- t[index] = value -----


def setitem(self, index, value):
    """t[index] = value, as torch's Tensor.__setitem__: a basic index writes through the view it selects
    (copy_: CopySlices on the base), an advanced one is index_put_ (IndexPutBackward0)."""
    from engine.ops.indexing import advanced_parts  # noqa: PLC0415

    if not isinstance(value, Tensor):  # a number: converted as torch's 0-d tensor of self's dtype (scalar_fit)
        value = Tensor._make(np.array(setitem_value(value, self._data.dtype), dtype=self._data.dtype))
    view, indices, one_mask = advanced_parts(self, index, basic=True)  # (one reading: its warnings once)
    if indices is None:
        copy_(view, value)
        return
    if one_mask == "uint8" and value._data.size == 1:  # (aten's masked_fill_ dispatch refuses a uint8 mask)
        raise TorchRuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype unsigned char")
    from engine.ops.indexing import index_put_  # noqa: PLC0415

    index_put_(view, indices, value, masked=one_mask)


# ----- installing them -----


def install(entries) -> list:
    """Tensor's in-place methods and operators, and the catalog entries (request ops) of the in-place
    variants of `entries`' ops."""
    by_name = {e.name: e for e in entries}
    out = []

    def add(name, method, base=None, doc=None):
        setattr(Tensor, name, method)
        out.append(Entry(name, method, doc or f"In place: {name[:-1]}, writing into the tensor.",
                         base.opdefs if base else (), function=name in TORCH_FUNCTION_INPLACE, method=True,
                         grad_fn_names=base.grad_fn_names if base else ()))

    for name in TORCH_INPLACE:
        base = by_name.get(name[:-1])
        if base is not None and base.method:
            add(name, functools.wraps(base.fn)(variant(name, base.fn)), base)
    for name in METADATA_INPLACE:
        base = by_name.get(name[:-1])
        if base is not None:
            add(name, functools.wraps(base.fn)(metadata_variant(name, base.fn)), base)
    add("fill_", fill_, doc="Every element set to value (a number or a 0-d tensor).")
    add("zero_", zero_, doc="Every element set to zero.")
    add("copy_", copy_, doc="src's values (broadcast, cast to self's dtype) written into self.")
    add("uniform_", uniform_, doc="Values drawn uniformly from [a, b) (the request's random stream).")
    add("normal_", normal_, doc="Values drawn from N(mean, std²) (the request's random stream).")
    Tensor.__setitem__ = setitem
    for op, name in (("__iadd__", "add_"), ("__isub__", "sub_"), ("__imul__", "mul_"), ("__itruediv__", "div_"),
                     ("__ipow__", "pow_"), ("__ifloordiv__", "floor_divide_"), ("__imod__", "remainder_"),
                     ("__iand__", "bitwise_and_"), ("__ior__", "bitwise_or_"), ("__ixor__", "bitwise_xor_")):
        method = getattr(Tensor, name, None)
        if method is not None:
            setattr(Tensor, op, method)
    return out
