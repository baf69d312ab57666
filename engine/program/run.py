"""One run of a program: its leaves, its ops in order, its backward passes, under the request's context."""
from __future__ import annotations

import copy
import inspect
import re
import warnings

import numpy as np

from engine import budget as _budget
from engine.autograd import grad_mode, run_backward, set_detect_anomaly
from engine.dtypes import FROM_NP
from engine.errors import (
    EngineError,
    LimitExceeded,
    TorchNotImplementedError,
    TorchRuntimeError,
    TorchTypeError,
)
from engine.ops.factory import request_stream
from engine.ops.registry import trace
from engine.program.bind import binder, convert, lookup, op_function
from engine.program.shapes import bound_reads_values, output_bound
from engine.program.wire import (
    BACKWARD_FIELDS,
    OP_FIELDS,
    check_fields,
    check_name,
    decode_numbers,
    make_tensor,
    numel,
    read_leaf,
    req,
    shape_of,
)
from engine.tensor import REQUIRES_GRAD_DTYPE_MSG, Tensor, tensor

# Ops that change tensors or autograd state in place: a program holding one is replayed op by op, never lowered
# (a lowered function computes values, it does not write them back).
STATEFUL = frozenset(("backward", "grad", "autograd.grad", "detach", "detach_", "requires_grad_", "retain_grad",
                      "setitem"))


def is_stateful(opname: str) -> bool:
    return opname in STATEFUL or opname.endswith("_")


# torch raises these with TORCH_WARN_ONCE: once per process. A request answers as a fresh process would.
ONCE_WARNINGS = ("The use of `x.T` on tensors of dimension other than 2", "Tensor.T is deprecated on 0-D",
                 "Tensor.mT is deprecated on 0-D", "Using backward() with create_graph=True")
_TRIGGERED = re.compile(r" \(Triggered internally at .*\)\s*$", re.S)


def torch_warning_text(w):
    return _TRIGGERED.sub("", str(w.message))


class Run:
    """State of one evaluation: tensors by name, limits, warnings."""

    def __init__(self, spec, limits):
        self.spec = spec
        self.limits = limits
        self.env: dict[str, Tensor] = {}
        self.order: list[str] = []
        self.kind: dict[str, str] = {}
        self.total = 0
        self.warnings: list[dict] = []
        self._seen_once: set[str] = set()
        self.program = None  # a plans.Program filled in as the run goes, where a PlanCache asked for it
        self.functions: dict = {}  # the request's custom Functions by name (engine.program.functions)
        self.traces: list | None = None  # per op, the entries its function ran (registry.trace), to lower

    def count(self, n, loc):
        lim = self.limits
        if n > lim.max_tensor_elements:
            raise LimitExceeded(
                f"tensor of {n} elements exceeds the limit of {lim.max_tensor_elements} elements per tensor "
                "(max_tensor_elements)", loc)
        if self.total + n > lim.max_total_elements:
            raise LimitExceeded(
                f"the request's tensors would hold {self.total + n} elements, over the limit of "
                f"{lim.max_total_elements} elements in all (max_total_elements)", loc)
        self.total += n

    def record_warnings(self, caught):
        for w in caught:
            text = torch_warning_text(w)
            if any(text.startswith(p) for p in ONCE_WARNINGS):
                if text in self._seen_once:
                    continue
                self._seen_once.add(text)
            self.warnings.append({"category": w.category.__name__, "message": text})

    def add(self, name, t, kind, loc):
        req(name not in self.env, f"duplicate name {name!r}: names are unique across leaves and ops", loc)
        self.env[name] = t
        self.order.append(name)
        self.kind[name] = kind



class Evaluating:
    """The context of one evaluation (the full path's and a Program's): grad mode on, warnings recorded
    (`as` gives their list), NumPy's floating-point warnings off, the request's seed applied."""

    __slots__ = ("spec", "prev", "cw", "es", "rs", "an")

    def __init__(self, spec):
        self.spec = spec

    def __enter__(self):
        self.prev = grad_mode.enabled
        grad_mode.enabled = True
        self.cw = warnings.catch_warnings(record=True)
        caught = self.cw.__enter__()
        self.es = np.errstate(all="ignore")
        self.es.__enter__()
        self.rs = self.an = None
        try:
            warnings.simplefilter("always")
            self.rs = request_stream(request_seed(self.spec))
            self.rs.__enter__()
            mode = self.spec.get("detect_anomaly", False)
            req(isinstance(mode, bool), "Input should be a valid boolean", ["body", "detect_anomaly"], "bool_type")
            self.an = set_detect_anomaly(mode)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return caught

    def __exit__(self, *exc):
        if self.an is not None:
            self.an.__exit__(None, None, None)
        if self.rs is not None:
            self.rs.__exit__(None, None, None)
        self.es.__exit__(None, None, None)
        self.cw.__exit__(None, None, None)
        grad_mode.enabled = self.prev
        return False


