"""make scale-test: API replicas behind HAProxy (deploy/compose/compose.yaml under podman-compose), 1 vs 2.

Brings the compose stack up as it is, pins API replica i to CPU i (`podman update --cpuset-cpus`), and drives
it with wrk at a fixed concurrency: the seed example and a mid-size program (a 2-layer MLP, forward and
backward), through the balancer with 1 and with 2 replicas, and one replica without the balancer (the
balancer's overhead). Then, with 2 replicas under load, one replica is lost three ways: SIGKILL; SIGTERM
(what `docker compose stop` and a rolling update send); SIGTERM after the balancer drained it. HAProxy's
counters say which failed requests had reached the replica that went (never replayed) and which were
retried elsewhere.

Prints a table and writes the figures as JSON (--out); docs/SCALING.md holds the last run. Needs root,
podman and Debian's mirror (installs podman, runc, wrk and podman-compose where missing), and the images:
the API's from the Dockerfile, HAProxy's from a stand-in (deploy/scale/Containerfile.haproxy) tagged as the
official image compose.yaml names, both over ../shared/tools/container-smoke's stand-in base (no container
registry is reachable here). Every loop is bounded; everything listens on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("GRADSERVE_SCALE_STATE", "/var/tmp/gradserve-scale"))
PROJECT = "gradserve-scale"
SMOKE = ROOT.parent / "shared" / "tools" / "container-smoke"
sys.path.insert(0, str(ROOT))

from bench.service_group import write_wrk_script  # noqa: E402 - the seed example with fresh leaf values

# A mid-size program: a 2-layer MLP on a 64x128 batch, forward and backward (~12 ms of NumPy on one core),
# its data drawn on the server from a per-request seed: a 0.6 KB body, a 1.4 KB answer.
MID = {"seed": 0, "leaves": {}, "ops": [
    {"name": "x", "op": "randn", "args": [64, 128]},
    {"name": "W1", "op": "randn", "args": [128, 256], "kwargs": {"requires_grad": True}},
    {"name": "W2", "op": "randn", "args": [256, 10], "kwargs": {"requires_grad": True}},
    {"name": "b2", "op": "zeros", "args": [10], "kwargs": {"requires_grad": True}},
    {"name": "h", "op": "matmul", "args": ["x", "W1"]},
    {"name": "a", "op": "tanh", "args": ["h"]},
    {"name": "z0", "op": "matmul", "args": ["a", "W2"]},
    {"name": "z", "op": "add", "args": ["z0", "b2"]},
    {"name": "p", "op": "log_softmax", "args": ["z"], "kwargs": {"dim": 1}},
    {"name": "loss", "op": "mean", "args": ["p"]}],
    "backward": [{"tensor": "loss"}], "outputs": ["loss", "b2"]}

CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def say(msg: str) -> None:
    print(f"scale-test: {msg}", flush=True)


def sh(*cmd, check=True, timeout=600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=check, timeout=timeout, text=True,
                          capture_output=True, **kw)


# ----- tools and images -----

def ensure_tools() -> Path:
    """podman, runc, wrk (Debian) and podman-compose (PyPI, in its own venv); returns podman-compose."""
    if os.geteuid() != 0:
        sys.exit("scale-test: needs root (podman with cgroup CPU pinning)")
    missing = [p for p, cmd in (("podman", "podman"), ("runc", "runc"), ("wrk", "wrk")) if not shutil.which(cmd)]
    if missing:
        say(f"installing {' '.join(missing)} (apt-get)")
        sh("apt-get", "update", "-qq")
        sh("apt-get", "install", "-y", "-qq", *missing, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    STATE.mkdir(parents=True, exist_ok=True)
    (STATE / "containers.conf").write_text(CONTAINERS_CONF)
    os.environ["CONTAINERS_CONF"] = str(STATE / "containers.conf")  # as container-smoke sets it up
    compose = STATE / "venv" / "bin" / "podman-compose"
    if not compose.exists():
        say("installing podman-compose (pip, in its own venv)")
        sh(sys.executable, "-m", "venv", STATE / "venv")
        sh(STATE / "venv" / "bin" / "pip", "install", "-q", "podman-compose>=1.5,<2")
    return compose


def image_exists(name: str) -> bool:
    return sh("podman", "image", "exists", name, check=False).returncode == 0


def compose_images() -> tuple[str, str]:
    """The images compose.yaml names for the balancer and the API."""
    import yaml  # noqa: PLC0415

    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return services["lb"]["image"], services["api"]["image"]


def qualified(image: str) -> str:
    """podman's full name for a short Docker Hub name (haproxy:3.2 -> docker.io/library/haproxy:3.2)."""
    if "/" not in image:
        return f"docker.io/library/{image}"
    return image if "." in image.split("/")[0] else f"docker.io/{image}"


