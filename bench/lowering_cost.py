"""What the plan cache's lowering costs and saves, sighting by sighting: each program POSTed to /v1/evaluate
(app.main called as ASGI in one process, no HTTP) several times in a row, the wall ms of each sighting.

    python -m bench.lowering_cost [--sightings 6] [--random 200] [--rules old,now,never]

Programs: bench/programs/ (the corpus, 43 structures) and bench/batch_group.random_docs (distinct structures).
Rules, interleaved program by program, each first in turn (the plan cache cleared before each program): `old`
lowers at the first replay (the second sighting), `now` as Program.lower_at says (engine/program/plans.py),
`never` replays unlowered only.
Printed: the median, p90 and max ms of each sighting by rule, and the lowering's cost against the saving of a
lowered replay (old vs never), the figures LOWER_AT is chosen from (docs/runs/lowerlate.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time

from bench.batch_group import random_docs
from bench.inprocess import _lifespan, _request

_PROGRAMS = os.path.join(os.path.dirname(__file__), "programs")
_RULES = {"old": (1, 1 << 30), "never": (1 << 30, 1 << 30)}


def _corpus():
    out = []
    for name in sorted(os.listdir(_PROGRAMS)):
        if name.endswith(".json"):
            with open(os.path.join(_PROGRAMS, name)) as f:
                out.append(json.load(f))
    return out


def _quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def _main(sightings, n_random, rules):
    from app.core.config import Settings  # noqa: PLC0415
    from app.main import create_app  # noqa: PLC0415
    from app.services import engine as eng  # noqa: PLC0415
    from engine.program import plans as ev  # noqa: PLC0415

    now = (ev.LOWER_AT, ev.LOWER_OPS_PER_REPLAY)
    app = create_app(Settings(access_log=False))
    await _lifespan(app)
    sets = {"corpus": _corpus(), "random": random_docs(random.Random(7), n_random)}
    for doc in sets["corpus"][:3]:  # warm: imports, first-call caches
        await _request(app, json.dumps(doc).encode())
    times = {(s, r): [[] for _ in range(sightings)] for s in sets for r in rules}
    statuses = set()
    for set_name, docs in sets.items():
        for i, doc in enumerate(docs):
            body = json.dumps(doc).encode()
            for rule in rules[i % len(rules):] + rules[:i % len(rules)]:  # each rule first in turn
                ev.LOWER_AT, ev.LOWER_OPS_PER_REPLAY = _RULES.get(rule, now)
                eng.PLANS.clear()
                for k in range(sightings):
                    t0 = time.perf_counter()
                    sent = await _request(app, body)
                    times[set_name, rule][k].append((time.perf_counter() - t0) * 1e3)
                    statuses.add(sent[0]["status"])
    ev.LOWER_AT, ev.LOWER_OPS_PER_REPLAY = now
    print(f"load average {os.getloadavg()[0]:.2f}; statuses {sorted(statuses)}; now: LOWER_AT={now[0]}, "
          f"LOWER_OPS_PER_REPLAY={now[1]}")
    print(f"{'set':8} {'rule':6} " + " ".join(f"{'#' + str(k + 1) + ' med/p90/max':>20}" for k in range(sightings))
          + f" {'total med':>10}")
    for (set_name, rule), per in times.items():
        cells = [f"{statistics.median(x):6.2f}/{_quantile(x, 0.9):6.2f}/{max(x):6.1f}" for x in per]
        total = statistics.median([sum(x[i] for x in per) for i in range(len(per[0]))])
        print(f"{set_name:8} {rule:6} " + " ".join(f"{c:>20}" for c in cells) + f" {total:10.2f}")
    if "old" in rules and "never" in rules and sightings >= 3:
        for set_name in sets:
            old, never = times[set_name, "old"], times[set_name, "never"]
            costs = [a - b for a, b in zip(old[1], never[1])]
            saves = [statistics.median([never[k][i] - old[k][i] for k in range(2, sightings)])
                     for i in range(len(old[1]))]
            cost, save = statistics.median(costs), statistics.median(saves)
            print(f"{set_name}: lowering costs {cost:.2f} ms (median, over an unlowered replay), a lowered replay "
                  f"saves {save:.3f} ms: break-even after {cost / save if save > 0 else float('inf'):.1f} hits")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sightings", type=int, default=6)
    ap.add_argument("--random", type=int, default=200)
    ap.add_argument("--rules", default="old,now,never")
    a = ap.parse_args()
    asyncio.run(_main(a.sightings, a.random, a.rules.split(",")))


if __name__ == "__main__":
    main()
