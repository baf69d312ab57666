"""Every op's forward formula on the op table's samples (tests/engine/samples/*.py) against torch 2.13's forward AD.

For each sample (the same inputs as test_ops.py builds, seeded by its id), every floating argument that requires
grad there becomes a dual tensor with a seeded random tangent, and:

1. forward: each output's tangent (and value) equals torch's (None where torch's is None), or both raise the
   same error (torch refuses forward AD for floor_divide, a scalar % tensor, ...);
2. forward-over-reverse (samples with gradgrad): the tangents of autograd.grad(sum(out * w), create_graph=True)
   inside the level equal torch's: the forward formulas of the backward formulas' ops;
3. batched: the engine's tangents under a batched level of two rows equal the two rows run one at a time (the
   batch rules and the per-row fallback, as torch's vmap over forward AD).

`make test` runs the forward check on every float64 sample and on a fixed quarter of the float32 ones, the
other two checks on a fixed quarter of the samples (chosen by a hash of the sample id: the same ones every run);
`make test-full` (GRADSERVE_TEST_FULL=1) runs all of it. The registry test holds every differentiable entry, the
n-ary ones made on demand included, to having a forward formula.
"""
from __future__ import annotations

import gc
import os
import zlib

import numpy as np
import pytest
import torch

import engine
from engine.ops.registry import OpDef
from tests.engine import forward_ad_samples as F
from tests.engine.opinfo import TL, T
from tests.engine.test_ops import SAMPLE_PARAMS, arrs_of, sample_seed, tolerances, torch_message

FULL = os.environ.get("GRADSERVE_TEST_FULL") == "1"

# torch's own forward AD fails on these (its jvp decompositions): nothing to compare with (its "ZeroTensors are
# immutable" is compared: the engine raises it where torch does, engine/ops/jvp.py's zero_tensor_write)
_TORCH_INTERNAL = ("The following operation failed in the TorchScript interpreter",)


def _part(sample_id, k):
    """A fixed 1/k of the samples (by a hash of the id: the same ones every run)."""
    return zlib.crc32(sample_id.encode()) % k == 0


def _has_tangent(spec):
    """Whether a sample has a floating argument that requires grad (one to make dual)."""
    if isinstance(spec, T):
        return spec.requires_grad and (spec.dtype is None or spec.dtype.startswith("float"))
    if isinstance(spec, TL):
        return any(_has_tangent(i) for i in spec.items)
    if isinstance(spec, tuple | list):
        return any(_has_tangent(i) for i in spec)
    if isinstance(spec, dict):
        return any(_has_tangent(i) for i in spec.values())
    return False


def _params():
    out = []
    for p in SAMPLE_PARAMS:
        s, dt = p.values
        if "xfail" in (s.note or "") and "values" in (s.note or ""):
            continue  # values torch and the engine draw differently (dropout's mask): no tangent to compare
        if not _has_tangent((s.args, s.kwargs)):
            continue
        if dt == "float64" or FULL or _part(p.id, 4):
            out.append(pytest.param(s, dt, id=p.id))
    return out


PARAMS = _params()


def _same_raise(t, e):
    assert isinstance(e, tuple), f"torch raised {type(t[1]).__name__}: {torch_message(t[1])[:300]}; engine did not"
    builtin = next(c.__name__ for c in type(t[1]).__mro__ if c.__module__ == "builtins")
    names = [c.__name__ for c in type(e[1]).__mro__ if c.__module__ == "builtins"]
    assert builtin in names, f"engine raised {type(e[1]).__name__}, torch {type(t[1]).__name__}"
    assert str(e[1]) == torch_message(t[1])


