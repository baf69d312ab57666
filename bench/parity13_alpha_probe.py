"""redteam10 F5 in process: add / sub / add_ with a float alpha, engine vs live torch 2.13, elements whose bits
differ, per dtype, size and alpha.

    .venv/bin/python bench/parity13_alpha_probe.py [dir holding the engine package; default: this tree]
"""
from __future__ import annotations

import random
import sys

sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else ".")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import engine  # noqa: E402


def main():
    random.seed(0)
    names = ("float32", "float64", "float16")
    total = 0
    for dt in names:
        for n in (3, 64, 1000, 100000):
            for op, alpha in (("add", -0.9), ("sub", 0.9), ("add", -0.01), ("add_", -0.001)):
                a = [round(random.uniform(-3, 3), 6) for _ in range(n)]
                b = [round(random.uniform(-3, 3), 6) for _ in range(n)]
                res = []
                for lib in (torch, engine):
                    ta, tb = lib.tensor(a, dtype=getattr(lib, dt)), lib.tensor(b, dtype=getattr(lib, dt))
                    if op == "add_":
                        r = ta.clone().add_(tb, alpha=alpha)
                    else:
                        r = getattr(lib, op)(ta, tb, alpha=alpha)
                    res.append(np.asarray(r.numpy()))
                d = int((res[0].view(np.uint8) != res[1].view(np.uint8)).reshape(n, -1).any(1).sum())
                total += d
                print(f"{dt:8s} {n:7d} {op:5s} {alpha:7} differing: {d}")
    print("total differing", total, "engine:", engine.__file__)


if __name__ == "__main__":
    main()
