"""A request's program as a Python function (API.md v1.1 `function`), under torch.autograd.functional's
transforms (POST /v1/functional: `functional`) and gradcheck (POST /v1/gradcheck: `gradcheck`).

The function's parameters are the leaves `function.inputs` names; the other leaves are constants it closes
over; it returns the tensor(s) `function.output` names (a string: one Tensor, a list: a tuple, so torch's
nesting of results follows). Each call runs the request's ops through run_op_list, as POST /v1/evaluate runs
them, in an environment of its own (the leaves, the inputs bound to the call's arguments), under the
request's context (engine.program.run.Evaluating: warnings, seed, anomaly mode) and its Budget: every op and
every backward node is charged, the transforms' loops check the deadline. An error raised by an op is
located at that op (["body", "ops", i]); one raised by the transform itself at ["body", "transform"], or
for gradcheck at ["body", "function"]. A check that fails is an answer (ok: false), not an error.
"""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine import budget as _budget
from engine import dtypes as D
from engine.autograd import functional as F
from engine.autograd.gradcheck import GradcheckError
from engine.autograd.gradcheck import gradcheck as _gradcheck
from engine.autograd.gradcheck import gradgradcheck as _gradgradcheck
from engine.errors import (
    EngineError,
    LimitExceeded,
    TorchNotImplementedError,
    TorchRuntimeError,
    TorchTypeError,
)
from engine.printing import format_tensor
from engine.program import functions
from engine.program.limits import DEFAULT_LIMITS, DeviceUnavailable, Limits
from engine.program.respond import _ELEMENT_BYTES, _repr_bound, hold_response, tensor_doc
from engine.program.run import Evaluating, Run, build_leaves, run_op_list
from engine.program.wire import (
    check_fields,
    check_name,
    decode_numbers,
    encode_array,
    make_tensor,
    numel,
    req,
    shape_of,
    wire_b64,
)
from engine.tensor import Tensor

PROGRAM_FIELDS = {"leaves", "ops", "functions", "seed", "device", "detect_anomaly"}
FUNCTION_FIELDS = {"inputs", "output"}
# torch.autograd.functional's keyword arguments, per transform (what its signature takes)
OPTIONS = {
    "jacobian": ("create_graph", "strict", "vectorize", "strategy"),
    "hessian": ("create_graph", "strict", "vectorize", "outer_jacobian_strategy"),
    "vjp": ("v", "create_graph", "strict"),
    "jvp": ("v", "create_graph", "strict"),
    "hvp": ("v", "create_graph", "strict"),
    "vhp": ("v", "create_graph", "strict"),
}
ALL_OPTIONS = {"v", "create_graph", "strict", "vectorize", "strategy", "outer_jacobian_strategy"}
FUNCTIONAL_FIELDS = PROGRAM_FIELDS | {"transform", "function", "encoding"} | ALL_OPTIONS
GRADCHECK_FIELDS = PROGRAM_FIELDS | {"function", "eps", "atol", "rtol", "fast_mode", "gradgrad"}
TRANSFORMS = {"jacobian": F.jacobian, "hessian": F.hessian, "vjp": F.vjp, "jvp": F.jvp, "hvp": F.hvp,
              "vhp": F.vhp}
STRATEGIES = ("reverse-mode", "forward-mode")
TRANSFORM_LOC = ["body", "transform"]
FUNCTION_LOC = ["body", "function"]


def functional(spec: dict, *, limits: Limits | None = None, budget: _budget.Budget | None = None) -> dict:
    """POST /v1/functional's response document for a request document (API.md v1.1): `result` (and `output`
    for vjp, jvp, hvp, vhp), `warnings`, `device`. Errors are raised as EngineErrors carrying type, loc, msg.
    budget: the engine.budget.Budget the run charges; by default a fresh one of `limits`, with no deadline."""
    return _within(spec, limits, budget, _functional)


