"""isin / searchsorted / bucketize beside another dtype, against live torch 2.13 (review13a F-G): torch compares
in its result_type of the two operands (an int tensor or int Scalar beside float32 is float32, so 2**24 + 1
equals 2**24; a 0-d tensor or a Python number ranks below a dimensioned tensor; 300 beside int8 is 44), where
NumPy's promotion had compared in float64 / int64. isin's sorting path (test_elements of at least
10 * numel ** 0.145) promotes after `unique` by dtype alone and answers True for all but the last of elements
that become equal there (or repeat, with assume_unique), as torch does."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine import dtypes as D


def _t(lib, v, dt):
    return lib.tensor(v, dtype=getattr(torch, dt) if lib is torch else D.BY_NAME[dt])


def _run(lib, f):
    try:
        t = f(lib)
    except Exception as e:  # noqa: BLE001
        return "error", type(e).__name__, str(e).split("\n")[0]
    return "ok", str(t.dtype).removeprefix("torch."), t.tolist()


def _cases():
    out = {}
    for dt, n in [("float32", 2**24 + 1), ("float16", 2**11 + 1), ("float32", 2**60 + 2**36 + 1),
                  ("float32", 2**64 - 1), ("float64", 2**53 + 1)]:
        near = float(np.array(n).astype(D.BY_NAME[dt].np)) if n < 2**63 else 2.0**64
        base = sorted([near, 1.0, 2.0])
        many = base + [float(x) for x in range(3, 20)]
        out |= {
            f"isin scalar test {dt} {n}": lambda L, b=base, dt=dt, n=n: L.isin(_t(L, b, dt), n),
            f"isin scalar elements {dt} {n}": lambda L, b=base, dt=dt, n=n: L.isin(n, _t(L, b, dt)),
            f"isin scalar elements sorting {dt} {n}": lambda L, b=many, dt=dt, n=n: L.isin(n, _t(L, b, dt)),
            f"searchsorted scalar {dt} {n}": lambda L, b=base, dt=dt, n=n: L.searchsorted(_t(L, b, dt), n),
            f"searchsorted scalar right {dt} {n}": lambda L, b=base, dt=dt, n=n: L.searchsorted(
                _t(L, b, dt), n, right=True),
            f"bucketize scalar {dt} {n}": lambda L, b=base, dt=dt, n=n: L.bucketize(n, _t(L, b, dt)),
        }
        if n < 2**63:
            out |= {
                f"isin int tensor {dt} {n}": lambda L, b=base, dt=dt, n=n: L.isin(_t(L, b, dt), L.tensor([n])),
                f"isin int elements {dt} {n}": lambda L, b=base, dt=dt, n=n: L.isin(L.tensor([n, 5]), _t(L, b, dt)),
                f"isin int elements sorting {dt} {n}": lambda L, b=many, dt=dt, n=n: L.isin(
                    L.tensor([n, n - 1, 5]), _t(L, b, dt)),
                f"isin 0-d int {dt} {n}": lambda L, b=base, dt=dt, n=n: L.isin(L.tensor(n), _t(L, b, dt)),
                f"searchsorted int values {dt} {n}": lambda L, b=base, dt=dt, n=n: L.searchsorted(
                    _t(L, b, dt), L.tensor([n, n - 1])),
                f"searchsorted int sequence {dt} {n}": lambda L, b=base, dt=dt, n=n: L.searchsorted(
                    L.tensor([1, n]), _t(L, b, dt)),
                f"bucketize int values {dt} {n}": lambda L, b=base, dt=dt, n=n: L.bucketize(
                    L.tensor([[n], [n + 1]]), _t(L, b, dt)),
                f"bucketize int boundaries {dt} {n}": lambda L, b=base, dt=dt, n=n: L.bucketize(
                    _t(L, b, dt), L.tensor([1, n])),
            }
    out |= {
        "isin 0-d float64 vs float32": lambda L: L.isin(_t(L, 2.0**24 + 1, "float64"), _t(L, [2.0**24], "float32")),
        "isin float32 vs 0-d float64": lambda L: L.isin(_t(L, [2.0**24], "float32"), _t(L, 2.0**24 + 1, "float64")),
        "isin float scalar sorting": lambda L: L.isin(0.1, _t(L, [0.1] * 12, "float32")),
        "isin int8 300": lambda L: L.isin(_t(L, [44, 1], "int8"), 300),
        "isin 300 int8": lambda L: L.isin(300, _t(L, [44], "int8")),
        "isin 300 int8 sorting": lambda L: L.isin(300, _t(L, [44] * 20, "int8")),
        "isin uint64 max int8": lambda L: L.isin(_t(L, [-1], "int8"), 2**64 - 1),
        "isin uint64 beside int64 sorting": lambda L: L.isin(2**64 - 1, L.tensor([-1] * 20)),
        "isin uint64 beside float32 sorting": lambda L: L.isin(2**64 - 1, _t(L, [2.0**64] * 20, "float32")),
        "isin too big bool": lambda L: L.isin(2**64, L.tensor([True])),
        "isin too big": lambda L: L.isin(_t(L, [1.0], "float32"), 2**64),
        "isin bool scalar": lambda L: L.isin(_t(L, [1.0], "float32"), True),
        "isin assume_unique repeats": lambda L: L.isin(L.tensor([1, 1, 2]), L.tensor(list(range(5, 25))),
                                                       assume_unique=True),
        "isin assume_unique repeats invert": lambda L: L.isin(L.tensor([1, 1, 2]), L.tensor(list(range(5, 25))),
                                                              assume_unique=True, invert=True),
        "isin int64 collide float32": lambda L: L.isin(L.tensor([2**24 + 1, 7, 2**24]),
                                                       _t(L, [float(x) for x in range(5, 25)], "float32")),
        "isin int64 collide float32 invert": lambda L: L.isin(
            L.tensor([2**24 + 1, 7, 2**24]), _t(L, [float(x) for x in range(5, 25)], "float32"), invert=True),
        "searchsorted 0-d float64": lambda L: L.searchsorted(_t(L, [1.0, 2.0**24], "float32"),
                                                            _t(L, 2.0**24 + 1, "float64")),
        "searchsorted int8 300": lambda L: L.searchsorted(_t(L, [1, 50], "int8"), 300),
        "searchsorted int8 uint64 max": lambda L: L.searchsorted(_t(L, [-1, 5], "int8"), 2**64 - 1),
        "searchsorted too big": lambda L: L.searchsorted(_t(L, [1.0, 2.0], "float32"), 2**64),
        "searchsorted too small": lambda L: L.searchsorted(_t(L, [1.0, 2.0], "float32"), -(2**63) - 1),
        "searchsorted bool scalar": lambda L: L.searchsorted(_t(L, [0.5, 2.0], "float32"), True),
        "searchsorted scalar 2-d": lambda L: L.searchsorted(_t(L, [[1.0, 2.0]], "float32"), 1),
        "searchsorted 0-d tensor 2-d": lambda L: L.searchsorted(_t(L, [[1.0, 2.0]], "float32"), L.tensor(1.0)),
        "searchsorted scalar 0-d": lambda L: L.searchsorted(L.tensor(1.0), 1),
        "searchsorted scalar sorter": lambda L: L.searchsorted(_t(L, [2.0, 1.0], "float32"), 2**24 + 1,
                                                              sorter=L.tensor([1, 0])),
        "bucketize int8 300": lambda L: L.bucketize(300, _t(L, [1, 50], "int8")),
        "bucketize bool scalar": lambda L: L.bucketize(True, _t(L, [-1, 5], "int8")),
        "bucketize scalar 2-d": lambda L: L.bucketize(1, _t(L, [[1.0, 2.0]], "float32")),
    }
    return out


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_promotion_as_torch(name):
    assert repr(_run(engine, CASES[name])) == repr(_run(torch, CASES[name]))


@pytest.mark.parametrize("seed", range(6))
def test_isin_random_mixed_dtypes(seed):
    """Both of isin's paths (test sizes around the 10 * n ** 0.145 switch), assume_unique / invert, repeats,
    NaN and -0.0, values near 2**24 that collide in float32 and near 2**11 in float16."""
    rng = np.random.default_rng(seed)
    dts = ["float32", "float16", "float64", "int64", "int32", "int8", "uint8"]
    for _ in range(60):
        n, m = int(rng.integers(1, 30)), int(rng.integers(0, 30))
        de, dt = rng.choice(dts), rng.choice(dts)
        pool = [0, 1, -1, 7, 2**11, 2**11 + 1, 2**11 + 2]
        if "8" not in de + dt:
            pool += [2**24, 2**24 + 1, 2**24 + 2, -(2**24) - 1]

        def vals(k, d, pool=pool):
            v = [pool[i] for i in rng.integers(0, len(pool), k)]
            if d.startswith("float"):
                v = [float(x) for x in v]
                v += [float("nan"), -0.0][: int(rng.integers(0, 3))]
            if d == "uint8":
                v = [x % 256 for x in v]
            if d == "int8":
                v = [(x + 128) % 256 - 128 for x in v]
            return v
        ev, tv = vals(n, de), vals(m, dt)
        zero_d = rng.random() < 0.2
        au, inv = bool(rng.random() < 0.3), bool(rng.random() < 0.3)

        def f(L, ev=ev, tv=tv, de=de, dt=dt, zero_d=zero_d, au=au, inv=inv):
            e = _t(L, ev[0], de) if zero_d else _t(L, ev, de)
            return L.isin(e, _t(L, tv, dt), assume_unique=au, invert=inv)
        assert repr(_run(engine, f)) == repr(_run(torch, f)), (ev, de, tv, dt, zero_d, au, inv)


@pytest.mark.parametrize("seed", range(4))
def test_searchsorted_random_mixed_dtypes(seed):
    rng = np.random.default_rng(100 + seed)
    dts = ["float32", "float16", "float64", "int64", "int32", "int8"]
    pool = [-1, 0, 1, 2**11, 2**11 + 1, 2**24, 2**24 + 1, 2**24 + 3]
    for _ in range(60):
        db, dv = rng.choice(dts), rng.choice(dts)

        def fix(v, d):
            if d == "int8":
                return [(x + 128) % 256 - 128 for x in v]
            return [float(x) for x in v] if d.startswith("float") else v
        b = sorted(fix([pool[i] for i in rng.integers(0, len(pool), int(rng.integers(1, 8)))], db))
        v = fix([pool[i] for i in rng.integers(0, len(pool), int(rng.integers(0, 6)))], dv)
        right = bool(rng.random() < 0.5)
        for f in (lambda L, b=b, db=db, v=v, dv=dv, right=right: L.searchsorted(_t(L, b, db), _t(L, v, dv),
                                                                                right=right),
                  lambda L, b=b, db=db, v=v, dv=dv, right=right: L.bucketize(_t(L, v, dv), _t(L, b, db),
                                                                             right=right)):
            assert repr(_run(engine, f)) == repr(_run(torch, f)), (b, db, v, dv, right)
