"""`python -m bench.ulp`: the engine's values against torch 2.13's on the CPU, in units in the last place.

For each op, float32 and float64, the same random inputs go to both libraries; the table gives the elements
compared, the largest distance in ulps (the count of representable numbers between the two results) and the
share of elements that are bit-identical. docs/ENGINE.md holds the table this prints, with the reasons.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def ulp_distance(a, b):
    """Ulps between same-dtype float arrays (NaN against NaN: 0; NaN against a number: inf)."""
    a = np.asarray(a)
    b = np.asarray(b)
    it, ut = (np.int64, np.uint64) if a.dtype == np.float64 else (np.int32, np.uint32)
    top = ut(1) << ut(8 * a.dtype.itemsize - 1)
    ia, ib = a.view(it), b.view(it)
    ma, mb = a.view(ut) & ~top, b.view(ut) & ~top  # magnitudes
    same = (ia < 0) == (ib < 0)
    d = np.where(same, np.maximum(ma, mb) - np.minimum(ma, mb), ma.astype(np.uint64) + mb.astype(np.uint64))
    d = d.astype(np.float64)
    na, nb = np.isnan(a), np.isnan(b)
    d[na & nb] = 0
    d[na ^ nb] = np.inf
    return d


def _cases(engine, torch):
    rng = np.random.default_rng(0)
    n = 100_000
    normal = rng.standard_normal(n) * 3
    pos = np.abs(rng.standard_normal(n)) * 10 + 1e-3
    unit = rng.uniform(-0.999, 0.999, n)
    small = rng.uniform(-0.5, 0.5, n)
    m1, m2 = rng.standard_normal((64, 96)), rng.standard_normal((96, 48))
    b1, b2 = rng.standard_normal((256, 256)), rng.standard_normal((256, 256))

    def T(L, x, dt):  # noqa: N802
        return L.from_numpy(np.ascontiguousarray(x.astype(dt)))

    def F(L):  # noqa: N802
        return L.nn.functional

    def unary(name, x, why):
        return name, lambda L, dt: getattr(L, name)(T(L, x, dt)), why

    sleef = "torch: SLEEF vector math; here NumPy's own kernels"
    rows_small = normal[:30_000].reshape(-1, 100)  # below GRAIN_SIZE: torch sums in one thread
    return [
        ("add", lambda L, dt: T(L, normal, dt) + T(L, pos, dt), ""),
        ("mul", lambda L, dt: T(L, normal, dt) * T(L, pos, dt), ""),
        ("div", lambda L, dt: T(L, normal, dt) / T(L, pos, dt), ""),
        ("pow(x, 2)", lambda L, dt: T(L, normal, dt) ** 2, ""),
        ("pow(x, 3)", lambda L, dt: T(L, normal, dt) ** 3, ""),
        ("pow(x, -2)", lambda L, dt: T(L, pos, dt) ** -2, ""),
        ("pow(x, 2.5)", lambda L, dt: T(L, pos, dt) ** 2.5, "torch: SLEEF pow; here NumPy's pow"),
        unary("sqrt", pos, "torch: MKL VML's sqrt (at::vml), not IEEE-rounded; here IEEE sqrt"),
        unary("rsqrt", pos, ""),
        unary("reciprocal", pos, ""),
        unary("exp", normal, sleef),
        unary("expm1", small, sleef),
        unary("log", pos, sleef),
        unary("log1p", pos, sleef),
        unary("log2", pos, sleef),
        unary("sin", normal, sleef),
        unary("cos", normal, sleef),
        unary("tan", unit, sleef),
        unary("tanh", normal, sleef),
        unary("sigmoid", normal, "torch: its own vectorized exp and reciprocal; here NumPy's exp"),
        unary("asin", unit, sleef),
        unary("atan", normal, sleef),
        unary("sinh", small, sleef),
        unary("erf", normal, "torch: SLEEF erf; here the engine's own erf (engine/ops/_special.py)"),
        ("atan2", lambda L, dt: L.atan2(T(L, normal, dt), T(L, pos, dt)), sleef),
        ("F.gelu", lambda L, dt: F(L).gelu(T(L, normal, dt)),
         "erf, as above; largest where 1 + erf(x/sqrt 2) cancels (x << 0, tiny results)"),
        ("F.silu", lambda L, dt: F(L).silu(T(L, normal, dt)), "exp, as above"),
        ("F.softmax, rows of 100", lambda L, dt: F(L).softmax(T(L, normal.reshape(-1, 100), dt), 1),
         "exp, as above"),
        ("sum, all 100k", lambda L, dt: T(L, normal, dt).sum(), ""),
        ("sum, rows of 100 (300 x 100)", lambda L, dt: T(L, rows_small, dt).sum(1), ""),
        ("mean, dim 0 of 300 x 100", lambda L, dt: T(L, rows_small, dt).mean(0), ""),
        ("sum, rows of 100 (1000 x 100)", lambda L, dt: T(L, normal.reshape(-1, 100), dt).sum(1), ""),
        ("sum, dim 0 of 1000 x 100", lambda L, dt: T(L, normal.reshape(-1, 100), dt).sum(0),
         ""),
        ("cumsum, rows of 100", lambda L, dt: T(L, normal.reshape(-1, 100), dt).cumsum(1), ""),
        ("logsumexp, rows of 100", lambda L, dt: L.logsumexp(T(L, normal.reshape(-1, 100), dt), 1),
         "exp and log, as above"),
        ("linspace(-3, 3, 100000)", lambda L, dt: L.linspace(-3, 3, n, dtype=getattr(L, dt)), ""),
        ("arange(0, 3700, 0.037)", lambda L, dt: L.arange(0, 3700, 0.037, dtype=getattr(L, dt)), ""),
        ("matmul 64x96 @ 96x48", lambda L, dt: T(L, m1, dt) @ T(L, m2, dt),
         "torch: MKL gemm; here torch's order for small products (engine/ops/linalg.py)"),
        ("matmul 256 @ 256", lambda L, dt: T(L, b1, dt) @ T(L, b2, dt), "torch: MKL gemm; here OpenBLAS"),
    ]


def measure(dtypes=("float32", "float64")):
    import torch

    import engine

    rows = []
    with np.errstate(all="ignore"):
        for name, fn, why in _cases(engine, torch):
            for dt in dtypes:
                e = np.asarray(fn(engine, dt).detach().numpy()).reshape(-1)
                t = np.asarray(fn(torch, dt).detach().numpy()).reshape(-1)
                d = ulp_distance(e, t)
                rows.append((name, dt, d.size, float(d.max()) if d.size else 0.0, 100.0 * float((d == 0).mean()),
                             why))
    return rows


def table(rows) -> str:
    out = ["| op | dtype | elements | max ulp | bit-identical | why they differ |",
           "|----|-------|----------|---------|---------------|-----------------|"]
    for name, dt, n, mx, same, why in rows:
        m = "inf" if mx == float("inf") else f"{mx:.0f}"
        pct = "100%" if same == 100 else ">99.99%" if same > 99.99 else f"{same:.2f}%"
        out.append(f"| {name} | {dt} | {n:,} | {m} | {pct} | {why if mx else ''} |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.ulp", description=__doc__)
    p.parse_args(argv)
    t0 = time.time()
    import torch

    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads\n")
    print(table(measure()))
    print(f"\n_({time.time() - t0:.0f} s)_")


if __name__ == "__main__":
    main()
