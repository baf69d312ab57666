"""The backward pass's sums of 0-d gradients (a 0-d tensor used by many ops: every other op of a chain multiplies
by one), which run_backward's array loop adds as NumPy scalars (engine/autograd/backward_loop.py, _sum_0d and its
inline copy): the same bits, dtype and shape as live torch's .grad, for float16/32/64, signed zeros, overflow to
infinity and NaN; through the library and through engine.evaluate."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.autograd import backward_loop

DTYPES = {"float16": (np.float16, torch.float16), "float32": (np.float32, torch.float32),
          "float64": (np.float64, torch.float64)}


def _bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.reshape(-1).view(np.uint8).tobytes()


def _grads(m, dt, w0, consts, vec):
    """w (0-d) times each constant (0-d, or a vector where `vec`), the products summed: w's gradient is the sum of
    one gradient per use, in the order the backward pass reaches them."""
    w = m.tensor(w0, dtype=dt, requires_grad=True)
    loss = None
    for c in consts:
        t = w * m.tensor(c, dtype=dt)
        t = t.sum() if vec else t
        loss = t if loss is None else loss + t
    loss.backward()
    return w.grad


CASES = {
    "random": lambda rng: [float(rng.standard_normal()) for _ in range(9)],
    "negative zeros": lambda rng: [-0.0] * 5,
    "mixed zeros": lambda rng: [0.0, -0.0, -0.0, 0.0],
    "cancelling": lambda rng: [1e4, 1.0, -1e4, 3.0],
    "overflow": lambda rng: [6e4, 6e4, 3e38, 3e38, 1e308, 1e308],
    "nan": lambda rng: [1.0, float("nan"), 2.0],
    "infinities": lambda rng: [float("inf"), 1.0, float("-inf")],
}


@pytest.mark.parametrize("vec", [False, True], ids=["0-d", "vector"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_the_sum_of_a_0d_leafs_gradients_is_torchs(dtype, case, vec):
    np_dt, t_dt = DTYPES[dtype]
    consts = CASES[case](np.random.default_rng(len(case)))
    if vec:
        consts = [[c, c / 3, -c / 7, c * 2] * 4 for c in consts]  # 16 values: vector_sum's size
    with np.errstate(all="ignore"):
        got = _grads(engine, engine.float16 if dtype == "float16" else getattr(engine, dtype), 0.5, consts, vec)
    want = _grads(torch, t_dt, 0.5, consts, vec)
    assert got.dtype.__str__() == str(want.dtype)
    assert _bits(got.numpy()) == _bits(want.numpy().astype(np_dt)), (got, want)


def test_sum_0d_gives_the_ufuncs_sum_for_arrays_and_scalars():
    """_sum_0d(a, g) against the ufunc on 0-d arrays (what the loop summed before), every mix of 0-d array and
    NumPy scalar, the values of CASES and their dtypes."""
    for dt in (np.float16, np.float32, np.float64):
        vals = [v for f in CASES.values() for v in f(np.random.default_rng(3))]
        with np.errstate(all="ignore"):
            for a, b in zip(vals, vals[1:]):
                x, y = np.asarray(a, dt), np.asarray(b, dt)
                want = np.add(x, y)
                for p in (x, x[()]):
                    for q in (y, y[()]):
                        got = backward_loop._sum_0d(p, q)
                        assert type(got) is type(want) and _bits(got) == _bits(want), (dt, a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_evaluates_grad_of_a_0d_leaf_used_by_every_other_op_is_torchs(dtype):
    """A chain like the per-op group's (bench.perop_group), of mul by a 0-d w and add x only (exact float ops: the
    transcendental ones' last bits are not torch's everywhere) through engine.evaluate: w's gradient, summed
    from 50 uses, is torch's to the bit."""
    np_dt, t_dt = DTYPES[dtype]
    x0 = np.linspace(-1, 1, 16).round(4).tolist()
    ops, prev = [], "x"
    for i in range(99):
        k = ("mul", "add")[i % 2]
        args = [prev, "w"] if k == "mul" else ([prev, "x"] if k == "add" else [prev])
        ops.append({"name": f"t{i}", "op": k, "args": args})
        prev = f"t{i}"
    ops.append({"name": "loss", "op": "sum", "args": [prev]})
    doc = {"leaves": {"x": {"data": x0, "dtype": dtype, "requires_grad": True},
                      "w": {"data": 0.9, "dtype": dtype, "requires_grad": True}},
           "ops": ops, "backward": [{"tensor": "loss"}], "outputs": ["loss"], "encoding": "base64"}
    res = engine.evaluate(doc)
    import base64  # noqa: PLC0415

    got = np.frombuffer(base64.b64decode(res["tensors"]["w"]["grad"]["b64"]), np_dt)
    x = torch.tensor(x0, dtype=t_dt, requires_grad=True)
    w = torch.tensor(0.9, dtype=t_dt, requires_grad=True)
    y = x
    for i in range(99):
        y = y * w if i % 2 == 0 else y + x
    y.sum().backward()
    assert got.tobytes() == w.grad.numpy().reshape(-1).tobytes()