def gradcheck(spec: dict, *, limits: Limits | None = None, budget: _budget.Budget | None = None) -> dict:
    """POST /v1/gradcheck's response document: `gradcheck` ({ok, error}), `gradgradcheck` (the same, or null
    without `gradgrad`), `warnings`, `device`. A failed check is an answer; an invalid call raises."""
    return _within(spec, limits, budget, _gradcheck_doc)


def _within(spec, limits, budget, body):
    limits = limits or DEFAULT_LIMITS
    b = budget if budget is not None else limits.budget()
    try:
        with _budget.active(b):
            return body(spec, limits)
    finally:
        b.close()


# ----- the program as a function -----


class TransformRun(Run):
    """The request's leaves and custom Functions, whose program the transform calls as a function. A
    tensor counts against max_tensor_elements wherever it is made; max_total_elements holds per call of the
    function (a Jacobian calls it once, gradcheck twice per input element), as for one run of the program,
    and a tensor made outside a call (a custom Function's backward, run by the transform) counts with the
    leaves alone: the Budget bounds the bytes the whole request holds at once."""

    def __init__(self, spec, limits):
        super().__init__(spec, limits)
        self.leaf_total = None  # set once the leaves are built
        self.call = None  # the _Call running now, which counts what a custom Function's forward makes

    def count(self, n, loc):
        if self.leaf_total is None:
            super().count(n, loc)
        elif self.call is not None:
            self.call.count(n, loc)
        else:
            total, self.total = self.total, self.leaf_total
            try:
                super().count(n, loc)
            finally:
                self.total = total


class _Call(Run):
    """One call of the function: names of its own, on top of the leaves; the request's limits, warnings and
    Functions."""

    def __init__(self, parent: TransformRun):
        super().__init__(parent.spec, parent.limits)
        self.parent = parent
        self.warnings = parent.warnings
        self._seen_once = parent._seen_once
        self.functions = parent.functions
        self.env.update(parent.env)
        self.order = list(parent.order)
        self.kind = dict(parent.kind)
        self.total = parent.leaf_total


class ProgramFunction:
    """The request's program as `f(*inputs)`: binds function.inputs to the arguments, runs the ops, returns
    function.output (a Tensor, or a tuple of them). `on_output`: called with the outputs of every call
    (vjp's `v` takes their dtypes)."""

    def __init__(self, run, spec, caught, fio):
        self.run, self.caught = run, caught
        self.ops = spec.get("ops", [])
        self.inputs, self.inputs_listed = fio["inputs"]
        self.outputs, self.outputs_listed = fio["output"]
        self.on_output = None

    def __call__(self, *args):
        run, caught = self.run, self.caught
        run.record_warnings(caught)  # what the transform warned so far, first: the order is torch's
        del caught[:]
        call = _Call(run)
        call.env.update(zip(self.inputs, args))
        outer, run.call = run.call, call
        try:
            run_op_list(call, self.ops, ["body", "ops"], caught)
        except EngineError as e:
            e.located = True  # at its op: the transform's handler leaves it there
            raise
        finally:
            run.call = outer
        outs = tuple(call.env[n] for n in self.outputs)
        if self.on_output is not None:
            self.on_output(outs)
        return outs if self.outputs_listed else outs[0]


