"""The public op catalog: every function of `engine`, `engine.nn.functional` and Tensor, gathered from
the `CATALOG` list at the bottom of each op-family module."""
from __future__ import annotations

from engine.ops.registry import Entry, entry  # noqa: F401 - re-exported

FAMILIES = ("pointwise", "reduction", "shape", "indexing", "join", "linalg", "nn_functional", "loss", "conv",
            "factory", "steps", "shape_more", "pointwise_more", "special", "scatter", "reduction_more", "sorting",
            "sorting_quantile",
            "linalg_more", "linalg_decomp", "linalg_spectral", "linalg_eigh", "linalg_pinv", "linalg_matrix_exp",
            "linalg_lu", "linalg_norms", "random_ops",
            "distance", "loss_more", "nn_more", "pooling",
            # everyday torch functions (the methods branch)
            "aliases", "logical", "counting", "uniques", "searching", "indices", "attributes")


def _gather():
    import importlib  # noqa: PLC0415

    out = []
    for fam in FAMILIES:
        out.extend(getattr(importlib.import_module(f"engine.ops.{fam}"), "CATALOG", ()))
    return out


ENTRIES: list[Entry] = _gather()


def _forward_formulas():
    import importlib  # noqa: PLC0415

    from engine.ops.forward_more import install  # noqa: PLC0415

    install([importlib.import_module(f"engine.ops.{fam}") for fam in FAMILIES])


_forward_formulas()  # jvp= of the OpInfo-coverage families' entries (engine/ops/forward_more.py)


def _inplace():
    from engine.ops.inplace import install  # noqa: PLC0415

    return install(ENTRIES)


ENTRIES += _inplace()  # add_, mul_, ..., fill_, zero_, copy_: the in-place variants of the ops above


def _name_closures():
    """A catalog function made in a factory (the unary table's `_unary.<locals>.f`) takes its first entry's name
    as its qualified name, which Python's own TypeErrors print: an unknown keyword argument then reads as torch's
    "acos() got an unexpected keyword argument 'x'" (redteam15 F7), not "_unary.<locals>.f() ..."."""
    for e in ENTRIES:
        qual = getattr(e.fn, "__qualname__", "")
        if "<locals>" in qual and callable(e.fn):
            try:
                e.fn.__qualname__ = e.name.replace(".", "_")  # (torch: "special_expit()")
            except (AttributeError, TypeError):  # a builtin or partial: its own name stands
                pass


_name_closures()
FUNCTIONS = {e.name: e.fn for e in ENTRIES if e.function}
METHODS = {e.name: e.fn for e in ENTRIES if e.method}
FUNCTIONAL = {e.name: e.fn for e in ENTRIES if e.functional}
# Steps of a program that are no function of engine's (backward, grad, autograd.grad, setitem: engine.ops.steps)
REQUEST = {e.name: e.fn for e in ENTRIES if not (e.function or e.method or e.functional)}
# The names a request's `op` may use: torch.nn.functional wins where both have the name (API.md).
OPS = {**FUNCTIONS, **METHODS, **FUNCTIONAL, **REQUEST}
BY_NAME = {}
for _e in ENTRIES:
    if _e.name not in BY_NAME or _e.functional:
        BY_NAME[_e.name] = _e


def describe() -> list[dict]:
    """The GET /v1/ops document."""
    return [
        {"name": e.name, "signature": e.signature, "grad_fn": list(e.grad_fn_names), "description": e.doc,
         "kinds": [k for k, on in (("function", e.function), ("method", e.method),
                                   ("functional", e.functional)) if on] or ["request"]}
        for e in sorted(BY_NAME.values(), key=lambda e: e.name)
    ]
