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

from bench.harness import ROOT, fmt_ratio, fmt_time, table, warm_sightings
from bench.workloads import SEED_SPEC

GOAL = 0.80  # app rps / bare rps
# uvicorn's two stacks: its pure-Python parser on asyncio's loop, and the C ones it picks by itself where
# installed (gradserve installs them). Every ratio compares servers of one stack.
STACKS = {"h11": "h11 / asyncio", "fast": "httptools / uvloop"}


_TAKEN: set = set()  # ports handed out by this process (a server may not have bound its port yet)


def _free_port():
    """A free local port: one the system picks, or with BENCH_PORTS=LO-HI (a session's own range) the first free
    one in that range not handed out already."""
    span = os.environ.get("BENCH_PORTS")
    if span:
        lo, hi = (int(x) for x in span.split("-"))
        for port in range(lo, hi + 1):
            if port in _TAKEN:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _TAKEN.add(port)
            return port
        raise SystemExit(f"no free port in BENCH_PORTS={span}")
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
    def __init__(self, label, target, workers, env, stock=False, stack="h11", cwd=ROOT):
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
            cwd=cwd,  # another checkout's tree (bench.service_trees), its own app/ and engine/
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
        ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency", "-s", lua, url],
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


# ----- the programs: the seed, and five of the corpus's small ones (issue 21, goal 3) -----

# Beside the seed: the corpus programs the service is measured on (bench/programs/), chosen for what each adds
# to the seed's path: non-leaf grads and retain_grad (02), a scalar sigmoid/log chain with a leaf that needs no
# grad (05), a vector leaf and a reduction (06), a matrix leaf, mv and a fused loss with a 1.6 KB body (11),
# retain_grad on a vector chain (37). `--only` (names or numbers, `seed`) picks a subset.
PROGRAMS = ("02", "05", "06", "11", "37")
REPLY_HEADER = "x-bench-reply"  # which fixed reply the bare app answers (bench/bare_app.py); app.main ignores it


def programs(only=()) -> list[tuple[str, dict]]:
    """(name, document): the seed first, then PROGRAMS (or those of `only`, names or numbers)."""
    from bench.programs import load  # noqa: PLC0415

    picked = [("seed", SEED_SPEC)] if not only or "seed" in only else []
    want = [w for w in only if w != "seed"] if only else list(PROGRAMS)
    return picked + (load(tuple(want)) if want else [])


def _fresh_holes(data, holes):
    """`data` with its first float replaced by the hole marker (a list's: depth first), and that counted."""
    if type(data) is float:
        holes.append(1)
        return "@V@"
    if type(data) is list and data:
        return [_fresh_holes(data[0], holes), *data[1:]]
    return data


def _template(spec=SEED_SPEC):
    """A document as a printf template: the first float of each leaf's data a %s (filled per request by the load
    generator with a fresh value: 1 + 9 * uniform, printed to 3 decimals), and how many there are. Integer and
    boolean leaves (indices, masks) stay as they are, so every request stays a valid one."""
    spec = copy.deepcopy(spec)
    holes: list = []
    for leaf in spec["leaves"].values():
        leaf["data"] = _fresh_holes(leaf["data"], holes)
    return json.dumps(spec).replace("%", "%%").replace('"@V@"', "%s"), len(holes)  # (a name's % stays one)


def write_wrk_script(path: Path, spec=SEED_SPEC, reply: str | None = None) -> Path:
    """wrk's Lua script: POST the document (the seed by default), its leaves' first values drawn afresh for every
    request; `reply`: the name sent in REPLY_HEADER (the bare app's fixed reply of this program)."""
    template, n_values = _template(spec)
    header = f'wrk.headers["{REPLY_HEADER}"] = "{reply}"\n' if reply else ""
    path.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n' + header +
        f"local template = [==[{template}]==]\n"
        'local function v() return string.format("%.3f", 1 + 9 * math.random()) end\n'
        "request = function()\n"
        f"  return wrk.format(nil, nil, nil, string.format(template, {', '.join(['v()'] * n_values)}))\n"
        "end\n"
    )
    return path


def _filled(spec) -> dict:
    """The template with fresh values, parsed: what the load generator sends."""
    template, n = _template(spec)
    return json.loads(template % tuple("5.125" for _ in range(n)))


def _replies(tmp: Path, progs) -> tuple[Path, list[str]]:
    """The bare app's fixed replies: each program's real response (as engine.evaluate writes it) in a file
    named for it; and the programs whose response could not be made (their rows are skipped)."""
    import engine  # noqa: PLC0415

    folder = tmp / "replies"
    folder.mkdir()
    bad = []
    for name, spec in progs:
        try:
            (folder / f"{name}.json").write_bytes(engine.evaluate_json(_filled(spec)))
        except Exception as e:  # noqa: BLE001 - a note, not a crash
            bad.append(f"{name}: {type(e).__name__}: {e}"[:200])
    return folder, bad


