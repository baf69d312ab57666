"""engine.optim against live torch 2.13: every optimizer's update to the bit, 20-step trajectories, state_dict
round trips, param_groups, zero_grad, errors and repr, and the lr schedulers' sequences.

Gradients in the trajectory tests are a fixed NumPy function of each library's own current parameters, so both
libraries see the same gradient exactly when their parameters agree: a difference can only come from the
optimizer. torch's CPU sqrt (MKL VML) is not IEEE-rounded: ~1% of float64 and ~17% of float32 results are one
ulp off the correctly rounded root that NumPy gives. Adam, AdamW, RMSprop and Adagrad take a sqrt every step,
so their per-step test holds every element bitwise except those whose sqrt input torch rounds differently
(computed from torch's own state), and their free-running trajectories are compared with a tolerance.
"""
from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch

import engine

SQRT_FREE = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "dampening": 0.3}),
]
WITH_SQRT = [
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.02, "maximize": True, "eps": 1e-6}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "maximize": True, "weight_decay": 0.3}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1}),
]
SHAPES = [(3, 4), (3,), (17,)]
DTYPES = [np.float64, np.float32]


def _grad(a, k):
    """The step-k gradient for parameter values a: a fixed function, evaluated the same way for both."""
    return (np.cos(3 * a) + 0.5 * a * (k % 3 - 1)).astype(a.dtype)


def _init(dt, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dt) for s in SHAPES]


def _make(lib, name, kw, arrays):
    if lib is torch:
        ps = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
        return ps, getattr(torch.optim, name)(ps, foreach=False, **kw)
    ps = [engine.nn.Parameter(engine.from_numpy(a.copy())) for a in arrays]
    return ps, getattr(engine.optim, name)(ps, **kw)


def _set_grads(lib, ps, k):
    for p in ps:
        p.grad = lib.from_numpy(_grad(p.detach().numpy(), k))


def _step_both(tp, topt, ep, eopt, k):
    """The step-k gradients set on both frameworks' parameters, and one step of each optimizer."""
    _set_grads(torch, tp, k)
    _set_grads(engine, ep, k)
    topt.step()
    eopt.step()


def _bits(a):
    return a.view(np.int64 if a.dtype == np.float64 else np.int32).astype(np.int64)


def _ulps(a, b):
    return int(np.abs(_bits(a) - _bits(b)).max()) if a.size else 0


