"""Forward-mode AD on the op table: an entry's forward formula (its `jvp=`) run for one call, batched or not.

An entry's `jvp=` is its line `result:` of derivatives.yaml:

- `"element_wise"` (auto_element_wise): its backward formula with the tangent in the place of `grad`, for
  elementwise entries (their Jacobian is diagonal in each input: with several inputs, the sum of each input's
  formula applied to its tangent);
- `"linear"` (auto_linear): the entry itself applied to the tangents (zeros for an operand without one), for
  entries linear in their tensor operands together;
- a function whose parameters are named as a backward formula's (`self`, `result`, `self_shape`, an
  attribute), `<input>_t` being that input's tangent: None where it has none (a Python number, an integer
  tensor, a tensor without tangent), so a formula sums the terms of the tangents it has (`tsum`, `tmap`); it
  returns the output's tangent (a tuple for nout > 1; None for an output without one). A tangent of another
  shape is expanded to the output's, one of another dtype cast to it (torch's formulas lean on the same).

Under a batched level (forward_ad._batched_level: vmap over forward AD) every tangent carries a leading batch
dimension B. `"element_wise"` and `pointwise(fn)` run as written on tangents given singleton dims up to the
output's rank (they broadcast); `shifted(spec, *dims)` runs with its named dim attributes moved past the batch;
`reshaped(spec)` reshapes the tangent to the output's shape; any other entry runs once per row of the batch and
stacks the rows, as torch's vmap falls back for operators without a batching rule: the values are the same.

The formulas run with propagation suspended (they read primals and tangents as plain tensors, torch's `self_p`
and `self_t`) and with the engine's own ops: their costs go to the request's budget, and where the tangents or
primals require grad the tangent has a graph (reverse-over-forward).
"""
from __future__ import annotations

import inspect

from engine import budget as _budget
from engine import dtypes as D
from engine.autograd import forward_ad as FW
from engine.autograd import grad_mode as _grad
from engine.errors import TorchNotImplementedError
from engine.ops import registry as R
from engine.ops._util import wrap_dim
from engine.tensor import Tensor

MISS = R._NO_JVP

NOT_IMPLEMENTED = (
    "Trying to use forward AD with {name} that does not support it because it has not been implemented yet.\n"
    "Please file an issue to PyTorch at https://github.com/pytorch/pytorch/issues/new?template=feature-request.yml "
    "so that we can prioritize its implementation or submit a PR adding the implementation to derivatives.yaml"
)

UNSUPPORTED = "Trying to use forward AD with aten::{name} that does not support it."


def no_forward_formula(name, *inputs):
    """torch's error where its op `name` (a backward function the engine composes of other ops: huber_loss's)
    has no forward formula and an input has a tangent."""
    if R._dual and FW.active() and any(isinstance(t, Tensor) and FW.tangent_of(t) is not None for t in inputs):
        raise TorchNotImplementedError(NOT_IMPLEMENTED.format(name=name))


ZERO_TENSOR_IMMUTABLE = ("ZeroTensors are immutable. Please use the materialized zero tensor obtained using .clone() "
                         "if you want a mutable tensor.")


def zero_tensor_write(grad, *inputs):
    """torch's error where its forward formula writes in place into a missing tangent (a ZeroTensor): mse_loss's
    backward with a mean reduction run while a tangent reaches it (forward-over-reverse) but not every one of
    `inputs` has one (measured on torch 2.13: the gradient's own tangent does not matter)."""
    if R._dual and FW.active():
        has = [isinstance(t, Tensor) and FW.tangent_of(t) is not None for t in inputs]
        if not all(has) and (any(has) or (isinstance(grad, Tensor) and FW.tangent_of(grad) is not None)):
            from engine.errors import TorchRuntimeError  # noqa: PLC0415

            raise TorchRuntimeError(ZERO_TENSOR_IMMUTABLE)


def refuse(aten_name, *inputs):
    """torch's error for an op with no forward formula at all (its grad_fn is NotImplemented), where an input has
    a tangent: the ops the engine computes outside the table (floor_divide) call it first."""
    if R._dual and FW.active() and any(isinstance(t, Tensor) and FW.tangent_of(t) is not None for t in inputs):
        raise TorchNotImplementedError(UNSUPPORTED.format(name=aten_name))


# ----- helpers for formulas -----


