"""Lowering: a recorded Program as one straight-line Python function over arrays.

A Program (engine.program.plans) replays a request's structure through the engine's own functions: per op a
Tensor, a node, its saved tensors; per backward pass run_backward's dependency count and heap. For the
commonest programs all of that is fixed by the structure: which forward runs on which arrays, which array
formula runs on which gradient, in which order gradients are summed. `lower` reads it off the recording
run (the op trace of engine.ops.registry.trace and the recorded nodes) and writes it down as Python source
over arrays, which a replay then calls: no Tensor, no node, no heap.

What lowers: every op ran one catalog entry that has array formulas (defop's vjp=), on float operands of
one dtype (no promotion cast), its non-tensor arguments the document's own constants or the entry's
defaults; at most one backward pass, from a tensor of one element with the implicit gradient, no
retain_grad, no warnings. Anything else keeps the Program's own replay.

The schedule is the one run_backward follows (the same dependency count, the same heap order, the same
buffer sums), walked once over the recording's nodes while the formulas run on the recording's own
arrays; the function is kept only where running it gives the recording's values and grads bit for bit
(and engine.program.plans then holds its responses to the full path's at two other sets of leaf values).
tests/engine/test_lower.py holds lowered replays to the full path.
"""
from __future__ import annotations

import heapq
import inspect
import itertools
import sys

import numpy as np

from engine import _backend as B
from engine.autograd import AccumulateGrad, dependencies
from engine.ops import registry as R
from engine.printing import value_repr
from engine.tensor import Tensor


class Lowered:
    """A lowered program: fn(leaf arrays...) -> (data per response name, grad per response name)."""

    __slots__ = ("fn", "source", "leaf_np", "reprs", "writer")

    def __init__(self, fn, source, leaf_np, reprs):
        self.fn = fn
        self.source = source  # the generated Python, for reading (docs/ENGINE.md, "Lowering")
        self.leaf_np = leaf_np  # each leaf's NumPy dtype, as _make_tensor converts its data
        self.reprs = reprs  # per response row, its repr as a function of its one value (JSON, 0-d), or None
        self.writer = None  # engine.program.writer.Writer: the response as JSON bytes (JSON encoding only)


class _NotLowerable(Exception):
    pass


def _need(cond):
    if not cond:
        raise _NotLowerable(sys._getframe(1).f_lineno)  # where it declined: lower.declined() says why


def declined(program) -> str | None:
    """Why a Program did not lower (for the benchmarks and docs): the check that failed, as a line of this
    module's source, or what else stopped it; None where it lowered or has not tried."""
    return program.notes.get("declined")


_CONSTANT_TYPES = (type(None), bool, int, float, str)


def _constants(raw, out):
    """The scalars of a step's document arguments (lists flattened), which an attribute may take."""
    if isinstance(raw, list | tuple):
        for v in raw:
            _constants(v, out)
    elif isinstance(raw, dict):
        for v in raw.values():
            _constants(v, out)
    elif isinstance(raw, _CONSTANT_TYPES):
        out.append(raw)
    return out


def _is_constant(v, allowed):
    """An attribute or scalar operand the structure fixes: plain, and a float only where it is an entry's
    default or one of the document's numbers (a scale a function computed from values would be neither;
    the caller's runs at other values are the check for everything else)."""
    if isinstance(v, tuple | list):
        return all(_is_constant(x, allowed) for x in v)
    if type(v) is float:
        return any(type(a) in (int, float) and v == a for a in allowed)
    return isinstance(v, _CONSTANT_TYPES)


def _same(a, b) -> bool:
    """Bit for bit: the same type of value (array or NumPy scalar), shape, dtype and bytes."""
    return (type(a) is type(b) and getattr(a, "shape", None) == getattr(b, "shape", None)
            and getattr(a, "dtype", None) == getattr(b, "dtype", None)
            and np.asarray(a).tobytes() == np.asarray(b).tobytes())


def lower(program, run, traces) -> Lowered | None:
    """The program as a function over arrays, or None where it does not lower (see the module's text).

    program: the Program the recording run filled; run: that run (its env after the response was built);
    traces: per step, the registry trace its function call left."""
    try:
        return _Lowering(program, run, traces).build()
    except _NotLowerable as e:
        line = e.args[0] if e.args else 0
        program.notes["declined"] = f"lower.py:{line}: {_SOURCE[line - 1].strip() if 0 < line <= len(_SOURCE) else ''}"
        return None


