"""parity14: 1M-element digamma / polygamma wall time of one source tree (docs/runs/parity14.md).

Usage: python bench/parity14_time.py <tree>  (interleave two trees' runs, A B A B; give the load average)."""
from __future__ import annotations

import sys
import time

sys.path.insert(0, sys.argv[1])

import numpy as np  # noqa: E402

import engine  # noqa: E402


def main():
    rng = np.random.default_rng(0)
    out = []
    for dt in (np.float32, np.float64):
        x = engine.tensor(rng.uniform(-20, 40, 1_000_000).astype(dt))
        for name, fn in (("digamma", engine.digamma), ("polygamma1", lambda a: engine.polygamma(1, a)),
                         ("polygamma2", lambda a: engine.polygamma(2, a))):
            fn(x)
            ts = []
            for _ in range(3):
                t0 = time.perf_counter()
                fn(x)
                ts.append(time.perf_counter() - t0)
            out.append(f"{name}-{np.dtype(dt).name} {min(ts) * 1e3:.0f}ms")
    print(sys.argv[1].rstrip("/").split("/")[-1], " | ".join(out), flush=True)


if __name__ == "__main__":
    main()
