"""Every Swagger example of POST /v1/evaluate answers as PyTorch 2.13 does."""
from __future__ import annotations

import math

import pytest

from app.examples import EXAMPLES
from tests.engine.test_plans import _revalue as revalue
from tests.torch_reference import TorchFailure
from tests.torch_reference import evaluate as torch_evaluate

OK_EXAMPLES = [k for k in EXAMPLES if not k.startswith("error")]
ERROR_EXAMPLES = [k for k in EXAMPLES if k.startswith("error")]


def close(a, b) -> bool:
    """Nested data equal to float32 precision, the special-number strings exactly."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)


@pytest.mark.parametrize("name", OK_EXAMPLES)
def test_example_matches_torch(client, name):
    spec = EXAMPLES[name]["value"]
    r = client.post("/v1/evaluate", json=spec)
    assert r.status_code == 200, r.text
    got, want = r.json(), torch_evaluate(spec)
    assert set(got["tensors"]) == set(want["tensors"])
    for n, w in want["tensors"].items():
        g = got["tensors"][n]
        for field in ("shape", "dtype", "requires_grad", "is_leaf", "grad_fn", "retains_grad"):
            assert g[field] == w[field], (n, field, g[field], w[field])
        assert close(g["data"], w["data"]), (n, g["data"], w["data"])
        assert close(g["grad"], w["grad"]), (n, g["grad"], w["grad"])
    assert got["warnings"] == want["warnings"]
    assert got["device"] == "cpu"


@pytest.mark.parametrize("name", OK_EXAMPLES)
def test_example_again_with_other_values_matches_torch(client, name):
    """The second request of a structure runs its recorded program (the plan cache): other leaf values,
    still torch's answer, reprs included."""
    spec = EXAMPLES[name]["value"]
    assert client.post("/v1/evaluate", json=spec).status_code == 200
    twin = revalue(spec, 5)
    try:
        want = torch_evaluate(twin)
    except TorchFailure:
        pytest.skip("torch refuses these values")
    r = client.post("/v1/evaluate", json=twin)
    assert r.status_code == 200, r.text
    got = r.json()
    for n, w in want["tensors"].items():
        g = got["tensors"][n]
        for field in ("shape", "dtype", "requires_grad", "is_leaf", "grad_fn", "retains_grad"):
            assert g[field] == w[field], (n, field, g[field], w[field])
        assert close(g["data"], w["data"]) and close(g["grad"], w["grad"]), n
        if w.get("repr") is not None and g["dtype"] != "float16":
            assert g["repr"] == w["repr"], (n, g["repr"], w["repr"])
    assert got["warnings"] == want["warnings"] and got["graph"] == want["graph"]


def test_leaf_grads_example_numbers(client):
    r = client.post("/v1/evaluate", json=EXAMPLES["leaf_grads"]["value"])
    t = r.json()["tensors"]
    grads = {n: t[n]["grad"] for n in "abcde"}
    assert grads == pytest.approx({"a": 4.0, "b": 2.0, "c": 6.4, "d": 9.6, "e": -3.84})
    assert t["f"]["data"] == pytest.approx(46.4)


def test_xT_example_carries_the_warning(client):
    r = client.post("/v1/evaluate", json=EXAMPLES["xT_matmul_x"]["value"])
    (w,) = r.json()["warnings"]
    assert w["category"] == "UserWarning"
    assert w["message"].startswith("The use of `x.T` on tensors of dimension")


@pytest.mark.parametrize("name", ERROR_EXAMPLES)
def test_error_example_is_torch_error(client, name):
    spec = EXAMPLES[name]["value"]
    r = client.post("/v1/evaluate", json=spec)
    assert r.status_code == 422
    with pytest.raises(TorchFailure) as want:
        torch_evaluate(spec)
    assert r.json() == {"detail": [{"type": want.value.type, "loc": want.value.loc, "msg": want.value.msg}]}


def js_json(x):
    """What a browser's JSON.stringify sends: integral floats lose their `.0`."""
    if isinstance(x, dict):
        return {k: js_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [js_json(v) for v in x]
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_examples_survive_swagger_ui(client, name):
    """Swagger UI's Try-it-out posts the example through JavaScript: the answer must not change."""
    spec = EXAMPLES[name]["value"]
    a = client.post("/v1/evaluate", json=spec)
    b = client.post("/v1/evaluate", json=js_json(spec))
    assert (a.status_code, a.json()) == (b.status_code, b.json())
