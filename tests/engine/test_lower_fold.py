"""engine.program.lower_fold: a lowered function's lines over constants alone computed once for single requests
(the implicit gradient's copy, SumBackward0's view of it, MeanBackward0's quotient): the same answers as the full
path at other values, the folded arrays read-only (a formula that writes into one raises and never lands), the
batch route's function and source unchanged."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from bench.programs import load
from engine.program.lower_fold import fold
from tests.engine.test_lower import E, _bytes, _primed, _revalue, check_lowered

CORPUS = {name: spec for name, spec in load(("05", "06", "36", "37"))}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_programs_fold_and_answer_as_the_full_path(name):
    spec = CORPUS[name]
    check_lowered(spec)  # its lowered replays (the folded function: Lowered.single) answer as the full path
    cache, program = _primed(spec)
    low = program.lowered
    assert low.single is not low.fn  # something folded
    folded = {k: v for k, v in low.single.__globals__.items() if k.startswith("f") and k[1:2] in "gy"}
    assert folded and all(not v.flags.writeable for v in folded.values() if type(v) is np.ndarray)
    before = {k: v.tobytes() for k, v in folded.items() if type(v) is np.ndarray}
    assert "= k" in low.source and "folded" not in low.source  # the batch route's source: every line as it was
    for s in range(4):  # the folded arrays shared by every request stay what they were
        twin = _revalue(spec, np.random.default_rng(10 + s))
        assert E.evaluate_json(copy.deepcopy(twin), cache=cache) == _bytes(E.evaluate(copy.deepcopy(twin)))
    assert {k: v.tobytes() for k, v in folded.items() if type(v) is np.ndarray} == before


def test_36s_gradients_are_folded_up_to_the_leaf():
    """two_backward_passes: both implicit gradients, SumBackward0's view and MeanBackward0's quotient folded;
    what reads the leaf's values (ExpBackward0, the accumulation) is not."""
    _, program = _primed(CORPUS["two_backward_passes"])
    ns = program.lowered.single.__globals__
    assert sorted(k for k in ns if k.startswith("fg")) == ["fg12", "fg16", "fg19", "fg9"]


def test_a_write_into_a_folded_array_raises_and_never_lands():
    """A formula that writes into its gradient in place (what the implicit gradient's copy was for): folded, the
    array is read-only: the write raises (a replay then gives up: the Program's own replay answers), the kept
    array is unchanged, and the line that writes is not folded."""

    def adds_one(g):
        g += 1.0
        return g

    ns = {"k0": np.ones((), np.float32), "k1": adds_one, "k2": np.ones((3,), np.float32)}
    source = ("def lowered(x0):\n    g1 = k0.copy()  # the implicit gradient\n    g2 = k1(g1)  # Writes\n"
              "    g3 = k2 * g2  # other\n    return (x0, ), (g3, )\n")
    text, consts = fold(source, ns)
    assert sorted(consts) == ["fg1"] and "g2 = k1(g1)" in text
    assert not consts["fg1"].flags.writeable
    exec(compile(text, "<test>", "exec"), {**ns, **consts})  # noqa: S102
    with pytest.raises(ValueError, match="read-only"):
        ns_run = {**ns, **consts}
        exec(compile(text, "<test>", "exec"), ns_run)  # noqa: S102
        ns_run["lowered"](np.zeros(3, np.float32))
    assert consts["fg1"] == 1.0 and ns["k0"] == 1.0


def test_a_line_that_reads_a_leaf_is_not_folded():
    ns = {"k0": np.ones((), np.float64), "k1": np.multiply}
    source = ("def lowered(x0):\n    g1 = k0.copy()  # the implicit gradient\n"
              "    g2 = k1(g1, x0)  # MulBackward0: self\n    return (x0, ), (g2, )\n")
    text, consts = fold(source, ns)
    assert sorted(consts) == ["fg1"] and "    g2 = k1(g1, x0)  # MulBackward0: self" in text.splitlines()
    assert fold("def lowered(x0):\n    y1 = k1(x0, x0)  # mul\n    return (y1, ), (None, )\n", ns) is None


def test_folded_arrays_stay_within_their_bound():
    """At most FOLD_MAX_BYTES of folded arrays a function: a line past it runs per request as before."""
    from engine.program import lower_fold

    n = lower_fold.FOLD_MAX_BYTES // 8
    ns = {"k0": np.ones((n // 2 + 1,), np.float64), "k1": np.ones((2,), np.float64)}
    source = ("def lowered(x0):\n    g1 = k0.copy()  # a\n    g2 = k1.copy()  # b\n    g3 = k0.copy()  # c\n"
              "    return (x0, ), (g1, g2, g3, )\n")
    text, consts = fold(source, ns)
    assert sorted(consts) == ["fg1", "fg2"] and "    g3 = k0.copy()  # c" in text  # g1 and g2 fit, g3 not
