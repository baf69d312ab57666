"""The engine's autograd semantics against live torch 2.13, continued (test_autograd.py): graph nodes
(AccumulateGrad, None edges, grad_fn), very deep graphs, the type-promotion table, composite programs (values,
gradients and the whole recorded graph), layout queries and Tensor basics.

Most tests run one function on both modules (`m` is torch or engine) and compare what they return, raise or warn
(tests/engine/autograd_both.py).
"""
from __future__ import annotations

import itertools
import time
import warnings

import numpy as np
import pytest
import torch

import engine
from tests.engine.autograd_both import (
    assert_close,
    assert_raises_like_torch,
    leaf,
    same_outcome,
)

# ----- graph nodes -----


def test_accumulate_grad_variable():
    def fn(m):
        x = leaf(m)
        w = leaf(m, [1.0, 2.0, 3.0])
        y = x * w
        nodes = y.grad_fn.next_functions
        return (type(nodes[0][0]).__name__, nodes[0][0].variable is x, nodes[1][0].variable is w,
                nodes[0][1], nodes[1][1])

    assert fn(engine) == fn(torch)


def test_accumulate_grad_node_is_shared():
    def fn(m):
        x = leaf(m)
        a, b = x * 2, x + 1
        return a.grad_fn.next_functions[0][0] is b.grad_fn.next_functions[0][0]

    assert fn(engine) == fn(torch)


def test_constants_appear_as_none_edges():
    def fn(m):
        x = leaf(m)
        c = m.ones(3, dtype=m.float64)
        y = c * x
        return [(type(n).__name__ if n is not None else None, k) for n, k in y.grad_fn.next_functions]

    assert fn(engine) == fn(torch)


def test_is_leaf_and_grad_fn():
    def fn(m):
        x = leaf(m)
        c = m.ones(3)
        y = x * 2
        return (x.is_leaf, c.is_leaf, y.is_leaf, x.grad_fn is None, type(y.grad_fn).__name__,
                y.grad_fn.name())

    assert fn(engine) == fn(torch)


