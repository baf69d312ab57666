"""Schemas: an op entry's aten schema parsed (_SCHEMA, _split_params, _literal), its grad_fn class name
(backward_name, _BASE_COUNT: the entries of each base name so far) and its formulas' parameters (Formula).
OpDef.__init__ (engine.ops.registry) reads them; moved out of it, which re-exports these names.
"""
from __future__ import annotations

import inspect
import re

_BASE_COUNT: dict[str, int] = {}


def backward_name(base: str, index: int) -> str:
    """aten base name -> grad_fn class name, as torch's codegen does it."""
    base = base.lstrip("_")
    if base.endswith("_forward"):
        base = base[: -len("_forward")]
    return "".join(p.title() for p in base.split("_")) + f"Backward{index}"


_SCHEMA = re.compile(r"^(?P<name>[\w]+)(?:\.(?P<overload>\w+))?\((?P<params>.*)\)\s*->\s*(?P<ret>.*)$")


class Formula:
    __slots__ = ("fn", "argnames", "inputs", "array_fn")

    def __init__(self, fn, inputs):
        self.fn = fn
        self.array_fn = None  # the same formula over arrays (defop's vjp=), for backward without create_graph
        self.inputs = inputs  # indices of the tensor inputs it computes (one, or several for joint formulas)
        # the first parameter is grad; output_mask is passed by keyword to joint formulas, never resolved
        self.argnames = tuple(n for n in tuple(inspect.signature(fn).parameters)[1:] if n != "output_mask")


def _split_params(s):
    """Split a schema's parameter list on top-level commas (defaults such as [0, 1] contain commas)."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def _literal(text):
    import ast  # noqa: PLC0415

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
