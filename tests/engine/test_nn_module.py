"""nn.Module's own behaviour against torch 2.13: registration by attribute, traversal names, state_dict and
load_state_dict (strict, messages, assign), train/eval, zero_grad, hooks, dtype conversion, repr of nested and
custom modules, containers, Parameter, and nn.init's functions."""
from __future__ import annotations

import copy
import math
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch

import engine


def net_class(lib):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)
            self.head = nn.Sequential(OrderedDict([("act", nn.ReLU()), ("drop", nn.Dropout(0.1))]))
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("scratch", lib.ones(2), persistent=False)
            self.scale = 2.0

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = lib.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    return Net


def shared_class(lib):
    nn = lib.nn

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.b = self.a  # the same module twice
            self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Tanh()])
            self.extra = nn.ModuleDict({"x": nn.Linear(2, 1), "y": nn.Identity()})
            self.w = nn.Parameter(lib.ones(3))

        def forward(self, x):
            return self.extra["x"](self.blocks[0](self.a(x)))

    return Shared


def _errors(*calls):
    """(exception class name, message) of each call that raises."""
    out = []
    for call in calls:
        try:
            call()
        except Exception as e:  # noqa: BLE001 - compared with torch's
            out.append((type(e).__name__, str(e)))
    return out


def test_repr_of_a_custom_network():
    assert repr(net_class(engine)()) == repr(net_class(torch)())


@pytest.mark.parametrize("make", [net_class, shared_class])
def test_traversal_names(make):
    e, t = make(engine)(), make(torch)()
    for fn in (lambda m: [n for n, _ in m.named_parameters()],
               lambda m: [n for n, _ in m.named_parameters(remove_duplicate=False)],
               lambda m: [n for n, _ in m.named_buffers()],
               lambda m: [n for n, _ in m.named_modules()],
               lambda m: [n for n, _ in m.named_modules(remove_duplicate=False)],
               lambda m: [n for n, _ in m.named_children()],
               lambda m: [type(c).__name__ for c in m.children()],
               lambda m: [tuple(p.shape) for p in m.parameters(recurse=False)],
               lambda m: list(m.state_dict().keys()),
               lambda m: list(m.state_dict(keep_vars=True).keys()),
               lambda m: list(m.state_dict()._metadata.items()),
               lambda m: [n for n in dir(m) if not n.startswith("_") and n not in ("T_destination", "dump_patches")
                          and n in dir(type(m))][:0] or sorted(k for k in m.__dict__ if not k.startswith("_")),
               repr):
        assert fn(e) == fn(t)


def test_state_dict_tensors_are_detached_and_share_storage():
    m = engine.nn.Linear(2, 3)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad and sd["weight"]._data is m.weight._data
    assert m.state_dict(keep_vars=True)["weight"] is m.weight


def test_load_state_dict_copies_in_place_and_round_trips():
    src, dst = engine.nn.Linear(3, 2), engine.nn.Linear(3, 2)
    w = dst.weight
    held = w._data
    assert repr(dst.load_state_dict(src.state_dict())) == "<All keys matched successfully>"
    assert dst.weight is w and dst.weight._data is held  # the same Parameter, written in place
    assert engine.equal(dst.weight, src.weight) and engine.equal(dst.bias, src.bias)
    assert dst.weight.requires_grad


def _load_outcome(lib, make, sd_fn, **kw):
    m = make(lib)
    try:
        r = m.load_state_dict(sd_fn(lib, m), **kw)
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return "ok", repr(r)


LOAD_CASES = [
    lambda lib, m: {"weight": lib.zeros(3, 3), "foo": lib.zeros(1)},
    lambda lib, m: {"weight": lib.zeros(3, 2)},
    lambda lib, m: {"weight": lib.zeros(3, 2), "bias": lib.zeros(3), "extra.w": lib.zeros(1)},
    lambda lib, m: {"weight": lib.zeros(3, 2), "bias": [1.0, 2.0, 3.0]},
    lambda lib, m: {"weight": lib.zeros(3, 2, dtype=lib.float64), "bias": lib.zeros(3, dtype=lib.int64)},
    lambda lib, m: {},
]


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("case", LOAD_CASES)
def test_load_state_dict_messages(case, strict):
    def make(lib):
        return lib.nn.Linear(2, 3)

    assert _load_outcome(engine, make, case, strict=strict) == _load_outcome(torch, make, case, strict=strict)


