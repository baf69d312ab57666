"""The backward hooks on tensors and nodes (tensor hooks, retain_grad, node pre/post hooks, AccumulateGrad), their
order, what they may return, their handles, under autograd.grad, create_graph and in-place changes, against live
torch 2.13. (Saved-tensor hooks: test_hooks_saved.py.)

Each test runs one function on both modules (`m` is torch or engine) and compares what it returns, logs, raises or
warns (tests/engine/hooks_both.py).
"""
from __future__ import annotations

import pytest

from tests.engine.hooks_both import Scale, same

# ----- backward hooks: tensors, retain_grad, nodes, AccumulateGrad -----


def _logger(log, tag, ret=None):
    """A hook that logs its tag and the values it is given (tensors as lists, tuples of them, None)."""

    def show(x):
        if isinstance(x, tuple):
            return tuple(show(i) for i in x)
        return None if x is None else x.detach().numpy().round(4).tolist()

    def hook(*args):
        log.append((tag, *[show(a) for a in args]))
        return ret(*args) if ret is not None else None

    hook.__name__ = tag
    return hook


def test_the_order_torch_runs_every_kind_of_hook_in():
    def f(m):
        log = []
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        z = y * 3
        y.grad_fn.register_prehook(_logger(log, "node_pre", lambda g: (g[0] * 10,)))
        y.register_hook(_logger(log, "t1", lambda g: g + 1))
        y.retain_grad()
        y.register_hook(_logger(log, "t2"))
        y.grad_fn.register_hook(_logger(log, "node_post"))
        x.register_hook(_logger(log, "leaf"))
        acc = y.grad_fn.next_functions[0][0]
        acc.register_prehook(_logger(log, "acc_pre"))
        acc.register_hook(_logger(log, "acc_post"))
        x.register_post_accumulate_grad_hook(_logger(log, "post_acc"))
        z.sum().backward()
        return log, y.grad, x.grad
    log = same(f)[1][0]
    assert [e[0] for e in log] == ["t1", "t2", "node_pre", "node_post", "leaf", "acc_pre", "post_acc", "acc_post"]


def test_tensor_hooks_run_grouped_per_tensor_and_see_none_where_no_gradient_arrives():
    def f(m):
        log = []
        x = m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        a, b = x.split(2)
        b.register_hook(_logger(log, "b1"))
        a.register_hook(_logger(log, "a1", lambda g: g * 2))
        b.register_hook(_logger(log, "b2"))
        a.register_hook(_logger(log, "a2"))
        a.grad_fn.register_prehook(_logger(log, "pre"))
        a.grad_fn.register_hook(_logger(log, "post"))
        (a * a).sum().backward()
        return log, x.grad
    assert [e[0] for e in same(f)[1][0]] == ["b1", "b2", "a1", "a2", "pre", "post"]


