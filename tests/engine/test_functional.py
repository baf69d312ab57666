"""engine.autograd.functional against live torch 2.13: jacobian, hessian, vjp, jvp, hvp, vhp over single and
tuple inputs and outputs, float32 and float64, create_graph (grad_fn names of the results), vectorize on and
off, strict mode, and every argument error torch raises (class and message).

Each case is one function of a module `m` (torch or engine, written `import engine as torch` style) run on
both; results are compared as nested structures of tensors: shapes, dtypes, requires_grad, grad_fn names
and values.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import engine
import engine.autograd.functional  # noqa: F401 - makes engine.autograd.functional an attribute
from engine import budget
from tests.engine.both import outcome

_TRIGGERED = re.compile(r"\s*\(Triggered internally at .*\)\s*$", re.DOTALL)
TOL = {"float32": dict(rtol=2e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


# ----- running one case on both modules -----




def describe(x, names=True):
    """A comparable picture of a (nested) result: structure, and per tensor its metadata and values
    (names=False: whether it has a grad_fn, not its class)."""
    if isinstance(x, dict):
        return ("dict", [(k, describe(v, names)) for k, v in x.items()])
    if isinstance(x, tuple | list):
        return (type(x).__name__, [describe(i, names) for i in x])
    if isinstance(x, torch.Tensor | engine.Tensor):
        fn = x.grad_fn
        name = None if fn is None else fn.name()  # torch's C++ nodes namespaced on both sides
        if not names:
            name = name is not None
        return ("tensor", tuple(x.shape), str(x.dtype).replace("torch.", ""), x.requires_grad, name,
                np.asarray(x.detach().numpy()))
    return ("other", x)


def assert_same(t, e, path="result"):
    assert t[0] == e[0], f"{path}: torch {t[0]}, engine {e[0]}"
    if t[0] in ("tuple", "list"):
        assert len(t[1]) == len(e[1]), f"{path}: lengths {len(t[1])} != {len(e[1])}"
        for i, (a, b) in enumerate(zip(t[1], e[1])):
            assert_same(a, b, f"{path}[{i}]")
    elif t[0] == "dict":
        assert [k for k, _ in t[1]] == [k for k, _ in e[1]], f"{path}: keys"
        for (k, a), (_, b) in zip(t[1], e[1]):
            assert_same(a, b, f"{path}[{k!r}]")
    elif t[0] == "tensor":
        assert t[1:5] == e[1:5], f"{path}: torch {t[1:5]}, engine {e[1:5]}"
        np.testing.assert_allclose(e[5], t[5], **TOL.get(t[2], TOL["float64"]), err_msg=path)
    else:
        assert t == e, path


def same(fn, names=True):
    """fn(torch) and fn(engine) give the same nested result, or raise the same class and message."""
    t, e = outcome(fn, torch), outcome(fn, engine)
    assert t[0] == e[0], f"torch {t[:3] if t[0] == 'raise' else 'ok'}, engine {e[:3] if e[0] == 'raise' else 'ok'}"
    if t[0] == "raise":
        assert e == t
    else:
        assert_same(describe(t[1], names), describe(e[1], names))
    return t, e


def raises_like_torch(fn):
    t, _ = same(fn)
    assert t[0] == "raise", "torch did not raise"


RNG = np.random.default_rng(16)
X = RNG.uniform(-1.5, 1.5, (2, 3))
Y = RNG.uniform(-1.5, 1.5, (3,))
W = RNG.uniform(-1.0, 1.0, (3, 4))
V2 = RNG.uniform(-1.0, 1.0, (2,))
V24 = RNG.uniform(-1.0, 1.0, (2, 4))
V4 = RNG.uniform(-1.0, 1.0, (4,))


def mk(m, a, dtype, requires_grad=False):
    return m.tensor(a.tolist(), dtype=getattr(m, dtype), requires_grad=requires_grad)


# ----- the functions differentiated -----


def f_single(m):
    return lambda x: (x.sin() * x).sum(1)


def f_tuple_out(m):
    return lambda x: ((x * x).tanh(), x.exp().sum())


def f_two_in(m):
    return lambda x, y: (x * y).cos() + y.sum()


def f_two_in_two_out(m):
    # (not tanh: torch records its backward as tanh_backward, the engine as a product: TanhBackwardBackward0
    # vs MulBackward0 under create_graph, an op-table difference outside these transforms)
    return lambda x, w: (x.mm(w).sin(), (x.sum(0) * w.sum(1)).exp())


def f_mlp(m):
    def mlp(x, w):
        h = x.mm(w).relu()
        return (h * h).sum(1).sqrt()
    return mlp


def f_fallback_ops(m):
    """Ops without a batch rule (cat, stack, softmax, index, max over a dim, cumsum): their nodes run per row
    in a vectorized backward."""
    def g(x):
        a = m.cat([x, x * 2], 1).softmax(1)
        b = m.stack([x[0], x[1].cumsum(0)]).max(1)[0]
        return a[:, [0, 2, 5]] * b.unsqueeze(1)
    return g


def s_scalar(m):
    return lambda x: (x.pow(3) * x.sin()).sum()


def s_two(m):
    return lambda x, y: (x.pow(2).sum(1) * y[:2].exp()).sum() + (y * y * y).sum() * x.mean()


JAC_CASES = {
    "single": (f_single, lambda m, dt: mk(m, X, dt)),
    "tuple_out": (f_tuple_out, lambda m, dt: mk(m, X, dt)),
    "tuple_in": (f_two_in, lambda m, dt: (mk(m, X, dt), mk(m, Y, dt))),
    "tuple_both": (f_two_in_two_out, lambda m, dt: (mk(m, X, dt), mk(m, W, dt))),
    "mlp": (f_mlp, lambda m, dt: (mk(m, X, dt), mk(m, W, dt))),
    "one_tuple_in": (f_single, lambda m, dt: (mk(m, X, dt),)),
    "fallback_ops": (f_fallback_ops, lambda m, dt: mk(m, X, dt)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("case", list(JAC_CASES))
def test_jacobian(case, create_graph, vectorize, dtype):
    f, inputs = JAC_CASES[case]
    same(lambda m: m.autograd.functional.jacobian(f(m), inputs(m, dtype), create_graph=create_graph,
                                                  vectorize=vectorize))


@pytest.mark.parametrize("case", list(JAC_CASES))
def test_jacobian_vectorize_equals_rows(case):
    """vectorize=True (one batched backward) gives the row-by-row Jacobian: bit for bit where the graph is
    elementwise, to the last bits of a matrix product otherwise."""
    f, inputs = JAC_CASES[case]
    a = engine.autograd.functional.jacobian(f(engine), inputs(engine, "float64"))
    b = engine.autograd.functional.jacobian(f(engine), inputs(engine, "float64"), vectorize=True)
    da, db = describe(a), describe(b)
    assert_same(da, db)


def test_jacobian_vectorize_elementwise_is_exact():
    x = engine.tensor(X.tolist(), dtype=engine.float64)
    fn = lambda x: (x.sin() * x + x.exp() / (x * x + 1)).tanh()  # noqa: E731
    a = engine.autograd.functional.jacobian(fn, x)
    b = engine.autograd.functional.jacobian(fn, x, vectorize=True)
    assert np.array_equal(a.numpy(), b.numpy())


def test_jacobian_inputs_that_require_grad_keep_their_graph():
    """create_graph=True through inputs that require grad: the results hang off the caller's graph."""
    def fn(m):
        x = mk(m, X, "float64", requires_grad=True)
        jac = m.autograd.functional.jacobian(lambda a: a.pow(3).sum(0), x, create_graph=True, vectorize=True)
        g, = m.autograd.grad(jac.sum(), x)
        return jac, g
    same(fn)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("case", ["single", "tuple"])
