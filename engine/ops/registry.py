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
import re
import threading
from dataclasses import dataclass, field

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine import dtypes as D
from engine.autograd import FREED_MSG, Node, _seq, edge_of, grad_mode
from engine.autograd import graph as _graph
from engine.autograd.graph import PackedSaved as _PackedSaved
from engine.autograd.views import mark_views
from engine.errors import EngineError, TorchRuntimeError
from engine.ops import rules as _rules
from engine.ops._util import broadcast_shapes
from engine.tensor import Tensor

REGISTRY: dict[str, OpDef] = {}  # "mul.Tensor" -> entry
_new = object.__new__  # a node without the class call's __init__ lookup
_SUM_TO = None  # (sum_to_shape, sum_to_shape_array): engine.ops.reduction imports this module, and sets it
_PY_SCALARS = (bool, int, float)
_EMPTY: dict = {}  # the attrs / saved tensors of every node that has none (never written to)
_NO_EDGE = (None, 0)
_tl = _budget._local  # .budget: the request's Budget on this thread, or None (library use)
# forward-mode AD (engine.autograd.forward_ad): the threads with a dual level entered; while 0, an op pays one
# global read for it. _jvp_call is engine.ops.jvp.call (set when a level is first entered): it gives the op's
# result with its tangent, or _NO_JVP where nothing propagates.
_dual = 0
_jvp_call = None
_NO_JVP = object()

# ----- tracing: which entry ran on which operands (engine.program.lower reads it to lower a Program) -----

_tracing = 0  # threads tracing now: while 0, recording a node costs one global read more
_trace_local = threading.local()
_trace_lock = threading.Lock()


class trace:
    """`with trace() as log:` appends (entry, args, forward operands, attrs, output) to log for every entry
    this thread applies meanwhile: for each node recorded (_record, the unrolled call), and for each
    application that records none (no input needs a grad, or grad mode is off; the output a tuple where the
    entry has several), so that a caller can tell which entries a function of the catalog ran, on what."""

    def __enter__(self):
        global _tracing
        self.prev = getattr(_trace_local, "log", None)
        log = _trace_local.log = []
        with _trace_lock:
            _tracing += 1
        return log

    def __exit__(self, *exc):
        global _tracing
        with _trace_lock:
            _tracing -= 1
        _trace_local.log = self.prev
        return False


def _traced(op, args, arrays, attrs, out):
    log = getattr(_trace_local, "log", None)
    if log is not None:
        log.append((op, tuple(args), tuple(arrays), attrs, out))


_BASE_COUNT: dict[str, int] = {}


def backward_name(base: str, index: int) -> str:
    """aten base name -> grad_fn class name, as torch's codegen does it."""
    base = base.lstrip("_")
    if base.endswith("_forward"):
        base = base[: -len("_forward")]
    return "".join(p.title() for p in base.split("_")) + f"Backward{index}"


_SCHEMA = re.compile(r"^(?P<name>[\w]+)(?:\.(?P<overload>\w+))?\((?P<params>.*)\)\s*->\s*(?P<ret>.*)$")


class Formula:
    __slots__ = ("fn", "argnames", "inputs", "array_fn")

    def __init__(self, fn, inputs):
        self.fn = fn
        self.array_fn = None  # the same formula over arrays (defop's vjp=), for backward without create_graph
        self.inputs = inputs  # indices of the tensor inputs it computes (one, or several for joint formulas)
        # the first parameter is grad; output_mask is passed by keyword to joint formulas, never resolved
        self.argnames = tuple(n for n in tuple(inspect.signature(fn).parameters)[1:] if n != "output_mask")


