"""parity14: digamma / polygamma elements whose bits differ from live torch's, per dtype (docs/runs/parity14.md).

Usage: python bench/parity14_sweep.py  (PYTHONPATH=<tree> for another source tree)."""
from __future__ import annotations

import numpy as np
import torch

import engine


def values(dt, poly=False):
    rng = np.random.default_rng(14)
    fi = np.finfo(dt)
    parts = [rng.uniform(-30, 30, 20000), rng.uniform(0, 12, 20000), rng.uniform(-12, 0, 20000),
             10 ** rng.uniform(-40, 300, 20000), -(10 ** rng.uniform(-40, 20, 10000)),
             np.arange(-20, 21) + rng.choice([-1e-6, 1e-6, -1e-3, 1e-3, 0.0, 0.5], 41),
             np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, 2.0, 9.0, 10.0, 11.0, 1e17, 1e-17, fi.tiny, -fi.tiny,
                       fi.max, -fi.max, 9.999999, 10.000001]),
             rng.normal(0, 3, 20000)]
    with np.errstate(all="ignore"):
        x = np.concatenate(parts).astype(dt)
    k = np.arange(-30, 0).astype(dt)
    near = np.concatenate([np.nextafter(k, k + 1), np.nextafter(k, k - 1), np.nextafter(np.nextafter(k, k + 1), k + 1)])
    out = np.concatenate([x, near.astype(dt)])
    return out[out > -40] if poly else out  # (torch's zeta loops |x| times below 0)


def bits(a):
    a = np.asarray(a)
    return a.view(f"u{a.dtype.itemsize}")


def compare(name, dt, f_t, f_e):
    x = values(dt, name.startswith("polygamma"))
    t = f_t(torch.from_numpy(x.copy())).numpy()
    with np.errstate(all="ignore"):
        e = f_e(engine.tensor(x.copy())).numpy()
    bad = np.flatnonzero(~((bits(t) == bits(e)) | (np.isnan(t) & np.isnan(e))))
    print(f"{name:14s} {np.dtype(dt).name:8s} {bad.size:6d} / {x.size}",
          [(float(x[i]), float(t[i]), float(e[i])) for i in bad[:3]])


def main():
    for dt in (np.float32, np.float64, np.float16):
        compare("digamma", dt, torch.digamma, engine.digamma)
        for n in (1, 2, 3, 5):
            compare(f"polygamma({n})", dt, lambda a, n=n: torch.polygamma(n, a),
                    lambda a, n=n: engine.polygamma(n, a))


if __name__ == "__main__":
    main()
