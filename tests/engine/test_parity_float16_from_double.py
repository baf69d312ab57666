"""A double into float16 as c10 converts it: through a float (c10::Half is made from a float), two roundings where
NumPy's direct cast makes one (1 + 2**-11 + 2**-40: torch 1.0, NumPy 1.0009765625; ~50 in 10**6 random doubles
differed: review13a F-D). torch.tensor of a list and of an array, .to / .half of a float64 tensor."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine import dtypes as D

CRAFTED = [1 + 2**-11 + 2**-40, -(1 + 2**-11 + 2**-40), 2048 + 1 + 2**-30, 65519.99999999, 6.1e-5 + 2**-40,
           2**-24 + 2**-60, 1e-8]


def _doubles():
    return CRAFTED + np.random.default_rng(7).standard_normal(100000).tolist()


def _eq(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


@pytest.mark.parametrize("how", ["list", "ndarray", "to", "half"])
def test_a_double_becomes_float16_as_torchs(how):
    xs = _doubles()
    want = torch.tensor(xs, dtype=torch.float16).numpy()
    if how == "list":
        got = engine.tensor(xs, dtype=D.float16)
    elif how == "ndarray":
        got = engine.tensor(np.array(xs), dtype=D.float16)
    elif how == "to":
        got = engine.tensor(xs, dtype=D.float64).to(D.float16)
    else:
        got = engine.tensor(xs, dtype=D.float64).half()
    assert _eq(got._data, want)
