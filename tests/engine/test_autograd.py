"""The engine's autograd semantics against live torch 2.13: accumulation, retain_graph, freed saved tensors,
implicit gradients, retain_grad and the warnings of .grad reads and .T, grad mode, detach, requires_grad.
(autograd.grad, hooks and backward(inputs=): test_autograd_grad.py; graph nodes, deep graphs, type promotion,
composite programs, Tensor basics: test_autograd_graph.py.)

Most tests run one function on both modules (`m` is torch or engine, written `import engine as torch`
style) and compare what they return, raise or warn (tests/engine/autograd_both.py).
"""
from __future__ import annotations

import warnings

import pytest
import torch

import engine
from tests.engine.autograd_both import (
    TORCH_ONCE_WARNINGS,
    assert_close,
    assert_raises_like_torch,
    leaf,
    outcome,
    recorded_warnings,
)

# ----- accumulation and retain_graph -----


def test_grad_accumulates_across_backward_calls():
    def fn(m):
        x = leaf(m)
        (x * x).sum().backward()
        first = x.grad.clone()
        (x * 3).sum().backward()
        return first, x.grad

    (t1, t2), (e1, e2) = fn(torch), fn(engine)
    assert_close(e1, t1)
    assert_close(e2, t2)


def test_grad_accumulates_in_the_same_tensor_object():
    def fn(m):
        x = leaf(m)
        (x * 2).sum().backward()
        g = x.grad
        (x * 5).sum().backward()
        return g is x.grad, g

    t, e = fn(torch), fn(engine)
    assert e[0] == t[0]
    assert_close(e[1], t[1])


def test_retain_graph_allows_second_backward():
    def fn(m):
        x = leaf(m)
        y = (x * x).exp().sum()
        y.backward(retain_graph=True)
        y.backward()
        return x.grad

    assert_close(fn(engine), fn(torch))


@pytest.mark.parametrize("build", [
    lambda m, x: (x * x).sum(),
    lambda m, x: (x.exp()).sum(),
    lambda m, x: (x / (x + 3)).sum(),
    lambda m, x: x.pow(2).mean(),
    lambda m, x: (x @ x),
    lambda m, x: m.sigmoid(x).sum(),
    lambda m, x: (x * 2).sum(),  # torch saves the wrapped scalar too
], ids=["mul", "exp", "div", "pow", "dot", "sigmoid", "mul-scalar"])
def test_second_backward_through_freed_saved_tensors_fails(build):
    def fn(m):
        x = leaf(m)
        y = build(m, x)
        y.backward()
        y.backward()

    assert_raises_like_torch(fn)


def test_freed_message_text():
    def fn(m):
        x = leaf(m)
        y = (x * x).sum()
        y.backward()
        y.backward()

    t, e = outcome(fn, torch), outcome(fn, engine)
    assert e == t
    assert t[2].startswith("Trying to backward through the graph a second time")


@pytest.mark.parametrize("build", [
    lambda x: (x + 2).sum(),
    lambda x: x.sum(),
    lambda x: x.mean(),
    lambda x: (x - 1).mean() + x.sum(),
    lambda x: x.view(3, 1).expand(3, 2).sum(),
    lambda x: (x.t() + x.unsqueeze(0).squeeze(0)).sum(),
], ids=["add", "sum", "mean", "sub-mean-sum", "view-expand", "t-unsqueeze-squeeze"])
def test_graphs_without_saved_tensors_backward_twice(build):
    def fn(m):
        x = leaf(m)
        y = build(x)
        y.backward()
        y.backward()
        return x.grad

    assert_close(fn(engine), fn(torch))


def test_autograd_grad_frees_too():
    def fn(m):
        x = leaf(m)
        y = (x * x).sum()
        m.autograd.grad(y, x)
        m.autograd.grad(y, x)

    assert_raises_like_torch(fn)


# ----- implicit gradients and grad shapes -----


def test_implicit_grad_only_for_scalars():
    def fn(m):
        x = leaf(m)
        (x * 2).backward()

    assert_raises_like_torch(fn)


def test_implicit_grad_for_single_element_tensor():
    def fn(m):
        x = leaf(m, [2.0])
        (x * x).backward()
        return x.grad

    assert_close(fn(engine), fn(torch))


def test_backward_on_tensor_without_grad():
    assert_raises_like_torch(lambda m: m.tensor([1.0, 2.0]).sum().backward())


def test_backward_on_detached_result():
    assert_raises_like_torch(lambda m: (leaf(m) * 2).detach().sum().backward())


@pytest.mark.parametrize("gshape", [(2,), (3, 1), (1, 3), ()])
def test_gradient_shape_mismatch(gshape):
    def fn(m):
        x = leaf(m)
        (x * 2).backward(m.ones(gshape, dtype=m.float64))

    assert_raises_like_torch(fn)


def test_explicit_gradient():
    def fn(m):
        x = leaf(m)
        (x * x).backward(m.tensor([1.0, 0.5, -2.0], dtype=m.float64))
        return x.grad

    assert_close(fn(engine), fn(torch))


def test_autograd_backward_function():
    def fn(m):
        x = leaf(m)
        a, b = x * 2, x.exp()
        m.autograd.backward([a, b], [m.ones(3, dtype=m.float64), m.full((3,), 0.5, dtype=m.float64)])
        return x.grad

    assert_close(fn(engine), fn(torch))


# ----- retain_grad, .grad of non-leaves -----