def ensure_images(rebuild: bool) -> None:
    lb_image, api_image = compose_images()
    if not image_exists("docker.io/library/python:3.11-slim"):
        if not SMOKE.exists():
            sys.exit(f"scale-test: no python:3.11-slim image and no {SMOKE} to build its stand-in")
        say("building the python:3.11-slim stand-in with container-smoke (minutes)")
        sh("bash", SMOKE, ROOT, timeout=2400, env={**os.environ, "CONTAINERS_CONF": ""})
    t0 = time.time()
    # The API's image from the Dockerfile, as it is; compose.yaml's `image:` name, so compose uses it.
    sh("podman", "build", "-q", "--pull=never", "--format", "docker", "-t", api_image, ROOT, timeout=1800)
    lb = qualified(lb_image)
    if rebuild or not image_exists(lb):
        sh("podman", "build", "-q", "--pull=never", "--format", "docker", "-t", lb,
           "-f", HERE / "Containerfile.haproxy", HERE, timeout=900)
    say(f"images ready: {api_image} (Dockerfile), {lb} (stand-in: Debian's HAProxy) ({time.time() - t0:.0f} s)")


# ----- the stack -----

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """compose.yaml brought up by podman-compose under project PROJECT, on free loopback ports."""

    def __init__(self, compose: Path, replicas: int):
        self.compose = compose
        self.port, self.stats_port = free_port(), free_port()
        self.env = {**os.environ, "GRADSERVE_LB_PORT": str(self.port), "GRADSERVE_LB_STATS_PORT": str(self.stats_port)}
        self.log = open(STATE / "compose.log", "w")  # noqa: SIM115 - podman's healthcheck timer noise goes here
        self.down()
        subprocess.run([str(compose), "-f", str(COMPOSE), "-p", PROJECT, "up", "-d", "--scale", f"api={replicas}"],
                       check=True, timeout=600, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        self.api = sorted(self._names("api"), key=lambda n: int(n.rsplit("_", 1)[1]))
        (self.lb,) = self._names("lb")
        self.url = f"http://127.0.0.1:{self.port}"
        for name in self.api:
            self.pin(name)

    def pin(self, name: str) -> None:
        """Starts API replica i (if stopped) on CPU i alone. A restart loses `podman update`'s cpuset,
        so this follows every start, and checks the replica's first process."""
        cpu = self.api.index(name) % os.cpu_count() if name in self.api else 0
        sh("podman", "start", name)
        sh("podman", "update", "--cpuset-cpus", str(cpu), name)
        pid = sh("podman", "inspect", name, "--format", "{{.State.Pid}}").stdout.strip()
        allowed = re.search(r"Cpus_allowed_list:\s*(\S+)", Path(f"/proc/{pid}/status").read_text())[1]
        if allowed != str(cpu):
            raise SystemExit(f"scale-test: {name} runs on CPUs {allowed}, not {cpu} alone")

    def _names(self, service: str) -> list[str]:
        out = sh("podman", "ps", "-a", "--filter", f"label=io.podman.compose.project={PROJECT}",
                 "--filter", f"label=io.podman.compose.service={service}", "--format", "{{.Names}}").stdout
        return out.split()

    def down(self) -> None:
        names = sh("podman", "ps", "-aq", "--filter", f"label=io.podman.compose.project={PROJECT}").stdout.split()
        if names:
            sh("podman", "rm", "-f", "-t", "2", *names, check=False)
        sh("podman", "network", "rm", "-f", f"{PROJECT}_default", check=False)

    def stats(self) -> dict[str, dict]:
        """HAProxy's counters for backend `api`: server name (or BACKEND) -> row."""
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5).read().decode()
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {r["svname"]: r for r in rows if r["pxname"] == "api"}

    def set_state(self, server: str, action: str) -> None:
        """An action of the stats page's admin form (drain, ready, maint) on one server of backend api."""
        form = f"s={server}&action={action}&b=api".encode()
        urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats", form, timeout=5).read()
        for _ in range(50):
            status = self.stats()[server]["status"]
            admin_maint = status.startswith("MAINT") and "resolution" not in status  # not DNS's own MAINT
            if status.startswith("DRAIN") == (action == "drain") and admin_maint == (action == "maint"):
                return
            time.sleep(0.1)
        raise SystemExit(f"scale-test: {server} did not take `{action}` ({self.stats()[server]['status']})")

    def address(self, container: str) -> str:
        return sh("podman", "inspect", container, "--format",
                  "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}").stdout.strip()

    def wait_up(self, n: int, limit_s: float = 90) -> None:
        """Until the balancer's UP servers are exactly the first n replicas (a restarted replica comes back
        at a new address, and its old one must be DOWN first)."""
        want = {self.address(c) for c in self.api[:n]}
        deadline = time.time() + limit_s
        while time.time() < deadline:
            try:
                up = {r["addr"].split(":")[0] for s, r in self.stats().items()
                      if s.startswith("api") and r["status"] == "UP"}
                if up == want:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"scale-test: the balancer never had exactly {sorted(want)} UP")

    def server_of(self, container: str) -> str:
        """The balancer's server name (api1, api2, ...) for a replica container, by its address."""
        addr = self.address(container)
        for name, row in self.stats().items():
            if row.get("addr", "").split(":")[0] == addr:
                return name
        raise SystemExit(f"scale-test: the balancer has no server at {container}'s address {addr}")

    def cpu_ns(self, container: str) -> int:
        """CPU time the container's cgroup used so far (cgroup v1 cpuacct, or v2 cpu.stat)."""
        pid = sh("podman", "inspect", container, "--format", "{{.State.Pid}}").stdout.strip()
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "cpuacct" in controllers.split(","):
                return int(Path(f"/sys/fs/cgroup/cpuacct{path}/cpuacct.usage").read_text())
            if controllers == "" and Path(f"/sys/fs/cgroup{path}/cpu.stat").exists():
                usage = Path(f"/sys/fs/cgroup{path}/cpu.stat").read_text().split()[1]
                return int(usage) * 1000
        return 0


