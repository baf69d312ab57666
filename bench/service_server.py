"""`python -m bench.service_instr --mode server`: a whole real server's instructions a request, under callgrind.

Per server (the bare FastAPI app answering each program's real response as a fixed reply, and app.main as
`gradserve serve` runs it: bench.serve, one worker, httptools / uvloop, --guarded): the server is started under
`valgrind --tool=callgrind --instr-atstart=no`; per program, over one keep-alive connection (http.client, in this
process, natively): warm_sightings() + 20 of its bodies, then `callgrind_control --instr=on`, `requests` fresh
bodies one after another, `callgrind_control --dump`, `--instr=off`. The dump's totals over the requests are the
server's whole user-space work a request: uvicorn, the HTTP protocol, the event loop, the app (not the kernel's
work: callgrind counts no system time; the system calls are counted by bench.service_syscalls).

With cache_sim, callgrind also simulates the caches (I1, D1, LL) and the branch predictor; the table adds misses
and mispredicted branches a request and a cycle estimate (Ir + 10 an L1 miss + 100 an LL miss + 15 a
mispredicted branch), for comparing the two servers, not a clock."""

from __future__ import annotations

import glob
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import ROOT, warm_sightings
from bench.service_group import REPLY_HEADER, _free_port, _replies


def _events(path: str) -> dict:
    """{event: total} of a callgrind dump (its `events:` line and its `summary:` or `totals:` line)."""
    names, totals = None, None
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                names = line.split()[1:]
            elif line.startswith(("summary:", "totals:")):
                totals = [int(x) for x in line.split()[1:]]
                break
    if names is None or totals is None:
        raise SystemExit(f"no totals in {path}")
    return dict(zip(names, totals + [0] * (len(names) - len(totals)), strict=True))


def cycles(ev: dict) -> int:
    """The rough cycle estimate of a dump's events (see the module)."""
    l1 = ev.get("I1mr", 0) + ev.get("D1mr", 0) + ev.get("D1mw", 0)
    ll = ev.get("ILmr", 0) + ev.get("DLmr", 0) + ev.get("DLmw", 0)
    return ev["Ir"] + 10 * l1 + 100 * ll + 15 * (ev.get("Bcm", 0) + ev.get("Bim", 0))


class _Valgrinded:
    """One server under callgrind, instrumentation off; `window(fn)` collects fn's requests into one dump."""

    def __init__(self, target: str, env: dict, guarded: bool, cache_sim: bool, tmp: str, label: str):
        self.port = _free_port()
        self.prefix = os.path.join(tmp, f"cg-{label}")
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={self.prefix}.%p"]
        if cache_sim:
            cmd += ["--cache-sim=yes", "--branch-sim=yes"]
        cmd += [sys.executable, "-m", "bench.serve", target, "--port", str(self.port), "--workers", "1",
                "--stack", "fast"] + (["--guarded"] if guarded else [])
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env, "PYTHONHASHSEED": "0"},
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, reply: str) -> bytes:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        self.conn.request("POST", "/v1/evaluate", body, {"content-type": "application/json", REPLY_HEADER: reply})
        r = self.conn.getresponse()
        out = r.read()
        if r.status != 200:
            raise SystemExit(f"status {r.status}: {out[:300]!r}")
        return out

    def wait_ready(self, body: bytes, reply: str, timeout: float = 600) -> None:
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise SystemExit(f"server exited: {self.log.read()[-800:].decode(errors='replace')}")
            try:
                self.post(body, reply)
                return
            except OSError:
                self.conn = None
                time.sleep(1)
        raise SystemExit("server not ready under valgrind")

    def control(self, *args: str) -> None:
        subprocess.run(["callgrind_control", *args, str(self.proc.pid)], check=True, capture_output=True,
                       timeout=300)

    def window(self, bodies: list, reply: str) -> dict:
        before = set(glob.glob(self.prefix + ".*"))
        self.control("--instr=on")
        self.control("--zero")
        for b in bodies:
            self.post(b, reply)
        self.control("--dump")
        self.control("--instr=off")
        new = sorted(set(glob.glob(self.prefix + ".*")) - before)
        if len(new) != 1:
            raise SystemExit(f"{len(new)} new dumps: {new}")
        return _events(new[0])

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def server_table(names, requests: int, cache_sim: bool, keep: bool = False) -> None:
    from bench.service_instr import _bodies, _programs  # noqa: PLC0415

    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("--mode server needs valgrind and callgrind_control")
    progs = _programs(names)
    tmp = tempfile.mkdtemp(prefix="svc-server-")
    folder, bad = _replies(Path(tmp), progs)
    if bad:
        raise SystemExit("; ".join(bad))
    configs = [("bare", "bench.bare_app:app", {"BENCH_BARE_REPLIES": str(folder),
                                               "BENCH_BARE_REPLY": str(folder / f"{progs[0][0]}.json")}, False),
               ("app.main", "app.main:app", {}, True)]
    rows = {}
    try:
        for label, target, env, guarded in configs:
            srv = _Valgrinded(target, env, guarded, cache_sim, tmp, label.replace(".", "_"))
            try:
                rng = random.Random(0)
                srv.wait_ready(json.dumps(progs[0][1]).encode(), progs[0][0])
                for name, spec in progs:
                    for b in _bodies(spec, warm_sightings() + 20, rng):
                        srv.post(b, name)
                    rows[(name, label)] = srv.window(_bodies(spec, requests, rng), name)
            finally:
                srv.stop()
    finally:
        if keep:  # for callgrind_annotate: the window's dumps (cg-LABEL.PID.N)
            print(f"dumps kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    cols = ["Ir"] + (["I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw", "Bcm", "Bim", "cycles~"] if cache_sim else [])
    print(f"whole server, one worker, httptools / uvloop; {requests} fresh bodies over one keep-alive connection; "
          "events a request")
    print("| program | server | " + " | ".join(cols) + " | app.main / bare |\n|---|---|" + "---|" * (len(cols) + 1))
    for name, _ in progs:
        base = rows[(name, "bare")]
        for label, *_ in configs:
            ev = rows[(name, label)]
            vals = [ev.get(c, 0) if c != "cycles~" else cycles(ev) for c in cols]
            key = "cycles~" if cache_sim else "Ir"
            mine = cycles(ev) if cache_sim else ev["Ir"]
            theirs = cycles(base) if cache_sim else base["Ir"]
            ratio = "" if label == "bare" else f"{mine / theirs:.2f} ({key})"
            print(f"| {name} | {label} | " + " | ".join(f"{v // requests:,}" for v in vals) + f" | {ratio} |")
