"""Group: the program corpus (issue 21, goal 2): every program of bench/programs/ through engine.evaluate, uncached
and cached (the plan cache primed: the lowered replay where the program lowers, else the Program's own replay),
against the torch-backed reference (bench/torch_ref.py) on the same document; and which programs lower.

Each call parses the document from its JSON bytes (as the service gets it: a fresh document a call, the cost
alike in every column). tests/test_bench_programs.py holds every program's answers, uncached and cached, to
torch's."""

from __future__ import annotations

import statistics

import orjson

from bench.harness import fmt_ratio, fmt_time, measure, paired_ratio, table

GOAL_LOWERED = 0.8  # the share of the corpus the lowered replay covers (issue 21)


def _primed(E, body):
    """A plan cache primed on the document: recorded, replayed until it is lowered (Program.lower_at: once it
    recurs) or declined, replayed once more."""
    cache = E.PlanCache()
    E.evaluate(orjson.loads(body), cache=cache)
    programs = list(cache._programs.values())
    for _ in range(programs[-1].lower_at() + 1 if programs else 2):
        E.evaluate(orjson.loads(body), cache=cache)
    return cache


def _lowered(E, body) -> tuple[bool, str]:
    """Whether the program lowers (_primed), and why not."""
    cache = _primed(E, body)
    programs = list(cache._programs.values())
    if not programs:
        return False, "not cached (a document's custom Functions are its own: engine.evaluate never replays them)"
    p = programs[-1]
    if p.lowered:
        return True, ""
    from engine.program.lower import declined  # noqa: PLC0415

    return False, declined(p) or ""


def columns(E, torch_evaluate, doc) -> dict:
    body = orjson.dumps(doc)
    ref = doc
    if doc.get("expression") is not None:  # the reference reads ops: the expression's, as the engine parses them
        from engine.expression import expand  # noqa: PLC0415

        ref = expand(doc, 1 << 20)
    ref_body = orjson.dumps(ref)
    cache = _primed(E, body)  # recorded, lowered (where it lowers), replayed
    return {"uncached": lambda: E.evaluate(orjson.loads(body)),
            "cached": lambda: E.evaluate(orjson.loads(body), cache=cache),
            "torch ref": lambda: torch_evaluate(orjson.loads(ref_body))}


def run(args) -> tuple[str, dict]:
    import engine as E  # noqa: PLC0415
    from bench.programs import load  # noqa: PLC0415
    from bench.torch_ref import evaluate as torch_evaluate  # noqa: PLC0415

    rounds = min(args.rounds, 3)
    target = min(args.target, 0.05)
    rows, notes, results = [], [], {}
    lowered_n = 0
    r_unc, r_cac = [], []
    for name, doc in load(tuple(args.only)):  # --only: program names or numbers (all by default)
        low, why = _lowered(E, orjson.dumps(doc))
        lowered_n += low
        s = measure(columns(E, torch_evaluate, doc), rounds=rounds, target=target)
        ru = paired_ratio(s["uncached"], s["torch ref"])
        rc = paired_ratio(s["cached"], s["torch ref"])
        if ru is not None:
            r_unc.append(ru)
        if rc is not None:
            r_cac.append(rc)
        results[name] = {"lowered": low, "declined": why, "uncached/torch_ref": ru, "cached/torch_ref": rc,
                         **{c: v.median for c, v in s.items()}}
        rows.append([name, "yes" if low else "no", fmt_time(s["uncached"].median), fmt_time(s["cached"].median),
                     fmt_time(s["torch ref"].median), fmt_ratio(ru), fmt_ratio(rc)])
        for c, v in s.items():
            if v.error:
                notes.append(f"{name}: {c} failed: {v.error}")
        if not low:
            notes.append(f"{name} does not lower: {why}")
    n = len(rows)
    share = lowered_n / n if n else 0.0
    rows.append(["median of the ratios", f"{lowered_n}/{n}", "", "", "",
                 fmt_ratio(statistics.median(r_unc) if r_unc else None),
                 fmt_ratio(statistics.median(r_cac) if r_cac else None)])
    results["_summary"] = {"lowered": lowered_n, "programs": n,
                           "median uncached/torch_ref": statistics.median(r_unc) if r_unc else None,
                           "median cached/torch_ref": statistics.median(r_cac) if r_cac else None}
    notes.insert(0, f"the lowered replay covers {lowered_n} of {n} programs ({share:.0%}; goal ≥ "
                    f"{GOAL_LOWERED:.0%}: {'✓' if share >= GOAL_LOWERED else '✗'})")
    notes.insert(1, "uncached: engine.evaluate of the parsed document; cached: the same with a primed PlanCache "
                    "(the lowered replay where the program lowers, else the Program's replay); torch ref: "
                    "bench/torch_ref.py, the document interpreted over torch 2.13; every column parses the "
                    f"document from its JSON bytes each call; {rounds} interleaved rounds, samples of ≥ "
                    f"{target * 1e3:g} ms")
    return table("Program corpus: engine.evaluate against the torch-backed reference (bench/programs/)",
                 ["program", "lowers", "uncached", "cached", "torch ref", "uncached/torch", "cached/torch"],
                 rows, notes), results
