"""engine.autograd.forward_ad against live torch 2.13: dual levels, make_dual / unpack_dual and their errors, what
prints, in-place ops and views on dual tensors, reverse-over-forward, custom Functions' jvp, the transforms that use
forward mode (autograd.functional's jacobian / hessian, func.jvp / jacfwd / hessian, gradcheck's forward checks),
and the engine's own guarantees (a level per thread, budgets, nothing left behind).

Each case is a function of a module `m` (torch or engine) run on both and compared as a nested structure: tensors
by shape, dtype, requires_grad, grad_fn name and values; anything else by equality; an exception by its builtin
class and message. Tangents are read inside the level (they are gone after it), so cases return them.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import engine
import engine.autograd.forward_ad  # noqa: F401
from engine import budget
from engine.errors import LimitExceeded
from tests.engine.test_func import mk
from tests.engine.test_functional import JAC_CASES, f_two_in, raises_like_torch, s_scalar, s_two, same
from tests.engine.test_functional import X as FX
from tests.engine.test_functional import Y as FY
from tests.engine.test_functional import mk as fmk

RNG = np.random.default_rng(1616)
A = RNG.uniform(-1, 1, (2, 3))
T1 = RNG.uniform(-1, 1, (2, 3))
T2 = RNG.uniform(-1, 1, (2, 3))
V = RNG.uniform(-1, 1, (3,))


def fw(m):
    return m.autograd.forward_ad


def tangent(m, t):
    return fw(m).unpack_dual(t).tangent


# ----- the API -----


def _basics(m):
    x, t = mk(m, A), mk(m, T1)
    with fw(m).dual_level() as level:
        d = fw(m).make_dual(x, t)
        p, tan = fw(m).unpack_dual(d)
        y = (d * d).sin()
        inside = (level, tan is t, p is d, d._base is x, p._base is x, fw(m).unpack_dual(x).tangent is None,
                  y, tangent(m, y), tangent(m, d.detach()), tangent(m, d.data), tangent(m, d.clone()))
    after = fw(m).unpack_dual(y)
    return inside + (after.primal is y, after.tangent, type(after).__name__, after._fields)


def _no_grad(m):
    with fw(m).dual_level():
        d = fw(m).make_dual(mk(m, A), mk(m, T1))
        with m.no_grad():
            y = d.exp() * 3
        return y, tangent(m, y)


def _levels(m):
    out = [fw(m).enter_dual_level()]
    out.append(fw(m).exit_dual_level())
    out.append(fw(m).enter_dual_level())
    fw(m).exit_dual_level(level=0)

    @fw(m).dual_level()
    def decorated(x):
        return tangent(m, fw(m).make_dual(x, x * 2) * 3)

    out.append(decorated(mk(m, V)))
    return out


def _requires_grad_dual(m):
    x = mk(m, A, requires_grad=True)
    with fw(m).dual_level():
        d = fw(m).make_dual(x, mk(m, T1))
        p = fw(m).unpack_dual(d).primal
        return d, p.grad_fn.name(), p.grad_fn.next_functions[0][0] is d.grad_fn, p.requires_grad, tangent(m, d.exp())


def _mixed_dtype_tangent(m):
    with fw(m).dual_level():
        d = fw(m).make_dual(mk(m, A), mk(m, T1, "float32"))
        return tangent(m, d), tangent(m, d * 2), tangent(m, d.sin()), tangent(m, d + mk(m, T2))


def _layout(m):
    x = mk(m, A).t()
    with fw(m).dual_level():
        contiguous = mk(m, T1).t().contiguous()
        d = fw(m).make_dual(x, contiguous)
        tan = tangent(m, d)
        return tan is contiguous, tan.stride() == x.stride(), tan


def _repr(m):
    with fw(m).dual_level():
        a = fw(m).make_dual(mk(m, A), mk(m, T1))
        b = fw(m).make_dual(mk(m, A, "float32", requires_grad=True), mk(m, T1, "float32"))
        c = fw(m).make_dual(mk(m, 2.0), mk(m, 1.0))
        return repr(a), repr(b), repr(b.exp()), repr(c), repr(fw(m).unpack_dual(b).primal)


API_CASES = {"basics": _basics, "no_grad": _no_grad, "levels": _levels, "requires_grad_dual": _requires_grad_dual,
             "mixed_dtype_tangent": _mixed_dtype_tangent, "layout": _layout, "repr": _repr}


@pytest.mark.parametrize("case", list(API_CASES))
def test_api(case):
    same(API_CASES[case])


def _in_level(fn):
    def run(m):
        with fw(m).dual_level():
            return fn(m)
    return run


ERROR_CASES = {
    "make_dual_outside_a_level": lambda m: fw(m).make_dual(mk(m, A), mk(m, T1)),
    "nested_level": _in_level(lambda m: fw(m).enter_dual_level()),
    "exit_without_level": lambda m: fw(m).exit_dual_level(),
    "exit_other_level": _in_level(lambda m: fw(m).exit_dual_level(level=1)),
    "size_mismatch": _in_level(lambda m: fw(m).make_dual(mk(m, A), mk(m, V))),
    "size_mismatch_broadcastable": _in_level(lambda m: fw(m).make_dual(mk(m, A), mk(m, T1[:1]))),
    "integer_primal": _in_level(lambda m: fw(m).make_dual(m.tensor([1, 2]), mk(m, [1.0, 2.0]))),
    "integer_tangent": _in_level(lambda m: fw(m).make_dual(mk(m, [1.0, 2.0]), m.tensor([1, 2]))),
    "not_a_tensor": _in_level(lambda m: fw(m).make_dual(3, mk(m, V))),
    "invalid_level": _in_level(lambda m: fw(m).make_dual(mk(m, A), mk(m, T1), level=5)),
    "unpack_invalid_level": _in_level(lambda m: fw(m).unpack_dual(fw(m).make_dual(mk(m, A), mk(m, T1)), level=2)),
    "dual_of_a_dual": _in_level(lambda m: fw(m).make_dual(fw(m).make_dual(mk(m, A), mk(m, T1)), mk(m, T2))),
    "floor_divide": _in_level(lambda m: fw(m).make_dual(mk(m, A), mk(m, T1)) // 2),
    "scalar_remainder": _in_level(lambda m: 3.0 % fw(m).make_dual(mk(m, A), mk(m, T1))),
    "inplace_on_a_view_of_a_leaf": _in_level(
        lambda m: fw(m).make_dual(mk(m, A, requires_grad=True), mk(m, T1)).mul_(2)),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors(case):
    raises_like_torch(ERROR_CASES[case])
    assert engine.autograd.forward_ad.current_level() == -1  # a failed case leaves no level behind


def test_unpack_outside_a_level_and_level_minus_one():
    same(lambda m: (fw(m).unpack_dual(mk(m, A)).tangent, fw(m).unpack_dual(mk(m, A), level=-1).tangent))
    same(_in_level(lambda m: tuple(fw(m).unpack_dual(mk(m, A), level=2))))  # a plain tensor: no level check
    same(_in_level(lambda m: fw(m).unpack_dual(fw(m).make_dual(mk(m, A), mk(m, T1)), level=-1).tangent))


# ----- in-place ops and views -----


def _dual(m, a=A, t=T1):
    return fw(m).make_dual(mk(m, a), mk(m, t))


def _inplace_keeps_the_tangent_object(m):
    t = mk(m, T1)
    d = fw(m).make_dual(mk(m, A), t)
    d.mul_(mk(m, T2)).add_(1.5).sin_()
    return tangent(m, d) is t, t


def _view_tangent_is_a_view(m):
    base_t = mk(m, T1)
    b = fw(m).make_dual(mk(m, A), base_t)
    v = b[1]
    vt = tangent(m, v)
    v.mul_(3)
    return vt._base is base_t, base_t, tangent(m, b[:, 1:].t())


def _inplace_gives_a_base_its_tangent(m):
    y = m.zeros(2, 3, dtype=m.float64)
    yv = y[1]
    yv.add_(fw(m).make_dual(mk(m, V), mk(m, V * 5)))
    z = m.zeros(3, dtype=m.float64)
    z.copy_(fw(m).make_dual(mk(m, V), mk(m, V * 7)))
    w = m.zeros(2, 3, dtype=m.float64)
    w[0] = fw(m).make_dual(mk(m, V), mk(m, V * 2))
    return tangent(m, y), tangent(m, yv), tangent(m, z), tangent(m, w)


def _overwrites(m):
    a, b, c, d, e = (_dual(m) for _ in range(5))
    a.copy_(mk(m, T2))  # a plain source: the tangent becomes zeros
    b.fill_(2.0)
    c.zero_()
    d.fill_(fw(m).make_dual(mk(m, 1.5), mk(m, 0.25)))
    e[:, 1] = 4.0
    return [tangent(m, x) for x in (a, b, c, d, e)]


def _advanced_setitem(m):
    d = _dual(m)
    d[m.tensor([0, 1]), m.tensor([2, 0])] = fw(m).make_dual(mk(m, [1.0, 2.0]), mk(m, [3.0, 4.0]))
    return d, tangent(m, d)


def _nn_inplace(m):
    F = m.nn.functional
    a, b, c = _dual(m), _dual(m), _dual(m)
    F.relu(a, inplace=True)
    F.leaky_relu(b, 0.2, inplace=True)
    F.elu(c, inplace=True)
    return [tangent(m, x) for x in (a, b, c)]


def _metadata_inplace(m):
    d = _dual(m)
    d.t_()
    e = _dual(m)
    e.unsqueeze_(0)
    return d, tangent(m, d), tangent(m, e)


def _nonleaf_inplace(m):
    x = mk(m, A, requires_grad=True)
    d = fw(m).make_dual(x * 1, mk(m, T1))
    d.exp_()
    return d, tangent(m, d), m.autograd.grad(d.sum(), x)[0]


INPLACE_CASES = {"keeps_the_tangent_object": _inplace_keeps_the_tangent_object,
                 "view_tangent_is_a_view": _view_tangent_is_a_view,
                 "gives_a_base_its_tangent": _inplace_gives_a_base_its_tangent, "overwrites": _overwrites,
                 "advanced_setitem": _advanced_setitem, "nn_inplace": _nn_inplace,
                 "metadata_inplace": _metadata_inplace, "nonleaf_inplace": _nonleaf_inplace}


@pytest.mark.parametrize("case", list(INPLACE_CASES))
def test_inplace_and_views(case):
    same(_in_level(INPLACE_CASES[case]))


def test_random_fill_zeroes_the_tangent():
    for m in (torch, engine):
        with fw(m).dual_level():
            d = _dual(m)
            d.normal_()
            assert not tangent(m, d).numpy().any()


# ----- reverse-over-forward: a tangent's own gradient -----


def _reverse_over_forward(m):
    x = mk(m, A, requires_grad=True)
    t = mk(m, T1, requires_grad=True)
    with fw(m).dual_level():
        d = fw(m).make_dual(x, t)
        y = (d.sin() * d).sum(1).exp() + m.nn.functional.softplus(d).mean()
        tan = tangent(m, y)
        gx, gt = m.autograd.grad(tan.sum(), (x, t), create_graph=True)
        return tan, gx, gt


def test_reverse_over_forward():
    same(_reverse_over_forward)


# ----- custom Functions -----


def _functions(m):
    class Scale(m.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, k):
            ctx.save_for_forward(x, y)
            ctx.k = k
            seen = fw(m).unpack_dual(x * 2).tangent  # forward runs with no tangent in sight
            return x * y * k, x + 0, seen is None

        @staticmethod
        def backward(ctx, g, h, _):
            return g, g, None

        @staticmethod
        def jvp(ctx, xt, yt, kt):
            x, y = ctx.saved_tensors
            return (xt * y + x * yt) * ctx.k, xt, None

    class Dirty(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

        @staticmethod
        def jvp(ctx, xt):
            xt.mul_(2)
            return xt

    with fw(m).dual_level():
        x = fw(m).make_dual(mk(m, V), mk(m, V * 0 + 1))
        xr = fw(m).make_dual(mk(m, V, requires_grad=True), mk(m, -V))
        a, b, seen = Scale.apply(x, mk(m, V * 2), 3.0)
        ar, _, _ = Scale.apply(xr, mk(m, V * 2), 3.0)
        xd = fw(m).make_dual(mk(m, V), mk(m, V * 0 + 1))
        out = Dirty.apply(xd)
        return (a, tangent(m, a), tangent(m, b), seen, ar, tangent(m, ar), tangent(m, out), tangent(m, xd))


def _doubling_function(m, jvp=None):
    """A Function doubling its input, with `jvp` as its forward-mode formula where one is given."""
    class Fn(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    if jvp is not None:
        Fn.jvp = staticmethod(jvp)
    return Fn


def _function_errors(m, jvp):
    Fn = _doubling_function(m, jvp)
    with fw(m).dual_level():
        return Fn.apply(fw(m).make_dual(mk(m, V), mk(m, V)))


FUNCTION_ERRORS = {
    "no_jvp": None,
    "too_many": lambda ctx, t: (t, t),
    "wrong_size": lambda ctx, t: t.sum(),
    "none": lambda ctx, t: None,
    "not_a_tensor": lambda ctx, t: 3.0,
}


def test_custom_function_jvp():
    same(_functions)


@pytest.mark.parametrize("case", list(FUNCTION_ERRORS))
def test_custom_function_jvp_errors(case):
    raises_like_torch(lambda m: _function_errors(m, FUNCTION_ERRORS[case]))


def test_custom_function_without_jvp_is_fine_without_tangents():
    same(lambda m: _in_level(lambda m: _function_errors_plain(m))(m))


def _function_errors_plain(m):
    return _doubling_function(m).apply(mk(m, V))


# ----- autograd.functional with strategy="forward-mode" -----


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(JAC_CASES))
def test_functional_jacobian_forward_mode(case, dtype):
    f, inputs = JAC_CASES[case]
    same(lambda m: m.autograd.functional.jacobian(f(m), inputs(m, dtype), strategy="forward-mode", vectorize=True))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["single", "tuple"])
def test_functional_hessian_forward_over_reverse(case, dtype):
    def call(m):
        if case == "single":
            return m.autograd.functional.hessian(s_scalar(m), fmk(m, FX, dtype), vectorize=True,
                                                 outer_jacobian_strategy="forward-mode")
        return m.autograd.functional.hessian(s_two(m), (fmk(m, FX, dtype), fmk(m, FY, dtype)), vectorize=True,
                                             outer_jacobian_strategy="forward-mode")
    same(call)


FUNCTIONAL_CASES = {
    "inputs_that_require_grad": lambda m: m.autograd.functional.jacobian(
        lambda x: x.sin(), fmk(m, FX, "float64", requires_grad=True), strategy="forward-mode", vectorize=True),
    "output_independent": lambda m: m.autograd.functional.jacobian(
        lambda x, y: (x * 2, m.ones(2, dtype=m.float64)), (fmk(m, FX, "float64"), fmk(m, FY, "float64")),
        strategy="forward-mode", vectorize=True),
    "hessian_create_graph": lambda m: m.autograd.functional.hessian(
        s_scalar(m), fmk(m, FX, "float64"), vectorize=True, outer_jacobian_strategy="forward-mode",
        create_graph=True),
    "hessian_strict": lambda m: m.autograd.functional.hessian(
        s_scalar(m), fmk(m, FX, "float64"), vectorize=True, outer_jacobian_strategy="forward-mode", strict=True),
    "two_inputs": lambda m: m.autograd.functional.jacobian(
        f_two_in(m), (fmk(m, FX, "float64"), fmk(m, FY, "float64")), strategy="forward-mode", vectorize=True),
    "softmax_over_rows": lambda m: m.autograd.functional.hessian(
        lambda x: (x.softmax(1) * x).sum(), fmk(m, FX, "float64"), vectorize=True,
        outer_jacobian_strategy="forward-mode"),
}


@pytest.mark.parametrize("case", list(FUNCTIONAL_CASES))
def test_functional_forward_mode_cases(case):
    same(FUNCTIONAL_CASES[case])


# ----- torch.func: jvp, jacfwd, hessian -----


def _f2(m):
    return lambda x, w: (x @ w).tanh().sum(0) * w.sum()


FUNC_CASES = {
    "jvp": lambda m: m.func.jvp(_f2(m), (mk(m, A), mk(m, V)), (mk(m, T1), mk(m, -V))),
    "jvp_has_aux": lambda m: m.func.jvp(lambda x: (x.exp(), x.sum()), (mk(m, A),), (mk(m, T1),), has_aux=True),
    "jvp_pytree_out": lambda m: m.func.jvp(lambda x: {"a": x.sin(), "b": (x.cos(), x * 2)}, (mk(m, A),),
                                           (mk(m, T1),)),
    "jvp_independent_output": lambda m: m.func.jvp(lambda x: (x * 2, m.ones(2)), (mk(m, A),), (mk(m, T1),)),
    "jacfwd": lambda m: m.func.jacfwd(_f2(m))(mk(m, A), mk(m, V)),
    "jacfwd_argnums": lambda m: m.func.jacfwd(_f2(m), argnums=(0, 1))(mk(m, A), mk(m, V)),
    "jacfwd_negative_argnums": lambda m: m.func.jacfwd(_f2(m), argnums=-1)(mk(m, A), mk(m, V)),
    "jacfwd_has_aux": lambda m: m.func.jacfwd(lambda x: (x.exp().sum(1), x.sum()), has_aux=True)(mk(m, A)),
    "jacfwd_scalar_in_out": lambda m: m.func.jacfwd(lambda x: (x * x).sin())(mk(m, 0.7)),
    "jacfwd_float32": lambda m: m.func.jacfwd(_f2(m), argnums=(0, 1))(mk(m, A, "float32"), mk(m, V, "float32")),
    "hessian": lambda m: m.func.hessian(lambda x, w: ((x @ w).softmax(0) * w).sum(), argnums=(0, 1))(
        mk(m, A), mk(m, V)),
    "jacfwd_of_jacfwd": lambda m: m.func.jacfwd(m.func.jacrev(lambda x: x.pow(3).prod()))(mk(m, V)),
    "jacfwd_keeps_outside_graph": lambda m: _outside_graph(m),
}


def _outside_graph(m):
    w = mk(m, V, requires_grad=True)
    return m.func.jacfwd(lambda x: x * w)(mk(m, V)), m.func.jacfwd(lambda x: x.sin())(mk(m, V, requires_grad=True))


FUNC_ERRORS = {
    "jvp_primals_not_tuple": lambda m: m.func.jvp(lambda x: x, [mk(m, A)], (mk(m, A),)),
    "jvp_structure": lambda m: m.func.jvp(_f2(m), (mk(m, A), mk(m, V)), (mk(m, A),)),
    "jvp_not_tensor": lambda m: m.func.jvp(_f2(m), (mk(m, A), mk(m, V)), (mk(m, A), 3)),
    "jvp_strict": lambda m: m.func.jvp(lambda x: m.ones(2), (mk(m, A),), (mk(m, A),), strict=True),
    "jvp_output_not_tensor": lambda m: m.func.jvp(lambda x: 3, (mk(m, A),), (mk(m, A),)),
    "jvp_has_aux_not_pair": lambda m: m.func.jvp(lambda x: x, (mk(m, A),), (mk(m, A),), has_aux=True),
    "jacfwd_randomness": lambda m: m.func.jacfwd(lambda x: x, randomness="x")(mk(m, A)),
    "jacfwd_argnums_out_of_range": lambda m: m.func.jacfwd(lambda x: x, argnums=2)(mk(m, A)),
}


@pytest.mark.parametrize("case", list(FUNC_CASES))
def test_func(case):
    same(FUNC_CASES[case])


@pytest.mark.parametrize("case", list(FUNC_ERRORS))
def test_func_errors(case):
    raises_like_torch(FUNC_ERRORS[case])


# ----- gradcheck's forward-mode checks -----


class _Wrong:
    """A custom Function whose jvp is wrong by half (its backward is right): forward checks must fail."""

    @staticmethod
    def make(m):
        class Cube(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                ctx.save_for_forward(x)
                return x * x * x

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return 3 * x * x * g

            @staticmethod
            def jvp(ctx, t):
                x, = ctx.saved_tensors
                return 1.5 * x * x * t

        return Cube


GRADCHECK_CASES = {
    "passes": lambda m: m.autograd.gradcheck(lambda x, y: ((x * y).sin(), x.exp().sum()),
                                             (mk(m, A, requires_grad=True), mk(m, T1, requires_grad=True)),
                                             check_forward_ad=True),
    "passes_fast": lambda m: m.autograd.gradcheck(lambda x: x.tanh().cumsum(1), mk(m, A, requires_grad=True),
                                                  check_forward_ad=True, fast_mode=True),
    "batched": lambda m: m.autograd.gradcheck(lambda x: (x @ x.t()).softmax(1), mk(m, A, requires_grad=True),
                                              check_forward_ad=True, check_batched_forward_grad=True),
    "forward_only": lambda m: m.autograd.gradcheck(lambda x: x.pow(3), mk(m, A, requires_grad=True),
                                                   check_forward_ad=True, check_backward_ad=False),
    "wrong_jvp": lambda m: m.autograd.gradcheck(_Wrong.make(m).apply, mk(m, A, requires_grad=True),
                                                check_forward_ad=True, check_backward_ad=False),
    "wrong_jvp_no_raise": lambda m: m.autograd.gradcheck(_Wrong.make(m).apply, mk(m, A, requires_grad=True),
                                                         check_forward_ad=True, raise_exception=False),
    "fwd_over_rev": lambda m: m.autograd.gradgradcheck(lambda x: (x.sin() * x).sum(1),
                                                       mk(m, A, requires_grad=True), check_fwd_over_rev=True),
    "fwd_over_rev_only": lambda m: m.autograd.gradgradcheck(
        lambda x: x.exp() * x, mk(m, A, requires_grad=True), check_fwd_over_rev=True, check_rev_over_rev=False,
        check_undefined_grad=False),
}


@pytest.mark.parametrize("case", list(GRADCHECK_CASES))
def test_gradcheck_forward(case):
    same(GRADCHECK_CASES[case])


def test_gradcheck_forward_fast_mode_failure():
    """Fast mode's message prints J u from dual tensors and from a central difference: the engine's J u is the
    tangent of one pass (no dot product), so the whole message matches torch's byte for byte."""
    same(lambda m: m.autograd.gradcheck(_Wrong.make(m).apply, mk(m, A, requires_grad=True), check_forward_ad=True,
                                        check_backward_ad=False, fast_mode=True))