def read_function(spec, run):
    """`function`: ((input names, listed), (output names, listed)), checked against the program's names."""
    req("function" in spec, "Field required", [*FUNCTION_LOC], "missing")
    fio = spec["function"]
    check_fields(fio, FUNCTION_FIELDS, FUNCTION_LOC)
    for f in ("inputs", "output"):
        req(f in fio, "Field required", [*FUNCTION_LOC, f], "missing")
    names_out = set(run.env)
    ops = spec.get("ops", [])
    req(isinstance(ops, list), "Input should be a valid list", ["body", "ops"], "list_type")
    if len(ops) > run.limits.max_ops:
        raise LimitExceeded(f"{len(ops)} ops exceed the limit of {run.limits.max_ops} ops per request (max_ops)",
                            ["body", "ops"])
    for op in ops:
        name = op.get("name") if isinstance(op, dict) else None
        names_out.update(n for n in (name if isinstance(name, list) else [name]) if isinstance(n, str))
    out = {}
    for f in ("inputs", "output"):
        value = fio[f]
        loc = [*FUNCTION_LOC, f]
        listed = isinstance(value, list)
        names = value if listed else [value]
        req(not listed or names, "List should have at least 1 item", loc, "too_short")
        for k, n in enumerate(names):
            at = [*loc, k] if listed else loc
            check_name(n, at)
            if f == "inputs":
                req(run.kind.get(n) == "leaf", f"function input {n!r} is not a leaf: the function's parameters "
                    "are leaves (its other leaves are constants it closes over)", at)
                req(names.index(n) == k, f"function input {n!r} is given twice", at)
            else:
                req(n in names_out, f"function output {n!r} is not a leaf or an op's name", at)
        out[f] = (names, listed)
    return out


# ----- POST /v1/functional -----


def _functional(spec, limits):
    check_fields(spec, FUNCTIONAL_FIELDS, ["body"])
    _check_device(spec)
    encode = _encoding(spec)
    req("transform" in spec, "Field required", TRANSFORM_LOC, "missing")
    name = spec["transform"]
    req(name in TRANSFORMS, "Input should be 'jacobian', 'hessian', 'vjp', 'jvp', 'hvp' or 'vhp'", TRANSFORM_LOC,
        "enum")
    kwargs = {}
    for opt in ALL_OPTIONS:
        if opt not in spec or (opt == "v" and spec[opt] is None):
            continue
        if opt not in OPTIONS[name]:  # what Python says of a keyword the function does not take
            raise TorchTypeError(f"{name}() got an unexpected keyword argument '{opt}'", ["body", opt])
        value = spec[opt]
        if opt in ("strategy", "outer_jacobian_strategy"):
            req(value in STRATEGIES, "Input should be 'reverse-mode' or 'forward-mode'", ["body", opt], "enum")
        elif opt != "v":
            req(isinstance(value, bool), "Input should be a valid boolean", ["body", opt], "bool_type")
        kwargs[opt] = value
    run = TransformRun(spec, limits)
    with Evaluating(spec) as caught:
        build_leaves(run, spec)
        run.leaf_total = run.total
        functions.build(run, spec, caught)
        fio = read_function(spec, run)
        fn = ProgramFunction(run, spec, caught, fio)
        inputs = tuple(run.env[n] for n in fn.inputs)
        if "v" in kwargs:
            kwargs["v"] = _read_v(run, kwargs["v"], name, fn, inputs)
        if name in ("jacobian", "hessian"):  # the result's size from its shape, before the backward passes
            kwargs["expect"] = _expect(run, caught, encode)
        try:
            out = TRANSFORMS[name](fn, inputs if fn.inputs_listed else inputs[0], **kwargs)
        except Exception as e:  # noqa: BLE001 - mapped to the engine's errors, located at the transform
            raise _located(e, TRANSFORM_LOC) from None
        run.record_warnings(caught)
        del caught[:]
        result, output = (out, None) if name in ("jacobian", "hessian") else (out[1], out[0])
        check_size(run, [result, output], encode)
        doc = {"result": _document(result, encode)}
        if output is not None:
            doc["output"] = _document(output, encode)
        doc["warnings"] = run.warnings
        doc["device"] = _device_name()
    return doc


