"""The benchmarks' torch-backed reference: API.md's request document run in real PyTorch, answered as the same
response document (parse, torch calls, repr, the graph walk).

A plain implementation of the service's API over torch, what `engine.evaluate`'s per-op cost is compared with
(issue 21), and the tests' oracle (tests/torch_reference.py re-exports it; bench/ does not import tests/):
the same semantics (warnings recorded per op, as torch's TORCH_WARN_ONCE needs), nothing tuned for speed. An
`expression` is read into its ops by engine.expression (the protocol's parse: text to ops, nothing computed).
"""
from __future__ import annotations

import math
import re
import warnings

import torch
import torch.nn.functional as F

SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_TRIGGERED = re.compile(r" \(Triggered internally at .*\)\s*$", re.S)
ONCE_WARNINGS = ("The use of `x.T` on tensors of dimension other than 2", "Tensor.T is deprecated on 0-D",
                 "Tensor.mT is deprecated on 0-D", "Using backward() with create_graph=True")
T_0D = {"T": "Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases.",
        "mT": "Tensor.mT is deprecated on 0-D tensors. This function is the identity in these cases."}
T_WARNING = (
    "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated and it will "
    "throw an error in a future release. Consider `x.mT` to transpose batches of matrices or "
    "`x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor."
)
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "int64": torch.int64,
          "int32": torch.int32, "bool": torch.bool}


class TorchFailure(Exception):
    """torch raised: carries the class name, the message (suffix removed) and the request location."""

    def __init__(self, type_, msg, loc):
        super().__init__(msg)
        self.type, self.msg, self.loc = type_, msg, loc


def _decode(x):
    if isinstance(x, str):
        return SPECIAL[x]
    if isinstance(x, list):
        return [_decode(v) for v in x]
    return x


def _encode(t):
    def enc(v):
        if isinstance(v, list):
            return [enc(x) for x in v]
        if isinstance(v, float):
            if math.isnan(v):
                return "NaN"
            if math.isinf(v):
                return "Infinity" if v > 0 else "-Infinity"
        return v

    return enc(t.detach().tolist())


def _data(v, like):
    """A gradient given as data (API.md v1.1 steps) as a tensor of `like`'s dtype; names were resolved before."""
    if v is None or isinstance(v, torch.Tensor):
        return v
    return torch.tensor(_decode(v), dtype=like.dtype)


def _listed(v):
    return list(v) if isinstance(v, list | tuple) else [v]


def _autograd_grad(outputs, inputs, grad_outputs=None, **kw):
    outs = _listed(outputs)
    gos = None
    if grad_outputs is not None:
        gos = _listed(grad_outputs) if not (isinstance(grad_outputs, list) and len(outs) == 1
                                           and len(grad_outputs) != 1) else [grad_outputs]
        gos = [_data(g, o) for g, o in zip(gos, outs)]
    return list(torch.autograd.grad(outs, _listed(inputs), gos, **kw))


def _setitem(t, idx, value):
    t[idx] = value


STEPS = {
    "backward": lambda t, gradient=None, **kw: t.backward(_data(gradient, t), **kw),
    "grad": lambda t: t.grad,
    "autograd.grad": _autograd_grad,
    "setitem": _setitem,
    "retain_grad": lambda t: t.retain_grad(),
}


def resolve(op):
    if op in STEPS:
        return STEPS[op]
    if op == "getitem":
        return lambda t, idx: t[idx]
    if op in ("T", "mT", "H", "mH"):
        return lambda t: getattr(t, op)
    if op.startswith("linalg."):
        return getattr(torch.linalg, op.split(".", 1)[1])
    if hasattr(F, op):
        return getattr(F, op)
    if hasattr(torch, op):
        return getattr(torch, op)
    return lambda t, *a, **k: getattr(t, op)(*a, **k)


def _convert(v, env):
    if isinstance(v, str):
        if v in env:
            return env[v]
        if v in DTYPES:
            return DTYPES[v]
        if v == "...":
            return Ellipsis
        if v in SPECIAL:
            return SPECIAL[v]
        return v
    if isinstance(v, list):
        return [_convert(x, env) for x in v]
    if isinstance(v, dict) and set(v) == {"slice"}:
        return slice(*(list(v["slice"]) + [None] * (3 - len(v["slice"]))))
    return v


