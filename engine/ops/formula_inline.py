"""An array formula's one expression, read back from its bytecode, for the generated array backward to write inline.

engine/ops/array_vjp.py writes each entry's backward as Python source that calls the entry's formulas (defop's
vjp=): a lambda such as `lambda grad, other: grad * other` is a Python call, a frame made and freed, for one NumPy
operation (~0.9k instructions a formula, a chain's node runs one or two). Where the function is one expression of
its parameters, constants, operators and calls of a module attribute (`np.cos(self) * grad`), `expression` gives
that expression as source over the generated code's own variables, fully parenthesized: the same operations on the
same operands in the same order (Python evaluates an operator's left operand first, as the bytecode does), so the
same values and bits. Anything else (a condition, a closure, keywords, a method, a default argument) gives None and
the formula is called as before.
"""
from __future__ import annotations

import dis
import types

import numpy as np

_SIMPLE = {"RESUME", "NOP", "CACHE", "PRECALL"}


def expression(fn, args: list[str], ns: dict, prefix: str, consts: dict | None = None) -> str | None:
    """fn(*args)'s value as one expression over the names in `args` (the generated code's variables, in fn's
    parameter order), or None where fn is not a plain function of one such expression. The constants and module
    globals it reads are put in `ns` under names starting with `prefix` (the generated code's namespace); the
    number constants' names and values also in `consts` where given."""
    if type(fn) is not types.FunctionType or fn.__closure__ or fn.__defaults__ or fn.__kwdefaults__:
        return None
    code = fn.__code__
    if code.co_argcount != len(args) or code.co_kwonlyargcount or code.co_flags & (0x04 | 0x08 | 0x20 | 0x80):
        return None  # (*args, **kwargs, generators, coroutines)
    params = dict(zip(code.co_varnames[: len(args)], args))
    stack: list = []
    k = 0
    for ins in dis.get_instructions(code):
        op = ins.opname
        if op in _SIMPLE:
            continue
        if op == "LOAD_FAST" and ins.argval in params:
            stack.append(params[ins.argval])
        elif op == "LOAD_CONST" and type(ins.argval) in (int, float):
            name = f"{prefix}{k}"
            k += 1
            ns[name] = ins.argval
            if consts is not None:
                consts[name] = ins.argval
            stack.append(name)
        elif op == "LOAD_GLOBAL" and ins.argval in fn.__globals__ and isinstance(fn.__globals__[ins.argval],
                                                                                    types.ModuleType):
            name = f"{prefix}{k}"
            k += 1
            ns[name] = fn.__globals__[ins.argval]
            stack.append(name)
        elif op == "LOAD_ATTR" and stack and ins.argval.isidentifier():
            stack.append(f"{stack.pop()}.{ins.argval}")
        elif op == "BINARY_OP" and len(stack) >= 2 and not ins.argrepr.endswith("="):
            right = stack.pop()
            stack.append(f"({stack.pop()} {ins.argrepr} {right})")
        elif op == "UNARY_NEGATIVE" and stack:
            stack.append(f"(-{stack.pop()})")
        elif op == "CALL" and len(stack) > ins.arg:
            n = ins.arg
            call_args = stack[len(stack) - n:] if n else []
            del stack[len(stack) - n:]
            stack.append(f"{stack.pop()}({', '.join(call_args)})")
        elif op == "RETURN_VALUE" and len(stack) == 1:
            return stack[0]
        else:
            return None
    return None


_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def typed_constants(value) -> dict | None:
    """A number constant as a read-only 0-d array of each float dtype, where every float dtype holds it exactly
    (None otherwise). Where a formula's operands all have dtype dt (the generated backward returns None first
    where any has another), `c - x` with c the Python number converts c to dt (NumPy 2's weak scalars) and
    subtracts in dt; with c as the 0-d array of dt the operation is the same, in the same dtype on the same
    values (the bits are the same), and NumPy does not convert a Python scalar every call (`1 - a` on 16 float32
    values: 6.3k instructions, against 3.6k)."""
    if type(value) not in (int, float) or not (-2048 <= value <= 2048) or float(np.float16(value)) != value:
        return None
    out = {}
    for dt in _FLOATS:
        a = np.array(value, dt)
        a.flags.writeable = False
        out[dt] = a
    return out
