"""Red team of POST /v1/evaluate/batch's text path (engine.program.batch_text, batch_write): a real server, real
HTTP. Two oracles, never a hard-coded answer: each document's separate POST /v1/evaluate answer (status and
body byte for byte), and the same batch sent so that the text path cannot read it (its envelope's key written
`"\\u0072equests"`, which batch_text's head does not match: the whole body is parsed as before).

`make test` sends a third of the (dtype, number) pairs of the two edge tables (every dtype and every number still
runs: `crossed`); `make test-full` (GRADSERVE_TEST_FULL=1) sends them all."""
from __future__ import annotations

import json
import os
import random
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest

from tests.app.conftest import Server
from tests.app.test_batch_vectorized import separately, vectorized_count
from tests.engine.test_batch_vectorized import SEED, docs_of

JSON = {"content-type": "application/json"}
VECTORIZED: list = []  # per batch sent by assert_as_separately, its documents run vectorized
FULL = os.environ.get("GRADSERVE_TEST_FULL") == "1"


def crossed(kinds: list, numbers: list) -> list:
    """Every (kind, number) pair under `make test-full`; `make test` a third of them, chosen so that every kind
    and every number still runs (kind i with the numbers j where i + j is a multiple of 3)."""
    return [(*(k if isinstance(k, tuple) else (k,)), n) for i, k in enumerate(kinds) for j, n in enumerate(numbers)
            if FULL or (i + j) % 3 == 0]


BASE = {"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"}
RESPONSE_LIMITS = [1, 300, 2000, 5000, 20000]


@pytest.fixture(scope="module")
def srv():
    s = Server(BASE)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def limited():
    """A server per max_batch_response_bytes of RESPONSE_LIMITS, and one with max_tensor_elements 2 ("small"),
    three starting at a time (a server's start is most of what a test on it costs: ~2.4 s of CPU, its worker's
    included, much of its wall time waits), kept for the module; each test sends its own documents to its own
    server, as when each made one."""
    settings = {limit: {**BASE, "GRADSERVE_MAX_BATCH_RESPONSE_BYTES": str(limit)} for limit in RESPONSE_LIMITS}
    settings["small"] = {**BASE, "GRADSERVE_MAX_TENSOR_ELEMENTS": "2"}
    with ThreadPoolExecutor(3) as pool:
        futures = {k: pool.submit(Server, env) for k, env in settings.items()}
    servers = {}
    try:
        for k, f in futures.items():
            servers[k] = f.result()
        yield servers
    finally:
        for f in futures.values():
            if f.exception() is None:
                f.result().stop()


def batch_of(texts: list[bytes], sep: bytes = b",", key: bytes = b'"requests"') -> bytes:
    return b"{" + key + b": [" + sep.join(texts) + b"]}"


def whole(texts: list[bytes], sep: bytes = b",") -> bytes:
    """The same batch, read by the whole-body path (the text path's head wants the key's literal text)."""
    return batch_of(texts, sep, b'"\\u0072equests"')


def seeds(n: int, seed: int) -> list[bytes]:
    return [orjson.dumps(d) for d in docs_of(SEED, n, random.Random(seed), special=False)]


def post(client, body: bytes):
    return client.post("/v1/evaluate/batch", content=body, headers=JSON)


def assert_as_separately(client, texts: list[bytes], sep: bytes = b",", times: int = 2) -> None:
    """The batch (twice: the second time from known templates) answers each document as alone, and as the
    whole-body path does. The documents' separate answers are asked for once: the second batch is held to the
    same bytes (a document's answer alone does not depend on what the server saw before)."""
    alone = None
    for _ in range(times):
        before = vectorized_count(client)
        r = post(client, batch_of(texts, sep))
        VECTORIZED.append(vectorized_count(client) - before)
        assert r.status_code == 200
        if alone is None:
            alone = separately(client, texts)
        assert r.content == alone
        w = post(client, whole(texts, sep))
        assert (w.status_code, w.content) == (r.status_code, r.content)


# ----- numbers at the edges of the holes, against a known template -----

