"""One run of a program: its leaves, its ops in order, its backward passes, under the request's context."""
from __future__ import annotations

import copy
import inspect
import re
import sys
import warnings
from time import monotonic as _monotonic

import numpy as np

from engine import budget as _budget
from engine.autograd import grad_mode, run_backward, set_detect_anomaly
from engine.catalog import OPS
from engine.dtypes import FROM_NP
from engine.errors import (
    EngineError,
    LimitExceeded,
    RequestError,
    TorchNotImplementedError,
    TorchRuntimeError,
    TorchTypeError,
)
from engine.ops import factory as _factory
from engine.ops import pointwise as _pointwise
from engine.ops.factory import request_stream
from engine.ops.registry import trace
from engine.program.bind import _BINDERS, PIECE_OPS, binder, check_names, convert, lookup, op_function
from engine.program.glue import watch
from engine.program.shapes import SHAPE_RULES, bound_reads_values, general_bound, output_bound
from engine.program.wire import (
    BACKWARD_FIELDS,
    NAME_MAX,
    OP_FIELDS,
    SPECIAL,
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


class Warnings(list):
    """A run's warnings, and `nbytes`: at most what they take in the response's JSON. Bounded: past
    max_response_bytes the run stops there (413), for a program can raise one warning without end (a custom
    Function reading a non-leaf's .grad, applied 2^k times). Each text is kept once (`texts`)."""

    __slots__ = ("nbytes", "texts")

    def __init__(self):
        super().__init__()
        self.nbytes = 0
        self.texts: dict[str, str] = {}


class Run:
    """State of one evaluation: tensors by name, limits, warnings."""

    def __init__(self, spec, limits):
        self.spec = spec
        self.limits = limits
        self.env: dict[str, Tensor] = {}
        self.order: list[str] = []
        self.kind: dict[str, str] = {}
        self.leaves: list[str] = []  # the names build_leaves bound, in order (kind "leaf": respond's default grads)
        self.total = 0
        self.warnings: Warnings = Warnings()
        self._seen_once: set[str] = set()
        self.program = None  # a plans.Program filled in as the run goes, where a PlanCache asked for it
        self.functions: dict = {}  # the request's custom Functions by name (engine.program.functions)
        self.traces: list | None = None  # per op, the entries its function ran (registry.trace), to lower
        self.watch_work: list | None = None  # and the work their glue.watch may still do (set with traces)
        self.glue: set = set()  # and the code that ran between them (engine.program.glue.watch)

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

    def recount(self, bound, out, loc):
        """After a VALUE_SIZED op ran: its real outputs' elements (every one of a tuple) replace the bound that
        was counted for it in max_total_elements, where they are more (a 413 at the op past the limit); and each
        output is held to max_tensor_elements (redteam9 F1: a 2e7-element inverse passed until the next op)."""
        n = 0
        most = self.limits.max_tensor_elements
        for t in (out if isinstance(out, tuple | list) else (out,)):
            if isinstance(t, Tensor):
                k = t._data.size
                if k > most:
                    raise LimitExceeded(f"tensor of {k} elements exceeds the limit of {most} elements per tensor "
                                        "(max_tensor_elements)", loc)
                n += k
        if n > bound:
            total = self.total + n - bound
            if total > self.limits.max_total_elements:
                raise LimitExceeded(
                    f"the request's tensors would hold {total} elements, over the limit of "
                    f"{self.limits.max_total_elements} elements in all (max_total_elements)", loc)
            self.total = total

    def record_warnings(self, caught, loc=None):
        ws = self.warnings
        for w in caught:
            text = torch_warning_text(w)
            if any(text.startswith(p) for p in ONCE_WARNINGS):
                if text in self._seen_once:
                    continue
                self._seen_once.add(text)
            text = ws.texts.setdefault(text, text)
            cat = w.category.__name__
            ws.append({"category": cat, "message": text})
            ws.nbytes += (len(text) if text.isascii() else 6 * len(text)) + len(cat) + 32  # JSON's escapes
            if ws.nbytes > self.limits.max_response_bytes:
                raise LimitExceeded(
                    f"the request's {len(ws)} warnings would take over {ws.nbytes - 1} bytes of the response, over "
                    f"the limit of {self.limits.max_response_bytes} bytes (max_response_bytes)", loc or ["body"])

    def add(self, name, t, kind, loc):
        req(name not in self.env, f"duplicate name {name!r}: names are unique across leaves and ops", loc)
        self.env[name] = t
        self.order.append(name)
        self.kind[name] = kind



# ops whose outputs' size comes from VALUES or arguments, not from output_bound (which is exact, or an upper bound,
# for every other op): their real outputs are counted into max_total_elements after they run (Run.recount)
VALUE_SIZED = frozenset({"bincount", "histc", "histogram", "logspace", "vander", "tril_indices", "triu_indices",
                         "unique", "unique_consecutive", "repeat_interleave", "nonzero", "argwhere", "masked_select"})


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


def drew_random() -> bool:
    """Whether the running request's random stream has been drawn from (inside Evaluating)."""
    return type(_factory._generator.req) is np.random.Generator


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
        t = make_tensor(data, dt, loc, numbers=type(lspec.get("data")) is not dict)  # (a dict: base64)
        if bud is not None:
            bud.track(t._data)
        if rg:
            try:
                t._set_requires_grad(True, REQUIRES_GRAD_DTYPE_MSG)
            except EngineError as e:
                e.loc = loc
                raise
        run.add(name, t, "leaf", loc)
        run.leaves.append(name)
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


def _well_formed(t, opname, fn, args, loc):
    """t, where its data is an array of one of the engine's dtypes (anything else crashed later: a 500). An op
    of numbers only (add(2, 3)) made a Tensor of a Python number: torch's 0-d tensor. Else torch's TypeError."""
    d = t._data
    if getattr(d, "dtype", None) in FROM_NP:
        return t
    if type(d) in (int, float, bool):
        return tensor(d)
    raise _not_a_tensor(opname, fn, args, loc)


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
    run.env; each op's errors are located at [*where, i]. Every op checks the deadline first (one compare: ops
    that charge nothing, detach or flatten, never reach Budget.charge's check)."""
    bud = _budget._local.budget
    if not run.functions and run.program is None and run.traces is None:  # (no Functions, Program or trace)
        return _run_list(run, ops, where, caught, retain, bud, sys.modules[__name__])  # per-name decisions kept
    for i, op in enumerate(ops):
        if bud is not None and _monotonic() > bud._dl:  # past the deadline, or cancelled
            _deadline_passed(bud, [*where, i])
        run_op(run, op, [*where, i], caught, retain)


def _deadline_passed(bud, loc):
    e = _budget.DeadlinePassed(_budget.timeout_message(bud.time_limit_s))
    e.loc = loc
    raise e


_MISSING = object()
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)  # (an output of these dtypes is no object array)


