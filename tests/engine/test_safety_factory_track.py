"""A factory's output is held in the request's memory from the moment it is made, as every op's output
(safeI's finding, 2026-12-07): `zeros` x 5 of 8 MB each under a 20 MiB max_request_bytes had all run (their
outputs never counted: only a later op's own output was), so a request could hold max_total_elements' worth of
factory outputs whatever max_request_bytes and the process budget said."""
from __future__ import annotations

import pytest

import engine
from engine.errors import EngineError
from engine.program import Limits

N = 1_000_000
FACTORIES = [("zeros", [[N]]), ("ones", [[N]]), ("full", [[N], 2.5]), ("empty", [[N]]), ("rand", [[N]]),
             ("randn", [[N]]), ("eye", [1000])]


@pytest.mark.parametrize("op,args", FACTORIES, ids=[f[0] for f in FACTORIES])
def test_factory_outputs_count_against_the_request_memory(op, args):
    ops = [{"name": f"z{i}", "op": op, "args": args, "kwargs": {"dtype": "float64"}} for i in range(5)]
    ops += [{"name": "s", "op": "stack", "args": [[f"z{i}" for i in range(5)]]},
            {"name": "t", "op": "sum", "args": ["s"]}]
    doc = {"ops": ops, "outputs": ["t"], "seed": 1}
    with pytest.raises(EngineError) as got:
        engine.evaluate(doc, limits=Limits(max_request_bytes=20 * 2**20))
    # the outputs held (8 MB each) pass 20 MiB at the third factory (the second where a factory's work array is
    # charged beside them: rand's float64 draws); on the old code only the stack's own 40 MB was refused
    loc, msg = got.value.loc, got.value.msg
    assert loc[:2] == ["body", "ops"] and loc[2] in (1, 2), (loc, msg)
    assert "would bring the request's tensors to" in msg and "(max_request_bytes)" in msg, msg
    assert engine.evaluate(doc)["tensors"]["t"]["shape"] == []  # under the default limits it runs