class OpNode(Node):
    """grad_fn of one op application; subclassed once per entry so type(node).__name__ is torch's."""

    __slots__ = ("_saved", "_attrs", "_needs", "_in_meta", "_released", "_bwd")
    op: OpDef = None
    num_outputs = 1  # each entry's node class sets its own (a class attribute: read per node in backward)

    def release(self):
        if self.op.saves_tensors:
            self._released = True
            self._saved = None

    def _resolve(self, name):
        op = self.op
        kind = op.argkind[name]
        if kind == 0:  # tensor input
            if self._released:
                raise TorchRuntimeError(FREED_MSG)
            t = self._saved[name]
            if type(t) is not Tensor:
                return _unpack_other(self, name, t)
            if t._vc is not None:
                check_saved_version(t, self._saved.get(("v", name), 0))
            return t
        if kind == 1:  # an output
            if self._released:
                raise TorchRuntimeError(FREED_MSG)
            arr = self._saved[name]
            if type(arr) is _graph.Packed:
                return arr.unpack(self)
            nr = 0 if name == "result" else int(name[6:])
            out = self._saved.get(("out", nr))
            if out is not None:
                check_saved_output(self, nr, *out)
            return _unpack_output(self, arr, nr)
        if kind == 2:
            return self._in_meta[op.tensor_index[name[:-6]]][0]
        if kind == 3:
            return D.FROM_NP[self._in_meta[op.tensor_index[name[:-6]]][1]]
        attrs = self._attrs
        return attrs[name] if name in attrs else op.defaults.get(name)

    def apply(self, grads, create_graph):
        if type(self._saved) is _PackedSaved:  # saved through hooks: each unpacked once a call, as torch does
            return _graph.apply_unpacked(self, grads, create_graph)
        op = self.op
        plan = op.vjp_plan
        if plan is not None and not create_graph and B.xp is np and not self._released and not _dual:
            out = self._apply_arrays(plan, grads[0])
            if out is not None:
                return out
        g = grads[0] if op.nout == 1 else grads
        needs = self._needs
        out = [None] * len(needs)
        # nothing records (and no tangent propagates): broadcast sums may run on the arrays
        arrays = not create_graph and B.xp is np and not _dual
        for f in op.formulas:
            inputs = f.inputs
            if len(inputs) == 1:
                i = inputs[0]
                if needs[i]:
                    out[i] = f.fn(g, *[self._resolve(n) for n in f.argnames])
                continue
            if not any(needs[i] for i in inputs):
                continue
            args = [self._resolve(n) for n in f.argnames]
            res = f.fn(g, *args, output_mask=needs) if op.joint_mask else f.fn(g, *args)
            for i, r in zip(inputs, res):
                out[i] = r
        meta = self._in_meta
        for i, gi in enumerate(out):
            if gi is not None and needs[i]:
                out[i] = _conform(gi, meta[i], arrays)
            elif not needs[i]:
                out[i] = None
        diff = op.diff_index
        return out if diff is None else [out[i] for i in diff]

    def _apply_arrays(self, plan, g):
        """apply without create_graph, where the entry has array formulas (defop's vjp=): nothing records
        the formulas, so they run on the arrays (the same operations in the same order, so the same bits)
        instead of dispatching engine ops per term, with their arguments resolved ahead (OpDef.vjp_plan).
        Only where every operand has the gradient's dtype: None sends a mixed-dtype node to the Tensor
        route, where torch's promotion rules apply."""
        if type(g) is not Tensor:
            return None
        out = self._raw(g._data)
        if out is None:
            return None
        make = Tensor._make
        return [None if r is None else make(r) for r in out]

    def __getattr__(self, name):
        """torch's grad_fn._saved_<name>: a saved input or output (version-checked, as torch unpacks it), an
        attribute (`_saved_exponent`), an input's shape (`_saved_self_sym_sizes`); None where this node did not
        need to save it. Reached only for names the class does not have."""
        if name.startswith("_raw_saved_"):
            raw = _graph.raw_saved(self, name[11:])
            if raw is not None:
                return raw
        elif name.startswith("_saved_"):
            key = name[7:]
            if key.endswith("_sym_sizes"):
                key = key[:-10] + "_shape"
            op = type(self).op
            if key in op.argkind or key in op.params:
                kind = op.argkind.get(key, 4)
                if kind in (0, 1) and key not in (self._saved or {}) and not self._released:
                    return None
                value = self._resolve(key)
                return tuple(value) if key.endswith("_shape") else value
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")


def _unpack_other(node, name, v):
    """A saved input that is not a plain Tensor: a packed one (its unpack hook runs; no version check, as torch
    has none through hooks), a Tensor subclass (a Parameter: version-checked as any tensor), or a number."""
    if type(v) is _graph.Packed:
        return v.unpack(node)
    if isinstance(v, Tensor) and v._vc is not None:
        check_saved_version(v, node._saved.get(("v", name), 0))
    return v


def _unpack_output(node, arr, nr):
    t = Tensor._make(arr)
    t._req = True
    t.grad_fn = node
    t._output_nr = nr
    if _dual:  # the output's tangent where forward-mode AD gave it one (engine.ops.jvp.attach saved it)
        fw = node._saved.get(("fw", nr)) if node._saved else None
        if fw is not None:
            t._fw = fw
    return t


