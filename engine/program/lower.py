"""Lowering: a recorded Program as one straight-line Python function over arrays.

A Program (engine.program.plans) replays a request's structure through the engine's own functions: per op a
Tensor, a node, its saved tensors; per backward pass run_backward's dependency count and heap. For most
programs all of that is fixed by the structure: which entry's forward runs on which arrays, which formula runs
on which gradient, in which order gradients are summed. `lower` reads it off the recording run and writes it
down as Python source over arrays, which a replay then calls: no Tensor, no node, no heap.

The forward: each op's entries, as the op trace (engine.ops.registry.trace) recorded them, called again on the
same operands (the document's leaves, earlier entries' outputs, their casts to a promoted dtype, Python
constants); an entry whose output shape its rule cannot state exactly (it depends on values) or a program
that drew random numbers does not lower. The backward: every pass's schedule as run_backward walks it (the
same dependency count and heap order, the same buffer sums, retain_grad's copies, leaves accumulating over
passes), each node by the route run_backward's array loop takes: its entry's array formulas (defop's vjp=),
written out, or its Tensor formulas, run once on the recording's arrays under the op trace and written out as
the entries they applied, then summed to each input's shape and cast as _conform does. Anything the walk
cannot account for as entries on known arrays (a helper that makes an array by itself, a node that is not
an op's: a custom Function, an in-place op's CopySlices), warnings, and programs that change tensors or
autograd state (run.STATEFUL) keep the Program's own replay.

A few entries' forwards are called as a kernel of the same bits instead (engine.program.kernels: fewer NumPy
calls on the small float inputs requests give them).

The function is kept only where running it gives the recording's values and grads bit for bit, and
engine.program.plans then holds its responses to the full path's at two other sets of leaf values: a
constant that a function derived from values (not from shapes), or a decision in Python glue that the values
made, shows there, and the program is not lowered. tests/engine/test_lower.py holds lowered replays to the
full path.
"""
from __future__ import annotations

import heapq
import inspect
import itertools
import sys

import numpy as np

from engine import _backend as B
from engine import dtypes as D
from engine.autograd import AccumulateGrad, dependencies, grad_mode
from engine.autograd.hooks import _store_retained
from engine.ops import registry as R
from engine.ops.value_guard import Guard, guard
from engine.printing import value_repr
from engine.program.glue import WATCH_WORK, first_value_read, watch
from engine.program.kernels import SMALL_SUM_MAX, kernel, sum_to_kernel
from engine.program.lower_fold import fold
from engine.program.lower_parts import _ARRAYS, Lowered, _only_retains, _plain, _same
from engine.tensor import Tensor


class _NotLowerable(Exception):
    pass


def _need(cond):
    if not cond:
        raise _NotLowerable(sys._getframe(1).f_lineno)  # where it declined: lower.declined() says why


def declined(program) -> str | None:
    """Why a Program did not lower (for the benchmarks and docs): the check that failed, as a line of this
    module's source, or what else stopped it; None where it lowered or has not tried."""
    return program.notes.get("declined")


def lower(program, run, traces) -> Lowered | None:
    """The program as a function over arrays, or None where it does not lower (see the module's text).

    program: the Program the recording run filled; run: that run (its env after the response was built);
    traces: per step, the registry trace its function call left."""
    try:
        return _Lowering(program, run, traces).build()
    except _NotLowerable as e:
        line = e.args[0] if e.args else 0
        if line:
            program.notes["declined"] = f"lower.py:{line}: {_SOURCE[line - 1].strip() if line <= len(_SOURCE) else ''}"
        return None


