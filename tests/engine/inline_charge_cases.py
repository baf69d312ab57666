"""The budget cases shared by test_forward_charge_inline.py and test_backward_charge_inline.py: limits set on a
Budget at points across a run's own flops and bytes, a cancel, element caps, float limits; each case a
`tweak(b, used, peak)` called with the budget's used flops and peak just before the run under test. Both files
compare the unrolled charge (written out for a plain Budget) against Budget.charge itself (MethodBudget)."""
from __future__ import annotations

from engine.budget import Budget


class MethodBudget(Budget):
    """A Budget whose charges go through Budget.charge (the unrolled paths write the charge out for Budget only)."""

    __slots__ = ()


X = [0.25, -1.5, 0.75, 2.0, -0.5, 1.25, -2.5, 0.125]
FRACTIONS = [0.0, 0.1, 0.33, 0.5, 0.77, 0.99, 1.0, 1.5]


def _setter(attr, value_of):
    def tweak(b, used, peak):
        setattr(b, attr, value_of(used, peak))
    return tweak


def budget_cases(flops: float, nodes: int, peak: int | None = None, elements=(-1,)) -> dict:
    """The cases by name, in a fixed order (the test ids). `flops`: the run's own flops (the flop limits are
    fractions of it past the used flops, the per-op ones fractions of flops / `nodes`); `peak`: the bytes the
    byte limits are fractions of (None: the peak the tweak is called with); `elements`: the max_elements caps."""
    def at(p):
        return p if peak is None else peak

    cases = {"none": lambda b, used, p: None, "cancelled": lambda b, used, p: b.cancel()}
    for f in FRACTIONS:
        cases[f"max_flops {f}"] = _setter("max_flops", lambda used, p, f=f: used + f * flops)
        cases[f"spill_flops {f}"] = _setter("spill_flops", lambda used, p, f=f: used + f * flops)
        cases[f"op_max_flops {f}"] = _setter("op_max_flops", lambda used, p, f=f: f * flops / nodes)
        cases[f"spill_op_flops {f}"] = _setter("spill_op_flops", lambda used, p, f=f: f * flops / nodes)
        cases[f"max_bytes {f}"] = _setter("max_bytes", lambda used, p, f=f: int(at(p) * f))
        cases[f"spill_bytes {f}"] = _setter("spill_bytes", lambda used, p, f=f: int(at(p) * f))
        cases[f"held {f}"] = _setter("held", lambda used, p, f=f: int(at(p) * (1 - f)))
    for n in elements:
        cases[f"max_elements {n}"] = _setter("max_elements", lambda used, p, n=n: n)
    cases["max_flops float"] = _setter("max_flops", lambda used, p: float(used + flops / 2))
    cases["max_bytes float"] = _setter("max_bytes", lambda used, p: float(at(p)) / 2)
    return cases
