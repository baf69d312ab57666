"""API.md's wire contract, in process (TestClient): status codes, error shape, encoding, catalog, docs."""
from __future__ import annotations

import time

import orjson
import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.torch_reference import TorchFailure
from tests.torch_reference import evaluate as torch_evaluate


def only_error(r, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"detail"} and len(body["detail"]) >= 1
    for e in body["detail"]:
        assert set(e) == {"type", "loc", "msg"}, e
    return body["detail"][0]


def post(client, body, **kw):
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post("/v1/evaluate", content=content, headers={"content-type": "application/json"}, **kw)


# ----- 422: schema -----

@pytest.mark.parametrize("body, loc, type_", [
    ({"leaves": {"a": {"data": 1.0, "requires_grad": "yes"}}}, ["body", "leaves", "a", "requires_grad"],
     "bool_type"),
    ({"leaves": {"a": {"data": 1.0, "dtype": "float128"}}}, ["body", "leaves", "a", "dtype"],
     "literal_error"),
    ({"leaves": {"a": {}}}, ["body", "leaves", "a", "data"], "missing"),
    ({"ops": [{"name": "x", "args": []}]}, ["body", "ops", 0, "op"], "missing"),
    ({"ops": {"name": "x"}}, ["body", "ops"], "list_type"),
    ({"leaves": {"": {"data": 1.0}}}, ["body", "leaves", "", "[key]"], "string_too_short"),
    ({"leaves": {"a" * 129: {"data": 1.0}}}, ["body", "leaves", "a" * 129, "[key]"], "string_too_long"),
    ({"backward": [{"gradient": 1.0}]}, ["body", "backward", 0, "tensor"], "missing"),
    ({"device": "tpu"}, ["body", "device"], "literal_error"),
    ({"seed": 1.5}, ["body", "seed"], "int_type"),
    ([1, 2], ["body"], "model_type"),
])
def test_schema_errors(client, body, loc, type_):
    e = only_error(post(client, body), 422)
    assert (e["loc"], e["type"]) == (loc, type_), e


@pytest.mark.parametrize("body, loc", [
    ({"leaves": {}, "outputz": ["a"]}, ["body", "outputz"]),
    ({"leaves": {"a": {"data": 1.0, "require_grad": True}}}, ["body", "leaves", "a", "require_grad"]),
    ({"ops": [{"name": "b", "op": "neg", "args": [], "kwarg": {}}]}, ["body", "ops", 0, "kwarg"]),
    ({"backward": [{"tensor": "a", "retain": True}]}, ["body", "backward", 0, "retain"]),
])
def test_unknown_fields_are_rejected(client, body, loc):
    e = only_error(post(client, body), 422)
    assert e == {"type": "extra_forbidden", "loc": loc, "msg": "Extra inputs are not permitted"}


def test_error_bodies_do_not_echo_input(client):
    big = list(range(1000))
    r = post(client, {"leaves": {"a": {"data": big, "requires_grad": 3}}})
    assert len(r.content) < 500


# ----- 422: the engine's semantic checks -----

def test_ragged_data(client):
    e = only_error(post(client, {"leaves": {"a": {"data": [[1, 2], [3]]}}}), 422)
    assert e["loc"] == ["body", "leaves", "a"]
    with pytest.raises(TorchFailure) as want:
        torch_evaluate({"leaves": {"a": {"data": [[1, 2], [3]]}}})
    assert (e["type"], e["msg"]) == (want.value.type, want.value.msg)


def test_unknown_op(client):
    e = only_error(post(client, {"leaves": {"a": {"data": 1.0}}, "ops": [{"name": "b", "op": "frobnicate",
                                                                       "args": ["a"]}]}), 422)
    assert e["loc"][:3] == ["body", "ops", 0] and "frobnicate" in e["msg"]


def test_unknown_name(client):
    e = only_error(post(client, {"ops": [{"name": "b", "op": "neg", "args": ["nope"]}]}), 422)
    assert e["loc"][:3] == ["body", "ops", 0] and "nope" in e["msg"]


def test_duplicate_name(client):
    e = only_error(post(client, {"leaves": {"a": {"data": 1.0}}, "ops": [{"name": "a", "op": "neg",
                                                                       "args": ["a"]}]}), 422)
    assert e["loc"][:3] == ["body", "ops", 0] and "duplicate" in e["msg"]


