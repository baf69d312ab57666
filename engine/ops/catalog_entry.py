"""The public catalog's entries: Entry (a name of engine / Tensor / nn.functional, its function, doc and the op
entries it applies) and entry(), which the op families call; engine.catalog gathers them. Moved out of
engine.ops.registry, which re-exports Entry and entry (the op families import them from there).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field


@dataclass
class Entry:
    name: str
    fn: object
    doc: str
    opdefs: tuple = ()
    function: bool = True  # engine.<name>
    method: bool = True  # Tensor.<name>
    functional: bool = False  # engine.nn.functional.<name>
    grad_fn_names: tuple = field(default=())

    @property
    def signature(self) -> str:
        try:
            sig = inspect.signature(self.fn)
        except (TypeError, ValueError):
            return f"{self.name}(...)"
        parts = []
        star = False
        for p in sig.parameters.values():
            if p.kind is p.VAR_POSITIONAL:
                parts.append("*" + p.name)
                star = True
                continue
            if p.kind is p.KEYWORD_ONLY and not star:
                parts.append("*")
                star = True
            parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
        return f"{self.name}({', '.join(parts)}) -> Tensor"


def entry(name, fn, doc, *opdefs, function=True, method=True, functional=False, grad_fns=()):
    names = tuple(o.grad_fn_name for o in opdefs if getattr(o, "differentiable", False)) + tuple(grad_fns)
    return Entry(name, fn, doc, tuple(opdefs), function, method, functional, names)
