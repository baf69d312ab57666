"""The op table's machinery: an entry per aten overload, its forward, one formula per differentiable input.

An entry reads like a line of PyTorch's derivatives.yaml:

    defop("mul.Tensor(Tensor self, Tensor other) -> Tensor", np.multiply, promote=True,
          self=lambda grad, other: grad * other,
          other=lambda grad, self: grad * self)

A formula's parameter names say what it needs: `grad` (the incoming gradient; a list of them for ops
with several outputs), an input's name (saved as a tensor, freed after the pass unless
retain_graph), `result` / `result1` (an output, saved likewise), `<input>_shape` / `<input>_dtype`
(metadata, never freed), or a non-tensor argument by name. Formulas are written with the engine's
own differentiable functions, so the same lines give grad-of-grad. The grad_fn class name
(`MulBackward0`) is derived from the entry's name and its position among the entries of that name.
"""
from __future__ import annotations

import inspect

from engine import _backend as B
from engine import budget as _budget
from engine.autograd import _seq, edge_of, grad_mode
from engine.autograd import graph as _graph
from engine.autograd.views import mark_views
from engine.errors import EngineError
from engine.ops import rules as _rules
from engine.ops.array_vjp import _lazy_raw, _make_raw  # noqa: F401 - moved, re-exported
from engine.ops.catalog_entry import Entry, entry  # noqa: F401 - moved, re-exported (the op families)
from engine.ops.charging import (  # noqa: F401 - moved to engine.ops.charging, re-exported
    COST_CACHE_ENTRIES,
    _cost_miss,
    _default_cost,
    _track,
    charge,
    cost_of,
)
from engine.ops.fastcall import _ALL_NEED, _NEED_ONE, _NEED_TWO, _fast_call  # noqa: F401 - moved, re-exported
from engine.ops.opnode import (  # noqa: F401 - moved to engine.ops.opnode, re-exported
    _EMPTY,
    OpNode,
    _conform,
    _raw_saved,
    _saved_accessors,
    _unpack_output,
)
from engine.ops.promotion import _check_broadcast, _promote  # moved to engine.ops.promotion
from engine.ops.saved import (  # noqa: F401 - moved to engine.ops.saved, re-exported: importers name this module
    _unpack_other,
    anomaly_hint,
    check_saved_output,
    check_saved_version,
    friendly_name,
    version_error,
)
from engine.ops.schema import (  # noqa: F401 - moved to engine.ops.schema, re-exported
    _BASE_COUNT,
    _SCHEMA,
    Formula,
    _literal,
    _split_params,
    backward_name,
)
from engine.ops.tracing import _traced, trace  # noqa: F401 - moved to engine.ops.tracing, re-exported
from engine.tensor import Tensor

REGISTRY: dict[str, OpDef] = {}  # "mul.Tensor" -> entry
# The code of every entry ever made (forward, array formulas, cost rule), also of those REGISTRY no longer names:
# split/chunk/unbind make one entry per number of outputs, under one qualname, each replacing the last there.
# The lowering's watch (engine/program/glue.py) must not look into any of them. Bounded: one code object per
# function written in the source, however many entries share it.
ENTRY_CODES: set = set()
_new = object.__new__  # a node without the class call's __init__ lookup
_SUM_TO = None  # (sum_to_shape, sum_to_shape_array): engine.ops.reduction imports this module, and sets it
_NO_EDGE = (None, 0)
_TRACK_MIN = _budget.TRACK_MIN_BYTES
_tl = _budget._local  # .budget: the request's Budget on this thread, or None (library use)
# forward-mode AD (engine.autograd.forward_ad): the threads with a dual level entered; while 0, an op pays one
# global read for it. _jvp_call is engine.ops.jvp.call (set when a level is first entered): it gives the op's
# result with its tangent, or _NO_JVP where nothing propagates.
_dual = 0
_jvp_call = None
_NO_JVP = object()

# tracing (engine.ops.tracing): the threads tracing now, counted here by its trace so that the call paths read it
# as one global; while 0, recording a node costs one global read more
_tracing = 0




