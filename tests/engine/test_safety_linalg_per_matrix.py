"""The linalg ops' charges over many tiny matrices (safeL, brief B1; safeJ's leftover): NumPy's batched LAPACK calls
cost a constant a matrix (the gufunc copies each matrix to column-major and calls LAPACK once for it) that the
rules' k^3 terms missed: a [10^6, 1, 1] svd was charged 20 flops a matrix for ~600 ns of CPU (30x), slogdet 42x,
cholesky_inverse 33x, qr 9x, linalg.lu 40-300x at every size (its rule charged the unpacking only).

MEASURED holds the CPU nanoseconds a matrix each op took on the development machine (one BLAS thread, the most
seen over float32 / float64, 10^6 / 10^7 matrices and loads 4-13; docs/runs/safeL.md, the script's figures there):
an op's charge a matrix (flops, 1 a nanosecond at rules.PY_STEP's scale) must cover it. No clock here: the charges
are read from the budget over a small stack (they are linear in the batch) and compared with those figures; the
traced memory is checked against the charged bytes as the empty-dims sweep does; the answers against torch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import engine
from engine.budget import Budget, active
from tests.engine import empty_dims_sweep as sweep
from tests.engine.empty_dims_sweep import excess, measure

# op -> {k: ns a matrix of a [N, k, k] float stack}
MEASURED = {
    "svd": {1: 616, 2: 1194, 4: 3261, 8: 9828},
    "svdvals": {1: 597, 2: 1192, 4: 3080, 8: 11776},
    "pinv": {1: 776, 2: 1283, 4: 3303, 8: 10224},
    "slogdet": {1: 61, 2: 69, 4: 147, 8: 385},
    "lu_factor_ex": {1: 104, 2: 179, 4: 566, 8: 3325},
    "lu": {1: 160, 2: 287, 4: 694, 8: 3957},
    "lu_unpack": {1: 83, 2: 159, 4: 219, 8: 957},
    "qr": {1: 102, 2: 527, 4: 832, 8: 2452},
    "eigh": {1: 33, 2: 446, 4: 1658, 8: 6323},
    "cholesky_inverse": {1: 71, 2: 358, 4: 562, 8: 1562},
    "solve_triangular": {1: 14, 2: 33, 4: 103, 8: 274},
    "triangular_solve": {1: 15, 2: 45, 4: 134, 8: 410},
    "matrix_exp": {1: 291, 2: 1045, 4: 1197, 8: 6345},
}
N = 64  # matrices a stack: the charges are linear in it


def _inputs(k: int, dtype: str, n: int = N):
    rng = np.random.default_rng(k)
    a = rng.standard_normal((n, k, k))
    spd = a @ np.swapaxes(a, -1, -2) + k * np.eye(k)
    x = (spd * 0.1 / k + rng.standard_normal((n, k, k)) * 0.01).astype(dtype)
    low = np.linalg.cholesky(spd).astype(dtype)
    b = rng.standard_normal((n, k, 1)).astype(dtype)
    return x, spd.astype(dtype), low, b


def _call(op: str, x, spd, low, b):
    """The op through the engine's library (E) or torch's (T): the same call."""
    def run(m, la):
        return {
            "svd": lambda: la.svd(x), "svdvals": lambda: la.svdvals(x), "pinv": lambda: la.pinv(x),
            "slogdet": lambda: la.slogdet(x), "lu_factor_ex": lambda: la.lu_factor_ex(x), "lu": lambda: la.lu(x),
            "lu_unpack": lambda: m.lu_unpack(*la.lu_factor(x)), "qr": lambda: la.qr(x),
            "eigh": lambda: la.eigh(spd), "cholesky_inverse": lambda: m.cholesky_inverse(low),
            "solve_triangular": lambda: la.solve_triangular(low, b, upper=False),
            "triangular_solve": lambda: m.triangular_solve(b, low, upper=False),
            "matrix_exp": lambda: la.matrix_exp(x),
        }[op]()
    return run


def _charged(op: str, k: int, dtype: str = "float64") -> float:
    x, spd, low, b = (engine.tensor(v) for v in _inputs(k, dtype))
    if op == "lu_unpack":  # its inputs' factorization outside the measured budget
        lu, piv = engine.linalg.lu_factor(x)
        bud = Budget()
        with active(bud):
            engine.lu_unpack(lu, piv)
        return bud.used_flops / N
    bud = Budget()
    with warnings.catch_warnings(), active(bud):
        warnings.simplefilter("ignore")
        _call(op, x, spd, low, b)(engine, engine.linalg)
    return bud.used_flops / N


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", sorted(MEASURED))
def test_the_charge_a_matrix_covers_its_measured_cost(op, dtype):
    """The charge a matrix at k = 1, 2, 4, 8 at least the CPU time measured (before: 1 - 90x under at k = 1)."""
    short = {k: (round(_charged(op, k, dtype)), ns) for k, ns in MEASURED[op].items()
             if _charged(op, k, dtype) < ns}
    assert short == {}, f"{op}: charged flops a matrix vs measured ns a matrix: {short}"


def test_linalg_lu_charges_its_factorization():
    """linalg.lu is lu_factor_ex's work and the unpacking: its rule had charged the unpacking alone."""
    for k in (1, 8, 32):
        assert _charged("lu", k) >= _charged("lu_factor_ex", k) + _charged("lu_unpack", k) * 0.99