def test_retain_grad_on_non_leaf():
    def fn(m):
        x = leaf(m)
        y = x * x
        y.retain_grad()
        z = (y * 3).sum()
        z.backward()
        return y.grad, x.grad, y.retains_grad, x.retains_grad, y.is_leaf

    t, e = fn(torch), fn(engine)
    assert_close(e[0], t[0])
    assert_close(e[1], t[1])
    assert e[2:] == t[2:]


def test_retain_grad_accumulates():
    def fn(m):
        x = leaf(m)
        y = x * 2
        y.retain_grad()
        (y * y).sum().backward(retain_graph=True)
        (y * y).sum().backward()
        return y.grad

    assert_close(fn(engine), fn(torch))


def test_retain_grad_on_leaf_is_noop():
    def fn(m):
        x = leaf(m)
        x.retain_grad()
        (x * 2).sum().backward()
        return x.grad, x.retains_grad

    t, e = fn(torch), fn(engine)
    assert_close(e[0], t[0])
    assert e[1] == t[1]


def test_non_leaf_grad_read_warns():
    def fn(m):
        x = leaf(m)
        y = x * 2
        y.sum().backward()
        assert y.grad is None

    t, e = recorded_warnings(fn, torch), recorded_warnings(fn, engine)
    assert t and e == t
    assert t[0][1].startswith("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed.")


def test_retained_non_leaf_grad_read_does_not_warn():
    def fn(m):
        x = leaf(m)
        y = x * 2
        y.retain_grad()
        y.sum().backward()
        return y.grad

    assert recorded_warnings(fn, engine) == recorded_warnings(fn, torch) == []


def test_leaf_grad_read_does_not_warn():
    def fn(m):
        x = leaf(m)
        return x.grad

    assert recorded_warnings(fn, engine) == recorded_warnings(fn, torch) == []


@pytest.mark.parametrize("shape", [(3,), (), (2, 3, 4)])
def test_T_on_non_2d_warns(shape):
    expected = TORCH_ONCE_WARNINGS["T-0d" if shape == () else "T"]
    assert expected, "torch's x.T warning was issued in this process before it could be captured"

    def fn(m):
        x = m.ones(shape, requires_grad=True)
        return x.T

    assert recorded_warnings(fn, engine) == expected
    assert tuple(fn(engine).shape) == tuple(fn(torch).shape)


def test_mT_on_0d_warns_and_is_identity():
    expected = TORCH_ONCE_WARNINGS["mT-0d"]
    assert expected

    def fn(m):
        x = m.ones((), requires_grad=True)
        return x.mT is x

    assert recorded_warnings(fn, engine) == expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fn(engine) is fn(torch) is True


def test_T_on_2d_does_not_warn():
    def fn(m):
        return m.ones(2, 3).T

    assert recorded_warnings(fn, engine) == recorded_warnings(fn, torch) == []


# ----- grad mode, detach, requires_grad -----


def test_no_grad():
    def fn(m):
        x = leaf(m)
        with m.no_grad():
            y = x * 2
            inner = m.is_grad_enabled()
        z = x * 2
        return y.requires_grad, y.grad_fn is None, y.is_leaf, inner, z.requires_grad, m.is_grad_enabled()

    assert fn(engine) == fn(torch)


def test_no_grad_as_decorator_and_enable_grad():
    def fn(m):
        x = leaf(m)

        @m.no_grad()
        def f(v):
            with m.enable_grad():
                inner = (v * 2).requires_grad
            return v * 2, inner

        y, inner = f(x)
        return y.requires_grad, inner

    assert fn(engine) == fn(torch)


def test_set_grad_enabled():
    def fn(m):
        x = leaf(m)
        with m.set_grad_enabled(False):
            a = x * 2
        with m.set_grad_enabled(True):
            b = x * 2
        return a.requires_grad, b.requires_grad

    assert fn(engine) == fn(torch)


def test_detach():
    def fn(m):
        x = leaf(m)
        y = x * 2
        d = y.detach()
        z = (d * x).sum()
        z.backward()
        return d.requires_grad, d.grad_fn is None, d.is_leaf, x.grad

    t, e = fn(torch), fn(engine)
    assert e[:3] == t[:3]
    assert_close(e[3], t[3])


def test_detach_shares_no_graph_but_same_values():
    def fn(m):
        x = leaf(m)
        return (x * 3).detach()

    assert_close(fn(engine), fn(torch))


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_requires_grad_on_int_tensor(dtype):
    def method(m):
        m.ones(2, dtype=getattr(m, dtype)).requires_grad_()

    def factory(m):
        m.tensor([1, 0], dtype=getattr(m, dtype), requires_grad=True)

    def ones(m):
        m.ones(2, dtype=getattr(m, dtype), requires_grad=True)

    assert_raises_like_torch(method)
    assert_raises_like_torch(factory)
    assert_raises_like_torch(ones)


@pytest.mark.parametrize("dtype", ["int64", "bool"])
def test_requires_grad_setter_on_int_tensor(dtype):
    def setter(m):
        m.ones(2, dtype=getattr(m, dtype)).requires_grad = True

    assert_raises_like_torch(setter)


def test_requires_grad_false_on_non_leaf():
    def fn(m):
        y = leaf(m) * 2
        y.requires_grad = False

    assert_raises_like_torch(fn)


def test_requires_grad_false_is_fine_on_int():
    def fn(m):
        x = m.ones(2, dtype=m.int64)
        x.requires_grad_(False)
        return x.requires_grad

    assert fn(engine) == fn(torch)


def test_integer_outputs_do_not_require_grad():
    def fn(m):
        x = leaf(m)
        return (x > 0).requires_grad, (x > 0).grad_fn is None, x.floor().requires_grad

    assert fn(engine) == fn(torch)