def _index(v, env):
    if isinstance(v, list):
        return tuple(_index(x, env) for x in v)
    return _convert(v, env)


def evaluate(spec: dict) -> dict:
    if spec.get("expression") is not None:  # the ops an expression means: its parse is the protocol's (API.md)
        from engine.expression import expand  # noqa: PLC0415 - parsing text into ops, no computation

        spec = expand(spec, 1 << 20)
    env, order, kinds = {}, [], {}
    seen_once = set()
    out_warnings = []

    def record(caught):
        for w in caught:
            text = _TRIGGERED.sub("", str(w.message))
            if text.startswith("Error detected in "):  # anomaly mode's warning: its first line (API.md v1.1)
                text = text.split("\n", 1)[0]
            if any(text.startswith(p) for p in ONCE_WARNINGS):
                if text in seen_once:
                    continue
                seen_once.add(text)
            out_warnings.append({"category": w.category.__name__, "message": text})

    def fail(e, loc):
        raise TorchFailure(type(e).__name__, _TRIGGERED.sub("", str(e)), loc) from e

    retain = set(spec.get("retain_grad", []))
    if spec.get("seed") is not None:
        torch.manual_seed(spec["seed"])
    anomaly = torch.autograd.set_detect_anomaly(bool(spec.get("detect_anomaly", False)))
    with anomaly:
        return _run(spec, env, order, kinds, retain, record, fail, out_warnings)


def _whole(data):
    if isinstance(data, list):
        return all(_whole(x) for x in data)
    return isinstance(data, int) and not isinstance(data, bool)


def _run(spec, env, order, kinds, retain, record, fail, out_warnings):
    for name, leaf in spec.get("leaves", {}).items():
        loc = ["body", "leaves", name]
        dtype = DTYPES.get(leaf.get("dtype"))
        if dtype is None and leaf.get("requires_grad") and _whole(leaf["data"]):
            dtype = torch.float32  # API.md v1.1: whole numbers of a leaf that requires grad are floats
        try:
            t = torch.tensor(_decode(leaf["data"]), dtype=dtype, requires_grad=leaf.get("requires_grad", False))
        except Exception as e:  # noqa: BLE001
            fail(e, loc)
        env[name] = t
        order.append(name)
        kinds[name] = "leaf"
    functions = _functions(spec.get("functions") or {}, record)
    _run_ops(spec.get("ops", []), env, ["body", "ops"], record, fail, retain, order, kinds, functions)
    for i, p in enumerate(spec.get("backward", [])):
        loc = ["body", "backward", i]
        t = env[p["tensor"]]
        g = p.get("gradient")
        if g is not None:
            g = torch.tensor(_decode(g), dtype=t.dtype)
        inputs = [env[n] for n in p["inputs"]] if p.get("inputs") is not None else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                torch.autograd.backward(t, g, retain_graph=p.get("retain_graph"),
                                        create_graph=p.get("create_graph", False), inputs=inputs)
            except Exception as e:  # noqa: BLE001
                fail(e, loc)
        record(caught)
    grads = spec.get("grads")
    if grads is None:
        grads = [n for n in order if kinds[n] == "leaf" and env[n] is not None and env[n].requires_grad]
    outputs = spec.get("outputs")
    if outputs is None:
        outputs = list(order)
    grad_set, out_set = set(grads), set(outputs)
    names = [n for n in order if n in out_set or n in grad_set]
    tensors = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in names:
            t = env[n]
            if t is None:
                tensors[n] = None
                continue
            g = t.grad if n in grad_set else (t.grad if t.is_leaf or t.retains_grad else None)
            tensors[n] = {
                "shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": _encode(t),
                "requires_grad": t.requires_grad, "is_leaf": t.is_leaf,
                "grad_fn": node_name(t.grad_fn) if t.grad_fn is not None else None,
                "grad": _encode(g) if g is not None else None, "retains_grad": t.retains_grad,
                "repr": repr(t),
            }
    record(caught)
    return {"tensors": tensors, "graph": graph(env, names), "warnings": out_warnings, "device": "cpu"}