class _Lowering:
    def __init__(self, program, run, traces):
        self.program, self.run, self.traces = program, run, traces
        self.ns: dict = {}  # the generated function's globals: entries' functions and constants
        self.lines: list[str] = []
        self.var: dict = {}  # id(Tensor) -> variable
        self.val: dict = {}  # variable -> its value in the walk over the recording's arrays
        self.keep: list = []  # the recording's objects whose ids name variables: alive while lowering
        self.ops: dict = {}  # id(node) -> (entry, its call's args, output variable, node)
        self.n = itertools.count()

    # ----- names -----

    def const(self, obj) -> str:
        name = f"k{next(self.n)}"
        self.ns[name] = obj
        return name

    def emit(self, prefix, expr, value) -> str:
        name = f"{prefix}{next(self.n)}"
        self.lines.append(f"    {name} = {expr}")
        self.val[name] = value
        return name

    def bind(self, t, name):
        self.var[id(t)] = name
        self.keep.append(t)

    # ----- the parts -----

    def build(self) -> Lowered:
        run, program = self.run, self.program
        # NumPy only: under CuPy backward takes the Tensor route (OpNode.apply), which this does not write
        _need(B.xp is np and not run.warnings and program.respond is not None)
        params = []
        leaf_np = []
        for i, (name, dt, _rg, _loc) in enumerate(program.leaves):
            t = run.env[name]
            _need(dt is not None and dt.np.kind == "f" and t._data.dtype == dt.np)
            p = f"x{i}"
            params.append(p)
            leaf_np.append(dt.np)
            self.val[p] = t._data
            self.bind(t, p)
        for st, log in zip(program.steps, self.traces, strict=True):
            self.step(st, log)
        grads = self.backward()
        names, grad_set, _encode = program.respond
        data_vars, grad_vars = [], []
        for n in names:
            t = run.env[n]
            _need(id(t) in self.var)
            data_vars.append(self.var[id(t)])
            g = grads.get(id(t))
            _need((g is None) == (t._grad is None))
            if g is not None:
                _need(_same(self.val[g], t._grad._data))
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
        json = program.respond[2] == "json"
        reprs = [value_repr(dn, suffixes) if json and not shape else None
                 for _n, shape, dn, _rq, _cls, _gf, _rg, suffixes in program.fixed[0]]
        return Lowered(fn, source, tuple(leaf_np), reprs)

    def step(self, st, log):
        """One op of the document: the entries its function ran, in order (F.linear: t, then addmm), each on
        known tensors (the document's, or an earlier entry's of this op); the last one's output is the op's."""
        _need(st.op is None and not st.multi and not st.no_grad and not st.retain and len(log) >= 1)
        _need(log[-1][4] is self.run.env[st.names[0]])
        allowed = _constants([v for v, _ in st.args], [])
        _constants([v for v, _ in st.kwargs.values()], allowed)
        for op, args, arrays, attrs, t in log:
            self.entry(op, args, arrays, attrs, t, allowed)

    def entry(self, op, args, arrays, attrs, t, allowed):
        # entries with array formulas only (forwards known to be pure), a node recorded, or a constant of the
        # program (no input needs a grad)
        _need(type(t) is Tensor and op.nout == 1 and op.vjp_plan is not None and op.diff_index is None)
        _need((type(t.grad_fn) is op.node_cls or (t.grad_fn is None and not t._req)) and t._data.dtype.kind == "f")
        for p, v in attrs.items():
            _need(_is_constant(v, [op.defaults.get(p), *allowed]))
        vals = [None] * op.nparams
        exprs = [None] * op.nparams
        dt = None
        for pos, a, arr in zip(op.tensor_pos, args, arrays, strict=True):
            if type(a) is Tensor:
                _need(id(a) in self.var and arr is a._data and arr.dtype.kind == "f")
                _need(dt is None or arr.dtype == dt)
                dt = arr.dtype
                exprs[pos] = self.var[id(a)]
                vals[pos] = self.val[exprs[pos]]
            else:
                _need(type(a) in (int, float) and arr is a and _is_constant(a, allowed))
                exprs[pos], vals[pos] = self.const(a), a
        _need(dt is not None and t._data.dtype == dt)
        for pos, p in op.attr_pos:
            exprs[pos], vals[pos] = self.const(attrs[p]), attrs[p]
        value = op.forward(*vals)
        _need(_same(value, t._data))
        y = self.emit("y", f"{self.const(op.forward)}({', '.join(exprs)})  # {op.qualname}", value)
        self.bind(t, y)
        if t.grad_fn is not None:  # (the tuple keeps the node alive while its id is a key)
            self.ops[id(t.grad_fn)] = (op, args, y, t.grad_fn)

    def backward(self) -> dict:
        """Walk run_backward's schedule for the one pass; the leaves' gradient variables, by id(leaf)."""
        passes = self.program.passes
        _need(len(passes) <= 1)
        if not passes:
            return {}
        p, _loc = passes[0]
        _need(set(p) <= {"tensor", "retain_graph", "create_graph"} and not p.get("create_graph"))
        t = self.run.env[p["tensor"]]
        _need(t._data.size == 1 and t._data.dtype.kind == "f" and t._output_nr == 0 and t._req)
        g0 = np.ones(t._data.shape, dtype=t._data.dtype)  # ones_like_data, as _root_grads makes it
        # a fresh copy of one kept array per call (np.ones costs 6x a copy): formulas may write into it
        g0 = self.emit("g", f"{self.const(g0.copy())}.copy()  # the implicit gradient", g0)
        root = t.grad_fn
        if root is None:  # a leaf's own backward: its AccumulateGrad alone runs, and stores the ones
            _need(id(t) in self.var)
            return {id(t): g0}
        buffers = {root: [g0]}
        deps, order = dependencies([root])  # run_backward's own count
        for n in order:
            _need(not n._pre_hooks and not n._hooks and not n._retained)
            _need(type(n) is AccumulateGrad or id(n) in self.ops)
        leaf_grads = {}
        tie = itertools.count()
        ready = [(-root._seq, next(tie), root)]
        while ready:
            node = heapq.heappop(ready)[2]
            grads = buffers.pop(node, None) or [None]
            if type(node) is AccumulateGrad:
                if grads[0] is not None:
                    leaf = node.variable
                    _need(id(leaf) in self.var and id(leaf) not in leaf_grads)
                    leaf_grads[id(leaf)] = grads[0]  # accumulate_into: the first grad, detached (shared)
                continue
            out = [None] * len(node.next_functions) if grads[0] is None else self.apply(node, grads[0])
            for (nxt, nr), g in zip(node.next_functions, out, strict=True):
                if nxt is None:
                    continue
                if g is not None:
                    _need(nr == 0)
                    buf = buffers.get(nxt)
                    if buf is None:
                        buffers[nxt] = [g]
                    else:  # autograd._add: same shapes, nothing requires grad: the arrays' sum
                        a, b = self.val[buf[0]], self.val[g]
                        _need(a.shape == b.shape)
                        buf[0] = self.emit("g", f"{buf[0]} + {g}  # summed in the buffer", a + b)
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    heapq.heappush(ready, (-nxt._seq, next(tie), nxt))
        return leaf_grads

    def apply(self, node, g):
        """OpNode._apply_arrays for one node, written out."""
        op, args, y, _ = self.ops[id(node)]
        gv = self.val[g]
        dt = gv.dtype
        out = []
        for i, (fn, spec) in enumerate(op.vjp_plan):
            if not node._needs[i]:
                out.append(None)
                continue
            exprs, vals = [g], [gv]
            for kind, name in spec:
                if kind == 0:  # an input, as saved: the Tensor's array, or the Python scalar given
                    a = args[op.tensor_index[name]]
                    if type(a) is Tensor:
                        e = self.var[id(a)]
                        v = self.val[e]
                    else:
                        v = a
                        e = self.const(a)
                elif kind == 1:
                    _need(name == "result")
                    e, v = y, self.val[y]
                else:  # shape, dtype or attribute: fixed by the structure
                    v = node._resolve(name)
                    e = self.const(v)
                _need(getattr(v, "dtype", dt) == dt)  # else _apply_arrays hands the node to the Tensor route
                exprs.append(e)
                vals.append(v)
            r = fn(*vals)
            _need(hasattr(r, "shape") and hasattr(r, "dtype"))
            name = self.emit("g", f"{self.const(fn)}({', '.join(exprs)})  # {type(node).__name__}: "
                                  f"{op.tensor_params[i]}", r)
            shape, want = node._in_meta[i]
            if r.shape != shape:  # _conform: the broadcast sum, on the array
                r = R._SUM_TO[1](r, shape)
                name = self.emit("g", f"{self.const(R._SUM_TO[1])}({name}, {self.const(shape)})  # to {shape}", r)
            _need(r.dtype == want)
            out.append(name)
        return out


_SOURCE = inspect.getsource(sys.modules[__name__]).splitlines()