FLOAT_TEXTS = [b"1E5", b"1e+05", b"1e-05", b"-0.0", b"0.0", b"-0e0", b"1e99", b"-1e99", b"1e-99", b"4e-45",
               b"1.40129846432481707092372958328991613128026194187651577175706828388979108268586060148663818836212158203125e-45",
               b"9999999999999999999999999.5", b"0.1000000000000000055511151231257827021181583404541015625",
               b"1.0000000000000000000000000000000000000001", b"65504.0", b"65520.0", b"3.4028235e38", b"3.4028236e38",
               b"1" + b"0" * 24 + b".0", b"1" + b"0" * 25 + b".0", b"-1e-320", b"2.5E-3", b"123", b"-0"]


@pytest.mark.parametrize("number", FLOAT_TEXTS)
def test_a_float_scalar_leaf_at_the_edges(srv, number):
    texts = seeds(12, 1)  # after the template's first documents, and in a vectorized run
    texts = [_set_first(t, number) if j in (3, 7) else t for j, t in enumerate(texts)]
    assert_as_separately(srv.client, texts)


def _set_first(text: bytes, number: bytes) -> bytes:
    """The document with leaf a's data written as `number` (as text: kept exactly)."""
    head, _, rest = text.partition(b'"data":')
    end = min(i for i in (rest.find(b","), rest.find(b"}")) if i >= 0)
    return head + b'"data":' + number + rest[end:]


INT_LEAF_KINDS = [(None, False), ("int32", False), ("int64", False), ("float16", False), ("float32", False),
                  ("float64", True), (None, True), ("int16", False), ("uint8", False), ("int8", False)]
INT_EDGES = [b"-0", b"999999999999999999", b"-999999999999999999", b"2147483648", b"-2147483649", b"65536", b"256",
             b"-1", b"32768", b"1e5", b"2.5", b"0.0", b"-0.0", b"16777217", b"9007199254740993", b"123456789012345678",
             b"9223372036854775807", b"9223372036854775808", b"-9223372036854775809", b"1" + b"0" * 30]


@pytest.mark.parametrize(("dtype", "rg", "number"), crossed(INT_LEAF_KINDS, INT_EDGES))
def test_an_int_list_leaf_at_the_edges(srv, dtype, rg, number):
    leaf = {"data": [1, 2, 3], **({"dtype": dtype} if dtype else {}), **({"requires_grad": True} if rg else {})}
    doc = {"leaves": {"x": leaf, "k": {"data": [2, 2, 2], **({"dtype": dtype} if dtype else {})}},
           "ops": [{"name": "y", "op": "mul", "args": ["x", "k"]}, {"name": "z", "op": "add", "args": ["y", "x"]}]}
    if rg:
        doc["ops"].append({"name": "s", "op": "sum", "args": ["z"]})
        doc["backward"] = [{"tensor": "s"}]
    base = orjson.dumps(doc)
    texts = []
    for i in range(12):
        t = base.replace(b"[1,2,3]", b"[%d,2,%d]" % (i + 1, i), 1)
        if i in (4, 9):
            t = base.replace(b"[1,2,3]", b"[%s,2,%d]" % (number, i), 1)
        texts.append(t)
    assert_as_separately(srv.client, texts)


# ----- JSON that Python's raw_decode takes and the service's parse does not -----

@pytest.mark.parametrize("junk", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b'"\\ud800"'])
def test_a_body_that_is_not_json_is_refused_as_a_whole(srv, junk):
    texts = seeds(10, 2)
    texts[6] = texts[6].replace(b'"data":', b'"data":' + junk + b',"x":', 1)  # a leaf's extra field: not JSON
    r = post(srv.client, batch_of(texts))
    w = post(srv.client, whole(texts))
    assert w.status_code == 422 and w.json()["detail"][0]["type"] == "json_invalid"
    assert (r.status_code, r.json()["detail"][0]["type"]) == (w.status_code, "json_invalid")


# ----- the envelope and the separators -----

@pytest.mark.parametrize("tail", [b",]}", b"]}x", b"]},", b"] }\n", b"]}\x00", b"]]}", b"]}}", b"] , }"])
def test_the_end_of_the_body(srv, tail):
    texts = seeds(8, 3)
    body = b'{"requests":[' + b",".join(texts) + tail
    r = post(srv.client, body)
    w = post(srv.client, body.replace(b'"requests"', b'"\\u0072equests"', 1))
    assert (r.status_code, _shifted(r.content)) == (w.status_code, _shifted(w.content, 5))


