"""deploy/compose: compose.yaml against the Compose specification's schema, and held to haproxy.cfg and the app."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.deploy.conftest import DEPLOY, ROOT, compose_bytes

COMPOSE = DEPLOY / "compose" / "compose.yaml"
HAPROXY_CFG = DEPLOY / "compose" / "haproxy.cfg"


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(COMPOSE.read_text())


def haproxy_sections() -> dict[str, list[str]]:
    """haproxy.cfg as {"backend api": [its lines], ...}, comments dropped."""
    sections: dict[str, list[str]] = {}
    current = None
    for raw in HAPROXY_CFG.read_text().splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if not raw.startswith((" ", "\t")):
            current = " ".join(line.split()[:2])
            sections[current] = []
        else:
            sections[current].append(line.strip())
    return sections


@pytest.mark.parametrize("path", [COMPOSE, ROOT / "docker-compose.yml"], ids=lambda p: p.name)
def test_compose_files_match_the_compose_specification(path):
    if not shutil.which("check-jsonschema"):
        cli = ROOT / ".venv" / "bin" / "check-jsonschema"
        if not cli.exists():
            pytest.skip("check-jsonschema is not installed (dev extra)")
    else:
        cli = "check-jsonschema"
    done = subprocess.run([str(cli), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_balancer_is_the_official_haproxy_image_and_the_only_way_in(compose):
    services = compose["services"]
    lb = services["lb"]
    assert re.fullmatch(r"haproxy:\d+\.\d+", lb["image"]), "the official image, pinned to a release line"
    assert any(p.startswith("127.0.0.1:") and p.endswith(":8000") for p in lb["ports"])
    assert any(v.startswith("./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg") for v in lb["volumes"])
    api = services["api"]
    assert "ports" not in api, "replicas are reached through the balancer only (and --scale needs no host port)"
    assert api["image"] == "gradserve:latest" and api["build"]["context"] == "../.."
    assert api["environment"]["GRADSERVE_WORKERS"] == "1"
    assert api["deploy"]["replicas"] >= 2 and api["deploy"]["resources"]["limits"]["cpus"] == "1"
    assert api["read_only"] is True and any(t.startswith("/tmp") for t in api["tmpfs"])


def test_the_balancer_finds_every_replica_and_every_gpu_worker(compose):
    sections = haproxy_sections()
    api = sections["backend api"]
    (template,) = [line for line in api if line.startswith("server-template")]
    assert re.search(r"\bapi:8000\b", template) and "resolvers dns" in template
    workers = {name: s for name, s in compose["services"].items() if name.startswith("cuda-worker")}
    servers = [line.split()[2] for line in sections["backend cuda"] if line.startswith("server ")]
    assert {w + ":8000" for w in workers} <= set(servers)
    # one GPU each, a different one each (compose gives every replica of one service the same GPU)
    ids = [w["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] for w in workers.values()]
    assert all(len(i) == 1 for i in ids) and len({i[0] for i in ids}) == len(ids)
    assert all(w["environment"]["GRADSERVE_BACKEND"] == "cupy" for w in workers.values())
    assert all("gpu2" in w["profiles"] for w in workers.values())
    # the API forwards CUDA requests to the balancer's second frontend
    url = compose["services"]["api"]["environment"]["GRADSERVE_CUDA_WORKER_URL"]
    port = url.rsplit(":", 1)[1]
    assert url == f"http://lb:{port}" and any(b == f"bind :{port}" for b in sections["frontend cuda"])


def test_balancing_health_checks_and_retries(compose):
    from app.core.config import Settings

    defaults = Settings()
    s = haproxy_sections()
    for backend in ("backend api", "backend cuda"):
        lines = s[backend]
        assert "balance leastconn" in lines
        assert "http-check send meth GET uri /readyz" in lines and "http-check expect status 200" in lines
        (default_server,) = [line for line in lines if line.startswith("default-server")]
        assert f"maxconn {defaults.max_in_flight}" in default_server, "maxconn = GRADSERVE_MAX_IN_FLIGHT"
    for frontend in ("frontend api", "frontend cuda"):
        assert "http-request disable-l7-retry if ! METH_GET ! METH_HEAD ! METH_OPTIONS" in s[frontend], \
            "a POST that reached a replica must never be sent again"
    d = s["defaults"]
    (retry_on,) = [line for line in d if line.startswith("retry-on")]
    assert "conn-failure" in retry_on and not re.search(r"\b\d{3}\b", retry_on), "no retry on a status code"
    timeout_server = next(int(line.split()[2].rstrip("s")) for line in d if line.startswith("timeout server"))
    assert timeout_server > defaults.time_limit_s, "the API answers 504 itself, before the balancer gives up"
    keep_alive = next(int(line.split()[2].rstrip("s")) for line in d if line.startswith("timeout http-keep-alive"))
    assert keep_alive < 5, "uvicorn closes idle connections after 5 s: the balancer must close first"


def test_the_balancers_own_errors_have_the_api_shape():
    import json

    lines = [line for line in haproxy_sections()["defaults"] if line.startswith("http-error")]
    statuses = set()
    for line in lines:
        status = int(line.split()[2])
        statuses.add(status)
        body = json.loads(re.search(r"string '(.*)'$", line)[1])
        (detail,) = body["detail"]
        assert set(detail) == {"type", "loc", "msg"} and detail["loc"] == ["balancer"]
        assert "content-type application/json" in line
        if status == 503:
            assert "hdr Retry-After 1" in line and detail["type"] == "over_capacity"
    assert statuses == {502, 503, 504}


def test_stop_grace_covers_uvicorns_graceful_shutdown(compose):
    from app.core.config import Settings

    graceful = Settings().time_limit_s + 5  # app/cli.py: ceil(time limit) + 5
    yaml = pytest.importorskip("yaml")
    root = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in [*compose["services"].items(), *root["services"].items()]:
        if name == "lb":
            continue
        grace = int(service["stop_grace_period"].rstrip("s"))
        assert grace >= graceful, f"{name}: stopped with SIGKILL {grace} s after SIGTERM, before {graceful} s"


def test_per_replica_resources_match_the_kubernetes_pod(compose):
    yaml = pytest.importorskip("yaml")
    pod = yaml.safe_load((DEPLOY / "k8s" / "base" / "deployment.yaml").read_text())
    res = pod["spec"]["template"]["spec"]["containers"][0]["resources"]
    limits = compose["services"]["api"]["deploy"]["resources"]["limits"]
    assert compose_bytes(limits["memory"]) == 2**30 * int(res["limits"]["memory"].removesuffix("Gi"))
    assert limits["cpus"] == res["requests"]["cpu"]


def test_haproxy_accepts_the_configuration():
    haproxy = shutil.which("haproxy")
    if not haproxy:
        pytest.skip("no haproxy binary here (Debian: apt-get install haproxy)")
    done = subprocess.run([haproxy, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration file is valid" in done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr
