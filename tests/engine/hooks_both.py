"""What tests/engine/test_hooks_saved.py and test_hooks_backward.py share: running one function on torch and on
the engine (`m` is torch or engine, written `import engine as torch` style) and comparing what it returns, logs,
raises or warns; the hooks' calls logged as descriptions of the tensors they see (shape, dtype, requires_grad,
leaf, grad_fn name, identity with the tensors the program holds)."""
from __future__ import annotations

import torch

import engine
from tests.engine.both import same as _same


def same(fn):
    """fn(torch) and fn(engine) agree (hook results compared at float32 tolerance)."""
    return _same(fn, rtol=1e-5, atol=1e-6)


def desc(x, known=None):
    """What a hook saw: its shape, dtype, requires_grad, is_leaf, grad_fn name, and which named tensor it is."""
    if not isinstance(x, torch.Tensor | engine.Tensor):
        return ("object", type(x).__name__)
    same_as = [k for k, v in (known or {}).items() if v is x]
    fn = x.grad_fn
    return (tuple(x.shape), str(x.dtype), x.requires_grad, x.is_leaf, type(fn).__name__ if fn else None, same_as)


def graph_mod(m):
    return m.autograd.graph


class Recorder:
    """A pack/unpack pair that logs what it sees; `known` names the program's tensors for identity checks."""

    def __init__(self, m, keep=lambda x: x, give=lambda p: p):
        self.m, self.log, self.known = m, [], {}
        self.keep, self.give = keep, give

    def pack(self, x):
        self.log.append(("pack", *desc(x, self.known), self.m.is_grad_enabled()))
        return self.keep(x)

    def unpack(self, p):
        out = self.give(p)
        self.log.append(("unpack", *desc(out, self.known), self.m.is_grad_enabled()))
        return out

    def hooks(self):
        return graph_mod(self.m).saved_tensors_hooks(self.pack, self.unpack)


class Scale:
    """A custom Function that saves an input, its output, None and a constant (built per framework)."""

    @staticmethod
    def make(m):
        class Scale(m.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                out = x * y
                ctx.save_for_backward(x, out, None, y)
                return out

            @staticmethod
            def backward(ctx, g):
                x, out, none, y = ctx.saved_tensors
                return g * y + out * 0, g * x

        return Scale
