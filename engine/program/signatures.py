"""Per-signature op runners: run_op's decisions that depend on an op's name alone, made once.

A program repeats few op signatures: a chain of 1,000 ops has four (`{"name", "op", "args"}` with one or two
tensor names). run_op decides, for every op, which function the name means, how its arguments bind, whether it
has a shape rule, is a list-returning or value-sized op, which direct callable to call. `runner(opname)` makes
those decisions once per catalog name and gives a closure that does, for the next op of that name, only what
depends on its values: its keys, its name (a new str of a valid length), its args (one or two, each a defined
tensor's name, or a Python number where the kind takes one), the output bound and both element limits, the
call (every budget charge and deadline check the op's function makes), its warnings, its output's checks.

The closure runs an op only where the op is in that common form: `{"name": str, "op": str, "args": [a]
or [a, b]}` and nothing else. Anything else (another key, a kwarg, a name already bound, an arg that is no
defined tensor's name, an unhashable `op`) goes to run_op, which runs it from the start: no closure changes
anything before all of those checks have passed, so the full path sees the op as it was. Errors from the call
and after it are raised as run_op raises them (the same helpers: op_error, store_one).

Bounded: runners are kept for names in the catalog (OPS) only, one per name (each op checks that the name still
means the function its runner was made for), never for a request's own
Functions (a run with Functions, a Program recording or a lowering trace takes the full path for every op).
"""
from __future__ import annotations

import numpy as np

from engine.catalog import OPS
from engine.errors import EngineError
from engine.program.bind import PIECE_OPS, binder
from engine.program.shapes import SHAPE_RULES, general_bound, output_bound
from engine.program.wire import NAME_MAX
from engine.tensor import Tensor

_MISSING = object()
_KINDS = ("tensor", "tensor_or_scalar")


def make_runner(opname, run_mod):
    """The runner of catalog op `opname`, or None where its ops always take the full path (not a catalog
    name, a list-returning or value-sized op, an op whose first two positional parameters are not tensors or
    tensor-or-numbers). run_mod: engine.program.run (its helpers; it imports this module)."""
    fn = OPS.get(opname)
    if fn is None or opname in PIECE_OPS or opname in run_mod.VALUE_SIZED:
        return None
    kinds = binder(fn).positional
    if not kinds or kinds[0] not in _KINDS:
        return None
    k0 = kinds[0]
    k1 = kinds[1] if len(kinds) > 1 else None
    arities = (1, 2) if k1 in _KINDS else (1,)
    s0, s1 = k0 == "tensor_or_scalar", k1 == "tensor_or_scalar"
    call1 = run_mod._DIRECT1.get(fn) or fn
    call2 = run_mod._DIRECT2.get(fn) or fn
    ruled = opname in SHAPE_RULES
    op_error, store_one, retain_ = run_mod.op_error, run_mod.store_one, run_mod._retain
    ndarray, F32, F64 = np.ndarray, run_mod._F32, run_mod._F64
    no_kwargs = run_mod._NO_KWARGS
    ops_get = OPS.get  # (the catalog's function is read for every op: a test may put another under the name)

    def run_one(run, op, where, i, caught, retain):
        # the op's form: three keys, a new name, one or two args that are tensors' names (or numbers where
        # the kind takes them); else the full path, from the start (nothing here has changed anything yet)
        name = op.get("name")
        args_in = op.get("args")
        env = run.env
        if (len(op) != 3 or ops_get(opname) is not fn or type(name) is not str or not 1 <= len(name) <= NAME_MAX
                or name in env or type(args_in) is not list or (n_in := len(args_in)) not in arities):
            return run_mod.run_op(run, op, [*where, i], caught, retain)
        v = args_in[0]
        # (a name bound to a tensor is that tensor for either kind: convert gives a special number's name,
        # "NaN", its float only where no tensor has that name)
        if type(v) is str and (a0 := env.get(v, _MISSING)) is not _MISSING:
            pass
        elif s0 and (type(v) is int or type(v) is float):
            a0 = v
        else:
            return run_mod.run_op(run, op, [*where, i], caught, retain)
        if n_in == 2:
            v = args_in[1]
            if type(v) is str and (a1 := env.get(v, _MISSING)) is not _MISSING:
                pass
            elif s1 and (type(v) is int or type(v) is float):
                a1 = v
            else:
                return run_mod.run_op(run, op, [*where, i], caught, retain)
        # output_bound, its first case inline as run_op has it (tests/engine/test_perop4.py)
        if type(a0) is Tensor and not ruled:
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
        lim = run.limits
        if bound > lim.max_tensor_elements or run.total + bound > lim.max_total_elements:
            run.count(bound, [*where, i])  # raises the limit's 413
        else:
            run.total += bound
        n_before = len(caught)
        try:
            out = call2(a0, a1) if n_in == 2 else call1(a0)
        except EngineError as e:
            e.loc = [*where, i]
            raise
        except Exception as e:  # noqa: BLE001 - as run_op: never a server error
            raise op_error(e, [*where, i]) from None
        if len(caught) > n_before:
            run.record_warnings(caught[n_before:], [*where, i])
            del caught[n_before:]
        if (type(out) is Tensor and type(d := out._data) is ndarray
                and ((dt := d.dtype) is F32 or dt is F64 or dt.kind != "O") and name not in env):
            env[name] = out
            run.order.append(name)
            run.kind[name] = "op"
            if name in retain:
                retain_(out)
        else:
            store_one(run, opname, fn, [a0] if n_in == 1 else [a0, a1], name, out, [*where, i], retain)

    return run_one