def request_seed(spec):
    """The request's `seed`, checked, or None: its random ops then draw from fresh entropy (request_stream)."""
    seed = spec.get("seed")
    if seed is not None:
        req(isinstance(seed, int) and not isinstance(seed, bool), "Input should be a valid integer",
            ["body", "seed"], "int_type")
        req(0 <= seed < 2**63, "seed must be between 0 and 2**63 - 1", ["body", "seed"])
    return seed


def build_leaves(run, spec):
    leaves = spec.get("leaves", {})
    req(isinstance(leaves, dict), "Input should be a valid dictionary", ["body", "leaves"], "dict_type")
    for name, lspec in leaves.items():
        loc = ["body", "leaves", name]
        check_name(name, loc)
        data, dt, rg = read_leaf(name, lspec, loc)
        n = numel(shape_of(data))
        run.count(n, loc)
        bud = _budget.current()
        if bud is not None:
            try:
                bud.charge(n * 8, n, "the leaf")
            except EngineError as e:
                e.loc = loc
                raise
        t = make_tensor(data, dt, loc)
        if bud is not None:
            bud.track(t._data)
        if rg:
            try:
                t._set_requires_grad(True, REQUIRES_GRAD_DTYPE_MSG)
            except EngineError as e:
                e.loc = loc
                raise
        run.add(name, t, "leaf", loc)
        if run.program is not None:
            run.program.leaves.append((name, dt, rg, loc))


def run_ops(run, spec, caught):
    if run.program is not None:
        run.program.leaf_total = run.total
    ops = spec.get("ops", [])
    req(isinstance(ops, list), "Input should be a valid list", ["body", "ops"], "list_type")
    if len(ops) > run.limits.max_ops:
        raise LimitExceeded(f"{len(ops)} ops exceed the limit of {run.limits.max_ops} ops per request (max_ops)",
                            ["body", "ops"])
    retain = set(spec.get("retain_grad", []) or [])
    run_op_list(run, ops, ["body", "ops"], caught, retain)
    for n in retain:
        req(n in run.env, f"unknown tensor name {n!r}", ["body", "retain_grad"])


def _not_a_tensor(opname, fn, args, loc):
    """An op given no tensor where it needs one made something that is no tensor (an operand that is a dict:
    an array of objects): torch's TypeError, naming the argument."""
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()]
    except (TypeError, ValueError):
        params = []
    i = next((k for k, a in enumerate(args) if not isinstance(a, (Tensor, int, float, bool))), 0)
    name = params[i] if i < len(params) else "input"
    got = type(args[i]).__name__ if i < len(args) else "nothing"
    return TorchTypeError(f"{opname}(): argument '{name}' (position {i + 1}) must be Tensor, not {got}", loc)


def run_op_list(run, ops, where, caught, retain=frozenset()):
    """Run `ops` (a request's, or a sub-program's: a custom Function's forward or backward) in order on
    run.env; each op's errors are located at [*where, i]."""
    for i, op in enumerate(ops):
        run_op(run, op, [*where, i], caught, retain)


