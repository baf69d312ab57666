"""optim.Adam and optim.AdamW (amsgrad, maximize, decoupled weight decay): torch's _single_tensor_adam."""
from __future__ import annotations

import numpy as np

from engine import _backend as B
from engine.optim import _kernels as K
from engine.optim._update import assign_
from engine.optim.optimizer import Optimizer, _value, bump, check_hyperparameters, check_non_negative, step_counter
from engine.tensor import Tensor


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False, fused=None, decoupled_weight_decay=False):
        check_hyperparameters(lr, ("epsilon value", eps))
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        check_non_negative(("weight_decay value", weight_decay))
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            raise ValueError("betas must be either both floats or both Tensors")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused, "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)

    def _update(self, p, grad, state, group):
        if len(state) == 0:
            state["step"] = step_counter()
            state["exp_avg"] = Tensor._make(B.xp.zeros_like(p._data))
            state["exp_avg_sq"] = Tensor._make(B.xp.zeros_like(p._data))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = Tensor._make(B.xp.zeros_like(p._data))
        beta1, beta2 = (_value(b) for b in group["betas"])
        lr, weight_decay, eps = _value(group["lr"]), group["weight_decay"], group["eps"]
        g = grad if not group["maximize"] else -grad
        step = bump(state["step"])
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                assign_(p, K.mul(p._data, 1 - lr * weight_decay))
            else:
                g = K.add(g, p._data, weight_decay)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        assign_(exp_avg, K.lerp(exp_avg._data, g, 1 - beta1))
        assign_(exp_avg_sq, K.addcmul(K.mul(exp_avg_sq._data, beta2), g, g, 1 - beta2))
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        if group["amsgrad"]:
            m = state["max_exp_avg_sq"]
            assign_(m, np.maximum(m._data, exp_avg_sq._data))
            v = m._data
        else:
            v = exp_avg_sq._data
        denom = K.add_scalar(K.div(np.sqrt(v), bias_correction2_sqrt), eps)
        assign_(p, K.addcdiv(p._data, exp_avg._data, denom, -step_size))


class AdamW(Adam):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
