"""A structure's lowering stopped by the request's deadline (a loaded server: the checks run the program four
times more) is tried again by a later document, not declined for good (svc10 saw a corpus program lose its
lowered replay for the rest of a run)."""
from __future__ import annotations

import copy
import importlib
import time

import engine.program as P
from app.examples import EXAMPLES
from engine.budget import Budget, active

EV = importlib.import_module("engine.program.evaluate")  # (the package exports the function of that name)


def test_a_deadline_during_the_lowering_check_does_not_decline_the_structure(monkeypatch):
    spec = next(iter(EXAMPLES.values()))["value"]
    real = EV.lowered_checked
    tries = []

    def out_of_time(run, full_path):  # the real check, under a deadline that has passed (as a loaded server's)
        tries.append(1)
        with active(Budget(deadline=time.monotonic() - 1.0)):
            return real(run, full_path)

    cache = P.PlanCache()
    key = None
    monkeypatch.setattr(EV, "lowered_checked", out_of_time)
    for _ in range(12):
        P.evaluate(copy.deepcopy(spec), cache=cache)
        key = key or cache.key(spec, P.DEFAULT_LIMITS)[0]
        if tries:
            break
    assert tries, "the structure never reached its lowering"
    program = cache.get(key)
    assert not program.lowered and "declined" not in program.notes, program.notes
    monkeypatch.setattr(EV, "lowered_checked", real)
    for _ in range(12):
        P.evaluate(copy.deepcopy(spec), cache=cache)
        if cache.get(key).lowered:
            break
    assert cache.get(key).lowered, cache.get(key).notes
