"""Per-signature op decisions: what run_op decides from an op's name alone, made once per name.

A program repeats few op signatures: a chain of 1,000 ops has four (`{"name", "op", "args"}` with one or two
tensor names). run_op decides, for every op, which function the name means, how its arguments bind, whether it
has a shape rule, is a list-returning or value-sized op, which direct callable to call. `decisions(opname)` makes
those once per catalog name; `run_list`, run_op_list's loop where the run has no Functions, no Program and no
trace, does for each op of that name only what depends on its values: the deadline, its keys, its name (a new
str of a valid length), its args (one or two, each a defined tensor's name, or a Python number where the kind
takes one), the output bound and both element limits, the call (every budget charge and deadline check the op's
function makes), its warnings, its output's checks.

An op runs there only in that common form: `{"name": str, "op": str, "args": [a] or [a, b]}` and nothing else.
Anything else (another key, a kwarg, a name already bound, an arg that is no defined tensor's name, a name
whose function is not the one decided for) goes to run_op, which runs it from the start: nothing has changed
before all of those checks have passed, so the full path sees the op as it was. Errors from the call and after
it are raised as run_op raises them (the same helpers: op_error, store_one).

Bounded: decisions are kept for names in the catalog (OPS) only, and getitem's (None: always the full path), one
tuple per name, never for a request's own Functions (a run with Functions, a Program recording or a lowering
trace takes the full path for every op).
"""
from __future__ import annotations

from time import monotonic as _monotonic

import numpy as np

from engine.catalog import OPS
from engine.errors import EngineError
from engine.program.bind import PIECE_OPS, binder
from engine.program.shapes import SHAPE_RULES, general_bound, output_bound
from engine.program.wire import NAME_MAX
from engine.tensor import Tensor

_MISSING = object()
_KINDS = ("tensor", "tensor_or_scalar")


def decisions(opname, run_mod):
    """What an op of catalog name `opname` in the common form needs that its name alone decides: (its
    function, the direct callables for one and two operands, the arities taken, whether each operand's kind
    takes a number, whether the op has a shape rule); None where its ops always take the full path (not a
    catalog name, a list-returning or value-sized op, an op whose first positional parameter is not a tensor
    or tensor-or-number). run_mod: engine.program.run (its helpers; it imports this module)."""
    fn = OPS.get(opname)
    if fn is None or opname in PIECE_OPS or opname in run_mod.VALUE_SIZED:
        return None
    kinds = binder(fn).positional
    if not kinds or kinds[0] not in _KINDS:
        return None
    k1 = kinds[1] if len(kinds) > 1 else None
    return (fn, run_mod._DIRECT1.get(fn) or fn, run_mod._DIRECT2.get(fn) or fn, (1, 2) if k1 in _KINDS else (1,),
            kinds[0] == "tensor_or_scalar", k1 == "tensor_or_scalar", opname in SHAPE_RULES)