@pytest.mark.parametrize("case", [
    "tensor-int", "tensor-double", "tensor-smaller", "tensor-lambda-name", "pre-tensor", "pre-two", "pre-list",
    "post-fills-none", "post-short", "post-zero", "post-same", "post-acc-self", "post-acc-other", "post-acc-int",
    "none-replaced", "post-acc-non-leaf", "post-acc-no-grad", "hook-no-grad",
])
def test_what_a_hook_may_return(case):
    def named(fn, name):
        fn.__name__ = name
        return fn

    def f(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        z = (y * 3).sum()
        if case == "tensor-int":
            y.register_hook(named(lambda g: 3, "h"))
        if case == "tensor-double":
            y.register_hook(named(lambda g: g.double(), "h"))
        if case == "tensor-smaller":
            y.register_hook(named(lambda g: g[:2], "h"))
        if case == "tensor-lambda-name":
            y.register_hook(lambda g: g[:2])
        if case == "pre-tensor":
            y.grad_fn.register_prehook(named(lambda g: g[0], "h"))
        if case == "pre-two":
            y.grad_fn.register_prehook(named(lambda g: (g[0], g[0]), "h"))
        if case == "pre-list":
            y.grad_fn.register_prehook(named(lambda g: [g[0]], "h"))
        if case == "post-fills-none":
            y.grad_fn.register_hook(named(lambda gi, go: (gi[0], go[0]), "h"))
        if case == "post-short":
            y.grad_fn.register_hook(named(lambda gi, go: (gi[0] * 0,), "h"))
        if case == "post-zero":
            y.grad_fn.register_hook(named(lambda gi, go: (gi[0] * 0, None), "h"))
        if case == "post-same":
            y.grad_fn.register_hook(named(lambda gi, go: gi, "h"))
        if case == "post-acc-self":
            x.register_post_accumulate_grad_hook(named(lambda t: t, "h"))
        if case == "post-acc-other":
            x.register_post_accumulate_grad_hook(named(lambda t: t * 2, "h"))
        if case == "post-acc-int":
            x.register_post_accumulate_grad_hook(named(lambda t: 5, "h"))
        if case == "none-replaced":
            a, b = x.split([2, 1])
            b.register_hook(lambda g: m.ones(1))
            z = a.sum()
        if case == "post-acc-non-leaf":
            y.register_post_accumulate_grad_hook(lambda t: None)
        if case == "post-acc-no-grad":
            m.ones(2).register_post_accumulate_grad_hook(lambda t: None)
        if case == "hook-no-grad":
            m.ones(2).register_hook(lambda t: None)
        z.backward()
        return x.grad
    same(f)


def test_handles_remove_hooks():
    def f(m):
        log = []
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        h1 = y.register_hook(_logger(log, "t", lambda g: g * 10))
        h2 = y.grad_fn.register_prehook(_logger(log, "pre"))
        h3 = y.grad_fn.register_hook(_logger(log, "post"))
        h4 = x.register_post_accumulate_grad_hook(_logger(log, "acc"))
        h5 = x.register_hook(_logger(log, "leaf"))
        out = [type(h).__name__ for h in (h1, h2, h3, h4, h5)]
        (y.sum()).backward(retain_graph=True)
        for h in (h1, h2, h3, h4):
            h.remove()
        h1.remove()  # twice: nothing happens
        with h5:
            pass
        y.sum().backward()
        return out, log, x.grad
    same(f)


def _capture_graph(m, log):
    x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    z = (y * 3).sum()
    y.register_hook(_logger(log, "t", lambda g: g + 100))
    y.grad_fn.register_prehook(_logger(log, "pre"))
    y.grad_fn.register_hook(_logger(log, "post"))
    y.retain_grad()
    x.register_hook(_logger(log, "leaf", lambda g: g + 1000))
    x.register_post_accumulate_grad_hook(_logger(log, "post_acc"))
    return x, y, z


@pytest.mark.parametrize("call", ["grad-y", "grad-y-x", "grad-x", "backward-inputs-y", "backward-inputs-x",
                                  "grad-edge-y"])
def test_hooks_where_autograd_grad_captures(call):
    # autograd.grad captures at a node it does not execute after the tensor hooks (its pre/post hooks never run),
    # at a node it executes before them; backward(inputs=) retains a non-leaf's grad
    def f(m):
        log = []
        x, y, z = _capture_graph(m, log)
        if call == "grad-y":
            out = m.autograd.grad(z, y)
        if call == "grad-y-x":
            out = m.autograd.grad(z, [y, x])
        if call == "grad-x":
            out = m.autograd.grad(z, [x])
        if call == "backward-inputs-y":
            z.backward(inputs=[y])
            out = y.retains_grad
        if call == "backward-inputs-x":
            z.backward(inputs=[x])
            out = None
        if call == "grad-edge-y":
            out = m.autograd.grad(z, m.autograd.graph.get_gradient_edge(y))
        return out, [e[0] for e in log], y.grad, x.grad
    same(f)


def test_hooks_under_create_graph_see_differentiable_gradients():
    def f(m):
        seen = []
        x = m.tensor([0.5, -1.0], requires_grad=True)
        y = x.sin() * x
        y.register_hook(lambda g: seen.append((g.requires_grad, type(g.grad_fn).__name__ if g.grad_fn else None)))
        y.grad_fn.register_hook(lambda gi, go: seen.append(tuple(g.requires_grad for g in gi if g is not None)))
        (g,) = m.autograd.grad(y.sum() * y.sum(), x, create_graph=True)
        g.sum().backward()
        return seen, g, x.grad
    same(f)


def test_hooks_and_in_place_changes():
    # a hook registered before an in-place change sees the gradient of the old value; one registered after, of the
    # new one; retain_grad moves to the new history
    def f(m):
        log = []
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.register_hook(_logger(log, "before"))
        y.retain_grad()
        y.mul_(3)
        y.register_hook(_logger(log, "after"))
        (y * y).sum().backward()
        return log, y.grad, x.grad
    same(f)


def test_node_hooks_on_a_custom_function():
    def f(m):
        log = []
        a = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        o = Scale.make(m).apply(a, m.tensor([0.5, -1.0, 2.0]))
        o.grad_fn.register_prehook(_logger(log, "pre", lambda g: (g[0] * 2,)))
        o.grad_fn.register_hook(_logger(log, "post"))
        o.register_hook(_logger(log, "t"))
        o.sum().backward()
        return log, a.grad
    same(f)


def test_hooks_on_a_leaf_survive_its_accumulator_being_unused():
    def f(m):
        log = []
        x = m.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(_logger(log, "leaf", lambda g: g * 3))
        x.register_post_accumulate_grad_hook(_logger(log, "acc"))
        for _ in range(2):
            (x * x).sum().backward()
        return log, x.grad
    same(f)
