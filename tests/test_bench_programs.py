"""Every program of the benchmark corpus (bench/programs/) answers as torch 2.13 does, through engine.evaluate and
through its cached replay (the path the corpus's cached column times): a benchmark of wrong answers is worthless."""
from __future__ import annotations

import copy

import pytest

import engine
from bench.programs import load
from tests.engine.test_random_programs import compare
from tests.lowering import sight_until_lowered
from tests.torch_reference import evaluate as torch_evaluate

PROGRAMS = load()


def test_the_corpus_has_thirty_programs_or_more():
    assert len(PROGRAMS) >= 30


@pytest.mark.parametrize("name,doc", PROGRAMS, ids=[n for n, _ in PROGRAMS])
def test_corpus_program_matches_torch(name, doc):
    spec = copy.deepcopy(doc)
    if spec.get("expression") is not None:  # the oracle reads ops: the expression's ops, as the engine parses them
        from engine.expression import expand  # noqa: PLC0415

        spec = expand(spec, 1 << 20)
    ref = torch_evaluate(spec)
    compare(engine.evaluate(copy.deepcopy(doc)), ref)
    cache = engine.PlanCache()
    # recorded, replayed until it recurs and is lowered (where it lowers), then replayed lowered
    sight_until_lowered(lambda: compare(engine.evaluate(copy.deepcopy(doc), cache=cache), ref), cache, after=1)