# ----- the engine's own guarantees -----


def test_a_level_is_per_thread():
    """A level entered on one thread gives no tangents on another, which may enter its own."""
    fwad = engine.autograd.forward_ad
    seen = {}

    def other():
        x = mk(engine, A)
        seen["level"] = fwad.current_level()
        seen["product"] = fwad.unpack_dual(x * 2).tangent
        with fwad.dual_level():
            seen["own"] = fwad.unpack_dual(fwad.make_dual(x, mk(engine, T1)).exp()).tangent is not None

    with fwad.dual_level():
        d = fwad.make_dual(mk(engine, A), mk(engine, T1))
        th = threading.Thread(target=other)
        th.start()
        th.join()
        assert fwad.unpack_dual(d * 2).tangent is not None
    assert seen == {"level": -1, "product": None, "own": True}


def test_nothing_is_left_behind():
    """Exiting a level drops its tangents from the tensors that outlive it, and the op table's hook is off."""
    from engine.ops import registry

    fwad = engine.autograd.forward_ad
    with fwad.dual_level():
        d = fwad.make_dual(mk(engine, A), mk(engine, T1))
        y = d.sin()
        assert registry._dual == 1
    assert registry._dual == 0 and engine.autograd._fw_levels == 0
    assert y._fw is None and d._fw is None
    assert not hasattr(mk(engine, A), "_fw")  # a tensor made outside forward AD never has the slot set