def test_hessian(case, create_graph, vectorize, dtype):
    if case == "single":
        same(lambda m: m.autograd.functional.hessian(s_scalar(m), mk(m, X, dtype), create_graph=create_graph,
                                                     vectorize=vectorize))
    else:
        same(lambda m: m.autograd.functional.hessian(s_two(m), (mk(m, X, dtype), mk(m, Y, dtype)),
                                                     create_graph=create_graph, vectorize=vectorize))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_vjp_jvp(create_graph, dtype):
    same(lambda m: m.autograd.functional.vjp(f_single(m), mk(m, X, dtype), mk(m, V2, dtype),
                                             create_graph=create_graph))
    same(lambda m: m.autograd.functional.vjp(
        f_two_in_two_out(m), (mk(m, X, dtype), mk(m, W, dtype)),
        (mk(m, V24, dtype), mk(m, V4, dtype)),
        create_graph=create_graph))
    same(lambda m: m.autograd.functional.vjp(lambda x: x.exp().sum(), mk(m, X, dtype), create_graph=create_graph))
    same(lambda m: m.autograd.functional.jvp(f_single(m), mk(m, X, dtype), mk(m, X * 0.5, dtype),
                                             create_graph=create_graph))
    same(lambda m: m.autograd.functional.jvp(
        f_two_in_two_out(m), (mk(m, X, dtype), mk(m, W, dtype)), (mk(m, -X, dtype), mk(m, W * 2, dtype)),
        create_graph=create_graph))
    same(lambda m: m.autograd.functional.jvp(lambda x: x * x, mk(m, np.array([1.5]), dtype),
                                             create_graph=create_graph))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("name", ["hvp", "vhp"])
