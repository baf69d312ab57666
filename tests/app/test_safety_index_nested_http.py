"""redteam16 F1 over real HTTP (one real server, compute workers 0: every request in the server process, where the
red team's ran): getitem whose index holds a nested list of tensor NAMES. The bound and the op stacked the named
tensors with NumPy before any limit: 60 names of a 10^6-element zeros (a 495-byte body) took the server to 2.9 GB
and 8.3 s, then a 413. torch refuses such an index (TypeError "only integer tensors of a single element can be
converted to an index"): now the same answer at once, the server's peak RSS (VmHWM) unmoved within 64 MB; a list of
one-element integer tensors answers torch's values."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.app.conftest import Server

JSON = {"content-type": "application/json"}
MSG = "only integer tensors of a single element can be converted to an index"


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _post(srv, doc):
    return srv.client.post("/v1/evaluate", content=json.dumps(doc, separators=(",", ":")).encode(), headers=JSON)


@pytest.mark.parametrize("k,dtype", [(10, "float32"), (10, "int64"), (60, "float32"), (200, "bool")])
def test_names_of_a_long_tensor_in_an_index_list_answer_torchs_error_without_stacking(srv, k, dtype):
    doc = {"leaves": {"x": {"data": [1.0, 2.0]}},
           "ops": [{"name": "z", "op": "zeros", "args": [1_000_000], "kwargs": {"dtype": dtype}},
                   {"name": "y", "op": "getitem", "args": ["x", [["z"] * k]]}], "outputs": []}
    before = _hwm(srv.proc.pid)
    r = _post(srv, doc)
    assert r.status_code == 422, r.text
    assert MSG in r.text, r.text
    grown = _hwm(srv.proc.pid) - before
    assert grown < 64 << 20, f"server peak RSS grew by {grown / 2**20:.0f} MiB"


def test_one_element_integer_tensors_in_an_index_list_answer_torchs_values(srv):
    doc = {"leaves": {"x": {"data": [1.0, 2.0, 3.0, 4.0]}, "i": {"data": [2], "dtype": "int64"},
                      "j": {"data": 3, "dtype": "int32"}},
           "ops": [{"name": "y", "op": "getitem", "args": ["x", [["i", 0, "j"]]]}], "outputs": ["y"]}
    r = _post(srv, doc)
    assert r.status_code == 200, r.text
    x, i, j = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([2]), torch.tensor(3, dtype=torch.int32)
    assert r.json()["tensors"]["y"]["data"] == x[([i, 0, j],)].tolist()