def run_list(run, ops, where, caught, retain, bud, run_mod):
    """run_op_list's loop (engine/program/run.py) for a run with no Functions, no Program and no trace: each op
    checks the deadline first, then runs here where it has the common form and its name's decisions
    (`decisions`, kept in DECIDED), else through run_mod.run_op from the start."""
    env = run.env
    env_get = env.get
    order_append = run.order.append
    kind = run.kind
    lim = run.limits
    max_tensor, max_total = lim.max_tensor_elements, lim.max_total_elements
    decided = DECIDED
    ops_get = OPS.get  # (the catalog's function is read for every op: a test may put another under the name)
    monotonic = _monotonic
    ndarray, F32, F64 = np.ndarray, run_mod._F32, run_mod._F64
    op_error, store_one, retain_ = run_mod.op_error, run_mod.store_one, run_mod._retain
    no_kwargs = run_mod._NO_KWARGS
    name_max = NAME_MAX
    n0 = len(caught)  # (every op leaves `caught` as it found it: its warnings recorded, then cut off)
    for i, op in enumerate(ops):
        if bud is not None and monotonic() > bud._dl:  # past the deadline, or cancelled
            run_mod._deadline_passed(bud, [*where, i])
        # the op's form: three keys, a catalog name, a new name, one or two args that are tensors' names (or
        # numbers where the kind takes them); else the full path, from the start (nothing has changed yet)
        if type(op) is not dict or len(op) != 3:
            run_mod.run_op(run, op, [*where, i], caught, retain)
            continue
        try:  # (subscripts, not three .get calls: the common form has all three keys)
            opname = op["op"]
            name = op["name"]
            args_in = op["args"]
        except KeyError:
            run_mod.run_op(run, op, [*where, i], caught, retain)
            continue
        if type(opname) is not str:
            run_mod.run_op(run, op, [*where, i], caught, retain)
            continue
        try:
            d = decided[opname]
        except KeyError:
            d = _decide(opname, run_mod)
        if d is None:
            run_mod.run_op(run, op, [*where, i], caught, retain)
            continue
        fn, direct1, direct2, arities, scalar0, scalar1, shaped = d
        if (ops_get(opname) is not fn or type(name) is not str or not name or len(name) > name_max or name in env
                or type(args_in) is not list or (n_in := len(args_in)) not in arities):
            run_mod.run_op(run, op, [*where, i], caught, retain)
            continue
        # (a name bound to a tensor is that tensor for either kind: convert gives a special number's name,
        # "NaN", its float only where no tensor has that name)
        v = args_in[0]
        if type(v) is str and (a0 := env_get(v, _MISSING)) is not _MISSING:
            pass
        elif scalar0 and (type(v) is int or type(v) is float):
            a0 = v
        else:
            run_mod.run_op(run, op, [*where, i], caught, retain)
            continue
        if n_in == 2:
            v = args_in[1]
            if type(v) is str and (a1 := env_get(v, _MISSING)) is not _MISSING:
                pass
            elif scalar1 and (type(v) is int or type(v) is float):
                a1 = v
            else:
                run_mod.run_op(run, op, [*where, i], caught, retain)
                continue
        # output_bound, its first case inline as run_op has it (tests/engine/test_perop4.py)
        if type(a0) is Tensor and not shaped:
            d0 = a0._data
            if n_in == 1 or (tx := type(a1)) is float or tx is int or a1 is None:
                bound = d0.size
            elif tx is Tensor:
                s_0, s_1 = d0.shape, a1._data.shape
                bound = d0.size if s_1 == s_0 or not s_1 else (
                    a1._data.size if not s_0 else general_bound(opname, [a0, a1], no_kwargs))
            else:
                bound = output_bound(opname, [a0, a1], no_kwargs)
        else:
            bound = output_bound(opname, [a0] if n_in == 1 else [a0, a1], no_kwargs)
        if bound > max_tensor or run.total + bound > max_total:
            run.count(bound, [*where, i])  # raises the limit's 413
        else:
            run.total += bound
        try:
            out = direct2(a0, a1) if n_in == 2 else direct1(a0)
        except EngineError as e:
            e.loc = [*where, i]
            raise
        except Exception as e:  # noqa: BLE001 - as run_op: never a server error
            raise op_error(e, [*where, i]) from None
        if len(caught) > n0:
            run.record_warnings(caught[n0:], [*where, i])
            del caught[n0:]
        if (type(out) is Tensor and type(dd := out._data) is ndarray
                and ((dt := dd.dtype) is F32 or dt is F64 or dt.kind != "O") and name not in env):
            env[name] = out
            order_append(name)
            kind[name] = "op"
            if retain and name in retain:
                retain_(out)
        else:
            store_one(run, opname, fn, [a0] if n_in == 1 else [a0, a1], name, out, [*where, i], retain)


DECIDED: dict = {}  # catalog op name (and getitem) -> decisions(...) (bounded: no other name is kept)


def _decide(opname, run_mod):
    d = decisions(opname, run_mod)
    if opname in OPS or opname == "getitem":  # (getitem, the one name outside the catalog an op may have: None)
        DECIDED[opname] = d
    return d
