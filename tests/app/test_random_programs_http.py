"""The engine's random-program property, through the real service: POST the program to a running server
over HTTP and compare the whole response (values, grads, graph, warnings, repr) with torch 2.13, or the
error body with torch's exception (class, message, location)."""
from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from tests.app.conftest import Server
from tests.engine.test_random_programs import compare, programs
from tests.torch_reference import TorchFailure
from tests.torch_reference import evaluate as torch_evaluate


@pytest.fixture(scope="module")
def http_server():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1"})
    yield s
    s.stop()


def _post(server, spec):
    return server.client.post("/v1/evaluate", content=orjson.dumps(spec),
                              headers={"Content-Type": "application/json"})


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(spec=programs())
def test_random_program_over_http_matches_torch(http_server, spec):
    r = _post(http_server, spec)
    try:
        ref = torch_evaluate(spec)
    except TorchFailure as f:
        assert r.status_code == 422, r.text
        err = r.json()["detail"][0]
        assert (err["type"], err["msg"], err["loc"]) == (f.type, f.msg, f.loc), err
        return
    assert r.status_code == 200, r.text
    compare(r.json(), ref)
