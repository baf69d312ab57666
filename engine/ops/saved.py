"""Saved tensors: what an op node's backward reads was not modified in place since the node saved it.

The version checks (check_saved_version for a saved input, check_saved_output for a saved output) and torch's
message when one fails (version_error, friendly_name, anomaly_hint), and the unpacking of a saved input that is
not a plain Tensor (_unpack_other). Moved out of engine.ops.registry, which re-exports these names; the generated
array backward (engine.ops.array_vjp) calls the checks too.
"""
from __future__ import annotations

import re

from engine.autograd import graph as _graph
from engine.errors import TorchRuntimeError
from engine.tensor import Tensor


def _type_desc(t):
    return t.type() + " [" + ", ".join(str(s) for s in t._data.shape) + "]"


# Nodes torch writes by hand in C++: its messages name them with their namespace
_CPP_NODES = frozenset(("CopySlices", "CopyBackwards", "AccumulateGrad", "DelayedError", "NotImplemented", "Error"))


def friendly_name(fn) -> str:
    """A node's name as torch 2.13's messages print it: MulBackward0 -> Mul, CopySlices ->
    torch::autograd::CopySlices."""
    name = fn.name()
    if name in _CPP_NODES:
        return "torch::autograd::" + name
    return re.sub(r"Backward\d*$", "", name)


def version_error(t, current, expected, fn=None, output_nr=0):
    where = f", which is output {output_nr} of {friendly_name(fn)}," if fn is not None else ""
    return TorchRuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"[{_type_desc(t)}]{where} is at version {current}; expected version {expected} instead. "
        + anomaly_hint())


def anomaly_hint():
    from engine.autograd import anomaly_enabled  # noqa: PLC0415

    if anomaly_enabled():
        return ("Hint: the backtrace further above shows the operation that failed to compute its gradient. The "
                "variable in question was changed in there or anywhere later. Good luck!")
    return ("Hint: enable anomaly detection to find the operation that failed to compute its gradient, with "
            "torch.autograd.set_detect_anomaly(True, check_nan=False).")


def check_saved_version(t, expected):
    cur = t._vc.version
    if cur != expected:
        raise version_error(t, cur, expected, t.grad_fn, t._output_nr)


def check_saved_output(node, nr, storage, expected, ref):
    """An output this node saved (its values, in `storage`) was not changed in place since."""
    cur = storage.version
    if cur != expected:  # named by the node that saved it, as torch names a saved output
        t = ref()
        if t is None:
            from engine.ops.registry import _unpack_output  # noqa: PLC0415 - it reads the registry's _dual

            t = _unpack_output(node, node._saved["result" if nr == 0 else f"result{nr}"], nr)
        raise version_error(t, cur, expected, node, nr)


def _unpack_other(node, name, v):
    """A saved input that is not a plain Tensor: a packed one (its unpack hook runs; no version check, as torch
    has none through hooks), a Tensor subclass (a Parameter: version-checked as any tensor), or a number."""
    if type(v) is _graph.Packed:
        return v.unpack(node)
    if isinstance(v, Tensor) and v._vc is not None:
        check_saved_version(v, node._saved.get(("v", name), 0))
    return v
