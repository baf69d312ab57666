"""A request's custom autograd Functions (API.md v1.1 `functions`): forward and backward as sub-programs.

Each definition becomes an engine.autograd.Function subclass of its name (its node `<Name>Backward`), whose
forward and backward run their ops through the same run_op_list as the request's own program, in an
environment of their own (their inputs; in backward also the saved tensors, by their forward names), sharing
the request's budget, limits and warnings. An error inside either is located where torch raises it: at the op
that applied the function, or at the backward pass that ran it.
"""
from __future__ import annotations

import inspect

from engine.autograd.function import Function
from engine.catalog import OPS
from engine.errors import LimitExceeded, TorchRuntimeError
from engine.program.run import Run, run_op_list
from engine.program.wire import check_fields, check_name, req

FUNCTION_FIELDS = {"forward", "backward"}
FORWARD_FIELDS = {"inputs", "ops", "output", "save"}
BACKWARD_FIELDS = {"inputs", "ops", "output"}


class SubRun(Run):
    """The run of a sub-program: its own names; the request's limits, element count, warnings and Functions."""

    def __init__(self, parent):
        super().__init__(parent.spec, parent.limits)
        self.parent = parent
        self.warnings = parent.warnings
        self._seen_once = parent._seen_once
        self.functions = parent.functions

    def count(self, n, loc):
        self.parent.count(n, loc)


def _names(value, loc, allow_null=False):
    """A name or a list of names (nulls too where allowed): the list, and whether it was given as a list."""
    items = value if isinstance(value, list) else [value]
    for k, n in enumerate(items):
        if n is None and allow_null:
            continue
        check_name(n, [*loc, k] if isinstance(value, list) else loc)
    return items, isinstance(value, list)


def build(run, spec, caught) -> None:
    """run.functions from the request's `functions`: each name -> a callable that applies the Function."""
    fns = spec.get("functions")
    if fns is None:
        return
    req(isinstance(fns, dict), "Input should be a valid dictionary", ["body", "functions"], "dict_type")
    for name, fdef in fns.items():
        loc = ["body", "functions", name]
        check_name(name, loc)
        req(name not in OPS and name != "getitem",
            f"function name {name!r} shadows the catalog op of that name: choose another", loc)
        check_fields(fdef, FUNCTION_FIELDS, loc)
        for part in ("forward", "backward"):
            req(part in fdef, "Field required", [*loc, part], "missing")
        fwd, bwd = fdef["forward"], fdef["backward"]
        check_fields(fwd, FORWARD_FIELDS, [*loc, "forward"])
        check_fields(bwd, BACKWARD_FIELDS, [*loc, "backward"])
        for part, d in (("forward", fwd), ("backward", bwd)):
            for f in ("inputs", "ops", "output"):
                req(f in d, "Field required", [*loc, part, f], "missing")
            req(isinstance(d["inputs"], list), "Input should be a valid list", [*loc, part, "inputs"], "list_type")
            req(isinstance(d["ops"], list), "Input should be a valid list", [*loc, part, "ops"], "list_type")
            _names(d["inputs"], [*loc, part, "inputs"])
        outputs, _ = _names(fwd["output"], [*loc, "forward", "output"])
        save = fwd.get("save", [])
        req(isinstance(save, list), "Input should be a valid list", [*loc, "forward", "save"], "list_type")
        _names(save, [*loc, "forward", "save"])
        _names(bwd["output"], [*loc, "backward", "output"], allow_null=True)
        req(len(bwd["inputs"]) == len(outputs),
            f"backward takes one gradient per forward output: {len(outputs)} inputs, not {len(bwd['inputs'])}",
            [*loc, "backward", "inputs"])
        run.functions[name] = _apply(_function(run, name, fwd, bwd, loc, caught), fwd["inputs"])
    expanded_ops(spec, run.limits.max_ops, refuse=True)


