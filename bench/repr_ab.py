"""The program corpus with the fast repr (engine.printing_fast) and without it (printing's port alone, what
format_tensor ran before): engine.evaluate cached and uncached, the two configurations interleaved in one process.

python -m bench.repr_ab                      every corpus program, 7 rounds
python -m bench.repr_ab --only 04,seed --rounds 15
"""

from __future__ import annotations

import argparse
import statistics
import sys

import orjson

from bench.harness import fmt_ratio, fmt_time, measure, paired_ratio, table, warm_sightings


def _port_only():
    """Setup of a 'before' sample: format_tensor takes printing's port for every tensor; returns the undo."""
    from engine import printing  # noqa: PLC0415

    fast, small = printing.fast_tensor_str, printing.small_float_repr  # (small: a small float tensor's whole repr)
    printing.fast_tensor_str = printing.small_float_repr = lambda *a: None

    def undo():
        printing.fast_tensor_str, printing.small_float_repr = fast, small

    return undo


def columns(E, doc) -> dict:
    body = orjson.dumps(doc)
    cache = E.PlanCache()
    for _ in range(warm_sightings()):  # recorded, replayed, lowered (where it lowers)
        E.evaluate(orjson.loads(body), cache=cache)
    cached = lambda: E.evaluate(orjson.loads(body), cache=cache)  # noqa: E731
    uncached = lambda: E.evaluate(orjson.loads(body))  # noqa: E731
    return {"cached, fast repr": cached, "cached, port repr": (cached, _port_only),
            "uncached, fast repr": uncached, "uncached, port repr": (uncached, _port_only)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.repr_ab", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default="", help="corpus programs (names or numbers: seed,04)")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--target", type=float, default=0.05, help="seconds per timing sample")
    a = p.parse_args(argv)
    import engine as E  # noqa: PLC0415
    from bench.programs import load  # noqa: PLC0415

    rows, notes, r_c, r_u = [], [], [], []
    for name, doc in load(tuple(w for w in a.only.split(",") if w)):
        cols = columns(E, doc)
        fast = orjson.dumps(cols["cached, fast repr"]())
        undo = _port_only()
        try:
            port = orjson.dumps(cols["cached, fast repr"]())
        finally:
            undo()
        if fast != port:
            at = next((i for i, (x, y) in enumerate(zip(fast, port)) if x != y), min(len(fast), len(port)))
            notes.append(f"{name}: CHECK FAILED: the answers differ with and without the fast repr, from byte {at}: "
                         f"{fast[max(0, at - 80):at + 80]!r} against {port[max(0, at - 80):at + 80]!r}")
        s = measure(cols, rounds=a.rounds, target=a.target)
        rc = paired_ratio(s["cached, port repr"], s["cached, fast repr"])
        ru = paired_ratio(s["uncached, port repr"], s["uncached, fast repr"])
        r_c += [rc] if rc else []
        r_u += [ru] if ru else []
        rows.append([name, *(fmt_time(s[c].median) for c in cols), fmt_ratio(rc), fmt_ratio(ru)])
        for c, v in s.items():
            if v.error:
                notes.append(f"{name}: {c} failed: {v.error}")
    rows.append(["median of the ratios", "", "", "", "", fmt_ratio(statistics.median(r_c) if r_c else None),
                 fmt_ratio(statistics.median(r_u) if r_u else None)])
    notes.append(f"{a.rounds} interleaved rounds (the four columns rotated each round), samples of ≥ "
                 f"{a.target * 1e3:g} ms; port/fast: median over rounds of the paired samples' ratio; port repr: "
                 "engine.printing's port of torch's code for every tensor (printing_fast switched off)")
    print(table("Program corpus: engine.evaluate with the fast repr and with the port alone",
                ["program", "cached, fast", "cached, port", "uncached, fast",
                 "uncached, port", "cached port/fast", "uncached port/fast"], rows, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
