"""Every catalog op's fresh outputs are charged at run time (red team 14 F6's scan, finished by safeO:
tests/engine/charge_scan.py). The sweep calls each op of engine.catalog on small inputs under a Budget, in a worker
process with a timeout per op, and fails where an op's output that shares no memory with its inputs was charged
nothing (no flops, no bytes): max_request_bytes / max_flops / the spill caps would never see it. The two gaps it
found beside safeN's (argsort, bernoulli(input, p), isclose): diff with n=0 (a plain copy of its input) and
linalg.pinv with a tensor atol / rtol (torch broadcasts it with the batch: a [64, 64] rtol gave a 134 MB answer
charged 229 KB). Answers are live torch 2.13's."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import engine
from engine import budget as _budget
from engine.errors import LimitExceeded
from tests.engine.charge_scan import fresh_bytes

# Ops no small real-valued call runs (imag of a real tensor is torch's error).
NO_CALL = {"imag"}


FULL = os.environ.get("GRADSERVE_TEST_FULL") == "1"


@pytest.mark.parametrize("opinfo", [False, pytest.param(True, marks=pytest.mark.skipif(
    not FULL, reason="PyTorch's OpInfo samples for every op (~3 min): GRADSERVE_TEST_FULL=1"))])
def test_every_catalog_op_charges_its_fresh_outputs(opinfo):
    """The sweep over every catalog op (~4 s of CPU; with OpInfo's samples too under GRADSERVE_TEST_FULL): none
    leaves a fresh output charged nothing, none times out, and every op but NO_CALL runs on at least one call."""
    cmd = [sys.executable, "-m", "tests.engine.charge_scan", "--json", "--timeout", "300"]
    proc = subprocess.run(cmd + ([] if opinfo else ["--no-opinfo"]), capture_output=True, text=True, timeout=3000,
                          check=True)
    rows = json.loads(proc.stdout.splitlines()[-1])
    assert len(rows) > 600
    uncharged = sorted(n for n, v in rows.items() if v == "UNCHARGED")
    assert not uncharged, f"fresh outputs charged nothing: {uncharged}"
    broken = sorted(n for n, v in rows.items() if v in ("timed out", "worker died"))
    assert not broken, broken
    unrun = sorted(n for n, v in rows.items() if v == "no call ran" and n not in NO_CALL)
    assert not unrun, f"no call of the scan runs: {unrun}"


def _charged(fn):
    b = _budget.Budget()
    with _budget.active(b):
        out = fn()
    return out, b


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_diff_n0_copy_is_charged_and_torch_s(dtype, requires_grad):
    """diff(x, 0) is a copy of x (aten: zeros_like(self).copy_(self)): charged its bytes before it is made, the
    copy tracked; torch's values, dtype and grad_fn (CopyBackwards)."""
    if requires_grad and dtype == "int64":
        pytest.skip("integer tensors take no grad")
    a = np.arange(24, dtype=dtype).reshape(4, 6)
    t = torch.tensor(a, requires_grad=requires_grad)
    e = engine.tensor(a, requires_grad=requires_grad)
    want = torch.diff(t, 0)
    got, b = _charged(lambda: engine.diff(e, 0))
    assert np.array_equal(got.detach().numpy(), want.detach().numpy()) and str(got.dtype) == str(want.dtype)
    assert (got.grad_fn is None) == (want.grad_fn is None)
    if want.grad_fn is not None:
        assert type(got.grad_fn).__name__ == type(want.grad_fn).__name__
    assert fresh_bytes(got, (e,)) == a.nbytes
    assert b.peak >= a.nbytes and b.used_flops > 0


def test_diff_n0_copy_passes_max_request_bytes_no_more():
    """A diff(x, 0) whose copy would pass max_request_bytes is refused before it is made (it was answered)."""
    e = engine.zeros(1 << 20, dtype=engine.float64)
    b = _budget.Budget(max_bytes=(1 << 23) - 1)
    with _budget.active(b), pytest.raises(LimitExceeded, match="max_request_bytes"):
        engine.diff(e, 0)


@pytest.mark.parametrize("kw", ["rtol", "atol"])
def test_pinv_tensor_tolerance_charges_its_broadcast_answer(kw):
    """linalg.pinv with a tensor atol / rtol answers torch's broadcast batch ([3] + [2, 2] -> [3, 2, 2], [4, 4]
    -> [4, 4, 3, 3]), and is charged for that answer (its rule had read the matrix's shape alone)."""
    rng = np.random.default_rng(0)
    for a, tol in [(rng.standard_normal((2, 2)), np.array([1e-3, 0.5, 2.0])),
                   (rng.standard_normal((3, 3)), np.full((4, 4), 1e-3))]:
        want = torch.linalg.pinv(torch.tensor(a), **{kw: torch.tensor(tol)})
        got, b = _charged(lambda a=a, tol=tol: engine.linalg.pinv(engine.tensor(a), **{kw: engine.tensor(tol)}))
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
        assert b.peak >= want.numel() * 8


def test_pinv_tensor_rtol_past_max_request_bytes_is_refused():
    """Over a program: pinv of a [48, 48] matrix with a [48, 48] rtol is a [48, 48, 48, 48] float64 answer
    (42 MB): refused under max_request_bytes 32 MiB before it is made (it was answered, charged ~230 KB)."""
    ops = [{"name": "a", "op": "rand", "args": [[48, 48]], "kwargs": {"dtype": "float64"}},
           {"name": "r", "op": "full", "args": [[48, 48], 1e-3], "kwargs": {"dtype": "float64"}},
           {"name": "p", "op": "linalg.pinv", "args": ["a"], "kwargs": {"rtol": "r"}},
           {"name": "s", "op": "sum", "args": ["p"]}]
    with pytest.raises(LimitExceeded, match="^linalg_pinv.* would bring .*max_request_bytes"):  # (old: at sum)
        engine.evaluate({"ops": ops, "outputs": ["s"]}, budget=_budget.Budget(max_bytes=32 << 20))


def _traced_and_charged(fn):
    import tracemalloc  # noqa: PLC0415

    b = _budget.Budget()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        with _budget.active(b):
            fn()
        traced = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return traced, b.peak


@pytest.mark.parametrize("p", [0, 1, 2, 3.5, float("inf")])
@pytest.mark.parametrize("fn", ["cdist", "pdist"])
def test_pairwise_distances_charge_what_their_kernels_hold(fn, p):
    """cdist (its p-norm kernel, not aten's matrix-product form) and pdist, forward and backward, hold three and
    five arrays of the pairs x features at once: charged so (they were charged one: cdist p=2 of two [200, 200]
    traced 193 MB for 64 MB charged, its backward 320 MB). Traced bytes (tracemalloc) against charged, no clock."""
    rng = np.random.default_rng(0)
    a, c = rng.standard_normal((100, 100)), rng.standard_normal((100, 100))
    n = (100 * 100 if fn == "cdist" else 100 * 99 // 2) * 100 * 8  # one array of the pairs x features, float64
    slack = 1 << 20

    def call(x):
        if fn == "cdist":
            return engine.cdist(x, engine.tensor(c), p=p, compute_mode="donot_use_mm_for_euclid_dist")
        return engine.pdist(x, p=p)

    traced, charged = _traced_and_charged(lambda: call(engine.tensor(a)))
    assert traced >= 2 * n  # the kernel does hold them (the measure is of the real thing)
    assert traced <= charged + slack, (traced, charged)
    if p == 0:
        return
    x = engine.tensor(a, requires_grad=True)
    out = call(x).sum()
    traced, charged = _traced_and_charged(out.backward)
    assert traced >= 4 * n
    assert traced <= charged + slack, (traced, charged)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_multilabel_margin_loss_charges_what_its_terms_hold(reduction):
    """multilabel_margin_loss's forward and backward hold ~3 float64 arrays of rows x classes x classes (its
    hinge terms) and bool masks: charged so (charged one: a [256, 256] input traced 420 MB for 134 MB)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 64))
    t = np.full((64, 64), -1, dtype=np.int64)
    t[:, 0] = rng.integers(0, 64, 64)
    n = 64 * 64 * 64 * 8
    x = engine.tensor(a, requires_grad=True)
    out = []
    traced, charged = _traced_and_charged(
        lambda: out.append(engine.nn.functional.multilabel_margin_loss(x, engine.tensor(t), reduction=reduction)))
    assert traced >= 2 * n
    assert traced <= charged + (1 << 20), (traced, charged)
    traced, charged = _traced_and_charged(out[0].sum().backward)
    assert traced >= 2 * n
    assert traced <= charged + (1 << 20), (traced, charged)
