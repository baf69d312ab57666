"""A Python number stored into a tensor's dtype by scatter / scatter_ (value form, also reduce="add" /
"multiply") and the bounds of clamp_min / clamp_max (and their in-place forms), as torch 2.13: the Python
parser's OverflowError, the op's own checks in torch's order, c10's checked conversion ("value cannot be
converted to type uint8_t without overflow"), then the stored number. Every case is compared with the live torch
call (values, dtype and shape, or exception class and message); the 9 dtypes x 47 values are parity10's."""
from __future__ import annotations

import warnings

import pytest
import torch

import engine
from tests.engine.test_parity10_scalar_fill import answer, check_all

assert torch.__version__.startswith("2.13"), torch.__version__


def _idx(lib, n):
    return lib.tensor([0, 2][:n], dtype=lib.int64)


SCATTERS = {
    "scatter_": lambda lib, d, v, n: lib.zeros(3, dtype=d).scatter_(0, _idx(lib, n), v),
    "scatter_(value=)": lambda lib, d, v, n: lib.zeros(3, dtype=d).scatter_(0, _idx(lib, n), value=v),
    "scatter": lambda lib, d, v, n: lib.zeros(3, dtype=d).scatter(0, _idx(lib, n), v),
    "torch.scatter(value=)": lambda lib, d, v, n: lib.scatter(lib.zeros(3, dtype=d), 0, _idx(lib, n), value=v),
    "scatter_(reduce=add)": lambda lib, d, v, n: lib.ones(3, dtype=d).scatter_(0, _idx(lib, n), v, reduce="add"),
    "scatter(reduce=multiply)": lambda lib, d, v, n: lib.ones(3, dtype=d).scatter(0, _idx(lib, n), v,
                                                                                  reduce="multiply"),
    "scatter_(2-d)": lambda lib, d, v, n: lib.zeros(2, 3, dtype=d).scatter_(1, _idx(lib, n).reshape(1, n), v),
}


@pytest.mark.parametrize("n", [2, 0])
@pytest.mark.parametrize("op", list(SCATTERS))
def test_scatter_converts_its_value_as_torch(op, n):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_all(lambda lib, d, v: SCATTERS[op](lib, d, v, n), op)