def expanded_ops(spec, max_ops, refuse=False) -> int:
    """The ops the request's top-level `ops` run once the custom Functions they apply are expanded: each
    Function counts its forward's and backward's ops plus the expanded count of every Function they apply
    (a fan-out F_k -> F_{k-1} twice is 2^k ops). A Function applied while it is itself being expanded (its
    backward applies it: exp's derivative is exp) counts its forward's expanded ops (what applying it runs; its
    forward applying itself recurses without end: "nest too deeply"); a count made so depends on the Functions
    still open, and is kept for reuse only once none of them is (else its order would undercount). Counted up to
    max_ops + 1. refuse: a Function or the whole past max_ops raises max_ops's 413."""
    fns = spec.get("functions") if isinstance(spec, dict) else None
    ops = spec.get("ops") if isinstance(spec, dict) else None
    ops = ops if isinstance(ops, list) else []
    if not isinstance(fns, dict) or not fns:
        return len(ops)
    cap, memo, open_ = max_ops + 1, {}, set()

    def part(name, key):
        fdef = fns[name]
        d = fdef.get(key) if isinstance(fdef, dict) else None
        return d.get("ops") if isinstance(d, dict) else None

    def count(op_list):
        """(ops, the open Functions the count leaned on)"""
        n, leaned = 0, set()
        for o in op_list if isinstance(op_list, list) else ():
            g = o.get("op") if isinstance(o, dict) else None
            n += 1
            if type(g) is str and g in fns:
                if g in open_:  # applied by its own expansion: its forward runs
                    m, on = count(part(g, "forward"))
                    leaned |= on | {g}
                else:
                    m, on = expand(g)
                    leaned |= on
                n += m
            if n >= cap:
                return cap, leaned
        return n, leaned

    def expand(name):
        if name in memo:
            return memo[name], set()
        open_.add(name)
        n, leaned = 0, set()
        for key in ("forward", "backward"):
            m, on = count(part(name, key))
            n, leaned = n + m, leaned | on
        open_.discard(name)
        leaned.discard(name)
        n = min(n, cap)
        if not leaned:
            memo[name] = n
        return n, leaned

    try:
        total = count(ops)[0]
        if refuse and total > max_ops:  # (first: where the request's own ops pass it, their 413 as before)
            raise LimitExceeded(f"the request's ops expand to over {max_ops} ops with the custom Functions they "
                                f"apply, over the limit of {max_ops} ops per request (max_ops)", ["body", "ops"])
        for name in fns if refuse else ():  # and each Function, applied or not
            if expand(name)[0] > max_ops:
                raise LimitExceeded(f"custom Function {name!r} expands to over {max_ops} ops (its forward's and "
                                    f"backward's, with the Functions they apply), over the limit of {max_ops} "
                                    "ops per request (max_ops)", ["body", "functions", name])
    except RecursionError:
        raise LimitExceeded("the custom Functions nest too deeply", ["body", "functions"]) from None
    return total


def _function(run, name, fwd, bwd, loc, caught):
    def forward(ctx, *args):
        sub = SubRun(run)
        sub.env.update(zip(fwd["inputs"], args))
        run_op_list(sub, fwd["ops"], [*loc, "forward", "ops"], caught)
        outs = [_get(sub, n, [*loc, "forward", "output"]) for n in _names(fwd["output"], [])[0]]
        saved = fwd.get("save", [])
        ctx.save_for_backward(*[_get(sub, n, [*loc, "forward", "save"]) for n in saved])
        ctx.saved_names = list(saved)
        return tuple(outs) if isinstance(fwd["output"], list) else outs[0]

    def backward(ctx, *grads):
        sub = SubRun(run)
        sub.env.update(zip(ctx.saved_names, ctx.saved_tensors))
        sub.env.update(zip(bwd["inputs"], grads))
        run_op_list(sub, bwd["ops"], [*loc, "backward", "ops"], caught)
        names, listed = _names(bwd["output"], [], allow_null=True)
        outs = tuple(None if n is None else _get(sub, n, [*loc, "backward", "output"]) for n in names)
        return outs if listed else outs[0]

    return type(name, (Function,), {"forward": staticmethod(forward), "backward": staticmethod(backward)})


def _get(sub, n, loc):
    if n not in sub.env:
        raise TorchRuntimeError(f"unknown name {n!r} in the function's sub-program", loc)
    return sub.env[n]


def _apply(cls, inputs):
    """Fn.apply with a signature the binder reads: one Tensor-or-number parameter per forward input."""
    def apply(*args):
        return cls.apply(*args)

    apply.__signature__ = inspect.Signature(
        [inspect.Parameter(f"input{k}", inspect.Parameter.POSITIONAL_ONLY, annotation="Tensor | float")
         for k in range(len(inputs))])
    apply.__name__ = cls.__name__
    apply.function = cls
    return apply

