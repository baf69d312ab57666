"""POST /v1/gradcheck on a real server: verdicts and GradcheckError messages byte for byte against live torch 2.13
(a custom Function's wrong backward, the float32 warning, fast mode, gradgradcheck, tuple inputs), an invalid
call at ["body", "function"], an op's error at the op, the schema, and a huge input stopped in time."""
from __future__ import annotations

import pytest

from app.examples import GRADCHECK_EXAMPLES
from tests.app.test_functional_http import _healthy_while, _zeros, answer_and_reference, srv  # noqa: F401 - the server fixture
from tests.engine.test_transforms import FUNCTIONS, same_verdict, wrong_backward
from tests.torch_functional_reference import gradcheck as torch_gradcheck


def against_torch(srv, spec):  # noqa: F811 - srv is the fixture
    r, ref = answer_and_reference(srv, "/v1/gradcheck", torch_gradcheck, spec)
    if ref is not None:
        got = r.json()
        assert same_verdict(got["gradcheck"], ref["gradcheck"])
        assert same_verdict(got["gradgradcheck"], ref["gradgradcheck"], random_grad_outputs=True)
    return r


@pytest.mark.parametrize("name", list(GRADCHECK_EXAMPLES))
def test_swagger_examples(srv, name):  # noqa: F811
    got = against_torch(srv, GRADCHECK_EXAMPLES[name]["value"]).json()
    assert got["gradcheck"]["ok"] is (name == "right_custom_backward")
    if not got["gradcheck"]["ok"]:
        assert "numerical:tensor(" in got["gradcheck"]["error"]["msg"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("options", [{}, {"fast_mode": True}, {"gradgrad": True}, {"eps": 1e-4, "atol": 1e-3},
                                     {"rtol": 0.6, "atol": 1.0}], ids=lambda o: ",".join(o) or "-")
@pytest.mark.parametrize("factor", [2, 3])
def test_custom_backward(srv, factor, options, dtype):  # noqa: F811
    against_torch(srv, {**wrong_backward(factor, dtype), **options})


@pytest.mark.parametrize("fn", ["mlp", "two_in_two_out"])
def test_tuple_inputs(srv, fn):  # noqa: F811
    spec = FUNCTIONS[fn]("float64")
    for n in spec["function"]["inputs"]:
        spec["leaves"][n]["requires_grad"] = True
    assert against_torch(srv, {**spec, "gradgrad": True}).json()["gradcheck"]["ok"]


def test_invalid_call_and_op_errors(srv):  # noqa: F811
    spec = wrong_backward(2)
    spec["leaves"]["x"]["requires_grad"] = False
    r = against_torch(srv, spec)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "function"]
    spec = {"leaves": {"x": {"data": [1.0, 2.0], "requires_grad": True}, "m": {"data": [[1.0, 2.0, 3.0]]}},
            "ops": [{"name": "y", "op": "exp", "args": ["x"]}, {"name": "z", "op": "matmul", "args": ["m", "y"]}],
            "function": {"inputs": "x", "output": "z"}}
    r = against_torch(srv, spec)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "ops", 1]


@pytest.mark.parametrize(("patch", "loc"), [({"eps": 0}, ["body", "eps"]), ({"atol": "1"}, ["body", "atol"]),
                                            ({"transform": "jacobian"}, ["body", "transform"]),
                                            ({"gradgrad": "yes"}, ["body", "gradgrad"]),
                                            ({"function": {"inputs": "y", "output": "y"}},
                                             ["body", "function", "inputs"])])
def test_request_errors(srv, patch, loc):  # noqa: F811
    r = srv.client.post("/v1/gradcheck", json={**wrong_backward(2), **patch})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc


def test_a_huge_input_stops_in_time(srv):  # noqa: F811
    # the numerical Jacobian of 10^5 x 10^5 elements, column by column (torch's order): its columns reach the
    # memory limit, or the time limit comes first; a scalar output instead needs 2 * 10^5 calls
    spec = {"leaves": {"x": {**_zeros(100_000), "requires_grad": True}},
            "ops": [{"name": "y", "op": "sin", "args": ["x"]}], "function": {"inputs": "x", "output": "y"}}
    r = _healthy_while(srv, spec, "/v1/gradcheck")
    assert r.status_code in (413, 504), r.text[:300]
    spec["ops"].append({"name": "s", "op": "sum", "args": ["y"]})
    spec["function"]["output"] = "s"
    r = _healthy_while(srv, spec, "/v1/gradcheck")
    assert r.status_code in (413, 504), r.text[:300]
