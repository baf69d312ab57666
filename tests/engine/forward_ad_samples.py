"""The op table's samples (tests/engine/samples/*.py) under forward-mode AD, in the engine and in torch 2.13.

Shared by tests/engine/test_forward_ad_ops.py (a fixed subset in `make test`, every sample in
`make test-full`). For a sample, every floating argument that requires grad in test_ops.py becomes a dual tensor
(make_dual with a seeded random tangent) inside a dual level, the call runs in both frameworks, and each output's
tangent (unpack_dual) is returned with its value; `fwd_over_rev` differentiates a weighted sum of the outputs with
autograd.grad(create_graph=True) inside the level and returns the gradients' tangents (the Hessian times the
tangents: the backward formulas' forward formulas); `batched_rows` runs the engine under a batched level (two
tangents at once) and returns the batched tangents with the rows run one at a time, which must agree.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch

import engine
from tests.engine.test_ops import Arr, call, flatten, is_tensor, materialize, to_np


def tangents_for(spec, rng, batch=None):
    """A random tangent per floating Arr that requires grad (keyed by id), of its dtype (batch rows in front)."""
    out = {}
    stack = [spec]
    while stack:
        x = stack.pop()
        if isinstance(x, Arr):
            if x.requires_grad and id(x) not in out:
                shape = x.array.shape if batch is None else (batch, *x.array.shape)
                out[id(x)] = rng.standard_normal(shape).astype(x.array.dtype)
        elif isinstance(x, tuple | list):
            stack.extend(reversed(x))
        elif isinstance(x, dict):
            stack.extend(reversed(list(x.values())))
    return out


def _tensor(mod, arr, requires_grad=False):
    if mod is torch:
        t = torch.from_numpy(np.array(arr, copy=True))
        return t.requires_grad_(True) if requires_grad else t
    return engine.tensor(np.array(arr, copy=True), requires_grad=requires_grad)


def build_dual(mod, spec, tangents, leaves, requires_grad=False):
    """Framework values of a materialized spec, each Arr that has a tangent made dual (its leaf, requiring grad
    where requires_grad, appended to leaves)."""
    fwad = mod.autograd.forward_ad
    if isinstance(spec, Arr):
        t = _tensor(mod, spec.array, requires_grad and spec.requires_grad)
        if id(spec) in tangents:
            leaves.append(t)
            return fwad.make_dual(t, _tensor(mod, tangents[id(spec)]))
        return t
    if isinstance(spec, tuple):
        return tuple(build_dual(mod, i, tangents, leaves, requires_grad) for i in spec)
    if isinstance(spec, list):
        return [build_dual(mod, i, tangents, leaves, requires_grad) for i in spec]
    if isinstance(spec, dict):
        return {k: (getattr(mod, v) if k == "dtype" and isinstance(v, str) else
                    build_dual(mod, v, tangents, leaves, requires_grad)) for k, v in spec.items()}
    return spec


class _Fw:
    def __init__(self, mod):
        self.mod = mod
        self.F = mod.nn.functional


def _tangent(mod, t):
    tan = mod.autograd.forward_ad.unpack_dual(t).tangent
    return None if tan is None else to_np(tan).copy()


def _call_dual(mod, sample, spec_args, spec_kwargs, tangents, leaves, requires_grad=False):
    """The sample called on its arguments made dual (inside the caller's level)."""
    args = build_dual(mod, spec_args, tangents, leaves, requires_grad)
    kwargs = build_dual(mod, spec_kwargs, tangents, leaves, requires_grad)
    return call(_Fw(mod), sample, args, kwargs)


@contextlib.contextmanager
def _quiet_dual_level(mod):
    """A dual level of mod's forward_ad, warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with mod.autograd.forward_ad.dual_level():
            yield


def forward(mod, sample, spec_args, spec_kwargs, tangents):
    """[(value, tangent or None)] per tensor output, or ("raise", exception)."""
    with _quiet_dual_level(mod):
        leaves = []
        try:
            out = _call_dual(mod, sample, spec_args, spec_kwargs, tangents, leaves)
            return [(to_np(o).copy(), _tangent(mod, o)) for o in flatten(out) if is_tensor(o)]
        except Exception as e:  # noqa: BLE001 - compared with the other framework's outcome
            return ("raise", e)


def fwd_over_rev(mod, sample, spec_args, spec_kwargs, tangents, weights_seed):
    """The tangents of autograd.grad(sum(out * w), leaves, create_graph=True) under the level (None per leaf
    whose gradient has none), or None where nothing is differentiable, or ("raise", exception)."""
    with _quiet_dual_level(mod):
        leaves = []
        try:
            out = _call_dual(mod, sample, spec_args, spec_kwargs, tangents, leaves, requires_grad=True)
            outs = [o for o in flatten(out) if is_tensor(o) and o.requires_grad and o.dtype.is_floating_point]
            if not outs or not leaves:
                return None
            rng = np.random.default_rng(weights_seed)
            loss = None
            for o in outs:
                w = _tensor(mod, rng.standard_normal(tuple(o.shape)).astype(to_np(o).dtype))
                term = (o * w).sum()
                loss = term if loss is None else loss + term
            grads = mod.autograd.grad(loss, leaves, create_graph=True, allow_unused=True)
            return [None if g is None else _tangent(mod, g) for g in grads]
        except Exception as e:  # noqa: BLE001
            return ("raise", e)


def batched_rows(sample, spec_args, spec_kwargs, batched_tangents):
    """The engine's tangents under a batched level of two rows, and the same rows one level each."""
    from engine.autograd import forward_ad as fwad  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fwad._batched_level(2):
            out = _call_dual(engine, sample, spec_args, spec_kwargs, batched_tangents, [])
            together = [_tangent(engine, o) for o in flatten(out) if is_tensor(o)]
        rows = []
        for b in range(2):
            row = {k: v[b] for k, v in batched_tangents.items()}
            with fwad.dual_level():
                out = _call_dual(engine, sample, spec_args, spec_kwargs, row, [])
                rows.append([_tangent(engine, o) for o in flatten(out) if is_tensor(o)])
    return together, rows


def materialized(sample, seed, dtype):
    rng = np.random.default_rng(seed)
    return materialize(tuple(sample.args), rng, dtype), materialize(dict(sample.kwargs), rng, dtype)