class OpDef:
    """One entry of the op table."""

    def __init__(this, schema, forward, *, promote=False, nout=1, index=None, differentiable=True,
                 joint_mask=False, check=None, cuda=None, vjp=None, rule=None, jvp=None, **formulas):
        m = _SCHEMA.match(schema)
        if m is None:
            raise ValueError(f"bad schema {schema!r}")
        if rule is None:  # before anything is counted or registered
            raise ValueError(f"{schema}: an op entry needs rule=, its shape and cost rule (engine/ops/rules.py)")
        this.schema = schema
        this.base = m["name"]
        this.overload = m["overload"] or ""
        this.qualname = this.base + ("." + this.overload if this.overload else "")
        params = [p.strip() for p in _split_params(m["params"]) if p.strip() and p.strip() != "*"]
        this.tensor_params = []
        this.list_params = set()
        this.attr_params = []
        this.defaults = {}
        for p in params:
            typ, _, rest = p.partition(" ")
            pname, eq, default = rest.partition("=")
            pname = pname.strip()
            if eq:
                this.defaults[pname] = _literal(default.strip())
            if typ.startswith("Tensor") and not typ.startswith("Tensor[]"):
                this.tensor_params.append(pname)
                if typ.endswith("[]"):  # (Tensor?[]: index's indices, a list of them)
                    this.list_params.add(pname)
            else:
                this.attr_params.append(pname)
        this.tensor_index = {n: i for i, n in enumerate(this.tensor_params)}
        this.params = tuple(p.partition(" ")[2].split("=")[0].strip() for p in params)
        position = {n: i for i, n in enumerate(this.params)}  # (params.index per name was quadratic in arity)
        this.tensor_pos = tuple(position[n] for n in this.tensor_params)
        this.attr_pos = tuple((position[n], n) for n in this.attr_params)
        if index is None:
            index = _BASE_COUNT.get(this.base.lstrip("_"), 0)
        _BASE_COUNT[this.base.lstrip("_")] = max(_BASE_COUNT.get(this.base.lstrip("_"), 0), index + 1)
        this.grad_fn_name = backward_name(this.base, index)
        this.forward = this.array_forward = forward
        # cuda: the op as a C expression over its tensor operands (a, b), run under CuPy by a vectorized
        # kernel where the operands allow (engine._backend.cuda_pointwise); the forward computes the rest.
        this.cuda = cuda
        this.promote = promote
        this.nout = nout
        this.joint_mask = joint_mask
        this.formulas = []
        this.argkind = {}
        for key, fn in formulas.items():
            names = key.split("__")
            idx = tuple(this.tensor_index[n] for n in names)
            f = Formula(fn, idx)
            this.formulas.append(f)
            for a in f.argnames:
                if a in this.tensor_index:
                    this.argkind[a] = 0
                elif a == "result" or (a.startswith("result") and a[6:].isdigit()):
                    this.argkind[a] = 1
                elif a.endswith("_shape") and a[:-6] in this.tensor_index:
                    this.argkind[a] = 2
                elif a.endswith("_dtype") and a[:-6] in this.tensor_index:
                    this.argkind[a] = 3
                elif a == "output_mask":
                    continue
                else:
                    this.argkind[a] = 4
        # vjp: {input: array formula, or True where the Tensor formula uses operators only and so runs as
        # written on arrays}; same parameters as the Tensor formula (see OpNode.apply).
        for key, fn in (vjp or {}).items():
            f = next(f for f, k in zip(this.formulas, formulas) if k == key)
            f.array_fn = f.fn if fn is True else fn
            if f.array_fn is not f.fn and tuple(inspect.signature(fn).parameters)[1:] != f.argnames:
                raise ValueError(f"{schema}: vjp[{key!r}] must take the formula's parameters {f.argnames}")
        this.has_vjp = bool(vjp)
        # OpNode._apply_arrays' plan: per tensor input, its array formula and (argkind, name) of each argument;
        # for the entries with one output whose every input has a one-input array formula.
        by_input = {f.inputs[0]: f for f in this.formulas if len(f.inputs) == 1 and f.array_fn is not None}
        this.vjp_plan = (tuple((by_input[i].array_fn, tuple((this.argkind[a], a) for a in by_input[i].argnames))
                               for i in range(len(this.tensor_params)))
                         if nout == 1 and len(by_input) == len(this.formulas) == len(this.tensor_params)
                         else None)
        this.differentiable = differentiable and bool(this.formulas)
        # torch's next_functions hold an edge per input that has a formula only (where's condition,
        # nll_loss's target have none); None when that is every tensor input.
        covered = sorted({i for f in this.formulas for i in f.inputs})
        this.diff_index = None if len(covered) == len(this.tensor_params) else tuple(covered)
        # check(*values): torch's argument checks that need the inputs before promotion (their own
        # dtypes, Python scalars as given); raises torch's error.
        this.check = check
        this.saves_tensors = any(k in (0, 1) for k in this.argkind.values())
        # Which names each input's formula needs, so only those are saved (as torch's codegen does): per
        # input, the name sets of its formulas, shared (a joint formula of n inputs names n shapes: a copy per
        # input was quadratic in the arity of cat / stack).
        this._needs_for = [[] for _ in this.tensor_params]
        for f in this.formulas:
            names = frozenset(a for a in f.argnames if this.argkind.get(a) in (0, 1, 4))
            for i in f.inputs:
                this._needs_for[i].append(names)
        this.node_cls = type(this.grad_fn_name, (OpNode,), {"__slots__": (), "op": this, "num_outputs": nout,
                                                            "_raw": _lazy_raw if this.vjp_plan is not None else None,
                                                            "_release_kind": 1 if this.saves_tensors else 2,
                                                            **_saved_accessors(this)})
        # torch's order of saving (pack hooks see it): the tensor inputs by name, then the outputs
        ins = sorted(a for a, k in this.argkind.items() if k == 0)
        outs = sorted((a for a, k in this.argkind.items() if k == 1), key=lambda a: int(a[6:] or 0))
        this._save_order = tuple(ins + outs)
        this._save_plans = {}
        this._plan_every = this._save_plan([True] * len(this.tensor_params))
        this.nparams = len(this.params)
        # The shape and cost rule (engine.ops.rules): what a call allocates and computes, from its operands'
        # shapes, charged to the request's budget before the forward runs.
        this.rule = _rules.Bound(rule, this.params, this.tensor_pos)
        # The forward-mode formula (derivatives.yaml's `result:` line): a function whose parameters are named
        # like a formula's, `<input>_t` being that input's tangent (None where it has none) and `<input>`,
        # `result`, attributes the primal values; it returns the output's tangent (a tuple with nout > 1).
        # "element_wise" / "linear" are derivatives.yaml's auto_element_wise / auto_linear.
        this.jvp = jvp
        # The lean path of __call__: the tensor parameters come first, all differentiable, and are the
        # only arguments given; the attributes (alpha=1, ...) take their defaults.
        n = len(this.tensor_params)
        this.simple = (this.differentiable and this.diff_index is None
                       and list(this.tensor_pos) == list(range(n))
                       and all(p in this.defaults for p in this.attr_params))
        this.n_lead = n
        this.default_vals = tuple(this.defaults[p] for p in this.attr_params) if this.simple else ()
        this.default_attrs = {p: this.defaults[p] for p in this.attr_params} if this.simple else {}
        # A plain function for the commonest calls (Tensor operators, unary methods): see _fast_call.
        this.fast = _fast_call(this) if this.simple and nout == 1 and n in (1, 2) else None
        # A view (`Tensor(a) self -> Tensor(a)`): its outputs share the input's memory and version counter
        # (engine.autograd.views.mark_views); "multi" where it returns several (unbind, split).
        ret = m["ret"].replace(" ", "")
        this.view = ("multi" if ret.startswith("Tensor(a)[]") else "one") \
            if ret.startswith("Tensor(a)") and "!" not in ret else None
        if this.view is not None:
            this.__class__ = _ViewOpDef
            this.fast = None
        for f in (this.forward, getattr(this.rule, "fn", None), *(fn for fn, _spec in (this.vjp_plan or ()))):
            c = getattr(f, "__code__", None)
            if c is not None:
                ENTRY_CODES.add(c)
        REGISTRY[this.qualname] = this

    def __repr__(self):
        return f"<op {self.schema}>"

    def _not_tensor(self, k, a):
        """torch's TypeError for a list or tuple given for the k-th tensor parameter (a Tensor or Tensor? one): NumPy
        had stacked it, uncharged (engine.abs([e] * 3) of a 1e6 expanded zero: 24 MB made, 4 bytes charged; safeO)."""
        name = self.tensor_params[k]
        if name in self.list_params:
            return
        arg = "input" if name == "self" else name
        raise TypeError(f"{self.base}(): argument '{arg}' (position {self.tensor_pos[k] + 1}) must be Tensor, "
                        f"not {type(a).__name__}")

    def bind(self, args, kwargs):
        """The forward's positional values for a call's arguments (schema order, defaults filled in)."""
        vals = list(args)
        kwargs = dict(kwargs)
        for p in self.params[len(args):]:
            vals.append(kwargs.pop(p) if p in kwargs else self.defaults.get(p))
        return vals

    def cost(self, *args, **kwargs):
        """The rule's Cost of a call with these arguments (Tensors or arrays), or None without a rule."""
        if self.rule is None:
            return None
        vals = [a._data if isinstance(a, Tensor) else a for a in self.bind(args, kwargs)]
        return self.rule.cost(vals)

    def __call__(self, *args, **kwargs):
        """Apply to tensors (or Python scalars where the schema takes a Tensor), recording a node.

        Arguments bind to the schema's parameters in order, then by name, then to the defaults."""
        if _dual:
            r = _jvp_call(self, args, kwargs)
            if r is not _NO_JVP:
                return r
        if self.simple and not kwargs and len(args) == self.n_lead:
            # only the differentiable tensor inputs are given, in schema order: the common case, lean
            if self.check is not None:
                self.check(*args, *self.default_vals)
            req = False
            arrays = []
            for a in args:
                if isinstance(a, Tensor):
                    arrays.append(a._data)
                    if a._req:
                        req = True
                else:
                    if type(a) is list or type(a) is tuple:
                        self._not_tensor(len(arrays), a)
                    arrays.append(a)
            if self.promote:
                arrays = _promote(args, arrays)
            b = _tl.budget
            bwd = charge(b, self, (*arrays, *self.default_vals)) if b is not None else None
            try:
                out = self.forward(*arrays, *self.default_vals)
            except EngineError:
                raise
            except ValueError:
                _check_broadcast(arrays)
                raise
            if b is not None:
                _track(b, out, self.nout)
            if req and grad_mode.enabled:
                return self._record(args, arrays, self.default_attrs, out, bwd)
            if self.nout == 1:
                t = Tensor._make(out)
                if _tracing:  # an output that needs no grad: traced all the same (a constant of the program)
                    _traced(self, args, arrays, self.default_attrs, t)
                return t
            res = tuple(Tensor._make(o) for o in out)
            if _tracing:
                _traced(self, args, arrays, self.default_attrs, res)
            return res
        params = self.params
        if kwargs or len(args) != len(params):
            vals = list(args)
            for p in params[len(args):]:
                vals.append(kwargs.pop(p) if p in kwargs else self.defaults.get(p))
            if kwargs:
                raise TypeError(f"{self.base}() got an unexpected keyword argument '{next(iter(kwargs))}'")
        else:
            vals = list(args)
        if self.check is not None:
            self.check(*vals)
        tensors = [vals[i] for i in self.tensor_pos]
        arrays = []
        req = False
        diff = self.diff_index
        for k, a in enumerate(tensors):
            if isinstance(a, Tensor):
                arrays.append(a._data)
                if a._req and (diff is None or k in diff):
                    req = True
            else:
                if type(a) is list or type(a) is tuple:
                    self._not_tensor(k, a)
                arrays.append(a)
        if self.promote:
            arrays = _promote(tensors, arrays)
        for i, arr in zip(self.tensor_pos, arrays):
            vals[i] = arr
        b = _tl.budget
        bwd = charge(b, self, vals) if b is not None else None
        try:
            out = self.forward(*vals)
        except EngineError:
            raise
        except ValueError:
            _check_broadcast(vals)  # NumPy's broadcast failure, in torch's words (every array argument)
            raise
        if b is not None:
            _track(b, out, self.nout)
        if not (req and grad_mode.enabled and self.differentiable):
            if self.nout == 1:
                t = Tensor._make(out)
                if _tracing:
                    _traced(self, tensors, arrays, {p: vals[i] for i, p in self.attr_pos}, t)
                return t
            res = tuple(Tensor._make(o) for o in out)
            if _tracing:
                _traced(self, tensors, arrays, {p: vals[i] for i, p in self.attr_pos}, res)
            return res
        attrs = {p: vals[i] for i, p in self.attr_pos} if self.attr_pos else _EMPTY
        return self._record(tensors, arrays, attrs, out, bwd)

    def _save_plan(self, needs):
        """What to save when these inputs need a grad: (name, kind, input index or output number)."""
        want = set()
        seen = set()
        for i, n in enumerate(needs):
            if n:
                for names in self._needs_for[i]:
                    if id(names) not in seen:
                        seen.add(id(names))
                        want |= names
        plan = []
        for name in self._save_order:
            if name not in want:
                continue
            k = self.argkind[name]
            if k == 0:
                plan.append((name, 0, self.tensor_index[name]))
            elif k == 1:
                plan.append((name, 1, 0 if name == "result" else int(name[6:])))
        return tuple(plan)

    def _record(self, args, arrays, attrs, out, bwd=None):
        node = _new(self.node_cls)
        node._bwd = bwd
        edges = []
        needs = []
        meta = []
        every = True  # every input needs a grad: the precomputed save plan applies
        for a in args:
            if isinstance(a, Tensor):
                e = edge_of(a)
                edges.append(e)
                if e[0] is None:
                    needs.append(False)
                    every = False
                else:
                    needs.append(True)
                d = a._data
                # the input's own dtype (before promotion): its gradient is cast back to it
                meta.append((d.shape, d.dtype))
            else:
                edges.append(_NO_EDGE)
                needs.append(False)
                meta.append(None)
                every = False
        diff = self.diff_index
        node.next_functions = tuple(edges) if diff is None else tuple(edges[i] for i in diff)
        node._seq = next(_seq)
        node._retained = None
        node._pre_hooks = None
        node._hooks = None
        node._needs = needs
        node._in_meta = meta
        node._released = False
        node._attrs = attrs
        if self.saves_tensors:
            saved = {}
            if every:
                plan = self._plan_every
            else:
                key = tuple(needs)
                plan = self._save_plans.get(key)
                if plan is None:
                    plan = self._save_plans[key] = self._save_plan(needs)
            for name, k, idx in plan:
                if k == 0:
                    a = args[idx]
                    saved[name] = a
                    if (type(a) is Tensor or isinstance(a, Tensor)) and a._vc is not None and a._vc.version:
                        saved[("v", name)] = a._vc.version  # checked against its counter at backward
                else:
                    saved[name] = out if self.nout == 1 else out[idx]
            node._saved = saved
        else:
            node._saved = _EMPTY
        if self.nout == 1:
            t = Tensor._make(out)
            if out.dtype.kind == "f":
                t._req = True
                t.grad_fn = node
            if _graph.packing and self.saves_tensors:
                _graph.pack_node(node, (t,))
            if _tracing:
                _traced(self, args, arrays, attrs, t)
            return t
        res = []
        for nr, o in enumerate(out):
            t = Tensor._make(o)
            if o.dtype.kind == "f":
                t._req = True
                t.grad_fn = node
                t._output_nr = nr
            res.append(t)
        if _graph.packing and self.saves_tensors:
            _graph.pack_node(node, res)
        if _tracing:
            _traced(self, args, arrays, attrs, tuple(res))
        return tuple(res)