def direct_replica() -> tuple[str, str]:
    """One API replica outside compose, published on a loopback port, pinned to CPU 0: the no-balancer
    baseline (same image, settings and hardening as compose.yaml's api)."""
    _, api_image = compose_images()
    port = free_port()
    name = f"{PROJECT}-direct"
    sh("podman", "rm", "-f", "-t", "2", name, check=False)
    sh("podman", "run", "-d", "--name", name, "--cpuset-cpus", "0", "--read-only", "--read-only-tmpfs=false",
       "--tmpfs", "/tmp:size=64m", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
       "-e", "GRADSERVE_WORKERS=1", "-p", f"127.0.0.1:{port}:8000", api_image)
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(url + "/readyz", timeout=2)
            return name, url
        except OSError:
            time.sleep(0.2)
    raise SystemExit("scale-test: the direct replica never became ready")


# ----- load -----

def write_mid_script(path: Path) -> Path:
    body = json.dumps(MID).replace('"seed": 0', '"seed": %d')
    path.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"local template = [==[{body}]==]\n"
        "request = function()\n"
        "  return wrk.format(nil, nil, nil, string.format(template, math.random(1, 2147483647)))\n"
        "end\n")
    return path


def check_answers(url: str, lua: dict[str, Path]) -> None:
    """Each workload answers 200 with the tensors it asks for, before it is timed."""
    seed = json.loads(re.search(r"\[==\[(.*)\]==\]", lua["seed"].read_text(), re.S)[1].replace("%s", "2.0"))
    for name, doc, want in (("seed", seed, "f"), ("mid", MID, "loss")):
        req = urllib.request.Request(url + "/v1/evaluate", json.dumps(doc).encode(),
                                     {"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(req, timeout=30).read())
        if want not in answer["tensors"]:
            raise SystemExit(f"scale-test: the {name} workload's answer lacks {want}: {answer}")


def busy_ns() -> int:
    """Non-idle CPU time of the whole machine so far (/proc/stat), in ns."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) * 10**9 // os.sysconf("SC_CLK_TCK")


def wrk(url: str, lua: Path, conns: int, seconds: float, during=None) -> dict:
    """One wrk run; `during(proc)` runs while it does (the kill tests). Errors: non-2xx and socket errors."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(["wrk", "-t1", f"-c{conns}", f"-d{seconds:g}s", "--latency", "-s", str(lua),
                             url + "/v1/evaluate"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if during:
        during(proc)
    out, _ = proc.communicate(timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    num = lambda pat: int(m[1]) if (m := re.search(pat, out)) else 0  # noqa: E731
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(int(x) for x in sock.groups()) if sock else 0
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    lat = {q: re.search(rf"^\s+{q}%\s+(\S+)", out, re.M) for q in ("50", "99")}
    return {
        "rps": float(rps[1]) if rps else 0.0,
        "requests": num(r"(\d+) requests in"),
        "non2xx": num(r"Non-2xx or 3xx responses:\s+(\d+)"),
        "socket_errors": socket_errors,
        "errors": num(r"Non-2xx or 3xx responses:\s+(\d+)") + socket_errors,
        "p50": lat["50"][1] if lat["50"] else None,
        "p99": lat["99"][1] if lat["99"] else None,
        "wrk_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "raw_errors": sock[0] if sock else None,
        "raw": out if not rps else None,
    }


def measured(stack: Stack | None, containers: dict[str, str], url: str, lua: Path, conns: int,
             seconds: float) -> dict:
    """wrk plus the CPU each part used during the run (ns of CPU per request)."""
    cpu0 = {k: stack.cpu_ns(c) if stack else 0 for k, c in containers.items()}
    busy0 = busy_ns()
    r = wrk(url, lua, conns, seconds)
    busy = busy_ns() - busy0
    n = max(r["requests"], 1)
    parts = {k: (stack.cpu_ns(c) if stack else 0) - cpu0[k] for k, c in containers.items()}
    r["cpu_us_per_request"] = {k: v / n / 1e3 for k, v in parts.items()}
    r["cpu_us_per_request"]["wrk"] = r["wrk_cpu_s"] * 1e6 / n
    ours = sum(parts.values()) + r["wrk_cpu_s"] * 1e9
    r["other_cpu_s"] = max(0.0, (busy - ours) / 1e9)  # everything else on the machine meanwhile
    r["machine_busy_s"] = busy / 1e9
    return r


# ----- the run -----

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=15, help="length of each timed wrk run")
    ap.add_argument("--connections", type=int, default=16, help="wrk's fixed concurrency")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of (direct, 1 replica, 2 replicas)")
    ap.add_argument("--min-ratio", type=float, default=0.0,
                    help="fail when 2 replicas give less than this many times 1 replica's throughput "
                         "(default 0: report only, the ratio depends on what else this machine runs)")
    ap.add_argument("--rebuild-lb", action="store_true", help="rebuild the HAProxy stand-in image")
    ap.add_argument("--out", type=Path, default=STATE / "last-run.json")
    ap.add_argument("--keep", action="store_true", help="leave the stack running at the end")
    ap.add_argument("--loss-only", action="store_true", help="only the lost-replica runs (no throughput rounds)")
    a = ap.parse_args(argv)
    if a.seconds <= 0 or a.seconds > 120 or a.rounds < 1 or a.rounds > 10 or not 1 <= a.connections <= 256:
        ap.error("bounded runs only: 0 < --seconds <= 120, 1 <= --rounds <= 10, 1 <= --connections <= 256")

    t0 = time.time()
    compose = ensure_tools()
    ensure_images(a.rebuild_lb)
    tmp = Path(tempfile.mkdtemp(prefix="gradserve-scale-"))
    lua = {"seed": write_wrk_script(tmp / "seed.lua"), "mid": write_mid_script(tmp / "mid.lua")}
    results: dict = {"command": " ".join(["python", "deploy/scale/scale_test.py", *(argv or sys.argv[1:])]),
                     "cpus": os.cpu_count(), "connections": a.connections, "seconds": a.seconds,
                     "loadavg_start": os.getloadavg(), "runs": [], "kills": []}
    stack = None
    direct = None
    try:
        stack = Stack(compose, replicas=2)
        stack.wait_up(2)
        check_answers(stack.url, lua)
        say(f"stack up: {stack.lb} + {', '.join(stack.api)} (replica i pinned to CPU i), "
            f"balancer on {stack.url} ({time.time() - t0:.0f} s)")
        direct, direct_url = direct_replica()

        def config(label: str):
            """Puts the stack in a configuration; returns (url, containers whose CPU to count)."""
            if label == "direct":
                sh("podman", "stop", "-t", "40", *stack.api)
                stack.pin(direct)
                for _ in range(150):
                    try:
                        urllib.request.urlopen(direct_url + "/readyz", timeout=2)
                        break
                    except OSError:
                        time.sleep(0.2)
                return direct_url, {"api": direct}
            sh("podman", "stop", "-t", "40", direct, check=False)
            n = int(label[0])
            for name in stack.api[:n]:
                stack.pin(name)
            for name in stack.api[n:]:
                sh("podman", "stop", "-t", "40", name)
            stack.wait_up(n)
            return stack.url, {**{f"api{i + 1}": c for i, c in enumerate(stack.api[:n])}, "lb": stack.lb}

        labels = ["direct", "1 replica", "2 replicas"]
        for rnd in range(0 if a.loss_only else a.rounds):
            for label in labels:
                url, containers = config(label)
                for work in ("seed", "mid"):
                    wrk(url, lua[work], a.connections, 2)  # warm-up: plan caches, connections, BLAS
                    r = measured(stack, containers, url, lua[work], a.connections, a.seconds)
                    r.update(config=label, workload=work, round=rnd + 1)
                    results["runs"].append(r)
                    say(f"round {rnd + 1} {label:10s} {work:4s} {r['rps']:8.1f} req/s  p50 {r['p50']}  "
                        f"p99 {r['p99']}  errors {r['errors']}  other load {r['other_cpu_s']:.1f} CPU-s")
        sh("podman", "rm", "-f", "-t", "2", direct, check=False)
        direct = None

        # Losing a replica under load, 2 replicas, the seed example.
        for how in ("SIGKILL", "SIGTERM", "drain, SIGTERM"):
            config("2 replicas")
            k = lose_replica(stack, how, lua["seed"], a.connections, a.seconds)
            results["kills"].append(k)
            say(f"{how} one of 2 replicas under load: {k['errors']} failed of {k['requests']} "
                f"({k['aborted_by_lost_replica']} aborted by the lost replica), {k['redispatched']} redispatched, "
                f"{k['unexplained_errors']} unexplained")
            if how.startswith("drain"):  # its slot back in rotation (DOWN until the replica is back)
                stack.set_state(k["server"], "ready")
            stack.pin(stack.api[1])
            stack.wait_up(2)
    finally:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(results, indent=1, default=str))  # also what a failed run got to
        if direct:
            sh("podman", "rm", "-f", "-t", "2", direct, check=False)
        if stack and not a.keep:
            stack.down()
        shutil.rmtree(tmp, ignore_errors=True)

    results["loadavg_end"] = os.getloadavg()
    summary = summarise(results)
    results["summary"] = summary
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=1, default=str))
    print(render(results))
    say(f"figures in {a.out} ({time.time() - t0:.0f} s)")
    failed = [r for r in results["runs"] if r["errors"]]
    failed += [k for k in results["kills"] if not k["ok"]]
    low = [w for w, s in summary.items() if s["ratio"] < a.min_ratio]
    if failed or low:
        say(f"FAILED: {len(failed)} run(s) with unexplained errors; ratio below {a.min_ratio} for {low}")
        return 1
    return 0


