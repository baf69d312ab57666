"""optim.Adagrad (lr decay, weight decay, initial accumulator, maximize): torch's _single_tensor_adagrad."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.optim import _kernels as K
from engine.optim._update import assign_
from engine.optim.optimizer import Optimizer, _value, bump, check_hyperparameters, step_counter
from engine.tensor import Tensor


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_hyperparameters(lr, ("lr_decay value", lr_decay), ("weight_decay value", weight_decay),
                              ("initial_accumulator_value value", initial_accumulator_value), ("epsilon value", eps))
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        for group in self.param_groups:  # torch makes Adagrad's state at construction
            for p in group["params"]:
                state = self.state[p]
                state["step"] = step_counter()
                state["sum"] = Tensor._make(B.xp.full(p._data.shape, initial_accumulator_value, dtype=p._data.dtype))

    def _update(self, p, grad, state, group):
        lr, weight_decay, lr_decay, eps = _value(group["lr"]), group["weight_decay"], group["lr_decay"], group["eps"]
        step = bump(state["step"])
        g = grad if not group["maximize"] else -grad
        if weight_decay != 0:
            g = K.add(g, p._data, weight_decay)
        clr = lr / (1 + (step - 1) * lr_decay)
        state_sum = state["sum"]
        assign_(state_sum, K.addcmul(state_sum._data, g, g, 1))
        std = K.add_scalar(np.sqrt(state_sum._data), eps)
        assign_(p, K.addcdiv(p._data, g, std, -clr))
