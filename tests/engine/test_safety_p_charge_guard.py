"""safeP (review15 R12): the inline copies of Budget.charge's comparisons (engine/ops/fastcall.py's one- and
two-operand paths, engine/autograd/backward_loop.py's node charge) added a rule's flops to used_flops without
Budget.charge's guard (redteam14 F2): a NaN count made used_flops NaN and every later `used > max_flops` false, for
the rest of the request. Now cost_of, where those paths' costs come from (the cost cache's fill, a node's _bwd),
gives a NaN or negative count as 0. No rule gives one today: a rule that does is put in its place here."""
from __future__ import annotations

import numpy as np
import pytest

import engine as E
from engine import budget as B
from engine import catalog
from engine.errors import LimitExceeded
from engine.ops import rules


class _BadRule:
    """A rule whose flops (forward or backward) are `bad`, its outputs its first operand's shape."""

    tensors_only = False

    def __init__(self, bad, backward=False):
        self.bad, self.backward = bad, backward

    def cost(self, vals, strict=False):
        out = tuple(np.shape(vals[0]))
        if self.backward:
            return rules.Cost(out, 1.0, bwd_flops=self.bad)
        return rules.Cost(out, self.bad)


def _op(name):
    (op,) = catalog.BY_NAME[name].opdefs
    assert op.fast is not None  # on the unrolled path
    return op


def _still_limited(b):
    assert b.used_flops == b.used_flops and b.used_flops >= 0, b.used_flops
    with pytest.raises(LimitExceeded, match="max_flops"):
        B.charge(0, 8, 2e6)


@pytest.mark.parametrize("bad", [float("nan"), -1e22])
@pytest.mark.parametrize("name,shape", [("tanh", (3, 7, 11, 2)), ("add", (3, 7, 11, 5))])
def test_the_forward_inline_charge_takes_no_nan_or_negative_flops(monkeypatch, bad, name, shape):
    op = _op(name)
    monkeypatch.setattr(op, "rule", _BadRule(bad))
    b = B.Budget(max_flops=1e6)
    with B.active(b):
        x = E.tensor(np.ones(shape), requires_grad=True)
        x.tanh() if name == "tanh" else x + x
        _still_limited(b)


@pytest.mark.parametrize("bad", [float("nan"), -1e22])
def test_the_backward_node_charge_takes_no_nan_or_negative_flops(monkeypatch, bad):
    op = _op("exp")
    monkeypatch.setattr(op, "rule", _BadRule(bad, backward=True))
    b = B.Budget(max_flops=1e6)
    with B.active(b):
        x = E.tensor(np.ones((3, 7, 11, 3)), requires_grad=True)
        x.exp().sum().backward()
        _still_limited(b)
