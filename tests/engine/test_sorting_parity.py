"""The sorting family against live torch after its loops over rows became whole-array NumPy calls
(engine/ops/sorting.py): sort / argsort / msort (stable, both directions), topk, kthvalue, median / nanmedian and
mode on every dtype, with the integer extremes (a descending sort had negated its values: uint8's 200 and int8's
-128 sorted wrong), ties, NaN and -0.0, every dim, keepdim.

topk and kthvalue: torch picks among equal values with std::nth_element / partial_sort (no order promised), so
their values are compared and their indices checked to point at those values; with distinct values the indices
are compared too. mode: torch sorts with `<` (NaN breaks its ordering: results depend on std::sort's steps), so
NaN is left out of its inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def _inputs(dtype: str, seed: int, nan: bool = True):
    rng = np.random.default_rng(seed)
    out = []
    for shape in [(7,), (3, 5), (2, 3, 4), (1, 6), (6, 1)]:
        if dtype == "bool":
            x = rng.random(shape) < 0.5
        elif dtype.startswith("float"):
            x = rng.integers(-3, 4, size=shape).astype(dtype)
            x[rng.random(shape) < 0.15] = -0.0
            if nan:
                x[rng.random(shape) < 0.15] = np.nan
        else:
            info = np.iinfo(dtype)
            x = rng.choice([info.min, info.min + 1, -1, 0, 1, 2, info.max - 1, info.max], size=shape)
            x = x.astype(dtype)
        out.append(x)
    return out


def _pair(x, dtype):
    return torch.from_numpy(x.copy()), engine.tensor(x.tolist(), dtype=getattr(engine, dtype))


def _same(t, e):
    a = t.numpy()
    b = np.asarray(e.numpy())
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), (a, b)
    if a.dtype.kind == "f":  # -0.0 and 0.0 are equal: the sign bits too
        assert np.array_equal(np.signbit(a), np.signbit(b)), (a, b)


def _outcome(fn, *args):
    try:
        return fn(*args), None
    except Exception as ex:  # noqa: BLE001 - the class is compared
        return None, type(ex).__name__


@pytest.mark.parametrize("dtype", DTYPES)
def test_sort_and_argsort_in_both_directions(dtype):
    for x in _inputs(dtype, 1):
        t, e = _pair(x, dtype)
        for d in range(-x.ndim, x.ndim):
            for desc in (False, True):
                ts, es = torch.sort(t, dim=d, descending=desc, stable=True), engine.sort(e, d, desc, stable=True)
                _same(ts.values, es.values)
                _same(ts.indices, es.indices)
                _same(torch.argsort(t, dim=d, descending=desc, stable=True),
                      engine.argsort(e, d, desc, stable=True))
        _same(torch.msort(t), engine.msort(e))


@pytest.mark.parametrize("dtype", [d for d in DTYPES if d != "bool"])
def test_median_and_nanmedian_on_every_dim(dtype):
    for x in _inputs(dtype, 2):
        t, e = _pair(x, dtype)
        for d in range(-x.ndim, x.ndim):
            for keep in (False, True):
                for name in ("median", "nanmedian"):
                    (tv, te), (ev, ee) = (_outcome(getattr(torch, name), t, d, keep),
                                          _outcome(getattr(engine, name), e, d, keep))
                    assert te == ee
                    if te is None:
                        _same(tv.values, ev.values)
                        _same(tv.indices, ev.indices)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mode_on_every_dim(dtype):
    for x in _inputs(dtype, 3, nan=False):
        t, e = _pair(x, dtype)
        for d in range(-x.ndim, x.ndim):
            for keep in (False, True):
                tm, em = torch.mode(t, d, keep), engine.mode(e, d, keep)
                _same(tm.values, em.values)
                _same(tm.indices, em.indices)


@pytest.mark.parametrize("dtype", [d for d in DTYPES if d != "bool"])
def test_topk_and_kthvalue_select_torch_values(dtype):
    for x in _inputs(dtype, 4):
        t, e = _pair(x, dtype)
        for d in range(-x.ndim, x.ndim):
            size = x.shape[d]
            for k in sorted({1, size // 2 + 1, size}):
                for largest in (True, False):
                    tv, ev = torch.topk(t, k, d, largest), engine.topk(e, k, d, largest)
                    _same(tv.values, ev.values)
                    picked = np.take_along_axis(x, np.asarray(ev.indices.numpy()), axis=d)
                    assert np.array_equal(picked, tv.values.numpy(), equal_nan=x.dtype.kind == "f")
                tk, ek = torch.kthvalue(t, k, d, True), engine.kthvalue(e, k, d, True)
                _same(tk.values, ek.values)


@pytest.mark.parametrize("dtype", ["float32", "int64", "uint8", "int8"])
def test_topk_and_kthvalue_indices_with_distinct_values(dtype):
    rng = np.random.default_rng(5)
    for shape in [(9,), (4, 6), (3, 2, 5)]:
        n = int(np.prod(shape))
        pool = np.arange(-(n // 2), n - n // 2) if dtype != "uint8" else np.arange(n) * (255 // n)
        if dtype == "int8":
            pool = np.concatenate([[-128, 127], pool[: n - 2]])
        x = rng.permutation(pool).reshape(shape).astype(dtype)
        t, e = _pair(x, dtype)
        for d in range(x.ndim):
            for k in (1, x.shape[d]):
                for largest in (True, False):
                    tv, ev = torch.topk(t, k, d, largest), engine.topk(e, k, d, largest)
                    _same(tv.indices, ev.indices)
                _same(torch.kthvalue(t, k, d).indices, engine.kthvalue(e, k, d).indices)