def tsum(*terms):
    """The sum of the terms that are not None (None where all are): a formula's terms, one per tangent."""
    out = None
    for t in terms:
        if t is None:
            continue
        out = t if out is None else out + t
    return out


def tmap(t, fn):
    """fn(t), or None where the tangent t is None."""
    return None if t is None else fn(t)


# ----- specs: how an entry's tangent is computed, and how under a batched level -----


class Spec:
    __slots__ = ("how", "batch", "dims", "reduction", "uses", "cast", "links", "reads")

    def __init__(self, how, batch=None, dims=(), reduction=None, uses=None, cast=True, links=True):
        self.how = how  # "element_wise", "linear" or a function
        self.batch = batch  # None (per row), "pad", "shift", "reshape" or a function (op, vals, tangents, out, B)
        self.dims = dims  # the dim attributes "shift" moves
        self.reduction = reduction  # a loss's reduction attribute: its tangent is summed unless it is 0 (none)
        # the inputs whose tangents the formula reads (None: every differentiable one; a function's: its
        # `<input>_t` parameters): only these give the output a tangent, as torch's codegen decides
        self.uses = uses
        self.cast = cast  # False: the tangent keeps the formula's dtype (torch's norm with dtype= does)
        # False: the tangent records on the tensors the formula reads only where it computes with them (torch's
        # slogdet reads A's LU factors as constants); True: as torch's ZeroTensor terms make it (see _linked)
        self.links = links
        self.reads = None  # the names of the tensors the formula reads beside the tangents (spec_of fills it)


def pointwise(how):
    """An elementwise formula: under a batched level it broadcasts against the batch as written."""
    return Spec(how, "pad")


def shifted(how, *dims):
    """A formula whose only use of dims is its attributes `dims`: batched, they move past the batch dim (a name
    written "*dim" is a reduction's, whose None or [] means every dim)."""
    return Spec(how, "shift", dims)


def reshaped(how="linear"):
    """A shape-only entry (view, squeeze, unsqueeze): its batched tangent is the tangent reshaped."""
    return Spec(how, "reshape")


def loss(reduction="reduction"):
    """An elementwise loss with a reduction (its formulas scale the gradient by 1 / numel for a mean): the
    elementwise tangent, summed unless the reduction is none (torch's apply_loss_reduction of its jvp)."""
    return Spec("element_wise", "pad", reduction=reduction)


def unsupported(aten_name):
    """An entry torch has no forward formula for at all: with a tangent, torch's NotImplementedError."""

    def refuse_all(*args):
        raise TorchNotImplementedError(UNSUPPORTED.format(name=aten_name))

    refuse_all.__signature__ = inspect.Signature()
    refuse_all.reads_every_tangent = True  # spec_of: a tangent of any differentiable input reaches it (and raises)
    return Spec(refuse_all)


def own_dtype(how):
    """A formula whose tangent keeps its own dtype rather than the output's (torch does not cast tangents: most
    formulas give the output's dtype, linalg_vector_norm with dtype= its input's)."""
    return Spec(how, cast=False)


def only(inputs, how):
    """A formula that reads the tangents of `inputs` only (a backward entry's `self` gives its shape): a
    tangent of another input gives the output none, as in torch."""
    spec = how if isinstance(how, Spec) else Spec(how, "pad" if how == "element_wise" else None)
    spec.uses = tuple(inputs)
    return spec


def batched(how, rule):
    """A formula with its own batch rule: rule(op, vals, tangents, out, B) gives the batched tangent(s), or MISS
    where it does not apply (the rows are then run one at a time)."""
    return Spec(how, rule)


_SPECS: dict = {}


def spec_of(op):
    s = _SPECS.get(op)
    if s is None:
        j = op.jvp
        if j is None:
            return None
        s = j if isinstance(j, Spec) else Spec(j, "pad" if j == "element_wise" else None)
        if s.uses is None and callable(s.how) and not getattr(s.how, "reads_every_tangent", False):
            s.uses = tuple(n[:-2] for n in _params(s.how) if n.endswith("_t") and n[:-2] in op.tensor_index)
        s.uses = None if s.uses is None else frozenset(op.tensor_index[n] for n in s.uses)
        s.reads = _reads(op, s)
        _SPECS[op] = s
    return s


# ----- the hook: registry.OpDef.__call__ calls it while some thread has a level entered -----