def _conform(g, meta, arrays=False):
    """torch's validate_outputs: sum a broadcast gradient down to the input's shape, cast its dtype.
    arrays: nothing records (no create_graph, NumPy): the sums run on the array, through the same
    forward as the engine's sum op."""
    shape, dt = meta
    if not isinstance(g, Tensor):
        return Tensor._make(B.xp.full(shape, g, dtype=dt))
    if g._data.shape != shape:
        sum_to_shape, sum_to_shape_array = _SUM_TO
        g = Tensor._make(sum_to_shape_array(g._data, shape)) if arrays else sum_to_shape(g, shape)
    if g._data.dtype != dt:
        g = g.to(D.FROM_NP[dt])
    return g


# ----- array backward: an entry's array formulas as one generated function per entry -----


def _lazy_raw(node, g):
    """A node class's `_raw` until first called: generates the entry's (_make_raw), keeps it on the class."""
    cls = type(node)
    cls._raw = _make_raw(cls.op)
    return node._raw(g)


def _make_raw(op):
    """`node._raw(g)`: OpNode.apply(grads=[Tensor(g)], create_graph=False) for an entry with array formulas
    (OpDef.vjp_plan), over arrays: each input's gradient as an array, summed to its shape and cast to its
    dtype as _conform does (None where the input needs none), or None where the node must take the Tensor
    route (freed saved tensors, another backend than NumPy, an operand of another dtype than the gradient's,
    where torch's promotion applies). Written out per entry, its plan unrolled: the saved values read, their
    version counters checked, in the order the loop over the plan did (tests/engine/test_array_vjp.py)."""
    ns = {"Tensor": Tensor, "np": np, "B": B, "check_saved_version": check_saved_version,
          "check_saved_output": check_saved_output, "SUM_TO": _SUM_TO[1], "D": D, "unpack_other": _unpack_other,
          "Packed": _graph.Packed, "PackedSaved": _PackedSaved}
    lines = ["def raw(self, g):",
             "    # saved through hooks: OpNode.apply unpacks each saved tensor once a call (graph.apply_unpacked)",
             "    if self._released or B.xp is not np or type(self._saved) is PackedSaved:",
             "        return None",
             "    dt = g.dtype",
             "    needs = self._needs",
             "    saved = self._saved",
             "    meta = self._in_meta"]
    results = []
    for i, (fn, spec) in enumerate(op.vjp_plan):
        ns[f"f{i}"] = fn
        lines.append(f"    if needs[{i}]:")
        args = []
        for j, (kind, name) in enumerate(spec):
            v = f"v{i}_{j}"
            if kind == 0:
                lines += [f"        {v} = saved[{name!r}]",
                          f"        if type({v}) is Tensor:",
                          f"            if {v}._vc is not None:",
                          f"                check_saved_version({v}, saved.get(('v', {name!r}), 0))",
                          f"            {v} = {v}._data",
                          "        else:  # a Parameter, a packed tensor (engine.autograd.graph), a number",
                          f"            {v} = unpack_other(self, {name!r}, {v})",
                          f"            if isinstance({v}, Tensor):",
                          f"                {v} = {v}._data"]
            elif kind == 1:
                nr = 0 if name == "result" else int(name[6:])
                lines += [f"        {v} = saved[{name!r}]",
                          f"        if type({v}) is Packed:",
                          f"            {v} = {v}.unpack(self)._data",
                          f"        elif ('out', {nr}) in saved:",
                          f"            check_saved_output(self, {nr}, *saved[('out', {nr})])"]
            else:
                lines.append(f"        {v} = self._resolve({name!r})")
            lines += [f"        if getattr({v}, 'dtype', dt) != dt:",
                      "            return None"]
            args.append(v)
        r = f"r{i}"
        lines += [f"        {r} = f{i}(g{''.join(', ' + a for a in args)})",
                  f"        shape, want = meta[{i}]",
                  f"        if {r}.shape != shape:",
                  f"            {r} = SUM_TO({r}, shape)",
                  f"        if {r}.dtype != want:",
                  f"            {r} = Tensor._make({r}).to(D.FROM_NP[want])._data",
                  "    else:",
                  f"        {r} = None"]
        results.append(r)
    lines.append(f"    return [{', '.join(results)}]")
    exec(compile("\n".join(lines) + "\n", f"<array backward of {op.qualname}>", "exec"), ns)  # noqa: S102
    return ns["raw"]


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
                                                            "_raw": _lazy_raw if this.vjp_plan is not None else None})
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
        REGISTRY[this.qualname] = this

    def __repr__(self):
        return f"<op {self.schema}>"

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


