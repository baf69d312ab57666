"""Prototype fast paths for the engine's per-op overhead, measured against the stock engine in one run.

    python -m bench.hotpath [--rounds 7] [--target 0.2] [--only scalar,mlp,graph,evaluate,payload]

Nothing under engine/ is edited: each variant monkeypatches the stock functions for the duration of its
sample and puts them back. The variants are cumulative, so each row's gain over the row above is what
that one change buys; every variant's gradients are checked against torch first. They are prototypes of
the recommendations in docs/PERFORMANCE.md, written against the engine as it stood when measured (the
stock sources' fingerprints are printed; a changed fingerprint means the prototype may need a refresh).

  I  hoisted imports only: the stock sources of OpDef.__call__, OpDef._record, _conform, _unpack_output,
     run_backward, _root_grads and _add, minus their function-level `from engine.tensor import Tensor`
     (1.1 µs each on this machine, several per op), recompiled in their modules with Tensor global.
  F  OpDef.__call__ / _record: no function-level import, defaults bound from a precomputed tail instead
     of the kwargs loop, the promotion pass skipped when every operand already has one dtype, edge_of
     inlined, the saved-tensor plan cached per needs-mask, the node built with object.__new__.
  A  OpNode.apply: argument resolvers precomputed per formula, _conform skipped when the gradient
     already has the input's shape and dtype (the common case), no generator expressions.
  L  run_backward's loop: locals for the heap and dict methods, num_outputs read once per node,
     `type(node) is AccumulateGrad`, no all(<generator>), (plain backward only; inputs= uses stock).
  V  raw VJPs: for the hottest ops (mul, add, sub, sin, cos, exp, log, tanh, sum, mean, mm) and
     create_graph=False, the gradient is computed on the arrays directly, without building Tensors
     or dispatching engine ops inside the formula; create_graph=True keeps the Tensor formulas.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import inspect
import itertools
import statistics
import sys

import numpy as np

from bench.harness import fmt_ratio, fmt_time, measure, table


def _engine():
    import engine  # noqa: F401, PLC0415
    from engine import autograd as A  # noqa: PLC0415
    from engine import dtypes as D  # noqa: PLC0415
    from engine.ops import registry as R  # noqa: PLC0415
    from engine.tensor import Tensor  # noqa: PLC0415

    return A, D, R, Tensor


def fingerprints():
    A, _, R, _ = _engine()
    fns = {
        "OpDef.__call__": R.OpDef.__call__,
        "OpDef._record": R.OpDef._record,
        "OpNode.apply": R.OpNode.apply,
        "_conform": R._conform,
        "run_backward": A.run_backward,
    }
    return {k: hashlib.sha1(inspect.getsource(f).encode()).hexdigest()[:8] for k, f in fns.items()}


# ----- I: hoisted imports -----

_IMPORT_LINE = "from engine.tensor import Tensor"
_SOURCES: dict = {}


def patch_hoist():
    import textwrap  # noqa: PLC0415

    A, D, R, Tensor = _engine()
    targets = [
        (R.OpDef, "__call__", R),
        (R.OpDef, "_record", R),
        (R, "_conform", R),
        (R, "_unpack_output", R),
        (A, "run_backward", A),
        (A, "_root_grads", A),
        (A, "_add", A),
    ]
    swaps = []
    for owner, name, mod in targets:
        stock = getattr(owner, name)
        key = (mod.__name__, name)
        if key not in _SOURCES:  # read once: engine/ is edited concurrently, and getsource reads the disk
            _SOURCES[key] = textwrap.dedent(inspect.getsource(stock))
        lines = _SOURCES[key].splitlines(keepends=True)
        kept = []
        for ln in lines:
            st = ln.strip()
            if st.startswith(_IMPORT_LINE):
                rest = st[len(_IMPORT_LINE) :].split("#")[0].strip()
                if rest.startswith(
                    ","
                ):  # `from engine.tensor import Tensor, ones_like_data`: keep the others
                    kept.append(
                        ln[: len(ln) - len(ln.lstrip())]
                        + "from engine.tensor import "
                        + rest[1:].strip()
                        + "\n"
                    )
                continue
            kept.append(ln)
        if "Tensor" not in vars(mod):
            mod.Tensor = Tensor  # the hoisted import: a module global
            swaps.append((mod, "Tensor", None))
        local = {}
        exec(compile("".join(kept), f"<hoisted {mod.__name__}.{name}>", "exec"), vars(mod), local)  # noqa: S102
        fn = local.get(name)
        if fn is None:
            raise RuntimeError(f"{mod.__name__}.{name}: its source changed on disk since import; rerun")
        if owner is mod:  # a module function: replace it wherever engine modules imported it
            for m in list(sys.modules.values()):
                if getattr(m, "__name__", "").startswith("engine") and getattr(m, name, None) is stock:
                    setattr(m, name, fn)
                    swaps.append((m, name, stock))
        else:
            setattr(owner, name, fn)
            swaps.append((owner, name, stock))

    def undo():
        for owner, name, stock in reversed(swaps):
            if stock is None:
                delattr(owner, name)
            else:
                setattr(owner, name, stock)

    return undo


# ----- J: JSON-list leaves -----


def _depth(data):
    d = 0
    while isinstance(data, list):
        d += 1
        if not data:
            break
        data = data[0]
    return d


def _numeric_probe(data):
    """np.array(data) when `data` is a rectangular nested list of plain numbers (no "NaN" strings, no None),
    else None: one C pass that stands in for two Python walks over every element."""
    try:
        probe = np.array(data)
    except (ValueError, TypeError, OverflowError):
        return None
    return probe if probe.dtype.kind in "biuf" and probe.ndim == _depth(data) else None


def patch_json_leaves():
    """decode_numbers and _check_rectangular: skip the per-element Python walks when one np.array() call shows
    the data is a rectangular list of numbers; anything else (special strings, ragged, wrong types) takes the
    stock path and its exact messages. A prototype: the real change decodes once, into the final array."""
    import engine  # noqa: F401, PLC0415

    EV, TN = sys.modules["engine.evaluate"], sys.modules["engine.tensor"]  # engine.evaluate is the function

    stock_decode, stock_check = EV.decode_numbers, TN._check_rectangular

    def decode_numbers(data, loc):
        if isinstance(data, list) and _numeric_probe(data) is not None:
            return data
        return stock_decode(data, loc)

    def check_rectangular(data, dt):
        if isinstance(data, list) and _numeric_probe(data) is not None:
            return
        stock_check(data, dt)

    EV.decode_numbers, TN._check_rectangular = decode_numbers, check_rectangular

    def undo():
        EV.decode_numbers, TN._check_rectangular = stock_decode, stock_check

    return undo


# ----- F: forward -----


def patch_forward():
    A, D, R, Tensor = _engine()
    stock_call, stock_record = R.OpDef.__call__, R.OpDef._record
    new = object.__new__
    grad_mode, seq, grad_accumulator = A.grad_mode, A._seq, A.grad_accumulator
    make = Tensor._make
    no_edge = (None, 0)
    # _in_meta's dtype: the engine has stored both engine dtypes and NumPy dtypes; store what the stock does
    probe = stock_call(
        R.REGISTRY["mul.Tensor"],
        Tensor._make(np.ones(1, np.float32)).requires_grad_(),
        Tensor._make(np.ones(1, np.float32)),
    )
    engine_dtypes = hasattr(probe.grad_fn._in_meta[0][1], "np")
    from_np = D.FROM_NP if engine_dtypes else {d.np: d.np for d in D.FROM_NP.values()}

    def tails(op):
        t = op.__dict__.get("_hp_tail")
        if t is None:
            t = op._hp_tail = [[op.defaults.get(p) for p in op.params[k:]] for k in range(len(op.params) + 1)]
        return t

    def call(self, *args, **kwargs):
        params = self.params
        n = len(args)
        if kwargs or n > len(params):
            return stock_call(self, *args, **kwargs)
        vals = list(args)
        if n < len(params):
            vals += tails(self)[n]
        if self.check is not None:
            self.check(*vals)
        diff = self.diff_index
        tensors, arrays = [], []
        req = False
        dt0 = None
        uniform = True
        for k, i in enumerate(self.tensor_pos):
            a = vals[i]
            tensors.append(a)
            if isinstance(a, Tensor):
                d = a._data
                if a._req and (diff is None or k in diff):
                    req = True
                ddt = d.dtype
                if dt0 is None:
                    dt0 = ddt
                elif ddt is not dt0 and ddt != dt0:
                    uniform = False
            else:
                d = a
                if a is not None:
                    uniform = False  # a Python scalar: let _promote decide
            arrays.append(d)
        if self.promote and not uniform:
            arrays = R._promote(tensors, arrays)
        for i, arr in zip(self.tensor_pos, arrays):
            vals[i] = arr
        try:
            out = self.forward(*vals)
        except ValueError:
            R._check_broadcast(vals)
            raise
        if not (req and grad_mode.enabled and self.differentiable):
            if self.nout == 1:
                return make(out)
            return tuple(make(o) for o in out)
        attrs = {p: vals[i] for i, p in self.attr_pos} if self.attr_pos else R._EMPTY
        return self._record(tensors, arrays, attrs, out)

    def plan(op, needs):
        plans = op.__dict__.get("_hp_plans")
        if plans is None:
            plans = op._hp_plans = {}
        key = tuple(needs)
        p = plans.get(key)
        if p is None:
            want = set()
            for i, nd in enumerate(needs):
                if nd:
                    want |= op._needs_for[i]
            p = []
            for name in want:
                k = op.argkind[name]
                if k == 0:
                    p.append((name, 0, op.tensor_index[name]))
                elif k == 1:
                    p.append((name, 1, 0 if name == "result" else int(name[6:])))
            p = plans[key] = tuple(p)
        return p

    def record(self, args, arrays, attrs, out):
        node = new(self.node_cls)
        edges, needs, meta = [], [], []
        for a in args:
            if isinstance(a, Tensor):
                fn = a.grad_fn
                if fn is not None:
                    e = (fn, a._output_nr)
                elif a._req:
                    e = (grad_accumulator(a), 0)
                else:
                    e = no_edge
                edges.append(e)
                needs.append(e[0] is not None)
                d = a._data
                meta.append((d.shape, from_np[d.dtype]))
            else:
                edges.append(no_edge)
                needs.append(False)
                meta.append(None)
        diff = self.diff_index
        node.next_functions = tuple(edges) if diff is None else tuple(edges[i] for i in diff)
        node._seq = next(seq)
        node._retained = node._pre_hooks = node._hooks = None
        node._needs = needs
        node._in_meta = meta
        node._released = False
        node._attrs = attrs
        saved = {}
        if self.saves_tensors:
            one = self.nout == 1
            for name, kind, idx in plan(self, needs):
                saved[name] = args[idx] if kind == 0 else (out if one else out[idx])
        node._saved = saved
        if self.nout == 1:
            t = make(out)
            if out.dtype.kind == "f":
                t._req = True
                t.grad_fn = node
            return t
        return stock_record_outputs(node, out, make)

    R.OpDef.__call__, R.OpDef._record = call, record

    def undo():
        R.OpDef.__call__, R.OpDef._record = stock_call, stock_record

    return undo


def stock_record_outputs(node, out, make):
    res = []
    for nr, o in enumerate(out):
        t = make(o)
        if t._data.dtype.kind == "f":
            t._req = True
            t.grad_fn = node
            t._output_nr = nr
        res.append(t)
    return tuple(res)


# ----- A: OpNode.apply (and V: raw VJPs) -----


def _raw_table():
    from engine.ops._util import wrap_dims  # noqa: PLC0415

    def arr(x):
        return x._data if hasattr(x, "_data") else x

    def numel(shape, dims=None):
        if dims is None:
            return int(np.prod(shape)) if shape else 1
        return int(np.prod([shape[d] for d in dims]))

    def reduced(g, shape, dim, keepdim):
        dims = range(len(shape)) if dim is None or dim == [] or dim == () else wrap_dims(dim, len(shape))
        if not keepdim and len(shape) and np.ndim(g) != len(shape):
            g = np.expand_dims(g, tuple(sorted(dims)))
        return np.broadcast_to(g, shape)

    # op qualname -> fn(g, saved, attrs, meta, needs) -> per-input arrays (None where not needed)
    return {
        "mul.Tensor": lambda g, s, a, m, n: (
            g * arr(s["other"]) if n[0] else None,
            g * arr(s["self"]) if n[1] else None,
        ),
        "add.Tensor": lambda g, s, a, m, n: (
            g if n[0] else None,
            (g if a.get("alpha", 1) == 1 else g * a["alpha"]) if n[1] else None,
        ),
        "sub.Tensor": lambda g, s, a, m, n: (
            g if n[0] else None,
            (-g if a.get("alpha", 1) == 1 else g * -a["alpha"]) if n[1] else None,
        ),
        "sin": lambda g, s, a, m, n: (g * np.cos(arr(s["self"])),),
        "cos": lambda g, s, a, m, n: (g * -np.sin(arr(s["self"])),),
        "exp": lambda g, s, a, m, n: (g * s["result"],),
        "log": lambda g, s, a, m, n: (g / arr(s["self"]),),
        "tanh": lambda g, s, a, m, n: (g * (1 - s["result"] * s["result"]),),
        "sum": lambda g, s, a, m, n: (np.broadcast_to(g, m[0][0]),),
        "sum.dim_IntList": lambda g, s, a, m, n: (
            reduced(g, m[0][0], a.get("dim"), a.get("keepdim", False)),
        ),
        "mean": lambda g, s, a, m, n: (np.broadcast_to(g, m[0][0]) / numel(m[0][0]),),
        "mm": lambda g, s, a, m, n: (
            g @ arr(s["mat2"]).T if n[0] else None,
            arr(s["self"]).T @ g if n[1] else None,
        ),
    }


def patch_apply(raw=False):
    A, D, R, Tensor = _engine()
    stock_apply = R.OpNode.apply
    make = Tensor._make
    conform = R._conform
    freed = A.FREED_MSG
    err = R.TorchRuntimeError
    table_ = _raw_table() if raw else {}

    def resolvers(op):
        rs = op.__dict__.get("_hp_res")
        if rs is None:
            rs = []
            for f in op.formulas:
                lst = []
                for name in f.argnames:
                    k = op.argkind.get(name, 4)
                    if k == 0:
                        lst.append((0, name))
                    elif k == 1:
                        lst.append((1, (name, 0 if name == "result" else int(name[6:]))))
                    elif k in (2, 3):
                        lst.append((k, op.tensor_index[name[:-6]]))
                    else:
                        lst.append((4, name))
                rs.append(tuple(lst))
            op._hp_res = rs
        return rs

    def resolve(node, spec):
        k, p = spec
        if k == 0:
            if node._released:
                raise err(freed)
            return node._saved[p]
        if k == 1:
            if node._released:
                raise err(freed)
            return R._unpack_output(node, node._saved[p[0]], p[1])
        if k == 2:
            return node._in_meta[p][0]
        if k == 3:
            return node._in_meta[p][1]
        attrs = node._attrs
        return attrs[p] if p in attrs else node.op.defaults.get(p)

    def apply(self, grads, create_graph):
        op = self.op
        if op.joint_mask or len(op.formulas) == 0:
            return stock_apply(self, grads, create_graph)
        g = grads[0] if op.nout == 1 else grads
        needs = self._needs
        out = [None] * len(needs)
        rawfn = None if create_graph or op.nout != 1 else table_.get(op.qualname)
        if rawfn is not None:
            if self._released and op.saves_tensors:
                raise err(freed)
            res = rawfn(g._data, self._saved, self._attrs, self._in_meta, needs)
            for i, r in enumerate(res):
                if r is not None:
                    out[i] = make(r)
        else:
            for f, spec in zip(op.formulas, resolvers(op)):
                inputs = f.inputs
                if len(inputs) == 1:
                    i0 = inputs[0]
                    if not needs[i0]:
                        continue
                    out[i0] = f.fn(g, *[resolve(self, s) for s in spec]) if spec else f.fn(g)
                else:
                    hit = False
                    for i in inputs:
                        if needs[i]:
                            hit = True
                            break
                    if not hit:
                        continue
                    res = f.fn(g, *[resolve(self, s) for s in spec])
                    for i, r in zip(inputs, res):
                        out[i] = r
        meta = self._in_meta
        for i in range(len(out)):
            gi = out[i]
            if gi is None:
                continue
            if not needs[i]:
                out[i] = None
                continue
            m = meta[i]
            if isinstance(gi, Tensor):
                d = gi._data
                if d.shape == m[0] and d.dtype == getattr(m[1], "np", m[1]):
                    continue
            out[i] = conform(gi, m)
        diff = op.diff_index
        return out if diff is None else [out[i] for i in diff]

    R.OpNode.apply = apply

    def undo():
        R.OpNode.apply = stock_apply

    return undo


# ----- L: run_backward's loop -----


def patch_loop():
    A, D, R, Tensor = _engine()
    stock = A.run_backward
    AccumulateGrad = A.AccumulateGrad
    add = A._add

    def run_backward(
        tensors, grad_tensors, retain_graph, create_graph, inputs=None, accumulate=True, allow_unused=False
    ):
        if inputs is not None or not accumulate:
            return stock(tensors, grad_tensors, retain_graph, create_graph, inputs, accumulate, allow_unused)
        if retain_graph is None:
            retain_graph = create_graph
        roots = A._root_grads(tensors, grad_tensors, create_graph)
        deps = {}
        stack = list({id(e[0][0]): e[0][0] for e in roots if e[0][0] is not None}.values())
        for n in stack:
            deps.setdefault(n, 0)
        seen = set(stack)
        pop, push = stack.pop, stack.append
        while stack:
            n = pop()
            for nxt, _ in n.next_functions:
                if nxt is None:
                    continue
                c = deps.get(nxt)
                deps[nxt] = 1 if c is None else c + 1
                if nxt not in seen:
                    seen.add(nxt)
                    push(nxt)
        buffers = {}
        for (node, nr), g in roots:
            if node is None:
                continue
            buf = buffers.get(node)
            if buf is None:
                buf = buffers[node] = [None] * node.num_outputs
            buf[nr] = g if buf[nr] is None else add(buf[nr], g)
        ready = []
        tie = itertools.count()
        hpush, hpop = heapq.heappush, heapq.heappop
        for node in {id(n): n for (n, _), _ in roots if n is not None}.values():
            if deps[node] == 0:
                hpush(ready, (-node._seq, next(tie), node))
        with A.set_grad_enabled(create_graph):
            while ready:
                node = hpop(ready)[2]
                grads = buffers.pop(node, None)
                if grads is None:
                    grads = [None] * node.num_outputs
                if node._pre_hooks:
                    for h in node._pre_hooks:
                        r = h(grads)
                        if r is not None:
                            grads = list(r)
                if node._retained:
                    A._store_retained(node, grads, create_graph)
                if type(node) is AccumulateGrad:
                    if grads[0] is not None:
                        node.apply(grads, create_graph)
                    continue
                live = False
                for g in grads:
                    if g is not None:
                        live = True
                        break
                nexts = node.next_functions
                out = node.apply(grads, create_graph) if live else [None] * len(nexts)
                if not retain_graph:
                    node.release()
                if node._hooks:
                    for h in node._hooks:
                        h(out, grads)
                for (nxt, nr), g in zip(nexts, out):
                    if nxt is None:
                        continue
                    if g is not None:
                        buf = buffers.get(nxt)
                        if buf is None:
                            buf = buffers[nxt] = [None] * nxt.num_outputs
                        buf[nr] = g if buf[nr] is None else add(buf[nr], g)
                    c = deps[nxt] - 1
                    deps[nxt] = c
                    if c == 0:
                        hpush(ready, (-nxt._seq, next(tie), nxt))
        return None

    swapped = []
    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("engine") and getattr(mod, "run_backward", None) is stock:
            mod.run_backward = run_backward
            swapped.append(mod)

    def undo():
        for mod in swapped:
            mod.run_backward = stock

    return undo


VARIANTS = [
    ("stock engine", ()),
    ("+I hoisted imports", ("I",)),
    ("+F forward (__call__/_record)", ("I", "F")),
    ("+A OpNode.apply/_conform", ("I", "F", "A")),
    ("+L run_backward loop", ("I", "F", "A", "L")),
    ("+V raw VJPs for hot ops", ("I", "F", "A", "L", "V")),
    ("+G gc threshold 10,000", ("I", "F", "A", "L", "V", "G")),
]


def apply_variant(keys):
    undos = []
    if "I" in keys:
        undos.append(patch_hoist())
    if "G" in keys:
        import gc  # noqa: PLC0415

        old = gc.get_threshold()
        gc.set_threshold(10_000, 10, 10)
        undos.append(lambda: gc.set_threshold(*old))
    if "F" in keys:
        undos.append(patch_forward())
    if "A" in keys:
        undos.append(patch_apply(raw="V" in keys))
    if "L" in keys:
        undos.append(patch_loop())

    def undo():
        for u in reversed(undos):
            u()

    return undo


def _patched(fn, keys):
    def run():
        undo = apply_variant(keys)
        try:
            return fn()
        finally:
            undo()

    return run


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.hotpath")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--target", type=float, default=0.2)
    p.add_argument("--only", default="scalar,mlp,graph,evaluate,payload")
    a = p.parse_args(argv)
    sys.argv = ["python -m bench.hotpath"] + (argv if argv is not None else sys.argv[1:])
    from bench.__main__ import pin_threads  # noqa: PLC0415

    pin_threads(1)
    from bench.workloads import WORKLOADS, check  # noqa: PLC0415

    print("stock source fingerprints:", fingerprints())
    patch_hoist()()  # read the sources now, right after import
    if "payload" in a.only.split(","):
        _payload(a)
    for key, label, build, _ in WORKLOADS:
        if key not in a.only.split(","):
            continue
        fns, _ = build()
        cols = {name: (fns["engine"], (lambda keys=keys: apply_variant(keys))) for name, keys in VARIANTS}
        cols["torch"] = fns["torch"]
        notes = []
        for name, keys in VARIANTS:
            bad = check({"torch": fns["torch"], name: _patched(fns["engine"], keys)})
            if bad:
                notes.append(f"{name}: {bad}")
        s = measure(cols, rounds=a.rounds, target=a.target)
        rows = []
        stock = s["stock engine"]
        for name, _ in VARIANTS:
            rows.append(
                [
                    name,
                    fmt_time(s[name].median),
                    fmt_ratio(_pr(s[name], stock)),
                    fmt_ratio(_pr(s[name], s["torch"])),
                ]
            )
        rows.append(["torch eager", fmt_time(s["torch"].median), fmt_ratio(_pr(s["torch"], stock)), "1.00×"])
        print(
            table(f"{label}: cumulative prototypes", ["variant", "time", "vs stock", "vs torch"], rows, notes)
        )
    return 0


def _payload(a):
    """engine.evaluate on the payload group's JSON-list request (1000×1000 float32 leaf), stock vs J."""
    import orjson  # noqa: PLC0415

    import engine  # noqa: PLC0415
    from bench.payload_group import _spec  # noqa: PLC0415

    arr = np.random.default_rng(4).standard_normal((1000, 1000), dtype=np.float32)
    spec = orjson.loads(orjson.dumps(_spec({"data": arr.tolist(), "dtype": "float32"}, "json")))
    ref = engine.evaluate(spec)
    undo = patch_json_leaves()
    try:
        same = engine.evaluate(spec) == ref
    finally:
        undo()
    cols = {
        "stock engine": lambda: engine.evaluate(spec),
        "+J numeric probe": (lambda: engine.evaluate(spec), patch_json_leaves),
    }
    s = measure(cols, rounds=max(3, a.rounds // 2), target=a.target)
    rows = [[k, fmt_time(v.median), fmt_ratio(_pr(v, s["stock engine"]))] for k, v in s.items()]
    print(
        table(
            "engine.evaluate, 1000×1000 float32 leaf as JSON lists: cumulative prototypes",
            ["variant", "time", "vs stock"],
            rows,
            [f"responses identical to stock: {same}"],
        )
    )


def _pr(a, b):
    if not a.times or not b.times:
        return None
    return statistics.median(x / y for x, y in zip(a.times, b.times))


if __name__ == "__main__":
    sys.exit(main())