def call(op, args, kwargs):
    """op(*args, **kwargs) with its output's tangent, or MISS where no tangent propagates (no level entered
    on this thread, inside a formula, no operand with a tangent): the caller then runs as without."""
    st = FW._state
    if st.level is None or st.off or not op.differentiable:
        return MISS
    params = op.params
    if kwargs or len(args) != len(params):
        if len(args) > len(params) or any(k not in params for k in kwargs):
            return MISS  # the call fails as it would without: let it
        vals = op.bind(args, kwargs)
    else:
        vals = list(args)
    tangents = []
    found = False
    diff = op.diff_index
    spec = spec_of(op)
    uses = spec.uses if spec is not None else None
    for k, i in enumerate(op.tensor_pos):
        v = vals[i]
        t = FW.tangent_of(v) if isinstance(v, Tensor) else None
        if t is not None:
            if v._data.dtype.kind != "f" or (diff is not None and k not in diff) or (
                    uses is not None and k not in uses):
                t = None  # an integer operand, one the entry does not differentiate (indices), one the formula ignores
            else:
                found = True
        tangents.append(t)
    if not found:
        return MISS
    st.off += 1
    try:
        out = R.OpDef.__call__(op, *args, **kwargs)
        res = evaluate(op, vals, tangents, out)
        if op.view is None:
            res = _unaliased(op, res, tangents)
        if spec.reads and _grad.enabled:
            res = _linked(op, spec, vals, tangents, out, res)
    finally:
        st.off -= 1
    attach(op, out, res)
    return out


def _reads(op, spec):
    """The names of the tensors (inputs, outputs) a formula reads beside its tangents: none for a linear one."""
    how = spec.how
    if not spec.links or how == "linear":
        return ()
    if how == "element_wise":
        names = {n for f in op.formulas for n in f.argnames}
    elif callable(how) and not getattr(how, "reads_every_tangent", False):
        names = {n for n in _params(how) if not n.endswith("_t")}
    else:
        return ()
    return tuple(sorted(n for n in names if n in op.tensor_index or n == "result"
                        or (n.startswith("result") and n[6:].isdigit())))


def _linked(op, spec, vals, tangents, out, res):
    """Where grad mode is on and an input the formula differentiates has no tangent, the tangent gets a zero that
    records on the tensors the formula reads that require grad: torch's formulas take the missing tangent as a
    ZeroTensor and multiply it by the primals and results they read (mul's `self_t * other_p` for a self without
    tangent), so its tangent records on them (their gradient zeros there) where the engine's formula drops the
    term."""
    outs = (res,) if op.nout == 1 else res
    diff, uses = op.diff_index, spec.uses
    missing = {k for k, i in enumerate(op.tensor_pos) if tangents[k] is None and isinstance(vals[i], Tensor)
               and vals[i]._data.dtype.kind == "f" and (diff is None or k in diff) and (uses is None or k in uses)}
    if not missing:
        return res
    if spec.how == "element_wise":  # the missing inputs' own terms
        names = {n for f in op.formulas if f.inputs[0] in missing for n in f.argnames}
        names = [n for n in spec.reads if n in names]
    else:
        names = spec.reads
    link = None
    for n in names:
        v = _value(op, n, vals, tangents, out)
        if isinstance(v, Tensor) and v.requires_grad:
            z = v.reshape(-1)[:0].sum()  # an empty slice's sum: zero, no NaN from an infinite value
            link = z if link is None else link + z
    if link is None:
        return res
    fixed = tuple(r + link if isinstance(r, Tensor) and r._data.dtype.kind == "f" else r for r in outs)
    return fixed[0] if op.nout == 1 else fixed


def _aliases(r, t):
    if r is t:
        return True
    a, b = r._data, t._data
    return a.base is not None and a.base is (b if b.base is None else b.base)


def _unaliased(op, res, tangents):
    """A tangent that is (a view of) an input's tangent, copied, where the op is not a view: an identity formula
    (clone's, `.to` of the same dtype) must not give the output its input's tangent object, or an in-place op on
    the output would change the input's tangent too (torch's clone formula is `self_t.clone()`)."""
    outs = (res,) if op.nout == 1 else res
    if not any(isinstance(r, Tensor) and any(t is not None and _aliases(r, t) for t in tangents) for r in outs):
        return res
    fixed = tuple(r.clone() if isinstance(r, Tensor) and any(t is not None and _aliases(r, t) for t in tangents)
                  else r for r in outs)
    return fixed[0] if op.nout == 1 else fixed