# ----- saved tensors: what backward reads was not modified in place since it was saved -----


def _type_desc(t):
    return t.type() + " [" + ", ".join(str(s) for s in t._data.shape) + "]"


# Nodes torch writes by hand in C++: its messages name them with their namespace
_CPP_NODES = frozenset(("CopySlices", "CopyBackwards", "AccumulateGrad", "DelayedError", "NotImplemented", "Error"))


def friendly_name(fn) -> str:
    """A node's name as torch 2.13's messages print it: MulBackward0 -> Mul, CopySlices ->
    torch::autograd::CopySlices."""
    name = fn.name()
    if name in _CPP_NODES:
        return "torch::autograd::" + name
    return re.sub(r"Backward\d*$", "", name)


def version_error(t, current, expected, fn=None, output_nr=0):
    where = f", which is output {output_nr} of {friendly_name(fn)}," if fn is not None else ""
    return TorchRuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"[{_type_desc(t)}]{where} is at version {current}; expected version {expected} instead. "
        + anomaly_hint())


def anomaly_hint():
    from engine.autograd import anomaly_enabled  # noqa: PLC0415

    if anomaly_enabled():
        return ("Hint: the backtrace further above shows the operation that failed to compute its gradient. The "
                "variable in question was changed in there or anywhere later. Good luck!")
    return ("Hint: enable anomaly detection to find the operation that failed to compute its gradient, with "
            "torch.autograd.set_detect_anomaly(True, check_nan=False).")


def check_saved_version(t, expected):
    cur = t._vc.version
    if cur != expected:
        raise version_error(t, cur, expected, t.grad_fn, t._output_nr)


def check_saved_output(node, nr, storage, expected, ref):
    """An output this node saved (its values, in `storage`) was not changed in place since."""
    cur = storage.version
    if cur != expected:  # named by the node that saved it, as torch names a saved output
        t = ref()
        if t is None:
            t = _unpack_output(node, node._saved["result" if nr == 0 else f"result{nr}"], nr)
        raise version_error(t, cur, expected, node, nr)


_ALL_NEED = ((True,), (True, True))


