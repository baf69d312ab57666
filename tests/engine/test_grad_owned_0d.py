"""A 0-d leaf's .grad holds a buffer of its own (engine/autograd/nodes.py _own), now that the array backward calls
vector_sum itself for a 0-d operand's gradient (engine/ops/array_vjp.py: its result a 0-d view of the running sum):
an array whose buffer nothing else holds (base None, writeable, its own data), or an immutable NumPy scalar (a sum of
0-d gradients), never a view of a temporary nor a buffer another leaf's .grad holds. Checked against live torch:
values, a view of .grad taken before a second backward (it sees the in-place accumulation), and in-place changes of
one leaf's .grad that must not reach another's (add's backward hands one gradient object to both of its inputs)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine


def _owned(t, array=False):
    d = t.grad._data
    if isinstance(d, np.generic) and not array:
        return True
    return type(d) is np.ndarray and d.shape == () and d.base is None and d.flags.writeable and d.flags.owndata


def _vec(dt):
    return np.random.default_rng(12).uniform(-1, 1, 16 if dt == "float32" else 8).astype(dt)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("uses", [1, 2, 3])
def test_a_0d_leaf_grad_is_its_own_array(dt, uses):
    x = _vec(dt)
    got, want = [], []
    for mod, out in ((engine, got), (torch, want)):
        w = mod.tensor(np.array(0.75, dt), requires_grad=True)
        y = mod.from_numpy(x.copy())
        for _ in range(uses):
            y = y * w
        loss = y.sum()
        loss.backward(retain_graph=True)
        if mod is engine:
            assert _owned(w, array=uses == 1), type(w.grad._data)  # (used once: vector_sum's 0-d view, copied)
        g = w.grad
        v = g.view(())  # a view of .grad: the second backward adds into the same buffer, which it sees
        first = g.item()
        loss.backward()
        if mod is engine:
            assert _owned(w) and w.grad is g
        out.append((first, g.item(), v.item(), w.grad.item()))
    assert got == want


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_two_0d_leaves_given_one_gradient_do_not_share_it(dt):
    x = _vec(dt)
    got, want = [], []
    for mod, out in ((engine, got), (torch, want)):
        a = mod.tensor(np.array(0.5, dt), requires_grad=True)
        b = mod.tensor(np.array(-1.25, dt), requires_grad=True)
        ((a + b) * mod.from_numpy(x.copy())).sum().backward()  # add's backward: one gradient for a and b
        if mod is engine:
            assert _owned(a, array=True) and _owned(b, array=True)
            assert not np.shares_memory(a.grad._data, b.grad._data)
        before = b.grad.item()
        a.grad.add_(1.0)  # in place on a's .grad: b's is untouched
        a.grad.mul_(3.0)
        out.append((before, a.grad.item(), b.grad.item()))
    assert got == want
    assert got[0][2] == got[0][0]


def test_an_evaluate_answer_with_shared_0d_grads_matches_torch():
    x = _vec("float32")
    doc = {"leaves": {"x": {"data": x.tolist()}, "a": {"data": 0.5, "requires_grad": True},
                      "b": {"data": -1.25, "requires_grad": True}},
           "ops": [{"name": "s", "op": "add", "args": ["a", "b"]}, {"name": "p", "op": "mul", "args": ["s", "x"]},
                   {"name": "q", "op": "mul", "args": ["p", "a"]}, {"name": "loss", "op": "sum", "args": ["q"]}],
           "backward": [{"tensor": "loss"}], "outputs": ["loss"]}
    r = engine.evaluate(doc)["tensors"]
    a = torch.tensor(0.5, requires_grad=True)
    b = torch.tensor(-1.25, requires_grad=True)
    ((a + b) * torch.from_numpy(x.copy()) * a).sum().backward()
    assert (r["a"]["grad"], r["b"]["grad"]) == (a.grad.item(), b.grad.item())