class _Lowering:
    def __init__(self, program, run, traces):
        self.program, self.run, self.traces = program, run, traces
        self.ns: dict = {"_T": Tensor._make}  # the generated function's globals: entries' functions, constants
        self.lines: list[str] = []
        self.var: dict = {}  # id(array) -> variable
        self.val: dict = {}  # variable -> its value in the walk over the recording's arrays
        self.keep: list = []  # the recording's objects whose ids name variables: alive while lowering
        self.ops: dict = {}  # id(node) -> (entry, its call's args, output variables, node)
        self.outs: dict = {}  # id(tensor) -> the variable of the entry output it was made as (the tensor kept)
        self.n = itertools.count()
        self.elementwise = True  # only array formulas and entries with them: scalar leaves will do (Lowered)
        self.guarded = False  # a guard was written (Lowered.guarded)
        self.glue: set = set()  # the code the walk ran between entries (Tensor formulas, casts): glue.watch
        self.watch_work = [WATCH_WORK]  # the work those watches share (glue.WATCH_WORK)

    # ----- names -----

    def const(self, obj) -> str:
        name = f"k{next(self.n)}"
        self.ns[name] = obj
        return name

    def emit(self, prefix, expr, value) -> str:
        name = f"{prefix}{next(self.n)}"
        self.lines.append(f"    {name} = {expr}")
        self.val[name] = value
        if isinstance(value, _ARRAYS):
            self.bind(value, name)
        return name

    def bind(self, arr, name):
        self.var[id(arr)] = name
        self.keep.append(arr)

    def known(self, arr) -> str:
        """The variable holding this array of the walk."""
        v = self.var.get(id(arr))
        _need(v is not None)
        return v

    # ----- the parts -----

    def build(self) -> Lowered:
        run, program = self.run, self.program
        # NumPy only: under CuPy backward takes the Tensor route (OpNode.apply) everywhere; random draws are the
        # request's stream, which a replay does not set up
        _need(B.xp is np and not run.warnings and program.respond is not None and not program.notes.get("random"))
        params = []
        leaf_np = []
        for i, (name, dt, _rg, _loc) in enumerate(program.leaves):
            t = run.env[name]
            _need(dt is not None and type(t._data) is np.ndarray and t._data.dtype == dt.np)
            p = f"x{i}"
            params.append(p)
            leaf_np.append(dt.np)
            self.val[p] = t._data
            self.bind(t._data, p)
            if dt.np.kind != "f":
                self.elementwise = False
        for st, log in zip(program.steps, self.traces, strict=True):
            self.step(st, log)
        grads = self.backward()
        # what chose the entries and their constants must not have looked at values: it is not run again
        read = first_value_read(self.run.glue | self.glue)
        if read is not None:
            program.notes["declined"] = f"code between the entries reads values: {read}"
            raise _NotLowerable(0)
        names, grad_set, _encode = program.respond
        data_vars, grad_vars = [], []
        for n in names:
            t = run.env[n]
            _need(t is not None)
            data_vars.append(self.known(t._data))
            g = grads.get(id(t))
            want = t._grad
            _need((g is None) == (want is None))
            if g is not None:
                _need(_same(self.val[g], want._data))
            grad_vars.append(g if g is not None else "None")
        self.lines.append(f"    return ({''.join(v + ', ' for v in data_vars)}), "
                          f"({''.join(v + ', ' for v in grad_vars)})")
        source = f"def lowered({', '.join(params)}):\n" + "\n".join(self.lines) + "\n"
        exec(compile(source, "<engine.program.lower>", "exec"), self.ns)  # noqa: S102 - our own generated source
        fn = self.ns["lowered"]
        # the function itself, once, on the recording's arrays: the same values and grads, bit for bit
        data, gr = fn(*[self.val[p] for p in params])
        for n, d, g in zip(names, data, gr, strict=True):
            t = run.env[n]
            _need(_same(d, t._data))
            _need((g is None and t._grad is None) or (g is not None and _same(g, t._grad._data)))
        single = self.folded(source, [self.val[p] for p in params], data, gr)
        json = program.respond[2] == "json"
        reprs = [value_repr(dn, suffixes) if json and not shape else None
                 for _n, shape, dn, _rq, _cls, _gf, _rg, suffixes in program.fixed[0]]
        low = Lowered(fn, source, tuple(leaf_np), reprs, self.elementwise, single)
        low.guarded = self.guarded
        return low

    def folded(self, source, args, data, grads):
        """lower_fold's function of this source, where it gives fn's values and grads on the recording's
        arrays bit for bit; else None (fn serves single requests too)."""
        f = fold(source, self.ns)
        if f is None:
            return None
        text, consts = f
        ns = {**self.ns, **consts}
        try:
            exec(compile(text, "<engine.program.lower folded>", "exec"), ns)  # noqa: S102 - our own source
            d2, g2 = ns["lowered"](*args)
        except Exception:  # noqa: BLE001 - a formula that writes into a folded array (read-only): not folded
            return None
        same = len(d2) == len(data) and len(g2) == len(grads) and all(
            _same(a, b) for a, b in zip(d2, data)) and all(
            (a is None) == (b is None) and (a is None or _same(a, b)) for a, b in zip(g2, grads))
        return ns["lowered"] if same else None

    def step(self, st, log):
        """One op of the document: the entries its function ran, in order (F.linear: t, then addmm), each on
        known arrays; what the op's names are bound to must be among the arrays they made."""
        _need(st.op is None and len(log) >= 1)
        for op, args, arrays, attrs, out in log:
            self.entry(op, args, arrays, attrs, out)
        for n in st.names:
            t = self.run.env[n]
            _need(t is not None and id(t._data) in self.var)

    def operand(self, a, arr) -> str:
        """An entry's operand as the generated code names it: a known array, a known array cast to the
        dtype its entry promoted it to, or a plain constant."""
        if isinstance(arr, _ARRAYS):
            v = self.var.get(id(arr))
            if v is not None:
                return v
            v = self.made_as(a, arr)
            if v is not None:
                return v
            self.elementwise = False
            if type(a) is Tensor and id(a._data) in self.var and a._data.dtype != arr.dtype:
                # _promote's cast of a tensor operand (a copy: a new array)
                _need(_same(a._data.astype(arr.dtype), arr))
                return self.emit("c", f"{self.known(a._data)}.astype({self.const(arr.dtype)})  # promoted", arr)
            return self.constant_array(a, arr)
        _need(_plain(arr))
        return self.const(arr)

    def made_as(self, a, arr) -> str | None:
        """An entry's output tensor as the entry made it, where the tensor's array was replaced since by another
        entry's output (the trace keeps tensors, and the walk binds each output's array as it is after the run:
        cosine_similarity stores its norms' clamp, an entry under no_grad, as their clones' data, as torch's
        clamp_min_ does): the variable of the output it was made as, where its bits are arr's; else None. A
        replacement by an array glue computed itself is the glue check's (glue.first_value_read) to decline."""
        name = self.outs.get(id(a)) if type(a) is Tensor else None
        if name is None or not _same(self.val[name], arr):
            return None
        self.bind(arr, name)
        return name

    def constant_array(self, a, arr) -> str:
        """An operand no traced entry made: glue made it. Kept as a constant where it is what a number or a
        shape makes: one value (a Python number as a 0-d tensor), or float zeros (a buffer of an input's shape,
        as gather's backward starts from); any other array a helper computed by itself (a mask, indices) may
        come from values, and does not lower."""
        _need(type(a) is Tensor and a.grad_fn is None and not a._req)
        flat = np.asarray(arr).reshape(-1)
        _need(flat.size <= 1 or (flat.dtype.kind == "f" and not flat.view(np.uint8).any()))
        name = self.const(arr)
        self.val[name] = arr
        self.bind(arr, name)
        return name

    def attribute(self, v) -> str:
        """An attribute as the generated code names it: a constant, or a tensor-valued one (an index, a class
        target: `LongTensor index` is no `Tensor` parameter of the schema) as a Tensor of its known array."""
        if type(v) is Tensor:
            self.elementwise = False
            arr = v._data
            e = self.var.get(id(arr))
            if e is None:
                e = self.constant_array(v, arr)
            return f"_T({e})"
        if isinstance(v, list | tuple) and any(type(x) is Tensor for x in v):
            items = ", ".join(self.attribute(x) for x in v)
            return f"[{items}]" if isinstance(v, list) else f"({items},)"
        _need(_plain(v))
        return self.const(v)

    def entry(self, op, args, arrays, attrs, out, comment=None):
        """One traced application of an entry, written as a call of its forward; its outputs bound. (A Guard in
        the trace: a decision glue.decide made, written as a guard.)"""
        if type(op) is Guard:
            return self.guard(op, args, arrays)
        _need(type(out) is Tensor or (type(out) is tuple and all(type(o) is Tensor for o in out)))
        vals = [None] * op.nparams
        exprs = [None] * op.nparams
        for pos, a, arr in zip(op.tensor_pos, args, arrays, strict=True):
            exprs[pos] = self.operand(a, arr)
            vals[pos] = self.val[exprs[pos]] if exprs[pos] in self.val else arr
        for pos, p in op.attr_pos:
            v = attrs.get(p, op.defaults.get(p))
            exprs[pos], vals[pos] = self.attribute(v), v
        _need(op.rule.cost(vals).exact)  # an output whose size the values decide is not fixed by the structure
        value = op.forward(*vals)
        outs = (out,) if type(out) is Tensor else out
        values = (value,) if op.nout == 1 else tuple(value)
        _need(len(values) == len(outs))
        if op.vjp_plan is None:
            self.elementwise = False
        call = f"{self.const(kernel(op))}({', '.join(exprs)})"  # its forward, or a kernel of the same bits
        note = comment or op.qualname
        if op.nout == 1:
            names = (self.emit("y", f"{call}  # {note}", value),)
        else:
            whole = self.emit("o", f"{call}  # {note}", value)
            names = tuple(self.emit("y", f"{whole}[{k}]", v) for k, v in enumerate(values))
        for o, name, v in zip(outs, names, values):
            # the same bits as the recording's output; where the tensor's array is another now (replaced since by
            # another entry's output: cosine_similarity's clamp of a zero norm), it is not this entry's: the array
            # it was made as is bound where a later entry takes it (made_as, which compares the bits then)
            if _same(v, o._data):
                self.bind(o._data, name)
            self.outs[id(o)] = name
            self.keep.append(o)
            if o.grad_fn is not None:  # (the tuple keeps the node alive while its id is a key)
                self.ops[id(o.grad_fn)] = (op, args, names, o.grad_fn)
        return names

    def guard(self, g, tensors, arrays):
        """A decision on values (glue.decide: cumprod's backward, whether its input has a zero) as a line that
        makes it again on the lowered function's own arrays and raises where it comes out otherwise."""
        self.elementwise = False
        self.guarded = True
        _need(g.test(*arrays) is g.outcome)
        exprs = [self.operand(t, arr) for t, arr in zip(tensors, arrays, strict=True)]
        self.emit("v", f"{self.const(guard)}({self.const(g.test)}, {g.outcome!r}, {', '.join(exprs)})  "
                       f"# a guard: {g.test.__name__} was {g.outcome}", None)
        return ()

    def traced(self, fn, *args, note=""):
        """fn(*args) with grad mode off, as run_backward runs formulas, under the op trace: each entry it applied
        written out (on known arrays). Its result, whose arrays the caller looks up."""
        prev = grad_mode.enabled
        grad_mode.enabled = False
        try:
            with R.trace() as log, watch(self.watch_work) as codes:
                out = fn(*args)
        finally:
            grad_mode.enabled = prev
        self.glue |= codes
        for op, a, arrays, attrs, t in log:
            if type(op) is Guard:
                self.guard(op, a, arrays)
            else:
                self.entry(op, a, arrays, attrs, t, comment=f"{op.qualname} in {note}")
        return out

    # ----- the backward passes -----

    def backward(self) -> dict:
        """Walk run_backward's schedule for every pass; the gradients the response reads, by id(tensor): each
        leaf's accumulated .grad and each retained tensor's."""
        self.grads: dict = {}
        for p, _loc in self.program.passes:
            self.one_pass(p)
        return self.grads

    def one_pass(self, p):
        _need(set(p) <= {"tensor", "retain_graph", "create_graph", "gradient"} and not p.get("create_graph"))
        t = self.run.env[p["tensor"]]
        _need(t is not None and t._req and t._data.dtype.kind == "f")
        if p.get("gradient") is None:
            _need(t._data.size == 1)
            g0 = np.ones(t._data.shape, dtype=t._data.dtype)  # ones_like_data, as _root_grads makes it
            # a fresh copy of one kept array per call (np.ones costs 6x a copy): formulas may write into it
            g0 = self.emit("g", f"{self.const(g0.copy())}.copy()  # the implicit gradient", g0)
        else:  # the document's gradient: a constant of the structure, as _root_grads made it
            self.elementwise = False
            gv = np.array(p["gradient"], dtype=t._data.dtype)
            _need(gv.shape == t._data.shape)
            g0 = self.emit("g", f"{self.const(gv.copy())}.copy()  # the given gradient", gv)
        node = t.grad_fn
        nr0 = t._output_nr
        if node is None:  # a leaf's own backward: its AccumulateGrad alone runs
            self.accumulate(t, g0)
            return
        buffers = {node: [None] * node.num_outputs}
        buffers[node][nr0] = g0
        deps, order = dependencies([node])  # run_backward's own count
        for n in order:
            _need(_only_retains(n._hooks))
            _need(type(n) is AccumulateGrad or id(n) in self.ops)
        tie = itertools.count()
        ready = [(-node._seq, next(tie), node)]
        while ready:
            node = heapq.heappop(ready)[2]
            grads = buffers.pop(node, None) or [None] * node.num_outputs
            if node._hooks is not None and node._hooks.retains:
                self.retained(node, grads)
            if type(node) is AccumulateGrad:
                if grads[0] is not None:
                    self.accumulate(node.variable, grads[0])
                continue
            if grads[0] is None and (len(grads) == 1 or all(g is None for g in grads)):
                out = [None] * len(node.next_functions)
            else:
                out = self.apply(node, grads)
            for (nxt, nr), g in zip(node.next_functions, out, strict=True):
                if nxt is None:
                    continue
                if g is not None:
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * nxt.num_outputs
                    if buf[nr] is None:
                        buf[nr] = g
                    else:  # _add (or the array loop's a + g): the arrays' sum, broadcast where the shapes differ
                        a, b = self.val[buf[nr]], self.val[g]
                        _need(a.dtype == b.dtype)
                        buf[nr] = self.emit("g", f"{buf[nr]} + {g}  # summed in the buffer", a + b)
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    heapq.heappush(ready, (-nxt._seq, next(tie), nxt))

    def accumulate(self, leaf, g):
        """accumulate_into: the first gradient stored, later ones (another pass) added."""
        old = self.grads.get(id(leaf))
        if old is None:
            self.grads[id(leaf)] = g
            self.keep.append(leaf)
        else:
            a, b = self.val[old], self.val[g]
            _need(a.shape == b.shape and a.dtype == b.dtype)
            self.elementwise = False
            self.grads[id(leaf)] = self.emit("g", f"{old} + {g}  # accumulated", a + b)

    def retained(self, node, grads):
        """_store_retained for a node whose outputs retain their grad: run on Tensors of the walk's arrays under
        the op trace (a copy, or a sum with an earlier pass's), the result's array bound to the tensor."""
        self.elementwise = False
        retains = node._hooks.retains
        for nr, ref in retains.items():
            t = ref()
            if t is None or grads[nr] is None:
                continue
            before = t._grad  # the recording's own .grad: put back once the walk has read its own
            walked = self.grads.get(id(t))  # the walk's, an earlier pass's
            t._grad = None if walked is None else Tensor._make(self.val[walked])
            gs = [None] * len(grads)
            gs[nr] = Tensor._make(self.val[grads[nr]])
            try:
                self.traced(lambda r={nr: ref}, g=gs: _store_retained(r, g, False), note="retain_grad")
                got = t._grad
            finally:
                t._grad = before
            self.grads[id(t)] = self.known(got._data)
            self.keep.append(t)

    def apply(self, node, grads):
        """The node's input gradients (variables), by the route run_backward's array loop takes: the entry's
        array formulas (OpNode._raw) where it has them and every operand has the gradient's dtype, else its
        Tensor formulas (OpNode.apply)."""
        op, args, ys, _ = self.ops[id(node)]
        if op.vjp_plan is not None and len(grads) == 1:
            plan = self.array_plan(node, op, args, ys, grads[0])
            if plan is not None:
                return self.apply_arrays(node, op, plan, grads[0])
        return self.apply_tensors(node, op, args, ys, grads)

    def saved(self, node, op, args, ys, name):
        """What the node saved under `name`, as its _resolve gives it, read from the forward's trace (the
        recording's backward has freed the node's own): an input as the entry was given it, an output as a
        Tensor of that node (_unpack_output), anything else (shapes, dtypes, attributes) from the node."""
        kind = op.argkind[name]
        if kind == 0:
            return args[op.tensor_index[name]]
        if kind == 1:
            nr = 0 if name == "result" else int(name[6:])
            return R._unpack_output(node, self.val[ys[nr]], nr)
        return node._resolve(name)

    def array_plan(self, node, op, args, ys, g):
        """The operands of each array formula, (expression, value), or None where _raw gives the node to the
        Tensor route (an operand of another dtype than the gradient's)."""
        dt = self.val[g].dtype
        plan = []
        for i, (_fn, spec) in enumerate(op.vjp_plan):
            if not node._needs[i]:
                plan.append(None)
                continue
            operands = []
            for kind, name in spec:
                if kind == 0:  # an input, as saved: the Tensor's array, or the Python scalar given
                    a = args[op.tensor_index[name]]
                    if type(a) is Tensor:
                        v = a._data
                        e = self.known(v)
                    else:
                        v = a
                        e = None
                elif kind == 1:
                    _need(name == "result")
                    e = ys[0]
                    v = self.val[e]
                else:  # shape, dtype or attribute: fixed by the structure
                    v = node._resolve(name)
                    e = None
                if getattr(v, "dtype", dt) != dt:
                    return None
                operands.append((e, v))
            plan.append(operands)
        return plan

    def apply_arrays(self, node, op, plan, g):
        """OpNode._raw for one node, written out."""
        gv = self.val[g]
        out = []
        for i, ((fn, _spec), operands) in enumerate(zip(op.vjp_plan, plan)):
            if operands is None:
                out.append(None)
                continue
            exprs = [g] + [e if e is not None else self.const(v) for e, v in operands]
            r = fn(gv, *[v if e is None else self.val[e] for e, v in operands])
            _need(hasattr(r, "shape") and hasattr(r, "dtype"))
            name = self.emit("g", f"{self.const(fn)}({', '.join(exprs)})  # {type(node).__name__}: "
                                  f"{op.tensor_params[i]}", r)
            out.append(self.conform(name, node._in_meta[i]))
        return out

    def conform(self, name, meta):
        """_conform on an array (arrays=True): the broadcast sum to the input's shape, the cast to its dtype."""
        r = self.val[name]
        shape, want = meta
        if r.shape != shape:
            fn = R._SUM_TO[1]
            if shape == () and r.size <= SMALL_SUM_MAX.get(r.dtype.char, 0):  # its kernel of the same bits there
                fn = sum_to_kernel(fn)
            r = R._SUM_TO[1](r, shape)
            name = self.emit("g", f"{self.const(fn)}({name}, {self.const(shape)})  # to {shape}", r)
        if r.dtype != want:
            self.elementwise = False
            t = self.traced(lambda: Tensor._make(self.val[name]).to(D.FROM_NP[want]), note="a cast")
            name = self.known(t._data)
        return name

    def apply_tensors(self, node, op, args, ys, grads):
        """OpNode.apply's Tensor route (no create_graph) for one node: its formulas run on Tensors of the walk's
        arrays under the op trace and written out as the entries they applied, then conformed."""
        self.elementwise = False
        gts = []
        for g in grads:
            if g is None:
                gts.append(None)
                continue
            t = Tensor._make(self.val[g])
            self.bind(t._data, g)
            gts.append(t)
        gin = gts[0] if op.nout == 1 else gts
        needs = node._needs

        def resolve(name):
            return self.saved(node, op, args, ys, name)

        out = [None] * len(needs)
        note = type(node).__name__
        for f in op.formulas:
            inputs = f.inputs
            if len(inputs) == 1:
                if needs[inputs[0]]:
                    out[inputs[0]] = self.traced(lambda f=f: f.fn(gin, *[resolve(n) for n in f.argnames]), note=note)
                continue
            if not any(needs[i] for i in inputs):
                continue
            res = self.traced(lambda f=f: f.fn(gin, *[resolve(n) for n in f.argnames], output_mask=needs)
                              if op.joint_mask else f.fn(gin, *[resolve(n) for n in f.argnames]), note=note)
            for i, r in zip(inputs, res):
                out[i] = r
        names = []
        for i, gi in enumerate(out):
            if gi is None or not needs[i]:
                names.append(None)
                continue
            _need(isinstance(gi, Tensor))
            names.append(self.conform(self.known(gi._data), node._in_meta[i]))
        diff = op.diff_index
        return names if diff is None else [names[i] for i in diff]


_SOURCE = inspect.getsource(sys.modules[__name__]).splitlines()