def _to_engine(x):
    """A torch optimizer state_dict (or any value in it) with its tensors as engine tensors."""
    if isinstance(x, torch.Tensor):
        return engine.from_numpy(x.detach().numpy().copy())
    if isinstance(x, dict):
        return {k: _to_engine(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return type(x)(_to_engine(v) for v in x)
    return x


def _sqrt_input(name, kw, state):
    """The array torch took the sqrt of in this step, from torch's state after the step."""
    if name in ("Adam", "AdamW"):
        return state["max_exp_avg_sq" if kw.get("amsgrad") else "exp_avg_sq"]
    if name == "RMSprop":
        if kw.get("centered"):
            return torch.addcmul(state["square_avg"], state["grad_avg"], state["grad_avg"], value=-1)
        return state["square_avg"]
    return state["sum"]


# ----- the update, to the bit -----


@pytest.mark.parametrize("dt", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name,kw", SQRT_FREE, ids=lambda x: str(x))
def test_sgd_trajectory_bitwise(name, kw, dt):
    """20 free-running steps: every parameter and momentum buffer equal to torch's bit for bit."""
    arrays = _init(dt)
    tp, topt = _make(torch, name, kw, arrays)
    ep, eopt = _make(engine, name, kw, arrays)
    for k in range(20):
        _step_both(tp, topt, ep, eopt, k)
        for t, e in zip(tp, ep):
            assert _ulps(t.detach().numpy(), e.detach().numpy()) == 0, f"step {k}"
            if kw.get("momentum"):
                tb, eb = topt.state[t]["momentum_buffer"], eopt.state[e]["momentum_buffer"]
                assert _ulps(tb.numpy(), eb.numpy()) == 0


@pytest.mark.parametrize("dt", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name,kw", WITH_SQRT, ids=lambda x: str(x))
def test_step_bitwise_from_torchs_state(name, kw, dt):
    """At each of 20 steps the engine loads torch's parameters and optimizer state_dict, takes the same step,
    and matches torch's new parameters and state bit for bit on every element whose sqrt torch rounds as IEEE
    does (and close on the others, which are counted so that the test keeps its teeth)."""
    arrays = _init(dt)
    tp, topt = _make(torch, name, kw, arrays)
    compared = exempt = 0
    for k in range(20):
        ep, eopt = _make(engine, name, kw, [p.detach().numpy() for p in tp])
        eopt.load_state_dict(_to_engine(topt.state_dict()))
        _step_both(tp, topt, ep, eopt, k)
        for t, e in zip(tp, ep):
            v = _sqrt_input(name, kw, topt.state[t])
            off = torch.sqrt(v).numpy() != np.sqrt(v.numpy())
            pairs = [(t.detach(), e.detach())] + [(topt.state[t][key], eopt.state[e][key])
                                                  for key in topt.state[t] if key != "step"]
            for a, b in pairs:
                a, b = a.numpy(), b.numpy()
                assert a.dtype == b.dtype and a.shape == b.shape
                d = np.abs(_bits(a) - _bits(b))
                assert (d[~off] == 0).all(), f"step {k}: {int((d[~off] != 0).sum())} elements differ"
                tol = 1e-12 if dt == np.float64 else 1e-5
                np.testing.assert_allclose(b[off], a[off], rtol=tol, atol=tol)
            assert topt.state[t]["step"].item() == eopt.state[e]["step"].item()
            compared += int((~off).sum())
            exempt += int(off.sum())
    assert compared > 2 * exempt  # most elements are held bitwise


@pytest.mark.parametrize("dt", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("name,kw", WITH_SQRT, ids=lambda x: str(x))
def test_trajectory_close(name, kw, dt):
    """20 free-running steps stay within a few ulps of torch's (the sqrt rounding compounds, slowly)."""
    arrays = _init(dt)
    tp, topt = _make(torch, name, kw, arrays)
    ep, eopt = _make(engine, name, kw, arrays)
    for k in range(20):
        _step_both(tp, topt, ep, eopt, k)
    rtol = 1e-12 if dt == np.float64 else 2e-5
    for t, e in zip(tp, ep):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=rtol)


def test_trained_model_matches_torch():
    """nn.Linear + MSELoss + SGD(momentum) for 20 steps, the gradient from each library's own autograd."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 3))
    y = rng.standard_normal((8, 2))
    w = rng.standard_normal((2, 3))
    b = rng.standard_normal(2)

    def run(lib):
        model = lib.nn.Linear(3, 2).double()
        with lib.no_grad():
            model.weight.copy_(lib.from_numpy(w)) if lib is torch else engine.optim._update.assign_(model.weight, w)
            model.bias.copy_(lib.from_numpy(b)) if lib is torch else engine.optim._update.assign_(model.bias, b)
        opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses = []
        for _ in range(20):
            opt.zero_grad()
            loss = lib.nn.MSELoss()(model(lib.from_numpy(x)), lib.from_numpy(y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, model.weight.detach().numpy(), model.bias.detach().numpy()

    tl, tw, tb = run(torch)
    el, ew, eb = run(engine)
    np.testing.assert_allclose(el, tl, rtol=1e-12)
    np.testing.assert_allclose(ew, tw, rtol=1e-12)
    np.testing.assert_allclose(eb, tb, rtol=1e-12)


# ----- state_dict, param_groups, zero_grad -----


@pytest.mark.parametrize("name,kw", SQRT_FREE[1:2] + WITH_SQRT[:2] + WITH_SQRT[6:7] + WITH_SQRT[-1:],
                         ids=lambda x: str(x))
def test_state_dict_structure_and_round_trip(name, kw):
    """The engine's state_dict has torch's structure (keys, param_groups, indices, state keys and dtypes);
    saved with engine.save, loaded into a fresh optimizer, the next steps are the same."""
    arrays = _init(np.float64)
    tp, topt = _make(torch, name, kw, arrays)
    ep, eopt = _make(engine, name, kw, arrays)
    for k in range(3):
        _step_both(tp, topt, ep, eopt, k)
    tsd, esd = topt.state_dict(), eopt.state_dict()
    assert [{k: v for k, v in g.items()} for g in esd["param_groups"]] == \
        [{k: v for k, v in g.items() if k != "foreach"} | {"foreach": None} for g in tsd["param_groups"]]
    assert list(esd["state"]) == list(tsd["state"])
    for i in tsd["state"]:
        assert list(esd["state"][i]) == list(tsd["state"][i])
        for key, tv in tsd["state"][i].items():
            ev = esd["state"][i][key]
            assert str(ev.dtype) == str(tv.dtype) and tuple(ev.shape) == tuple(tv.shape), key
    buf = io.BytesIO()
    engine.save(esd, buf)
    buf.seek(0)
    loaded = engine.load(buf)
    ep2, eopt2 = _make(engine, name, kw, [p.detach().numpy() for p in ep])
    eopt2.load_state_dict(loaded)
    for k in range(3, 6):
        for ps, lib in ((ep, engine), (ep2, engine), (tp, torch)):
            _set_grads(lib, ps, k)
        eopt.step()
        eopt2.step()
        topt.step()
    for a, b in zip(ep, ep2):
        assert _ulps(a.detach().numpy(), b.detach().numpy()) == 0


def test_state_dict_shares_state_tensors():
    """As torch's: state_dict() hands out the optimizer's own state tensors (a later step changes them)."""
    p = engine.nn.Parameter(engine.tensor([1.0, 2.0]))
    opt = engine.optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = engine.tensor([1.0, 1.0])
    opt.step()
    buf = opt.state_dict()["state"][0]["momentum_buffer"]
    before = buf.numpy().copy()
    opt.step()
    assert not np.array_equal(buf.numpy(), before)


def test_param_groups_and_add_param_group():
    def run(lib):
        a = lib.nn.Parameter(lib.tensor([1.0, -2.0], dtype=lib.float64))
        b = lib.nn.Parameter(lib.tensor([0.5], dtype=lib.float64))
        c = lib.nn.Parameter(lib.tensor([3.0], dtype=lib.float64))
        opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
        opt.add_param_group({"params": c, "momentum": 0.0})
        for k in range(3):
            for p in (a, b, c):
                p.grad = lib.from_numpy(_grad(p.detach().numpy(), k))
            opt.step()
        return [p.detach().numpy() for p in (a, b, c)], [dict((k, v) for k, v in g.items() if k != "params")
                                                         for g in opt.param_groups], repr(opt)

    tv, tg, tr = run(torch)
    ev, eg, er = run(engine)
    for t, e in zip(tv, ev):
        assert _ulps(t, e) == 0
    assert eg == tg
    assert er == tr


@pytest.mark.parametrize("make", [
    lambda lib, ps: lib.optim.SGD(ps, lr=0.1), lambda lib, ps: lib.optim.Adam(ps),
    lambda lib, ps: lib.optim.AdamW(ps, amsgrad=True), lambda lib, ps: lib.optim.RMSprop(ps, centered=True),
    lambda lib, ps: lib.optim.Adagrad(ps, lr_decay=0.1),
])
def test_repr_as_torch(make):
    def run(lib):
        return repr(make(lib, [lib.nn.Parameter(lib.zeros(2))]))

    assert run(engine) == run(torch)


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    p = engine.nn.Parameter(engine.tensor([1.0, 2.0]))
    opt = engine.optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    g = p.grad
    opt.zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert p.grad is None
    else:
        assert p.grad is g and g.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


def test_step_with_closure_and_params_without_grad():
    def run(lib):
        a = lib.nn.Parameter(lib.tensor([1.0, 2.0], dtype=lib.float64))
        b = lib.nn.Parameter(lib.tensor([5.0], dtype=lib.float64))  # never gets a grad: left alone
        opt = lib.optim.Adam([a, b], lr=0.1)

        def closure():
            opt.zero_grad()
            loss = (a * a).sum()
            loss.backward()
            return loss

        losses = [opt.step(closure).item() for _ in range(3)]
        return losses, a.detach().numpy(), b.detach().numpy(), len(opt.state)

    assert run(engine)[0] == run(torch)[0]
    assert run(engine)[3] == run(torch)[3] == 1
    np.testing.assert_array_equal(run(engine)[2], [5.0])


ERRORS = [
    lambda lib, ps: lib.optim.SGD(ps, lr=-1),
    lambda lib, ps: lib.optim.SGD(ps, lr=0.1, momentum=-0.5),
    lambda lib, ps: lib.optim.SGD(ps, lr=0.1, weight_decay=-1),
    lambda lib, ps: lib.optim.SGD(ps, lr=0.1, nesterov=True),
    lambda lib, ps: lib.optim.Adam(ps, betas=(1.0, 0.9)),
    lambda lib, ps: lib.optim.Adam(ps, betas=(0.9, -0.1)),
    lambda lib, ps: lib.optim.Adam(ps, eps=-1.0),
    lambda lib, ps: lib.optim.RMSprop(ps, alpha=-1.0),
    lambda lib, ps: lib.optim.Adagrad(ps, lr_decay=-1.0),
    lambda lib, ps: lib.optim.Adagrad(ps, initial_accumulator_value=-1.0),
    lambda lib, ps: lib.optim.SGD([], lr=0.1),
    lambda lib, ps: lib.optim.SGD(ps[0], lr=0.1),
    lambda lib, ps: lib.optim.SGD([ps[0] * 2], lr=0.1),
    lambda lib, ps: lib.optim.SGD([{"params": ps}, {"params": ps}], lr=0.1),
    lambda lib, ps: lib.optim.SGD({"params": ps}, lr=0.1),
    lambda lib, ps: lib.optim.SGD([{"params": set(ps)}], lr=0.1),
    lambda lib, ps: lib.optim.SGD([ps[0], 3.0], lr=0.1),
]


@pytest.mark.parametrize("make", ERRORS)
def test_errors_as_torch(make):
    def run(lib):
        ps = [lib.nn.Parameter(lib.zeros(2))]
        try:
            make(lib, ps)
        except Exception as e:  # noqa: BLE001
            return type(e).__name__, str(e)
        return None

    t = run(torch)
    assert t is not None
    assert run(engine) == t


def test_load_state_dict_errors():
    p = [engine.nn.Parameter(engine.zeros(2))]
    opt = engine.optim.SGD(p, lr=0.1)
    other = engine.optim.SGD([{"params": p}, {"params": [engine.nn.Parameter(engine.zeros(1))]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(other.state_dict())
    two = engine.optim.SGD([engine.nn.Parameter(engine.zeros(1)), engine.nn.Parameter(engine.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(two.state_dict())


def test_refuses_what_it_cannot_do():
    p = [engine.nn.Parameter(engine.zeros(2))]
    with pytest.raises(NotImplementedError, match="differentiable"):
        engine.optim.SGD(p, lr=0.1, differentiable=True)
    opt = engine.optim.Adam(p, capturable=True)
    p[0].grad = engine.ones(2)
    with pytest.raises(AssertionError, match="capturable=True"):
        opt.step()


# ----- lr_scheduler -----

SCHEDULERS = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7}),
    ("CosineAnnealingLR", {"T_max": 4, "eta_min": 0.01}),
]


@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=lambda x: str(x))
def test_scheduler_sequence(name, kw):
    """get_last_lr() over 25 epochs, two param groups: the same floats as torch's (chainable form)."""
    def run(lib):
        ps = [lib.nn.Parameter(lib.zeros(1)), lib.nn.Parameter(lib.zeros(1))]
        opt = lib.optim.SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.3}], lr=0.1, momentum=0.9)
        sched = getattr(lib.optim.lr_scheduler, name)(opt, **kw)
        out = [sched.get_last_lr()]
        for _ in range(25):
            opt.step()
            sched.step()
            out.append(sched.get_last_lr())
        state = {k: v for k, v in sched.state_dict().items() if k != "_get_lr_called_within_step"}
        return out, [g["lr"] for g in opt.param_groups], [g["initial_lr"] for g in opt.param_groups], state

    t, e = run(torch), run(engine)
    assert e[0] == t[0]
    assert e[1:3] == t[1:3]
    assert e[3].keys() == t[3].keys()


@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=lambda x: str(x))
def test_scheduler_closed_form_with_epoch(name, kw):
    def run(lib):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=0.1)
        sched = getattr(lib.optim.lr_scheduler, name)(opt, **kw)
        out = []
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            for epoch in (4, 1, 9, 9, 13):
                opt.step()
                sched.step(epoch)
                out.append(sched.get_last_lr())
        return out, sorted({str(x.message) for x in w})

    assert run(engine) == run(torch)