def _leaf(values: np.ndarray) -> dict:
    import base64  # noqa: PLC0415

    return {"data": {"dtype": values.dtype.name, "shape": list(values.shape),
                     "b64": base64.b64encode(values.tobytes()).decode()}}


OUTPUTS = {"linalg.svd": 3, "linalg.svdvals": 1, "linalg.slogdet": 2, "linalg.qr": 2, "linalg.lu": 3,
           "linalg.lu_factor_ex": 3, "linalg.eigh": 2, "cholesky_inverse": 1, "linalg.matrix_exp": 1, "linalg.pinv": 1}


@pytest.mark.parametrize("op", sorted(OUTPUTS))
@pytest.mark.parametrize("k", [1, 4])
def test_memory_and_calls_within_the_charges(op, k, monkeypatch):
    """The traced bytes and Python calls of a 20,000-matrix stack within the charges (the sweep's measure, its
    flops' cap raised: the stack's charge is past its 1e8)."""
    monkeypatch.setattr(sweep, "MAX_FLOPS", 1e10)
    _, spd, _, _ = _inputs(k, "float32", 20_000)
    n = OUTPUTS[op]
    name = "y" if n == 1 else [f"y{i}" for i in range(n)]
    m = measure({"leaves": {"x": _leaf(spd)}, "ops": [{"name": name, "op": op, "args": ["x"]}], "outputs": []})
    assert m["status"] == "ok" and excess(m) == [], m


@pytest.mark.parametrize("op", sorted(MEASURED))
@pytest.mark.parametrize("k", [1, 2, 5])
def test_answers_are_torchs(op, k):
    """Unchanged answers (the charges only): torch's values, to rounding (signs of singular vectors aside: their
    products are compared)."""
    arrays = _inputs(k, "float64", 6)
    got = _call(op, *(engine.tensor(v) for v in arrays))(engine, engine.linalg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _call(op, *(torch.from_numpy(v) for v in arrays))(torch, torch.linalg)
    got = got if isinstance(got, tuple) else (got,)
    ref = ref if isinstance(ref, tuple) else (ref,)
    if op in ("svd", "eigh", "qr"):  # vectors up to sign: compare what they rebuild
        if op == "svd":
            u, s, vh = got
            ru, rs, rvh = ref
            pairs = [((u.numpy() * s.numpy()[..., None, :]) @ vh.numpy(), ((ru * rs[..., None, :]) @ rvh).numpy()),
                     (s.numpy(), rs.numpy())]
        elif op == "eigh":
            pairs = [(got[0].numpy(), ref[0].numpy())]
        else:
            pairs = [(got[0].numpy() @ got[1].numpy(), (ref[0] @ ref[1]).numpy()), (np.abs(got[1].numpy()),
                                                                                   np.abs(ref[1].numpy()))]
    else:
        pairs = [(np.asarray(g.numpy()), r.numpy()) for g, r in zip(got, ref, strict=True)]
    for g, r in pairs:
        assert g.shape == r.shape and np.allclose(g, r, rtol=1e-9, atol=1e-9), op
