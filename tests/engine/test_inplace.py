"""In-place ops, views and version counters, held to torch 2.13: values, grads, grad_fn names and edges,
versions, and the errors (class and message) at the moment torch raises them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.ops.inplace import TORCH_INPLACE


def _node_name(fn):
    return None if fn is None else type(fn).__name__


def _describe(t, version=True):
    """What a tensor shows: values, dtype, flags, grad_fn and its edges, version, grad. (A .grad's version is
    torch's bookkeeping of how it built the buffer, a clone's copy_ or not: not compared.)"""
    if not isinstance(t, engine.Tensor | torch.Tensor):
        return t
    fn = t.grad_fn
    return {
        "values": np.asarray(t.detach().tolist(), dtype=float).round(5).tolist(),
        "dtype": str(t.dtype).replace("torch.", ""),
        "requires_grad": t.requires_grad, "is_leaf": t.is_leaf, "grad_fn": _node_name(fn),
        "next": None if fn is None else [(_node_name(n), nr) for n, nr in fn.next_functions],
        "version": t._version if version else None,
        "grad": None if not t.is_leaf or t.grad is None else np.asarray(t.grad.tolist()).round(5).tolist(),
    }


def _run(fn, mod):
    try:
        out = fn(mod)
    except Exception as e:  # noqa: BLE001 - the error itself is the observation
        return ("raised", type(e).__name__, str(e))
    if isinstance(out, dict):
        return {k: _describe(v, not k.startswith("grad_")) for k, v in out.items()}
    return _describe(out)


def same(fn):
    got, want = _run(fn, engine), _run(fn, torch)
    assert got == want
    return got


def _x(m, values=(1.0, 2.0, 3.0), rg=True, dtype=None):
    return m.tensor(list(values), requires_grad=rg, dtype=dtype)


CASES = {}


def case(f):
    CASES[f.__name__] = f
    return f


@case
def leaf_in_place(m):
    return _x(m).add_(1)


@case
def leaf_in_place_under_no_grad(m):
    x = _x(m)
    with m.no_grad():
        x.mul_(2)
    return {"x": x}


@case
def iadd_on_leaf(m):
    x = _x(m)
    x += 1
    return x


@case
def saved_self_is_the_original(m):
    x, b = _x(m), _x(m, (3.0, 4.0, 5.0))
    a = x * 1
    a.mul_(b)
    a.sum().backward()
    return {"a": a, "x": x, "b": b}


@case
def saved_output_modified(m):
    x = _x(m)
    y = x.exp()
    y.add_(1)
    y.sum().backward()


@case
def saved_input_modified(m):
    x, w = _x(m), _x(m, (1.0, 2.0, 3.0))
    a = x * 1
    z = a * w
    a.add_(1)
    z.sum().backward()


@case
def saved_leaf_modified(m):
    x, w = _x(m), _x(m, rg=False)
    z = x * w
    w.add_(1)
    z.sum().backward()


@case
def saved_output_modified_through_detach(m):
    x = _x(m)
    a = (x * 1).tanh()
    z = a.tanh()
    a.detach().add_(1)
    z.sum().backward()


@case
def data_has_its_own_version(m):
    x = _x(m)
    e = x.exp()
    e.data.add_(1)
    e.sum().backward()
    return {"e": e, "x": x}


@case
def in_place_twice_then_backward(m):
    x = _x(m)
    a = (x * 1).tanh()
    a.tanh_()
    a.sum().backward()


@case
def exp_in_place_then_mul(m):
    x = _x(m)
    a = x * 1
    a.exp_()
    a.mul_(2)
    a.sum().backward()
    return {"a": a, "x": x}


@case
def view_in_place(m):
    x = _x(m, (1.0, 2.0, 3.0, 4.0))
    base = x * 1
    v = base[1:3]
    v.mul_(2)
    out = {"base": base, "v": v}
    base.sum().backward()
    out["x"] = x
    return out


@case
def views_regenerated(m):
    x = _x(m, (1.0, 2.0, 3.0, 4.0))
    base = x * 1
    v, w, r = base[1:3], base[0:2], base.view(2, 2)
    base.mul_(2)
    v.add_(1)
    (base.sum() + w.sum() * 2 + (r * 3).sum()).backward()
    return {"base": base, "v": v, "w": w, "r": r, "x": x}


@case
def view_of_a_leaf(m):
    return _x(m)[1:3].mul_(2)


@case
def multi_output_view(m):
    u = (_x(m) * 1).unbind(0)
    u[0].mul_(2)


@case
def split_view(m):
    p1, _ = (_x(m, (1.0, 2.0, 3.0, 4.0)) * 1).split(2)
    p1.mul_(2)


@case
def no_grad_view(m):
    base = _x(m) * 1
    with m.no_grad():
        v = base[1:]
    v.mul_(2)


@case
def expanded(m):
    m.ones(1).expand(3).add_(1)


@case
def cast_refused(m):
    m.zeros(3, dtype=m.int64).add_(1.5)


@case
def leaf_without_grad_takes_history(m):
    q = m.zeros(3)
    x = _x(m)
    q.add_(x)
    q.sum().backward()
    return {"q": q, "x": x}


@case
def leaf_without_grad_view_takes_history(m):
    leaf = m.zeros(4)
    x = _x(m, (1.0, 2.0, 3.0, 4.0))
    lv = leaf[1:3]
    lv.add_(x[1:3])
    leaf.sum().backward()
    return {"leaf": leaf, "lv": lv, "x": x}


@case
def transposed_view(m):
    x = m.ones(2, 3, requires_grad=True)
    t = x * 1
    tt = t.t()
    tt.mul_(m.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    t.sum().backward()
    return {"t": t, "tt": tt, "x": x}


@case
def setitem_number(m):
    x = _x(m, (1.0, 2.0, 3.0, 4.0))
    s = x * 1
    s[0] = 5.0
    s.sum().backward()
    return {"s": s, "x": x}


@case
def setitem_tensor(m):
    x, val = _x(m, (1.0, 2.0, 3.0, 4.0)), m.tensor(7.0, requires_grad=True)
    s = x * 1
    s[1] = val
    (s * s).sum().backward()
    return {"s": s, "x": x, "val": val}


@case
def setitem_advanced(m):
    x, val = _x(m, (1.0, 2.0, 3.0, 4.0)), m.tensor(7.0, requires_grad=True)
    s = x * 1
    s[m.tensor([0, 2])] = val
    (s * s).sum().backward()
    return {"s": s, "x": x, "val": val}


@case
def setitem_slice_of_matrix(m):
    x = m.ones(3, 3, requires_grad=True)
    s = x * 2
    s[:, 1] = m.tensor([1.0, 2.0, 3.0])
    s.sum().backward()
    return {"s": s, "x": x}


@case
def setitem_on_leaf(m):
    x = _x(m)
    x[0] = 1.0


@case
def copy_fill_zero(m):
    x = _x(m)
    a, b, c = x * 1, x * 2, x * 3
    a.copy_(m.tensor([9.0]))
    b.fill_(2.0)
    c.zero_()
    (a + b + c).sum().backward()
    return {"a": a, "b": b, "c": c, "x": x}


@case
def copy_from_a_tensor_that_requires_grad(m):
    x, y = _x(m), _x(m, (4.0, 5.0, 6.0))
    a = x * 1
    a.copy_(y * y)
    a.sum().backward()
    return {"a": a, "x": x, "y": y}


@case
def fill_with_a_tensor(m):
    x, v = _x(m), m.tensor(3.0, requires_grad=True)
    a = x * 1
    a.fill_(v)
    (a * a).sum().backward()
    return {"a": a, "x": x, "v": v}


@case
def training_loop(m):
    m.manual_seed(0)
    w = m.tensor([0.5, -0.25, 1.0], requires_grad=True)
    xs = m.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    ys = m.tensor([1.0, -1.0])
    for _ in range(4):
        loss = ((xs @ w - ys) ** 2).mean()
        loss.backward()
        with m.no_grad():
            w -= 0.1 * w.grad
        w.grad.zero_()
    return {"w": w, "loss": loss}


@case
def grads_of_two_leaves_are_their_own(m):
    a, b = _x(m), _x(m, (4.0, 5.0, 6.0))
    (a + b).sum().backward()
    ga = a.grad
    ga.zero_()
    return {"a": a, "b": b, "grad_a": ga, "grad_b": b.grad}


@case
def accumulation_is_in_place(m):
    g = _x(m, (1.0, 2.0))
    (g * 2).sum().backward()
    gg = g.grad
    gg.zero_()
    (g * 2).sum().backward()
    return {"g": g, "grad_g": gg, "same": g.grad is gg}


@case
def detach_shares_the_version(m):
    x = _x(m)
    b = x * 1
    d = b.detach()
    d.add_(1)
    return {"b": b, "d": d}


@case
def double_backward_through_in_place(m):
    x = _x(m)
    a = x * x
    a.mul_(x)
    (g,) = m.autograd.grad(a.sum(), x, create_graph=True)
    g.sum().backward()
    return {"grad_x": g, "x": x}


@case
def clamp_sigmoid_relu(m):
    x = _x(m, (-1.0, 0.5, 2.0))
    a, b, c = x * 1, x * 1, x * 1
    a.clamp_(0, 1)
    b.sigmoid_()
    c.relu_()
    (a + b + c).sum().backward()
    return {"a": a, "b": b, "c": c, "x": x}


@case
def broadcast_into_smaller(m):
    m.zeros(3).add_(m.ones(2, 3))


@case
def grad_assigned_a_number(m):
    m.ones(2, requires_grad=True).grad = 5


@case
def grad_assigned_another_size(m):
    m.ones(2, requires_grad=True).grad = m.zeros(3)


@case
def grad_assigned_another_dtype(m):
    m.ones(2, requires_grad=True).grad = m.zeros(2, dtype=m.float64)


@case
def grad_assigned(m):
    x = m.ones(2, requires_grad=True)
    x.grad = m.tensor([1.0, 2.0])
    return {"x": x}


@case
def saved_attributes(m):
    x = m.ones(2, requires_grad=True)
    y = x * m.ones(2, requires_grad=True)
    z = x.pow(3)
    e = x.exp()
    return {"self": y.grad_fn._saved_self, "other": y.grad_fn._saved_other, "exponent": z.grad_fn._saved_exponent,
            "result": e.grad_fn._saved_result, "sizes": x.sum().grad_fn._saved_self_sym_sizes}


@case
def saved_attribute_unknown(m):
    return (m.ones(2, requires_grad=True).exp()).grad_fn._saved_foo


@case
def saved_attribute_after_backward(m):
    x = m.ones(2, requires_grad=True)
    e = x.exp()
    e.sum().backward()
    return e.grad_fn._saved_result


@case
def retained_base_of_a_modified_view(m):
    x = _x(m)
    t = x * 2
    t.retain_grad()
    t[0:1].mul_(1.5)
    t.sum().backward()
    return {"t": t.grad, "x": x}


@case
def retained_view_of_a_modified_base(m):
    x = _x(m)
    t = x * 2
    v = t[0:2]
    v.retain_grad()
    t.mul_(3)
    (v.sum() * 2).backward()
    return {"v": v.grad, "x": x, "v_node": v}


@case
def retained_then_modified(m):
    x = _x(m)
    t = x * 2
    t.retain_grad()
    t.tanh_()
    t.sum().backward()
    return {"t": t.grad, "x": x}


@pytest.mark.parametrize("name", sorted(CASES))
def test_like_torch(name):
    same(CASES[name])


def _inplace_names():
    names = []
    for name in TORCH_INPLACE:
        if hasattr(engine.Tensor, name) and name[:-1] in ("add", "sub", "mul", "div", "pow", "neg", "exp", "log",
                                                          "sin", "cos", "tanh", "sigmoid", "relu", "sqrt", "abs",
                                                          "clamp", "square", "reciprocal", "rsqrt", "expm1",
                                                          "log1p", "atan", "asin", "floor", "sign", "erf", "tril"):
            names.append(name)
    return names


@pytest.mark.parametrize("name", _inplace_names())
def test_in_place_variant_records_torchs_node(name):
    args = {"add_": (2.0,), "sub_": (2.0,), "mul_": (2.0,), "div_": (2.0,), "pow_": (2.0,), "clamp_": (0.2, 0.8)}

    def run(m):
        x = m.tensor([[0.25, 0.5], [0.75, 0.125]], requires_grad=True)
        a = x * 1
        getattr(a, name)(*args.get(name, ()))
        a.sum().backward()
        return {"a": a, "x": x}

    same(run)