def run_op(run, op, loc, caught, retain):
    check_fields(op, OP_FIELDS, loc)
    req("op" in op, "Field required", [*loc, "op"], "missing")
    name, opname = op.get("name"), op["op"]
    names = name if isinstance(name, list) else ([] if name is None else [name])
    req(name is None or len(names) >= 1, "List should have at least 1 item", [*loc, "name"], "too_short")
    for n in names:
        check_name(n, [*loc, "name"])
        req(n not in run.env, f"duplicate name {n!r}: names are unique across leaves and ops", [*loc, "name"])
    req(isinstance(opname, str), "Input should be a valid string", [*loc, "op"], "string_type")
    fn = op_function(opname, run)
    req(fn is not None, f"unknown op {opname!r}; GET /v1/ops lists the ops", [*loc, "op"])
    args_in = op.get("args", [])
    kwargs_in = op.get("kwargs", {})
    req(isinstance(args_in, list), "Input should be a valid list", [*loc, "args"], "list_type")
    req(isinstance(kwargs_in, dict), "Input should be a valid dictionary", [*loc, "kwargs"], "dict_type")
    sig = binder(fn)
    akinds = [sig.kind_of(i=k) for k in range(len(args_in))]
    kkinds = {k: sig.kind_of(name=k) for k in kwargs_in}
    args = [convert(v, akinds[k], run.env, [*loc, "args", k]) for k, v in enumerate(args_in)]
    kwargs = {k: convert(v, kkinds[k], run.env, [*loc, "kwargs", k]) for k, v in kwargs_in.items()}
    bound = output_bound(opname, args, kwargs)
    run.count(bound, loc)
    no_grad = op.get("no_grad", False)
    req(isinstance(no_grad, bool), "Input should be a valid boolean", [*loc, "no_grad"], "bool_type")
    if run.program is not None and is_stateful(opname):
        run.program.stateful = True  # it changes tensors or autograd state: never lowered
    n_before = len(caught)
    prev = grad_mode.enabled  # off inside a custom Function's forward (a sub-program)
    grad_mode.enabled = prev and not no_grad
    try:
        if run.traces is None:
            out = fn(*args, **kwargs)
        else:
            with trace() as log:
                out = fn(*args, **kwargs)
            run.traces.append(log)
    except EngineError as e:
        e.loc = loc
        raise
    except MemoryError:
        raise LimitExceeded("the op ran out of memory", loc) from None
    except TypeError as e:
        raise TorchTypeError(str(e), loc) from None
    except NotImplementedError as e:
        raise TorchNotImplementedError(str(e), loc) from None
    except RecursionError:
        raise LimitExceeded("the op nests too deeply", loc) from None
    except Exception as e:  # noqa: BLE001 - a client's program must never surface as a server error
        raise TorchRuntimeError(f"{type(e).__name__}: {e}" if not isinstance(e, ValueError | IndexError)
                                else str(e), loc) from None
    finally:
        grad_mode.enabled = prev
    run.record_warnings(caught[n_before:])
    del caught[n_before:]
    if isinstance(name, list):
        outs = list(out) if isinstance(out, tuple | list) else [out]
        req(len(outs) == len(names),
            f"op {opname!r} returned {len(outs)} tensors but {len(names)} names were given", [*loc, "name"])
    elif name is None:
        outs = []
    else:
        req(isinstance(out, Tensor) or out is None,
            f"op {opname!r} returns {len(out) if isinstance(out, tuple | list) else 'no'} tensors: give a "
            "list of names", [*loc, "name"])
        outs = [out]
    shapes = []
    for n, t in zip(names, outs):
        if t is not None and not isinstance(t, Tensor):
            t = tensor(t)
        if t is not None and getattr(t._data, "dtype", None) not in FROM_NP:
            if type(t._data) in (int, float, bool):  # an op of numbers only (add(2, 3)): torch's 0-d tensor
                t = tensor(t._data)
            else:
                raise _not_a_tensor(opname, fn, args, loc)
        run.add(n, t, "op", [*loc, "name"])
        shapes.append(t._data.shape if t is not None else None)
        if n in retain and t is not None:
            try:
                t.retain_grad()
            except EngineError as e:
                e.loc = ["body", "retain_grad"]
                raise
    if run.program is not None:  # copies: the caller may reuse (and change) its document afterwards
        run.program.steps.append(Step(
            opname if bound_reads_values(opname, args, kwargs, bound) else None,
            fn, copy.deepcopy(list(zip(args_in, akinds))),
            {k: (copy.deepcopy(v), kkinds[k]) for k, v in kwargs_in.items()}, no_grad,
            isinstance(name, list), list(names), tuple(shapes), [n for n in names if n in retain], loc))


def run_backward_section(run, spec, caught):
    passes = spec.get("backward", []) or []
    req(isinstance(passes, list), "Input should be a valid list", ["body", "backward"], "list_type")
    for i, p in enumerate(passes):
        loc = ["body", "backward", i]
        check_fields(p, BACKWARD_FIELDS, loc)
        req("tensor" in p, "Field required", [*loc, "tensor"], "missing")
        backward_pass(run, p, loc, caught)
    if run.program is not None:
        run.program.passes = [(copy.deepcopy(p), ["body", "backward", i]) for i, p in enumerate(passes)]


def backward_pass(run, p, loc, caught):
    t = lookup(p["tensor"], run.env, [*loc, "tensor"])
    g = p.get("gradient")
    if g is not None:
        g = make_tensor(decode_numbers(g, [*loc, "gradient"]), t.dtype, [*loc, "gradient"])
    inputs = p.get("inputs")
    if inputs is not None:
        req(isinstance(inputs, list), "Input should be a valid list", [*loc, "inputs"], "list_type")
        inputs = [lookup(n, run.env, [*loc, "inputs", k]) for k, n in enumerate(inputs)]
        if not inputs:
            raise TorchRuntimeError("`inputs` argument to `backward()` cannot be empty.", loc)
    rg, cg = p.get("retain_graph"), p.get("create_graph", False)
    n_before = len(caught)
    try:
        run_backward([t], [g], rg, bool(cg), inputs=inputs)
    except EngineError as e:
        e.loc = loc
        raise
    run.record_warnings(caught[n_before:])
    del caught[n_before:]



# ----- programs: a request's structure, checked once, run again with other values -----


class Step:
    __slots__ = ("op", "fn", "args", "kwargs", "no_grad", "multi", "names", "shapes", "retain", "loc")

    def __init__(self, op, fn, args, kwargs, no_grad, multi, names, shapes, retain, loc):
        self.op, self.fn, self.args, self.kwargs, self.no_grad = op, fn, args, kwargs, no_grad
        self.multi, self.names, self.shapes, self.retain, self.loc = multi, names, shapes, retain, loc