def _run_ops(ops, env, where, record, fail, retain=(), order=None, kinds=None, functions=None):
    """Run ops on env. fail(e, loc) turns torch's errors into TorchFailure; None (a Function's sub-program)
    lets them through, to be located at the op that applied the Function."""
    for i, op in enumerate(ops):
        loc = [*where, i]
        fn = functions[op["op"]].apply if functions and op["op"] in functions else resolve(op["op"])
        if op["op"] in ("getitem", "setitem"):
            args = [env[op["args"][0]], _index(op["args"][1], env), *[_convert(a, env) for a in op["args"][2:]]]
        else:
            args = [_convert(a, env) for a in op.get("args", [])]
        kwargs = {k: _convert(v, env) for k, v in op.get("kwargs", {}).items()}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with torch.set_grad_enabled(torch.is_grad_enabled() and not op.get("no_grad", False)):
                    out = fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001
                if fail is None:
                    raise
                fail(e, loc)
        # torch warns once per process (TORCH_WARN_ONCE); gradserve answers as a fresh process would,
        # once per request: restore a warning torch already spent earlier in this process.
        expected = None
        if op["op"] in T_0D and args[0].ndim == 0:
            expected = T_0D[op["op"]]
        elif op["op"] == "T" and args[0].ndim != 2:
            expected = T_WARNING
        if expected and not any(str(w.message).startswith(expected[:40]) for w in caught):
            caught.append(warnings.WarningMessage(expected, UserWarning, __file__, 0))
        record(caught)
        name = op.get("name")
        names = name if isinstance(name, list) else ([] if name is None else [name])
        outs = list(out) if isinstance(name, list) else [out]
        for n, t in zip(names, outs):
            env[n] = t
            if order is not None:
                order.append(n)
                kinds[n] = "op"
            if n in retain and t is not None:
                try:
                    t.retain_grad()
                except Exception as e:  # noqa: BLE001
                    fail(e, ["body", "retain_grad"])


def _functions(defs, record):
    """The request's custom Functions as torch.autograd.Function subclasses running their sub-programs."""
    out = {}

    def make(name, fwd, bwd):
        def forward(ctx, *args):
            env = dict(zip(fwd["inputs"], args))
            _run_ops(fwd["ops"], env, [], record, None, functions=out)
            outs = [env[n] for n in _listed(fwd["output"])]
            ctx.save_for_backward(*[env[n] for n in fwd.get("save", [])])
            return tuple(outs) if isinstance(fwd["output"], list) else outs[0]

        def backward(ctx, *grads):
            env = dict(zip(fwd.get("save", []), ctx.saved_tensors))
            env.update(zip(bwd["inputs"], grads))
            _run_ops(bwd["ops"], env, [], record, None, functions=out)
            res = tuple(None if n is None else env[n] for n in _listed(bwd["output"]))
            return res if isinstance(bwd["output"], list) else res[0]

        return type(name, (torch.autograd.Function,), {"forward": staticmethod(forward),
                                                        "backward": staticmethod(backward)})

    for name, d in defs.items():
        out[name] = make(name, d["forward"], d["backward"])
    return out


def node_name(fn):
    """A node's class name as the protocol writes it: torch's name() says "torch::autograd::CopySlices" for the
    nodes its C++ defines by hand (AccumulateGrad, CopySlices, CopyBackwards), their class names without it."""
    return fn.name().removeprefix("torch::autograd::")


def graph(env, names):
    owner, leaf_names = {}, {}
    for n, t in env.items():
        if t is None:
            continue
        if t.grad_fn is not None and t.grad_fn not in owner:
            owner[t.grad_fn] = n
        if t.grad_fn is None:
            leaf_names.setdefault(id(t), n)  # the first name bound to it (an in-place op binds it again)
    ids, nodes = {}, []
    for n in names:
        if env[n] is None:
            continue
        fn = env[n].grad_fn
        if fn is not None and fn not in ids:
            ids[fn] = len(nodes)
            nodes.append(fn)
    k = 0
    while k < len(nodes):
        fn = nodes[k]
        k += 1
        for nxt, _ in fn.next_functions:
            if nxt is not None and nxt not in ids:
                ids[nxt] = len(nodes)
                nodes.append(nxt)
    out = []
    for i, fn in enumerate(nodes):
        if fn.name() == "torch::autograd::AccumulateGrad" or type(fn).__name__ == "AccumulateGrad":
            tname = leaf_names.get(id(fn.variable))
        else:
            tname = owner.get(fn)
        name = node_name(fn)
        out.append({"id": i, "name": name, "tensor": tname,
                    "next_functions": [[ids[nxt], nr] if nxt is not None else None for nxt, nr in fn.next_functions]})
    return out