@pytest.mark.parametrize("spec", [
    {"leaves": {"a": {"data": [1.0, 2.0, 3.0]}, "b": {"data": [[1.0, 2.0]]}},
     "ops": [{"name": "c", "op": "matmul", "args": ["a", "b"]}]},
    {"leaves": {"a": {"data": [1.0, 2.0]}}, "ops": [{"name": "b", "op": "sum", "args": ["a"]}],
     "backward": [{"tensor": "b"}]},
    {"leaves": {"a": {"data": [1.0, 2.0], "requires_grad": True}}, "ops": [{"name": "b", "op": "exp",
                                                                          "args": ["a"]}],
     "backward": [{"tensor": "b"}]},
    {"leaves": {"a": {"data": 2.0, "requires_grad": True}},
     "ops": [{"name": "b", "op": "exp", "args": ["a"]}],
     "backward": [{"tensor": "b"}, {"tensor": "b"}]},
    {"leaves": {"a": {"data": [1, 2], "dtype": "int64", "requires_grad": True}}},
])
def test_torch_errors_have_torch_type_msg_and_loc(client, spec):
    e = only_error(post(client, spec), 422)
    with pytest.raises(TorchFailure) as want:
        torch_evaluate(spec)
    assert e == {"type": want.value.type, "loc": want.value.loc, "msg": want.value.msg}


# ----- 422: JSON itself -----

@pytest.mark.parametrize("body", [b"{", b"{'a': 1}", b"[1,]", b'{"device": NaN}', b"\xff\xfe"])
def test_invalid_json(client, body):
    e = only_error(post(client, body), 422)
    assert e["type"] == "json_invalid"


def test_empty_body(client):
    assert only_error(post(client, b""), 422)["type"] == "missing"


@pytest.mark.parametrize("body, key", [
    (b'{"leaves": {}, "leaves": {}}', "leaves"),
    (b'{"leaves": {"a": {"data": 1, "data": 2}}}', "data"),
    (b'{"ops": [{"name": "x", "op": "neg", "args": [], "kwargs": {"dim": 0, "dim": 1}}]}', "dim"),
])
def test_duplicate_keys(client, body, key):
    e = only_error(post(client, body), 422)
    assert e["type"] == "json_invalid" and repr(key) in e["msg"]


def test_duplicate_keys_are_refused_after_the_same_structure_ran(client):
    """A cached program skips the duplicate-key parse only where the body's colons match its structure's
    and no \\u escape could hide one (app.core.body.colons_known)."""
    ok = {"leaves": {"a": {"data": 1.0, "requires_grad": True}},
          "ops": [{"name": "y:", "op": "exp", "args": ["a"]}], "outputs": ["a"]}
    for _ in range(2):  # the second runs the stored program
        assert post(client, ok).status_code == 200
    dup = (b'{"leaves": {"a": {"data": 2.0, "requires_grad": true, "requires_grad": true}}, '
           b'"ops": [{"name": "y:", "op": "exp", "args": ["a"]}], "outputs": ["a"]}')
    assert "requires_grad" in only_error(post(client, dup), 422)["msg"]
    # the same colon count as `ok`: a key twice, and a colon written as \u003a
    hidden = (b'{"leaves": {"a": {"data": 2.0, "requires_grad": true, "requires_grad": true}}, '
              b'"ops": [{"name": "y\\u003a", "op": "exp", "args": ["a"]}], "outputs": ["a"]}')
    assert hidden.count(b":") == orjson.dumps(ok).count(b":")
    assert "requires_grad" in only_error(post(client, hidden), 422)["msg"]


@pytest.mark.parametrize("bad", [b"1", b"1.0"])
def test_schema_still_checked_after_the_same_structure_ran(client, bad):
    """1 == 1.0 == True in Python: a cached program must not take `"requires_grad": 1` for `true`."""
    ok = (b'{"leaves": {"q": {"data": [1.0], "requires_grad": true}}, '
          b'"ops": [{"name": "s", "op": "sum", "args": ["q"]}]}')
    for _ in range(2):
        assert post(client, ok).status_code == 200
    e = only_error(post(client, ok.replace(b"true", bad)), 422)
    assert e["loc"][-1] == "requires_grad"


def test_colons_and_quotes_inside_strings_are_not_keys(client):
    body = rb'{"leaves": {"a:\"b\\": {"data": 1.0}}, "outputs": ["a:\"b\\"]}'
    r = post(client, body)
    assert r.status_code == 200, r.text
    assert list(r.json()["tensors"]) == ['a:"b\\']


