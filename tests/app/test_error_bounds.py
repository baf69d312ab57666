"""redteam16 F2 over real HTTP: a request of N bad entries answered N schema errors (~125 bytes each for an entry's
2-3 bytes; `backward: [0] x 340,000`, a 1 MB body, answered a 42.7 MB 422 and held GBs while Pydantic built them).
Now every list and dict of the schema stops at its first bad entry, an object holding more than KEYS_PAST_FIELDS
unknown keys is refused before Pydantic reads it (its first ones listed), and one 422 lists at most MAX_ERRORS.
Each form is sent with 2 bad entries (the errors Pydantic gives, unchanged) and with 200,000 (a few of the same
errors, a small answer, the server's peak memory not grown by the request's size)."""
from __future__ import annotations

import json

import pytest

from app.core.errors import MAX_ERRORS
from app.services.planning import KEYS_PAST_FIELDS
from tests.app.conftest import Server

JSON = {"content-type": "application/json"}
BIG = 200_000
LEAF = {"x": {"data": [1.0, 2.0], "requires_grad": True}}
OPS = [{"name": "y", "op": "sum", "args": ["x"]}]
FN = {"inputs": "x", "output": "y"}


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _post(srv, path, doc):
    return srv.client.post(path, content=json.dumps(doc, separators=(",", ":")).encode(), headers=JSON)


def _peak_kib(srv) -> int:
    with open(f"/proc/{srv.proc.pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def _extra(n):
    return {f"k{i}": 0 for i in range(n)}


# (path, document of n bad entries)
FORMS = {
    "backward ints": ("/v1/evaluate", lambda n: {"leaves": LEAF, "ops": OPS, "backward": [0] * n}),
    "outputs ints": ("/v1/evaluate", lambda n: {"leaves": LEAF, "ops": OPS, "outputs": [0] * n}),
    "grads ints": ("/v1/evaluate", lambda n: {"leaves": LEAF, "ops": OPS, "grads": [0] * n}),
    "retain_grad ints": ("/v1/evaluate", lambda n: {"leaves": LEAF, "ops": OPS, "retain_grad": [0] * n}),
    "op name ints": ("/v1/evaluate", lambda n: {"leaves": LEAF, "ops": [{"name": [0] * n, "op": "sum",
                                                                          "args": ["x"]}]}),
    "int leaves": ("/v1/evaluate", lambda n: {"leaves": {f"x{i}": 0 for i in range(n)}, "ops": []}),
    "top keys": ("/v1/evaluate", lambda n: {"leaves": LEAF, "ops": OPS, **_extra(n)}),
    "leaf keys": ("/v1/evaluate", lambda n: {"leaves": {"x": {"data": 1.0, **_extra(n)}}, "ops": []}),
    "op keys": ("/v1/evaluate", lambda n: {"leaves": LEAF, "ops": [{**OPS[0], **_extra(n)}]}),
    "backward keys": ("/v1/evaluate", lambda n: {"leaves": LEAF, "ops": OPS,
                                                 "backward": [{"tensor": "y", **_extra(n)}]}),
    "function inputs": ("/v1/functional", lambda n: {"leaves": LEAF, "ops": OPS, "transform": "jacobian",
                                                     "function": {"inputs": [0] * n, "output": "y"}}),
    "functional keys": ("/v1/functional", lambda n: {"leaves": LEAF, "ops": OPS, "transform": "jacobian",
                                                     "function": FN, **_extra(n)}),
    "gradcheck keys": ("/v1/gradcheck", lambda n: {"leaves": LEAF, "ops": OPS, "function": {**FN, **_extra(n)}}),
}


@pytest.mark.parametrize("form", FORMS)
def test_many_bad_entries_answer_a_few_errors(srv, form):
    path, make = FORMS[form]
    small = _post(srv, path, make(2))
    assert small.status_code == 422, small.text
    first = small.json()["detail"][0]
    before = _peak_kib(srv)
    r = _post(srv, path, make(BIG))
    assert r.status_code == 422, r.text[:300]
    detail = r.json()["detail"]
    assert detail[0] == first  # the first error is the one the small request gets
    assert len(detail) <= KEYS_PAST_FIELDS + 2
    assert len(r.content) < 8_192, len(r.content)
    # the body is 0.6-2 MB; N errors were ~1 KB each in the server (Pydantic's and their dicts)
    assert _peak_kib(srv) - before < 64 * 1024, (before, _peak_kib(srv))


@pytest.mark.parametrize("form", [f for f, (path, _) in FORMS.items() if path == "/v1/evaluate"])
def test_in_a_batch_document(srv, form):
    make = FORMS[form][1]
    r = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": [make(BIG), make(2)]}).encode(),
                        headers=JSON)
    assert r.status_code == 200, r.text[:300]
    big, small = r.json()["results"]
    assert big["status"] == small["status"] == 422
    assert big["body"]["detail"][0] == small["body"]["detail"][0]
    assert len(json.dumps(big["body"])) < 8_192


def test_keys_past_fields_boundary(srv):
    at = _post(srv, "/v1/evaluate", {"leaves": LEAF, "ops": OPS, **_extra(KEYS_PAST_FIELDS)})
    assert at.status_code == 422
    assert [e["loc"] for e in at.json()["detail"]] == [["body", f"k{i}"] for i in range(KEYS_PAST_FIELDS)]
    assert {e["msg"] for e in at.json()["detail"]} == {"Extra inputs are not permitted"}
    past = _post(srv, "/v1/evaluate", {"leaves": LEAF, "ops": OPS, **_extra(KEYS_PAST_FIELDS + 5)})
    detail = past.json()["detail"]
    assert detail[:-1] == at.json()["detail"]
    assert detail[-1]["loc"] == ["body"] and detail[-1]["msg"].startswith("5 more keys")


def test_errors_listed_are_capped(srv):
    # KEYS_PAST_FIELDS unknown keys in each of six objects: Pydantic reports them all, past MAX_ERRORS
    ex = _extra(KEYS_PAST_FIELDS)
    doc = {"leaves": {"x": {"data": 1.0, **ex}}, "ops": [{**OPS[0], **ex}], "backward": [{"tensor": "y", **ex}],
           "functions": {"F": {"forward": {"inputs": [], "output": "a", **ex},
                               "backward": {"inputs": [], "output": None, **ex}}},
           **ex}
    r = _post(srv, "/v1/evaluate", doc)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert len(detail) == MAX_ERRORS + 1
    assert detail[-1]["type"] == "too_many_errors"
    more = 6 * KEYS_PAST_FIELDS - MAX_ERRORS
    assert detail[-1]["msg"] == f"{more} more errors, not listed (at most {MAX_ERRORS} are)"


def test_batch_envelope_keys(srv):
    """review17 R10: the batch route checks its own top-level keys; 100,000 of them answered 100,000 errors."""
    small = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": [], **_extra(2)}).encode(),
                            headers=JSON)
    assert small.status_code == 422
    r = srv.client.post("/v1/evaluate/batch", content=json.dumps({"requests": [], **_extra(BIG)}).encode(),
                        headers=JSON)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail[:2] == small.json()["detail"] and len(detail) == KEYS_PAST_FIELDS + 1
    assert detail[-1]["msg"].startswith(f"{BIG - KEYS_PAST_FIELDS} more keys")
    assert len(r.content) < 8_192