def test_load_state_dict_nested_messages_and_bn_version():
    def make(lib):
        return lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3))

    def old_checkpoint(lib, m):  # a BatchNorm checkpoint from before num_batches_tracked (no metadata)
        return {k: v for k, v in m.state_dict().items() if "num_batches" not in k}

    def wrong(lib, m):
        sd = dict(m.state_dict())
        sd["1.running_mean"] = lib.zeros(4)
        sd["2.weight"] = lib.zeros(1)
        del sd["0.bias"]
        return sd

    for case in (old_checkpoint, wrong):
        assert _load_outcome(engine, make, case) == _load_outcome(torch, make, case)


def test_load_state_dict_assign():
    m = engine.nn.Linear(2, 2)
    new = {"weight": engine.ones(2, 2), "bias": engine.zeros(2)}
    m.load_state_dict(new, assign=True)
    assert isinstance(m.weight, engine.nn.Parameter) and m.weight.requires_grad
    assert m.weight._data is new["weight"]._data


def test_setattr_registration_and_errors():
    def run(lib):
        out = []
        m = lib.nn.Linear(2, 2)
        for action in (
            lambda: setattr(m, "weight", lib.zeros(2, 2)),
            lambda: setattr(m, "weight", None),
            lambda: m.register_parameter("a.b", None),
            lambda: m.register_parameter("", None),
            lambda: m.register_parameter("bias2", lib.zeros(2)),
            lambda: m.register_parameter("training", None),
            lambda: m.register_parameter("p", lib.nn.Parameter(lib.ones(2)) * 2),
            lambda: m.register_buffer("b", [1]),
            lambda: m.register_buffer("x.y", None),
            lambda: m.register_buffer("", None),
            lambda: m.register_buffer(3, None),
            lambda: m.register_buffer("weight", None),
            lambda: m.register_parameter(3, None),
            lambda: m.add_module("c", 3),
            lambda: m.add_module("in_features", lib.nn.ReLU()),
            lambda: setattr(m, "sub", lib.nn.ReLU()),
            lambda: setattr(m, "sub", 5),
            lambda: delattr(m, "sub"),
            lambda: m.get_submodule("sub"),
            lambda: m.get_parameter("in_features"),
            lambda: m.get_parameter("bias").shape,
            lambda: m.get_parameter("nope"),
            lambda: m.get_parameter("nope.weight"),
            lambda: m.get_buffer("weight"),
            lambda: m.get_buffer("nope"),
            lambda: lib.nn.Sequential(lib.nn.BatchNorm1d(2)).get_buffer("0.running_mean").shape,
            lambda: lib.nn.Sequential(lib.nn.BatchNorm1d(2)).get_parameter("0.running_mean"),
            lambda: m.train("yes"),
            lambda: m.nothing,
        ):
            try:
                r = action()
                out.append(("ok", repr(r) if not isinstance(r, lib.nn.Module) else type(r).__name__))
            except Exception as e:  # noqa: BLE001
                out.append((type(e).__name__, str(e)))
        out.append(sorted(m._parameters))
        out.append(sorted(m._modules))
        out.append(sorted(m._buffers))
        return out

    assert run(engine) == run(torch)


def test_assignment_before_init_and_missing_forward():
    def run(lib):
        out = []

        class Early(lib.nn.Module):
            def __init__(self):
                self.w = lib.nn.Parameter(lib.zeros(1))

        class EarlyBuffer(lib.nn.Module):
            def __init__(self):
                self.register_buffer("b", None)

        class EarlyParameter(lib.nn.Module):
            def __init__(self):
                self.register_parameter("p", None)

        class NoForward(lib.nn.Module):
            pass

        out += _errors(Early, EarlyBuffer, EarlyParameter, lambda: NoForward()(lib.zeros(1)), lambda: lib.nn.Module(3))
        return out

    assert run(engine) == run(torch)


