"""The engine's autograd semantics against live torch 2.13, continued (test_autograd.py): autograd.grad's options
(allow_unused, materialize_grads, grad_outputs, create_graph and higher derivatives), tensor hooks, and
backward(inputs=).

Most tests run one function on both modules (`m` is torch or engine) and compare what they return, raise or warn
(tests/engine/autograd_both.py).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import engine
from tests.engine.autograd_both import (
    TORCH_ONCE_WARNINGS,
    arr,
    assert_close,
    assert_raises_like_torch,
    leaf,
    recorded_warnings,
)

# ----- autograd.grad -----


def test_autograd_grad_basic_does_not_accumulate():
    def fn(m):
        x = leaf(m)
        (g,) = m.autograd.grad((x * x).sum(), x)
        return g, x.grad, g.requires_grad

    t, e = fn(torch), fn(engine)
    assert_close(e[0], t[0])
    assert e[1] is None and t[1] is None
    assert e[2] == t[2]


def test_autograd_grad_unused_input_fails():
    def fn(m):
        x, w = leaf(m), leaf(m, [1.0, 2.0])
        m.autograd.grad((x * 2).sum(), [x, w])

    assert_raises_like_torch(fn)


def test_autograd_grad_unused_first_input_fails():
    def fn(m):
        x, w = leaf(m), leaf(m, [1.0, 2.0])
        m.autograd.grad((x * 2).sum(), [w, x])

    assert_raises_like_torch(fn)


def test_autograd_grad_allow_unused():
    def fn(m):
        x, w = leaf(m), leaf(m, [1.0, 2.0])
        return m.autograd.grad((x * x).sum(), [x, w], allow_unused=True)

    t, e = fn(torch), fn(engine)
    assert_close(e[0], t[0])
    assert e[1] is None and t[1] is None


def test_autograd_grad_materialize_grads():
    def fn(m):
        x, w = leaf(m), leaf(m, [1.0, 2.0])
        return m.autograd.grad((x * x).sum(), [x, w], materialize_grads=True)

    t, e = fn(torch), fn(engine)
    assert_close(e[0], t[0])
    assert_close(e[1], t[1])


def test_autograd_grad_grad_outputs():
    def fn(m):
        x = leaf(m)
        y = x.exp()
        return m.autograd.grad(y, x, grad_outputs=m.tensor([1.0, -1.0, 0.25], dtype=m.float64))

    assert_close(fn(engine)[0], fn(torch)[0])


def test_autograd_grad_several_outputs_and_inputs():
    def fn(m):
        x, w = leaf(m), leaf(m, [0.5, 1.0, -1.5])
        a, b = x * w, (x + w).sin()
        return m.autograd.grad([a, b], [w, x], grad_outputs=[m.ones(3, dtype=m.float64),
                                                             m.full((3,), 2.0, dtype=m.float64)])

    t, e = fn(torch), fn(engine)
    for ei, ti in zip(e, t):
        assert_close(ei, ti)


def test_autograd_grad_grad_outputs_count_mismatch():
    def fn(m):
        x = leaf(m)
        m.autograd.grad([x * 2, x * 3], x, grad_outputs=[m.ones(3, dtype=m.float64)])

    assert_raises_like_torch(fn)


def test_autograd_grad_input_not_requiring_grad():
    def fn(m):
        x = leaf(m)
        c = m.ones(3, dtype=m.float64)
        m.autograd.grad((x * c).sum(), c)

    assert_raises_like_torch(fn)


@pytest.mark.parametrize("build", [
    lambda x: (x * x * x).sum(),
    lambda x: x.exp().sin().sum(),
    lambda x: (x / (x * x + 1)).sum(),
    lambda x: (x.pow(3) - 2 * x).mean(),
    lambda x: x.tanh().sum(),
], ids=["cube", "exp-sin", "rational", "pow-mean", "tanh"])
def test_autograd_grad_create_graph_second_derivative(build):
    def fn(m):
        x = leaf(m)
        (g,) = m.autograd.grad(build(x), x, create_graph=True)
        (h,) = m.autograd.grad(g.sum(), x)
        return g, h, g.requires_grad, g.grad_fn is not None

    t, e = fn(torch), fn(engine)
    assert_close(e[0], t[0])
    assert_close(e[1], t[1])
    assert e[2:] == t[2:]


def test_backward_create_graph_leaves_differentiable_grad():
    def fn(m):
        x = leaf(m)
        (x * x * x).sum().backward(create_graph=True)
        g = x.grad
        req = g.requires_grad
        x.grad = None
        g.sum().backward()
        return req, x.grad

    t, e = fn(torch), fn(engine)
    assert e[0] == t[0]
    assert_close(e[1], t[1])


def test_create_graph_then_third_derivative():
    def fn(m):
        x = leaf(m)
        y = (x ** 4).sum()
        (g1,) = m.autograd.grad(y, x, create_graph=True)
        (g2,) = m.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = m.autograd.grad(g2.sum(), x)
        return g1, g2, g3

    for ei, ti in zip(fn(engine), fn(torch)):
        assert_close(ei, ti)


def _grad_fn_tree(t):
    g = t.grad_fn
    if g is None:
        return None
    return (type(g).__name__, [type(n).__name__ if n is not None else None for n, _ in g.next_functions])


@pytest.mark.parametrize("build", [
    lambda x: (x * 2).sum(),
    lambda x: (x * x).sum(),
    lambda x: x.exp().sum(),
    lambda x: (x.exp() + x.sin()).sum(),
], ids=["linear", "square", "exp", "two-paths"])
def test_backward_create_graph_grad_history(build):
    """With create_graph, a leaf's first .grad is a copy (CopyBackwards), later ones an AddBackward0."""

    def fn(m):
        x = leaf(m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build(x).backward(create_graph=True)
            first = _grad_fn_tree(x.grad), x.grad.requires_grad, x.grad.is_leaf
            build(x).backward(create_graph=True)
            second = _grad_fn_tree(x.grad)
        return first, second, arr(x.grad)

    t, e = fn(torch), fn(engine)
    assert e[:2] == t[:2]
    np.testing.assert_allclose(e[2], t[2])


def test_backward_create_graph_warns():
    expected = TORCH_ONCE_WARNINGS["create_graph"]
    assert expected, "torch's create_graph warning was issued in this process before it could be captured"
    got = recorded_warnings(lambda m: (leaf(m) * leaf(m)).sum().backward(create_graph=True), engine)
    assert got == expected


def test_autograd_grad_create_graph_does_not_warn():
    assert recorded_warnings(lambda m: m.autograd.grad((leaf(m) ** 2).sum(), leaf(m), allow_unused=True,
                                                       create_graph=True), engine) == []


def test_autograd_grad_allow_unused_false_with_materialize_grads():
    def fn(m):
        x = leaf(m)
        m.autograd.grad((x * 2).sum(), x, allow_unused=False, materialize_grads=True)

    assert_raises_like_torch(fn)


def test_autograd_grad_inputs_empty():
    assert_raises_like_torch(lambda m: m.autograd.grad((leaf(m) * 2).sum(), []))


@pytest.mark.parametrize("gradient", [2.0, 1], ids=["float", "int"])
def test_backward_with_a_python_number_gradient(gradient):
    assert_raises_like_torch(lambda m: (leaf(m) * 2).sum().backward(gradient))


def test_autograd_backward_count_mismatch():
    def fn(m):
        x = leaf(m)
        m.autograd.backward([x * 2, x * 3], [m.ones(3, dtype=m.float64)])

    assert_raises_like_torch(fn)


# ----- hooks -----


def test_hook_on_leaf_replaces_gradient():
    def fn(m):
        x = leaf(m)
        seen = []
        x.register_hook(lambda g: seen.append(arr(g)) or g * 10)
        (x * x).sum().backward()
        return arr(x.grad), seen

    t, e = fn(torch), fn(engine)
    np.testing.assert_allclose(e[0], t[0])
    np.testing.assert_allclose(e[1], t[1])


def test_hook_on_non_leaf_and_retain_grad():
    def fn(m):
        x = leaf(m)
        y = x * 3
        y.register_hook(lambda g: g + 1)
        y.retain_grad()
        (y * y).sum().backward()
        return arr(x.grad), arr(y.grad)

    t, e = fn(torch), fn(engine)
    for a, b in zip(e, t):
        np.testing.assert_allclose(a, b)


def test_hook_handle_remove():
    def fn(m):
        x = leaf(m)
        calls = []
        h = x.register_hook(lambda g: calls.append(1))
        (x * 2).sum().backward()
        h.remove()
        (x * 2).sum().backward()
        return len(calls), arr(x.grad)

    t, e = fn(torch), fn(engine)
    assert e[0] == t[0]
    np.testing.assert_allclose(e[1], t[1])


def test_hook_on_tensor_without_grad():
    assert_raises_like_torch(lambda m: m.ones(3).register_hook(lambda g: g))


# ----- backward(inputs=...) -----


def test_backward_inputs_only_accumulates_those():
    def fn(m):
        x, w = leaf(m), leaf(m, [0.5, 1.0, -1.5])
        (x * w).sum().backward(inputs=[w])
        return x.grad, w.grad

    t, e = fn(torch), fn(engine)
    assert e[0] is None and t[0] is None
    assert_close(e[1], t[1])


def test_backward_inputs_single_tensor_and_non_leaf():
    def fn(m):
        x = leaf(m)
        y = x * 2
        (y * y).sum().backward(inputs=y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return x.grad, y.grad

    t, e = fn(torch), fn(engine)
    assert e[0] is None and t[0] is None
    assert_close(e[1], t[1])


def test_backward_inputs_empty():
    assert_raises_like_torch(lambda m: (leaf(m) * 2).sum().backward(inputs=[]))


def test_autograd_backward_inputs():
    def fn(m):
        x, w = leaf(m), leaf(m, [0.5, 1.0, -1.5])
        m.autograd.backward((x * w).sum(), inputs=[x])
        return x.grad, w.grad

    t, e = fn(torch), fn(engine)
    assert_close(e[0], t[0])
    assert e[1] is None and t[1] is None