@pytest.mark.parametrize("depth", [2000, 100_000])
def test_deep_nesting_is_a_clean_4xx(client, depth):
    t0 = time.monotonic()
    r = post(client, b"[" * depth + b"]" * depth)
    assert 400 <= r.status_code < 500 and time.monotonic() - t0 < 5
    only_error(r, r.status_code)


def test_deep_data_nesting_below_the_json_limit(client):
    depth = 900
    data = "[" * depth + "1.0" + "]" * depth
    r = post(client, f'{{"leaves": {{"a": {{"data": {data}}}}}}}'.encode())
    assert 400 <= r.status_code < 500, r.text[:300]
    only_error(r, r.status_code)


# ----- 413 -----

def test_huge_expand_is_refused_before_allocation(client):
    t0 = time.monotonic()
    r = post(client, {"leaves": {"a": {"data": [1.0]}},
                      "ops": [{"name": "e", "op": "expand", "args": ["a", [1_000_000, 1_000_000]]}]})
    e = only_error(r, 413)
    assert time.monotonic() - t0 < 5
    assert "10000000" in e["msg"] and "max_tensor_elements" in e["msg"]



@pytest.mark.parametrize("op,x,w,kwargs", [
    ("conv_transpose2d", [[[[1.0, 2.0], [3.0, 4.0]]]], [[[[1.0]]]], {"stride": 10**6, "output_padding": 10**6 - 1}),
    ("conv_transpose2d", [[[[1.0, 2.0], [3.0, 4.0]]]], [[[[1.0]]]], {"dilation": 10**6, "output_padding": 10**6 - 1}),
    ("conv_transpose2d", [[[[1.0]]]], [[[[1.0]]]], {"stride": 10**12, "output_padding": 10**12 - 1}),
    ("conv_transpose1d", [[1.0, 2.0]], [[[1.0]]], {"stride": 10**9, "output_padding": 10**9 - 1}),
])
def test_huge_transposed_convolution_is_refused_by_its_rule(client, op, x, w, kwargs):
    """A stride / dilation / output_padding that blows a 2x2 input up to 10^12 elements and more is the op's
    shape rule's 413 (the limit, at the op), before anything is allocated or run."""
    t0 = time.monotonic()
    r = post(client, {"leaves": {"x": {"data": x, "requires_grad": True}, "w": {"data": w}},
                      "ops": [{"name": "y", "op": op, "args": ["x", "w"], "kwargs": kwargs}]})
    e = only_error(r, 413)
    assert time.monotonic() - t0 < 5
    assert e["loc"] == ["body", "ops", 0] and "max_tensor_elements" in e["msg"]
    # the same request at a sane size runs and answers as torch
    small = {k: 1 if k == "output_padding" else 2 for k in kwargs}  # stride or dilation 2
    spec = {"leaves": {"x": {"data": x, "requires_grad": True}, "w": {"data": w}},
            "ops": [{"name": "y", "op": op, "args": ["x", "w"], "kwargs": small},
                    {"name": "s", "op": "sum", "args": ["y"]}], "backward": [{"tensor": "s"}]}
    r = post(client, spec)
    assert r.status_code == 200, r.text[:300]
    want = torch_evaluate(spec)["tensors"]
    got = r.json()["tensors"]
    assert got["y"]["data"] == want["y"]["data"] and got["x"]["grad"] == want["x"]["grad"]
    assert got["y"]["grad_fn"] == want["y"]["grad_fn"]

def test_body_and_op_limits():
    app = create_app(Settings(compute_workers=0, max_body_bytes=1000, max_ops=3, max_total_elements=10))
    with TestClient(app) as c:
        e = only_error(post(c, b'{"leaves": {"a": {"data": [' + b"1," * 1000 + b"1]}}}"), 413)
        assert "max_body_bytes=1000" in e["msg"]
        ops = [{"name": f"o{i}", "op": "neg", "args": ["a"]} for i in range(4)]
        e = only_error(post(c, {"leaves": {"a": {"data": 1.0}}, "ops": ops}), 413)
        assert e["loc"] == ["body", "ops"] and "3" in e["msg"]
        e = only_error(post(c, {"leaves": {"a": {"data": list(range(11))}}}), 413)
        assert "10" in e["msg"] and "max_total_elements" in e["msg"]


# ----- 503 -----

