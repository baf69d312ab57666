"""optim.RMSprop (centered, momentum, weight decay, maximize): torch's _single_tensor_rmsprop."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.optim import _kernels as K
from engine.optim._update import assign_
from engine.optim.optimizer import Optimizer, _value, bump, check_hyperparameters, step_counter
from engine.tensor import Tensor


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_hyperparameters(lr, ("epsilon value", eps), ("momentum value", momentum),
                              ("weight_decay value", weight_decay), ("alpha value", alpha))
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, p, grad, state, group):
        if len(state) == 0:
            state["step"] = step_counter()
            state["square_avg"] = Tensor._make(B.xp.zeros_like(p._data))
            if group["momentum"] > 0:
                state["momentum_buffer"] = Tensor._make(B.xp.zeros_like(p._data))
            if group["centered"]:
                state["grad_avg"] = Tensor._make(B.xp.zeros_like(p._data))
        lr, alpha, eps = _value(group["lr"]), group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        g = grad if not group["maximize"] else -grad
        bump(state["step"])
        if weight_decay != 0:
            g = K.add(g, p._data, weight_decay)
        square_avg = state["square_avg"]
        assign_(square_avg, K.addcmul(K.mul(square_avg._data, alpha), g, g, 1 - alpha))
        if group["centered"]:
            grad_avg = state["grad_avg"]
            assign_(grad_avg, K.lerp(grad_avg._data, g, 1 - alpha))
            with np.errstate(invalid="ignore"):
                avg = np.sqrt(K.addcmul(square_avg._data, grad_avg._data, grad_avg._data, -1))
        else:
            avg = np.sqrt(square_avg._data)
        avg = K.add_scalar(avg, eps)
        if momentum > 0:
            buf = state["momentum_buffer"]
            assign_(buf, K.addcdiv(K.mul(buf._data, momentum), g, avg))
            assign_(p, K.add(p._data, buf._data, -lr))
        else:
            assign_(p, K.addcdiv(p._data, g, avg, -lr))
