"""safeP (safeO's library remainder): a Python list or tuple where an op takes a Tensor was stacked by NumPy inside
the forward, uncharged (engine.abs([e] * 3) of a 1e6-element expanded zero: a 24 MB array made, 4 bytes charged).
torch refuses it with a TypeError before any work; so does the engine now (OpDef.__call__'s non-Tensor branch, the
only place a list reaches: a Tensor operand costs nothing more). The wire refuses such arguments at parse."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

import engine
from engine import budget as B

CASES = [
    ("abs", lambda m, x: m.abs([x, x])),
    ("abs tuple", lambda m, x: m.abs((x, x))),
    ("clone", lambda m, x: m.clone([x])),
    ("isnan", lambda m, x: m.isnan([x])),
    ("isinf", lambda m, x: m.isinf([x])),
    ("logical_not", lambda m, x: m.logical_not([x, x])),
    ("logical_and", lambda m, x: m.logical_and([x], x)),
    ("add other", lambda m, x: m.add(x, [x])),
    ("add numbers", lambda m, x: m.add(x, [1.0, 2.0, 3.0])),
    ("mul input", lambda m, x: m.mul([x], x)),
    ("exp empty", lambda m, x: m.exp([])),
    ("sum", lambda m, x: m.sum([x])),
    ("dist", lambda m, x: m.dist(x, [x])),
    ("relu", lambda m, x: m.nn.functional.relu([x])),
    ("soft_margin_loss", lambda m, x: m.nn.functional.soft_margin_loss([x], x)),
]


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the error is what is compared
        return type(e).__name__, str(e).splitlines()[0]
    return None


@pytest.mark.parametrize("name,call", CASES, ids=[c[0] for c in CASES])
def test_a_list_for_a_tensor_is_torchs_type_error(name, call):
    want = _error(lambda: call(torch, torch.zeros(3)))
    assert want is not None and want[0] == "TypeError"
    assert _error(lambda: call(engine, engine.zeros(3))) == want


def test_the_list_is_refused_before_numpy_stacks_it():
    e = engine.zeros(1).expand(10**6)
    b = B.Budget()
    tracemalloc.start()
    try:
        with B.active(b), pytest.raises(TypeError, match=r"abs\(\): argument 'input' \(position 1\) must be Tensor"):
            engine.abs([e] * 3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, peak  # before: 24 MB stacked (8 bytes charged)


def test_lists_where_torch_takes_them_still_work():
    x = engine.tensor(np.arange(6.0))
    t = torch.arange(6.0, dtype=torch.float64)
    assert np.array_equal(x[[0, 2]]._data, t[[0, 2]].numpy())
    assert np.array_equal(engine.cat([x, x])._data, torch.cat([t, t]).numpy())
    assert np.array_equal(engine.stack((x, x))._data, torch.stack((t, t)).numpy())
    assert np.array_equal(engine.tensor([1.0, 2.0])._data, torch.tensor([1.0, 2.0], dtype=torch.float64).numpy())
    assert engine.add(x, 2).tolist() == (t + 2).tolist()