def lose_replica(stack: Stack, how: str, lua: Path, conns: int, seconds: float) -> dict:
    """wrk through the balancer; halfway, the second replica gets SIGKILL; or SIGTERM, as `docker compose
    stop`, `podman stop` and a rolling update's old replica do; or SIGTERM once the balancer has drained it
    (deploy/README.md's way to stop a replica). HAProxy's counters, before and after, say what became of
    the requests."""
    victim = stack.api[1]
    server = stack.server_of(victim)
    before = stack.stats()
    stopping = []

    def lose(proc):
        time.sleep(seconds / 2)
        if how == "drain, SIGTERM":  # the balancer stops sending it requests; it finishes those it has
            stack.set_state(server, "drain")
            for _ in range(100):
                if int(stack.stats()[server]["scur"] or 0) == 0:
                    break
                time.sleep(0.1)
        if how == "SIGKILL":
            sh("podman", "kill", "-s", "KILL", victim)
        else:
            stopping.append(subprocess.Popen(["podman", "stop", "-t", "40", victim],
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    r = wrk(stack.url, lua, conns, seconds, during=lose)
    for p in stopping:
        p.wait(timeout=60)
    time.sleep(3)  # HAProxy counts an aborted stream when it ends
    after = stack.stats()

    def d(s, key):
        return int(after[s][key] or 0) - int(before[s][key] or 0)

    others = [s for s in after if s.startswith("api") and s != server]
    counters = ("stot", "eresp", "srv_abrt", "cli_abrt", "econ", "wretr", "wredis", "hrsp_5xx", "ereq", "dreq",
                "dresp", "hrsp_2xx")
    deltas = {s: {c: d(s, c) for c in counters if after[s].get(c, "") != "" and d(s, c)}
              for s in (server, "BACKEND", "FRONTEND")}
    k = {"how": how, "server": server, "requests": r["requests"], "errors": r["errors"],
         "non2xx": r["non2xx"], "socket_errors": r["socket_errors"],
         "aborted_by_lost_replica": d(server, "eresp"), "redispatched": d("BACKEND", "wredis"),
         "retried": d("BACKEND", "wretr"), "conn_errors": d("BACKEND", "econ"),
         "errors_on_other_replicas": sum(d(s, "eresp") + d(s, "econ") for s in others),
         "balancer_5xx": d("BACKEND", "hrsp_5xx"), "rps": r["rps"], "p99": r["p99"], "haproxy": deltas,
         "wrk": r["raw_errors"]}
    # Every error must be a request the lost replica had already taken (HAProxy counts it as aborted by
    # that server's response): those are never replayed. Anything else (a refused connection that was not
    # retried, an error on another replica) was the balancer's to save.
    k["unexplained_errors"] = max(0, k["errors"] - k["aborted_by_lost_replica"]) + k["errors_on_other_replicas"]
    # Drained first, a replica stopped with SIGTERM has nothing left to lose.
    k["ok"] = k["unexplained_errors"] == 0 and (how != "drain, SIGTERM" or k["errors"] == 0)
    return k


def summarise(results: dict) -> dict:
    out = {}
    if not results["runs"]:
        return out
    for work in ("seed", "mid"):
        med = {}
        for label in ("direct", "1 replica", "2 replicas"):
            runs = [r for r in results["runs"] if r["workload"] == work and r["config"] == label]
            med[label] = {
                "rps": statistics.median(r["rps"] for r in runs),
                "api_cpu_us": statistics.median(
                    sum(v for k, v in r["cpu_us_per_request"].items() if k.startswith("api")) for r in runs),
                "lb_cpu_us": statistics.median(r["cpu_us_per_request"].get("lb", 0.0) for r in runs),
                "wrk_cpu_us": statistics.median(r["cpu_us_per_request"]["wrk"] for r in runs),
                "other_cpu_s": statistics.median(r["other_cpu_s"] for r in runs),
            }
        out[work] = {**med, "ratio": med["2 replicas"]["rps"] / med["1 replica"]["rps"],
                     "lb_throughput_cost": 1 - med["1 replica"]["rps"] / med["direct"]["rps"]}
    return out


def render(results: dict) -> str:
    rounds = max((r["round"] for r in results["runs"]), default=0)
    lines = [f"| workload | config | req/s (median of {rounds}) | API CPU us/req "
             "| HAProxy CPU us/req | wrk CPU us/req | other load CPU-s/run |", "| --- " * 7 + "|"]
    for work, s in results["summary"].items():
        for label in ("direct", "1 replica", "2 replicas"):
            m = s[label]
            lines.append(f"| {work} | {label} | {m['rps']:.0f} | {m['api_cpu_us']:.0f} | {m['lb_cpu_us']:.0f} "
                         f"| {m['wrk_cpu_us']:.0f} | {m['other_cpu_s']:.1f} |")
        lines.append(f"| {work} | **2 / 1 replicas** | **{s['ratio']:.2f}x** | | | | |")
    lines += ["", "| loss | failed | of | aborted by the lost replica | redispatched | unexplained |",
              "| --- " * 6 + "|"]
    for k in results["kills"]:
        lines.append(f"| {k['how']} | {k['errors']} | {k['requests']} | {k['aborted_by_lost_replica']} "
                     f"| {k['redispatched']} | {k['unexplained_errors']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