def attach(op, out, res):
    """Each float output gets its tangent (res: one per output for nout > 1); where the output's node saved the
    output for its backward, the tangent is saved beside it (torch's SavedVariable keeps an output's forward
    grad), so a backward run in the level differentiates through it (forward-over-reverse)."""
    outs, ress = ((out,), (res,)) if op.nout == 1 else (out, res)
    for nr, (o, r) in enumerate(zip(outs, ress)):
        if r is not None and isinstance(o, Tensor) and o._data.dtype.kind == "f":
            FW.set_tangent(o, r)
            node = o.grad_fn
            saved = getattr(node, "_saved", None)
            if saved and ("result" if nr == 0 else f"result{nr}") in saved:
                saved[("fw", nr)] = o._fw


def evaluate(op, vals, tangents, out):
    """The output tangent(s) of one call (vals: the call's values in schema order, tangents: per tensor input)."""
    spec = spec_of(op)
    if spec is None:
        raise TorchNotImplementedError(NOT_IMPLEMENTED.format(name=op.qualname))
    bsz = FW.batch_size()
    if bsz is None:
        res = _run(op, spec, vals, tangents, out)
        return _conform_all(op, res, out, None, spec.cast)
    return _conform_all(op, _run_batched(op, spec, vals, tangents, out, bsz), out, bsz, spec.cast)


def _run(op, spec, vals, tangents, out, bsz=None):
    res = _run_formula(op, spec, vals, tangents, out, bsz)
    if spec.reduction is not None and res is not None and vals[op.params.index(spec.reduction)] != 0:
        res = res.sum() if bsz is None else res.reshape((bsz, -1)).sum(1)
    return res


def _run_formula(op, spec, vals, tangents, out, bsz):
    how = spec.how
    if how == "linear":
        return _linear(op, vals, tangents, bsz)
    if how == "element_wise":  # J is diagonal per input: each input's backward formula applied to its tangent
        terms = []
        for f in op.formulas:
            t = tangents[f.inputs[0]]
            if t is not None:
                terms.append(f.fn(t, *[_value(op, n, vals, tangents, out) for n in f.argnames]))
        return tsum(*terms)
    return how(*[_value(op, n, vals, tangents, out) for n in _params(how)])


def _linear(op, vals, tangents, bsz=None):
    """The entry applied to the tangents: zeros for a float operand without one (with the batch dim in front
    where bsz is given: the other tangents have it there)."""
    args = list(vals)
    diff = op.diff_index
    for k, i in enumerate(op.tensor_pos):
        t = tangents[k]
        v = vals[i]
        if t is None and (diff is None or k in diff):
            # a differentiated operand without tangent (an integer one too: a constant) counts as zeros
            if isinstance(v, Tensor):
                from engine.ops.factory import zeros, zeros_like  # noqa: PLC0415

                t = zeros_like(v) if bsz is None else zeros((bsz, *v._data.shape), dtype=v.dtype)
            elif isinstance(v, bool | int | float):
                t = type(v)(0)
        if t is not None:
            args[i] = t
    return op(*args)


_PARAMS: dict = {}


def _params(fn):
    p = _PARAMS.get(fn)
    if p is None:
        p = _PARAMS[fn] = tuple(inspect.signature(fn).parameters)
    return p


def _value(op, name, vals, tangents, out):
    """A formula's argument by its name (see the module docstring)."""
    idx = op.tensor_index
    if name in idx:
        return vals[op.tensor_pos[idx[name]]]
    if name.endswith("_t") and name[:-2] in idx:
        return tangents[idx[name[:-2]]]
    if name == "result":
        return out if op.nout == 1 else out[0]
    if name.startswith("result") and name[6:].isdigit():
        return out[int(name[6:])]
    if name.endswith("_shape") and name[:-6] in idx:
        v = vals[op.tensor_pos[idx[name[:-6]]]]
        return tuple(v._data.shape) if isinstance(v, Tensor) else ()
    if name.endswith("_dtype") and name[:-6] in idx:
        v = vals[op.tensor_pos[idx[name[:-6]]]]
        return D.FROM_NP[v._data.dtype] if isinstance(v, Tensor) else None
    if name in op.params:
        return vals[op.params.index(name)]
    raise TypeError(f"{op.qualname}: a forward formula's parameter {name!r} names nothing of the entry")


