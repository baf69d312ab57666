"""Schema fuzzing: schemathesis against the app's own /openapi.json on a real server (every operation).

No 5xx, and every response conforms to the schema (status code, content type, headers, body). `make test` runs
60 examples per operation (kept small so that it fits its 6 minutes on 2 cores: at least 240 generated requests
in total); `make test-full` (GRADSERVE_TEST_FULL=1) 120 (at least 480); `make fuzz` (GRADSERVE_FUZZ_EXAMPLES=5000
per operation) tens of thousands.
"""
from __future__ import annotations

import os

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from app.core.config import Settings  # noqa: E402
from app.main import create_app  # noqa: E402

from .conftest import Server  # noqa: E402

FULL = os.environ.get("GRADSERVE_TEST_FULL") == "1"
EXAMPLES = int(os.environ.get("GRADSERVE_FUZZ_EXAMPLES", "120" if FULL else "60"))  # per operation (evaluate dominates)
# POST /v1/graph takes evaluate's body (plus `format`) and runs it through the same service path: a fifth of
# the examples covers what is its own (the format, the drawing) without doubling the run.
GRAPH_EXAMPLES = max(EXAMPLES // 5, 50)
SENT = {"requests": 0, "by_operation": {}}


@pytest.fixture(scope="module")
def fuzz_server():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_TIME_LIMIT_S": "5",
                "GRADSERVE_MAX_IN_FLIGHT": "64",
                # `device: cuda` without a GPU is a documented 503; let NumPy stand in so it is fuzzed too.
                "GRADSERVE_ACCEPT_CUDA_ON_CPU": "true"})
    yield s
    s.stop()


# The app's own schema (what /openapi.json serves), built in-process; the requests go to a real server.
_app = create_app(Settings(compute_workers=0))
schema = schemathesis.openapi.from_dict(_app.openapi())


# POST /v1/functional and /v1/gradcheck run a transform per valid request (a Jacobian, 2n+ calls of a
# gradcheck), ten times the time of an evaluate: a quarter of the examples keeps `make test` within its time.
TRANSFORMS = r"^/v1/(functional|gradcheck)$"


def _check(case, fuzz_server):
    SENT["requests"] += 1
    key = f"{case.method} {case.path}"
    SENT["by_operation"][key] = SENT["by_operation"].get(key, 0) + 1
    # positive_data_acceptance is left out: a schema-valid program may still be a wrong one (an unknown
    # name, a shape mismatch), and the contract answers those with 422. For the batch, negative_data_rejection
    # too: a document that is not a valid evaluate body fails alone (API.md), inside the batch's 200, where the
    # schema (its items typed as EvaluateRequest, for clients) would have the whole batch refused. Every
    # other check runs.
    excluded = [schemathesis.checks.positive_data_acceptance]
    if case.path == "/v1/evaluate/batch":
        excluded.append(schemathesis.checks.negative_data_rejection)
    case.call_and_validate(base_url=fuzz_server.url, timeout=30, excluded_checks=excluded)


@schema.exclude(path="/v1/graph").exclude(path_regex=TRANSFORMS).parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_fuzz(case, fuzz_server):
    _check(case, fuzz_server)


@schema.include(path_regex=TRANSFORMS).parametrize()
@settings(max_examples=max(EXAMPLES // 4, 1), deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_fuzz_transforms(case, fuzz_server):
    _check(case, fuzz_server)


@schema.include(path="/v1/graph").parametrize()
@settings(max_examples=GRAPH_EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_fuzz_graph(case, fuzz_server):
    _check(case, fuzz_server)


def test_fuzz_sent_enough(fuzz_server):
    """Runs after test_fuzz and test_fuzz_transforms (file order): the total they sent, and the server still
    serves."""
    if not SENT["requests"]:
        pytest.skip("test_fuzz did not run (deselected)")
    print("fuzz requests by operation:", SENT["by_operation"])
    assert SENT["requests"] >= min(1000, 4 * EXAMPLES), SENT
    assert fuzz_server.client.get("/healthz").status_code == 200