@pytest.mark.parametrize("case", [
    lambda lib: lib.zeros(3, dtype=lib.uint8).scatter_(1, lib.tensor([0]), 300),
    lambda lib: lib.zeros(3, dtype=lib.uint8).scatter_(1, lib.tensor([0]), 2**64),
    lambda lib: lib.zeros(3, dtype=lib.uint8).scatter_(0, lib.tensor([5]), 300),
    lambda lib: lib.zeros(3, dtype=lib.uint8).scatter(0, lib.tensor([0.0]), 300),
    lambda lib: lib.zeros(3, dtype=lib.uint8).scatter_(0, lib.tensor([[0]]), 300),
    lambda lib: lib.zeros(3, dtype=lib.uint8).scatter_(0, lib.tensor([0]), 300, reduce="foo"),
    lambda lib: lib.zeros(3, dtype=lib.uint8).scatter_(0, lib.tensor([0]), 2**64, reduce="foo"),
    lambda lib: lib.zeros(3, dtype=lib.uint8).scatter_(0, lib.tensor([5]), 300, reduce="add"),
    lambda lib: lib.zeros(3, dtype=lib.uint8).scatter_(1, lib.tensor([0]), 300, reduce="add"),
    lambda lib: lib.zeros(3, dtype=lib.uint8).scatter_(0, lib.tensor([0.0]), 300, reduce="multiply"),
    lambda lib: lib.zeros(3).scatter_(0, lib.tensor([0]), lib.ones(1), reduce="foo"),
])
def test_scatter_which_error_comes_first_is_torchs(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert answer(engine, case) == answer(torch, case)


# clamp_min / clamp_max with a number, as clamp (parity10): the result type (a float bound lifts integers to
# float32, an int bound lifts bool to int64; no uint64 promotion with bool), the in-place forms' refusal of a
# result type self cannot hold (C++ type names), bool bounds on bool "not implemented", then the bound converted
CLAMP_ONES = {
    "clamp_min": lambda lib, d, v: lib.arange(3).to(d).clamp_min(v),
    "clamp_max": lambda lib, d, v: lib.arange(3).to(d).clamp_max(v),
    "torch.clamp_min": lambda lib, d, v: lib.clamp_min(lib.arange(3).to(d), v),
    "torch.clamp_max(max=)": lambda lib, d, v: lib.clamp_max(lib.arange(3).to(d), max=v),
    "clamp_min(0-d)": lambda lib, d, v: lib.tensor(1).to(d).clamp_min(v),
    "clamp_max(empty)": lambda lib, d, v: lib.zeros(0, dtype=d).clamp_max(v),
    "clamp_min_": lambda lib, d, v: lib.arange(3).to(d).clamp_min_(v),
    "clamp_max_": lambda lib, d, v: lib.arange(3).to(d).clamp_max_(v),
    "clamp_min_(min=)": lambda lib, d, v: lib.arange(3).to(d).clamp_min_(min=v),
    "clamp_max_(view)": lambda lib, d, v: lib.arange(4).to(d)[1:].clamp_max_(v),
}


@pytest.mark.parametrize("op", list(CLAMP_ONES))
def test_clamp_min_max_convert_their_bound_as_torch(op):
    check_all(CLAMP_ONES[op], op)


# the index ops' checks of the index (dtype, dims), the dim and the value, in torch's order, class and words
INDEX_OPS = {
    "index_fill_": lambda lib, x, i, dim: x.index_fill_(dim, i, 1.0),
    "index_fill": lambda lib, x, i, dim: x.index_fill(dim, i, 1.0),
    "index_fill(0-d tensor)": lambda lib, x, i, dim: x.index_fill(dim, i, lib.tensor(1.0)),
    "index_fill(1-d tensor)": lambda lib, x, i, dim: x.index_fill(dim, i, lib.ones(2)),
    "index_fill_(2**64)": lambda lib, x, i, dim: x.index_fill_(dim, i, 2**64),
    "index_copy": lambda lib, x, i, dim: x.index_copy(dim, i, lib.ones(1, 2)),
    "index_copy_": lambda lib, x, i, dim: x.index_copy_(dim, i, lib.ones(1, 2)),
    "index_copy(source int64)": lambda lib, x, i, dim: x.index_copy(dim, i, lib.ones(1, 2, dtype=lib.int64)),
    "index_add": lambda lib, x, i, dim: x.index_add(dim, i, lib.ones(1, 2)),
    "index_add_(source int64)": lambda lib, x, i, dim: x.index_add_(dim, i, lib.ones(1, 2, dtype=lib.int64)),
    "index_reduce": lambda lib, x, i, dim: x.index_reduce(dim, i, lib.ones(1, 2), "prod"),
    "index_reduce(foo)": lambda lib, x, i, dim: x.index_reduce(dim, i, lib.ones(1, 2), "foo"),
}
INDEXES = {
    "int64": lambda lib: lib.tensor([0]), "0-d": lambda lib: lib.tensor(0), "int32": lambda lib: lib.tensor(
        [0], dtype=lib.int32), "int16": lambda lib: lib.tensor([0], dtype=lib.int16), "uint8": lambda lib: lib.tensor(
        [0], dtype=lib.uint8), "bool": lambda lib: lib.tensor([True]), "float": lambda lib: lib.tensor([0.0]),
    "2-d": lambda lib: lib.tensor([[0]]), "2-d float": lambda lib: lib.tensor([[0.0]]),
}


@pytest.mark.parametrize("dim", [0, 5])
@pytest.mark.parametrize("op", list(INDEX_OPS))
def test_index_ops_check_the_index_as_torch(op, dim):
    bad = []
    for name, idx in INDEXES.items():
        def fn(lib, idx=idx):
            return INDEX_OPS[op](lib, lib.zeros(3, 2), idx(lib), dim)
        t, e = answer(torch, fn), answer(engine, fn)
        if e != t:
            bad.append(f"{op}(index {name}, dim {dim})\n  engine: {e}\n  torch:  {t}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("op", ["index_fill", "index_copy", "index_fill_"])
def test_index_ops_on_a_0d_self_check_the_index_as_torch(op):
    def fn(lib):
        x = lib.zeros(())
        return x.index_copy(0, lib.tensor([[0]]), lib.ones(())) if op == "index_copy" else getattr(x, op)(
            0, lib.tensor([[0]]), 1.0)
    assert answer(engine, fn) == answer(torch, fn)


# addcmul / addcdiv's `value`: the parser's OverflowError first, addcdiv's integer-division refusal, addcmul's
# "not implemented for 'Bool'", then c10's checked conversion into the kernel's type (float16: float32 opmath,
# "type float"; an integer dtype truncates 2.7 to 2 and keeps its dtype), float16 computed in float32
ADDC = {
    "addcmul": lambda lib, d, v: lib.arange(3).to(d).addcmul(lib.ones(3, dtype=d), lib.ones(3, dtype=d), value=v),
    "addcdiv": lambda lib, d, v: lib.arange(3).to(d).addcdiv(lib.ones(3, dtype=d), lib.ones(3, dtype=d), value=v),
    "torch.addcmul": lambda lib, d, v: lib.addcmul(lib.arange(3).to(d), lib.arange(3).to(d), lib.ones(3, dtype=d),
                                                   value=v),
    "addcmul_": lambda lib, d, v: lib.arange(3).to(d).addcmul_(lib.ones(3, dtype=d), lib.ones(3, dtype=d), value=v),
    "addcdiv_": lambda lib, d, v: lib.arange(3).to(d).addcdiv_(lib.ones(3, dtype=d), lib.full((3,), 3).to(d),
                                                               value=v),
}


@pytest.mark.parametrize("op", list(ADDC))
def test_addcmul_addcdiv_convert_their_value_as_torch(op):
    check_all(ADDC[op], op)
