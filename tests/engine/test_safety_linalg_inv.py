"""linalg.inv_ex over a batch holding a singular matrix, and the charge of the LU-based ops over many small
matrices (safeJ, known gap 2). inv_ex's fallback, where NumPy's inv refused the batch, was a Python loop of one
np.linalg.inv a matrix, uncharged and without a deadline check: a [10^6, 1, 1] batch with one singular matrix took
4.5 s of CPU charged as 2e6 flops (2 ms), inline in a server thread. It is now one call of np.linalg.inv's own
ufunc with the singular-matrix error off, which answers each matrix as np.linalg.inv(m) does, NaN where that raises: the
loop's answer, bit for bit. det, inv_ex and solve_ex also charge lu_factor_array's steps per matrix element and per
matrix (a [10^7, 1, 1] batch: 1.9 s charged as 2e7 flops). Measured as tests/engine/empty_dims_sweep measures
(calls, deadline checks, traced bytes against the charges; no clock); values against torch."""
from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

import engine
from tests.engine.empty_dims_sweep import excess, measure


def _leaf(values: np.ndarray) -> dict:
    return {"data": {"dtype": values.dtype.name, "shape": list(values.shape),
                     "b64": base64.b64encode(values.tobytes()).decode()}}


def _inv_doc(values: np.ndarray) -> dict:
    return {"leaves": {"x": _leaf(values)}, "ops": [{"name": ["i", "k"], "op": "linalg.inv_ex", "args": ["x"]}],
            "outputs": []}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inv_ex_of_a_batch_with_singular_matrices_is_one_call(dtype):
    b = 20_000
    for values in (np.zeros((b, 1, 1), dtype), np.concatenate([np.ones((b - 1, 2, 2)), np.eye(2)[None]]).astype(dtype)):
        m = measure(_inv_doc(values))
        assert m["status"] == "ok" and m["calls"] < 5_000 and excess(m) == [], m  # was a call an element


def _old_loop(x: np.ndarray) -> np.ndarray:
    """The loop this replaced: np.linalg.inv of each matrix, NaN where it raises, stacked (float64 where any
    raised) and cast back to x's dtype."""
    outs = []
    for m in x.reshape(-1, *x.shape[-2:]):
        try:
            outs.append(np.linalg.inv(m))
        except np.linalg.LinAlgError:
            outs.append(np.full(m.shape, np.nan))
    return np.stack(outs).reshape(x.shape).astype(x.dtype)


def _batch(rng, dtype, n, b=64):
    x = rng.standard_normal((b, n, n)) + 3 * np.eye(n)  # well conditioned, but for the exactly singular ones:
    x[::5] = 0.0  # zero matrices
    x[1::7, :, -1] = 0.0  # a zero last column
    x[2::9, 0] = 0.0  # a zero first row
    x[3::11, :, n // 2] = 0.0  # a zero middle column
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_inv_ex_answers_as_before_and_as_torch(dtype, n):
    """Bit for bit the loop's answer (NaN for a matrix LAPACK finds singular: torch's inf / NaN pattern there is
    a known difference, engine-wide); info is torch's; the invertible matrices' inverses torch's to rounding."""
    rng = np.random.default_rng(n)
    x = _batch(rng, dtype, n)
    got = engine.linalg.inv_ex(engine.tensor(x))
    inverse = np.asarray(got.inverse.numpy())
    assert inverse.dtype == x.dtype
    assert np.array_equal(inverse, _old_loop(x), equal_nan=True)
    ref = torch.linalg.inv_ex(torch.from_numpy(x))
    assert got.info.tolist() == ref.info.tolist() and any(ref.info.tolist())
    ok = (ref.info == 0).numpy() & np.isfinite(ref.inverse.numpy()).all(axis=(-1, -2))
    tol = 1e-3 if dtype == "float32" else 1e-9
    assert np.allclose(inverse[ok], ref.inverse.numpy()[ok], rtol=tol, atol=tol)
    for one in x[:12]:  # one matrix: inv_ex's own answer, and inv's error where it is singular
        assert np.array_equal(np.asarray(engine.linalg.inv_ex(engine.tensor(one)).inverse.numpy()),
                              _old_loop(one[None])[0], equal_nan=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op,args", [("linalg.det", ["a"]), ("linalg.inv_ex", ["a"]), ("linalg.solve_ex", ["a", "a"])])
def test_the_lu_based_ops_charge_their_steps_per_matrix(op, args, dtype):
    """A [200000, 1, 1] batch: lu_factor_array's column step over it and the call per matrix charged (at least 100
    flops a matrix: was 2 to 6, so a [10^7, 1, 1] batch of 1.9 s looked like 20 ms and ran inline, not in a
    killable worker); its traced memory within the charge (it was 2.7x over for det's)."""
    b = 200_000
    doc = {"ops": [{"name": "a", "op": "ones", "args": [[b, 1, 1]], "kwargs": {"dtype": dtype}},
                   {"name": "r" if op == "linalg.det" else ["r", "i"], "op": op, "args": args}], "outputs": []}
    m = measure(doc)
    assert m["status"] == "ok" and m["flops"] >= 100 * b and excess(m) == [], m


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_solve_charges_a_factorization_for_every_matrix_of_the_broadcast_batch(dtype):
    """A [1, 16, 16] beside B [5000, 16, 1]: NumPy's solve factors A 5,000 times; it was charged once (A [1, 200,
    200] beside B [2000, 200, 1], a 400,000-element B, took 20 s of CPU charged as 1.6e7 flops, inline in a
    server thread).
    The values: torch's, to rounding."""
    k, n = 16, 5_000
    doc = {"ops": [{"name": "e", "op": "eye", "args": [k], "kwargs": {"dtype": dtype}},
                   {"name": "a", "op": "unsqueeze", "args": ["e", 0]},
                   {"name": "b", "op": "ones", "args": [[n, k, 1]], "kwargs": {"dtype": dtype}},
                   {"name": ["x", "i"], "op": "linalg.solve_ex", "args": ["a", "b"]}], "outputs": []}
    m = measure(doc)
    assert m["status"] == "ok" and m["flops"] >= n * 2 * k ** 3 and excess(m) == [], m
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((1, 5, 5)) + 3 * np.eye(5), rng.standard_normal((7, 5, 2))
    for left in (True, False):
        bb = b if left else np.swapaxes(b, -1, -2)
        got = engine.linalg.solve_ex(engine.tensor(a.astype(dtype)), engine.tensor(bb.astype(dtype)), left=left)
        ref = torch.linalg.solve_ex(torch.from_numpy(a.astype(dtype)), torch.from_numpy(bb.astype(dtype)), left=left)
        assert np.allclose(np.asarray(got.result.numpy()), ref.result.numpy(), rtol=1e-4, atol=1e-5)
        assert got.result.shape == ref.result.shape and got.info.tolist() == ref.info.tolist()
