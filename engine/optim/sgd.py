"""optim.SGD: torch's _single_tensor_sgd, operation by operation."""
from __future__ import annotations

from engine.optim import _kernels as K
from engine.optim._update import assign_
from engine.optim.optimizer import Optimizer, _value
from engine.tensor import Tensor


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False,
                 foreach=None, differentiable=False, fused=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach, "differentiable": differentiable,
                    "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def _update(self, p, grad, state, group):
        lr, momentum, dampening = _value(group["lr"]), group["momentum"], group["dampening"]
        weight_decay = _value(group["weight_decay"])
        g = grad if not group["maximize"] else -grad
        if weight_decay != 0:
            g = K.add(g, p._data, weight_decay)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = Tensor._make(g.copy())
            else:
                assign_(buf, K.add(K.mul(buf._data, momentum), g, 1 - dampening))
            g = K.add(g, buf._data, momentum) if group["nesterov"] else buf._data
        assign_(p, K.add(p._data, g, -lr))
