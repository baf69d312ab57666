"""gradserve.client against real servers on ports: results and errors as PyTorch gives them, the builder's
operators recorded as torch.Tensor records them, API keys, retries (a full server, a dropped connection),
batch() in concurrent chunks, the async client."""
from __future__ import annotations

import asyncio
import collections
import socket
import threading

import pytest
import torch

from gradserve import AsyncClient, Client, Retry, TorchIndexError, TorchRuntimeError
from gradserve.cli import grad_repr
from gradserve.errors import InvalidRequest, LimitExceeded, TransportError, Unauthorized, Unavailable
from tests.app.conftest import SLOW_LIMITS, TEST_KEY, Server, cheap_program, in_thread, slow_program, wait_until
from tests.torch_reference import TorchFailure
from tests.torch_reference import evaluate as torch_evaluate


@pytest.fixture(scope="module")
def live():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def torch_graph_names(t: torch.Tensor) -> collections.Counter:
    """Names of every grad_fn node reachable from t (each node once), as PyTorch builds the graph."""
    seen, stack, names = set(), [t.grad_fn], collections.Counter()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names[node.name().rsplit("::", 1)[-1]] += 1
        stack.extend(n for n, _ in node.next_functions)
    return names


# Each case is PyTorch code over (namespace, a, b): run once with torch and real tensors, once with the
# builder's namespace and recorded tensors.
CASES = {
    "seed formula": lambda ns, a, b: a * b + 2 - a.exp(),
    "reflected operators": lambda ns, a, b: 2 / a + 2 ** b - (2 - a) + 3 * a + (1 + b),
    "unary and powers": lambda ns, a, b: abs(-a) * b ** 2 - a / 2,
    "vectors": lambda ns, a, b: (a @ b) + (a * b).sum(0) + ns.softmax(a, dim=0)[1] * 3,
    "indexing": lambda ns, a, b: a[1:].sum() * b[0] + a[-1],
    "comparison then mask": lambda ns, a, b: ns.where(a > b, a, b).sum(),
}
VECTOR_CASES = {"vectors", "indexing", "comparison then mask"}


@pytest.mark.parametrize("case", list(CASES))
def test_builder_records_operators_as_pytorch_does(live, case):
    fn = CASES[case]
    va, vb = ([1.0, 2.5, -0.5], [0.5, -1.0, 2.0]) if case in VECTOR_CASES else (2.0, 4.0)
    a, b = torch.tensor(va, requires_grad=True), torch.tensor(vb, requires_grad=True)
    f = fn(torch, a, b)
    f.backward()

    with Client(live.url) as client:
        with client.program() as p:
            pa, pb = p.tensor(va, requires_grad=True, name="a"), p.tensor(vb, requires_grad=True, name="b")
            pf = fn(p.torch, pa, pb).rename("f")
            pf.backward()
        r = p.run()
    assert r.repr(pf) == repr(f)
    assert r.tensor(pf).grad_fn == f.grad_fn.name()
    for mine, theirs in ((pa, a), (pb, b)):
        assert grad_repr(r.grad(mine), "float32") == repr(theirs.grad)
    assert collections.Counter(n.name for n in r.graph) == torch_graph_names(f)


def test_builder_backward_mid_program_and_no_grad_are_v11_lines():
    # build() alone: a backward followed by more lines becomes a `backward` op, a no_grad block marks its ops.
    from gradserve import Program

    with Program() as p:
        w = p.tensor([1.0, 2.0], requires_grad=True, name="w")
        loss = (w * w).sum()
        loss.backward()
        with p.no_grad():
            w.sub_(w.grad * 0.1)
        w[0] = 5.0
    doc = p.build()
    assert [o["op"] for o in doc["ops"]] == ["mul", "sum", "backward", "grad", "mul", "sub_", "setitem"]
    assert doc["ops"][2] == {"op": "backward", "args": [loss.name]}
    assert all(o.get("no_grad") for o in doc["ops"][3:6]) and "no_grad" not in doc["ops"][6]
    assert doc["ops"][6] == {"op": "setitem", "args": ["w", 0, 5.0]} and "backward" not in doc
    with Program() as q, pytest.raises(TypeError, match="truth value"):
        bool(q.tensor(1.0) > 1)
    with pytest.raises(RuntimeError, match="`with` block has ended"):
        p.tensor(1.0)
    with pytest.raises(AttributeError, match="known only after run"):
        w.shape  # noqa: B018


def flat(x) -> list:
    return [v for item in x for v in flat(item)] if isinstance(x, list) else [x]


