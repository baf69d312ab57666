"""nn.Module's full backward hooks and pre-hooks, and the custom-Function views they rest on, against live torch 2.13.

Each program runs on both modules (`m` is torch or engine) and returns a log of what the hooks saw (gradients as
rounded lists), the nodes the module's output has, warnings, and the gradients that arrive; or the error raised.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import engine


def vals(x):
    if x is None:
        return None
    if isinstance(x, tuple | list):
        return tuple(vals(i) for i in x)
    return np.round(x.detach().numpy().astype(np.float64), 9).tolist()


def builtin_name(e):
    return next(c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins")


def same(prog, *args):
    out = []
    for m in (torch, engine):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = ("ok", prog(m, *args))
            except Exception as e:  # noqa: BLE001
                res = ("raise", builtin_name(e), str(e))
        out.append((res, [str(w.message) for w in caught if "backward hook" in str(w.message).lower()]))
    assert out[1] == out[0], f"\nengine: {out[1]}\ntorch:  {out[0]}"
    return out[0]


def _linear(m):
    lin = m.nn.Linear(3, 2).double()
    with m.no_grad():
        lin.weight.copy_(m.tensor([[0.1, -0.2, 0.3], [0.5, 0.4, -0.6]], dtype=m.float64))
        lin.bias.copy_(m.tensor([0.01, -0.02], dtype=m.float64))
    return lin


CASES = ["plain", "pre returns", "hook returns", "no input requires grad", "hook returns too many", "removed",
         "prepend", "in-place on the output", "both kinds"]


@pytest.mark.parametrize("case", CASES)
def test_full_backward_hooks_on_a_linear(case):
    def prog(m):
        log = []
        lin = _linear(m)
        x = m.tensor([[1.0, 2.0, -1.0]], dtype=m.float64, requires_grad=case != "no input requires grad")

        def pre(mod, go):
            log.append(("pre", type(mod).__name__, vals(go)))
            return (go[0] * 10,) if case == "pre returns" else None

        def post(mod, gi, go):
            log.append(("post", type(mod).__name__, vals(gi), vals(go)))
            return (gi[0] * 3,) if case == "hook returns" else None

        handles = [lin.register_full_backward_pre_hook(pre), lin.register_full_backward_hook(post)]
        if case == "prepend":
            lin.register_full_backward_hook(lambda mod, gi, go: log.append("first"), prepend=True)
            lin.register_full_backward_pre_hook(lambda mod, go: log.append("first pre"), prepend=True)
        if case == "hook returns too many":
            lin.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
        if case == "removed":
            for h in handles:
                h.remove()
        if case == "both kinds":
            lin.register_backward_hook(post)
        y = lin(x)
        log.append((type(y.grad_fn).__name__, y.grad_fn.name(), y._is_view(),
                    [f.name() if f else None for f, _ in y.grad_fn.next_functions]))
        if case == "in-place on the output":
            y.relu_()
        (y * m.tensor([[1.0, -2.0]], dtype=m.float64)).sum().backward()
        log.append(("grads", vals(x.grad), vals(lin.weight.grad), vals(lin.bias.grad)))
        return log

    same(prog)


def test_hooks_through_a_sequential_with_several_inputs_and_outputs():
    """Hooks on nested modules run in the backward's order; non-tensor arguments are None in the tuples; a tuple
    output's gradients arrive together; an input that needs no grad has None."""

    class Two(torch.nn.Module):
        def forward(self, a, k, b):
            return a * k + b, (a - b) * 2

    def prog(m):
        log = []
        two = Two() if m is torch else type("Two", (engine.nn.Module,), {"forward": Two.forward})()
        seq = m.nn.Sequential(_linear(m), m.nn.Tanh())
        for name, mod in [("seq", seq), ("lin", seq[0]), ("tanh", seq[1]), ("two", two)]:
            mod.register_full_backward_pre_hook(lambda mod, go, n=name: log.append((n, "pre", vals(go))))
            mod.register_full_backward_hook(lambda mod, gi, go, n=name: log.append((n, "post", vals(gi), vals(go))))
        x = m.tensor([[1.0, 2.0, -1.0]], dtype=m.float64, requires_grad=True)
        c = m.tensor([[0.5, 0.25]], dtype=m.float64)
        h = seq(x)
        p, q = two(h, 3.0, c)
        (p.sum() + (q * q).sum()).backward()
        log.append(vals(x.grad))
        return log

    same(prog)


def test_custom_function_outputs_are_views_of_what_they_return():
    """An input returned as-is, or a view made in forward, is a view (torch's IN_CUSTOM_FUNCTION): in-place changes
    of it are refused with torch's message, where it requires grad; a non-differentiable one stays so."""

    def prog(m):
        class Id(m.autograd.Function):
            @staticmethod
            def forward(ctx, *a):
                ctx.mark_non_differentiable(*[x for x in a if not x.requires_grad])
                return a

            @staticmethod
            def backward(ctx, *g):
                return g

        class Tail(m.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                return a[1:]

            @staticmethod
            def backward(ctx, g):
                return m.cat([m.zeros(1, dtype=g.dtype), g])

        out = []
        x = m.ones(3, requires_grad=True) * 2
        w = m.ones(3)
        y, v = Id.apply(x, w)
        out.append((y._base is x, v._base is w, v.requires_grad, v.grad_fn is None, y._is_view()))
        leaf = m.ones(3, requires_grad=True)
        (yl,) = Id.apply(leaf)
        z = Tail.apply(x)
        for name, fn in [("y", lambda: y.add_(1)), ("v", lambda: v.add_(1)), ("yl", lambda: yl.add_(1)),
                         ("z", lambda: z.mul_(2))]:
            try:
                fn()
                out.append((name, "ok"))
            except RuntimeError as e:
                out.append((name, str(e)))
        (yl * 3).sum().backward()
        (z * 3).sum().backward()
        out.append((vals(leaf.grad), z.grad_fn.name()))
        return out

    same(prog)


VIEW_CASES = {
    "one of several views of a leaf": lambda m, x, w: x.unbind()[0].add_(1),
    "a no_grad view of a leaf": lambda m, x, w: _no_grad_view(m, x).add_(1),
    "a no_grad view written with a tensor that requires grad": lambda m, x, w: _no_grad_view(m, w).add_(x[0]),
    "a no_grad view written with a constant": lambda m, x, w: _no_grad_view(m, w).add_(1),
    "a no_grad view of an integer tensor": lambda m, x, w: _no_grad_view(m, m.arange(3)).add_(1),
    "a view of a leaf": lambda m, x, w: x[0].add_(1),
}


def _no_grad_view(m, t):
    with m.no_grad():
        return t[0]


@pytest.mark.parametrize("case", list(VIEW_CASES))
def test_in_place_checks_on_views_in_torchs_order(case):
    """torch's check_inplace: the view's own checks (handle_view_on_rebase: several views, a no_grad view, a
    custom Function's) come before the view-of-a-leaf check; a no_grad view of a tensor that needs no grad is
    refused once an input that requires grad writes it."""

    def prog(m):
        x = m.ones(2, 3, requires_grad=True)
        w = m.ones(2, 3)
        out = VIEW_CASES[case](m, x, w)
        return vals(out)

    same(prog)
