"""redteam16 F4: zeta / polygamma's series on a few elements with a far negative q: each term's fixed cost (~16 NumPy
calls, and the whole exponent's double-double squarings, ~20 calls a bit of it) was charged 16 Python steps, ~5x
under on one element (zeta(3, -20000.5): 1.2 s charged 3.2e8 flops). Now the whole exponent's bits are in a term's
fixed charge; special.zeta (glibc's pow for every exponent since F5) its pow's fixed cost a term. Held by the flops
a Budget is charged (no clock; the CPU ratios are in docs/runs/safeQ.md)."""
from __future__ import annotations

import pytest

import engine
from engine import budget as B
from engine.ops._special import PYPOW_FLOPS
from engine.ops.rules import PY_STEP

TERMS = 2000  # q = -1999.5: about 2,000 terms before q + i passes 9


def _charged(fn):
    b = B.Budget()
    with B.active(b):
        fn()
    return b.used_flops


@pytest.mark.parametrize("case", ["zeta float64", "zeta float32", "polygamma(2)"])
def test_a_whole_exponents_terms_are_charged_their_squarings(case):
    q = -(TERMS - 0.5)
    fn = {"zeta float64": lambda: engine.special.zeta(engine.tensor([3.0], dtype=engine.float64),
                                                       engine.tensor([q], dtype=engine.float64)),
          "zeta float32": lambda: engine.special.zeta(engine.tensor([3.0]), engine.tensor([q])),
          "polygamma(2)": lambda: engine.polygamma(2, engine.tensor([q], dtype=engine.float64))}[case]
    if case == "polygamma(2)":  # the whole exponent's path: n + 1 = 3
        assert _charged(fn) >= TERMS * (16 + 20 * (3).bit_length()) * PY_STEP
    else:  # special.zeta: glibc's pow for any exponent (F5): its masks and object arrays a term, math.pow an element
        assert _charged(fn) >= TERMS * ((16 + 16) * PY_STEP + PYPOW_FLOPS)