def _fast_call(op):
    """`op(a)` / `op(a, b)` for an entry on the lean path (every tensor input differentiable, attributes at
    their defaults, one output), as a plain function with the loops of __call__ and _record unrolled: the
    per-op cost of a scalar chain is mostly this bookkeeping (docs/PERFORMANCE.md). Anything off the common
    case (a non-Tensor first operand, promotion, an input that needs no grad) goes to __call__, which is
    the reference: tests/engine/test_array_vjp.py holds the two to the same nodes, values and grads."""
    node_cls, make, check, vals = op.node_cls, Tensor._make, op.check, op.default_vals
    attrs = op.default_attrs or _EMPTY
    costs = {}  # _cached_charge's: this entry's costs by operand shapes and dtypes
    saves = op.saves_tensors
    plan = op._plan_every

    def finish(node, args, meta, out, bwd):
        node._bwd = bwd
        node._seq = next(_seq)
        node._retained = node._pre_hooks = node._hooks = None
        node._needs = _ALL_NEED[len(args) - 1]
        node._in_meta = meta
        node._released = False
        node._attrs = attrs
        if saves:
            saved = {}
            for name, k, idx in plan:
                if k == 0:
                    a = args[idx]
                    saved[name] = a
                    if a._vc is not None and a._vc.version:
                        saved[("v", name)] = a._vc.version
                else:
                    saved[name] = out
            node._saved = saved
        else:
            node._saved = _EMPTY
        t = make(out)
        if out.dtype.kind == "f":
            t._req = True
            t.grad_fn = node
        if saves and _graph.packing:
            _graph.pack_node(node, (t,))
        if _tracing:
            _traced(op, args, [a._data if isinstance(a, Tensor) else a for a in args], attrs, t)
        return t

    if op.n_lead == 1:

        def call(input):
            # a Tensor subclass (nn.Parameter) is one more isinstance; a plain Tensor pays nothing for it
            if (type(input) is not Tensor and not isinstance(input, Tensor)) or check is not None or _dual:
                return op(input)
            d = input._data
            b = _tl.budget
            bwd = _cached_charge(costs, b, op, (d.shape, d.dtype), (d, *vals)) if b is not None else None
            out = op.forward(d, *vals)
            if b is not None:
                b.track(out)
            if not (input._req and grad_mode.enabled):
                t = make(out)
                if _tracing:
                    _traced(op, (input,), (d,), attrs, t)
                return t
            node = _new(node_cls)
            node.next_functions = (edge_of(input),)
            return finish(node, (input,), ((d.shape, d.dtype),), out, bwd)

        return call

    promote = op.promote

    def call2(a, b):
        if (type(a) is not Tensor and not isinstance(a, Tensor)) or _dual:
            return op(a, b)
        da = a._data
        tb = type(b)
        bt = tb is Tensor or (tb is not float and tb is not int and isinstance(b, Tensor))  # b is a tensor
        if bt:
            db = b._data
            if promote and da.dtype != db.dtype:
                return op(a, b)
        elif tb is float or tb is int:  # a Python scalar operand: no promotion where torch's rules keep a's dtype
            k = da.dtype.kind
            if promote and not (k == "f" or (tb is int and k in "iu")):
                return op(a, b)
            db = b
        else:
            return op(a, b)
        if check is not None:
            check(a, b, *vals)
        bud = _tl.budget
        if bud is not None:
            key = (da.shape, da.dtype, db.shape, db.dtype) if tb is Tensor else (da.shape, da.dtype, tb, db)
            bwd = _cached_charge(costs, bud, op, key, (da, db, *vals))
        else:
            bwd = None
        try:
            out = op.forward(da, db, *vals)
        except EngineError:
            raise
        except ValueError:
            _check_broadcast((da, db))
            raise
        if bud is not None:
            bud.track(out)
        if not ((a._req or (bt and b._req)) and grad_mode.enabled):
            t = make(out)
            if _tracing:
                _traced(op, (a, b), (da, db), attrs, t)
            return t
        if not bt or not (a._req and b._req):  # an input that needs no grad: the general save plan
            return op._record((a, b), [da, db], op.default_attrs, out, bwd)
        node = _new(node_cls)
        node.next_functions = (edge_of(a), edge_of(b))
        return finish(node, (a, b), ((da.shape, da.dtype), (db.shape, db.dtype)), out, bwd)

    return call2


# ----- budgets: each call's rule charged before its forward runs (engine.budget) -----


def charge(b, op, vals):
    """Charge an entry's call to budget `b` before its forward runs: its rule's outputs and temporaries at
    the operands' widest item size (at least 4 bytes; 8 where the outputs may be indices or the call names a
    dtype), and its flops. Returns what its node's backward will cost, (bytes, flops), which run_backward
    charges before the node runs."""
    nbytes, flops, largest, bwd = cost_of(op, vals)
    b.charge(nbytes, flops, op.qualname, largest)
    return bwd


# A fast call's costs by its operands' shapes and dtypes (and a Python scalar operand's type and value): what
# cost_of reads of them, so a call of the same shapes is charged the same without running the rule again.
COST_CACHE_ENTRIES = 256


def _cached_charge(costs, b, op, key, vals):
    c = costs.get(key)
    if c is None:
        c = cost_of(op, vals)
        if len(costs) >= COST_CACHE_ENTRIES:
            costs.clear()
        costs[key] = c
    b.charge(c[0], c[1], op.qualname, c[2])
    return c[3]


def cost_of(op, vals):
    """What charge charges for an entry's call, from its forward's values: (bytes at its peak, flops, its largest
    output's elements, its backward's (bytes, flops) or None). A function of the operands' shapes, dtypes and
    Python scalars (a rule reads nothing else of them) and of the attributes."""
    rule = op.rule
    cost = rule.cost(vals) if rule is not None else _default_cost(op, vals)
    isz = 4 if op.differentiable else 8
    for v in vals:
        d = getattr(v, "dtype", None)
        if d is not None:
            n = getattr(d, "itemsize", 0)
            if n > isz:
                isz = n
        elif isinstance(v, D.dtype) and v.np.itemsize > isz:
            isz = v.np.itemsize
    out = cost.out
    if out and isinstance(out[0], tuple | list):
        n_out, largest = 0, 0
        for shape in out:
            n = _rules.numel(shape)
            n_out += n
            largest = max(largest, n)
    else:
        n_out = largest = _rules.numel(out)
    nbytes = (n_out + cost.temp) * isz
    if not op.differentiable:
        return nbytes, cost.flops, largest, None
    n_in = 0
    for i in op.tensor_pos:
        n_in += getattr(vals[i], "size", 1)
    bwd_temp = cost.bwd_temp if cost.bwd_temp is not None else cost.temp + n_out
    bwd_flops = cost.bwd_flops if cost.bwd_flops is not None else 2 * cost.flops
    return nbytes, cost.flops, largest, ((n_in + bwd_temp) * isz, bwd_flops)


