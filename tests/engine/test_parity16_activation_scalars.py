"""elu / celu / selu-style scale / softplus / threshold with large or odd Scalars against live torch 2.13
(review13a F-G): torch's CPU kernels compute float16 in float with the Scalars `.to<float>()` (elu's alpha 1e5,
softplus's beta 70000: finite coefficients, one rounding to half at the end), and every coefficient is a checked
Scalar::to (float32 refuses 3.5e38: "value cannot be converted to type float without overflow"; threshold's value
into float16 refuses 1e5); elu sends a zero to its positive branch (elu(0, alpha=inf) is 0). The engine had cast
the Scalars to half (inf, then NaN), rounded each step to half, and taken no overflow check."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine import dtypes as D

RNG = np.random.default_rng(16)
X16 = np.concatenate([RNG.normal(0, 3, 200), RNG.normal(0, 0.01, 50), [-0.0, 0.0, 65504.0, -65504.0, np.inf,
                                                                       -np.inf, np.nan, 1e-7, -1e-7]])
SCALARS = [1, 0.1, 1e5, 65504.0, 65520.0, 60000.0, 1e38, 3.5e38, 1e39, -1e5, 2**24 + 1, 2**60 + 2**36 + 1,
           2**64 - 1, 1e-8, 6e-8, 1e-50, float("inf"), float("nan"), 2049, -2]


def _x(L, dt, grad=False):
    vals = X16.astype(np.float16).astype(np.float64).tolist() if dt == "float16" else X16.tolist()
    t = L.tensor(vals, dtype=getattr(torch, dt) if L is torch else D.BY_NAME[dt])
    return t.requires_grad_() if grad else t


def _run(L, f):
    try:
        t = f(L)
    except Exception as e:  # noqa: BLE001
        return "error", type(e).__name__, str(e).split("\n")[0]
    return "ok", str(t.dtype), t.tolist()


def F(L):
    return L.nn.functional


OPS = {
    "elu": lambda L, x, a: F(L).elu(x, alpha=a),
    "celu": lambda L, x, a: F(L).celu(x, alpha=a) if a != 0 else F(L).celu(x),
    "softplus beta": lambda L, x, a: F(L).softplus(x, beta=a),
    "softplus threshold": lambda L, x, a: F(L).softplus(x, threshold=a),
    "threshold threshold": lambda L, x, a: F(L).threshold(x, a, 7.0),
    "threshold value": lambda L, x, a: F(L).threshold(x, 0.5, a),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", sorted(OPS))
def test_float16_scalars_in_float(name):
    for a in SCALARS:
        f = lambda L, a=a: OPS[name](L, _x(L, "float16"), a)  # noqa: E731
        assert repr(_run(engine, f)) == repr(_run(torch, f)), a


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("name", ["elu", "threshold threshold", "threshold value"])
def test_checked_scalars_and_zero(name, dt):
    """float32 / float64: the coefficient checks and elu's zero (values of exp are not compared here: float32's
    vectorized exp differs from NumPy's in the last bit, a known difference)."""
    x = [0.0, -0.0, 0.5, 3.0, float("nan")]
    for a in SCALARS:
        f = lambda L, a=a: OPS[name](L, L.tensor(x, dtype=getattr(L, dt)), a)  # noqa: E731
        assert repr(_run(engine, f)) == repr(_run(torch, f)), a


def test_threshold_integer_dtypes_check_their_scalars():
    for dt in ["int8", "uint8", "int32", "int64"]:
        for thr, val in [(300, 1), (1, 300), (-1, 2**63), (2, -129), (1.5, 2.5)]:
            f = lambda L, dt=dt, thr=thr, val=val: F(L).threshold(  # noqa: E731
                L.tensor([0, 1, 2, 100], dtype=getattr(L, dt)), thr, val)
            assert repr(_run(engine, f)) == repr(_run(torch, f)), (dt, thr, val)
