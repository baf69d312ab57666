"""The 413 guard's bounds for advanced indexing, index_select, gather and einsum (engine/program/shapes_gather.py)
against live torch: never below the output torch makes (else a limit could be passed), exact where no value decides
the size (else valid programs answer 413: redteam15 F10 / F11, where x[x > 0] of 4,000 floats and a 64x64 einsum
matmul were refused)."""
from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import torch

import engine
from engine.errors import LimitExceeded
from engine.program import shapes_gather as G
from engine.program.limits import Limits
from engine.program.shapes import output_bound


def _index_case(rng):
    shape = tuple(rng.randint(0 if rng.random() < 0.1 else 1, 5) for _ in range(rng.randint(1, 4)))
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    entries, dim, exact, used_ell = [], 0, True, False
    bshape = tuple(rng.randint(1, 4) for _ in range(rng.randint(0, 2)))
    while dim < len(shape) and len(entries) < 5:
        kind = rng.choice(["int", "slice", "none", "ell", "itensor", "mask", "u8mask", "list", "pybool"])
        if kind == "int" and shape[dim]:
            entries.append(rng.randrange(-shape[dim], shape[dim]))
            dim += 1
        elif kind == "slice":
            full = rng.random() < 0.5
            entries.append(slice(None) if full else slice(rng.randint(-3, 2), rng.choice([None, -1, 3, 9]),
                                                          rng.randint(1, 3)))
            dim += 1  # (a slice's length is exact: review16 R5)
        elif kind == "none":
            entries.append(None)
        elif kind == "pybool":
            entries.append(rng.random() < 0.7)
            exact = False
        elif kind == "ell" and not used_ell:
            entries.append(Ellipsis)
            used_ell = True
            dim = max(dim, len(shape) - rng.randint(0, len(shape) - dim))
        elif kind == "itensor" and shape[dim]:
            sub = tuple(s if rng.random() < 0.8 else 1 for s in bshape)
            entries.append(np.array([rng.randrange(shape[dim]) for _ in range(int(np.prod(sub)))]).reshape(sub))
            dim += 1
        elif kind in ("mask", "u8mask"):  # (torch reads a uint8 index as a mask: review16 R1)
            k = rng.randint(0 if kind == "u8mask" else 1, len(shape) - dim)
            entries.append(np.array([rng.random() < 0.5 for _ in range(int(np.prod(shape[dim:dim + k])))],
                                    dtype=bool if kind == "mask" else np.uint8).reshape(shape[dim:dim + k]))
            exact = False
            dim += k
        elif kind == "list" and shape[dim]:  # a nested list is an index tensor (review16 R2)
            entries.append([rng.randrange(shape[dim]) for _ in range(rng.randint(0, 4))])
            dim += 1
    return x, entries, exact


def _to(lib, e):
    if not isinstance(e, np.ndarray):
        return e
    return lib.tensor(e.tolist(), dtype=lib.bool if e.dtype == bool else lib.uint8 if e.dtype == np.uint8 else
                      lib.int64)


def test_index_bound_is_never_below_torchs_output_and_exact_without_masks():
    rng = random.Random(11)
    checked = exact_seen = 0
    for _ in range(3000):
        x, entries, exact = _index_case(rng)
        if not any(isinstance(e, np.ndarray | list) for e in entries):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # (torch's uint8-mask deprecation)
                out = torch.tensor(x)[tuple(_to(torch, e) for e in entries)]
        except (IndexError, RuntimeError):
            continue
        bound = G.index_bound(engine.zeros(x.shape), [_to(engine, e) for e in entries])
        assert bound is not None and bound >= out.numel(), (x.shape, entries, bound, tuple(out.shape))
        if exact:
            assert bound == out.numel(), (x.shape, entries, bound, tuple(out.shape))
            exact_seen += 1
        checked += 1
    assert checked > 800 and exact_seen > 100, (checked, exact_seen)


def test_the_index_as_a_keyword_is_bounded_as_positional():
    """review16 R3: getitem's index given as a keyword skipped the index rule."""
    x, i = engine.zeros(100, 10), engine.tensor([0] * 300)
    assert output_bound("getitem", [x], {"idx": i}) == output_bound("getitem", [x, i], {}) == 3000


