"""redteam16 F1: a Tensor inside a nested index list (the wire's `"args": ["x", [["z", "z"]]]`). torch stores each
leaf of the list as an index (Tensor.__index__): a one-element integer or bool tensor is its value, anything else
"only integer tensors of a single element can be converted to an index"; an all-bool list is a mask. The engine
stacked the list with NumPy (k names of a 10^6-element tensor: k x 10^6 elements, GBs, before any limit) and
answered where torch raises. Against live torch: values, masks, errors, setitem; and the memory held."""
from __future__ import annotations

import tracemalloc

import pytest

import engine
from tests.engine import both

T = {  # name: maker(m)
    "z5f": lambda m: m.zeros(5), "z5i": lambda m: m.zeros(5, dtype=m.long), "z1i": lambda m: m.tensor([3]),
    "z0i": lambda m: m.tensor(3), "z1f": lambda m: m.tensor([3.0]), "z0f": lambda m: m.tensor(3.0),
    "z0b": lambda m: m.tensor(True), "z1b": lambda m: m.tensor([True]), "z0i32": lambda m: m.tensor(2, dtype=m.int32),
    "z00": lambda m: m.zeros(0, dtype=m.long), "z11": lambda m: m.tensor([[2]]),
    "z0u8": lambda m: m.tensor(1, dtype=m.uint8), "z0neg": lambda m: m.tensor(-2), "z0big": lambda m: m.tensor(10),
}
FORMS = {
    "pair": lambda z: ([z, z],), "with_int": lambda z: ([z, 1],), "nested": lambda z: ([[z]],),
    "with_bool": lambda z: ([True, z],), "with_float": lambda z: ([z, 2.5],), "list_of_list": lambda z: [[z, z]],
    "two_dims": lambda z: ([z, 0], [1, z]),
}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("name", sorted(T))
def test_a_tensor_in_an_index_list_is_read_as_torch_reads_it(name, form):
    def call(m):
        x = m.arange(12.0).reshape(4, 3) if form == "two_dims" else m.arange(10.0)
        return x[FORMS[form](T[name](m))]

    both.same(call)


@pytest.mark.parametrize("name", ["z5f", "z1i", "z0b", "z0i32"])
def test_setitem_with_a_tensor_in_an_index_list(name):
    def call(m):
        x = m.arange(10.0)
        x[([T[name](m), 1],)] = -1.0
        return x

    both.same(call)


def _doc(k, n, dtype="float32"):
    return {"leaves": {"x": {"data": [1.0, 2.0]}},
            "ops": [{"name": "z", "op": "zeros", "args": [n], "kwargs": {"dtype": dtype}},
                    {"name": "y", "op": "getitem", "args": ["x", [["z"] * k]]}], "outputs": ["y"]}


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_a_program_naming_a_long_tensor_k_times_in_an_index_stacks_nothing(dtype):
    """The red team's request, smaller (k = 20 names of 10^5 elements): torch's TypeError, and the traced peak
    a fraction of one copy of the k x 10^5 stack (before: the bound's object array, ~40 bytes an element, then
    NumPy's stack: 80-100 MB here; 2.9 GB at k = 60 of 10^6 in a server)."""
    tracemalloc.start()
    try:
        with pytest.raises(TypeError, match="only integer tensors of a single element can be converted to an index"):
            engine.evaluate(_doc(20, 100_000, dtype))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak


def test_a_program_with_one_element_tensors_in_an_index_answers_as_torch():
    import torch  # noqa: PLC0415

    doc = {"leaves": {"x": {"data": [1.0, 2.0, 3.0, 4.0]}, "i": {"data": [2], "dtype": "int64"}},
           "ops": [{"name": "y", "op": "getitem", "args": ["x", [["i", 0, "i"]]]},
                   {"name": "w", "op": "getitem", "args": ["x", [[["i"], [1]]]]}], "outputs": ["y", "w"]}
    got = engine.evaluate(doc)["tensors"]
    x, i = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([2])
    assert got["y"]["data"] == x[([i, 0, i],)].tolist() and got["y"]["shape"] == [3]
    assert got["w"]["data"] == x[([[i], [1]],)].tolist() and got["w"]["shape"] == [2, 1]