def _conform_all(op, res, out, bsz, cast=True):
    if op.nout == 1:
        return _conform(res, out, bsz, cast)
    if not isinstance(res, tuple | list):
        raise TypeError(f"{op.qualname}: its forward formula must give a tuple of {op.nout} tangents")
    return tuple(_conform(r, o, bsz, cast) if isinstance(o, Tensor) and o._data.dtype.kind == "f" else None
                 for r, o in zip(res, out))


def _conform(r, o, bsz, cast=True):
    """A tangent of the output's shape (a batch dim in front under a batched level) and dtype."""
    if r is None:
        return None
    shape = tuple(o._data.shape) if bsz is None else (bsz, *o._data.shape)
    if not isinstance(r, Tensor):
        from engine.ops.factory import full  # noqa: PLC0415

        return full(shape, r, dtype=o.dtype)
    if tuple(r._data.shape) != shape:
        from engine.ops.shape import expand_op  # noqa: PLC0415

        r = expand_op(_pad(r, len(shape)), size=shape).contiguous()
    if cast and r._data.dtype != o._data.dtype:
        r = r.to(o.dtype)
    return r


def _pad(t, ndim, after=0):
    """t with singleton dims inserted (after its first `after` dims) up to ndim dims."""
    n = t._data.ndim
    if n >= ndim:
        return t
    shape = tuple(t._data.shape)
    return t.reshape(shape[:after] + (1,) * (ndim - n) + shape[after:])


# ----- batched tangents -----


def _run_batched(op, spec, vals, tangents, out, bsz):
    rule = spec.batch
    if rule == "pad":
        outs = out if op.nout > 1 else (out,)
        rank = 1 + max([o._data.ndim for o in outs if isinstance(o, Tensor)] + [0])
        if spec.reduction is not None:  # the elementwise loss before its reduction: the inputs' broadcast rank
            rank = 1 + max(v._data.ndim for v in vals if isinstance(v, Tensor))
        padded = [None if t is None else _pad(t, rank, 1) for t in tangents]
        return _run(op, spec, vals, padded, out, bsz)
    if rule == "shift":
        shifted_vals = _shift_dims(op, spec.dims, vals)
        if shifted_vals is not None:
            return _run(op, spec, shifted_vals, tangents, out, bsz)
    elif rule == "reshape":
        t = next(t for t in tangents if t is not None)
        return t.reshape((bsz, *out._data.shape))
    elif rule is not None:
        r = rule(op, vals, tangents, out, bsz)
        if r is not MISS:
            return r
    return _per_row(op, spec, vals, tangents, out, bsz)


def _shift_dims(op, names, vals):
    """vals with the dim attributes `names` wrapped to the first tensor input's rank and moved past the batch
    (None or [] for "every dim" becomes the list of every dim after the batch)."""
    vals = list(vals)
    first = vals[op.tensor_pos[0]]
    n = first._data.ndim if isinstance(first, Tensor) else 0
    if n == 0 or any(isinstance(vals[i], Tensor) and vals[i]._data.ndim != n for i in op.tensor_pos):
        return None  # a 0-d primal's dims are none of its tangent's, operands of other ranks (cat's (0,)): by row
    for name in names:
        every = name.startswith("*")
        i = op.params.index(name.lstrip("*"))
        d = vals[i]
        if d is None or (isinstance(d, list | tuple) and len(d) == 0):
            if every:
                vals[i] = list(range(1, n + 1))
        elif isinstance(d, list | tuple):
            vals[i] = [wrap_dim(x, n) + 1 for x in d]
        else:
            vals[i] = wrap_dim(d, n) + 1
    return vals


def _per_row(op, spec, vals, tangents, out, bsz):
    """The formula once per row of the batch, the rows stacked (vmap's fallback)."""
    from engine.ops.join import stack  # noqa: PLC0415

    rows = []
    for b in range(bsz):
        _budget.check()
        row = [None if t is None else t.select(0, b) for t in tangents]
        res = _run(op, spec, vals, row, out)
        rows.append(_conform_all(op, res, out, None, spec.cast))
    if op.nout == 1:
        return stack(rows, 0)
    return tuple(None if rows[0][k] is None else stack([r[k] for r in rows], 0) for k in range(op.nout))


# ----- installation -----


def installed():
    """Called when a level is entered: the registry's hook is this module's `call`."""
    R._jvp_call = call
