"""Profile the engine column of one workload: `python -m bench.profile scalar [--calls 50] [--top 25]`.

cProfile by default (sorted by own time, the view that finds per-op overhead); --pyinstrument for a
call tree where pyinstrument is installed. Workloads: scalar, mlp, matmul, elementwise, graph, evaluate."""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys

from bench.workloads import WORKLOADS


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("workload", choices=[k for k, *_ in WORKLOADS])
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--sort", default="tottime", choices=["tottime", "cumulative", "ncalls"])
    p.add_argument("--pyinstrument", action="store_true")
    a = p.parse_args(argv)
    build = next(b for k, _, b, _ in WORKLOADS if k == a.workload)
    fn = build()[0]["engine"]
    fn()  # warm-up
    if a.pyinstrument:
        from pyinstrument import Profiler  # noqa: PLC0415

        prof = Profiler(interval=0.0002)
        prof.start()
        for _ in range(a.calls):
            fn()
        prof.stop()
        print(prof.output_text(unicode=True, color=False, show_all=False))
        return 0
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(a.calls):
        fn()
    prof.disable()
    out = io.StringIO()
    st = pstats.Stats(prof, stream=out)
    st.strip_dirs().sort_stats(a.sort).print_stats(a.top)
    print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