def test_results_and_errors_match_pytorch(live):
    program = {"leaves": {"x": {"data": [[1.0, "NaN"], [3.0, "Infinity"]], "requires_grad": True},
                          "w": {"data": [0.5, -2.0], "dtype": "float64"}},
               "ops": [{"name": "y", "op": "exp", "args": ["x"]}, {"name": "s", "op": "sum", "args": ["y"]}],
               "backward": [{"tensor": "s"}]}
    expected = torch_evaluate(program)
    with Client(live.url) as client:
        r = client.evaluate(program)
        base64 = client.evaluate(program, encoding="base64")
    for name, t in expected["tensors"].items():
        assert r[name].repr == t["repr"] and r[name].shape == tuple(t["shape"]) and r[name].dtype == t["dtype"]
        assert repr(r[name]) == t["repr"]
        assert flat(base64[name].data) == pytest.approx(flat(r[name].data), nan_ok=True)  # decoded without NumPy
    assert r.value("x")[0][1] != r.value("x")[0][1] and r.value("x")[1][1] == float("inf")  # NaN, inf
    assert r["s"].item() != r["s"].item()  # NaN, as torch's s.item()

    bad = {"leaves": {"a": {"data": [1.0, 2.0]}, "b": {"data": [1.0, 2.0, 3.0]}},
           "ops": [{"name": "c", "op": "mul", "args": ["a", "b"]}]}
    with pytest.raises(TorchFailure) as oracle:
        torch_evaluate(bad)
    with Client(live.url) as client, pytest.raises(RuntimeError) as caught:
        client.evaluate(bad)
    e = caught.value
    assert isinstance(e, TorchRuntimeError) and e.type == oracle.value.type == "RuntimeError"
    assert str(e) == e.msg == oracle.value.msg and e.loc == ["body", "ops", 0] and e.status == 422

    index = {"leaves": {"a": {"data": [1.0, 2.0]}}, "ops": [{"name": "c", "op": "getitem", "args": ["a", 5]}]}
    with pytest.raises(TorchFailure) as oracle:
        torch_evaluate(index)
    with Client(live.url) as client, pytest.raises(IndexError) as caught:
        client.evaluate(index)
    assert isinstance(caught.value, TorchIndexError) and str(caught.value) == oracle.value.msg
    with Client(live.url) as client, pytest.raises(InvalidRequest) as caught:
        client.evaluate({"leafs": {}})
    assert caught.value.type == "extra_forbidden" and caught.value.loc == ["body", "leafs"]


def test_api_keys():
    s = Server({"GRADSERVE_API_KEYS": "k-one,k-two", "GRADSERVE_COMPUTE_WORKERS": "0"})
    try:
        with Client(s.url) as anonymous, pytest.raises(Unauthorized) as caught:
            anonymous.evaluate(cheap_program())
        assert caught.value.status == 401 and caught.value.loc == ["header", "authorization"]
        with Client(s.url, api_key="wrong") as wrong, pytest.raises(Unauthorized, match="not valid"):
            wrong.evaluate(cheap_program())
        with Client(s.url, api_key="k-two") as keyed:
            assert keyed.evaluate(cheap_program()).grad("a") == 3.0
            assert keyed.batch([cheap_program()])[0].grad("a") == 3.0
    finally:
        s.stop()


def test_retries_on_503_with_retry_after_until_the_server_has_room():
    s = Server({"GRADSERVE_TIME_LIMIT_S": "2", "GRADSERVE_MAX_IN_FLIGHT": "1", "GRADSERVE_COMPUTE_WORKERS": "1",
                "GRADSERVE_RETRY_AFTER_S": "1", **SLOW_LIMITS}, api_key=TEST_KEY)
    try:
        slow, box = in_thread(s.client.post, "/v1/evaluate", json=slow_program())
        assert wait_until(lambda: s.ready()["workers"]["in_flight"] == 1, 10)
        with Client(s.url, retry=0, api_key=TEST_KEY) as impatient, pytest.raises(Unavailable) as caught:
            impatient.evaluate(cheap_program())
        assert caught.value.status == 503 and caught.value.retry_after == 1.0
        assert caught.value.type == "over_capacity"
        with Client(s.url, retry=Retry(attempts=30, backoff=0.1, max_delay=1.0), api_key=TEST_KEY) as patient:
            r = patient.evaluate(cheap_program())  # refused while the slow one runs, then served
            assert r.grad("a") == 3.0
            assert patient.attempts_made >= 2
        slow.join(30)
        assert box and box[0].status_code == 504
    finally:
        s.stop()