def test_scheduler_order_warning():
    def run(lib):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=0.1)
        sched = lib.optim.lr_scheduler.StepLR(opt, 2)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            sched.step()
        return [str(x.message) for x in w]

    t = run(torch)
    assert t and run(engine) == t


# ----- constructor checks -----


BAD_HYPERPARAMETERS = [
    ("SGD", {"lr": -1.0}), ("SGD", {"momentum": -0.5}), ("SGD", {"weight_decay": -1.0}),
    ("SGD", {"lr": float("nan")}),
    ("Adam", {"lr": -1.0}), ("Adam", {"eps": -1.0}), ("Adam", {"betas": (1.0, 0.9)}),
    ("Adam", {"betas": (0.9, -0.1)}), ("Adam", {"weight_decay": -1.0}), ("Adam", {"lr": float("nan")}),
    ("Adam", {"eps": -1.0, "weight_decay": -1.0}), ("AdamW", {"betas": (0.9, 0.999), "weight_decay": -2.0}),
    ("Adagrad", {"lr_decay": -1.0}), ("Adagrad", {"initial_accumulator_value": -1.0}),
    ("Adagrad", {"eps": -1.0, "weight_decay": -1.0}),
    ("RMSprop", {"alpha": -1.0}), ("RMSprop", {"momentum": -1.0, "alpha": -1.0}), ("RMSprop", {"eps": -1.0}),
]


@pytest.mark.parametrize("name,kw", BAD_HYPERPARAMETERS, ids=lambda x: str(x))
def test_bad_hyperparameters_refused_as_torch(name, kw):
    """The first check that fails names the same argument, in the same words, as torch's (NaN lr included)."""
    def outcome(lib):
        try:
            _make(lib, name, kw, _init(np.float64))
        except ValueError as e:
            return str(e)
        return "accepted"

    assert outcome(engine) == outcome(torch)