def _directs(arity):
    """engine.ops.pointwise.DIRECT's functions (add, sub, mul, div, the unary functions) whose direct callable
    takes `arity` operands: the callable that gives the function's answer when called with those operands only,
    positionally. Read once (a request's own Functions are never here: nothing per request is kept)."""
    out = {}
    for f, d in _pointwise.DIRECT.items():
        code = getattr(d, "__code__", None)
        if code is not None and code.co_argcount == arity and not code.co_flags & 0x04:  # no *args
            out[f] = d
    return out


_DIRECT1, _DIRECT2 = _directs(1), _directs(2)
_known_fields = OP_FIELDS.issuperset  # every key of an op is one of its fields (one C call, no loop)
_NO_ARGS: list = []  # an op's args and kwargs where the document gives none (never changed)
_NO_KWARGS: dict = {}


def _check_names(run, op, name, loc):
    """The `name` field's checks, in order, raising the first that fails (run_op takes the common case
    itself: one new name of a valid length)."""
    names = name if isinstance(name, list) else ([] if name is None else [name])
    req(name is None or len(names) >= 1, "List should have at least 1 item", [*loc, "name"], "too_short")
    for n in names:
        check_name(n, [*loc, "name"])
        req(n not in run.env, f"duplicate name {n!r}: names are unique across leaves and ops", [*loc, "name"])
    return names


def op_error(e, loc):
    """The error a request gets for an exception (not an EngineError) its op raised: torch's kind of it."""
    if isinstance(e, MemoryError):
        return LimitExceeded("the op ran out of memory", loc)
    if isinstance(e, TypeError):
        return TorchTypeError(str(e), loc)
    if isinstance(e, NotImplementedError):
        return TorchNotImplementedError(str(e), loc)
    if isinstance(e, RecursionError):
        return LimitExceeded("the op nests too deeply", loc)
    return TorchRuntimeError(f"{type(e).__name__}: {e}" if not isinstance(e, ValueError | IndexError) else str(e),
                             loc)