def test_hvp_vhp(name, create_graph, dtype):
    same(lambda m: getattr(m.autograd.functional, name)(s_scalar(m), mk(m, X, dtype), mk(m, -X, dtype),
                                                         create_graph=create_graph))
    same(lambda m: getattr(m.autograd.functional, name)(
        s_two(m), (mk(m, X, dtype), mk(m, Y, dtype)), (mk(m, X * 2, dtype), mk(m, Y - 1, dtype)),
        create_graph=create_graph))
    same(lambda m: getattr(m.autograd.functional, name)(lambda x: (x * x * x).sum(), mk(m, np.array(0.7), dtype),
                                                         create_graph=create_graph))


def test_grad_mode_off_outside():
    """Under no_grad, create_graph=False results are plain tensors; create_graph=True still builds a graph."""
    def fn(m):
        with m.no_grad():
            a = m.autograd.functional.vjp(f_single(m), mk(m, X, "float64"), mk(m, V2, "float64"))
            b = m.autograd.functional.vhp(s_scalar(m), mk(m, X, "float64"), mk(m, X, "float64"), create_graph=True)
            c = m.autograd.functional.jacobian(f_single(m), mk(m, X, "float64"), create_graph=True)
        return a, b, c
    same(fn)


# ----- strict mode -----