def test_train_eval_and_zero_grad():
    m = net_class(engine)()
    assert m.training and all(c.training for c in m.modules())
    assert m.eval() is m and not any(c.training for c in m.modules())
    m.train()
    assert all(c.training for c in m.modules())
    out = m(engine.randn(2, 1, 32, 32)).sum()
    out.backward()
    grads = [p.grad for p in m.parameters()]
    assert all(g is not None for g in grads)
    m.zero_grad(set_to_none=False)
    assert all(p.grad is g and not g.numpy().any() for p, g in zip(m.parameters(), grads))
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_forward_hooks():
    def run(lib):
        m = lib.nn.Linear(2, 2)
        seen = []
        h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        h2 = m.register_forward_hook(lambda mod, args, out: seen.append(tuple(out.shape)) or out + 1)
        with lib.no_grad():
            m.weight.copy_(lib.eye(2)) if lib is torch else engine.optim._update.assign_(m.weight, np.eye(2))
            m.bias.zero_()
            a = m(lib.ones(1, 2)).tolist()
            h1.remove()
            b = m(lib.ones(1, 2)).tolist()
            h2.remove()
            c = m(lib.ones(1, 2)).tolist()
        return a, b, c, seen

    assert run(engine) == run(torch)


def test_hook_order_with_prepend():
    def run(lib):
        m = lib.nn.Identity()
        order = []
        for name, prepend in (("a", False), ("b", True), ("c", False), ("d", True)):
            m.register_forward_pre_hook(lambda mod, args, name=name: order.append("pre " + name), prepend=prepend)
            m.register_forward_hook(lambda mod, args, out, name=name: order.append("post " + name), prepend=prepend)
        m(lib.ones(1))
        return order

    assert run(engine) == run(torch)


def test_to_double_float_and_grads_follow():
    m = engine.nn.Linear(2, 3)
    w = m.weight
    m(engine.ones(1, 2)).sum().backward()
    m.double()
    assert m.weight is w and w.dtype is engine.float64 and w.grad.dtype is engine.float64
    assert m(engine.ones(1, 2, dtype=engine.float64)).dtype is engine.float64
    assert m.to(engine.float32).weight.dtype is engine.float32
    assert m.to("cpu") is m and m.cpu() is m
    bn = engine.nn.BatchNorm1d(2).double()
    assert bn.running_mean.dtype is engine.float64 and bn.num_batches_tracked.dtype is engine.int64


def test_deepcopy_and_pickle_keep_parameters_apart():
    m = engine.nn.Sequential(engine.nn.Linear(2, 2), engine.nn.BatchNorm1d(2))
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert repr(clone) == repr(m)
        p = clone[0].weight
        assert isinstance(p, engine.nn.Parameter) and p.requires_grad and p._data is not m[0].weight._data
        assert engine.equal(p, m[0].weight)


# ----- containers -----


def test_sequential_operations():
    def run(lib):
        nn = lib.nn
        s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        out = [repr(s[1:]), repr(s[-1]), len(s), type(s[0:1]).__name__]
        s.append(nn.Sigmoid())
        s.insert(1, nn.Tanh())
        del s[2]
        out.append(repr(s))
        s2 = s + nn.Sequential(nn.Identity())
        out.append(repr(s2))
        out.append(repr(s.pop(0)))
        out.append(repr(nn.Sequential(nn.ReLU()) * 2))
        s[0] = nn.ELU()
        out.append([type(c).__name__ for c in s])
        out += _errors(lambda: s[10], lambda: s + [1], lambda: s.insert(9, nn.ReLU()))
        return out

    assert run(engine) == run(torch)


def test_modulelist_and_moduledict():
    def run(lib):
        nn = lib.nn
        ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU(), nn.ReLU()])
        out = [repr(ml), len(ml), repr(ml[1:3]), repr(nn.ModuleList())]
        ml.append(nn.Tanh())
        ml.extend([nn.Sigmoid()])
        ml.insert(0, nn.Identity())
        del ml[1]
        out.append(repr(ml))
        out.append([n for n, _ in ml.named_parameters()])
        md = nn.ModuleDict({"b": nn.Linear(1, 1), "a": nn.ReLU()})
        md["c"] = nn.Tanh()
        md.update([("d", nn.Identity())])
        out += [repr(md), list(md.keys()), "a" in md, len(md), repr(md.pop("b"))]
        out += _errors(lambda: ml[20], lambda: ml.extend(3), lambda: md.update([1]), lambda: md.update([("x",)]))
        return out

    assert run(engine) == run(torch)


# ----- Parameter -----


