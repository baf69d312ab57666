"""The order the backward pass runs nodes in, against torch's: random graphs (chains, branches, joins, several
uses of one tensor), some nodes hooked (their pre-hooks log them), the others not. run_backward's array loop runs
a chain's next node without its ready queue (engine/autograd/backward_loop.py _run_arrays, `direct`): the hooked
nodes' order must stay torch's (and the gradients, within the tolerance of the transcendental ops' last bits)."""
from __future__ import annotations

import random

import numpy as np
import pytest

from tests.engine.both import same

UNARY = ("sin", "tanh", "exp", "neg")


def _program(m, seed, hooked_share):
    rng = random.Random(seed)
    log = []
    x = m.tensor(np.linspace(-1, 1, 8, dtype=np.float32).tolist(), requires_grad=True)
    w = m.tensor(0.75, requires_grad=True)
    pool = [x, w]
    for i in range(rng.randrange(5, 40)):
        k = rng.random()
        a = pool[-1] if rng.random() < 0.6 else rng.choice(pool)  # mostly chains, sometimes a branch
        if k < 0.35:
            y = getattr(a, rng.choice(UNARY))()
        elif k < 0.7:
            y = a * rng.choice(pool)
        else:
            y = a + rng.choice(pool)
        if y.grad_fn is not None and rng.random() < hooked_share:
            y.grad_fn.register_prehook(lambda g, i=i: log.append(i))
        pool.append(y)
    outs = [pool[-1]] + rng.sample(pool[2:], min(2, len(pool) - 2))  # a join of the last and two earlier
    loss = outs[0].sum()
    for o in outs[1:]:
        loss = loss + o.sum()
    loss.backward()
    return log, x.grad, w.grad


@pytest.mark.parametrize("hooked_share", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("seed", range(12))
def test_nodes_run_in_torchs_order(seed, hooked_share):
    t = same(lambda m: _program(m, seed, hooked_share), rtol=1e-4)  # the logs exactly (ulps of exp add up)
    assert t[0] == "ok" and (t[1][0] or hooked_share == 0.0)


def test_a_node_that_makes_two_ready_sends_the_held_one_to_the_queue_first():
    def f(m):
        log = []
        x = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
        a = x.sin()
        b, c = a.tanh(), a.exp()  # a's node waits on two; the sum's add makes b's and c's ready at once
        for name, t in (("a", a), ("b", b), ("c", c)):
            t.grad_fn.register_prehook(lambda g, name=name: log.append(name))
        (b.sum() + c.sum()).backward()
        return log, x.grad
    log = same(f)[1][0]
    assert log == ["c", "b", "a"] or log == ["b", "c", "a"]

