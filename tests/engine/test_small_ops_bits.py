"""Small-array routes of op implementations (few NumPy calls where NumPy's per-call cost is most of the op): to
the bit with the general route they stand in for, over any values (signed zeros, subnormals, overflow,
infinities, NaN: a NaN's sign and payload included), and near live torch 2.13 over finite values:
binary_cross_entropy_with_logits without weights (loss_elementwise._bcel_plain), mv's row sums (linalg_products._mv).

`make test` draws 150 examples a property, `make test-full` (GRADSERVE_TEST_FULL=1) 300."""
from __future__ import annotations

import os

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.ops import linalg_products, loss_common
from engine.ops import nn_activation as NA

FULL = os.environ.get("GRADSERVE_TEST_FULL") == "1"  # make test-full: twice make test's examples

SPECIALS = [0.0, -0.0, 1e-40, -1e-40, 1e30, -1e30, float("inf"), float("-inf"), float("nan")]


def values(special):
    base = st.floats(-1e3, 1e3, width=32)
    return st.one_of(base, st.sampled_from(SPECIALS)) if special else base


def bits(x):
    x = np.ascontiguousarray(np.asarray(x))
    return x.shape, x.dtype, x.reshape(-1).view(np.uint8).tobytes()


@settings(max_examples=300 if FULL else 150, deadline=None)
@given(st.integers(1, 40), st.integers(1, linalg_products._SEQ_MAX_K + 3), st.sampled_from(["float32", "float64"]),
       st.booleans(), st.data())
def test_mv_bits(m, k, dt, special, data):
    a = np.array(data.draw(st.lists(values(special), min_size=m * k, max_size=m * k)), dt).reshape(m, k)
    v = np.array(data.draw(st.lists(values(special), min_size=k, max_size=k)), dt)
    with np.errstate(all="ignore"):
        e = engine.from_numpy(a).mv(engine.from_numpy(v)).numpy()
        general = linalg_products._matmul_np(a, v[:, None])[:, 0]  # the route every size took before the small one
    assert bits(e) == bits(general)
    if not special:  # within the rounding of the products' magnitudes (cancellation makes a row's own small)
        scale = (np.abs(a.astype(np.float64)) @ np.abs(v.astype(np.float64))) * (1e-6 if dt == "float32" else 1e-14)
        t = torch.from_numpy(a).mv(torch.from_numpy(v)).numpy()
        assert t.dtype == e.dtype and (np.abs(e.astype(np.float64) - t) <= scale * k + 1e-30).all()
    # (not compared with torch here: the general route itself differs from torch's mv in the last bit at some
    # finite values, e.g. 25x5 float32 at hypothesis' draws: its sequential order is not torch's kernel's for
    # every shape; that is the general route's, older than and unchanged by the small one)


def test_mv_of_negative_zero_products_is_plus_zero():
    a = np.array([[-0.0, 0.0], [1.0, -1.0], [-1.0, 0.0]], np.float32)
    v = np.array([1.0, -0.0], np.float32)
    assert bits(engine.from_numpy(a).mv(engine.from_numpy(v)).numpy()) == \
        bits(torch.from_numpy(a).mv(torch.from_numpy(v)).numpy())


def _bcel_general(a, t, reduction):
    """_bcel_fwd's route for any operands, as it was before _bcel_plain, without weights."""
    lsi = NA._log_sigmoid_arr(a)
    one_m = 1 - t
    out = (one_m * a).astype(one_m.dtype, copy=False)
    out = (out - lsi).astype(one_m.dtype, copy=False)
    return loss_common._reduce_arr(out, reduction)


@settings(max_examples=300 if FULL else 150, deadline=None)
@given(st.integers(1, 70), st.sampled_from(["float32", "float64"]), st.sampled_from(["mean", "sum", "none"]),
       st.booleans(), st.booleans(), st.data())
def test_bce_with_logits_bits(n, dt, reduction, hard, special, data):
    xs = data.draw(st.lists(values(special), min_size=n, max_size=n))
    ts = data.draw(st.lists(st.sampled_from([0.0, 1.0]) if hard else st.floats(0, 1, width=32), min_size=n,
                            max_size=n))
    x, t = np.array(xs, dt), np.array(ts, dt)
    with np.errstate(all="ignore"):
        e = engine.nn.functional.binary_cross_entropy_with_logits(
            engine.from_numpy(x), engine.from_numpy(t), reduction=reduction).numpy()
        enum = {"none": loss_common.NONE, "mean": loss_common.MEAN, "sum": loss_common.SUM}[reduction]
        general = _bcel_general(x, t, enum)
    assert bits(e) == bits(general)
    if not special:  # torch's log_sigmoid runs SLEEF's exp and log1p: the last bit may differ (as before)
        r = torch.nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(x), torch.from_numpy(t),
                                                                 reduction=reduction).numpy()
        assert r.dtype == e.dtype and r.shape == e.shape
        np.testing.assert_allclose(e, r, rtol=1e-5 if dt == "float32" else 1e-12, atol=1e-6)
