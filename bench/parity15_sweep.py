"""parity15: tied-value indices of kthvalue / topk / mode against live torch, in one source tree
(docs/runs/parity15.md).

Usage: python bench/parity15_sweep.py <tree>. Rows of small integers (values 0..h-1, h in 2, 3, 5, 10, 1000) as
float32 / float64 / int64, 20% NaN in half the float draws (mode: no NaN over 16, a known difference), row
lengths 1..40 and 64..1000, k across the range, largest / smallest, sorted / not; counts the rows whose indices
(or values) differ from torch's."""
from __future__ import annotations

import sys

sys.path.insert(0, sys.argv[1])

import numpy as np  # noqa: E402
import torch  # noqa: E402

import engine  # noqa: E402


def main():
    rng = np.random.default_rng(15)
    bad = {"kthvalue": [0, 0], "topk": [0, 0], "mode": [0, 0]}
    for n in list(range(1, 41)) + [64, 65, 100, 128, 129, 200, 500, 1000]:
        for _ in range(2):
            h = int(rng.choice([2, 3, 5, 10, 1000]))
            x = rng.integers(0, h, (100, n)).astype(rng.choice(["float32", "float64", "int64"]))
            nan = x.dtype.kind == "f" and rng.random() < 0.5
            xn = x.copy()
            if nan:
                xn[rng.random(x.shape) < 0.2] = np.nan
            tx, ex = torch.from_numpy(xn), engine.tensor(xn)
            for k in sorted({1, 2, n // 64, n // 64 + 1, n // 2, n} & set(range(1, n + 1))):
                t, e = torch.kthvalue(tx, k), engine.kthvalue(ex, k)
                bad["kthvalue"][0] += int((t.indices.numpy() != e.indices.numpy()).sum())
                bad["kthvalue"][1] += x.shape[0]
                for largest in (True, False):
                    for sorted_ in (True, False):
                        t, e = torch.topk(tx, k, -1, largest, sorted_), engine.topk(ex, k, -1, largest, sorted_)
                        bad["topk"][0] += int((t.indices.numpy() != e.indices.numpy()).any(-1).sum())
                        bad["topk"][1] += x.shape[0]
            xm = xn if n <= 16 else x
            t, e = torch.mode(torch.from_numpy(xm)), engine.mode(engine.tensor(xm))
            bad["mode"][0] += int((t.indices.numpy() != e.indices.numpy()).sum())
            bad["mode"][1] += x.shape[0]
    tree = sys.argv[1].rstrip("/").split("/")[-1]
    print(tree, " | ".join(f"{op}: {b} of {t} rows differ" for op, (b, t) in bad.items()), flush=True)


if __name__ == "__main__":
    main()
