"""safeP (redteam15 F11, high): the run's pre-op bound of advanced indexing was numel(input) x numel(index) for
getitem, index_select and gather alike, held to max_tensor_elements before the op: x[x > 0] of 4,000 floats (16e6)
answered 413 where torch answers 2,000 values. Now getitem's bound follows aten's index shape rule from shapes
(the index tensors broadcast, a mask at most its elements over its dims, times the dims no index takes),
index_select's is numel(index) times the other dims, gather's the index's shape. A bound must never be under
the real output: each form below is checked against the op's real answer (and torch's shape)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.program.shapes import SHAPE_RULES

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 5, 4))


def _forms():
    m3 = X > 0
    m2 = X[:, :, 0] > 0
    m1 = X[:, 0, 0] > 0
    i = np.array([0, 2, 5, 1])
    j = np.array([[0], [3]])
    k = np.array([1, 1, 0])
    return [
        ("mask all", (m3,)), ("mask leading 2", (m2,)), ("mask leading 1", (m1,)),
        ("slice, mask", (slice(None), X[0, :, :] > 0)), ("ellipsis, mask last", (Ellipsis, X[0, 0, :] > 0)),
        ("ints", (i,)), ("ints 2d", (j,)), ("ints broadcast", (j, k)), ("ints apart", (i[:3], slice(1, 3), k)),
        ("int then tensor", (2, k)), ("none, tensor", (None, i)), ("tensor, none, tensor", (i[:3], None, k)),
        ("ellipsis, tensor", (Ellipsis, k)), ("0-d int", (np.array(3),)), ("0-d bool", (np.array(True),)),
        ("0-d false", (np.array(False),)), ("bool and ints", (m1, slice(None), np.array([0]))),
        ("empty ints", (np.zeros(0, dtype=np.int64),)), ("True", (True, i)),
    ]


@pytest.mark.parametrize("name,idx", _forms(), ids=[f[0] for f in _forms()])
def test_the_getitem_bound_holds_the_real_output(name, idx):
    t = engine.tensor(X)
    eidx = tuple(engine.tensor(a) if isinstance(a, np.ndarray) else a for a in idx)
    tidx = tuple(torch.tensor(a) if isinstance(a, np.ndarray) else a for a in idx)
    want = torch.tensor(X)[tidx if len(tidx) > 1 else tidx[0]]
    got = t[eidx if len(eidx) > 1 else eidx[0]]
    assert tuple(got.shape) == tuple(want.shape)
    for arg in (eidx, eidx[0]) if len(eidx) == 1 else (eidx,):
        bound = SHAPE_RULES["getitem"]([t, arg], {})
        assert bound is not None and int(np.prod(bound)) >= got.numel(), (bound, got.shape)


def _n(shape) -> int:  # (the rules give an element count as a 1-d shape)
    return int(np.prod(shape))


def test_the_bound_is_tight_for_the_common_forms():
    x = engine.tensor(np.linspace(-1, 1, 4000))
    assert _n(SHAPE_RULES["getitem"]([x, x > 0], {})) == 4000  # before: 16e6
    w = engine.tensor(np.ones((1000, 16)))
    i = engine.tensor(np.arange(1000))
    assert _n(SHAPE_RULES["getitem"]([w, i], {})) == 16000  # before: 16e6
    assert _n(SHAPE_RULES["index_select"]([w, 0, i], {})) == 16000
    assert _n(SHAPE_RULES["index_select"]([w, 1, engine.tensor(np.arange(3))], {})) == 3000
    g = engine.tensor(np.zeros((2000, 3), dtype=np.int64))
    assert _n(SHAPE_RULES["gather"]([w, 1, g], {})) == 6000


@pytest.mark.parametrize("doc", [
    {"ops": [{"name": "m", "op": "gt", "args": ["x", 0]}, {"name": "y", "op": "getitem", "args": ["x", "m"]}]},
    {"ops": [{"name": "y", "op": "getitem", "args": ["x", ["...", "m"]]}, ], "mask": True},
])
def test_evaluate_answers_a_mask_of_4000(doc):
    x = np.linspace(-1, 1, 4000)
    leaves = {"x": {"data": x.tolist()}}
    if doc.pop("mask", False):
        leaves["m"] = {"data": (x > 0).tolist()}
    out = engine.evaluate({"leaves": leaves, **doc, "outputs": ["y"]})
    assert out["tensors"]["y"]["shape"] == [int((x > 0).sum())]