def _shifted(content: bytes, by: int = 0):
    """An answer, a batch's error's offset in the body less `by` (the whole-body oracle's key is 5 bytes longer)."""
    out = orjson.loads(content)
    for d in out.get("detail", []):
        d["loc"] = [x - by if type(x) is int else x for x in d["loc"]]
    return out


def test_a_document_cut_mid_batch(srv):
    texts = seeds(8, 4)
    texts[5] = texts[5][:len(texts[5]) // 2]
    r = post(srv.client, batch_of(texts))
    w = post(srv.client, whole(texts))
    assert (r.status_code, r.json()["detail"][0]["type"]) == (w.status_code, w.json()["detail"][0]["type"])


def test_duplicate_keys_only_in_a_later_document(srv):
    texts = seeds(12, 5)
    assert_as_separately(srv.client, texts, times=1)  # the template known
    texts[8] = texts[8].replace(b'"requires_grad":true', b'"requires_grad":true,"requires_grad":false', 1)
    texts[10] = texts[10].replace(b'{"data":', b'{"d\\u0061ta":1.0,"data":', 1)
    assert_as_separately(srv.client, texts)


def test_escaped_names_that_read_as_the_templates(srv):
    texts = seeds(12, 6)
    assert_as_separately(srv.client, texts, times=1)
    texts[3] = texts[3].replace(b'"a":', b'"\\u0061":', 1)
    texts[5] = texts[5].replace(b'"args":["a"', b'"args":["\\u0061"', 1)
    texts[7] = texts[7].replace(b'"op":"mul"', b'"op":"m\\u0075l"', 1)
    texts[9] = texts[9].replace(b'"data":', b'"dat\\u0061":', 1)
    assert_as_separately(srv.client, texts)


# ----- the batch's limits inside a vectorized run -----

@pytest.mark.parametrize("limit", RESPONSE_LIMITS)
def test_the_response_size_limit_inside_a_run(limited, limit):
    s = limited[limit]
    texts = seeds(40, 7)
    # values the fast writer leaves to the writer (not finite, out of the fixed-point range) among them
    texts += [orjson.dumps(d) for d in docs_of(SEED, 40, random.Random(17), special=True)]
    for _ in range(3):
        r = post(s.client, batch_of(texts))
        w = post(s.client, whole(texts))
        assert (r.status_code, r.content) == (w.status_code, w.content)
        assert r.status_code == 200


def test_templates_of_one_server_limits_are_not_used_under_another(limited):
    # two servers, one process each: the second's limits are smaller; its answers are its own
    small = limited["small"]
    doc = {"leaves": {"x": {"data": [1.0, 2.0, 3.0]}}, "ops": [{"name": "y", "op": "exp", "args": ["x"]}]}
    texts = [orjson.dumps(doc).replace(b"1.0", b"%d.5" % i, 1) for i in range(10)]
    for _ in range(2):
        r = post(small.client, batch_of(texts))
        assert r.content == separately(small.client, texts)
        assert {x["status"] for x in r.json()["results"]} == {413}


def test_many_templates_and_many_documents_each(srv):
    # 16 structures (the most one batch makes) and 2 more, each in runs, interleaved
    docs = []
    for k in range(18):
        d = json.loads(json.dumps(SEED))
        d["ops"][0]["name"] = f"g{k}"
        d["ops"][-1]["args"] = [f"g{k}", "h"]
        docs.append(d)
    rng = random.Random(8)
    texts = []
    for _ in range(12):
        for k in rng.sample(range(18), 6):
            for v in rng.sample(range(1, 50), 4):
                texts.append(orjson.dumps(docs[k]).replace(b'"data":2.0', b'"data":%d.25' % v, 1))
    before = vectorized_count(srv.client)
    assert_as_separately(srv.client, texts)
    assert vectorized_count(srv.client) > before


FLOAT_INTO_INTS = [b"2.5", b"-2.5", b"3e9", b"1e20", b"255.9", b"256.5", b"-1.5", b"-0.0", b"1e-40", b"9.3e18",
                   b"-9.3e18", b"70000.0", b"1.0", b"2147483647.5", b"-2147483648.5", b"2147483648.0",
                   b"9223372036854775807.0", b"-9223372036854775808.0", b"-0.5", b"-1.0", b"255.5", b"256.0", b"-128.5",
                   b"-129.0", b"127.9", b"128.0"]


@pytest.mark.parametrize(("dtype", "number"), crossed(["int32", "int64", "uint8", "int8", "int16", "bool", "float16",
                                                       None], FLOAT_INTO_INTS))
@pytest.mark.parametrize("scalar", [False, True])
def test_float_data_of_an_integer_dtype(srv, dtype, number, scalar):
    # a float leaf's numbers read into float64 columns, then cast to the leaf's dtype as its own parse would be
    data = b"2.5" if scalar else b"[1, 2.5]"
    leaf = b'{"data": ' + data + (b', "dtype": "%s"' % dtype.encode() if dtype else b"") + b"}"
    k = b'{"data": 3' + (b', "dtype": "%s"}' % dtype.encode() if dtype else b".0}")  # x's dtype: no promotion
    base = (b'{"leaves": {"x": ' + leaf + b', "k": ' + k + b'}, "ops": [{"name": "y", "op": "mul", "args": '
            b'["x", "k"]}, {"name": "z", "op": "add", "args": ["y", "x"]}]}')
    texts = []
    for i in range(12):
        v = number if i in (4, 9) else b"%d.5" % i
        texts.append(base.replace(data, v if scalar else b"[1, %s]" % v, 1))
    assert_as_separately(srv.client, texts)


@pytest.mark.parametrize("small", [{"max_ops": 1}, {"max_tensor_elements": 2}, {"max_total_elements": 5},
                                   {"time_limit_s": 7.0}])
def test_templates_learned_under_other_limits_in_one_process(small):
    # two services in one process (templates are kept per process, per limits): each answers as its own
    from tests.app.test_batch import app_client  # noqa: PLC0415 - the in-process client of the batch tests

    doc = {"leaves": {"x": {"data": [0.5, 1.5, 2.5]}, "k": {"data": 2.0}},
           "ops": [{"name": "y", "op": "mul", "args": ["x", "k"]}, {"name": "z", "op": "tanh", "args": ["y"]}]}
    texts = [orjson.dumps(doc).replace(b"0.5", b"%d.25" % i, 1) for i in range(12)]
    with app_client() as big, app_client(**small) as other:
        for c in (big, other, big, other):
            r = post(c, batch_of(texts))
            assert r.status_code == 200
            assert r.content == separately(c, texts)


def test_one_bad_value_does_not_stop_a_structure_vectorizing_for_everyone(srv):
    # a structure no other test of this module sends (its own names: the module's server has seen the others'
    # structures, this one is new to it)
    base = (b'{"leaves": {"bv_x": {"data": 2.5, "dtype": "int32"}, "bv_k": {"data": 3, "dtype": "int32"}}, "ops": '
            b'[{"name": "bv_y", "op": "mul", "args": ["bv_x", "bv_k"]}, '
            b'{"name": "bv_z", "op": "add", "args": ["bv_y", "bv_x"]}]}')
    good = [base.replace(b"2.5", b"%d.5" % i) for i in range(12)]
    bad = good[:6] + [base.replace(b"2.5", b"3e9")] + good[6:]
    post(srv.client, whole(good))  # recorded and lowered
    post(srv.client, whole(bad))  # another client's batch, with one value past int32
    before = vectorized_count(srv.client)
    r = post(srv.client, batch_of(good))
    assert r.content == separately(srv.client, good)
    assert vectorized_count(srv.client) - before >= 10


def test_concurrent_batches_of_one_known_template(srv):
    # templates kept for later batches are copied per batch: batches at once never read each other's rows
    import httpx  # noqa: PLC0415

    batches = [seeds(60, 100 + k) for k in range(6)]
    post(srv.client, batch_of(batches[0]))  # the template known, the program lowered

    def send(texts):
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            return [post(c, batch_of(texts)).content for _ in range(3)]

    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(send, batches))
    for texts, answers in zip(batches, got):
        want = separately(srv.client, texts)
        assert all(a == want for a in answers)
