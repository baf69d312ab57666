"""The array formulas (defop's vjp=, run by backward without create_graph) give the same bits as the Tensor
formulas (run under create_graph), for every op that has them; and they are really taken."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import engine
from engine.ops.pointwise import mul_scalar
from engine.ops.registry import REGISTRY


def _t(rng, shape, dtype, positive=False):
    a = rng.standard_normal(shape).astype(dtype)
    return engine.tensor(np.abs(a) + 0.5 if positive else a, requires_grad=True)


CASES = {  # op qualname -> programs over fresh leaves (x, y): each returns the output
    "add.Tensor": [lambda x, y: x + y, lambda x, y: x + 2.5, lambda x, y: engine.add(x, y, alpha=3)],
    "sub.Tensor": [lambda x, y: x - y, lambda x, y: 1.5 - x, lambda x, y: engine.sub(x, y, alpha=-2)],
    "mul.Tensor": [lambda x, y: x * y, lambda x, y: x * 3, lambda x, y: x * x],
    "mul.Scalar": [lambda x, y: mul_scalar(x, 3.0), lambda x, y: mul_scalar(y, -0.5)],
    "div.Tensor": [lambda x, y: x / y, lambda x, y: 2 / y, lambda x, y: x / 7],
    "neg": [lambda x, y: -x],
    "pow.Tensor_Scalar": [lambda x, y: x**2, lambda x, y: y**0.5, lambda x, y: x**3, lambda x, y: y.pow(-1.5),
                          lambda x, y: x**0, lambda x, y: y**2.5],
    "exp": [lambda x, y: x.exp()],
    "log": [lambda x, y: y.log()],
    "sqrt": [lambda x, y: y.sqrt()],
    "sin": [lambda x, y: x.sin()],
    "cos": [lambda x, y: x.cos()],
    "tanh": [lambda x, y: x.tanh()],
    "sum": [lambda x, y: x.sum()],
    "mean": [lambda x, y: x.mean()],
    "sum.dim_IntList": [lambda x, y: x.sum(-1), lambda x, y: x.sum(0, keepdim=True),
                        lambda x, y: x.sum(list(range(x.ndim))), lambda x, y: x.sum([])],
    "mean.dim": [lambda x, y: x.mean(-1), lambda x, y: x.mean(0, keepdim=True),
                 lambda x, y: y.mean(list(range(y.ndim))[::-1])],  # dims given descending
    "_softmax": [lambda x, y: engine.nn.functional.softmax(x, -1)],
    "_log_softmax": [lambda x, y: engine.nn.functional.log_softmax(x, -1)],
}
MM = [lambda x, y: x @ y.T, lambda x, y: x.mm(y.T).tanh()]
LINEAR = {  # 2-D operands: t and addmm (F.linear with a bias is t, then addmm)
    "t": [lambda x, y: x.t().mm(y), lambda x, y: x.t() * y.t()],
    "addmm": [lambda x, y: engine.nn.functional.linear(x, y, y[:, 0]),
              lambda x, y: engine.addmm(x[:, 0], x, y.T, beta=2.5, alpha=-0.5)],
}
SHAPES = [(), (5,), (3, 4)]


def _grads(fn, shape, dtype, create_graph, seed):
    rng = np.random.default_rng(seed)
    x, y = _t(rng, shape, dtype), _t(rng, shape, dtype, positive=True)
    out = fn(x, y)
    w = engine.tensor(np.random.default_rng(seed + 1).standard_normal(out.shape).astype(dtype))
    out.backward(w, create_graph=create_graph)
    return [None if t.grad is None else np.asarray(t.grad.detach().numpy()) for t in (x, y)]


def test_every_op_with_array_formulas_is_covered():
    with_vjp = {name for name, op in REGISTRY.items() if op.has_vjp}
    assert with_vjp == set(CASES) | {"mm"} | set(LINEAR)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", [*CASES, "mm", *LINEAR])
def test_array_formulas_equal_tensor_formulas_to_the_bit(name, dtype):
    programs = MM if name == "mm" else LINEAR[name] if name in LINEAR else CASES[name]
    shapes = [(3, 4)] if name == "mm" or name in LINEAR else SHAPES
    for k, fn in enumerate(programs):
        for shape in shapes:
            seed = zlib.crc32(f"{name}-{k}-{shape}".encode())
            with pytest.warns(UserWarning):  # backward(create_graph=True) warns, as torch does
                tensor_route = _grads(fn, shape, dtype, True, seed)
            array_route = _grads(fn, shape, dtype, False, seed)
            for a, b in zip(array_route, tensor_route):
                assert (a is None) == (b is None)
                if a is not None:
                    assert a.dtype == b.dtype and a.shape == b.shape
                    assert a.tobytes() == b.tobytes(), f"{name} program {k} shape {shape}: {a} != {b}"


def test_array_route_is_taken(monkeypatch):
    """Counting calls of the Tensor formula: without create_graph sin's is not called, with it it is."""
    op = REGISTRY["sin"]
    f = op.formulas[0]
    calls = []
    tensor_fn = f.fn
    monkeypatch.setattr(f, "fn", lambda grad, self: calls.append(1) or tensor_fn(grad, self))
    x = engine.tensor([0.5, 1.0], requires_grad=True)
    x.sin().sum().backward()
    assert calls == []
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.5, 1.0]), rtol=1e-6)
    x.grad = None
    with pytest.warns(UserWarning):
        x.sin().sum().backward(create_graph=True)
    assert calls == [1]


