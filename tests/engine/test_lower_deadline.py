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


def test_a_structure_whose_lowering_keeps_running_out_of_time_is_not_retried_at_every_request(monkeypatch):
    """review15 R13: each try costs ~5x a replay; after one, the next waits as many replays as the first did."""
    spec = next(iter(EXAMPLES.values()))["value"]
    real = EV.lowered_checked
    tries = []

    def out_of_time(run, full_path):
        tries.append(1)
        with active(Budget(deadline=time.monotonic() - 1.0)):
            return real(run, full_path)

    monkeypatch.setattr(EV, "lowered_checked", out_of_time)
    cache = P.PlanCache()
    for _ in range(40):
        P.evaluate(copy.deepcopy(spec), cache=cache)
    key = cache.key(spec, P.DEFAULT_LIMITS)[0]
    assert 1 <= len(tries) <= 40 // cache.get(key).lower_at() + 1, len(tries)
