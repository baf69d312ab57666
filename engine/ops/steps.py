"""Autograd steps as request ops (API.md v1.1): backward, .grad, autograd.grad, detach, requires_grad_, ...

They are lines of autograd code a program may hold between its ops, with the signatures a request binds
names and values to; each calls the library's own method, so a program and a script behave alike.
"""
from __future__ import annotations

from engine import autograd
from engine.errors import RequestError
from engine.ops.registry import entry
from engine.tensor import Tensor, tensor


def _data_tensor(value, like):
    """A gradient given as data (a number or a nested list, "NaN" strings allowed), in `like`'s dtype."""
    if value is None or isinstance(value, Tensor):
        return value
    from engine.program.wire import SPECIAL  # noqa: PLC0415 - engine.program imports the catalog

    def number(v):
        if isinstance(v, list):
            return [number(x) for x in v]
        if isinstance(v, str):
            if v in SPECIAL:
                return SPECIAL[v]
            raise RequestError(f"unknown tensor name {v!r}: names must refer to an earlier leaf or op")
        return v

    return tensor(number(value), dtype=like.dtype if isinstance(like, Tensor) else None)


def backward(input: Tensor, gradient: Tensor | float | list | None = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: list[Tensor] | None = None) -> None:
    """input.backward(gradient, retain_graph, create_graph, inputs): gradient a name or data."""
    input.backward(_data_tensor(gradient, input), retain_graph, create_graph, inputs)


def grad(input: Tensor) -> Tensor | None:
    """input.grad: the same tensor object (a later zero_ on it zeroes the leaf's grad), or null."""
    return input.grad


def _tensors(value):
    return [value] if isinstance(value, Tensor) or value is None else list(value)


def autograd_grad(outputs: list[Tensor] | Tensor, inputs: list[Tensor] | Tensor,
                  grad_outputs: list[Tensor | float | list | None] | Tensor | float | None = None,
                  retain_graph: bool | None = None, create_graph: bool = False, allow_unused: bool | None = None,
                  materialize_grads: bool = False) -> list:
    """torch.autograd.grad: one result per input (null for an unused one, with allow_unused)."""
    outs = _tensors(outputs)
    gos = None
    if grad_outputs is not None:
        gos = _tensors(grad_outputs) if not isinstance(grad_outputs, list) or not outs or \
            len(grad_outputs) == len(outs) else [grad_outputs]
        gos = [_data_tensor(g, o) for g, o in zip(gos, outs)] + gos[len(outs):]
    return list(autograd.grad(outs, _tensors(inputs), gos, retain_graph, create_graph,
                              allow_unused=allow_unused, materialize_grads=materialize_grads))


def detach(input: Tensor) -> Tensor:
    """input.detach(): the same memory and version counter, outside the graph."""
    return input.detach()


def detach_(input: Tensor) -> Tensor:
    return input.detach_()


def requires_grad_(input: Tensor, requires_grad: bool = True) -> Tensor:
    return input.requires_grad_(requires_grad)


def retain_grad(input: Tensor) -> None:
    input.retain_grad()


def setitem(input: Tensor, index: Index, value: Tensor | float) -> None:
    """input[index] = value (a name or a number)."""
    input[index] = value


from engine.ops.indexing import Index  # noqa: E402 - for setitem's annotation, which the binder reads

_REQUEST = {"function": False, "method": False}
CATALOG = [
    entry("backward", backward, "t.backward(gradient, retain_graph, create_graph, inputs) as a step of the "
          "program (no name).", **_REQUEST),
    entry("grad", grad, "t.grad: the leaf's gradient tensor itself, or null.", **_REQUEST),
    entry("autograd.grad", autograd_grad, "torch.autograd.grad(outputs, inputs, grad_outputs, retain_graph, "
          "create_graph, allow_unused, materialize_grads): a list of names, one per input.", **_REQUEST),
    entry("detach", detach, "A tensor of the same memory and version counter, outside the graph.", **_REQUEST),
    entry("detach_", detach_, "The tensor itself, taken out of the graph.", **_REQUEST),
    entry("requires_grad_", requires_grad_, "Set requires_grad on a leaf.", **_REQUEST),
    entry("retain_grad", retain_grad, "Keep this non-leaf's .grad in backward (no name).", **_REQUEST),
    entry("setitem", setitem, "input[index] = value (no name): basic indices write through the view "
          "(CopySlices), advanced ones are index_put_.", **_REQUEST),
]
