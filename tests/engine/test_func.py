"""engine.func against torch.func (torch 2.13): grad, grad_and_value, vjp, jacrev, hessian and vmap, their
options (argnums, has_aux, chunk_size, in_dims, out_dims), composition (grad of grad, per-sample gradients
as vmap of grad, hessian), graphs kept to tensors from outside a transform, and torch's errors.

Each case is a function of a module `m` run on both; results are compared as nested structures: types,
shapes, dtypes, requires_grad, grad_fn names and values.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine import budget
from tests.engine.test_functional import outcome, raises_like_torch, same

RNG = np.random.default_rng(1617)
X = RNG.uniform(-1, 1, (2, 3))
W = RNG.uniform(-1, 1, (3,))
B4 = RNG.uniform(-1, 1, (4, 3))


def mk(m, a, dtype="float64", requires_grad=False):
    return m.tensor(np.asarray(a).tolist(), dtype=getattr(m, dtype), requires_grad=requires_grad)


def f_scalar(m):
    return lambda x, w: (x.sin() * w).sum() + (x * x).mean()


# ----- grad, grad_and_value -----


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("argnums", [0, 1, -1, (0, 1), (1,)])
def test_grad_argnums(argnums, dtype):
    same(lambda m: m.func.grad(f_scalar(m), argnums=argnums)(mk(m, X, dtype), mk(m, W, dtype)))
    same(lambda m: m.func.grad_and_value(f_scalar(m), argnums=argnums)(mk(m, X, dtype), mk(m, W, dtype)))


def test_grad_has_aux_and_pytrees():
    def fn(m):
        def f(p, k):
            loss = (p["w"] * p["b"][0]).sum() * k + p["b"][1].exp().sum()
            return loss, {"loss": loss, "twice": loss * 2}
        p = {"w": mk(m, W), "b": (mk(m, W * 2), mk(m, X))}
        return m.func.grad(f, has_aux=True)(p, 3.0), m.func.grad_and_value(f, has_aux=True)(p, 3.0)
    same(fn)


def test_grad_of_grad_and_nesting():
    def fn(m):
        x = mk(m, X)
        d1 = m.func.grad(lambda a: (a.pow(3) * a.cos()).sum())
        d2 = m.func.grad(lambda a: d1(a).sum())
        mixed = m.func.grad(lambda a: m.func.grad(lambda b: (a * b).sin().sum())(a * 2).sum())
        return d1(x), d2(x), mixed(x)
    same(fn)


def test_grad_keeps_the_graph_to_outside_tensors():
    """Arguments or closures that require grad outside the transform keep their graph (grad_fn names as
    torch's); with none, results are plain tensors."""
    def fn(m):
        x = mk(m, X, requires_grad=True)
        w = mk(m, W, requires_grad=True)
        g = m.func.grad(lambda a: (a.pow(2) * w).sum())(x)
        g2 = m.func.grad(lambda a: (a.pow(2) * w).sum())(x.detach())
        g3, v3 = m.func.grad_and_value(lambda a: (a * a).sum())(mk(m, X))
        return g, g2, g3, v3, m.autograd.grad((g * g).sum(), (x, w))
    same(fn)


def test_grad_under_no_grad():
    """A transform does not obey a no_grad outside it."""
    same(lambda m: _under_no_grad(m, lambda: m.func.grad(lambda a: (a * a).sin().sum())(mk(m, X))))


def _under_no_grad(m, f):
    with m.no_grad():
        return f()


GRAD_ERRORS = {
    "nonscalar": lambda m: m.func.grad(lambda a: a * 2)(mk(m, X)),
    "not_tensor": lambda m: m.func.grad(lambda a: 3.0)(mk(m, X)),
    "arg_not_tensor": lambda m: m.func.grad(lambda a: a)(3.0),
    "argnums_range": lambda m: m.func.grad(lambda a: a.sum(), argnums=2)(mk(m, X)),
    "argnums_type": lambda m: m.func.grad(lambda a: a.sum(), argnums=[0])(mk(m, X)),
    "argnums_empty": lambda m: m.func.grad(lambda a: a.sum(), argnums=())(mk(m, X)),
    "argnums_repeat": lambda m: m.func.grad(lambda a, b: a.sum(), argnums=(0, 0))(mk(m, X), mk(m, W)),
    "argnums_element": lambda m: m.func.grad(lambda a, b: a.sum(), argnums=(0, "1"))(mk(m, X), mk(m, W)),
    "aux_not_pair": lambda m: m.func.grad(lambda a: a.sum(), has_aux=True)(mk(m, X)),
}


@pytest.mark.parametrize("case", list(GRAD_ERRORS))
def test_grad_errors(case):
    raises_like_torch(GRAD_ERRORS[case])


# ----- vjp -----


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_vjp(dtype):
    def fn(m):
        x, w = mk(m, X, dtype), mk(m, W, dtype)
        out, vjp_fn = m.func.vjp(lambda a, b: ((a * b).exp(), {"s": a.sum(1)}), x, w)
        ct = (mk(m, -X, dtype), {"s": mk(m, [1.0, -2.0], dtype)})
        return out, vjp_fn(ct), vjp_fn(ct, create_graph=True), vjp_fn(ct, create_graph=False)
    same(fn)


def test_vjp_has_aux_and_outside_graph():
    def fn(m):
        w = mk(m, W, requires_grad=True)
        out, vjp_fn, aux = m.func.vjp(lambda a: ((a * w).sin(), a.sum()), mk(m, X), has_aux=True)
        (g,) = vjp_fn(mk(m, X))
        return out, aux, g, m.autograd.grad(g.sum(), w)
    same(fn)


VJP_ERRORS = {
    "structure": lambda m: m.func.vjp(lambda a: (a, a * 2), mk(m, X))[1](mk(m, X)),
    "empty": lambda m: m.func.vjp(lambda a: [], mk(m, X)),
    "none": lambda m: m.func.vjp(lambda a: None, mk(m, X)),
    "not_tensor": lambda m: m.func.vjp(lambda a: 3, mk(m, X)),
    "integer_output": lambda m: m.func.vjp(lambda a: a.argmax(), mk(m, X)),
    "aux_not_pair": lambda m: m.func.vjp(lambda a: a, mk(m, X), has_aux=True),
    "primal_not_tensor": lambda m: m.func.vjp(lambda a: a, [1.0]),
}


@pytest.mark.parametrize("case", list(VJP_ERRORS))
def test_vjp_errors(case):
    raises_like_torch(VJP_ERRORS[case])


# ----- jacrev, hessian -----


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("chunk_size", [None, 1, 2, 5])
@pytest.mark.parametrize("argnums", [0, (0, 1), -1])
def test_jacrev(argnums, chunk_size, dtype):
    same(lambda m: m.func.jacrev(lambda a, b: ((a * b).sin(), {"s": (a.sum(1) * b[0]).exp()}), argnums=argnums,
                                 chunk_size=chunk_size)(mk(m, X, dtype), mk(m, W, dtype)))


def test_jacrev_has_aux_and_single_output():
    same(lambda m: m.func.jacrev(lambda a: (a.pow(3), a.sum()), has_aux=True)(mk(m, X)))
    same(lambda m: m.func.jacrev(lambda a: a.t().mm(a).tanh())(mk(m, X)))
    same(lambda m: m.func.jacrev(m.func.jacrev(lambda a: (a.pow(3) * a.sin()).sum(0)))(mk(m, W)))


def test_jacrev_errors():
    raises_like_torch(lambda m: m.func.jacrev(lambda a: a, chunk_size=0)(mk(m, X)))
    raises_like_torch(lambda m: m.func.jacrev(lambda a: a, argnums=3)(mk(m, X)))


@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_hessian(argnums):
    """jacfwd(jacrev(f)): forward-over-reverse in both."""
    same(lambda m: m.func.hessian(lambda a, b: ((a.pow(3) * b).sin().sum() + (a * a).sum() * b.sum()),
                                  argnums=argnums)(mk(m, X), mk(m, W)))


def test_jacfwd():
    """forward-mode AD (tests/engine/test_forward_ad.py has the rest)."""
    assert outcome(lambda m: m.func.jacfwd(lambda a: a.sin())(mk(m, X)), torch)[0] == "ok"
    same(lambda m: m.func.jacfwd(lambda a: a.sin())(mk(m, X)))


# ----- vmap -----


VMAP_CASES = {
    "basic": lambda m: m.func.vmap(lambda a: (a * a).sum())(mk(m, B4)),
    "in_dims_none": lambda m: m.func.vmap(lambda a, b: a.dot(b), in_dims=(0, None))(mk(m, B4), mk(m, W)),
    "in_dims_1": lambda m: m.func.vmap(lambda a: a.exp(), in_dims=1)(mk(m, X)),
    "in_dims_negative": lambda m: m.func.vmap(lambda a: a.cumsum(0), in_dims=-1)(mk(m, X)),
    "nested_in_dims": lambda m: m.func.vmap(lambda a, bc: a * bc[0] + bc[1], in_dims=(0, (None, 0)))(
        mk(m, B4), (mk(m, W), mk(m, B4 * 2))),
    "out_dims_1": lambda m: m.func.vmap(lambda a: a.unsqueeze(0).expand(2, 3), out_dims=1)(mk(m, B4)),
    "out_dims_tuple": lambda m: m.func.vmap(lambda a: (a.sin(), a.sum()), out_dims=(1, 0))(mk(m, B4)),
    "out_dims_negative": lambda m: m.func.vmap(lambda a: a.reshape(3, 1), out_dims=-1)(mk(m, B4)),
    "dict_output": lambda m: m.func.vmap(lambda a: {"x": a, "y": a.max()})(mk(m, B4)),
    "kwargs_not_mapped": lambda m: m.func.vmap(lambda a, scale=1.0: a * scale)(mk(m, B4), scale=mk(m, W)),
    "nested_vmap": lambda m: m.func.vmap(m.func.vmap(lambda a, b: a * b, in_dims=(0, None)),
                                         in_dims=(None, 0))(mk(m, W), mk(m, B4)),
    "per_sample_grads": lambda m: m.func.vmap(m.func.grad(lambda w, xi: (xi * w).sin().sum()),
                                              in_dims=(None, 0))(mk(m, W), mk(m, B4)),
    "chunk_size": lambda m: m.func.vmap(lambda a: a.softmax(0), chunk_size=3)(mk(m, B4)),
    "randomness_same_ok": lambda m: m.func.vmap(lambda a: a * 2, randomness="same")(mk(m, B4)),
    "out_dims_none": lambda m: m.func.vmap(lambda a, b: (a * 2, b), in_dims=(0, None), out_dims=(0, None))(
        mk(m, B4), mk(m, W)),
}


@pytest.mark.parametrize("case", list(VMAP_CASES))
def test_vmap(case):
    same(VMAP_CASES[case], names=False)


def test_vmap_differentiable():
    """Gradients flow through vmap's outputs to its inputs (and to tensors it closes over)."""
    def fn(m):
        x = mk(m, B4, requires_grad=True)
        w = mk(m, W, requires_grad=True)
        y = m.func.vmap(lambda a: (a * w).tanh().sum())(x)
        return y.requires_grad, m.autograd.grad((y * y).sum(), (x, w))
    same(fn)


VMAP_ERRORS = {
    "in_dims_list": lambda m: m.func.vmap(lambda a: a, in_dims=[0])(mk(m, B4)),
    "no_inputs": lambda m: m.func.vmap(lambda: 1)(),
    "in_dims_structure": lambda m: m.func.vmap(lambda a: a, in_dims=(0, 0))(mk(m, B4)),
    "in_dim_type": lambda m: m.func.vmap(lambda a: a, in_dims=(1.5,))(mk(m, B4)),
    "in_dim_non_tensor": lambda m: m.func.vmap(lambda a, k: a * k, in_dims=(0, 0))(mk(m, B4), 2.0),
    "in_dim_range": lambda m: m.func.vmap(lambda a: a, in_dims=2)(mk(m, B4)),
    "sizes_differ": lambda m: m.func.vmap(lambda a, b: a + b)(mk(m, B4), mk(m, X)),
    "nothing_mapped": lambda m: m.func.vmap(lambda a: a, in_dims=(None,))(mk(m, B4)),
    "returns_int": lambda m: m.func.vmap(lambda a: 1)(mk(m, B4)),
    "out_dims_structure": lambda m: m.func.vmap(lambda a: a.sum(), out_dims=(0, 1))(mk(m, B4)),
    "out_dims_type": lambda m: m.func.vmap(lambda a: a.sum(), out_dims="0")(mk(m, B4)),
    "randomness": lambda m: m.func.vmap(lambda a: a, randomness="sometimes"),
    "chunk_size": lambda m: m.func.vmap(lambda a: a, chunk_size=0),
}


@pytest.mark.parametrize("case", list(VMAP_ERRORS))
def test_vmap_errors(case):
    raises_like_torch(VMAP_ERRORS[case])


def test_vmap_rows_check_the_deadline():
    b = budget.Budget()
    b.cancel()
    with budget.active(b), pytest.raises(budget.DeadlinePassed):
        engine.func.vmap(lambda a: a * 2)(engine.zeros(10_000, 2))
