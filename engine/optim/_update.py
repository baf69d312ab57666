"""The one place where optimizers, nn.init and Module.load_state_dict write into a tensor's storage.

torch updates parameters in place (`param.add_(...)` under no_grad): the same Tensor object, the same
storage, so every reference (a Module's attribute, an optimizer's param_groups, a view) sees the new values.
Until the engine has in-place ops with version counters (issue 15), these helpers do that write directly;
they are the single place to route through the version counter later.
"""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.autograd import no_grad


def assign_(tensor, array):
    """Write `array` (broadcast and cast to the tensor's dtype) into `tensor`'s own array, in place: the
    same object and the same storage. Returns `tensor`."""
    with no_grad():
        data = tensor._data
        if B.xp is not np and not isinstance(array, B.xp.ndarray) and not isinstance(data, np.ndarray):
            array = B.xp.asarray(array)  # a host array into a device tensor
        if hasattr(array, "dtype") and array.dtype != data.dtype:
            array = array.astype(data.dtype)
        data[...] = array
    return tensor


def zero_grad_(params, set_to_none=True):
    """Module.zero_grad's and Optimizer.zero_grad's rule, as torch's: each gradient dropped (set_to_none), or
    detached from its graph and zeroed in place."""
    for p in params:
        if p.grad is not None:
            if set_to_none:
                p.grad = None
            else:
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad_(False)
                p.grad.zero_()


def set_data(tensor, array):
    """torch's `tensor.data = new`: the tensor object keeps its identity (and autograd identity) and takes
    a new array, possibly of another dtype or device (Module.double(), Module.to(device))."""
    tensor._data = array
    return tensor
