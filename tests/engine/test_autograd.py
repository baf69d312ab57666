"""The engine's autograd semantics against live torch 2.13: accumulation, retain_graph, freed saved tensors,
implicit gradients, retain_grad, warnings, grad mode, detach, autograd.grad options, backward(inputs=),
AccumulateGrad nodes, very deep graphs, and the type-promotion table.

Most tests run one function on both modules (`m` is torch or engine, written `import engine as torch`
style) and compare what they return, raise or warn.
"""
from __future__ import annotations

import itertools
import re
import time
import warnings

import numpy as np
import pytest
import torch

import engine

_TRIGGERED = re.compile(r"\s*\(Triggered internally at .*\)\s*$", re.DOTALL)


def strip(msg: str) -> str:
    return _TRIGGERED.sub("", str(msg))


def outcome(fn, m):
    """("ok", result) or ("raise", builtin exception class name, message) of fn(m)."""
    try:
        return ("ok", fn(m))
    except Exception as e:  # noqa: BLE001
        builtin = next(c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins")
        return ("raise", builtin, strip(str(e)))


def same_outcome(fn):
    t, e = outcome(fn, torch), outcome(fn, engine)
    assert t[0] == e[0], f"torch {t}, engine {e}"
    if t[0] == "raise":
        assert e == t
    return t, e


def assert_raises_like_torch(fn):
    t, e = same_outcome(fn)
    assert t[0] == "raise", f"torch did not raise: {t}"


def arr(x):
    if x is None:
        return None
    if isinstance(x, list | tuple):
        return [arr(i) for i in x]
    return np.asarray(x.detach().numpy())


def assert_close(e, t, **kw):
    if t is None or e is None:
        assert e is None and t is None, f"engine {e!r}, torch {t!r}"
        return
    np.testing.assert_allclose(arr(e), arr(t), rtol=kw.get("rtol", 1e-6), atol=kw.get("atol", 1e-7))


def recorded_warnings(fn, m):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn(m)
    return [(x.category.__name__, strip(str(x.message))) for x in w]


X = [1.5, -2.0, 0.5]


def leaf(m, values=X, dtype=None):
    return m.tensor(values, dtype=dtype or m.float64, requires_grad=True)


# torch issues these with TORCH_WARN_ONCE (once per process): capture their text at import, before any
# test of this worker can trigger them. The engine warns on every call.
TORCH_ONCE_WARNINGS = {
    "T": recorded_warnings(lambda m: m.ones(3).T, torch),
    "T-0d": recorded_warnings(lambda m: m.ones(()).T, torch),
    "mT-0d": recorded_warnings(lambda m: m.ones(()).mT, torch),
    "create_graph": recorded_warnings(lambda m: (leaf(m) * 2).sum().backward(create_graph=True), torch),
}


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


# ----- graph nodes -----


def test_accumulate_grad_variable():
    def fn(m):
        x = leaf(m)
        w = leaf(m, [1.0, 2.0, 3.0])
        y = x * w
        nodes = y.grad_fn.next_functions
        return (type(nodes[0][0]).__name__, nodes[0][0].variable is x, nodes[1][0].variable is w,
                nodes[0][1], nodes[1][1])

    assert fn(engine) == fn(torch)


def test_accumulate_grad_node_is_shared():
    def fn(m):
        x = leaf(m)
        a, b = x * 2, x + 1
        return a.grad_fn.next_functions[0][0] is b.grad_fn.next_functions[0][0]

    assert fn(engine) == fn(torch)


def test_constants_appear_as_none_edges():
    def fn(m):
        x = leaf(m)
        c = m.ones(3, dtype=m.float64)
        y = c * x
        return [(type(n).__name__ if n is not None else None, k) for n, k in y.grad_fn.next_functions]

    assert fn(engine) == fn(torch)


def test_is_leaf_and_grad_fn():
    def fn(m):
        x = leaf(m)
        c = m.ones(3)
        y = x * 2
        return (x.is_leaf, c.is_leaf, y.is_leaf, x.grad_fn is None, type(y.grad_fn).__name__,
                y.grad_fn.name())

    assert fn(engine) == fn(torch)


def test_floor_divide_backward_not_implemented():
    def fn(m):
        x = leaf(m)
        (x // 2).sum().backward()

    assert_raises_like_torch(fn)


def test_remainder_scalar_dividend_backward_not_implemented():
    def fn(m):
        x = leaf(m)
        (5.0 % x).sum().backward()

    assert_raises_like_torch(fn)


# ----- deep graphs -----


def test_chain_of_100000_ops_backward():
    n = 100_000
    x = engine.tensor(1.0, dtype=engine.float64, requires_grad=True)
    start = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * 1.00001
    y.backward()
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(x.grad.item(), 1.00001 ** n, rtol=1e-9)
    assert elapsed < 30, f"100,000-op chain took {elapsed:.1f}s"
    del y  # dropping the last reference frees 100,000 nodes: must not recurse either


# ----- type promotion -----

DTYPES = ["bool", "int32", "int64", "float16", "float32", "float64"]


def _values(dtype):
    return [1, 0, 1] if dtype == "bool" else [1, 2, 3]


def _make(m, dtype, zero_d=False):
    dt = getattr(m, dtype)
    if zero_d:
        return m.tensor(_values(dtype)[0], dtype=dt)
    return m.tensor(_values(dtype), dtype=dt)


@pytest.mark.parametrize("a, b", list(itertools.product(DTYPES, DTYPES)))
def test_promotion_tensor_tensor(a, b):
    for za, zb in [(False, False), (True, False), (False, True), (True, True)]:
        def fn(m, za=za, zb=zb):
            return str((_make(m, a, za) + _make(m, b, zb)).dtype)

        t, e = same_outcome(fn)
        assert e == t, f"{a}{'(0-d)' if za else ''} + {b}{'(0-d)' if zb else ''}"


@pytest.mark.parametrize("a, b", list(itertools.product(DTYPES, DTYPES)))
def test_promote_types_and_result_type(a, b):
    assert str(engine.promote_types(getattr(engine, a), getattr(engine, b))) == str(
        torch.promote_types(getattr(torch, a), getattr(torch, b)))
    assert str(engine.result_type(_make(engine, a), _make(engine, b, True))) == str(
        torch.result_type(_make(torch, a), _make(torch, b, True)))


@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize("scalar", [2, 2.5, True], ids=["int", "float", "bool"])
@pytest.mark.parametrize("zero_d", [False, True], ids=["nd", "0d"])
def test_promotion_tensor_python_scalar(a, scalar, zero_d):
    for order in ("left", "right"):
        def fn(m, order=order):
            t = _make(m, a, zero_d)
            return str((t + scalar if order == "left" else scalar + t).dtype)

        t, e = same_outcome(fn)
        assert e == t, f"{a} + {scalar!r} ({order})"
    assert str(engine.result_type(_make(engine, a, zero_d), scalar)) == str(
        torch.result_type(_make(torch, a, zero_d), scalar))


@pytest.mark.parametrize("a, b", list(itertools.product(DTYPES, DTYPES)))
def test_promotion_mul_and_div(a, b):
    for op in ("mul", "div"):
        def fn(m, op=op):
            return str(getattr(m, op)(_make(m, a), _make(m, b, True)).dtype)

        t, e = same_outcome(fn)
        assert e == t, f"{op}({a}, {b} 0-d)"


def test_mixed_precision_gradients_keep_input_dtypes():
    def fn(m):
        x = m.tensor([1.0, 2.0], dtype=m.float32, requires_grad=True)
        s = m.tensor(3.0, dtype=m.float64, requires_grad=True)
        y = (x * s).sum()
        y.backward()
        return str(y.dtype), str(x.grad.dtype), str(s.grad.dtype), x.grad, s.grad

    t, e = fn(torch), fn(engine)
    assert e[:3] == t[:3]
    assert_close(e[3], t[3])
    assert_close(e[4], t[4])


# ----- composite programs: values, gradients and the whole recorded graph -----


def graph_of(outs, leaves):
    """Node names and (child, input_nr) edges in BFS order from the outputs, shared nodes numbered once."""
    index = {id(t): i for i, t in enumerate(leaves)}
    number, nodes, queue = {}, [], []

    def visit(n):
        if n is None:
            return None
        if id(n) not in number:
            number[id(n)] = len(number)
            nodes.append(None)
            queue.append(n)
        return number[id(n)]

    roots = [visit(o.grad_fn) for o in outs]
    keep = []
    while queue:
        n = queue.pop(0)
        keep.append(n)
        var = index.get(id(n.variable), "?") if type(n).__name__ == "AccumulateGrad" else None
        nodes[number[id(n)]] = (type(n).__name__, var, tuple((visit(c), k) for c, k in n.next_functions))
    return roots, nodes


PROGRAMS = {
    "t-contiguous-view": lambda m, x: x.t().contiguous().view(-1),
    "t-reshape-copy": lambda m, x: x.t().reshape(-1),
    "unsqueeze-expand-reshape": lambda m, x: x.unsqueeze(0).expand(2, 3, 4).reshape(6, 4),
    "permute-flatten": lambda m, x: x.unsqueeze(0).permute(2, 0, 1).flatten(),
    "T-2d": lambda m, x: x.T * 2,
    "mT-matmul": lambda m, x: x.mT @ x,
    "matmul-chain": lambda m, x: (x @ x.t()) @ x,
    "normalize": lambda m, x: x / x.sum(-1, keepdim=True),
    "sum-mean": lambda m, x: (x * 2).sum(1).mean(),
    "leaky": lambda m, x: m.where(x > 0, x, x * 0.1),
    "scalar-over-x": lambda m, x: 2.0 / (x + 5),
    "scalar-minus-x": lambda m, x: x ** 2 + 3 - x,
    "clamp-sigmoid": lambda m, x: (x.clamp(min=0) * x.sigmoid()).sum(),
    "reuse": lambda m, x: (x * x + x.exp() * x).mean(0),
    "shared-view": lambda m, x: x.view(12) @ x.view(12),
    "int-scalar-promote": lambda m, x: (x + 1) * 2 - 1.5,
    "pow-chain": lambda m, x: (x.abs() + 1).pow(0.5).pow(x.tanh()),
    "vector-matrix": lambda m, x: x.sum(0) @ x.t(),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_composite_program(name):
    prog = PROGRAMS[name]
    data = np.random.default_rng(7).uniform(-2, 2, (3, 4))

    def fn(m):
        x = m.tensor(data, dtype=m.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = prog(m, x)
        g = graph_of([out], [x])
        w = m.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)), dtype=m.float64)
        (out * w).sum().backward()
        return out, g, x.grad

    (to, tg, tgrad), (eo, eg, egrad) = fn(torch), fn(engine)
    assert_close(eo, to)
    assert eg == tg, f"engine graph {eg}\ntorch graph {tg}"
    assert_close(egrad, tgrad)


def test_layout_queries():
    def fn(m):
        x = m.ones(3, 4)
        return (x.t().is_contiguous(), x.is_contiguous(), x.expand(2, 3, 4).is_contiguous(),
                x.t().contiguous().is_contiguous(), x.t().stride(), x.stride(), x.expand(2, 3, 4).stride())

    assert fn(engine) == fn(torch)


# ----- Tensor basics: conversions, metadata, construction, requires_grad rules -----

TENSOR_PROBES = {
    "bool_multi": lambda m: bool(m.ones(2)),
    "bool_one": lambda m: bool(m.ones(1)),
    "bool_empty": lambda m: bool(m.ones(0)),
    "item_multi": lambda m: m.ones(2).item(),
    "item_one": lambda m: m.tensor([[2.5]]).item(),
    "len0d": lambda m: len(m.tensor(1.0)),
    "iter0d": lambda m: list(m.tensor(1.0)),
    "numpy_req": lambda m: m.ones(2, requires_grad=True).numpy(),
    "float_multi": lambda m: float(m.ones(2)),
    "int_of_float": lambda m: int(m.tensor(2.7)),
    "index_float": lambda m: [1,2,3][m.tensor(1.0)],
    "index_int": lambda m: [1,2,3][m.tensor(1)],
    "size_neg": lambda m: m.ones(2,3).size(-1),
    "size_oob": lambda m: m.ones(2,3).size(2),
    "dim": lambda m: (m.ones(2,3).dim(), m.ones(2,3).ndim, m.ones(2,3).numel(), m.ones(2,3).nelement()),
    "shape_repr": lambda m: repr(m.ones(2,3).shape),
    "tolist": lambda m: m.tensor([[1,2],[3,4]]).tolist(),
    "type": lambda m: (m.ones(2).type(), m.ones(2, dtype=m.int64).type()),
    "element_size": lambda m: (m.ones(2).element_size(), m.ones(2,dtype=m.float64).element_size()),
    "is_fp": lambda m: (m.ones(2).is_floating_point(), m.ones(2, dtype=m.int32).is_floating_point()),
    "to_same": lambda m: (lambda x: x.to(m.float32) is x)(m.ones(2)),
    "to_grad": lambda m: type(m.ones(2, requires_grad=True).to(m.float64).grad_fn).__name__,
    "double_grad": lambda m: type(m.ones(2, requires_grad=True).double().grad_fn).__name__,
    "long_grad": lambda m: (lambda y: (y.requires_grad, y.grad_fn))(m.ones(2, requires_grad=True).long()),
    "clone_grad": lambda m: type(m.ones(2, requires_grad=True).clone().grad_fn).__name__,
    "detach_shares": lambda m: (lambda x: (x.detach().requires_grad, x.data.requires_grad))(
        m.ones(2, requires_grad=True)),
    "eq_list": lambda m: (m.ones(2) == 1).tolist(),
    "format0d": lambda m: f"{m.tensor(2.5):.2f}",
    "format1d": lambda m: f"{m.tensor([2.5])}",
    "grad_set": lambda m: (lambda x: (setattr(x, "grad", m.ones(2)), x.grad.tolist())[1])(
        m.ones(2, requires_grad=True)),
    "output_nr": lambda m: (m.ones(2, requires_grad=True)*2).output_nr,
    "req_nonleaf_false": lambda m: setattr(m.ones(2, requires_grad=True)*2, "requires_grad", False),
    "req_nonleaf_true": lambda m: setattr(m.ones(2, requires_grad=True)*2, "requires_grad", True),
    "tensor_of_tensor": lambda m: m.tensor(m.ones(2)).tolist(),
    "tensor_ragged": lambda m: m.tensor([[1,2],[3]]),
    "tensor_bool_inf": lambda m: str(m.tensor([True, False]).dtype),
    "tensor_mixed": lambda m: str(m.tensor([1, 2.5]).dtype),
    "tensor_empty": lambda m: (str(m.tensor([]).dtype), tuple(m.tensor([]).shape)),
    "tensor_np_int32": lambda m: str(m.tensor(np.array([1,2], dtype=np.int32)).dtype),
    "tensor_np_f64_dtype": lambda m: str(m.tensor(np.array([1,2], dtype=np.float64), dtype=m.float32).dtype),
    "req_grad_on_float16": lambda m: m.ones(2, dtype=m.float16, requires_grad=True).requires_grad,
    "result_type_scalars": lambda m: str(m.result_type(m.tensor([1,2]), 2.5)),
    "is_leaf_no_grad": lambda m: (m.ones(2)*2).is_leaf,
}


@pytest.mark.parametrize("name", list(TENSOR_PROBES))
def test_tensor_basics(name):
    probe = TENSOR_PROBES[name]

    def fn(m):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return probe(m)

    t, e = same_outcome(fn)
    assert e == t
