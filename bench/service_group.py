"""Group 2: the service under load: app.main against a bare FastAPI app on the same uvicorn settings.

Every server is started up front (idle ones cost nothing) and the load runs rotate through them round by
round, so a noisy minute hits all configurations alike. Load: wrk (a Lua script POSTs the seed example)
or, without wrk, bench/loadgen.py in a separate process."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.harness import ROOT, fmt_ratio, fmt_time, table
from bench.workloads import SEED_SPEC

GOAL = 0.80  # app rps / bare rps
# uvicorn's two stacks: its pure-Python parser on asyncio's loop, and the C ones it picks by itself where
# installed (gradserve installs them). Every ratio compares servers of one stack.
STACKS = {"h11": "h11 / asyncio", "fast": "httptools / uvloop"}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _app_importable():
    r = subprocess.run(
        [sys.executable, "-c", "import app.main as m; m.app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if r.returncode == 0:
        return None
    last = (r.stderr.strip().splitlines() or ["?"])[-1]
    return last[:200]


class Server:
    def __init__(self, label, target, workers, env, stock=False, stack="h11"):
        self.label, self.workers, self.stock, self.stack = label, workers, stock, stack
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # The same settings for every server: uvicorn.run, its default loop/http implementations; see
        # bench/serve.py for the differences from `uvicorn --workers N` (TCP_NODELAY kept, a socket per worker).
        cmd = [
            sys.executable,
            "-m",
            "bench.serve",
            target,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--stack",
            stack,
        ]
        if stock:
            cmd.append("--stock")
        elif target == "app.main:app" and stack == "fast":  # as `gradserve serve` runs it
            cmd.append("--guarded")
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, body, timeout=90):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                return f"exited with {self.proc.returncode}: {self._log_tail()}"
            try:
                req = urllib.request.Request(
                    self.url + "/v1/evaluate", data=body, headers={"content-type": "application/json"}
                )
                with urllib.request.urlopen(req, timeout=5) as r:
                    if r.status == 200:
                        return None
            except OSError:
                time.sleep(0.3)
        return "not ready after 90 s"

    def _log_tail(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace").strip()[-300:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # uvicorn's supervisor takes its workers down with it
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m[1]) * _UNITS[m[2]] if m else None


def _wrk(url, lua, conns, seconds):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds:g}s", "--latency", "-s", lua, url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors:.*", out)
    return {
        "rps": float(rps[1]) if rps else None,
        "p50": _seconds(p50[1]) if p50 else None,
        "p99": _seconds(p99[1]) if p99 else None,
        "errors": int(non2xx[1]) if non2xx else 0,
        "socket": errs[0] if errs else None,
    }


def _loadgen(url, body_path, conns, seconds):
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", url, body_path, str(conns), str(seconds)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    return json.loads(out.stdout)


def _template():
    """The seed example as a printf template: each leaf's data a %s (filled per request by the load
    generator with a fresh float), and how many there are."""
    spec = copy.deepcopy(SEED_SPEC)
    for leaf in spec["leaves"].values():
        leaf["data"] = "@V@"
    return json.dumps(spec).replace('"@V@"', "%s"), len(spec["leaves"])


def write_wrk_script(path: Path) -> Path:
    """wrk's Lua script: POST the seed example, its leaves' values drawn afresh for every request."""
    template, n_values = _template()
    path.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"local template = [==[{template}]==]\n"
        'local function v() return string.format("%.3f", 1 + 9 * math.random()) end\n'
        "request = function()\n"
        f"  return wrk.format(nil, nil, nil, string.format(template, {', '.join(['v()'] * n_values)}))\n"
        "end\n"
    )
    return path


def run(args) -> tuple[str, dict]:
    body = json.dumps(SEED_SPEC).encode()
    tmp = Path(tempfile.mkdtemp(prefix="gradserve-bench-"))
    (tmp / "body.json").write_bytes(body)
    try:
        import orjson  # noqa: PLC0415

        import engine  # noqa: PLC0415

        (tmp / "reply.json").write_bytes(orjson.dumps(engine.evaluate(SEED_SPEC)))
    except Exception:  # noqa: BLE001
        (tmp / "reply.json").write_bytes(b'{"tensors":{}}' + b" " * 2500)
    # Every request carries new leaf values (the seed's structure, five fresh floats): no answer can be
    # served from a cache of earlier answers, while the plan cache (same structure) is fair game.
    template, _ = _template()
    (tmp / "template.json").write_text(template)
    lua = write_wrk_script(tmp / "post.lua")
    use_wrk = shutil.which("wrk") is not None
    notes = [
        f"load: {'wrk -t1' if use_wrk else 'bench/loadgen.py (httpx; wrk not installed)'}, "
        f"{args.connections} connections, {args.duration:g} s per run, {args.service_rounds} rounds rotating "
        "through the servers; POST /v1/evaluate with the seed example, its five leaf values drawn afresh for "
        "every request (so no server can answer from a cache of earlier answers)",
        "server: python -m bench.serve <app> --workers N --stack S = uvicorn.run(<app>, workers=N, "
        "log_level='warning', access_log=False, loop/http: asyncio/h11 or uvloop/httptools); with 2 workers, "
        "as gradserve serve: a listening socket per worker in one SO_REUSEPORT group, bound with IPPROTO_TCP "
        f"so TCP_NODELAY holds; {args.threads} BLAS thread(s); "
        "the load generator shares the machine's cores; ratios compare servers of one stack; app.main on "
        "httptools runs gradserve serve's own protocol (--guarded: app/core/protocol.py), the bare rows stock",
    ]
    why = _app_importable()
    configs = [
        ("bare FastAPI (parse only)", "bench.bare_app:app", {"BENCH_BARE_REPLY": str(tmp / "reply.json")}),
        ("reference: bare + engine.evaluate", "bench.bare_app:app", {"BENCH_BARE_MODE": "engine"}),
    ]
    if why is None:
        configs.append(("app.main", "app.main:app", {}))
    else:
        notes.append(f"app.main rows skipped: app/ does not import yet ({why})")
    servers = []
    figures = {}
    try:
        for stack in STACKS:
            for w in (1, 2):
                for label, target, env in configs:
                    servers.append(Server(label, target, w, env, stack=stack))
        if not args.quick:  # what `uvicorn --workers 2` and `gradserve serve --workers 2` do today
            for label, target, env in configs:
                if not label.startswith("reference"):
                    servers.append(Server(label + ", stock --workers", target, 2, env, stock=True))
        for s in servers:
            s.error = s.wait_ready(body)
        live = [s for s in servers if s.error is None]
        for s in live:  # warm-up: imports, first-request caches
            (_wrk if use_wrk else _loadgen)(
                s.url + "/v1/evaluate", str(lua if use_wrk else tmp / "template.json"), args.connections, 1
            )
            s.runs = []
        for r in range(args.service_rounds):
            k = r % len(live) if live else 0
            for s in live[k:] + live[:k]:
                res = (
                    _wrk(s.url + "/v1/evaluate", str(lua), args.connections, args.duration)
                    if use_wrk
                    else _loadgen(
                        s.url + "/v1/evaluate", str(tmp / "template.json"), args.connections, args.duration
                    )
                )
                s.runs.append(res)
    finally:
        for s in servers:
            s.stop()
    rows = []
    for stack, w, stock in [(st, w, False) for st in STACKS for w in (1, 2)] + [("h11", 2, True)]:
        group = [s for s in servers if s.workers == w and s.stock == stock and s.stack == stack]
        bare = next((s for s in group if s.label.startswith("bare") and s.error is None), None)
        for s in group:
            if s.error is not None:
                rows.append([s.label, STACKS[stack], w, "-", "-", "-", "-"])
                notes.append(f"{s.label}, {w} worker(s): failed to start: {s.error}")
                continue
            med = {
                k: statistics.median([x[k] for x in s.runs if x[k] is not None] or [0])
                for k in ("rps", "p50", "p99")
            }
            ratio = None
            if bare is not None and bare is not s:
                ratio = statistics.median(
                    a["rps"] / b["rps"] for a, b in zip(s.runs, bare.runs) if a["rps"] and b["rps"]
                )
            errors = sum(x["errors"] for x in s.runs)
            if errors:
                notes.append(f"{s.label}, {w} worker(s): {errors} non-2xx responses")
            figures[f"{s.label} {stack} w{w}"] = {**med, "vs_bare": ratio, "errors": errors}
            goal = GOAL if s.label == "app.main" else None
            if s.stock and s is bare:
                notes.append(
                    "stock --workers rows: uvicorn 0.54 binds the shared socket with proto 0, asyncio then "
                    "never sets TCP_NODELAY, and each keep-alive response waits ~40 ms for the client's "
                    "delayed ACK (Kludex/uvicorn#3149); `gradserve serve --workers N` binds its socket "
                    "as bench.serve does, so it does not"
                )
            rows.append(
                [
                    s.label,
                    STACKS[stack],
                    w,
                    f"{med['rps']:.0f}",
                    fmt_time(med["p50"]),
                    fmt_time(med["p99"]),
                    "1.00× (baseline)" if s is bare else fmt_ratio(ratio, goal, higher_is_better=True),
                ]
            )
    notes.append(
        f"goal: app.main ≥ {GOAL:.2f}× bare FastAPI rps at the same worker count; the reference row is "
        "the floor any app/ built on engine.evaluate starts from"
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return table(
        f"Service: POST /v1/evaluate (seed example), {args.connections} connections",
        ["server", "HTTP / loop", "workers", "req/s", "p50", "p99", "rps vs bare"],
        rows,
        notes,
    ), figures
