"""parity15: wall time of topk / kthvalue / mode on typical sizes in one source tree (docs/runs/parity15.md).

Usage: python bench/parity15_time.py <tree>  (interleave two trees' runs, A B A B; give the load average).
Each case: best of 3 after a warm-up call; float32 data of normal values (few ties) or integers 0..9 (many)."""
from __future__ import annotations

import sys
import time

sys.path.insert(0, sys.argv[1])

import numpy as np  # noqa: E402

import engine  # noqa: E402

CASES = [
    ("topk(k=5) [64,1000]", (64, 1000), lambda x: engine.topk(x, 5)),
    ("topk(k=100) [64,1000]", (64, 1000), lambda x: engine.topk(x, 100)),
    ("topk(k=500,sorted=F) [64,1000]", (64, 1000), lambda x: engine.topk(x, 500, sorted=False)),
    ("topk(k=10) [1M]", (1 << 20,), lambda x: engine.topk(x, 10)),
    ("topk(k=3,dim=0) [1024,1024]", (1024, 1024), lambda x: engine.topk(x, 3, 0)),
    ("kthvalue(k=3) [1000,10]", (1000, 10), lambda x: engine.kthvalue(x, 3)),
    ("kthvalue(k=500) [64,1000]", (64, 1000), lambda x: engine.kthvalue(x, 500)),
    ("kthvalue(k=n/2) [1M]", (1 << 20,), lambda x: engine.kthvalue(x, 1 << 19)),
    ("mode [1000,10]", (1000, 10), lambda x: engine.mode(x)),
    ("mode [64,1000]", (64, 1000), lambda x: engine.mode(x)),
    ("mode [1M]", (1 << 20,), lambda x: engine.mode(x)),
]


def main():
    rng = np.random.default_rng(0)
    out = []
    for data in ("normal", "ints"):
        for name, shape, fn in CASES:
            a = rng.standard_normal(shape) if data == "normal" else rng.integers(0, 10, shape)
            x = engine.tensor(a.astype(np.float32))
            fn(x)
            ts = []
            for _ in range(3):
                t0 = time.perf_counter()
                fn(x)
                ts.append(time.perf_counter() - t0)
            out.append(f"{data} {name}: {min(ts) * 1e3:.1f} ms")
    tree = sys.argv[1].rstrip("/").split("/")[-1]
    for line in out:
        print(tree, line, flush=True)


if __name__ == "__main__":
    main()
