"""safeP (redteam15 F10): einsum's shape rule was the product of every operand's elements, held to
max_tensor_elements before the op: einsum('ij,jk->ik') of two 64x64 matrices (16.7e6) and a dot product of two
5,000-vectors (25e6) answered 413. Now the output's shape comes from the equation; the contraction's intermediates
are charged by the ops einsum runs. The rule must give the real output's shape (checked against torch)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.program.shapes import SHAPE_RULES

R = np.random.default_rng(0)

FORMS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk", [(3, 4), (4, 5)]), ("i,i->", [(7,), (7,)]), ("i,i", [(7,), (7,)]),
    ("ij->ji", [(2, 3)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 6)]), ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 6)]),
    ("i...->...", [(3, 2, 4)]), ("ba,Ab->aA", [(2, 3), (4, 2)]), ("ba,Ab", [(2, 3), (4, 2)]),
    ("i,j->ij", [(3,), (4,)]), ("ij,ij->ij", [(1, 4), (3, 4)]), ("a b, b c -> a c", [(2, 3), (3, 4)]),
    ("ab,bc,cd,da->", [(2, 2)] * 4), ("i,j", [(3,), (4,)]),
]


@pytest.mark.parametrize("eq,shapes", FORMS, ids=[f[0] for f in FORMS])
def test_the_einsum_rule_is_the_output_shape(eq, shapes):
    arrays = [R.standard_normal(s) for s in shapes]
    want = torch.einsum(eq, *[torch.tensor(a) for a in arrays])
    ts = [engine.tensor(a) for a in arrays]
    got = engine.einsum(eq, *ts)
    assert tuple(got.shape) == tuple(want.shape)
    assert int(np.prod(SHAPE_RULES["einsum"]([eq, *ts], {}))) == want.numel()  # (the rule gives the elements)


def test_everyday_einsums_evaluate():
    a = R.standard_normal((64, 64))
    v = R.standard_normal(5000)
    out = engine.evaluate({"leaves": {"a": {"data": a.tolist(), "dtype": "float64"},
                                      "v": {"data": v.tolist(), "dtype": "float64"}},
                           "ops": [{"name": "m", "op": "einsum", "args": ["ij,jk->ik", "a", "a"]},
                                   {"name": "d", "op": "einsum", "args": ["i,i->", "v", "v"]}],
                           "outputs": ["m", "d"]})
    assert out["tensors"]["m"]["shape"] == [64, 64] and out["tensors"]["d"]["shape"] == []
    assert np.allclose(out["tensors"]["m"]["data"], a @ a) and np.isclose(out["tensors"]["d"]["data"], v @ v)
