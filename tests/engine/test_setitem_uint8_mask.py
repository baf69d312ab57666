"""t[uint8 mask] = a one-element value: torch 2.13's setitem dispatches to masked_fill_, which refuses a uint8 mask;
a value of several elements goes through index_put_ and is written (review16 R8)."""
from __future__ import annotations

import pytest
import torch

import engine


@pytest.mark.parametrize("value", [5.0, "0d", "0d64", "1el", "3el"])
def test_uint8_mask_setitem_as_torch(value):
    out = []
    for L in (torch, engine):
        x = L.zeros(4)
        m = L.tensor([1, 0, 1, 1], dtype=L.uint8)
        v = {"0d": L.tensor(2.0), "0d64": L.tensor(2.0, dtype=L.float64), "1el": L.tensor([2.0]),
             "3el": L.tensor([1.0, 2.0, 3.0])}.get(value, value)
        try:
            x[m] = v
            out.append(x.tolist())
        except RuntimeError as e:
            out.append(str(e))
    assert out[1] == out[0]
