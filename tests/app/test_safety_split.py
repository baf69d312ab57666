"""Red team 8 F1 and F2 against a real server. F1: tensor_split of ten elements into 1e6 sections (a 190-byte
request; vsplit of an empty dim, unbind_copy of an empty dim of 1e6) is a 413 at once, on /v1/evaluate and
/v1/graph, while /healthz keeps answering (before: a million views on the event loop, 504 at the time limit,
/healthz blocked throughout). F2: an adaptive pool of 8 inputs to 1e6 outputs no longer grows the process that
runs it by its region tables (before: ~150 bytes an output element, uncharged).

Load: /healthz's answers and the refusals are judged by the server's CPU, not the wall clock (tests/app/loop_probe.py;
the time limit is 120 s so that a loaded host's slowness is not a 504)."""
from __future__ import annotations

import time

import pytest

from .conftest import Server, cheap_program
from .loop_probe import HEALTH_BOUND_CPU_S, LoopProber, cpu_s, tree

N = 1_000_000


@pytest.fixture(scope="module")
def server():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_TIME_LIMIT_S": "120", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _program(x_op, op, args):
    return {"ops": [x_op, {"name": "y", "op": op, "args": args}, {"name": "s", "op": "sum", "args": ["x"]}],
            "outputs": ["s"]}


F1 = {
    "tensor_split": _program({"name": "x", "op": "ones", "args": [[10]]}, "tensor_split", ["x", N]),
    "vsplit": _program({"name": "x", "op": "ones", "args": [[0, 2]]}, "vsplit", ["x", N]),
    "unbind_copy": _program({"name": "x", "op": "zeros", "args": [[N, 0]]}, "unbind_copy", ["x"]),
}


@pytest.mark.parametrize("path", ["/v1/evaluate", "/v1/graph"])
@pytest.mark.parametrize("case", sorted(F1))
def test_a_million_pieces_are_refused_while_the_loop_answers(server, case, path):
    pids = tree(server)
    with LoopProber(server) as probe:
        c0 = cpu_s(pids)
        r = server.client.post(path, json=F1[case], timeout=300)
        spent = cpu_s(pids) - c0
        time.sleep(0.3)  # (a few probes after it, too)
    assert r.status_code == 413, r.text[:300]
    assert spent < HEALTH_BOUND_CPU_S, spent  # refused at once (before: a million views, the time limit's 504)
    [err] = r.json()["detail"]
    assert "pieces" in err["msg"] and "max_request_bytes" in err["msg"] and err["loc"] == ["body", "ops", 1]
    assert probe.late == [] and probe.answered > 0
    assert server.client.post("/v1/evaluate", json=cheap_program()).status_code == 200


def test_a_few_pieces_still_answer_torchs_shapes(server):
    body = {"ops": [{"name": "x", "op": "arange", "args": [10.0]},
                    {"name": ["a", "b", "c"], "op": "tensor_split", "args": ["x", 3]}], "outputs": ["a", "b", "c"]}
    r = server.client.post("/v1/evaluate", json=body)
    assert r.status_code == 200, r.text[:300]
    t = r.json()["tensors"]
    assert [t[k]["data"] for k in "abc"] == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]


def _hwm(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("op", ["adaptive_max_pool3d", "adaptive_avg_pool3d"])
def test_an_adaptive_pool_grows_no_process_by_its_tables(op):
    """3.4e6 outputs from 8 inputs (the red team's 209-byte request at M=150), in whichever process runs it (a
    server thread or the worker, by its charge): before, its region tables grew that process's peak by 112-183
    MiB (measured, fresh server); now its outputs (40 MB) and a chunk's tables: 32-58 MiB."""
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"}, api_key="k")
    try:
        pids = [s.proc.pid, *s.worker_pids()]
        before = {p: _hwm(p) for p in pids}
        body = {"ops": [{"name": "x", "op": "ones", "args": [[1, 1, 2, 2, 2]]},
                        {"name": "y", "op": op, "args": ["x", [150, 150, 150]]},
                        {"name": "s", "op": "sum", "args": ["y"]}], "outputs": ["s"]}
        r = s.client.post("/v1/evaluate", json=body, timeout=60)
        assert r.status_code == 200, r.text[:300]
        assert r.json()["tensors"]["s"]["data"] == 150 ** 3
        grown = {p: (_hwm(p) - before[p]) >> 20 for p in pids}
    finally:
        s.stop()
    assert max(grown.values()) < 90, f"peak growth MiB by process: {grown}"
