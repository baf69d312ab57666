"""The unrolled call path of the op table (`OpDef.fast`, made by `_fast_call`): `op(a)` / `op(a, b)` for an entry
on the lean path, with the loops of OpDef.__call__ and _record written out. engine.ops.registry re-exports it.

The runtime flags (`_dual`: forward AD; `_tracing`: tracing) are registry's globals, read here as `_R.<name>`
(the writers set them on engine.ops.registry)."""
from __future__ import annotations

import time

import numpy as _np

from engine import budget as _budget
from engine import parallel as _P
from engine.autograd import _seq, edge_of, grad_mode
from engine.autograd import graph as _graph
from engine.autograd.modes import GRAD_OFF as _GRAD_OFF
from engine.errors import EngineError
from engine.ops.charging import _cost_miss
from engine.ops.opnode import _EMPTY
from engine.ops.promotion import _check_broadcast
from engine.ops.tracing import _traced
from engine.tensor import Tensor

_NO = object()
_new = object.__new__  # a node without the class call's __init__ lookup
_TRACK_MIN = _budget.TRACK_MIN_BYTES
_tl = _budget._local  # .budget: the request's Budget on this thread, or None (library use)
# _charge_inline: an op's forward charge is Budget.charge's comparisons written out where the budget is a plain Budget
# (a subclass gets the call): the same comparisons of the same values in one chain, and where any of them fails, or
# the process's limit is set and passed, the method itself, which raises what it raises (the array loop's charge of
# a node, engine/autograd/backward_loop.py, is the same; tests/engine/test_forward_charge_inline.py). Unlike there,
# Budget.charge replaced on the class is not looked for: reading a class attribute costs more than the call saves
# (~0.3k instructions an op, callgrind), so code that replaces it sees the forward's charges only with a subclass.
_Budget = _budget.Budget
_PROCESS = _budget.PROCESS
_monotonic = time.monotonic
# (an output that is no ndarray, or a view, goes to Budget.track, whose own first case is the same test; the
# commonest float dtypes are known by identity before their kind is read)
_ndarray = _np.ndarray
_F32, _F64 = _np.dtype(_np.float32), _np.dtype(_np.float64)
_ALL_NEED = ((True,), (True, True))
_NEED_ONE, _NEED_TWO = _ALL_NEED


