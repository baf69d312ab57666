"""A leaf list on the value-by-value path in a body under worker_parse_min_bytes (real server, real HTTP; safeL,
brief B2 / redteam12 F1, redteam13 F6): its walk (~1-4 us a value) was not charged, so a ~0.5 MB body walked in a
thread of the server process, which the time limit cannot stop. The walk is now charged before it starts: past
offload_min_flops the request runs in a compute worker (the placement metric), with torch's answer; a short such
leaf still runs in the server process."""
from __future__ import annotations

import json
import math

import pytest
import torch

from tests.app.conftest import Server, run_where


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _doc(data: list, dtype: str | None) -> bytes:
    leaf = {"data": data} if dtype is None else {"data": data, "dtype": dtype}
    return json.dumps({"leaves": {"a": leaf}, "ops": [{"name": "s", "op": "nansum", "args": ["a"]}],
                       "outputs": ["s"]}, separators=(",", ":")).encode()


@pytest.mark.parametrize("data", [[1.5] * 100_000 + ["NaN"], [[0.25]] * 60_000 + [["NaN"]],
                                  ["NaN"] + [2] * 100_000])
def test_a_long_walk_runs_in_a_worker(srv, data):
    body = _doc(data, None)
    assert len(body) < 1 << 20  # parsed in the server process (under worker_parse_min_bytes)
    where, got = run_where(srv, body=body)
    assert where == "worker"  # before: "thread"
    ref = torch.nansum(torch.tensor([[math.nan if v == "NaN" else v for v in r] if isinstance(r, list) else
                                     math.nan if r == "NaN" else r for r in data]))
    assert got["tensors"]["s"]["data"] == ref.item()


def test_a_short_walk_stays_in_the_server_process(srv):
    where, got = run_where(srv, body=_doc([1.5, "NaN", 2.5] * 10, "float64"))
    assert where != "worker" and got["tensors"]["s"]["data"] == 40.0
