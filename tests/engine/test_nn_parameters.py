"""nn.ParameterList / nn.ParameterDict and nn.Parameter on the ops' lean path, against live torch 2.13: what the
containers hold and register, their repr, state_dict, errors, a training step through them; a Parameter operand
takes the same lean path as a plain tensor and gives the same nodes, values and gradients."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import engine
from engine.ops.registry import OpDef, OpNode
from tests.engine.both import outcome, same  # noqa: F401 - used by the cases below

A = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)
B = np.array([1.0, -2.0, 0.5], dtype=np.float32)
C = np.array([[3.0]], dtype=np.float64)


def t_(m, a):
    return m.tensor(a.copy())


# ----- ParameterList -----


def test_parameter_list_holds_registers_and_prints_as_torch():
    def f(m):
        pl = m.nn.ParameterList([t_(m, A), m.nn.Parameter(t_(m, B)), "a string", None])
        pl.append(t_(m, C))
        pl.extend([m.nn.Parameter(t_(m, B), requires_grad=False)])
        pl += [t_(m, A)]
        pl[-1] = t_(m, B)
        return [repr(pl), len(pl), [type(p).__name__ for p in pl], [n for n, _ in pl.named_parameters()],
                list(pl.state_dict().keys()), [type(x).__name__ for x in pl[1:5:2]], repr(pl[::3]),
                pl[0].requires_grad, pl[5].requires_grad, [k for k in dir(pl) if k.isdigit()]]
    same(f)


@pytest.mark.parametrize("case", ["extend-tensor", "extend-int", "index", "call", "replace-param-by-int",
                                  "negative-index"])
def test_parameter_list_errors(case):
    def f(m):
        pl = m.nn.ParameterList([t_(m, A)])
        if case == "extend-tensor":
            pl.extend(t_(m, B))
        if case == "extend-int":
            pl.extend(3)
        if case == "index":
            return pl[1]
        if case == "call":
            pl(t_(m, A))
        if case == "replace-param-by-int":
            pl[0] = 3
        if case == "negative-index":
            return pl[-2]
    assert same(f)[0] == "raise"


def test_a_model_trains_through_a_parameter_list():
    def f(m):
        class Net(m.nn.Module):
            def __init__(self):
                super().__init__()
                self.ws = m.nn.ParameterList([t_(m, A.T), t_(m, A)])

            def forward(self, x):
                for w in self.ws:
                    x = (x @ w).tanh()
                return x

        net = Net()
        opt = m.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        x = t_(m, A)
        for _ in range(3):
            opt.zero_grad()
            net(x).pow(2).sum().backward()
            opt.step()
        return [p.detach() for p in net.parameters()], list(net.state_dict()), repr(net)
    same(f)


# ----- ParameterDict -----


def test_parameter_dict_holds_registers_and_prints_as_torch():
    def f(m):
        pd = m.nn.ParameterDict({"w": t_(m, A), "b": m.nn.Parameter(t_(m, B)), "note": "kept as it is"})
        pd.update(OrderedDict([("z", t_(m, C)), ("a", t_(m, B))]))
        pd.update([("k", t_(m, A))])
        pd["b"] = t_(m, C)
        out = [repr(pd), list(pd), list(pd.keys()), [type(v).__name__ for v in pd.values()],
               [n for n, _ in pd.named_parameters()], list(pd.state_dict()), len(pd), "w" in pd, list(reversed(pd))]
        out.append(pd.pop("z").shape)
        out.append(pd.popitem()[0])
        out.append(pd.get("missing", "default"))
        out.append(type(pd.setdefault("new", t_(m, B))).__name__)
        out.append(repr(pd.copy()))
        out.append(list(pd.fromkeys(["p", "q"])))
        out.append(list(pd | m.nn.ParameterDict({"extra": t_(m, B)})))
        pd |= {"more": t_(m, C)}
        out.append(list(pd))
        pd.clear()
        out.append((len(pd), list(pd.named_parameters())))
        return out
    same(f)


@pytest.mark.parametrize("case", ["int-key", "not-iterable", "bad-element", "short-element", "call", "missing"])
def test_parameter_dict_errors(case):
    def f(m):
        pd = m.nn.ParameterDict()
        if case == "int-key":
            pd[1] = t_(m, A)
        if case == "not-iterable":
            pd.update(3)
        if case == "bad-element":
            pd.update([3])
        if case == "short-element":
            pd.update([("a", t_(m, A), 1)])
        if case == "call":
            pd(t_(m, A))
        if case == "missing":
            return pd["nope"]
    assert same(f)[0] == "raise"


# ----- nn.Parameter on the lean path -----


def _program(m, make):
    w = make(m.tensor(A.copy(), dtype=m.float64))
    b = make(m.tensor(B.copy(), dtype=m.float64))
    x = m.tensor(A.T.copy(), dtype=m.float64)
    y = (((w.exp() * 2.0 + w) @ x).sin() - b[:2]).tanh().sum() + (b * b).sum() / 3
    y.backward()
    return y, w.grad, b.grad


def test_parameters_give_the_bits_plain_tensors_give():
    def plain(m):
        return _program(m, lambda t: t.requires_grad_())

    def param(m):
        return _program(m, m.nn.Parameter)

    for m in (torch, engine):
        got, want = param(m), plain(m)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.detach().numpy(), w.detach().numpy())
    same(param)


def test_a_parameter_operand_takes_the_lean_path_forward_and_backward(monkeypatch):
    # what a Parameter used to fall back to: the general entry (OpDef.__call__) forward, the Tensor route of a
    # node's backward (OpNode._apply_arrays giving None) backward; neither happens for these ops now
    slow = []
    call, arrays = OpDef.__call__, OpNode._apply_arrays

    def spy_arrays(self, plan, g):
        out = arrays(self, plan, g)
        if out is None:
            slow.append(type(self).__name__)
        return out

    monkeypatch.setattr(OpDef, "__call__", lambda self, *a, **k: slow.append(self.qualname) or call(self, *a, **k))
    monkeypatch.setattr(OpNode, "_apply_arrays", spy_arrays)
    p = engine.nn.Parameter(engine.tensor(B.copy()))
    q = engine.nn.Parameter(engine.tensor(B[::-1].copy()))
    y = (p * q).sin() + p.exp() * q
    assert slow == [], f"the general entry ran for {slow}"
    y.backward(engine.ones(3))
    assert slow == [], f"the Tensor route of the backward ran for {slow}"
    assert type(y.grad_fn).__name__ == "AddBackward0"


def test_a_saved_parameter_modified_in_place_fails_the_version_check():
    def f(m):
        p = m.nn.Parameter(m.tensor(B.copy()))
        y = (p * p).sum()
        with m.no_grad():
            p.add_(1)
        y.backward()
    assert same(f)[0] == "raise"