def _compare(tr, er, rtol, atol, what):
    if isinstance(tr, tuple):
        if any(m in str(tr[1]) for m in _TORCH_INTERNAL):
            pytest.skip(f"{what}: torch's own forward AD fails here ({str(tr[1]).splitlines()[0][:80]})")
        _same_raise(tr, er)
        return
    assert not isinstance(er, tuple), f"{what}: engine raised {type(er[1]).__name__}: {er[1]}"
    if tr is None:
        return
    assert len(er) == len(tr), f"{what}: {len(er)} outputs, torch {len(tr)}"
    for i, (t, e) in enumerate(zip(tr, er)):
        tt = t[1] if isinstance(t, tuple) else t
        et = e[1] if isinstance(e, tuple) else e
        assert (et is None) == (tt is None), f"{what} {i}: engine tangent {et is not None}, torch {tt is not None}"
        if tt is None:
            continue
        assert et.shape == tt.shape, f"{what} {i}: tangent shape {et.shape}, torch {tt.shape}"
        assert et.dtype == tt.dtype, f"{what} {i}: tangent dtype {et.dtype}, torch {tt.dtype}"
        np.testing.assert_allclose(et, tt, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{what} {i}")


@pytest.mark.parametrize("sample, dtype", PARAMS)
def test_forward_ad_sample(sample, dtype, request):
    sid = request.node.callspec.id
    seed = sample_seed(sid)
    args, kwargs = F.materialized(sample, seed, dtype)
    tangents = F.tangents_for((args, kwargs), np.random.default_rng(seed + 7))
    if not tangents:
        pytest.skip("no argument requires grad: no tangent to push")
    precisions = {a.array.dtype.name for a in arrs_of((args, kwargs))}
    eff = next((d for d in ("float16", "float32") if d in precisions), dtype)
    rtol, atol = tolerances(sample, eff)

    forward = F.forward(torch, sample, args, kwargs, tangents)
    _compare(forward, F.forward(engine, sample, args, kwargs, tangents), rtol * 10, atol * 10, "tangent of output")

    if sample.grad and sample.gradgrad and dtype == "float64" and (FULL or _part(sid, 4)):
        _compare(F.fwd_over_rev(torch, sample, args, kwargs, tangents, seed + 1),
                 F.fwd_over_rev(engine, sample, args, kwargs, tangents, seed + 1),
                 rtol * 100, atol * 100, "tangent of the gradient of leaf")

    if (FULL or _part(sid, 4)) and not isinstance(forward, tuple):
        batched = F.tangents_for((args, kwargs), np.random.default_rng(seed + 9), batch=2)
        together, rows = F.batched_rows(sample, args, kwargs, batched)
        for i, t in enumerate(together):
            if t is None:
                assert rows[0][i] is None and rows[1][i] is None, f"batched output {i}: no tangent, the rows have"
                continue
            r = np.stack([rows[0][i], rows[1][i]])
            assert t.shape == r.shape, f"batched output {i}: shape {t.shape}, rows {r.shape}"
            lo = t.dtype != np.float64
            np.testing.assert_allclose(t, r, rtol=1e-5 if lo else 1e-9, atol=1e-6 if lo else 1e-12, equal_nan=True,
                                       err_msg=f"batched output {i} against its rows")


def test_every_differentiable_entry_has_a_forward_formula():
    """Every differentiable entry of the op table has jvp=: those registered at import, and the n-ary ones (cat,
    stack, split, unbind) made on demand, as made by their catalog functions here."""
    x = engine.ones(4, 2)
    for n in (1, 2, 3):
        engine.cat([x] * n)
        engine.stack([x] * n)
        x.split(4 // n if n != 3 else 2)
        x.unbind(0)
    # an app started earlier in this process (its start-up calls gc.freeze(), app/main.py) hides what it froze
    # from gc.get_objects(): the whole op table, where an in-process app test ran first on this worker
    gc.unfreeze()
    entries = [o for o in gc.get_objects() if isinstance(o, OpDef)]
    assert len(entries) > 180
    missing = sorted({o.qualname for o in entries if o.differentiable and o.jvp is None})
    assert not missing, f"differentiable entries without a forward formula (jvp=): {missing}"