def _default_cost(op, vals):
    """Until every entry has its rule: the broadcast of the tensor operands, ten flops an element."""
    out = _rules.broadcast(*(_rules.shape_of(vals[i]) for i in op.tensor_pos))
    n = _rules.numel(out)
    return _rules.Cost(out if op.nout == 1 else (out,) * op.nout, 10 * n)


def _track(b, out, nout):
    if nout == 1:
        b.track(out)
    else:
        for o in out:
            b.track(o)


def _check_broadcast(arrays):
    """Raise torch's message when the array operands do not broadcast (shapes folded left to right,
    as TensorIterator does); return quietly when they do."""
    shape = None
    for a in arrays:
        s = getattr(a, "shape", None)
        if s is None:
            continue
        shape = tuple(s) if shape is None else broadcast_shapes(shape, tuple(s))


def _promote(args, arrays):
    """Cast tensor operands to torch.result_type of all operands; Python scalars stay scalars."""
    if len(arrays) == 2:  # the common binary case, decided without building sets
        a0, a1 = arrays
        t1 = type(a1)
        if type(a0) in _PY_SCALARS or a0 is None:
            pass
        elif t1 is float or t1 is int:
            k = a0.dtype.kind
            if k == "f" or (t1 is int and k in "iu"):
                return arrays
        elif t1 is not bool and a1 is not None and type(a0) is not float and a0.dtype == a1.dtype:
            return arrays
    dts = set()
    for a in arrays:
        dt = getattr(a, "dtype", None)
        if dt is not None:
            dts.add(dt)
    if any(a is None for a in arrays):
        args = [a for a in args if a is not None]
    if len(dts) == 1:
        dt = next(iter(dts))
        kind = dt.kind
        cat = 2 if kind == "f" else (0 if kind == "b" else 1)
        ok = True
        for a in arrays:
            if a is not None and getattr(a, "dtype", None) is None:
                c = 0 if isinstance(a, bool) else (1 if isinstance(a, int) else 2)
                if c > cat:
                    ok = False
                    break
        if ok:
            return arrays
    target = D.result_type(*args).np
    # the casts are allocations outside the entry's forward: charged to the request first (engine.budget)
    _budget.charge(sum(a.size for a in arrays if a is not None and getattr(a, "dtype", target) != target),
                   target.itemsize, what="the dtype promotion")
    return [a.astype(target) if a is not None and getattr(a, "dtype", target) != target else a for a in arrays]


def _split_params(s):
    """Split a schema's parameter list on top-level commas (defaults such as [0, 1] contain commas)."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def _literal(text):
    import ast  # noqa: PLC0415

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


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



# ----- the public catalog's entries (gathered by engine.catalog) -----


@dataclass
class Entry:
    name: str
    fn: object
    doc: str
    opdefs: tuple = ()
    function: bool = True  # engine.<name>
    method: bool = True  # Tensor.<name>
    functional: bool = False  # engine.nn.functional.<name>
    grad_fn_names: tuple = field(default=())

    @property
    def signature(self) -> str:
        try:
            sig = inspect.signature(self.fn)
        except (TypeError, ValueError):
            return f"{self.name}(...)"
        parts = []
        star = False
        for p in sig.parameters.values():
            if p.kind is p.VAR_POSITIONAL:
                parts.append("*" + p.name)
                star = True
                continue
            if p.kind is p.KEYWORD_ONLY and not star:
                parts.append("*")
                star = True
            parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
        return f"{self.name}({', '.join(parts)}) -> Tensor"


def entry(name, fn, doc, *opdefs, function=True, method=True, functional=False, grad_fns=()):
    names = tuple(o.grad_fn_name for o in opdefs if getattr(o, "differentiable", False)) + tuple(grad_fns)
    return Entry(name, fn, doc, tuple(opdefs), function, method, functional, names)
