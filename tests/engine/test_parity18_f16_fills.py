"""A double stored into float16 by `t[i] = number`, by a 0-d float64 Tensor value (fill_, masked_fill,
index_fill, `t[i] = tensor`) and by copy_ from float64, against live torch 2.13 (review15 R2): c10 makes a Half
from a float, so the double is rounded to float32 first and then to half (two roundings: 1 + 2**-11 + 2**-40
is 1.0 in torch, 1.0009765625 rounded once)."""
from __future__ import annotations

import math

import pytest
import torch

import engine

TIE = 1 + 2**-11 + 2**-40
NUMBERS = [TIE, -TIE, 65520 - 2**-20, 201 * 2**-25 + 2**-60, 1.0 + 2**-24 + 2**-60, 0.5, 65519.99, 70000.0,
           math.inf, -0.0, 3, 70000, 2**24 + 1, 2**60 + 2**36 + 1]


def _run(L, f):
    try:
        r = f(L)
        return str(r.dtype), r.tolist()
    except Exception as e:  # noqa: BLE001 - the error is the answer compared
        return type(e).__name__, str(e)


def _setitem(i, v):
    def f(L):
        t = L.zeros(3, dtype=L.float16)
        t[i] = v(L) if callable(v) else v
        return t
    return f


FORMS = {
    "setitem_number": lambda v: _setitem(0, v),
    "setitem_slice_number": lambda v: _setitem(slice(0, 2), v),
    "setitem_tensor": lambda v: _setitem(1, lambda L: L.tensor(v, dtype=L.float64)),
    "setitem_advanced_tensor": lambda v: _setitem([0, 2], lambda L: L.tensor(v, dtype=L.float64)),
    "fill_tensor": lambda v: lambda L: L.zeros(2, dtype=L.float16).fill_(L.tensor(v, dtype=L.float64)),
    "masked_fill_tensor": lambda v: lambda L: L.zeros(3, dtype=L.float16).masked_fill(
        L.tensor([True, False, True]), L.tensor(v, dtype=L.float64)),
    "masked_fill_tensor_": lambda v: lambda L: L.zeros(3, dtype=L.float16).masked_fill_(
        L.tensor([True, False, True]), L.tensor(v, dtype=L.float64)),
    "index_fill_tensor": lambda v: lambda L: L.zeros(3, dtype=L.float16).index_fill(
        0, L.tensor([0, 2]), L.tensor(v, dtype=L.float64)),
    "copy_": lambda v: lambda L: L.zeros(2, dtype=L.float16).copy_(L.tensor([v, -v], dtype=L.float64)),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_float16_store_of_a_double(form):
    for v in NUMBERS:
        f = FORMS[form](float(v) if form != "setitem_number" else v)
        assert _run(engine, f) == _run(torch, f), (form, v)


def test_float16_tensor_fill_keeps_its_gradient():
    """fill_ / masked_fill with a 0-d value requiring grad: the value's gradient is the filled places' sum."""
    res = []
    for L in (engine, torch):
        v = L.tensor(TIE, dtype=L.float16, requires_grad=True)
        out = L.zeros(3, dtype=L.float16).masked_fill(L.tensor([True, False, True]), v * 1.0)
        out.sum().backward()
        res.append((out.tolist(), v.grad.tolist()))
    assert res[0] == res[1]


MASK_VALUES = [(1.5, "float64"), (TIE, "float64"), (70000.0, "float64"), (65519.99, "float64"), (3, "int64"),
               (300, "int64"), (True, "bool")]


@pytest.mark.parametrize("dtype", ["float16", "int8", "float32"])
@pytest.mark.parametrize("index", ["mask", "mask2d", "slice_mask", "ints", "mask_ints", "mask_1elem_value"])
def test_setitem_one_element_value_of_another_dtype(index, dtype):
    """t[idx] = a one-element tensor of another dtype: aten's index_put_ writes it as masked_fill_(mask,
    value.item()) where idx is one bool mask (checked: 70000 into float16 is refused), and refuses the dtype
    ("Index put requires the source and destination dtypes match") for any other advanced index."""
    def f(L, v, vdt):
        shape = (3,) if index in ("mask", "ints", "mask_1elem_value") else (2, 2)
        t = L.zeros(shape, dtype=getattr(L, dtype))
        idx = {"mask": lambda: L.tensor([True, False, True]),
               "mask2d": lambda: L.tensor([[True, False], [False, True]]),
               "slice_mask": lambda: (slice(None), L.tensor([False, True])), "ints": lambda: [0, 2],
               "mask_ints": lambda: (L.tensor([True, False]), L.tensor([1])),
               "mask_1elem_value": lambda: L.tensor([True, False, True])}[index]()
        t[idx] = L.tensor([v] if index == "mask_1elem_value" else v, dtype=getattr(L, vdt))
        return t
    for v, vdt in MASK_VALUES:
        assert _run(engine, lambda L, v=v, vdt=vdt: f(L, v, vdt)) == _run(torch, lambda L, v=v, vdt=vdt: f(L, v, vdt))


def test_setitem_mask_value_of_another_dtype_keeps_its_gradient():
    res = []
    for L in (engine, torch):
        v = L.tensor(TIE, dtype=L.float64, requires_grad=True)
        t = L.zeros(3, dtype=L.float16, requires_grad=True) * 1
        t[L.tensor([True, False, True])] = v
        (t * L.tensor([1.0, 2.0, 3.0], dtype=L.float16)).sum().backward()
        res.append((t.tolist(), type(t.grad_fn).__name__, v.grad.dtype == L.float64, v.grad.tolist()))
    assert res[0] == res[1]
