"""POST /v1/evaluate/batch on a real server: the fast writer's reprs (engine.program.batch_write._fixed_texts, a
value's `%.4f` or `%.0f.` text made by integer arithmetic over a whole column, written at the start of a 16-byte
row) are byte for byte the separate requests' (printing's own `%` of each value), for random float32 and float16
values across the magnitudes the fixed-point range takes: one to four digits before the point, signs, whole values,
ties at the fourth decimal, values that round up to the next power of ten, and values outside the range among them
(those documents written by the per-document writer). The vectorized path is really taken (the placement metric)."""
from __future__ import annotations

import random

import numpy as np
import orjson
import pytest

from tests.app.conftest import Server
from tests.app.test_batch_vectorized import separately, vectorized_count


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _program(a: float, b: float, dtype: str, square: bool) -> dict:
    """Leaves a and b of `dtype` and what neg and add make of them (and a's square), with a backward: 0-d rows whose
    reprs hold the leaves' values as given (and negated), their sums (and a square: past 10**4, the reprs' wider
    rows)."""
    ops = [{"name": "na", "op": "neg", "args": ["a"]}, {"name": "nb", "op": "neg", "args": ["b"]},
           {"name": "s", "op": "add", "args": ["na", "nb"]}]
    if square:
        ops.append({"name": "p", "op": "mul", "args": ["a", "a"]})
    return {"leaves": {"a": {"data": a, "dtype": dtype, "requires_grad": True},
                       "b": {"data": b, "dtype": dtype, "requires_grad": True}},
            "ops": ops, "backward": [{"tensor": "s"}]}


def _value(rng: random.Random, top: float) -> float:
    kind = rng.randrange(6)
    if kind == 0:  # one to four digits before the point, up to four decimals' worth below it
        x = rng.uniform(0, top) * 10.0 ** -rng.randint(0, 4)
    elif kind == 1:  # a tie at the fourth decimal (or past it) in float32
        x = rng.randint(0, 2 ** 14) / 2.0 ** rng.randint(1, 16)
    elif kind == 2:  # whole
        x = float(rng.randint(0, int(top)))
    elif kind == 3:  # just below a power of ten: some round up to it
        x = 10.0 ** rng.randint(0, 3) - rng.choice([1e-5, 4e-5, 5e-5, 6e-5, 1e-4, 0.5])
    elif kind == 4:  # near the range's low end (1e-4), on both sides
        x = rng.uniform(0.5e-4, 2e-4)
    else:
        x = rng.uniform(0, 10)
    x %= top  # (every value's integer part, and its sum with another's, below 10**4: one 16-byte row each)
    return float(np.float32(-x if rng.random() < 0.5 else x))


@pytest.mark.parametrize(("dtype", "top", "square"), [("float32", 99.0, False), ("float32", 4999.0, False),
                                                      ("float16", 4999.0, False), ("float32", 4999.0, True)])
def test_random_reprs_are_the_separate_requests(srv, dtype, top, square):
    """400 documents of one structure with random values (module): the batch's answer is the separate requests'
    byte for byte (float16 leaves keep their own rounding of the values). Without the square every repr's
    integer part is below 10**4 (the 16-byte rows); with it, some pass it (the four-byte rows)."""
    rng = random.Random(int(top) + len(dtype) + square)
    docs = [_program(_value(rng, top), _value(rng, top), dtype, square) for _ in range(400)]
    before = vectorized_count(srv.client)
    r = srv.client.post("/v1/evaluate/batch", content=orjson.dumps({"requests": docs}),
                        headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert vectorized_count(srv.client) - before >= 300
    assert r.content == separately(srv.client, docs)
