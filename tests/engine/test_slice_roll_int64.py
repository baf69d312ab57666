"""redteam15 F9: slices and roll shifts at the int64 edges, against live torch 2.13 (values, shapes, warnings, error
texts). torch unpacks a slice's bounds as Python's slice indices (clamped to int64), clips each below SymInt's
smallest inline int (-2**62) up to it with the UserWarning "Truncating the start/stop/step of slice...", and at::slice
computes its size as (len + step - 1) / step in int64: a step near 2**63 overflows that sum (4+ elements: none, not
one; 2 or 3: size -1, as_strided's "Storage size calculation overflowed"), and its stride times the step wraps
(negative: as_strided's "Negative strides" error). roll: a shift past int64 is the parser's overflow, one below
-2**62 roll's CPU kernel's SymInt error (so also the backward of a shift past 2**62)."""
from __future__ import annotations

import warnings

import pytest
import torch

import engine

M, M62 = 2**63, 2**62


def _run(lib, fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            r = fn(lib)
            out = ("ok", [list(t.shape) for t in r], [t.tolist() for t in r]) if isinstance(r, tuple) else (
                "ok", list(r.shape), r.tolist())
        except Exception as e:  # noqa: BLE001
            builtin = next(c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins")
            out = ("raise", builtin, str(e))
    return out, [(x.category.__name__, str(x.message)) for x in w]


def _same(fn):
    t, e = _run(torch, fn), _run(engine, fn)
    assert e == t, f"\nengine {e}\ntorch  {t}"
    return t


SLICES = [(0, 10, M), (None, None, M), (0, 10, M - 1), (0, 10, M - 2), (0, 10, 2**70), (-2**70, 2**70, 2**70),
          (5, 10, M), (0, 1, M), (0, 0, M), (3, None, M - 1), (None, None, -M), (None, None, M + 5), (2**64, 3, 1),
          (-2**64, 3, 1), (0, 10, M62), (1, 10, M62), (9, 10, M - 1), (-M62 - 1, 3, 1), (-M62, 3, 1),
          (-M62 - 1, -M62 - 1, 1), (None, -M62 - 1, -1), (None, None, -M62 - 1), (None, None, -M62), (-M, 2, 1),
          (-M62 - 1, 5, M), (0, 2, M), (0, 3, M), (0, 4, M), (0, 3, M - 2), (0, 5, M - 2), (0, 6, M - 2),
          (0, 2, M62 + 1), (0, 10, M62 + 1), (2**31, 5, 2**31), (0, 5, 2**31), (0, 5, 2**32 + 1), (1, 9, 3)]


@pytest.mark.parametrize("bounds", SLICES, ids=str)
def test_a_slice_at_the_int64_edges_answers_as_torch(bounds):
    _same(lambda L: L.arange(10.0)[slice(*bounds)])


VIEWS = ["y[0:2:M]", "y[:, 0:2:M]", "y.T[:, 0:2:M]", "y.T[0:2:M]", "y[::2][:, 1:3:M]", "y[1:3:M]", "x[None, 0:2:M]",
         "x[0:2:M, None]", "x[[1, 2]][0:2:M]", "x[0:2:M][[0]]", "x[0:2:M, ...]", "y[0:1:M]", "y[0:4:M]", "y[0:0:M]",
         "y[0:1:M - 1]", "y[:, 0:1:M]", "y.T[0:1:M]", "L.arange(24.0).reshape(2, 3, 4)[:, 0:1:M]",
         "L.zeros(3, 0)[0:1:M]", "y[::3][0:2:M]", "y[0:3:M // 2 + 1]", "y[:, 1:2:M]", "y[:, 3:10:M]", "y[..., 0:4:M]",
         "y.expand(2, 3, 4)[:, :, 1:2:M]", "y.expand(2, 3, 4)[0:1:M]"]


@pytest.mark.parametrize("expr", VIEWS)
def test_a_huge_step_on_a_view_answers_or_raises_as_torch(expr):
    _same(lambda L: eval(expr, {"L": L, "M": M, "x": L.arange(10.0), "y": L.arange(12.0).reshape(3, 4)}))


@pytest.mark.parametrize("bounds", [(0, 2, M), (0, 10, M), (3, 4, M), (-2**70, 2**70, 2**70)], ids=str)
def test_setitem_through_a_huge_step(bounds):
    def call(L):
        z = L.arange(10.0)
        z[slice(*bounds)] = 1.0
        return z

    _same(call)


def test_gradients_through_huge_steps():
    def call(L):
        x = L.arange(10.0, requires_grad=True)
        (x[0:1:M].sum() + x[0:10:M].sum() + x[2:3:M - 1].sum()).backward()
        return x.grad

    _same(call)


def test_a_program_with_a_huge_step_warns_as_torch():
    doc = {"leaves": {"x": {"data": [1.0, 2.0, 3.0, 4.0]}},
           "ops": [{"name": "y", "op": "getitem", "args": ["x", {"slice": [-2**70, 2**70, 2**70]}]},
                   {"name": "z", "op": "getitem", "args": ["x", {"slice": [0, 4, M]}]}], "outputs": ["y", "z"]}
    got = engine.evaluate(doc)
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        y, z = x[-2**70:2**70:2**70], x[0:4:M]
    assert got["tensors"]["y"]["shape"] == list(y.shape) and got["tensors"]["z"]["shape"] == list(z.shape)
    assert got["warnings"] == [{"category": "UserWarning", "message": str(m.message)} for m in w]


ROLLS = [(-M, None), (M, None), (-M + 1, None), (M - 1, None), (2**64, 0), (-M, 0), ((-M,), (0,)), (M62, 0),
         (-M62 - 1, 0), (-M62, 0), ([-M], [0, 1]), ([], []), (3, 0)]


@pytest.mark.parametrize("shifts,dims", ROLLS, ids=str)
def test_roll_at_the_int64_edges_answers_as_torch(shifts, dims):
    _same(lambda L: L.roll(L.arange(4), shifts) if dims is None else L.roll(L.arange(4), shifts, dims))
    _same(lambda L: L.arange(6).reshape(2, 3).roll(shifts) if dims is None else
          L.arange(6).reshape(2, 3).roll(shifts, dims))


@pytest.mark.parametrize("shift", [M62, M62 + 1, M - 1, -M62, 3])
def test_rolls_backward_refuses_a_negated_shift_below_the_symint_range(shift):
    def call(L):
        x = L.arange(4.0, requires_grad=True)
        y = x.roll(shift, 0)
        y.backward(L.arange(4.0))
        return y, x.grad

    _same(call)


def test_a_shift_list_past_int64_is_the_parsers_error():
    """torch's text goes on with a C++ backtrace of this process's addresses: its first line is matched."""
    want = ("roll(): argument 'shifts' failed to unpack the object at pos 2 with error "
            "\"Overflow when unpacking long long")
    with pytest.raises(TypeError) as t:
        torch.roll(torch.arange(4), [1, M], [0, 0])
    with pytest.raises(TypeError) as e:
        engine.roll(engine.arange(4), [1, M], [0, 0])
    assert str(t.value).startswith(want) and str(e.value).startswith(want)


@pytest.mark.parametrize("args", [(0, 0, 10, M), (0, M, 10, 1), (0, 0, -M - 1, 1), (M, 0, 10, 1), (0, 0, 10, M - 1),
                                  (0, 0, 2, M - 1), (0, -M, 10, 1), (0, 0, 10, M62)], ids=str)
def test_the_slice_op_at_the_int64_edges(args):
    """The "slice" op (aten::slice.Tensor): an argument past int64 is the schema's error (its first overload's
    text: torch's goes on with the other overloads' failures), else at::slice's arithmetic as above."""
    t, e = _run(torch, lambda L: torch.ops.aten.slice(L.arange(10.0), *args)), _run(
        engine, lambda L: engine.slice(L.arange(10.0), *args))
    if t[0][0] == "raise" and t[0][2].startswith("Overloaded"):
        assert e[0][:2] == t[0][:2] and t[0][2].startswith(e[0][2]), f"\nengine {e}\ntorch  {t}"
    else:
        assert e == t, f"\nengine {e}\ntorch  {t}"
