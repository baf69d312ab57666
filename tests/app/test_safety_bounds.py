"""Red team 7, F3 and F5 against a real server: a flood of warnings and a nested create_graph graph are
refused (413) against the response cap, not answered past it, and /healthz answers throughout."""
from __future__ import annotations

import pytest

from tests.engine.test_safety_graph import nested
from tests.engine.test_safety_warnings import grad_reads

from .conftest import Server, cheap_program
from .test_safety_fanout import Prober

MiB = 1 << 20


@pytest.fixture(scope="module")
def server():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_TIME_LIMIT_S": "60", "GRADSERVE_ACCESS_LOG": "false",
                "GRADSERVE_MAX_RESPONSE_BYTES": str(MiB)})
    yield s
    s.stop()


@pytest.mark.parametrize("doc, words", [(grad_reads(3000), "warnings"), (nested(12), "graph")],
                         ids=["warnings", "graph"])
def test_past_the_response_cap_is_a_413_and_the_loop_answers(server, doc, words):
    with Prober(server.url) as probe:
        r = server.client.post("/v1/evaluate", json=doc, timeout=120)
    assert r.status_code == 413, (r.status_code, len(r.content))
    [err] = r.json()["detail"]
    assert "max_response_bytes" in err["msg"] and words in err["msg"]
    assert probe.late == []
    assert server.client.post("/v1/evaluate", json=cheap_program()).status_code == 200


def test_under_the_cap_the_answer_fits(server):
    r = server.client.post("/v1/evaluate", json=nested(6))
    assert r.status_code == 200 and len(r.content) <= MiB