def _fast_call(op):
    """`op(a)` / `op(a, b)` for an entry on the lean path (every tensor input differentiable, attributes at
    their defaults, one output), as a plain function with the loops of __call__ and _record unrolled: the
    per-op cost of a scalar chain is mostly this bookkeeping (docs/PERFORMANCE.md). Anything off the common
    case (a non-Tensor first operand, promotion, an input that needs no grad) goes to __call__, which is
    the reference: tests/engine/test_array_vjp.py holds the two to the same nodes, values and grads."""
    node_cls, make, check, vals = op.node_cls, Tensor._make, op.check, op.default_vals
    attrs = op.default_attrs or _EMPTY
    costs = {}  # this entry's costs by operand shapes and dtypes (charging._cost_miss fills it)
    nv = len(vals)
    v0 = vals[0] if nv else None
    last = [(None, None, None, None, None, None)]  # the last call's key, cost and _in_meta, in front of `costs`
    qualname = op.qualname
    saves = op.saves_tensors
    plan = op._plan_every
    # The saved dict of the commonest plans written as a literal (no loop over the plan, no empty dict grown): one
    # output (`out1`), one input (`in1`, its index `i1`), or inputs a and b (`in2`, b first where `swap`), where no
    # saved input has an in-place version to record: the same keys in the same order with the same values as the
    # loop's (_save_one, _save_two; tests/engine/test_fastcall_saved.py)
    s0, s1 = plan[0][0] if plan else None, plan[1][0] if len(plan) > 1 else None
    out1 = len(plan) == 1 and plan[0][1] == 1
    in1 = len(plan) == 1 and plan[0][1] == 0
    i1 = plan[0][2] if in1 else 0
    in2 = len(plan) == 2 and plan[0][1] == plan[1][1] == 0 and {plan[0][2], plan[1][2]} == {0, 1}
    swap = in2 and plan[0][2] == 1  # the plan names b first (mul: other, self)
    # an elementwise forward (engine.parallel.elementwise) with one thread is its function's own call: that
    # function is called, one frame less, while op.forward is still the wrapper (a backend switch replaces it);
    # not while tracing (a lowering's watch, engine/program/glue.py, knows the wrapper's code as the entry's)
    pw = op.array_forward
    pw_fn = pw.__wrapped__ if getattr(pw, "parallel_into", _NO) is not _NO else pw
    # What the function says it is in its commonest case, folded here once an entry (pointwise_base.direct_forms):
    # `float_fn` for a float operand (_float_out: fn itself, no cast), `arrays` for two array operands and the
    # attributes at its own defaults (_mul, _add: the operator). float_fn is picked once per operand dtype (the
    # `last` tuple's 5th item); `arrays` where b is a tensor, whose _data is no Python number
    float_fn = getattr(pw_fn, "float_fn", None) if nv == 0 else None
    pair = getattr(pw_fn, "arrays", None)
    if pair is not None:  # (the fast path passes the entry's defaults: where they are not the function's, no pair)
        own = getattr(pw_fn, "__defaults__", None) or ()
        if nv > len(own) or vals != own[len(own) - nv:]:
            pair = None
    # a check that does nothing for the entry's default attributes whatever the operands (_alpha_check with alpha
    # 1: its `trivial`) is not called by call2 (which always passes the defaults)
    trivial = getattr(check, "trivial", None)
    check2 = None if trivial is not None and trivial(*vals) is True else check

    def finish_rare(node, args, out, t):
        """finish's last steps where saved tensors are packed by hooks or a trace records (the inline path's)."""
        if saves and _graph.packing:
            _graph.pack_node(node, (t,))
        if _R._tracing:
            _traced(op, args, [a._data if isinstance(a, Tensor) else a for a in args], attrs, t)
        return t

    if op.n_lead == 1:

        def call(input):
            # a Tensor subclass (nn.Parameter) is one more isinstance; a plain Tensor pays nothing for it
            if (type(input) is not Tensor and not isinstance(input, Tensor)) or check is not None or _R._dual:
                return op(input)
            d = input._data
            shape, dt = d.shape, d.dtype
            m = last[0]  # the last call's (shape, dtype, cost or None, its node's _in_meta, the function for the
            if m[0] != shape or m[1] is not dt:  # dtype): where this call's operand repeats it, no key hashed, no tuple
                m = last[0] = (shape, dt, None, ((shape, dt),),  # (one tuple: another thread reads one call's)
                               float_fn if float_fn is not None and dt.kind == "f" else pw_fn)
            b = _tl.budget
            if b is not None:  # the cost cache read inline: the operands' tuple is built on a miss only
                c = m[2]
                if c is None:
                    key = (shape, dt)
                    c = costs.get(key)
                    if c is None:
                        c = _cost_miss(costs, op, key, (d, *vals))
                    last[0] = (shape, dt, c, m[3], m[4])
                nb, fl, el, bwd = c  # (cost_of's four: bytes at the peak, flops, elements, the backward's cost)
                if type(b) is _Budget:  # Budget.charge written out (_charge_inline)
                    used = b.used_flops + fl
                    peak = b.live + nb
                    if (el > b._max_elements or _monotonic() > b._dl or fl > b._op_cap or used > b._flop_cap
                            or peak > b._byte_cap or ((pmax := _PROCESS.max_bytes) and _PROCESS.live + nb > pmax)):
                        b.charge(nb, fl, qualname, el)
                    else:
                        b.used_flops = used
                        if peak > b.peak:
                            b.peak = peak
                else:
                    b.charge(nb, fl, qualname, el)
            else:
                bwd = None
            # (the attributes passed one by one where there are none or one: a call with *vals builds its tuple)
            fwd = op.forward
            if fwd is pw and _P._threads == 1 and not _R._tracing:
                fwd = m[4]  # pw_fn, or its float_fn where d is a float array
            out = fwd(d) if nv == 0 else (fwd(d, v0) if nv == 1 else fwd(d, *vals))
            if b is not None:  # b.track(out), its small array's case inline
                if type(out) is _ndarray and out.base is None and (n := out.nbytes) < _TRACK_MIN:
                    b.small += n
                    b.live += n
                else:
                    b.track(out)
            if not (input._req and (not _GRAD_OFF[0] or grad_mode.enabled)):  # (no thread with grad off: on)
                t = make(out)
                if _R._tracing:
                    _traced(op, (input,), (d,), attrs, t)
                return t
            node = _new(node_cls)
            fn = input.grad_fn  # edge_of, its commonest case (a non-leaf) inline
            node.next_functions = ((fn, input._output_nr),) if fn is not None else (edge_of(input),)
            # finish(node, (input,), ((d.shape, d.dtype),), out, bwd), written out: one call less an op
            node._bwd = bwd
            node._seq = next(_seq)
            node._hooks = None  # (_retained, _pre_hooks: slots no code reads, left unset)
            node._needs = _NEED_ONE
            node._in_meta = m[3]  # ((d.shape, d.dtype),), shared by the calls that repeat one operand's
            node._released = False
            node._attrs = attrs
            if saves:
                if out1:
                    node._saved = {s0: out}
                elif in1 and ((vc := input._vc) is None or not vc.version):
                    node._saved = {s0: input}
                else:
                    node._saved = _save_one(plan, input, out)
            else:
                node._saved = _EMPTY
            # Tensor._make(out) written out, its _req and grad_fn set once (one call less an op; the same slots:
            # tests/engine/test_fastcall_make.py)
            t = _new(Tensor)
            t._data = out
            if (odt := out.dtype) is _F32 or odt is _F64 or odt.kind == "f":
                t._req = True
                t.grad_fn = node
            else:
                t._req = False
                t.grad_fn = None
            t._grad = t._acc = t._vc = t._base = None
            t._output_nr = t._vflags = 0
            t._retains_grad = False
            if _R._tracing or (saves and _graph.packing):
                return finish_rare(node, (input,), out, t)
            return t

        call.__code__ = call.__code__.replace()  # its own code object (see call2's)
        return call

    promote = op.promote

    def call2(a, b):
        if (type(a) is not Tensor and not isinstance(a, Tensor)) or _R._dual:
            return op(a, b)
        da = a._data
        ta = da.dtype  # (each operand's dtype read once: for promotion and the cost cache's key)
        tb = type(b)
        bt = tb is Tensor or (tb is not float and tb is not int and isinstance(b, Tensor))  # b is a tensor
        if bt:
            db = b._data
            tb2 = db.dtype
            if promote and tb2 is not ta and ta != tb2:
                return op(a, b)
        elif tb is float or tb is int:  # a Python scalar operand: no promotion where torch's rules keep a's dtype
            k = ta.kind
            if promote and not (k == "f" or (tb is int and k in "iu")):
                return op(a, b)
            db = tb2 = b  # (a Python scalar: its type and value, as the cost cache's key)
        else:
            return op(a, b)
        if check2 is not None:
            check2(a, b, *vals)
        sa = da.shape
        sb = db.shape if bt else tb
        m = last[0]  # the last call's (operands' shapes and dtypes, cost or None, its node's _in_meta): where this
        if m[0] != sa or m[1] is not ta or m[2] != sb or m[3] is not tb2:  # call repeats it, no key, no tuple made
            m = last[0] = (sa, ta, sb, tb2, None, ((sa, ta), (sb, tb2)) if bt else None)  # (one tuple: threads)
        bud = _tl.budget
        if bud is not None:
            c = m[4]
            if c is None:
                key = (sa, ta, sb, tb2)
                c = costs.get(key)  # the cost cache read inline: the operands' tuple is built on a miss only
                if c is None:
                    c = _cost_miss(costs, op, key, (da, db, *vals))
                last[0] = (sa, ta, sb, tb2, c, m[5])
            nb, fl, el, bwd = c  # (cost_of's four: bytes at the peak, flops, elements, the backward's cost)
            if type(bud) is _Budget:  # Budget.charge written out (_charge_inline)
                used = bud.used_flops + fl
                peak = bud.live + nb
                if (el > bud._max_elements or _monotonic() > bud._dl or fl > bud._op_cap or used > bud._flop_cap
                        or peak > bud._byte_cap or ((pmax := _PROCESS.max_bytes) and _PROCESS.live + nb > pmax)):
                    bud.charge(nb, fl, qualname, el)
                else:
                    bud.used_flops = used
                    if peak > bud.peak:
                        bud.peak = peak
            else:
                bud.charge(nb, fl, qualname, el)
        else:
            bwd = None
        try:
            fwd = op.forward
            if fwd is not pw or _P._threads != 1 or _R._tracing:
                out = fwd(da, db) if nv == 0 else (fwd(da, db, v0) if nv == 1 else fwd(da, db, *vals))
            elif bt and pair is not None:  # two arrays: the function's own case for them, one frame less
                out = pair(da, db)
            else:
                out = pw_fn(da, db) if nv == 0 else (pw_fn(da, db, v0) if nv == 1 else pw_fn(da, db, *vals))
        except EngineError:
            raise
        except ValueError:
            _check_broadcast((da, db))
            raise
        if bud is not None:  # bud.track(out), its small array's case inline
            if type(out) is _ndarray and out.base is None and (n := out.nbytes) < _TRACK_MIN:
                bud.small += n
                bud.live += n
            else:
                bud.track(out)
        if not ((a._req or (bt and b._req)) and (not _GRAD_OFF[0] or grad_mode.enabled)):
            t = make(out)
            if _R._tracing:
                _traced(op, (a, b), (da, db), attrs, t)
            return t
        if not bt or not (a._req and b._req):  # an input that needs no grad: the general save plan
            return op._record((a, b), [da, db], op.default_attrs, out, bwd)
        node = _new(node_cls)
        # edge_of inline: a non-leaf's (grad_fn, output_nr); a leaf's live accumulator, read off its weak reference
        # (edge_of makes it where there is none). Both inputs require grad here.
        fa, fb = a.grad_fn, b.grad_fn
        if fa is not None:
            ea = (fa, a._output_nr)
        else:
            ea = (fa, 0) if (r := a._acc) is not None and (fa := r()) is not None else edge_of(a)
        if fb is not None:
            eb = (fb, b._output_nr)
        else:
            eb = (fb, 0) if (r := b._acc) is not None and (fb := r()) is not None else edge_of(b)
        node.next_functions = (ea, eb)
        # finish(node, (a, b), ((da.shape, da.dtype), (db.shape, db.dtype)), out, bwd), written out
        node._bwd = bwd
        node._seq = next(_seq)
        node._hooks = None
        node._needs = _NEED_TWO
        node._in_meta = m[5]  # ((da.shape, da.dtype), (db.shape, db.dtype)), shared by the calls that repeat it
        node._released = False
        node._attrs = attrs
        if saves:
            if out1:
                node._saved = {s0: out}
            elif in2 and ((va := a._vc) is None or not va.version) and ((vb := b._vc) is None or not vb.version):
                node._saved = {s0: b, s1: a} if swap else {s0: a, s1: b}
            elif in1 and ((vc := (x := b if i1 else a)._vc) is None or not vc.version):
                node._saved = {s0: x}
            else:
                node._saved = _save_two(plan, a, b, out)
        else:
            node._saved = _EMPTY
        # Tensor._make(out) written out, its _req and grad_fn set once (one call less an op; the same slots:
        # tests/engine/test_fastcall_make.py)
        t = _new(Tensor)
        t._data = out
        if (odt := out.dtype) is _F32 or odt is _F64 or odt.kind == "f":
            t._req = True
            t.grad_fn = node
        else:
            t._req = False
            t.grad_fn = None
        t._grad = t._acc = t._vc = t._base = None
        t._output_nr = t._vflags = 0
        t._retains_grad = False
        if _R._tracing or (saves and _graph.packing):
            return finish_rare(node, (a, b), out, t)
        return t

    # Its own code object, a copy: CPython 3.11 specializes an attribute's load or store where it stays with one
    # class, per code object. The closures of every entry shared one, and a program's ops alternate between
    # entries (a chain's MulBackward0, AddBackward0, TanhBackward0 ...): the node's slot stores below never stayed
    # specialized, each took the generic setattr (~1.5k instructions an op). Per entry, they do.
    call2.__code__ = call2.__code__.replace()
    return call2


def _save_one(plan, input, out):
    """The saved dict of a one-operand call: each input and output the plan names, in its order, with an input's
    in-place version where it has one."""
    saved = {}
    for name, k, _ in plan:
        if k == 0:
            saved[name] = input
            vc = input._vc
            if vc is not None and vc.version:
                saved[("v", name)] = vc.version
        else:
            saved[name] = out
    return saved


def _save_two(plan, a, b, out):
    """_save_one for a two-operand call (an input's index picks a or b)."""
    saved = {}
    for name, k, idx in plan:
        if k == 0:
            x = b if idx else a
            saved[name] = x
            vc = x._vc
            if vc is not None and vc.version:
                saved[("v", name)] = vc.version
        else:
            saved[name] = out
    return saved


from engine.ops import registry as _R  # noqa: E402 - last: registry imports this module while it loads