class DroppingProxy:
    """A TCP proxy to `target` that closes its first `drop` connections as soon as it has read a request
    from them (a replica dying mid-request), and relays every later one."""

    def __init__(self, target_port: int, drop: int):
        self.target_port, self.drop = target_port, drop
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self.drop:
                conn.recv(65536)
                conn.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for src, dst in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept (close alone leaves the port listening)
        self.sock.close()


def test_retries_a_connection_that_broke_before_the_answer(live):
    proxy = DroppingProxy(live.port, drop=1)
    try:
        with Client(f"http://127.0.0.1:{proxy.port}", retry=Retry(attempts=3, backoff=0.05)) as c:
            assert c.evaluate(cheap_program()).grad("a") == 3.0
            assert c.attempts_made == 2 and proxy.accepted == 2
    finally:
        proxy.close()
    proxy = DroppingProxy(live.port, drop=1)
    try:
        with Client(f"http://127.0.0.1:{proxy.port}", retry=Retry(attempts=3, broken_connections=False)) as c, \
                pytest.raises(TransportError, match="after 1 attempt"):
            c.evaluate(cheap_program())
    finally:
        proxy.close()
    with Client(f"http://127.0.0.1:{proxy.port}", retry=Retry(attempts=2, backoff=0.01)) as c, \
            pytest.raises(TransportError, match="ConnectError.*after 2 attempt"):
        c.evaluate(cheap_program())  # nothing listens there any more


def _docs(n: int) -> list[dict]:
    """n programs with other values; every seventh fails (shape mismatch), every eleventh is invalid."""
    out = []
    for i in range(n):
        if i % 11 == 5:
            out.append({"leaves": {"a": {"data": 1.0}}, "opz": []})
        elif i % 7 == 3:
            out.append({"leaves": {"a": {"data": [1.0, 2.0]}, "b": {"data": [1.0, 2.0, 3.0]}},
                        "ops": [{"name": "c", "op": "mul", "args": ["a", "b"]}]})
        else:
            out.append({"leaves": {"a": {"data": float(i), "requires_grad": True}, "b": {"data": 0.5 * i}},
                        "ops": [{"name": "c", "op": "mul", "args": ["a", "b"]},
                                {"name": "d", "op": "sin", "args": ["c"]}],
                        "backward": [{"tensor": "d"}]})
    return out


def _check_batch(results: list, docs: list) -> None:
    assert len(results) == len(docs)
    for i, r in enumerate(results):
        if i % 11 == 5:
            assert isinstance(r, InvalidRequest) and r.loc == ["body", "opz"], (i, r)
        elif i % 7 == 3:
            assert isinstance(r, TorchRuntimeError), (i, r)
        else:
            a = torch.tensor(float(i), requires_grad=True)
            torch.sin(a * (0.5 * i)).backward()
            assert r.repr("a") == repr(a.detach().requires_grad_()) and r.grad("a") == pytest.approx(a.grad.item())


def test_batch_in_concurrent_chunks_in_order(live):
    docs = _docs(300)
    with Client(live.url, concurrency=4) as c:
        _check_batch(c.batch(docs, chunk_size=16), docs)
        with pytest.raises(TorchRuntimeError):
            c.batch(docs[:5], raise_errors=True)
        assert c.batch([]) == []


def test_batch_halves_chunks_over_the_servers_document_limit():
    s = Server({"GRADSERVE_MAX_BATCH_DOCUMENTS": "8", "GRADSERVE_COMPUTE_WORKERS": "0"})
    try:
        docs = _docs(70)
        with Client(s.url, concurrency=3) as c:
            _check_batch(c.batch(docs, chunk_size=50), docs)  # 50 -> 25 -> 12 -> 6 documents a request
            with pytest.raises(LimitExceeded, match="max_batch_documents=8"):
                c.request("POST", "/v1/evaluate/batch", {"requests": docs[:9]})
    finally:
        s.stop()


def test_async_client(live):
    async def main():
        docs = _docs(40)
        async with AsyncClient(live.url, concurrency=3) as c:
            p = c.program()
            a = p.tensor(3.0, requires_grad=True)
            f = a * a + 1
            f.backward()
            r = await p.run()
            results = await c.batch(docs, chunk_size=5)
            with pytest.raises(RuntimeError):
                await c.evaluate(docs[3])
            return r.grad(a), results, docs

    grad, results, docs = asyncio.run(main())
    assert grad == 6.0
    _check_batch(results, docs)