STRICT_CASES = {
    "jacobian_independent_input": lambda m: m.autograd.functional.jacobian(
        lambda x, y: x * 2, (mk(m, X, "float64"), mk(m, Y, "float64")), strict=True),
    "jacobian_output_without_grad": lambda m: m.autograd.functional.jacobian(
        lambda x: m.ones(2), mk(m, X, "float64"), strict=True),
    "jacobian_linear_create_graph": lambda m: m.autograd.functional.jacobian(
        lambda x: x * 2, mk(m, X, "float64"), strict=True, create_graph=True),
    "jacobian_strict_vectorize": lambda m: m.autograd.functional.jacobian(
        lambda x: x.sin(), mk(m, X, "float64"), strict=True, vectorize=True),
    "hessian_linear": lambda m: m.autograd.functional.hessian(
        lambda x: (x * 2).sum(), mk(m, X, "float64"), strict=True),
    "hessian_independent": lambda m: m.autograd.functional.hessian(
        lambda x, y: (x * x).sum(), (mk(m, X, "float64"), mk(m, Y, "float64")), strict=True),
    "vjp_independent": lambda m: m.autograd.functional.vjp(
        lambda x, y: x * 2, (mk(m, X, "float64"), mk(m, Y, "float64")), mk(m, X, "float64"), strict=True),
    "vjp_output_without_grad": lambda m: m.autograd.functional.vjp(
        lambda x: x.detach(), mk(m, X, "float64"), mk(m, X, "float64"), strict=True),
    "vjp_linear_create_graph": lambda m: m.autograd.functional.vjp(
        lambda x: x * 2, mk(m, X, "float64"), mk(m, X, "float64"), strict=True, create_graph=True),
    "jvp_independent": lambda m: m.autograd.functional.jvp(
        lambda x, y: x * 2, (mk(m, X, "float64"), mk(m, Y, "float64")),
        (mk(m, X, "float64"), mk(m, Y, "float64")), strict=True),
    "jvp_constant_output": lambda m: m.autograd.functional.jvp(
        lambda x, y: (x * 2, y * 0 + y), (mk(m, X, "float64"), mk(m, Y, "float64")),
        (mk(m, X, "float64"), mk(m, Y, "float64")), strict=True),
    "vhp_linear": lambda m: m.autograd.functional.vhp(
        lambda x: (x * 3).sum(), mk(m, X, "float64"), mk(m, X, "float64"), strict=True),
    "hvp_linear": lambda m: m.autograd.functional.hvp(
        lambda x: (x * 3).sum(), mk(m, X, "float64"), mk(m, X, "float64"), strict=True),
    "vhp_independent": lambda m: m.autograd.functional.vhp(
        lambda x, y: (x * x).sum(), (mk(m, X, "float64"), mk(m, Y, "float64")),
        (mk(m, X, "float64"), mk(m, Y, "float64")), strict=True),
    "hvp_independent": lambda m: m.autograd.functional.hvp(
        lambda x, y: (x * x).sum(), (mk(m, X, "float64"), mk(m, Y, "float64")),
        (mk(m, X, "float64"), mk(m, Y, "float64")), strict=True),
    "hvp_quadratic_create_graph": lambda m: m.autograd.functional.hvp(
        lambda x: (x * x).sum(), mk(m, X, "float64"), mk(m, X, "float64"), strict=True, create_graph=True),
}


@pytest.mark.parametrize("case", list(STRICT_CASES))
def test_strict(case):
    t, _ = same(STRICT_CASES[case])


def test_strict_cases_mostly_raise():
    """The strict table is about errors: all but the case that passes in torch must raise there."""
    raising = [c for c, fn in STRICT_CASES.items() if outcome(fn, torch)[0] == "raise"]
    assert len(raising) >= len(STRICT_CASES) - 2


# ----- argument errors: non-scalar hessian, v, types, strategies -----


