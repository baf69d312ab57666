"""engine.autograd.gradcheck / gradgradcheck against live torch 2.13: passing checks, and failing ones whose
GradcheckError message must be torch's byte for byte (it prints both Jacobians, so the finite differences
must be torch's: central, eps, C order). A wrong gradient is made the same way in both frameworks: a tensor
hook that returns a wrong gradient.

Fast mode's message prints two full-precision scalars, v^T J u computed both ways; the analytical one is a
dot product that torch hands to MKL, whose summation order is its own (and the CPU's): those two numbers are
compared to 1e-12 (float32: 1e-6), every other byte exactly.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

import engine
from engine import budget

RNG = np.random.default_rng(1616)
X = RNG.uniform(-1, 1, (2, 3))
W = RNG.uniform(-1, 1, (3,))
GO = RNG.uniform(-1, 1, (2,))
_FAST_SCALARS = re.compile(r"^(.*?,\n)numerical:(\S+)\nanalytical:(\S+)\n", re.DOTALL)


def outcome(fn, m):
    """("ok", result, warnings) or ("raise", builtin class, message, warnings) of fn(m)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            r = ("ok", fn(m))
        except Exception as e:  # noqa: BLE001
            builtin = next(c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins")
            r = ("raise", type(e).__name__, builtin, str(e))
    msgs = tuple(str(w.message) for w in caught if "gradcheck" in str(w.message) or "Input #" in str(w.message)
                 or "Backwards compatibility" in str(w.message))
    return r + (msgs,)


def same(fn, fast_scalars=False, scalar_rtol=1e-12):
    t, e = outcome(fn, torch), outcome(fn, engine)
    if fast_scalars and t[0] == e[0] == "raise":
        (t, tn), (e, en) = _split_fast(t), _split_fast(e)
        np.testing.assert_allclose(en, tn, rtol=scalar_rtol)
    assert e == t
    return t


def _split_fast(r):
    """Take fast mode's two scalars out of the message (compared to a tolerance instead), keep the rest."""
    m = _FAST_SCALARS.match(r[3])
    if m is None:
        return r, ()
    rest = m[1] + "numerical:<n>\nanalytical:<a>\n" + r[3][m.end():]
    return r[:3] + (rest,) + r[4:], (float(m[2]), float(m[3]))


def mk(m, a, dtype="float64", requires_grad=True):
    return m.tensor(np.asarray(a).tolist(), dtype=getattr(m, dtype), requires_grad=requires_grad)


def scaled_grad(factor):
    """f(x, w) whose gradient w.r.t. x is scaled by `factor` by a hook on an intermediate tensor."""
    def fn(x, w):
        y = x * 2
        if factor != 1:
            y.register_hook(lambda g: g * factor)
        return (y.sin() * w).sum(1), (x * w).exp()
    return fn


def polynomial_hooked(factor):
    """Arithmetic only (exact in both frameworks, so float32 finite differences agree bit for bit)."""
    def fn(x):
        y = x * x
        if factor != 1:
            y.register_hook(lambda g: g * factor)
        return y * 3 + x
    return fn


# ----- passing checks -----


@pytest.mark.parametrize("fast_mode", [False, True])
@pytest.mark.parametrize("case", ["two_in_two_out", "one_in", "non_tensor_arg", "int_output", "batched"])
def test_passes(case, fast_mode):
    def fn(m):
        gc = m.autograd.gradcheck
        if case == "two_in_two_out":
            return gc(scaled_grad(1), (mk(m, X), mk(m, W)), fast_mode=fast_mode)
        if case == "one_in":
            return gc(lambda x: (x.pow(3) * x.cos()).softmax(1), mk(m, X), fast_mode=fast_mode)
        if case == "non_tensor_arg":
            return gc(lambda x, k, w: (x * k + w).tanh(), (mk(m, X), 2.5, mk(m, W, requires_grad=False)),
                      fast_mode=fast_mode)
        if case == "int_output":
            return gc(lambda x: (x.exp(), x.argmax()), mk(m, X), fast_mode=fast_mode)
        return gc(lambda x, w: m.cat([x * w, x.t().mm(x)], 0).sum(0), (mk(m, X), mk(m, W)), fast_mode=fast_mode,
                  check_batched_grad=True)
    assert same(fn)[:2] == ("ok", True)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradgradcheck_passes(fast_mode):
    def fn(m):
        f = lambda x, w: ((x * w).sin() * x).sum(1)  # noqa: E731
        return (m.autograd.gradgradcheck(f, (mk(m, X), mk(m, W)), (mk(m, GO),), fast_mode=fast_mode),
                m.autograd.gradgradcheck(f, (mk(m, X), mk(m, W)), fast_mode=fast_mode),
                m.autograd.gradgradcheck(f, (mk(m, X), mk(m, W)), check_batched_grad=True))
    assert same(fn)[:2] == ("ok", (True, True, True))


# ----- failing checks: the message, byte for byte -----


@pytest.mark.parametrize("fast_mode", [False, True])
@pytest.mark.parametrize("factor", [1.5, -1.0, 0.0])
def test_wrong_gradient_message(factor, fast_mode):
    t = same(lambda m: m.autograd.gradcheck(scaled_grad(factor), (mk(m, X), mk(m, W)), fast_mode=fast_mode),
             fast_scalars=fast_mode)
    assert t[:2] == ("raise", "GradcheckError")
    assert "Jacobian mismatch for output 0 with respect to input 0" in t[3]


@pytest.mark.parametrize("fast_mode", [False, True])
def test_wrong_gradient_second_input(fast_mode):
    def fn(m):
        def f(x, w):
            v = w * 1.0
            v.register_hook(lambda g: g * 2)
            return (x * v).sum(0)
        return m.autograd.gradcheck(f, (mk(m, X), mk(m, W)), fast_mode=fast_mode)
    t = same(fn, fast_scalars=fast_mode)
    assert "Jacobian mismatch for output 0 with respect to input 1" in t[3]


@pytest.mark.parametrize("fast_mode", [False, True])
def test_float32_warning_and_failure(fast_mode):
    """float32 inputs: torch's warning per input, and (with eps=1e-6) a failure whose finite differences,
    computed in float32 by exact arithmetic, print identically."""
    t = same(lambda m: m.autograd.gradcheck(polynomial_hooked(1.25), mk(m, X, "float32"), fast_mode=fast_mode),
             fast_scalars=fast_mode, scalar_rtol=1e-6)
    assert t[0] == "raise" and t[-1] and t[-1][0].startswith("Input #0 requires gradient and is not a double")


def test_float32_warning_on_a_pass():
    t = same(lambda m: m.autograd.gradcheck(polynomial_hooked(1), mk(m, X * 0, "float32"), atol=1e-1))
    assert t[:2] == ("ok", True) and len(t[-1]) == 1


def test_raise_exception_false():
    t = same(lambda m: m.autograd.gradcheck(scaled_grad(2.0), (mk(m, X), mk(m, W)), raise_exception=False))
    assert t[:2] == ("ok", False)


def test_gradgradcheck_wrong_second_derivative():
    """The first derivative is right, the second wrong: the hook adds (g - g.detach()) / 2, zero in value
    but not in its derivative."""
    def fn(m):
        def f(x):
            y = x * x
            y.register_hook(lambda g: g + (g - g.detach()) * 0.5)
            return y.sum(1)
        return m.autograd.gradgradcheck(f, (mk(m, X),), (mk(m, GO),))
    t = same(fn)
    assert t[:2] == ("raise", "GradcheckError")


def test_no_differentiable_outputs():
    t = same(lambda m: m.autograd.gradcheck(lambda x: (x * 2).detach(), mk(m, X)))
    assert t[3] == "Numerical gradient for function expected to be zero"
    t = same(lambda m: m.autograd.gradcheck(lambda x: (x * 2).detach(), mk(m, X), fast_mode=True))
    assert t[3] == "Numerical gradient for function expected to be zero"


def test_backward_not_multiplied_by_grad_output():
    def fn(m):
        def f(x):
            y = x * 2
            y.register_hook(lambda g: g + (g.abs().sum() == 0).to(g.dtype))
            return y
        return m.autograd.gradcheck(f, mk(m, X))
    assert same(fn)[3] == "backward not multiplied by grad_output"


def test_not_reentrant():
    def fn(m):
        calls = [0]

        def f(x):
            y = x * 2

            def hook(g):
                calls[0] += 1
                return g * (1 + 1e-9 * calls[0])
            y.register_hook(hook)
            return y
        return m.autograd.gradcheck(f, mk(m, X))
    t = same(fn)
    assert t[3].startswith("Backward is not reentrant")


# ----- invalid calls -----


INVALID = {
    "no_input_requires_grad": lambda m: m.autograd.gradcheck(lambda x: x, mk(m, X, requires_grad=False)),
    "stride_zero": lambda m: m.autograd.gradcheck(lambda x: x * 2, mk(m, W).expand(2, 3)),
    "no_mode": lambda m: m.autograd.gradcheck(lambda x: x, mk(m, X), check_backward_ad=False),
    "batched_without_backward": lambda m: m.autograd.gradcheck(
        lambda x: x, mk(m, X), check_batched_grad=True, check_backward_ad=False, check_forward_ad=True),
    "batched_forward_without_forward": lambda m: m.autograd.gradcheck(
        lambda x: x, mk(m, X), check_batched_forward_grad=True),
    "gradgrad_no_mode": lambda m: m.autograd.gradgradcheck(lambda x: x, mk(m, X), check_rev_over_rev=False),
    "gradgrad_undefined_without_rev": lambda m: m.autograd.gradgradcheck(
        lambda x: x, mk(m, X), check_rev_over_rev=False, check_fwd_over_rev=True),
    "gradgrad_batched_without_rev": lambda m: m.autograd.gradgradcheck(
        lambda x: x, mk(m, X), check_rev_over_rev=False, check_fwd_over_rev=True, check_undefined_grad=False,
        check_batched_grad=True),
    "function_raises": lambda m: m.autograd.gradcheck(lambda x: x.mm(x), mk(m, X)),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_calls(case):
    assert same(INVALID[case])[0] == "raise"


def test_forward_mode_checks():
    """check_forward_ad runs (tests/engine/test_forward_ad.py compares its failures with torch's)."""
    call = lambda m: m.autograd.gradcheck(lambda x: x.sin(), mk(m, X), check_forward_ad=True)  # noqa: E731
    assert outcome(call, torch)[:2] == ("ok", True)
    assert same(call)[:2] == ("ok", True)


def test_gradcheck_error_class():
    from engine.autograd.gradcheck import GradcheckError

    assert GradcheckError.__name__ == "GradcheckError" and issubclass(GradcheckError, RuntimeError)
    assert engine.autograd.gradcheck.GradcheckError is GradcheckError
    assert callable(engine.autograd.gradcheck) and callable(engine.autograd.gradgradcheck)
    with pytest.raises(GradcheckError) as info:
        engine.autograd.gradcheck(scaled_grad(3.0), (mk(engine, X), mk(engine, W)))
    assert info.value.type == "GradcheckError"


def test_fast_mode_vectors_are_torchs():
    """Fast mode's u and v come from torch.Generator()'s stream: the engine's copy draws the same bits."""
    from engine.autograd.gradcheck_jacobians import _TorchCPUGenerator

    g, tg = _TorchCPUGenerator(), torch.Generator()
    for n in (1, 7, 700):
        assert np.array_equal(g.rand_float32(n), torch.rand(n, generator=tg).numpy())


# ----- limits -----


def test_gradcheck_loops_check_the_deadline():
    """Slow mode runs the function twice per input element and a backward per output element: a request's
    deadline stops it."""
    b = budget.Budget()
    b.cancel()
    x = engine.zeros(1000, dtype=engine.float64, requires_grad=True)
    with budget.active(b), pytest.raises(budget.DeadlinePassed):
        engine.autograd.gradcheck(lambda a: a * 2, x)


def test_gradcheck_jacobians_are_charged():
    """The Jacobians are (input numel x output numel): charged to the budget before they are allocated."""
    x = engine.zeros(4000, dtype=engine.float64, requires_grad=True)
    with budget.active(budget.Budget(max_bytes=16 << 20)), pytest.raises(engine.errors.LimitExceeded):
        engine.autograd.gradcheck(lambda a: a * 2, x)
