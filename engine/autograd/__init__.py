"""torch.autograd's backward / grad.

The backward pass itself (run_backward, its array loop and their helpers) is in engine.autograd.backward_loop, the
graph's nodes in engine.autograd.nodes, grad and anomaly mode in engine.autograd.modes; every name of the three is
re-exported here (the engine imports them from engine.autograd)."""
from __future__ import annotations

from engine.autograd import backward_loop as _loop
from engine.autograd import nodes as _nodes
from engine.autograd.backward_loop import (  # noqa: F401 - moved to engine.autograd.backward_loop, re-exported
    BACKWARD_CREATE_GRAPH_WARNING,
    CREATE_GRAPH_NODE_BYTES,
    _add,
    _apply_anomalous,
    _as_tensor,
    _buffer_add,
    _charge_node,
    _dependency_counts,
    _has_needed_child,
    _isnan_any,
    _keep_tangent,
    _needed_nodes,
    _release_children,
    _root_grads,
    _run_arrays,
    _sum_0d,
    check_implicit,
    dependencies,
    root_buffers,
    run_backward,
)
from engine.autograd.modes import (  # noqa: F401 - moved to engine.autograd.modes, re-exported
    _Anomaly,
    _GradMode,
    _GradModeContext,
    anomaly,
    anomaly_enabled,
    detect_anomaly,
    enable_grad,
    grad_mode,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from engine.autograd.nodes import (  # noqa: F401 - moved to engine.autograd.nodes, re-exported
    _NO_EDGE,
    AccumulateGrad,
    CopyBackwards,
    Node,
    _copy_backwards,
    _own,
    _seq,
    accumulate_into,
    edge_of,
    grad_accumulator,
    note_output_storage,
)
from engine.errors import TorchRuntimeError, TorchTypeError, TorchValueError

# engine.tensor imports this module, so the Tensor class is handed over once it exists (_bind, at the end of
# engine/tensor.py) rather than imported inside each backward call and gradient sum (~0.6 us an import).
Tensor = None
ones_like_data = None


def _bind(tensor_cls, ones_like) -> None:
    global Tensor, ones_like_data
    Tensor, ones_like_data = tensor_cls, ones_like
    _nodes.Tensor = tensor_cls  # its accumulate_into and _copy_backwards read it as their module's global
    _loop.Tensor, _loop.ones_like_data = tensor_cls, ones_like  # (the backward pass's module globals, as here)


FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed). Saved intermediate values of the graph are freed when you call .backward() "
    "or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time "
    "or if you need to access saved tensors after calling backward."
)

# threads with a forward-AD level entered (engine.autograd.forward_ad keeps it, here and in backward_loop)
_fw_levels = 0



# ----- torch.autograd's functions -----


def _as_list(x):

    if x is None:
        return None
    if isinstance(x, Tensor | GradientEdge):
        return [x]
    try:
        return list(x)
    except TypeError:
        raise TorchTypeError(f"'{type(x).__name__}' object is not iterable") from None


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """torch.autograd.backward."""
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors) if grad_tensors is not None else [None] * len(tensors)
    inputs = _as_list(inputs)
    if inputs is not None and not inputs:
        raise TorchRuntimeError("`inputs` argument to `backward()` cannot be empty.")
    run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """torch.autograd.grad: the gradients of `outputs` with respect to `inputs`, nothing accumulated."""
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    if not inputs:
        raise TorchRuntimeError("`inputs` argument to `grad()` cannot be empty.")
    gos = _as_list(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    if materialize_grads and allow_unused is not None and not allow_unused:
        raise TorchValueError(
            "Expected allow_unused to be True or not passed when materialize_grads=True, but got: "
            "allow_unused=False."
        )
    if allow_unused is None:
        allow_unused = materialize_grads
    if is_grads_batched:
        from engine.autograd.batched import run_backward_batched  # noqa: PLC0415

        res = run_backward_batched(outputs, gos, retain_graph, create_graph, inputs, allow_unused)
    else:
        res = run_backward(outputs, gos, retain_graph, create_graph, inputs=inputs, accumulate=False,
                           allow_unused=allow_unused)
    if materialize_grads:
        from engine.ops.factory import zeros_like  # noqa: PLC0415

        res = [zeros_like(x) if r is None else r for x, r in zip(inputs, res)]
    return tuple(res)


from engine.autograd import function  # noqa: E402, F401
from engine.autograd.function import Function, once_differentiable  # noqa: E402, F401 - torch.autograd's names
from engine.autograd.graph import GradientEdge  # noqa: E402 - autograd.grad takes them as inputs

_loop.GradientEdge = GradientEdge  # (run_backward takes them as inputs too)
