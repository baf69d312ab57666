"""Ops whose output size comes from a tensor's VALUES (redteam7 F6): the size is computed from the values and
charged (413 past max_tensor_elements / max_request_bytes) before anything of that size is allocated, with
PyTorch's own errors for bad values. Peaks are measured with tracemalloc, against live torch 2.13's answers."""
from __future__ import annotations

import tracemalloc

import pytest

import engine
from engine.errors import LimitExceeded
from engine.program import Limits
from tests.engine import both

SMALL = Limits(max_tensor_elements=10_000, max_request_bytes=4 << 20)


def _peak_of(doc, limits=SMALL):
    """(the exception evaluate raised, or None; tracemalloc's peak bytes while it ran)."""
    tracemalloc.start()
    try:
        try:
            engine.evaluate(doc, limits=limits)
            err = None
        except Exception as e:  # noqa: BLE001 - returned to the test, which asserts on it
            err = e
        return err, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _ri(leaves, args, kwargs=None):
    op = {"name": "y", "op": "repeat_interleave", "args": args}
    if kwargs:
        op["kwargs"] = kwargs
    return {"leaves": leaves, "ops": [op, {"name": "s", "op": "sum", "args": ["y"]}], "outputs": ["s"]}


N = 2_000_000  # repeats: a 16 MB index, 200x max_tensor_elements above


@pytest.mark.parametrize("case", ["0-d", "1-d", "one-argument", "output_size", "2-d dim 0", "one_hot"])
def test_repeat_interleave_refuses_a_size_from_values_before_allocating_it(case):
    x = {"data": [1.0, 2.0]}
    doc = {
        "0-d": _ri({"x": x, "n": {"data": N, "dtype": "int64"}}, ["x", "n"]),
        "1-d": _ri({"x": x, "n": {"data": [N, 1], "dtype": "int64"}}, ["x", "n"]),
        "one-argument": _ri({"n": {"data": [N], "dtype": "int64"}}, ["n"]),
        "output_size": _ri({"x": x, "n": {"data": [N, 1], "dtype": "int64"}}, ["x", "n"], {"output_size": 3}),
        "2-d dim 0": _ri({"x": {"data": [[1.0] * 100] * 2}, "n": {"data": [N // 100, 1], "dtype": "int64"}},
                         ["x", "n"], {"dim": 0}),  # a 20,000-element index: the rows it copies are what is past
        "one_hot": {"leaves": {"c": {"data": [N], "dtype": "int64"}},  # num_classes from the value (it held)
                    "ops": [{"name": "y", "op": "one_hot", "args": ["c"]}], "outputs": ["y"]},
    }[case]
    err, peak = _peak_of(doc)
    if case == "output_size":  # torch checks output_size against the sum first: its error, nothing allocated
        assert not isinstance(err, LimitExceeded) and "allocated size does not match required size" in str(err)
    else:
        assert isinstance(err, LimitExceeded) and "max_tensor_elements" in err.msg, err
        assert err.loc == ["body", "ops", 0]  # at the op itself, not the next one
    assert peak < 1 << 20, f"{peak} bytes allocated before the refusal"


@pytest.mark.parametrize("call", [
    lambda m: m.repeat_interleave(m.tensor([1, 2]), output_size=5),
    lambda m: m.repeat_interleave(m.tensor([1, 2]), output_size=3),
    lambda m: m.repeat_interleave(m.tensor([3, -1]), output_size=2),
    lambda m: m.repeat_interleave(m.tensor([3, -1])),
    lambda m: m.repeat_interleave(m.tensor([], dtype=m.int64), output_size=2),
    lambda m: m.repeat_interleave(m.tensor([2, 0, 1], dtype=m.int32)),
    lambda m: m.repeat_interleave(m.tensor([1.0, 2.0]), m.tensor([1, 2]), output_size=5),
    lambda m: m.repeat_interleave(m.tensor([1.0, 2.0]), m.tensor([1, 2]), output_size=3),
    lambda m: m.repeat_interleave(m.tensor([1.0, 2.0]), m.tensor([3, -1]), output_size=2),
    lambda m: m.repeat_interleave(m.tensor([1.0, 2.0]), m.tensor(2), output_size=3),
    lambda m: m.repeat_interleave(m.tensor([1.0, 2.0]), m.tensor(2), output_size=4),
    lambda m: m.repeat_interleave(m.tensor([[1.0, 2.0], [3.0, 4.0]]), m.tensor([0, 3]), dim=0, output_size=3),
    lambda m: m.repeat_interleave(m.tensor([1.0, 2.0]), 2, output_size=3),
    lambda m: m.repeat_interleave(m.tensor([1.0, 2.0]), 2, output_size=4),
], ids=lambda c: None)
def test_repeat_interleave_values_and_errors_are_torchs(call):
    both.same(call)


@pytest.mark.parametrize("op", ["chunk", "unsafe_chunk"])
def test_chunks_of_an_empty_tensor_are_charged_before_their_list_is_made(op):
    """chunk and unsafe_chunk of an empty tensor into n pieces build a list of n sizes: charged first (found at
    this session's close: unsafe_chunk built its 10^8-element list, 800 MB, 10 s, before split_with_sizes's 413)."""
    spec = {"leaves": {"x": {"data": []}}, "ops": [{"op": op, "args": ["x", 100_000_000]}],  # (no name: a single
            "outputs": []}  # name is the binder's 422 first, from the count, tests/engine/test_pieces_planned.py)
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceeded, match="pieces"):
            engine.evaluate(spec)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak
