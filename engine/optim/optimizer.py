"""optim.Optimizer: param_groups, per-parameter state, zero_grad, state_dict/load_state_dict (torch/optim/optimizer.py).

Optimizers compute their updates on arrays with torch's CPU kernels (engine/optim/_kernels.py), in the order
of torch's single-tensor (foreach=False) code path, and write results into the parameters and state tensors
in place through engine/optim/_update.assign_. The engine has that one implementation: foreach=True and
fused=True run it too (torch's foreach and fused kernels differ from it in the last bits at most).
"""
from __future__ import annotations

import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from copy import deepcopy
from itertools import chain

from engine import dtypes as D
from engine._hooks import RemovableHandle
from engine.errors import TorchNotImplementedError, TorchTypeError
from engine.optim._update import assign_, zero_grad_
from engine.tensor import Tensor, tensor


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(x):
    if isinstance(x, Tensor):
        return x.type()
    mod = type(x).__module__
    return type(x).__qualname__ if mod == "builtins" else f"{mod}.{type(x).__qualname__}"


def _scalar_dtype():
    """torch's _get_scalar_dtype(): the dtype of `step` counters."""
    return D.float64 if D.default_float is D.float64 else D.float32


def check_hyperparameters(lr, *named):
    """torch's constructor checks, in its order: a Tensor lr has one element; then lr and each (what, value) of
    `named` is >= 0 (NaN refused), else ValueError 'Invalid {what}: {value}'."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    check_non_negative(("learning rate", lr), *named)


def check_non_negative(*named):
    for what, value in named:
        if not 0.0 <= value:
            raise ValueError(f"Invalid {what}: {value}")


def _value(x):
    return x.item() if isinstance(x, Tensor) else x


def step_counter():
    return tensor(0.0, dtype=_scalar_dtype())


def bump(step_t):
    """step_t += 1, in place; returns its new value as a Python float (torch's _get_value)."""
    assign_(step_t, step_t._data + step_t._data.dtype.type(1))
    return step_t.item()


class Optimizer:
    """Base class of the optimizers."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        if isinstance(params, Tensor):
            raise TorchTypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                                 "but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)
        if defaults.get("differentiable"):
            raise TorchNotImplementedError("differentiable=True: the engine's optimizers update arrays in place and "
                                           "record no graph through the step")

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_optimizer_step_pre_hooks", OrderedDict())
        self.__dict__.setdefault("_optimizer_step_post_hooks", OrderedDict())
        self.defaults.setdefault("differentiable", False)

    def __repr__(self):
        format_string = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            format_string += "\n"
            format_string += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    format_string += f"    {key}: {group[key]}\n"
        return format_string + ")"

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TorchTypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TorchTypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                                 "of tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) == len(tensors):
                param_group["param_names"] = names
            else:
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TorchTypeError("optimizer can only optimize Tensors, but one of the params is "
                                     + _typename(param))
            if not self.defaults.get("differentiable", None) and not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        params = param_group["params"]
        if len(params) != len({id(p) for p in params}):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will cause "
                          "an error; see github.com/pytorch/pytorch/issues/40967 for more information", stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {txt} to the optimizer")
        if not seen.isdisjoint(id(p) for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True):
        zero_grad_((p for group in self.param_groups for p in group["params"]), set_to_none)

    # ----- state_dict -----

    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}; the state's tensors are
        the optimizer's own (not copies), as torch's are."""
        mappings = {}
        start = 0

        def pack_group(group):
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            mappings.update({id(p): i for i, p in enumerate(group["params"], start) if id(p) not in mappings})
            packed["params"] = [mappings[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(mappings[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": packed_state, "param_groups": param_groups}

    @staticmethod
    def _process_value(param, value, param_id, param_groups, key=None):
        fused = capturable = False
        for pg in param_groups:
            if param_id in pg["params"]:
                fused = pg.get("fused", False)
                capturable = pg.get("capturable", False)
                break
        if key == "step":
            return value.to(dtype=D.float32) if (capturable or fused) else value
        return value.to(dtype=param.dtype) if param.is_floating_point() else value

    def load_state_dict(self, state_dict):
        state_dict = state_dict.copy()
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's "
                             "group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param, value, param_id=None, param_groups=None, key=None):
            if isinstance(value, Tensor):
                return Optimizer._process_value(param, value, param_id, param_groups, key)
            if isinstance(value, dict):
                return {k: cast(param, v, param_id=param_id, param_groups=param_groups, key=k)
                        for k, v in value.items()}
            if isinstance(value, Iterable) and not isinstance(value, str):
                return type(value)(cast(param, v, param_id=param_id, param_groups=param_groups) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v, param_id=k, param_groups=state_dict["param_groups"])
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        self.__setstate__({"state": state,
                           "param_groups": [update_group(g, ng) for g, ng in zip(groups, saved_groups)]})

    # ----- stepping -----

    def register_step_pre_hook(self, hook):
        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook):
        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    def step(self, closure=None):
        """Run the closure (under enable_grad) if given, update every parameter that has a grad, and return
        the closure's loss."""
        from engine.autograd import enable_grad, no_grad  # noqa: PLC0415

        for hook in tuple(self._optimizer_step_pre_hooks.values()):
            hook(self, (), {})
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                if group.get("capturable"):
                    raise AssertionError("If capturable=True, params and state_steps must be on supported devices: "
                                         "['cuda', 'xpu', 'hpu', 'privateuseone', 'xla'].")
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    self._update(p, p.grad._data, self.state[p], group)
        self._opt_called = True
        for hook in tuple(self._optimizer_step_post_hooks.values()):
            hook(self, (), {})
        return loss

    def _update(self, p, grad, state, group):
        raise NotImplementedError