def test_cuda_without_gpu(client):
    from app.services.engine import cuda_status

    if cuda_status()[0]:
        pytest.skip("this machine has a usable GPU")
    e = only_error(post(client, {"device": "cuda", "leaves": {"a": {"data": 1.0}}}), 503)
    assert e["type"] == "device_unavailable" and e["loc"] == ["body", "device"]


# ----- special numbers -----

def test_nan_and_infinity_round_trip(client):
    spec = {"leaves": {"a": {"data": [0.0, 1.0, "NaN", "Infinity", "-Infinity"], "requires_grad": True}},
            "ops": [{"name": "l", "op": "log", "args": ["a"]}, {"name": "s", "op": "sum", "args": ["l"]}],
            "backward": [{"tensor": "s"}]}
    r = post(client, spec)
    assert r.status_code == 200, r.text
    assert b"NaN," not in r.content.replace(b'"NaN"', b"")  # no bare NaN/Infinity tokens: strict JSON
    t = r.json()["tensors"]
    want = torch_evaluate(spec)["tensors"]
    assert t["a"]["data"] == [0.0, 1.0, "NaN", "Infinity", "-Infinity"]
    assert t["l"]["data"] == want["l"]["data"] == ["-Infinity", 0.0, "NaN", "Infinity", "NaN"]
    assert t["a"]["grad"] == want["a"]["grad"]
    assert t["s"]["data"] == "NaN"


# ----- other endpoints -----

def test_ops_catalog(client):
    r = client.get("/v1/ops")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    ops = {o["name"]: o for o in r.json()}
    assert ops["mul"]["grad_fn"] == ["MulBackward0"]
    assert "MmBackward0" in ops["mm"]["grad_fn"]
    for o in ops.values():
        assert set(o) >= {"name", "signature", "grad_fn", "description"} and o["description"]


def test_health_and_ready(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    # open server: nobody holds a key, so /readyz says ready and nothing else (issue 14, item 9)
    assert client.get("/readyz").json() == {"status": "ready"}
    with TestClient(create_app(Settings(compute_workers=1, api_keys="k1"))) as keyed:
        assert keyed.get("/readyz").json() == {"status": "ready"}
        assert keyed.get("/readyz", headers={"x-api-key": "wrong"}).json() == {"status": "ready"}
        r = keyed.get("/readyz", headers={"x-api-key": "k1"}).json()
    assert r["status"] == "ready"
    assert r["backends"]["numpy"] is True and isinstance(r["backends"]["cupy"], bool)
    assert isinstance(r["backends"]["cupy_reason"], str)
    assert r["workers"]["size"] == 1 and r["workers"]["alive"] == 1


def test_not_found_has_the_error_shape(client):
    assert only_error(client.get("/v1/nope"), 404)["type"] == "not_found"
    assert only_error(client.get("/v1/evaluate"), 405)["type"] == "method_not_allowed"


def test_docs_pages_are_served_without_a_cdn(client):
    for path in ("/docs", "/redoc"):
        r = client.get(path)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert "cdn.jsdelivr.net" not in r.text and "fonts.googleapis" not in r.text
    assert client.get("/static/docs/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/docs/redoc.standalone.js").status_code == 200


def test_openapi_describes_every_field_and_carries_the_examples(client):
    from app.examples import EXAMPLES

    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v1/evaluate"]["post"]
    media = op["requestBody"]["content"]["application/json"]
    assert media["schema"] == {"$ref": "#/components/schemas/EvaluateRequest"}
    assert set(media["examples"]) == set(EXAMPLES)
    assert {"200", "413", "422", "503", "504"} <= set(op["responses"])
    schemas = doc["components"]["schemas"]
    for name in ("EvaluateRequest", "LeafSpec", "OpSpec", "BackwardSpec", "EvaluateResponse", "TensorOut",
                 "ErrorResponse", "OpInfo", "Ready"):
        assert name in schemas
    missing = [f"{s}.{p}" for s, schema in schemas.items() for p, prop in schema.get("properties", {}).items()
               if not prop.get("description")]
    assert not missing, missing


def test_unexpected_errors_are_a_clean_logged_500(caplog):
    app = create_app(Settings(compute_workers=0))

    @app.get("/boom")
    async def boom():
        raise KeyError("internal detail")

    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level("ERROR", logger="gradserve"):
        r = c.get("/boom")
    e = only_error(r, 500)
    assert e["type"] == "internal_error" and "KeyError" in e["msg"] and "internal detail" not in e["msg"]
    assert any(rec.exc_info and rec.exc_info[0] is KeyError for rec in caplog.records)