ERROR_CASES = {
    "hessian_nonscalar": lambda m: m.autograd.functional.hessian(lambda x: x * x, mk(m, X, "float64")),
    "hessian_tuple_output": lambda m: m.autograd.functional.hessian(lambda x: (x.sum(),), mk(m, X, "float64")),
    "vhp_nonscalar": lambda m: m.autograd.functional.vhp(lambda x: x * x, mk(m, X, "float64"), mk(m, X, "float64")),
    "hvp_tuple_output": lambda m: m.autograd.functional.hvp(
        lambda x: (x.sum(), x.sum()), mk(m, X, "float64"), mk(m, X, "float64")),
    "vjp_v_missing": lambda m: m.autograd.functional.vjp(lambda x: x * 2, mk(m, X, "float64")),
    "vjp_v_size": lambda m: m.autograd.functional.vjp(lambda x: x * 2, mk(m, X, "float64"), mk(m, Y, "float64")),
    "vjp_v_tuple_length": lambda m: m.autograd.functional.vjp(
        lambda x: (x * 2, x), mk(m, X, "float64"), (mk(m, X, "float64"),)),
    "vjp_v_tuple_entry": lambda m: m.autograd.functional.vjp(
        lambda x: (x * 2, x), mk(m, X, "float64"), (mk(m, X, "float64"), mk(m, Y, "float64"))),
    "vjp_v_not_single": lambda m: m.autograd.functional.vjp(
        lambda x: x * 2, mk(m, X, "float64"), (mk(m, X, "float64"), mk(m, X, "float64"))),
    "jvp_v_missing": lambda m: m.autograd.functional.jvp(lambda x: x * 2, mk(m, X, "float64")),
    "jvp_v_size": lambda m: m.autograd.functional.jvp(lambda x: x * 2, mk(m, X, "float64"), mk(m, Y, "float64")),
    "hvp_v_missing": lambda m: m.autograd.functional.hvp(lambda x: x.sum(), mk(m, X, "float64")),
    "vhp_v_tuple_length": lambda m: m.autograd.functional.vhp(
        lambda x, y: x.sum() * y.sum(), (mk(m, X, "float64"), mk(m, Y, "float64")), (mk(m, X, "float64"),)),
    "inputs_list": lambda m: m.autograd.functional.jacobian(lambda x: x, [mk(m, X, "float64")]),
    "inputs_tuple_entry": lambda m: m.autograd.functional.jacobian(lambda x, y: x, (mk(m, X, "float64"), 3.0)),
    "outputs_float": lambda m: m.autograd.functional.jacobian(lambda x: 3.0, mk(m, X, "float64")),
    "outputs_tuple_entry": lambda m: m.autograd.functional.vjp(
        lambda x: (x, None), mk(m, X, "float64"), mk(m, X, "float64")),
    "v_not_tensor": lambda m: m.autograd.functional.jvp(lambda x: x, mk(m, X, "float64"), [1.0]),
    "integer_input": lambda m: m.autograd.functional.jacobian(lambda x: x * 2, m.tensor([1, 2])),
    "strategy_unknown": lambda m: m.autograd.functional.jacobian(
        lambda x: x, mk(m, X, "float64"), strategy="sideways"),
    "outer_strategy_unknown": lambda m: m.autograd.functional.hessian(
        lambda x: x.sum(), mk(m, X, "float64"), outer_jacobian_strategy="sideways"),
    "forward_create_graph": lambda m: m.autograd.functional.jacobian(
        lambda x: x, mk(m, X, "float64"), strategy="forward-mode", create_graph=True),
    "forward_strict": lambda m: m.autograd.functional.jacobian(
        lambda x: x, mk(m, X, "float64"), strategy="forward-mode", strict=True),
    "forward_not_vectorized": lambda m: m.autograd.functional.jacobian(
        lambda x: x, mk(m, X, "float64"), strategy="forward-mode"),
    "hessian_forward_not_vectorized": lambda m: m.autograd.functional.hessian(
        lambda x: x.sum(), mk(m, X, "float64"), outer_jacobian_strategy="forward-mode"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors(case):
    raises_like_torch(ERROR_CASES[case])


@pytest.mark.parametrize("call", [
    lambda m: m.autograd.functional.jacobian(lambda x: x.sin(), mk(m, X, "float64"), strategy="forward-mode",
                                             vectorize=True),
    lambda m: m.autograd.functional.hessian(lambda x: x.pow(3).sum(), mk(m, X, "float64"), vectorize=True,
                                            outer_jacobian_strategy="forward-mode"),
])
def test_forward_mode(call):
    """forward-mode AD (a batched dual level; forward-over-reverse for the Hessian), as torch's: values, dtypes,
    requires_grad and grad_fn names (tests/engine/test_forward_ad.py has the rest)."""
    assert outcome(call, torch)[0] == "ok"
    same(call)


# ----- autograd.grad(is_grads_batched=True) -----


GO4 = RNG.uniform(-1, 1, (5, 4))
GO1 = RNG.uniform(-1, 1, (5,))


def batched_case(m, dtype="float64"):
    x = mk(m, X, dtype, requires_grad=True)
    w = mk(m, W, dtype, requires_grad=True)
    y = (x.mm(w).sigmoid() * 3).sum(0)
    z = x.sum()
    return x, w, y, z


@pytest.mark.parametrize("create_graph", [False, True])
def test_grad_is_grads_batched(create_graph):
    def fn(m):
        x, w, y, z = batched_case(m)
        go = (mk(m, GO4, "float64", requires_grad=create_graph), mk(m, GO1, "float64"))
        r = m.autograd.grad((y, z), (x, w), go, create_graph=create_graph, is_grads_batched=True)
        if create_graph:
            return r, m.autograd.grad(r[0].pow(2).sum(), (x, w, go[0]))
        return r
    # the nodes a batched create_graph pass records are torch's vmap's own (its batching rules), not always
    # the unbatched formulas': values, shapes and which results carry a graph are compared
    same(fn, names=False)


BATCHED_ERRORS = {
    "shape": lambda m: m.autograd.grad(batched_case(m)[2], batched_case(m)[0], m.ones(5, 3, dtype=m.float64),
                                       is_grads_batched=True),
    "sizes_differ": lambda m: m.autograd.grad(
        batched_case(m)[2:], batched_case(m)[0],
        (m.ones(5, 4, dtype=m.float64), m.ones(3, dtype=m.float64)), is_grads_batched=True),
    "zero_dim": lambda m: m.autograd.grad(batched_case(m)[3], batched_case(m)[0], m.ones((), dtype=m.float64),
                                          is_grads_batched=True),
    "empty_batch": lambda m: m.autograd.grad(batched_case(m)[3], batched_case(m)[0], m.ones(0, dtype=m.float64),
                                             is_grads_batched=True),
    "implicit_scalar": lambda m: m.autograd.grad(batched_case(m)[3], batched_case(m)[0], is_grads_batched=True),
    "implicit_nonscalar": lambda m: m.autograd.grad(batched_case(m)[2], batched_case(m)[0], is_grads_batched=True),
}


@pytest.mark.parametrize("case", list(BATCHED_ERRORS))
def test_grad_is_grads_batched_errors(case):
    raises_like_torch(BATCHED_ERRORS[case])


def test_batched_freed_graph_and_unused():
    def fn(m):
        x, w, y, z = batched_case(m)
        u = m.ones(2, requires_grad=True)
        r = m.autograd.grad(y, (x, u), m.ones(3, 4, dtype=m.float64), is_grads_batched=True, allow_unused=True)
        return r, m.autograd.grad(y, x, m.ones(3, 4, dtype=m.float64), is_grads_batched=True)
    raises_like_torch(fn)  # the second pass finds the saved tensors freed
    raises_like_torch(lambda m: m.autograd.grad(batched_case(m)[2], (batched_case(m)[0],),
                                                m.ones(2, 4, dtype=m.float64), is_grads_batched=True))


def test_batched_hooks_see_rows():
    """A tensor hook runs once per row of the batch, on that row (as under torch's vmap), and its result
    replaces that row's gradient."""
    seen = []
    x = engine.tensor(X.tolist(), dtype=engine.float64, requires_grad=True)
    h = x * 2
    h.register_hook(lambda g: (seen.append(tuple(g.shape)), g * 10)[1])
    y = (h * h).sum(1)
    r, = engine.autograd.grad(y, x, engine.eye(2, dtype=engine.float64), is_grads_batched=True)
    assert seen == [(2, 3), (2, 3)]
    rows = np.stack([engine.autograd.grad(((x * 2) * (x * 2)).sum(1), x, engine.eye(2, dtype=engine.float64)[i])[0]
                     .numpy() for i in range(2)])
    np.testing.assert_array_equal(r.numpy(), rows * 10)


# ----- limits: what a request can make these functions allocate or loop over -----


def test_jacobian_basis_is_charged_before_it_is_allocated():
    """A vectorized Jacobian of an output of n elements allocates an n x n basis: under a request's budget a
    large n stops before allocating (not after)."""
    x = engine.zeros(20_000, dtype=engine.float64)
    with budget.active(budget.Budget(max_bytes=50 << 20)), pytest.raises(engine.errors.LimitExceeded):
        engine.autograd.functional.jacobian(lambda a: a * 2, x, vectorize=True)


def test_jacobian_rows_loop_checks_the_deadline():
    x = engine.zeros(50, dtype=engine.float64)
    b = budget.Budget()
    b.cancel()
    with budget.active(b), pytest.raises(budget.DeadlinePassed):
        engine.autograd.functional.jacobian(lambda a: a * 2, x)
    leaf = engine.zeros(50, dtype=engine.float64, requires_grad=True)
    y = leaf * 2
    with budget.active(b), pytest.raises(budget.DeadlinePassed):
        engine.autograd.grad(y, leaf, engine.eye(50, dtype=engine.float64), is_grads_batched=True)


# ----- vectorize=True really batches -----


def test_vectorized_jacobian_is_one_backward_pass(monkeypatch):
    """vectorize=True: one autograd.grad call for all output elements, and every node of an MLP-shaped graph
    (mm, relu, sum, sqrt, mul) runs once on the whole batch, none of them row by row."""
    import engine.autograd.batched as batched
    import engine.autograd.functional as functional

    calls = {"grad": 0, "rows": 0}
    real_grad, real_rows = functional.grad, batched._per_row

    def counting_grad(*a, **k):
        calls["grad"] += 1
        return real_grad(*a, **k)

    def counting_rows(*a, **k):
        calls["rows"] += 1
        return real_rows(*a, **k)

    monkeypatch.setattr(functional, "grad", counting_grad)
    monkeypatch.setattr(batched, "_per_row", counting_rows)
    inputs = (mk(engine, X, "float64"), mk(engine, W, "float64"))
    functional.jacobian(f_mlp(engine), inputs, vectorize=True)
    assert calls == {"grad": 1, "rows": 0}
    functional.jacobian(f_mlp(engine), inputs)
    assert calls["grad"] == 1 + 2  # row by row: one pass per output element
    functional.jacobian(f_fallback_ops(engine), inputs[0], vectorize=True)
    assert calls["grad"] == 4 and calls["rows"] > 0  # cat, softmax, ...: per row inside the one pass


EDGE_CASES = {
    "empty_output_rows": lambda m: m.autograd.functional.jacobian(lambda x: x[:0], m.ones(3, dtype=m.float64)),
    "empty_output_vectorized": lambda m: m.autograd.functional.jacobian(
        lambda x: x[:0], m.ones(3, dtype=m.float64), vectorize=True),
    "empty_and_full_outputs": lambda m: m.autograd.functional.jacobian(
        lambda x: (x[:0], x * 2), m.ones(3, dtype=m.float64), vectorize=True),
    "empty_input": lambda m: m.autograd.functional.jacobian(
        lambda x: x.sum() + 1, m.ones(0, dtype=m.float64), vectorize=True),
    "integer_output_vectorized": lambda m: m.autograd.functional.jacobian(
        lambda x: (x * 2, x.argmax()), m.ones(3, dtype=m.float64), vectorize=True),
    "integer_output_rows": lambda m: m.autograd.functional.jacobian(
        lambda x: (x * 2, x.argmax()), m.ones(3, dtype=m.float64)),
    "zero_dim": lambda m: m.autograd.functional.jacobian(lambda x: x * x, m.tensor(3.0), vectorize=True),
    "hessian_zero_dim": lambda m: m.autograd.functional.hessian(lambda x: x * x * x, m.tensor(3.0), vectorize=True),
    "float32_in_float64_out": lambda m: m.autograd.functional.jacobian(
        lambda x: x.double() * 2, m.ones(2), vectorize=True),
    "output_without_grad": lambda m: m.autograd.functional.jacobian(lambda x: m.ones(2), m.ones(2), vectorize=True),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_cases(case):
    same(EDGE_CASES[case])