def _read_v(run, value, name, fn, inputs):
    """`v` as torch takes it: a Tensor, or a tuple of them where the function's inputs (jvp, hvp, vhp) or
    outputs (vjp) are a tuple. Each tensor takes the dtype of the one it stands beside, as the wire cannot tell
    2 from 2.0; for vjp that is an output, known once the function has run (data given as base64 keeps its
    own dtype)."""
    listed = fn.outputs_listed if name == "vjp" else fn.inputs_listed
    if listed:
        req(isinstance(value, list), "Input should be a valid list: a list of data, one per tensor of the tuple",
            ["body", "v"], "list_type")
        items = value
    else:
        items = [value]
    out = []
    for k, data in enumerate(items):
        loc = ["body", "v", k] if listed else ["body", "v"]
        data = decode_numbers(data, loc)
        typed = isinstance(data, np.ndarray)  # base64 data, the only array decode_numbers gives
        like = inputs[k] if name != "vjp" and k < len(inputs) else None
        dt = like.dtype if like is not None and not typed else None
        n = numel(shape_of(data))
        run.count(n, loc)
        bud = _budget.current()
        if bud is not None:
            bud.charge(n * 8, n, "v")
        t = make_tensor(data, dt, loc)
        if bud is not None:
            bud.track(t._data)
        out.append((t, typed, data, loc))
    if name == "vjp":
        def cast(outs):  # v beside the outputs: their numbers read in their dtypes, once they are known (as the
            for k, (t, typed, data, loc) in enumerate(out):  # reference's torch.tensor(v, dtype=out.dtype): a
                if not typed and k < len(outs) and isinstance(outs[k], Tensor) and t._data.dtype != outs[
                        k]._data.dtype:  # float64 output's v is not rounded to float32 first; review13a F-C)
                    t._data = make_tensor(data, outs[k].dtype, loc)._data
        fn.on_output = cast
    ts = tuple(t for t, *_ in out)
    return ts if listed else ts[0]


class _Shaped:
    """A result tensor known by its shape and dtype only (a Jacobian's block before it is computed), for
    check_size: its `_data` a view of one element (no memory), `_grad` None."""

    __slots__ = ("_data", "_grad")

    def __init__(self, shape, dtype):
        self._data = np.broadcast_to(np.zeros((), dtype), shape)
        self._grad = None


def _expect(run, caught, encode):
    """jacobian's and hessian's `expect`: check_size of their blocks, with the warnings of the function's run
    (recorded now, in their order) and located at ["body"], as the check of the computed result is."""
    def expect(blocks):
        try:
            run.record_warnings(caught)
            del caught[:]
            check_size(run, [_Shaped(*b) for b in blocks], encode, hold=False)
        except EngineError as e:
            e.located = True
            raise
    return expect


def check_size(run, values, encode, hold=True):
    """The response's size bounded before it is written (413 over max_response_bytes), as respond's check;
    what writing it takes held (hold). A Jacobian's or Hessian's is checked from its blocks' shapes (_Shaped)
    once its function has run, before the first backward pass (redteam11 F7: 13.6 s of passes for a certain
    413), and again once computed: the warnings of the passes are counted then."""
    total = 300 + sum(len(w["message"]) + 80 for w in run.warnings)
    items_total = 0
    stack = list(values)
    while stack:
        x = stack.pop()
        if isinstance(x, tuple | list):
            stack.extend(x)
        elif isinstance(x, Tensor | _Shaped):
            d = x._data
            per = _ELEMENT_BYTES.get(d.dtype.name, 25) if encode == "json" else (d.dtype.itemsize * 4 + 2) // 3
            g = x._grad
            items = d.size + (g._data.size if g is not None else 0)
            items_total += items
            total += items * per + _repr_bound(x, per) + 300
    limit = run.limits.max_response_bytes
    if total > limit:
        raise LimitExceeded(f"the response would take up to {total} bytes, over the limit of {limit} bytes "
                            "(max_response_bytes)", ["body"])
    if hold:
        hold_response(total, items_total, encode)


def _document(x, encode):
    """A transform's return value as JSON: a Tensor as the nine-field tensor document, a tuple as a list."""
    if isinstance(x, tuple | list):
        return [_document(i, encode) for i in x]
    if not isinstance(x, Tensor):
        return None
    d = x._data
    dn = D.FROM_NP[d.dtype].name
    wire = encode_array if encode == "json" else wire_b64
    fn = x.grad_fn
    g = x._grad
    return tensor_doc(d.shape, dn, x._req, type(fn).__name__ if fn is not None else None, x._retains_grad, wire(d),
                      wire(g._data) if g is not None else None, format_tensor(B.to_numpy(d), dn, x._repr_suffixes()))