def test_parameter():
    def run(lib):
        out = []
        base = lib.tensor([1.0, 2.0])
        p = lib.nn.Parameter(base)
        out += [repr(p), str(p), p.requires_grad, p.is_leaf, isinstance(p, lib.Tensor), type(p * 2).__name__]
        out += [repr(lib.nn.Parameter(base, requires_grad=False)), repr(lib.nn.Parameter())]
        out += _errors(lambda: lib.nn.Parameter(lib.tensor([1, 2])))
        q = lib.nn.Parameter(lib.tensor([1.0, 2.0]).exp())  # from a non-leaf: a new leaf
        out += [q.is_leaf, q.grad_fn is None]
        return out

    assert run(engine) == run(torch)
    base = engine.tensor([1.0, 2.0])
    assert engine.nn.Parameter(base)._data is base._data  # shares the storage, as torch's _make_subclass


# ----- nn.init -----


def test_calculate_gain_and_fans():
    for args in (("linear",), ("sigmoid",), ("tanh",), ("relu",), ("leaky_relu",), ("leaky_relu", 0.2),
                 ("selu",), ("conv2d",)):
        assert engine.nn.init.calculate_gain(*args) == torch.nn.init.calculate_gain(*args)
    for bad in (("swish",), ("leaky_relu", "x")):
        with pytest.raises(ValueError) as e:
            engine.nn.init.calculate_gain(*bad)
        with pytest.raises(ValueError) as t:
            torch.nn.init.calculate_gain(*bad)
        assert str(e.value) == str(t.value)
    for shape in ((3, 4), (2, 3, 5), (4, 2, 3, 3)):
        assert engine.nn.init._calculate_fan_in_and_fan_out(engine.zeros(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        engine.nn.init.xavier_uniform_(engine.zeros(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        engine.nn.init.kaiming_normal_(engine.zeros(3, 3), mode="fan_avg")


def test_init_functions_in_place():
    engine.manual_seed(0)
    w = engine.nn.Parameter(engine.zeros(400, 300))
    held = w._data
    I = engine.nn.init  # noqa: N806
    b = math.sqrt(6 / 700)
    assert I.xavier_uniform_(w) is w and w._data is held and np.abs(held).max() <= b and np.abs(held).max() > 0.99 * b
    I.xavier_normal_(w, gain=2.0)
    assert abs(held.std() - 2 * math.sqrt(2 / 700)) < 0.01 * 2 * math.sqrt(2 / 700)
    I.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(held.std() - math.sqrt(2 / 400)) < 0.01 * math.sqrt(2 / 400)
    I.uniform_(w, -2, 3)
    assert held.min() >= -2 and held.max() < 3
    I.normal_(w, 1.0, 0.5)
    assert abs(held.mean() - 1) < 0.01
    I.trunc_normal_(w, std=2.0, a=-1.0, b=1.5)
    assert held.min() >= -1 and held.max() <= 1.5
    I.trunc_normal_(w, mean=0.0, std=1.0, a=2.0, b=3.0)  # a tail interval: uniform proposals
    assert held.min() >= 2 and held.max() <= 3
    I.constant_(w, 0.25)
    assert (held == np.float32(0.25)).all()
    I.ones_(w)
    I.zeros_(w)
    assert not held.any()
    I.orthogonal_(w)
    q = held.astype(np.float64)
    np.testing.assert_allclose(q.T @ q, np.eye(300), atol=1e-5)
    e = engine.zeros(3, 4)
    np.testing.assert_array_equal(I.eye_(e).numpy(), torch.nn.init.eye_(torch.zeros(3, 4)).numpy())
    d = engine.zeros(4, 2, 3, 3)
    np.testing.assert_array_equal(I.dirac_(d, groups=2).numpy(),
                                  torch.nn.init.dirac_(torch.zeros(4, 2, 3, 3), groups=2).numpy())
    s = engine.zeros(10, 6)
    I.sparse_(s, 0.3)
    assert ((s.numpy() == 0).sum(0) >= 3).all()
    assert w.requires_grad and w.is_leaf  # written under no_grad: no graph


@pytest.mark.parametrize("fn", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_on_a_zero_element_tensor_warns_as_torch(fn):
    """torch's no-op and warning; the engine's warning points at the caller's line."""
    def run(lib):
        t = lib.zeros(0, 3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = getattr(lib.nn.init, fn)(t)
        return out is t, [(type(w.message).__name__, str(w.message)) for w in caught], caught

    e, t = run(engine), run(torch)
    assert e[:2] == t[:2] and e[0]
    assert [w.filename for w in e[2]] == [__file__]