def store_one(run, opname, fn, args, name, out, loc, retain):
    """An op's output bound to its one name (a str): checked to be one well-formed tensor (or None), then
    recorded in the run's environment; a retained name's tensor retains its grad."""
    if type(out) is not Tensor:
        if not (isinstance(out, Tensor) or out is None):
            raise RequestError(f"op {opname!r} returns {len(out) if isinstance(out, tuple | list) else 'no'} "
                               "tensors: give a list of names", [*loc, "name"])
        if out is not None and not isinstance(out, Tensor):
            out = tensor(out)
    if out is not None and (type(d := out._data) is not np.ndarray
                            or ((dt := d.dtype) is not _F32 and dt is not _F64 and dt.kind == "O")):
        out = _well_formed(out, opname, fn, args, loc)
    env = run.env
    if name in env:
        run.add(name, out, "op", [*loc, "name"])  # raises the duplicate's error
    env[name] = out
    run.order.append(name)
    run.kind[name] = "op"
    if name in retain and out is not None:
        _retain(out)


def run_op(run, op, loc, caught, retain):
    # The checks of the document's fields run in the order of their messages' precedence; each is written for
    # the common case first (no list built, no message formatted), and where it fails, the full check raises.
    if type(op) is not dict or not _known_fields(op):
        check_fields(op, OP_FIELDS, loc)
    opname = op.get("op", _MISSING)
    if opname is _MISSING:
        raise RequestError("Field required", [*loc, "op"], "missing")
    name = op.get("name")
    env = run.env
    if type(name) is str and 1 <= len(name) <= NAME_MAX and name not in env:
        names = None  # (name,): made where it is read (a Program's step)
    else:
        names = _check_names(run, op, name, loc)
    if type(opname) is not str and not isinstance(opname, str):
        raise RequestError("Input should be a valid string", [*loc, "op"], "string_type")
    fn = (run.functions.get(opname) if run.functions else None) or OPS.get(opname) or op_function(opname, run)
    if fn is None:
        raise RequestError(f"unknown op {opname!r}; GET /v1/ops lists the ops", [*loc, "op"])
    args_in = op.get("args", _NO_ARGS)
    kwargs_in = op.get("kwargs", _NO_KWARGS)
    if type(args_in) is not list and not isinstance(args_in, list):
        raise RequestError("Input should be a valid list", [*loc, "args"], "list_type")
    if type(kwargs_in) is not dict and not isinstance(kwargs_in, dict):
        raise RequestError("Input should be a valid dictionary", [*loc, "kwargs"], "dict_type")
    sig = _BINDERS.get(fn) or binder(fn)
    kinds = sig.positional
    n_in = len(args_in)
    if 0 < n_in <= 2 and n_in <= len(kinds):  # the loop below unrolled for one or two positional arguments
        v = args_in[0]
        kind = kinds[0]
        if not (type(v) is str and (kind == "tensor" or (kind == "tensor_or_scalar" and v not in SPECIAL))
                and (a0 := env.get(v, _MISSING)) is not _MISSING):
            a0 = v if kind == "tensor_or_scalar" and (type(v) is int or type(v) is float) else \
                convert(v, kind, env, [*loc, "args", 0])
        if n_in == 2:
            v = args_in[1]
            kind = kinds[1]
            if not (type(v) is str and (kind == "tensor" or (kind == "tensor_or_scalar" and v not in SPECIAL))
                    and (a1 := env.get(v, _MISSING)) is not _MISSING):
                a1 = v if kind == "tensor_or_scalar" and (type(v) is int or type(v) is float) else \
                    convert(v, kind, env, [*loc, "args", 1])
            args = [a0, a1]
        else:
            args = [a0]
    elif args_in:  # _bind_args, its commonest kinds read inline (a tensor's name, a number for a Tensor-or-Scalar)
        args = []
        npos = len(kinds)
        for k, v in enumerate(args_in):
            kind = kinds[k] if k < npos else sig.var_kind
            tv = type(v)
            if tv is str and (kind == "tensor" or (kind == "tensor_or_scalar" and v not in SPECIAL)):
                t = env.get(v, _MISSING)
                if t is not _MISSING:
                    args.append(t)
                    continue
            elif kind == "tensor_or_scalar" and (tv is int or tv is float):
                args.append(v)
                continue
            args.append(convert(v, kind, env, [*loc, "args", k]))
    else:
        args = []
    kwargs = {k: convert(v, sig.kind_of(name=k), env, [*loc, "kwargs", k]) for k, v in kwargs_in.items()} \
        if kwargs_in else _NO_KWARGS
    na = len(args)
    # output_bound's first case inline, for one or two operands the first of which is a plain Tensor (the other
    # a plain Tensor or a Python number): the same arithmetic (tests/engine/test_perop4.py holds evaluate's limits
    # to output_bound's); anything else asks output_bound itself
    if 0 < na <= 2 and not kwargs and type(x := args[0]) is Tensor and opname not in SHAPE_RULES:
        d0 = x._data
        if na == 1 or (tx := type(x := args[1])) is float or tx is int or x is None:
            bound = d0.size
        elif tx is Tensor:
            s1, s2 = d0.shape, x._data.shape
            bound = d0.size if s2 == s1 or not s2 else (x._data.size if not s1 else general_bound(opname, args, kwargs))
        else:
            bound = output_bound(opname, args, kwargs)
    else:
        bound = output_bound(opname, args, kwargs)
    x = None
    lim = run.limits
    if bound > lim.max_tensor_elements or run.total + bound > lim.max_total_elements:
        run.count(bound, loc)  # raises the limit's 413
    else:
        run.total += bound
    no_grad = op.get("no_grad", False)
    if no_grad is not False and no_grad is not True:
        raise RequestError("Input should be a valid boolean", [*loc, "no_grad"], "bool_type")
    if opname in PIECE_OPS:  # a list-returning op's names against its count, before its pieces are made
        check_names(opname, fn, name, args, kwargs, loc)
    if run.program is not None and is_stateful(opname):
        run.program.stateful = True  # it changes tensors or autograd state: never lowered
    n_before = len(caught)
    if no_grad:  # (grad mode is read and set only here: a thread-local attribute costs ~0.2 us a read or write;
        prev = grad_mode.enabled  # every op that changes it restores it itself)
        grad_mode.enabled = False
    try:
        if run.traces is None:  # (one or two arguments passed one by one: a call with *args builds a tuple)
            if kwargs:
                out = fn(*args, **kwargs)
            else:  # the catalog function's `direct` callable where it has one (the same call, one frame less)
                if na == 2:
                    out = (_DIRECT2.get(fn) or fn)(args[0], args[1])
                elif na == 1:
                    out = (_DIRECT1.get(fn) or fn)(args[0])
                else:
                    out = fn(*args)
        else:  # the lowering run: the entries the op applied, and the code it ran between them (glue.watch)
            with trace() as log, watch(run.watch_work) as codes:
                out = fn(*args, **kwargs)
            run.traces.append(log)
            run.glue |= codes
    except EngineError as e:
        e.loc = loc
        raise
    except Exception as e:  # noqa: BLE001 - a client's program must never surface as a server error
        raise op_error(e, loc) from None
    finally:
        if no_grad:
            grad_mode.enabled = prev
    if len(caught) > n_before:
        run.record_warnings(caught[n_before:], loc)
        del caught[n_before:]
    if opname in VALUE_SIZED:
        run.recount(bound, out, loc)
    if type(name) is str:
        store_one(run, opname, fn, args, name, out, loc, retain)
    else:
        if isinstance(name, list):
            outs = list(out) if isinstance(out, tuple | list) else [out]
            req(len(outs) == len(names),
                f"op {opname!r} returned {len(outs)} tensors but {len(names)} names were given", [*loc, "name"])
        else:
            outs = []
        for n, t in zip(names, outs):
            if t is not None and not isinstance(t, Tensor):
                t = tensor(t)
            if t is not None:
                t = _well_formed(t, opname, fn, args, loc)
            run.add(n, t, "op", [*loc, "name"])
            if n in retain and t is not None:
                _retain(t)
    if run.program is not None:  # copies: the caller may reuse (and change) its document afterwards
        if names is None:
            names = (name,)
        akinds = [sig.kind_of(i=k) for k in range(len(args_in))]
        kkinds = {k: sig.kind_of(name=k) for k in kwargs_in}
        shapes = tuple(env[n]._data.shape if env[n] is not None else None for n in names)
        run.program.steps.append(Step(
            opname if bound_reads_values(opname, args, kwargs, bound) else None,
            fn, copy.deepcopy(list(zip(args_in, akinds))),
            {k: (copy.deepcopy(v), kkinds[k]) for k, v in kwargs_in.items()}, no_grad,
            isinstance(name, list), list(names), shapes, [n for n in names if n in retain], loc))


def _retain(t):
    try:
        t.retain_grad()
    except EngineError as e:
        e.loc = ["body", "retain_grad"]
        raise


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
    run.record_warnings(caught[n_before:], loc)
    del caught[n_before:]



# ----- programs: a request's structure, checked once, run again with other values -----


class Step:
    __slots__ = ("op", "fn", "args", "kwargs", "no_grad", "multi", "names", "shapes", "retain", "loc")

    def __init__(self, op, fn, args, kwargs, no_grad, multi, names, shapes, retain, loc):
        self.op, self.fn, self.args, self.kwargs, self.no_grad = op, fn, args, kwargs, no_grad
        self.multi, self.names, self.shapes, self.retain, self.loc = multi, names, shapes, retain, loc


from engine.program.signatures import run_list as _run_list  # noqa: E402 - it reads this module's helpers