def test_floor_divide_backward_not_implemented():
    def fn(m):
        x = leaf(m)
        (x // 2).sum().backward()

    assert_raises_like_torch(fn)


def test_remainder_scalar_dividend_backward_not_implemented():
    def fn(m):
        x = leaf(m)
        (5.0 % x).sum().backward()

    assert_raises_like_torch(fn)


# ----- deep graphs -----


def test_chain_of_100000_ops_backward():
    n = 100_000
    x = engine.tensor(1.0, dtype=engine.float64, requires_grad=True)
    start = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * 1.00001
    y.backward()
    elapsed = time.perf_counter() - start
    np.testing.assert_allclose(x.grad.item(), 1.00001 ** n, rtol=1e-9)
    assert elapsed < 30, f"100,000-op chain took {elapsed:.1f}s"
    del y  # dropping the last reference frees 100,000 nodes: must not recurse either


# ----- type promotion -----

DTYPES = ["bool", "int32", "int64", "float16", "float32", "float64"]


def _values(dtype):
    return [1, 0, 1] if dtype == "bool" else [1, 2, 3]


def _make(m, dtype, zero_d=False):
    dt = getattr(m, dtype)
    if zero_d:
        return m.tensor(_values(dtype)[0], dtype=dt)
    return m.tensor(_values(dtype), dtype=dt)


@pytest.mark.parametrize("a, b", list(itertools.product(DTYPES, DTYPES)))
def test_promotion_tensor_tensor(a, b):
    for za, zb in [(False, False), (True, False), (False, True), (True, True)]:
        def fn(m, za=za, zb=zb):
            return str((_make(m, a, za) + _make(m, b, zb)).dtype)

        t, e = same_outcome(fn)
        assert e == t, f"{a}{'(0-d)' if za else ''} + {b}{'(0-d)' if zb else ''}"


@pytest.mark.parametrize("a, b", list(itertools.product(DTYPES, DTYPES)))
def test_promote_types_and_result_type(a, b):
    assert str(engine.promote_types(getattr(engine, a), getattr(engine, b))) == str(
        torch.promote_types(getattr(torch, a), getattr(torch, b)))
    assert str(engine.result_type(_make(engine, a), _make(engine, b, True))) == str(
        torch.result_type(_make(torch, a), _make(torch, b, True)))


@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize("scalar", [2, 2.5, True], ids=["int", "float", "bool"])
@pytest.mark.parametrize("zero_d", [False, True], ids=["nd", "0d"])
def test_promotion_tensor_python_scalar(a, scalar, zero_d):
    for order in ("left", "right"):
        def fn(m, order=order):
            t = _make(m, a, zero_d)
            return str((t + scalar if order == "left" else scalar + t).dtype)

        t, e = same_outcome(fn)
        assert e == t, f"{a} + {scalar!r} ({order})"
    assert str(engine.result_type(_make(engine, a, zero_d), scalar)) == str(
        torch.result_type(_make(torch, a, zero_d), scalar))


@pytest.mark.parametrize("a, b", list(itertools.product(DTYPES, DTYPES)))
def test_promotion_mul_and_div(a, b):
    for op in ("mul", "div"):
        def fn(m, op=op):
            return str(getattr(m, op)(_make(m, a), _make(m, b, True)).dtype)

        t, e = same_outcome(fn)
        assert e == t, f"{op}({a}, {b} 0-d)"


def test_mixed_precision_gradients_keep_input_dtypes():
    def fn(m):
        x = m.tensor([1.0, 2.0], dtype=m.float32, requires_grad=True)
        s = m.tensor(3.0, dtype=m.float64, requires_grad=True)
        y = (x * s).sum()
        y.backward()
        return str(y.dtype), str(x.grad.dtype), str(s.grad.dtype), x.grad, s.grad

    t, e = fn(torch), fn(engine)
    assert e[:3] == t[:3]
    assert_close(e[3], t[3])
    assert_close(e[4], t[4])


# ----- composite programs: values, gradients and the whole recorded graph -----


def graph_of(outs, leaves):
    """Node names and (child, input_nr) edges in BFS order from the outputs, shared nodes numbered once."""
    index = {id(t): i for i, t in enumerate(leaves)}
    number, nodes, queue = {}, [], []

    def visit(n):
        if n is None:
            return None
        if id(n) not in number:
            number[id(n)] = len(number)
            nodes.append(None)
            queue.append(n)
        return number[id(n)]

    roots = [visit(o.grad_fn) for o in outs]
    keep = []
    while queue:
        n = queue.pop(0)
        keep.append(n)
        var = index.get(id(n.variable), "?") if type(n).__name__ == "AccumulateGrad" else None
        nodes[number[id(n)]] = (type(n).__name__, var, tuple((visit(c), k) for c, k in n.next_functions))
    return roots, nodes


PROGRAMS = {
    "t-contiguous-view": lambda m, x: x.t().contiguous().view(-1),
    "t-reshape-copy": lambda m, x: x.t().reshape(-1),
    "unsqueeze-expand-reshape": lambda m, x: x.unsqueeze(0).expand(2, 3, 4).reshape(6, 4),
    "permute-flatten": lambda m, x: x.unsqueeze(0).permute(2, 0, 1).flatten(),
    "T-2d": lambda m, x: x.T * 2,
    "mT-matmul": lambda m, x: x.mT @ x,
    "matmul-chain": lambda m, x: (x @ x.t()) @ x,
    "normalize": lambda m, x: x / x.sum(-1, keepdim=True),
    "sum-mean": lambda m, x: (x * 2).sum(1).mean(),
    "leaky": lambda m, x: m.where(x > 0, x, x * 0.1),
    "scalar-over-x": lambda m, x: 2.0 / (x + 5),
    "scalar-minus-x": lambda m, x: x ** 2 + 3 - x,
    "clamp-sigmoid": lambda m, x: (x.clamp(min=0) * x.sigmoid()).sum(),
    "reuse": lambda m, x: (x * x + x.exp() * x).mean(0),
    "shared-view": lambda m, x: x.view(12) @ x.view(12),
    "int-scalar-promote": lambda m, x: (x + 1) * 2 - 1.5,
    "pow-chain": lambda m, x: (x.abs() + 1).pow(0.5).pow(x.tanh()),
    "vector-matrix": lambda m, x: x.sum(0) @ x.t(),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_composite_program(name):
    prog = PROGRAMS[name]
    data = np.random.default_rng(7).uniform(-2, 2, (3, 4))

    def fn(m):
        x = m.tensor(data, dtype=m.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = prog(m, x)
        g = graph_of([out], [x])
        w = m.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)), dtype=m.float64)
        (out * w).sum().backward()
        return out, g, x.grad

    (to, tg, tgrad), (eo, eg, egrad) = fn(torch), fn(engine)
    assert_close(eo, to)
    assert eg == tg, f"engine graph {eg}\ntorch graph {tg}"
    assert_close(egrad, tgrad)


def test_layout_queries():
    def fn(m):
        x = m.ones(3, 4)
        return (x.t().is_contiguous(), x.is_contiguous(), x.expand(2, 3, 4).is_contiguous(),
                x.t().contiguous().is_contiguous(), x.t().stride(), x.stride(), x.expand(2, 3, 4).stride())

    assert fn(engine) == fn(torch)


