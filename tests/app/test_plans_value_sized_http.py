"""A cached structure whose value-sized op (bincount, VALUE_SIZED) gives outputs of another size than when its
plan was recorded: the Program's replay gives up there, and the full path answers as for a cold request.
Before, the replay's charges stayed on the request's budget and the full path charged the document again: a
request that passes max_flops cold was refused 413 (max_flops) once its structure was cached."""
from __future__ import annotations

import pytest
import torch

from .conftest import Server

N = 200  # mm of two N x N: 2 N^3 = 1.6e7 flops; the limit holds one run of it, not two
FLOPS = 1.5 * 2 * N ** 3


@pytest.fixture(scope="module")
def server():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_TIME_LIMIT_S": "60", "GRADSERVE_ACCESS_LOG": "false",
                "GRADSERVE_MAX_FLOPS": str(FLOPS)})
    yield s
    s.stop()


def _doc(counts, op="bincount"):
    return {"leaves": {"r": {"data": counts}},
            "ops": [{"name": "a", "op": "ones", "args": [[N, N]]}, {"name": "m", "op": "mm", "args": ["a", "a"]},
                    {"name": "s", "op": "sum", "args": ["m"]}, {"name": "b", "op": op, "args": ["r"]}],
            "outputs": ["s", "b"]}


def _torch(counts, op="bincount"):
    return getattr(torch, op)(torch.tensor(counts))


@pytest.mark.parametrize("op, first, other", [("bincount", [1, 2, 1], [1, 2, 5]),
                                              ("bincount", [1, 2, 9], [0, 1, 1]),
                                              ("unique", [1, 2, 1], [1, 2, 3]),
                                              ("nonzero", [0, 2, 0], [1, 2, 3])])
def test_a_value_sized_op_of_other_size_answers_as_cold(server, op, first, other):
    for counts in (first, first, other, other, first):  # recorded, replayed, then other sizes through the plan
        r = server.client.post("/v1/evaluate", json=_doc(counts, op))
        assert r.status_code == 200, (counts, r.text)
        t = r.json()["tensors"]
        want = _torch(counts, op)
        assert t["b"]["shape"] == list(want.shape) and t["b"]["data"] == want.tolist()
        assert t["s"]["data"] == float(N ** 3)


def test_the_outputs_count_into_max_total_elements_as_cold(server):
    """Under max_total_elements, other values whose bincount is bigger: the full path's 413 (Run.recount) at the
    op, whether the structure was cached or not."""
    s2 = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_TIME_LIMIT_S": "60", "GRADSERVE_ACCESS_LOG": "false",
                 "GRADSERVE_MAX_TOTAL_ELEMENTS": str(3 * N * N + 40)})
    try:
        cold = s2.client.post("/v1/evaluate", json=_doc([1, 2, 80]))
        assert cold.status_code == 413, cold.text
        assert "(max_total_elements)" in cold.json()["detail"][0]["msg"]
        assert cold.json()["detail"][0]["loc"] == ["body", "ops", 3]
        for counts in ([1, 2, 1], [1, 2, 1], [0, 1, 3]):
            r = s2.client.post("/v1/evaluate", json=_doc(counts))
            assert r.status_code == 200, r.text
        warm = s2.client.post("/v1/evaluate", json=_doc([1, 2, 80]))
        assert (warm.status_code, warm.content) == (cold.status_code, cold.content)
    finally:
        s2.stop()
