"""parity15: lu_solve of singular factors against live torch, in one source tree (docs/runs/parity15.md).

Usage: python bench/parity15_lu_solve.py <tree>. 3000 systems: n in 2, 3, 4, 6, 9, integer matrices with a column
zeroed or repeated (a zero on U's diagonal), 3 right-hand sides, left / right, adjoint or not; counts the answers
whose ±inf / NaN pattern differs from torch's."""
from __future__ import annotations

import sys

sys.path.insert(0, sys.argv[1])

import numpy as np  # noqa: E402
import torch  # noqa: E402

import engine  # noqa: E402


def _pattern(x):
    return np.isnan(x), np.where(np.isinf(x), x, 0)


def main():
    rng = np.random.default_rng(2)
    bad = tot = 0
    for n in (2, 3, 4, 6, 9):
        for _ in range(150):
            a = rng.integers(-3, 4, (n, n)).astype(np.float64)
            a[:, rng.integers(1, n)] = 0 if rng.random() < 0.5 else a[:, 0]
            lu, piv, _ = torch.linalg.lu_factor_ex(torch.from_numpy(a))
            b = rng.integers(-2, 3, (n, 3)).astype(np.float64)
            for left in (True, False):
                for adjoint in (False, True):
                    bx = b if left else b.T.copy()
                    t = torch.linalg.lu_solve(lu, piv, torch.from_numpy(bx), left=left, adjoint=adjoint).numpy()
                    try:
                        e = np.asarray(engine.linalg.lu_solve(engine.tensor(lu.numpy()), engine.tensor(piv.numpy()),
                                                              engine.tensor(bx), left=left, adjoint=adjoint).numpy())
                        same = all(np.array_equal(p, q) for p, q in zip(_pattern(t), _pattern(e)))
                    except Exception:  # noqa: BLE001 - an error where torch answers is a difference
                        same = False
                    tot += 1
                    bad += not same
    print(sys.argv[1].rstrip("/").split("/")[-1], f"lu_solve singular: {bad} of {tot} inf/NaN patterns differ")


if __name__ == "__main__":
    main()