def test_mixed_dtypes_take_the_tensor_route():
    """float32 input times a float64 0-d tensor: torch's promotion keeps float32; the array route would not,
    so it is not taken, and the gradients are torch's dtypes."""
    x = engine.tensor([1.0, 2.0], requires_grad=True)
    s = engine.tensor(3.0, dtype=engine.float64, requires_grad=True)
    (x * s).sum().backward()
    assert x.grad.dtype == engine.float32 and s.grad.dtype == engine.float64
    assert x.grad.tolist() == [3.0, 3.0] and s.grad.item() == 3.0
    # and the bits are torch's: x.grad = y * s in float32 (s rounded to float32 first), not in float64
    import torch  # noqa: PLC0415

    ys = np.random.default_rng(5).standard_normal(64).astype("float32")
    grads = []
    for lib in (engine, torch):
        x = lib.tensor(np.ones(64, dtype="float32"), requires_grad=True)
        s = lib.tensor(0.1, dtype=lib.float64, requires_grad=True)
        ((x * s) * lib.tensor(ys)).sum().backward()
        grads.append(np.asarray(x.grad.detach().numpy()).tobytes())
    assert grads[0] == grads[1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs, bs", [((3, 4), (4,)), ((3, 4), (3, 1)), ((2, 3, 4), (4,)), ((2, 3, 4), (1, 3, 1)),
                                    ((40, 30), (30,))])
def test_broadcast_gradients_summed_on_arrays_equal_the_tensor_route(xs, bs, dtype):
    """The sum of a broadcast gradient down to its input's shape (validate_outputs) runs on the arrays
    without create_graph: the same bits as the engine's sum ops under create_graph."""

    def grads(create_graph):
        r = np.random.default_rng(3)
        x = engine.tensor(r.standard_normal(xs).astype(dtype), requires_grad=True)
        b = engine.tensor(r.standard_normal(bs).astype(dtype), requires_grad=True)
        out = (x + b) * b
        w = engine.tensor(r.standard_normal(out.shape).astype(dtype))
        out.backward(w, create_graph=create_graph)
        return [t.grad.detach().numpy() for t in (x, b)]

    with pytest.warns(UserWarning):
        tensor_route = grads(True)
    for a, t in zip(grads(False), tensor_route):
        assert a.shape == t.shape and a.dtype == t.dtype and a.tobytes() == t.tobytes()


# ----- the unrolled call path (registry._fast_call) against __call__ -----

FAST_OPS = sorted(name for name, op in REGISTRY.items() if op.fast is not None)
OPERANDS = {  # (a, b) builders; b unused by one-input entries
    "f32 leaves": lambda r: (engine.tensor(r.standard_normal(3).astype("float32"), requires_grad=True),
                             engine.tensor(r.standard_normal(3).astype("float32") + 3, requires_grad=True)),
    "non-leaf and 0-d leaf": lambda r: (engine.tensor(r.standard_normal((2, 3)), requires_grad=True) * 1.5,
                                        engine.tensor(2.5, dtype=engine.float64, requires_grad=True)),
    "one without grad": lambda r: (engine.tensor(r.standard_normal(3).astype("float32"), requires_grad=True),
                                   engine.tensor(r.standard_normal(3).astype("float32") + 3)),
    "Python float": lambda r: (engine.tensor(r.standard_normal(3).astype("float32"), requires_grad=True), 0.75),
    "Python int": lambda r: (engine.tensor(r.standard_normal(3), requires_grad=True), 3),
    "mixed dtypes": lambda r: (engine.tensor(r.standard_normal(3).astype("float32"), requires_grad=True),
                               engine.tensor(r.standard_normal(3) + 3, requires_grad=True)),
    "int tensors": lambda r: (engine.tensor([1, 2, 3]), engine.tensor([4, 5, 6])),
    "int tensor, float": lambda r: (engine.tensor([1, 2, 3]), 0.5),
    "no grad at all": lambda r: (engine.tensor([0.5, 1.5]), engine.tensor([2.0, 3.0])),
}


def _outcome(call, op, operands):
    """What a call gives: the output (dtype, shape, bits, requires_grad, grad_fn and its edges) and the
    gradients a backward of ones leaves; or the error, where the call or its backward raises."""
    a, b = operands
    try:
        out = call(a) if op.n_lead == 1 else call(a, b)
        fn = out.grad_fn
        desc = (out.dtype, tuple(out.shape), np.asarray(out.detach().numpy()).tobytes(), out.requires_grad,
                None if fn is None else (fn.name(), tuple((None if n is None else n.name(), nr)
                                                          for n, nr in fn.next_functions)))
        grads = ()
        if out.requires_grad:
            out.backward(engine.ones_like(out))
            grads = tuple(None if t.grad is None else t.grad.numpy().tobytes()
                          for t in (a, b) if isinstance(t, engine.Tensor))
    except Exception as e:  # noqa: BLE001 - the two paths must raise alike
        return ("raised", type(e).__name__, str(e))
    return desc, grads


@pytest.mark.parametrize("case", list(OPERANDS))
@pytest.mark.parametrize("name", FAST_OPS)
def test_fast_call_equals_the_general_call(name, case):
    op = REGISTRY[name]
    engine.manual_seed(7)  # the random entries (normal.Tensor_Tensor, ...) draw the same numbers on both paths
    fast = _outcome(op.fast, op, OPERANDS[case](np.random.default_rng(7)))
    engine.manual_seed(7)
    general = _outcome(op, op, OPERANDS[case](np.random.default_rng(7)))
    assert fast == general


def test_operators_and_unary_methods_run_the_fast_call():
    assert engine.Tensor.__mul__ is REGISTRY["mul.Tensor"].fast
    assert engine.Tensor.__add__ is REGISTRY["add.Tensor"].fast
    assert {"add.Tensor", "sub.Tensor", "mul.Tensor", "div.Tensor", "sin", "exp", "tanh"} <= set(FAST_OPS)
