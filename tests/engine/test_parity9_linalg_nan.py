"""SVD-based ops (linalg.svd, svdvals, pinv) whose LAPACK call fails on non-finite input, against live torch 2.13:
torch's RuntimeError "linalg.svd: (Batch element i): The algorithm failed to converge because the input matrix
contained non-finite values." (the first failing element by flat index; no prefix for one matrix), where NumPy's
ValueError "SVD did not converge" leaked before; inputs that converge to NaNs are answered as torch does."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import engine
from tests.engine.both import outcome

assert torch.__version__.startswith("2.13"), torch.__version__

NAN, INF = math.nan, math.inf
INPUTS = {
    "nan": [[1.0, NAN], [0.0, 2.0]],
    "inf_converges": [[1.0, INF], [0.0, 2.0]],
    "all_inf": [[INF, INF], [INF, INF]],
    "batch_second": [[[1.0, 2.0], [3.0, 4.0]], [[1.0, NAN], [0.0, 1.0]]],
    "batch_3d": [[[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]],
                 [[[1.0, 0.0], [0.0, 1.0]], [[NAN, 0.0], [0.0, 1.0]]]],
    "wide_nan": [[1.0, 2.0, NAN], [0.0, 1.0, 2.0]],
}
OPS = {
    "svd": lambda L, x: tuple(L.linalg.svd(x, full_matrices=False)),
    "svd_full": lambda L, x: tuple(L.linalg.svd(x)),
    "svdvals": lambda L, x: L.linalg.svdvals(x),
    "pinv": lambda L, x: L.linalg.pinv(x),
}


def _answer(lib, fn):
    out = outcome(fn, lib)
    if out[0] != "ok":
        return out
    ts = out[1] if isinstance(out[1], tuple) else (out[1],)
    # values only where they are NaN or not: the decompositions' signs are LAPACK's choice
    return ("ok", [(str(t.dtype), tuple(t.shape), np.isnan(t.numpy()).tolist()) for t in ts])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("data", sorted(INPUTS))
@pytest.mark.parametrize("op", sorted(OPS))
def test_svd_failures_are_torchs(op, data, dtype):
    def fn(lib):
        return OPS[op](lib, lib.tensor(INPUTS[data], dtype=getattr(lib, dtype)))
    assert _answer(engine, fn) == _answer(torch, fn)


HALF_OPS = {
    "linalg.svd": lambda L, x: tuple(L.linalg.svd(x)),
    "linalg.svd_reduced": lambda L, x: tuple(L.linalg.svd(x, full_matrices=False)),
    "svdvals": lambda L, x: L.linalg.svdvals(x),
    "torch.svd": lambda L, x: tuple(L.svd(x)),
    "linalg.qr": lambda L, x: tuple(L.linalg.qr(x)),
    "torch.qr": lambda L, x: tuple(L.qr(x)),
    "eigh": lambda L, x: tuple(L.linalg.eigh(x)),
    "eigvalsh": lambda L, x: L.linalg.eigvalsh(x),
}


@pytest.mark.parametrize("shape", [(2, 2), (0, 0), (2, 0), (0, 2), (3, 0, 0), (2, 3)])
@pytest.mark.parametrize("op", sorted(HALF_OPS))
def test_float16_decompositions_are_torchs(op, shape):
    """float16: torch's dispatch message by its kernel's name ("linalg_svd_cpu" not implemented for 'Half'); an
    empty matrix answered in float16 where torch answers it (svd, eigh; qr refuses even an empty one)."""
    def fn(lib):
        return HALF_OPS[op](lib, lib.zeros(shape, dtype=lib.float16))
    assert _answer(engine, fn) == _answer(torch, fn)