def test_a_python_bool_in_the_index_takes_no_dim():
    x, i = engine.zeros(2, 1000), engine.tensor([0, 1, 0, 1, 1])
    want = torch.zeros(2, 1000)[True, torch.tensor([0, 1, 0, 1, 1])].numel()
    assert output_bound("getitem", [x, [True, i]], {}) >= want


@pytest.mark.parametrize("eq, shapes", [
    ("ij,jk->ik", [(64, 64), (64, 64)]), ("i,i->", [(5000,), (5000,)]), ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("ii->i", [(4, 4)]), ("ii", [(4, 4)]), ("i,j->ij", [(3,), (7,)]), ("i,j", [(3,), (7,)]), ("ij->", [(3, 4)]),
    ("ab,bc,cd,de,ef,fg,gh,hi,ij,jk,kl,la->", [(2, 2)] * 12), ("...", [(2, 3)]), ("Ab,bC->AC", [(2, 3), (3, 4)]),
    ("i,i", [(1,), (6,)]), ("ij,j->i", [(0, 3), (3,)]), ("b...,b...->b", [(2, 3, 1), (2, 1, 4)]),
])
def test_einsum_bound_is_torchs_output(eq, shapes):
    ts = [torch.ones(s) for s in shapes]
    want = torch.einsum(eq, *ts).numel()
    es = [engine.ones(*s) for s in shapes]
    assert G.einsum_bound([eq, *es], {}) == want
    assert G.einsum_bound([eq, es], {}) == want  # the operands as one list
    assert output_bound("einsum", [eq, *es], {}) == want


def test_index_select_and_gather_bounds_are_their_outputs():
    x, i = engine.zeros(4000, 3), engine.tensor(list(range(3000)))
    assert output_bound("index_select", [x, 0, i], {}) == 9000
    assert output_bound("index_select", [x, -1, engine.tensor([0, 2])], {}) == 8000
    assert output_bound("gather", [engine.zeros(2000, 3), 1, engine.zeros(2000, 3, dtype=engine.int64)], {}) == 6000


def _doc(ops, leaves):
    return {"leaves": leaves, "ops": ops, "outputs": [ops[-1]["name"]]}


V = np.linspace(-1, 1, 4000).tolist()
F11 = [  # redteam15 F11's programs: each answered 413 at the default limits
    (_doc([{"name": "m", "op": "gt", "args": ["x", 0]}, {"name": "y", "op": "getitem", "args": ["x", "m"]}],
          {"x": {"data": V}}), lambda x, i: x[x > 0]),
    (_doc([{"name": "y", "op": "getitem", "args": ["x", "i"]}],
          {"x": {"data": np.ones((4000, 3)).tolist()}, "i": {"data": list(range(3000))}}), lambda x, i: x[i]),
    (_doc([{"name": "y", "op": "index_select", "args": ["x", 0, "i"]}],
          {"x": {"data": np.ones((4000, 3)).tolist()}, "i": {"data": list(range(3000))}}),
     lambda x, i: torch.index_select(x, 0, i)),
]


@pytest.mark.parametrize("doc, fn", F11)
def test_everyday_indexing_answers_at_the_default_limits(doc, fn):
    x = torch.tensor(doc["leaves"]["x"]["data"])
    i = torch.tensor(doc["leaves"]["i"]["data"]) if "i" in doc["leaves"] else None
    out = engine.evaluate(doc)["tensors"]["y"]
    assert out["shape"] == list(fn(x, i).shape)


def test_the_limit_still_refuses_a_gather_before_it_runs():
    doc = _doc([{"name": "y", "op": "getitem", "args": ["x", "i"]}],
               {"x": {"data": np.ones((100, 3)).tolist()}, "i": {"data": [k % 100 for k in range(3000)]}})
    with pytest.raises(LimitExceeded, match="max_tensor_elements"):
        engine.evaluate(doc, limits=Limits(max_tensor_elements=8999))
    assert engine.evaluate(doc, limits=Limits(max_tensor_elements=9000))["tensors"]["y"]["shape"] == [3000, 3]