# ----- POST /v1/gradcheck -----


def _gradcheck_doc(spec, limits):
    check_fields(spec, GRADCHECK_FIELDS, ["body"])
    _check_device(spec)
    kwargs = {}
    for opt, low in (("eps", 0.0), ("atol", None), ("rtol", None)):
        if spec.get(opt) is not None:
            v = spec[opt]
            req(type(v) in (int, float), "Input should be a valid number", ["body", opt], "float_type")
            req(np.isfinite(v) and (v > low if low is not None else v >= 0),
                f"Input should be {'greater than 0' if low is not None else 'greater than or equal to 0'}",
                ["body", opt], "greater_than" if low is not None else "greater_than_equal")
            kwargs[opt] = float(v)
    for opt in ("fast_mode", "gradgrad"):
        if spec.get(opt) is not None:
            req(isinstance(spec[opt], bool), "Input should be a valid boolean", ["body", opt], "bool_type")
    if spec.get("fast_mode") is not None:
        kwargs["fast_mode"] = spec["fast_mode"]
    run = TransformRun(spec, limits)
    with Evaluating(spec) as caught:
        build_leaves(run, spec)
        run.leaf_total = run.total
        functions.build(run, spec, caught)
        fio = read_function(spec, run)
        fn = ProgramFunction(run, spec, caught, fio)
        inputs = tuple(run.env[n] for n in fn.inputs)
        arg = inputs if fn.inputs_listed else inputs[0]
        doc = {"gradcheck": _check(_gradcheck, fn, arg, kwargs), "gradgradcheck": None}
        if spec.get("gradgrad"):
            doc["gradgradcheck"] = _check(_gradgradcheck, fn, arg, kwargs)
        run.record_warnings(caught)
        del caught[:]
        doc["warnings"] = run.warnings
        doc["device"] = _device_name()
    return doc


def _check(check, fn, arg, kwargs):
    try:
        check(fn, arg, **kwargs)
    except GradcheckError as e:
        return {"ok": False, "error": {"type": "GradcheckError", "msg": e.msg}}
    except Exception as e:  # noqa: BLE001 - an invalid call, at `function`; an op's error stays at the op
        raise _located(e, FUNCTION_LOC) from None
    return {"ok": True, "error": None}


# ----- shared -----


def _located(e, loc):
    """e as the engine's error, located at `loc` unless an op of the program raised it (then at that op)."""
    if isinstance(e, EngineError):
        if not getattr(e, "located", False):
            e.loc = list(loc)
        return e
    if isinstance(e, MemoryError):
        return LimitExceeded("the transform ran out of memory", loc)
    if isinstance(e, RecursionError):
        return LimitExceeded("the transform nests too deeply", loc)
    if isinstance(e, TypeError):
        return TorchTypeError(str(e), loc)
    if isinstance(e, NotImplementedError):
        return TorchNotImplementedError(str(e), loc)
    return TorchRuntimeError(f"{type(e).__name__}: {e}" if not isinstance(e, ValueError | IndexError) else str(e),
                             loc)


def _check_device(spec):
    device = spec.get("device", "auto")
    req(device in ("cpu", "cuda", "auto"), "Input should be 'cpu', 'cuda' or 'auto'", ["body", "device"], "enum")
    if device == "cuda" and B.xp is np:
        raise DeviceUnavailable("device 'cuda' was requested but this engine has no CUDA backend",
                                ["body", "device"])


def _encoding(spec):
    encode = spec.get("encoding", "json")
    req(encode in ("json", "base64"), "Input should be 'json' or 'base64'", ["body", "encoding"], "enum")
    return encode


def _device_name():
    return "cpu" if B.xp is np else "cuda"
