"""deploy/compose/haproxy.cfg in a real HAProxy (Debian's, where installed) before two real gradserve servers:
a POST cut off by a dying replica is not sent again, a refused connection is retried on the other replica, and
the balancer's own 503 carries Retry-After in the API's error shape. The configuration is the file itself, with
only its addresses changed (two static servers on 127.0.0.1 for the DNS-discovered `api` replicas)."""
from __future__ import annotations

import csv
import io
import re
import shutil
import signal
import subprocess
import threading
import urllib.request

import httpx
import pytest

from tests.app.conftest import Server, free_port, wait_until
from tests.deploy.conftest import DEPLOY
from tests.deploy.test_shutdown import SEED, in_flight

pytestmark = pytest.mark.skipif(not shutil.which("haproxy"), reason="no haproxy binary here (apt-get install haproxy)")


class Balancer:
    def __init__(self, tmp_path, servers: list[Server]):
        cfg = (DEPLOY / "compose" / "haproxy.cfg").read_text()
        self.port, self.stats_port = free_port(), free_port()
        static = "\n    ".join(f"server api{i + 1} 127.0.0.1:{s.port}" for i, s in enumerate(servers))
        cfg, n = re.subn(r"server-template api \d+ api:8000 .*", static, cfg)
        assert n == 1
        for old, new in ((":8000", self.port), (":8001", free_port()), (":8404", self.stats_port)):
            cfg, n = re.subn(rf"^(\s+bind ){old}$", rf"\g<1>127.0.0.1:{new}", cfg, flags=re.M)
            assert n == 1
        cfg = cfg.replace("/tmp/haproxy.sock", str(tmp_path / "haproxy.sock"))
        (tmp_path / "haproxy.cfg").write_text(cfg)
        self.log = open(tmp_path / "haproxy.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(tmp_path / "haproxy.cfg")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        assert wait_until(lambda: self.up() == len(servers), 30), "the replicas never came UP"

    def stats(self) -> dict[str, dict]:
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5).read().decode()
        return {r["svname"]: r for r in csv.DictReader(io.StringIO(text.lstrip("# "))) if r["pxname"] == "api"}

    def up(self) -> int:
        try:
            return sum(1 for s, r in self.stats().items() if s.startswith("api") and r["status"] == "UP")
        except OSError:
            return 0

    def set_state(self, server: str, action: str) -> None:
        urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats",
                               f"s={server}&action={action}&b=api".encode(), timeout=5).read()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def evaluations(server: Server) -> int:
    text = server.client.get("/metrics").text
    return sum(int(float(n)) for n in re.findall(
        r'^gradserve_http_requests_total\{method="POST",route="/v1/evaluate",status="\d+"\} (\S+)$', text, re.M))


# A request that is still being evaluated whenever the test looks, on any machine: 5,000 matmuls of 1000 x 1000
# (1e13 flops; each result freed at once, each op far under max_op_flops, so a replica without compute workers
# runs it in a thread) take many seconds even at a TFLOP/s, and the replicas' time limit is longer than the
# balancer's `timeout server`; the test kills its replica as soon as it is seen in flight. (slow_program's
# 4000 x 4000 matmuls are each past max_op_flops: without a worker to go to, a 413 at once, so the wait for the
# request in flight saw it only when it happened to look within those milliseconds.)
ENDLESS = {"ops": [{"name": "x", "op": "ones", "args": [1000, 1000]},
                   *({"op": "matmul", "args": ["x", "x"]} for _ in range(5000)),
                   {"name": "s", "op": "sum", "args": ["x"]}], "outputs": ["s"]}
REPLICA = {"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_MAX_FLOPS": "1e14", "GRADSERVE_TIME_LIMIT_S": "120",
           "GRADSERVE_MAX_TOTAL_ELEMENTS": str(10**10)}  # (the estimate counts every op's output, freed or not)


@pytest.fixture
def stack(tmp_path):
    servers = [Server(REPLICA) for _ in range(2)]
    lb = Balancer(tmp_path, servers)
    yield lb, servers
    lb.stop()
    for s in servers:
        s.stop()


def test_a_post_that_reached_a_dying_replica_is_not_replayed_and_a_refused_one_is(stack):
    lb, servers = stack
    box = []
    slow = threading.Thread(target=lambda: box.append(_post(lb.url, ENDLESS)), daemon=True)
    slow.start()
    # the slow program is being evaluated on one replica: that one dies
    assert wait_until(lambda: any(in_flight(s) >= 2 for s in servers), 30)
    (dying,) = [s for s in servers if in_flight(s) >= 2]
    (other,) = [s for s in servers if s is not dying]
    before = evaluations(other)
    dying.proc.send_signal(signal.SIGKILL)
    dying.proc.wait(10)
    slow.join(30)
    assert box and box[0] != 200, "the request that reached the dead replica cannot have an answer"
    # Seen on HAProxy 2.6: without `disable-l7-retry` this still holds (a killed replica's connection does
    # not end as a retry-on `empty-response` here); test_compose.py holds the rule itself in the file.
    assert evaluations(other) == before, "the balancer sent a POST that had reached a replica again"

    # the dead replica is still UP for the balancer (its checks have not failed twice yet): requests sent
    # to it now find its port closed, and are retried on the other replica
    redispatched = int(lb.stats()["BACKEND"]["wredis"] or 0)
    statuses = [_post(lb.url, SEED) for _ in range(6)]
    assert statuses == [200] * 6
    assert int(lb.stats()["BACKEND"]["wredis"] or 0) > redispatched, "no request was retried: test inconclusive"
    assert evaluations(other) == before + 6


def test_the_balancers_own_503_says_when_to_retry(stack):
    lb, _ = stack
    for server in ("api1", "api2"):
        lb.set_state(server, "maint")
    assert wait_until(lambda: lb.up() == 0, 10)
    r = httpx.post(lb.url + "/v1/evaluate", json=SEED, timeout=30)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1" and r.headers["content-type"] == "application/json"
    assert r.json()["detail"][0]["type"] == "over_capacity" and r.json()["detail"][0]["loc"] == ["balancer"]
    for server in ("api1", "api2"):
        lb.set_state(server, "ready")
    assert wait_until(lambda: lb.up() == 2, 10)
    assert httpx.post(lb.url + "/v1/evaluate", json=SEED, timeout=30).status_code == 200


def _post(url: str, doc: dict) -> int | str:
    try:
        return httpx.post(url + "/v1/evaluate", json=doc, timeout=60).status_code
    except httpx.HTTPError as e:
        return type(e).__name__