# ----- Tensor basics: conversions, metadata, construction, requires_grad rules -----

TENSOR_PROBES = {
    "bool_multi": lambda m: bool(m.ones(2)),
    "bool_one": lambda m: bool(m.ones(1)),
    "bool_empty": lambda m: bool(m.ones(0)),
    "item_multi": lambda m: m.ones(2).item(),
    "item_one": lambda m: m.tensor([[2.5]]).item(),
    "len0d": lambda m: len(m.tensor(1.0)),
    "iter0d": lambda m: list(m.tensor(1.0)),
    "numpy_req": lambda m: m.ones(2, requires_grad=True).numpy(),
    "float_multi": lambda m: float(m.ones(2)),
    "int_of_float": lambda m: int(m.tensor(2.7)),
    "index_float": lambda m: [1,2,3][m.tensor(1.0)],
    "index_int": lambda m: [1,2,3][m.tensor(1)],
    "size_neg": lambda m: m.ones(2,3).size(-1),
    "size_oob": lambda m: m.ones(2,3).size(2),
    "dim": lambda m: (m.ones(2,3).dim(), m.ones(2,3).ndim, m.ones(2,3).numel(), m.ones(2,3).nelement()),
    "shape_repr": lambda m: repr(m.ones(2,3).shape),
    "tolist": lambda m: m.tensor([[1,2],[3,4]]).tolist(),
    "type": lambda m: (m.ones(2).type(), m.ones(2, dtype=m.int64).type()),
    "element_size": lambda m: (m.ones(2).element_size(), m.ones(2,dtype=m.float64).element_size()),
    "is_fp": lambda m: (m.ones(2).is_floating_point(), m.ones(2, dtype=m.int32).is_floating_point()),
    "to_same": lambda m: (lambda x: x.to(m.float32) is x)(m.ones(2)),
    "to_grad": lambda m: type(m.ones(2, requires_grad=True).to(m.float64).grad_fn).__name__,
    "double_grad": lambda m: type(m.ones(2, requires_grad=True).double().grad_fn).__name__,
    "long_grad": lambda m: (lambda y: (y.requires_grad, y.grad_fn))(m.ones(2, requires_grad=True).long()),
    "clone_grad": lambda m: type(m.ones(2, requires_grad=True).clone().grad_fn).__name__,
    "detach_shares": lambda m: (lambda x: (x.detach().requires_grad, x.data.requires_grad))(
        m.ones(2, requires_grad=True)),
    "eq_list": lambda m: (m.ones(2) == 1).tolist(),
    "format0d": lambda m: f"{m.tensor(2.5):.2f}",
    "format1d": lambda m: f"{m.tensor([2.5])}",
    "grad_set": lambda m: (lambda x: (setattr(x, "grad", m.ones(2)), x.grad.tolist())[1])(
        m.ones(2, requires_grad=True)),
    "output_nr": lambda m: (m.ones(2, requires_grad=True)*2).output_nr,
    "req_nonleaf_false": lambda m: setattr(m.ones(2, requires_grad=True)*2, "requires_grad", False),
    "req_nonleaf_true": lambda m: setattr(m.ones(2, requires_grad=True)*2, "requires_grad", True),
    "tensor_of_tensor": lambda m: m.tensor(m.ones(2)).tolist(),
    "tensor_ragged": lambda m: m.tensor([[1,2],[3]]),
    "tensor_bool_inf": lambda m: str(m.tensor([True, False]).dtype),
    "tensor_mixed": lambda m: str(m.tensor([1, 2.5]).dtype),
    "tensor_empty": lambda m: (str(m.tensor([]).dtype), tuple(m.tensor([]).shape)),
    "tensor_np_int32": lambda m: str(m.tensor(np.array([1,2], dtype=np.int32)).dtype),
    "tensor_np_f64_dtype": lambda m: str(m.tensor(np.array([1,2], dtype=np.float64), dtype=m.float32).dtype),
    "req_grad_on_float16": lambda m: m.ones(2, dtype=m.float16, requires_grad=True).requires_grad,
    "result_type_scalars": lambda m: str(m.result_type(m.tensor([1,2]), 2.5)),
    "is_leaf_no_grad": lambda m: (m.ones(2)*2).is_leaf,
}


@pytest.mark.parametrize("name", list(TENSOR_PROBES))
def test_tensor_basics(name):
    probe = TENSOR_PROBES[name]

    def fn(m):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return probe(m)

    t, e = same_outcome(fn)
    assert e == t
