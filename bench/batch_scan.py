"""The text scan of a seed batch (engine.program.batch_text.scan, the four seed bodies of bench.batch_group, the
template known as in a server's later batches): its runs matched one document at a time (`_BULK_AFTER` None) and
many at a time (`_BULK_AFTER` 8, batch_text._bulk), interleaved in one process; thread time.

    python -m bench.batch_scan [--rounds 300]
    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=_operator_call \\
        python -m bench.batch_scan --only one|many --rounds 4        # instructions of 4 scans of each body

The answers are compared first (the same documents, starts and numbers either way)."""

from __future__ import annotations

import argparse
import json
import operator
import random
import statistics
import time

import orjson

from bench.batch_group import seed_docs


def _setup():
    from engine.program import DEFAULT_LIMITS, PlanCache, batch, batch_text  # noqa: PLC0415

    cache = PlanCache()

    def make(text):
        doc = orjson.loads(text)
        hit = batch.keys([doc], cache, DEFAULT_LIMITS)[0]
        return None if hit is None else batch_text.make_template(text, doc, hit[0], hit[1])

    bodies = [json.dumps({"requests": seed_docs(random.Random(100 + b))}).encode() for b in range(4)]
    first = batch_text.scan(bodies[0], 10_000, make)
    known = [first.templates[0].fresh()]
    return batch_text, bodies, make, known


_MODES = {"one": None, "many": 8}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=300)
    p.add_argument("--only", choices=sorted(_MODES), default=None)
    a = p.parse_args(argv)
    bt, bodies, make, known = _setup()
    saved = bt._BULK_AFTER
    try:
        seen = {}
        for mode, after in _MODES.items():
            bt._BULK_AFTER = after
            s = bt.scan(bodies[1], 10_000, make, known)
            seen[mode] = (s.starts, [(t.rows, t.numbers) for t in s.templates])
        assert seen["one"] == seen["many"], "the two scans differ"
        if a.only is not None:
            bt._BULK_AFTER = _MODES[a.only]

            def scans():
                for _ in range(a.rounds):
                    for body in bodies:
                        bt.scan(body, 10_000, make, known)

            operator.call(scans)
            return
        times: dict = {m: [] for m in _MODES}
        for r in range(a.rounds):
            for mode in (("one", "many") if r % 2 else ("many", "one")):
                bt._BULK_AFTER = _MODES[mode]
                body = bodies[r % len(bodies)]
                t0 = time.thread_time()
                bt.scan(body, 10_000, make, known)
                times[mode].append(time.thread_time() - t0)
    finally:
        bt._BULK_AFTER = saved
    for mode, v in times.items():
        print(f"scan of 1,000 seed documents, runs matched {mode} at a time: min {min(v) * 1e3:.3f} ms, median "
              f"{statistics.median(v) * 1e3:.3f} ms ({len(v)} scans, thread time)")


if __name__ == "__main__":
    main()
