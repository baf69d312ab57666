"""POST /v1/functional in forward mode on a real server (real HTTP): a Hessian or Jacobian too big to send is
refused with the response's 413 from its blocks' shapes, before the work that would not fit (safeJ, known gap 1:
before, forward mode ran until the memory limit stopped it, a different 413, or to the end and was refused
after). The engine's side, and that the blocks are the computed result's: tests/engine/
test_functional_precheck_forward.py."""
from __future__ import annotations

import pytest

from tests.app.conftest import Server
from tests.engine.test_functional_precheck_forward import _expanded, _hessian_of_sum_sin


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_MAX_REQUEST_BYTES": str(24 << 20), "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _refused(srv, spec) -> str:
    r = srv.client.post("/v1/functional", json=spec)
    assert r.status_code == 413, r.text[:300]
    [detail] = r.json()["detail"]
    assert detail["type"] == "limit_exceeded" and detail["loc"] == ["body"]
    return detail["msg"]


def test_a_forward_mode_hessian_too_big_to_send_is_refused_before_it_runs(srv):
    """sum(sin(x)), x [3000] float64: before, "a standard basis would bring the request's tensors to 72000000
    bytes" here (at the default 256 MiB, "sum.dim_IntList ... 360048008 bytes", in the function's batched run);
    now the response's 413 before either."""
    assert _refused(srv, _hessian_of_sum_sin(3000)) == (
        "the response would take up to 225002132 bytes, over the limit of 33554432 bytes (max_response_bytes)")
    assert srv.client.post("/v1/functional", json=_hessian_of_sum_sin(30)).status_code == 200


def test_a_forward_mode_jacobian_too_big_to_send_is_refused_before_its_blocks_are_built(srv):
    """x.expand(4, 1000), x [1000] float32: before, "split_with_sizes would bring the request's tensors to ..."
    (copying the blocks out of the tangent, past 24 MiB); now the response's 413 once the function has run."""
    assert _refused(srv, _expanded(4)) == (
        "the response would take up to 64005120 bytes, over the limit of 33554432 bytes (max_response_bytes)")
    assert srv.client.post("/v1/functional", json=_expanded(4, 30)).status_code == 200
