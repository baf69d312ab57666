"""`python -m bench` (`make bench`): one table per group, every figure a ratio measured in the same run.

python -m bench                  all groups (about 10 minutes on a 2-core machine; the batch group about 2.5)
python -m bench --quick          fewer rounds, shorter load runs (about 4.5 minutes)
python -m bench --groups engine,payload --only scalar,mlp
python -m bench --groups functional   Jacobians and Hessians against torch, vectorize off and on
python -m bench --groups batch        POST /v1/evaluate/batch vs the same documents as separate requests
python -m bench --groups programs     the program corpus (bench/programs/): uncached, cached, torch reference
python -m bench --groups repr         a tensor's repr: the engine's, its port of torch's code, torch's own
python -m bench --json out.json  also write the raw figures
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

GROUPS = ("perop", "programs", "repr", "engine", "functional", "service", "batch", "payload", "memory")


def parse(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a fast subset: 3 rounds, short load runs")
    p.add_argument("--groups", default=",".join(GROUPS), help=f"comma-separated subset of {','.join(GROUPS)}")
    p.add_argument(
        "--only", default="", help="engine workloads to run (scalar,mlp,matmul,elementwise,graph,evaluate,plan), "
        "or corpus programs for the programs group (names or numbers: seed,07), or the repr group's rows (4x4,0-d)"
    )
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds per row (default 7, quick 3)")
    p.add_argument(
        "--target", type=float, default=None, help="seconds per timing sample (default 0.2, quick 0.1)"
    )
    p.add_argument("--duration", type=float, default=None, help="seconds per load run (default 4, quick 3)")
    p.add_argument("--connections", type=int, default=16, help="concurrent connections for the service group")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP/torch threads for every library and server (default 1: on a small shared "
        "machine a second thread mostly measures the neighbours)",
    )
    p.add_argument("--json", default=None, help="write the raw figures to this file")
    a = p.parse_args(argv)
    a.rounds = a.rounds or (3 if a.quick else 7)
    a.target = a.target or (0.1 if a.quick else 0.2)
    a.duration = a.duration or (3.0 if a.quick else 4.0)
    a.service_rounds = 2 if a.quick else 5
    a.groups = [g for g in a.groups.split(",") if g]
    a.only = [w for w in a.only.split(",") if w]
    unknown = set(a.groups) - set(GROUPS)
    if unknown:
        p.error(f"unknown group(s) {', '.join(sorted(unknown))}")
    return a


def pin_threads(n: int) -> None:
    """Before NumPy or torch load: every pool gets `n` threads, the servers inherit it through the env."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        import torch  # noqa: PLC0415

        torch.set_num_threads(n)
    except ImportError:
        pass


def main(argv=None):
    args = parse(argv)
    pin_threads(args.threads)
    from bench.harness import header  # noqa: PLC0415

    t0 = time.perf_counter()
    print(header(args), flush=True)
    raw = {}
    for g in GROUPS:
        if g not in args.groups:
            continue
        t = time.perf_counter()
        mod = __import__(f"bench.{g}_group", fromlist=["run"])
        text, figures = mod.run(args)
        raw[g] = figures
        print(text + f"\n_({g}: {time.perf_counter() - t:.0f} s)_\n", flush=True)
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
