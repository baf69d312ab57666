"""redteam12 F6: an int64 leaf whose data mixes a float with an integer of magnitude 2**53 or more (that a double
does not hold exactly) answered 200 with the integer rounded (2**63 - 1 wrapped to -2**63): the service read the
list as one float64 array and cast it. torch.tensor converts each Python int exactly. Checked on a real server on
each route a body can take: the JSON parse (a first body), the text path of a known structure (a body after the
same structure with small numbers was answered: app/services/bytext.py), and a batch of one template
(engine/program/batch_text.py); values against torch.tensor."""
from __future__ import annotations

import json

import pytest
import torch

from tests.app.conftest import Server

BIG = [9223372036854775807, 9007199254740993, 123456789012345678, -99999999999999999, 2**53 + 3, -(2**53) - 1]
TEMPLATE = '{"leaves":{"a":{"data":[1.5,%s],"dtype":"int64"}},"ops":[{"name":"m","op":"mul","args":["a",2]}]}'


@pytest.fixture(scope="module")
def srv():
    s = Server({"GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def _expected(n: int) -> dict:
    a = torch.tensor([1.5, n], dtype=torch.int64)
    return {"a": a.tolist(), "m": (a * 2).tolist()}


def _got(body: dict) -> dict:
    return {k: body["tensors"][k]["data"] for k in ("a", "m")}


def _post(srv, text: str):
    return srv.client.post("/v1/evaluate", content=text.encode(), headers={"content-type": "application/json"})


def test_singles_keep_each_integer_exact(srv):
    for k in range(8):  # the structure answered with small numbers: its plan and text template are made
        assert _post(srv, TEMPLATE % (k + 1)).status_code == 200
    for n in BIG:
        r = _post(srv, TEMPLATE % n)
        assert r.status_code == 200, r.text[:200]
        assert _got(r.json()) == _expected(n), n
    nested = '{"leaves":{"a":{"data":[[0.5,123456789012345678]],"dtype":"int64"}},"ops":[]}'
    r = _post(srv, nested)
    assert r.json()["tensors"]["a"]["data"] == torch.tensor([[0.5, 123456789012345678]], dtype=torch.int64).tolist()


def test_a_batch_keeps_each_integer_exact(srv):
    docs = [TEMPLATE % n for n in [3, 4, *BIG, 5, 6, *BIG]]
    r = srv.client.post("/v1/evaluate/batch", content=('{"requests":[' + ",".join(docs) + "]}").encode(),
                        headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text[:200]
    for d, res in zip(docs, r.json()["results"]):
        n = json.loads(d)["leaves"]["a"]["data"][1]
        assert res["status"] == 200 and _got(res["body"]) == _expected(n), (n, res)


# redteam12 F8: whole numbers past 2**53 into a float32 leaf (explicit, or a requires_grad leaf of whole numbers)
# round as torch.tensor's (through a double) on the JSON route, a plan's replay, the text path and a batch
N = 2**60 + 2**36 + 1
F8_TEMPLATE = '{"leaves":{"a":{"data":[%s,3],"dtype":"float32"}},"ops":[{"name":"m","op":"mul","args":["a",2.0]}]}'
F8_WHOLE = ('{"leaves":{"a":{"data":[%s,3],"requires_grad":true}},"ops":[{"name":"m","op":"mul","args":["a",2.0]},'
            '{"name":"s","op":"sum","args":["m"]}],"backward":[{"tensor":"s"}]}')
F8_NUMBERS = [N, -N, 2**59 + 2**35 + 1, 123456789012345678, 5]


def _f8_expected(n: int) -> dict:
    a = torch.tensor([n, 3], dtype=torch.float32)
    return {"a": a.tolist(), "m": (a * 2.0).tolist()}


@pytest.mark.parametrize("template", [F8_TEMPLATE, F8_WHOLE])
def test_whole_numbers_into_float32_round_as_torch_on_every_route(srv, template):
    for k in range(8):
        assert _post(srv, template % (k + 1)).status_code == 200
    for n in F8_NUMBERS:
        r = _post(srv, template % n)
        assert r.status_code == 200 and _got(r.json()) == _f8_expected(n), (n, r.text[:300])
    docs = [template % n for n in [3, 4, *F8_NUMBERS, 6, *F8_NUMBERS]]
    r = srv.client.post("/v1/evaluate/batch", content=('{"requests":[' + ",".join(docs) + "]}").encode(),
                        headers={"content-type": "application/json"})
    for d, res in zip(docs, r.json()["results"]):
        n = json.loads(d)["leaves"]["a"]["data"][0]
        assert res["status"] == 200 and _got(res["body"]) == _f8_expected(n), (n, res)