class _ViewOpDef(OpDef):
    """An entry whose outputs are views of its first tensor input (the class OpDef gives view entries)."""

    def __call__(self, *args, **kwargs):
        src = args[0] if args else kwargs.get(self.tensor_params[0])
        if not isinstance(src, Tensor):
            return OpDef.__call__(self, *args, **kwargs)
        src._storage()  # first: a one-value tensor's NumPy scalar becomes an array its views can share
        out = OpDef.__call__(self, *args, **kwargs)
        mark_views(out if isinstance(out, tuple | list) else (out,), src, self.view == "multi", grad_mode.enabled)
        return out




def _cuda_forward(op: OpDef):
    expr, fallback, n = op.cuda, op.array_forward, len(op.tensor_params)

    def forward(*args):
        # the attributes after the tensors (add/sub's alpha) must be 1 for the expression to hold
        if all(a == 1 for a in args[n:]):
            out = B.cuda_pointwise(expr, args[:n])
            if out is not None:
                return out
        return fallback(*args)

    return forward


def _switch_forwards(backend: str) -> None:
    """Under CuPy the ops with a C expression run through engine._backend's vectorized kernels."""
    for op in REGISTRY.values():
        if op.cuda is not None:
            op.forward = _cuda_forward(op) if backend == "cupy" else op.array_forward


B.on_switch(_switch_forwards)


def defop(schema, forward, **kw) -> OpDef:
    return OpDef(schema, forward, **kw)


def nondiff(schema, forward, **kw) -> OpDef:
    """An op with no derivative (comparisons, argmax, ...): outputs never get a grad_fn."""
    return OpDef(schema, forward, differentiable=False, **kw)