def test_tangents_are_charged_to_the_request():
    """Under a request's budget the tangents' ops are charged as ops are: more flops with a level than without;
    and a forward-mode Jacobian whose basis cannot fit is refused before it is allocated."""
    fwad = engine.autograd.forward_ad
    x = mk(engine, A)

    def run(dual):
        b = budget.Budget()
        with budget.active(b):
            if dual:
                with fwad.dual_level():
                    (fwad.make_dual(x, mk(engine, T1)).sin() * x).exp().sum()
            else:
                (x.sin() * x).exp().sum()
        return b.used_flops

    assert run(True) > run(False) > 0
    big = engine.zeros(40000, dtype=engine.float64)
    with budget.active(budget.Budget(max_bytes=50 << 20)), pytest.raises(LimitExceeded):
        engine.autograd.functional.jacobian(lambda v: v * 2, big, strategy="forward-mode", vectorize=True)


def test_batched_rows_check_the_deadline():
    """An op without a batch rule runs once per row of a batched level: that loop stops when the request is
    cancelled (what its deadline does) like every loop a request sizes, not after its last row."""
    fwad = engine.autograd.forward_ad
    b = budget.Budget()
    rows = 200000
    canceller = threading.Timer(0.3, b.cancel)
    with budget.active(b), fwad._batched_level(rows):
        d = fwad.make_dual(mk(engine, V), engine.zeros(rows, 3, dtype=engine.float64))
        canceller.start()
        try:
            with pytest.raises(budget.DeadlinePassed):
                engine.roll(d, 1)  # roll has no batch rule: 200,000 rows, one at a time
        finally:
            canceller.cancel()


def test_forward_over_reverse_through_an_entry_torch_has_no_forward_formula_for():
    """hardsigmoid's backward (aten::hardsigmoid_backward) has no forward formula in torch: a gradient taken with
    create_graph under a dual level where the input has a tangent raises torch's NotImplementedError, word for
    word; the entry is marked jvp=unsupported(...) and must refuse, not drop the tangent."""
    def f(m):
        fa = m.autograd.forward_ad
        with fa.dual_level():
            x = m.tensor([-4.0, 0.5, 1.0, 4.0], dtype=m.float64, requires_grad=True)
            xd = fa.make_dual(x, m.tensor([1.0, 2.0, 3.0, 4.0], dtype=m.float64))
            y = m.nn.functional.hardsigmoid(xd).sum()
            (g,) = m.autograd.grad(y, x, create_graph=True)
            return fa.unpack_dual(g).tangent
    raises_like_torch(f)
