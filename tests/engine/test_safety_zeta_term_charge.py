"""redteam16 F4: zeta / polygamma's series on a few elements with a far negative q: each term's fixed cost (~16 NumPy
calls, and the whole exponent's double-double squarings, ~20 calls a bit of it) was charged 16 Python steps, ~5x
under on one element (zeta(3, -20000.5): 1.2 s charged 3.2e8 flops). Now the whole exponent's bits are in a term's
fixed charge. Held by the flops a Budget is charged (no clock; the CPU ratios are in docs/runs/safeQ.md)."""
from __future__ import annotations

import pytest

import engine
from engine import budget as B
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
    bits = (3).bit_length()  # x = 3, polygamma(2)'s n + 1
    assert _charged(fn) >= TERMS * (16 + 20 * bits) * PY_STEP