def _load(s, prog, args, use_wrk, seconds=None):
    seconds = args.duration if seconds is None else seconds
    if use_wrk:
        return _wrk(s.url + "/v1/evaluate", str(prog["lua"]), args.connections, seconds)
    return _loadgen(s.url + "/v1/evaluate", str(prog["template"]), args.connections, seconds)


def _answers(s, prog) -> str | None:
    """Whether the server answers the program's request (as the load sends it) with 200."""
    req = urllib.request.Request(s.url + "/v1/evaluate", data=json.dumps(_filled(prog["spec"])).encode(),
                                 headers={"content-type": "application/json", REPLY_HEADER: prog["name"]})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return None if r.status == 200 else f"status {r.status}"
    except OSError as e:
        return str(e)[:200]


def run(args) -> tuple[str, dict]:
    tmp = Path(tempfile.mkdtemp(prefix="gradserve-bench-"))
    only = tuple(getattr(args, "only", ()) or ())
    progs = programs(only)
    folder, bad = _replies(tmp, progs)
    prog = {}
    for name, spec in progs:
        template, _ = _template(spec)
        (tmp / f"{name}.template.json").write_text(template)
        prog[name] = {"name": name, "spec": spec, "template": tmp / f"{name}.template.json",
                      "lua": write_wrk_script(tmp / f"{name}.lua", spec, reply=name),
                      "bytes": len(json.dumps(_filled(spec)).encode()),
                      "reply": (folder / f"{name}.json").stat().st_size if (folder / f"{name}.json").exists() else 0}
    body = json.dumps(SEED_SPEC).encode()
    use_wrk = shutil.which("wrk") is not None
    names = list(prog)
    notes = [
        f"load: {'wrk -t1' if use_wrk else 'bench/loadgen.py (httpx; wrk not installed)'}, "
        f"{args.connections} connections, {args.duration:g} s per run, {args.service_rounds} rounds rotating "
        "through every (server, program) pair; POST /v1/evaluate with the program, the first value of each "
        "float leaf drawn afresh for every request (so no server can answer from a cache of earlier answers)",
        "programs: " + ("the seed (both stacks, and the stock rows)" if "seed" in names else "no seed") + "; " +
        (", ".join(n for n in names if n != "seed") or "none") + " of bench/programs/ (httptools / uvloop only, "
        "the stack gradserve serve runs); the bare app answers each "
        f"program's real response as a fixed reply of its size (chosen by the {REPLY_HEADER} header, which app.main "
        "ignores)",
        "server: python -m bench.serve <app> --workers N --stack S = uvicorn.run(<app>, workers=N, "
        "log_level='warning', access_log=False, loop/http: asyncio/h11 or uvloop/httptools); with 2 workers, "
        "as gradserve serve: a listening socket per worker in one SO_REUSEPORT group, bound with IPPROTO_TCP "
        f"so TCP_NODELAY holds; {args.threads} BLAS thread(s); "
        "the load generator shares the machine's cores; ratios compare servers of one stack; app.main on "
        "httptools runs gradserve serve's own protocol (--guarded: app/core/protocol.py), the bare rows stock",
    ]
    notes += [f"no reply for {b}: its rows are skipped" for b in bad]
    names = [n for n in names if prog[n]["reply"]]
    why = _app_importable()
    configs = [
        ("bare FastAPI (parse only)", "bench.bare_app:app",  # (its default reply: the first program's)
         {"BENCH_BARE_REPLIES": str(folder), "BENCH_BARE_REPLY": str(folder / f"{names[0]}.json") if names else ""}),
        ("reference: bare + engine.evaluate", "bench.bare_app:app", {"BENCH_BARE_MODE": "engine"}),
    ]
    if why is None:
        configs.append(("app.main", "app.main:app", {}))
    else:
        notes.append(f"app.main rows skipped: app/ does not import yet ({why})")
    servers = []
    figures = {}

    def loads_of(s):  # the programs a server is measured on: the seed everywhere, the others by bare and app.main
        # on the fast stack (the reference rows, the h11 and stock ones: the seed only, to keep the run ~11 min)
        if s.stock or s.stack == "h11" or s.label.startswith("reference"):
            return [n for n in names if n == "seed"]
        return names

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
        for s in live:
            s.runs = {}
            for n in loads_of(s):
                bad_answer = _answers(s, prog[n])
                if bad_answer is not None:
                    notes.append(f"{s.label} ({s.stack}, {s.workers} worker(s)) does not answer {n}: {bad_answer}")
                    continue
                _load(s, prog[n], args, use_wrk, seconds=1)  # warm-up: imports, the plan cache, first caches
                s.runs[n] = []
        pairs = [(s, n) for s in live for n in s.runs]
        for r in range(args.service_rounds):
            k = r % len(pairs) if pairs else 0
            for s, n in pairs[k:] + pairs[:k]:
                s.runs[n].append(_load(s, prog[n], args, use_wrk))
    finally:
        for s in servers:
            s.stop()
    rows = []
    worst: dict = {}
    for n in names:
        for stack, w, stock in [(st, w, False) for st in STACKS for w in (1, 2)] + [("h11", 2, True)]:
            group = [s for s in servers if s.workers == w and s.stock == stock and s.stack == stack
                     and (s.error is not None or n in getattr(s, "runs", {}))]
            bare = next((s for s in group if s.label.startswith("bare") and s.error is None), None)
            for s in group:
                if s.error is not None:
                    if n == names[0]:
                        rows.append([n, s.label, STACKS[stack], w, "-", "-", "-", "-"])
                        notes.append(f"{s.label}, {w} worker(s): failed to start: {s.error}")
                    continue
                runs = s.runs[n]
                med = {k: statistics.median([x[k] for x in runs if x[k] is not None] or [0])
                       for k in ("rps", "p50", "p99")}
                ratio = spread = None
                if bare is not None and bare is not s:
                    ratios = [a["rps"] / b["rps"] for a, b in zip(runs, bare.runs[n]) if a["rps"] and b["rps"]]
                    if ratios:
                        ratio = statistics.median(ratios)
                        spread = (min(ratios), max(ratios))
                errors = sum(x["errors"] for x in runs)
                if errors:
                    notes.append(f"{n}: {s.label}, {STACKS[stack]}, {w} worker(s): {errors} non-2xx responses")
                figures[f"{n} | {s.label} {stack} w{w}"] = {**med, "vs_bare": ratio, "spread": spread,
                                                           "errors": errors}
                goal = GOAL if s.label == "app.main" else None
                if s.label == "app.main" and ratio is not None:
                    worst[(n, stack, w)] = ratio
                if s.stock and s is bare and n == names[0]:
                    notes.append(
                        "stock --workers rows: uvicorn 0.54 binds the shared socket with proto 0, asyncio then "
                        "never sets TCP_NODELAY, and each keep-alive response waits ~40 ms for the client's "
                        "delayed ACK (Kludex/uvicorn#3149); `gradserve serve --workers N` binds its socket "
                        "as bench.serve does, so it does not"
                    )
                shown = "1.00× (baseline)" if s is bare else fmt_ratio(ratio, goal, higher_is_better=True)
                if spread is not None:
                    shown += f" [{spread[0]:.2f}–{spread[1]:.2f}]"
                rows.append([n, s.label, STACKS[stack], w, f"{med['rps']:.0f}", fmt_time(med["p50"]),
                             fmt_time(med["p99"]), shown])
    sizes = ", ".join(f"{n} {prog[n]['bytes']} B → {prog[n]['reply']} B" for n in names)
    notes.append(f"request → response bytes: {sizes}")
    met = [k for k, r in worst.items() if r >= GOAL]
    notes.append(
        f"goal: app.main ≥ {GOAL:.2f}× bare FastAPI rps at the same worker count (median of the rounds' paired "
        f"ratios; [min–max] over the rounds); met on {len(met)} of {len(worst)} (program, stack, workers) rows; "
        "the reference row is the floor any app/ built on engine.evaluate starts from"
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return table(
        f"Service: POST /v1/evaluate, {args.connections} connections",
        ["program", "server", "HTTP / loop", "workers", "req/s", "p50", "p99", "rps vs bare [min–max]"],
        rows,
        notes,
    ), figures


# ----- without HTTP: what each program costs the apps themselves -----


async def _inprocess(only, rounds, n):
    import random  # noqa: PLC0415

    from bench import inprocess as ip  # noqa: PLC0415

    rows = []
    apps = ip._apps()
    for app in apps.values():
        await ip._lifespan(app)
    for name, spec in programs(only):
        template, holes = _template(spec)
        rng = random.Random(0)
        bodies = [(template % tuple(f"{1 + 9 * rng.random():.3f}" for _ in range(holes))).encode()
                  for _ in range(64)]
        for app in apps.values():  # warm: the plan cache records, then lowers, the program
            for i in range(warm_sightings()):
                sent = await ip._request(app, bodies[i % len(bodies)])
                assert sent[0]["status"] == 200, (name, sent)
        best = dict.fromkeys(apps, float("inf"))
        for _ in range(rounds):
            for label, app in apps.items():
                t0 = time.perf_counter()
                for i in range(n):
                    await ip._request(app, bodies[i % len(bodies)])
                best[label] = min(best[label], (time.perf_counter() - t0) / n * 1e6)
        rows.append((name, best))
    return rows


# ----- over HTTP: the server's own CPU time per request (what a ratio of requests/s comes from) -----


def _cpu_seconds(pid):
    """User + system CPU seconds of a process and its children that have exited, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _server_cpu(only, rounds, seconds, connections):
    """Per program: the bare app and app.main (one worker, httptools / uvloop, as gradserve serve runs) under
    wrk's load, each server's CPU seconds over the run (/proc) divided by the requests it answered; the
    smallest of `rounds` interleaved runs, in us a request."""
    tmp = Path(tempfile.mkdtemp(prefix="gradserve-cpu-"))
    progs = programs(only)
    folder, _bad = _replies(tmp, progs)
    lua = {name: write_wrk_script(tmp / f"{name}.lua", spec, reply=name) for name, spec in progs}
    env_bare = {"BENCH_BARE_REPLIES": str(folder), "BENCH_BARE_REPLY": str(folder / f"{progs[0][0]}.json")}
    servers = [Server("bare FastAPI (parse only)", "bench.bare_app:app", 1, env_bare, stack="fast"),
               Server("app.main", "app.main:app", 1, {}, stack="fast")]
    best: dict = {}
    try:
        body = json.dumps(_filled(SEED_SPEC)).encode()
        for srv in servers:
            why = srv.wait_ready(body)
            if why:
                raise RuntimeError(f"{srv.label}: {why}")
        for _ in range(rounds):
            for name, _spec in progs:
                for srv in servers:
                    c0 = _cpu_seconds(srv.proc.pid)
                    r = _wrk(srv.url + "/v1/evaluate", str(lua[name]), connections, seconds)
                    used = _cpu_seconds(srv.proc.pid) - c0
                    if r["rps"] and not r["errors"]:
                        us = used / (r["rps"] * max(1, round(seconds))) * 1e6
                        key = (name, srv.label)
                        best[key] = min(best.get(key, float("inf")), us)
    finally:
        for srv in servers:
            srv.stop()
    return [(name, best.get((name, servers[0].label)), best.get((name, servers[1].label))) for name, _ in progs]


def main(argv=None):
    """`python -m bench.service_group [--only 06,11] [--rounds 5] [--requests 600] [--cpu]`: each program of the service
    group through each app called as ASGI in one process (bench/inprocess.py's apps: the bare app, the reference,
    app.main with and without its access log and metrics), µs a request, the fastest round; no server, socket or
    load generator. The bare app answers its fixed default reply (the figure is its parse and routing).
    --cpu: over HTTP instead, the server process's own CPU time a request (bare app and app.main, one worker,
    httptools / uvloop; /proc's user + system time over a wrk run of --seconds, divided by the requests it
    answered; the smallest of --rounds interleaved runs): what an app costs beside uvicorn's own work."""
    import argparse  # noqa: PLC0415
    import asyncio  # noqa: PLC0415

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--only", default="")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=600)
    p.add_argument("--cpu", action="store_true", help="over HTTP instead: the server's CPU time a request, bare "
                   "app and app.main, one worker (wrk, --seconds a run, --rounds runs, the smallest)")
    p.add_argument("--seconds", type=float, default=3.0)
    a = p.parse_args(argv)
    if a.cpu:
        rows = _server_cpu(tuple(w for w in a.only.split(",") if w), a.rounds, a.seconds, 16)
        print("| program | bare FastAPI: server CPU us/request | app.main | app.main / bare | rps ratio it allows |\n"
              "|---|---|---|---|---|")
        for name, bare, app in rows:
            if bare and app:
                print(f"| {name} | {bare:.0f} | {app:.0f} | {app / bare:.2f}x | {bare / app:.2f}x |")
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    stderr = os.dup(2)
    os.dup2(devnull, 2)  # the access log's lines
    try:
        rows = asyncio.run(_inprocess(tuple(w for w in a.only.split(",") if w), a.rounds, a.requests))
    finally:
        os.dup2(stderr, 2)
    labels = list(rows[0][1]) if rows else []
    print("| program | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels))
    for name, best in rows:
        print(f"| {name} | " + " | ".join(f"{best[k]:.1f}" for k in labels) + " |")


if __name__ == "__main__":
    main()
