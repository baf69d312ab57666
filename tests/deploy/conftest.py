"""What the deploy tests share: the repository's deploy/ files, kustomize's output, settings.env files."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("cpu", "gpu")
K8S_VERSION = "1.37.0"


def kustomize_command() -> list[str] | None:
    """The real kustomize: its own binary, or the one built into kubectl (`kubectl kustomize`)."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        done = subprocess.run(["kubectl", "kustomize", "--help"], capture_output=True, text=True, timeout=60)
        if done.returncode == 0:
            return ["kubectl", "kustomize"]
    return None


def build_overlay(name: str) -> list[dict]:
    yaml = pytest.importorskip("yaml")
    command = kustomize_command()
    if command is None:
        pytest.skip("no kustomize here (neither `kustomize` nor `kubectl kustomize`): overlays not built")
    done = subprocess.run([*command, str(K8S / "overlays" / name)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"kustomize build of overlays/{name} failed:\n{done.stderr}"
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@pytest.fixture(scope="session", params=OVERLAYS)
def overlay(request) -> tuple[str, list[dict]]:
    """(name, the overlay's resources as kustomize builds them), for each overlay."""
    return request.param, build_overlay(request.param)


@pytest.fixture(scope="session")
def cpu() -> list[dict]:
    return build_overlay("cpu")


@pytest.fixture(scope="session")
def gpu() -> list[dict]:
    return build_overlay("gpu")


def one(docs: list[dict], kind: str, name: str) -> dict:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def read_env(path: Path) -> dict[str, str]:
    """A kustomize `envs:` file: KEY=VALUE lines, # comments."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def config_of(docs: list[dict], deployment: str) -> dict[str, str]:
    """The environment a Deployment's first container gets from its ConfigMaps (envFrom) and env values."""
    container = one(docs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(one(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
    return env


def quantity_bytes(q: str) -> int:
    """A Kubernetes memory quantity (2Gi, 512Mi, 2G) in bytes."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    for suffix, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if q.endswith(suffix):
            return int(float(q[: -len(suffix)]) * factor)
    return int(q)


def compose_bytes(size: str) -> int:
    """A compose/Docker memory size (2G, 512m): binary units, as Docker reads them."""
    factor = {"b": 1, "k": 2**10, "m": 2**20, "g": 2**30}
    s = size.strip().lower().removesuffix("b") if size.lower()[-2:] in ("kb", "mb", "gb") else size.strip().lower()
    return int(float(s[:-1]) * factor[s[-1]]) if s[-1] in factor else int(s)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


@pytest.fixture(scope="session")
def pod_server():
    """A real `gradserve serve` with the API pod's settings (deploy/k8s/base/settings.env)."""
    from tests.app.conftest import Server

    env = {k: v for k, v in read_env(K8S / "base" / "settings.env").items() if v}
    server = Server(env)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def idle_pod_rss(pod_server) -> int:
    """The idle pod's resident memory: the server process and its compute processes (shared pages counted
    in each: an upper bound)."""
    from tests.app.conftest import children

    pids = [pod_server.proc.pid, *children(pod_server.proc.pid)]
    assert len(pids) == 1 + int(read_env(K8S / "base" / "settings.env")["GRADSERVE_COMPUTE_WORKERS"])
    return sum(rss_bytes(p) for p in pids)


@pytest.fixture(scope="session")
def metrics_text(pod_server) -> str:
    return pod_server.client.get("/metrics").text
