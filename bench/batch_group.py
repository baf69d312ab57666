"""Group: POST /v1/evaluate/batch against the same documents sent as separate POST /v1/evaluate requests, on the
same server in the same run. Two workloads of 1,000 documents: the seed example at 1,000 points (one structure:
vectorized) and 1,000 random programs (1,000 structures: each runs alone). Throughput is documents per second;
wrk sends the separate requests over 16 connections (the server's ceiling) and over one (a client that waits
for each answer), and the batches over two connections (the server's ceiling: one batch is read and written
while the other runs) and over one, each cycling through pre-made bodies (fresh values in every document, so
no answer can come from a cache of answers; the plan cache, by structure, is fair game). The server is one
process (`--workers 1`), or BENCH_BATCH_SERVER_WORKERS of them; each has its compute pool (2 workers), which a
large seed batch borrows a core from (app/routers/batch.py): the table's notes say so."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import urllib.request
from pathlib import Path

from bench.harness import fmt_ratio, table
from bench.service_group import Server
from bench.workloads import SEED_SPEC

DOCS = 1000
GOAL = 20.0  # batch docs/s over separate requests' docs/s, seed workload (issue 16)

_LUA = """
local bodies = {}
local n = 0
local path = "%s"
init = function(args)
  for line in io.lines(args[1]) do n = n + 1; bodies[n] = line end
end
local k = 0
request = function()
  k = k %% n + 1
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, bodies[k])
end
"""


def seed_docs(rng, n=DOCS):
    docs = []
    for _ in range(n):
        doc = json.loads(json.dumps(SEED_SPEC))
        for leaf in doc["leaves"].values():
            leaf["data"] = round(rng.uniform(1, 10), 3)
        docs.append(doc)
    return docs


_UNARY = ("sin", "exp", "tanh", "neg", "cos", "sigmoid", "relu")
_BINARY = ("add", "mul", "sub")


def random_docs(rng, n=DOCS):
    """n programs of distinct structures: 1 to 3 leaves of one random shape, 2 to 8 elementwise ops with their
    names drawn afresh, a sum and a backward pass."""
    docs = []
    for i in range(n):
        shape = rng.choice([[], [3], [2, 3]])
        leaves = {}
        for k in range(rng.randint(1, 3)):
            data = rng.uniform(-2, 2)
            for s in reversed(shape):
                data = [data] * s
            leaves[f"x{i}_{k}"] = {"data": data, "requires_grad": True}
        names = list(leaves)
        ops = []
        for j in range(rng.randint(2, 8)):
            name = f"t{i}_{j}"
            if rng.random() < 0.5 or len(names) < 2:
                ops.append({"name": name, "op": rng.choice(_UNARY), "args": [rng.choice(names)]})
            else:
                ops.append({"name": name, "op": rng.choice(_BINARY), "args": rng.sample(names, 2)})
            names.append(name)
        ops.append({"name": f"s{i}", "op": "sum", "args": [names[-1]]})
        docs.append({"leaves": leaves, "ops": ops, "backward": [{"tensor": f"s{i}"}]})
    return docs


def _post(url, doc):
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _check(url, docs):
    """The batch's answers are the separate requests' answers (status and body, byte for byte)."""
    status, body = _post(url + "/v1/evaluate/batch", {"requests": docs})
    assert status == 200, body[:300]
    results = json.loads(body)["results"]
    bad = 0
    for doc, res in zip(docs, results):
        s, b = _post(url + "/v1/evaluate", doc)
        bad += (s != res["status"]) or json.loads(b) != res["body"]
    return bad


def run(args) -> tuple[str, dict]:
    rng = random.Random(16)
    tmp = Path(tempfile.mkdtemp(prefix="gradserve-bench-batch-"))
    workloads = {"seed": ("seed example, 1,000 points (one structure)", seed_docs),
                 "random": ("1,000 random programs (1,000 structures)", random_docs)}
    figures, rows, notes = {}, [], []
    procs = int(os.environ.get("BENCH_BATCH_SERVER_WORKERS", "1"))  # server processes (bench.serve --workers)
    server = Server("app.main", "app.main:app", procs, {"GRADSERVE_MAX_IN_FLIGHT": "64"}, stack="fast")
    try:
        err = server.wait_ready(json.dumps(SEED_SPEC).encode())
        if err is not None:
            return table("Batch: POST /v1/evaluate/batch", ["workload"], [], [f"server failed: {err}"]), {}
        files = {}
        for key, (_, make) in workloads.items():
            docs = make(rng)
            (tmp / f"{key}.txt").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
            # four batch bodies: the seed's 1,000 documents with other values in each; four draws of 1,000 random
            # programs (two connections sending one body at once would show each program twice in a row: its second
            # sighting lowers it, ~6 runs' work (engine.program.plans.lowered_checked), a cost docs/PERFORMANCE.md
            # names; here the batches are compared with separate requests that see each program once a cycle)
            batches = [docs] + [make(random.Random(100 + b)) for b in range(3)]
            (tmp / f"{key}_batch.txt").write_text("\n".join(json.dumps({"requests": b}) for b in batches) + "\n")
            bad = _check(server.url, docs[:200])
            if bad:
                notes.append(f"{key}: {bad} of 200 batch answers differ from the separate requests' (a bug)")
            files[key] = docs
        (tmp / "one.lua").write_text(_LUA % "/v1/evaluate")
        (tmp / "batch.lua").write_text(_LUA % "/v1/evaluate/batch")
        for key in workloads:  # every batch body is answered document by document (wrk sees only statuses)
            short = _unanswered(server.url, tmp / f"{key}_batch.txt")
            if short:
                notes.append(f"{key}: {short} batch bodies not answered with {DOCS:,} documents (a bug)")
        columns = {"separate16": ("/v1/evaluate", 16), "separate1": ("/v1/evaluate", 1),
                   "batch2": ("/v1/evaluate/batch", 2), "batch1": ("/v1/evaluate/batch", 1)}
        runs = {(k, c): [] for k in workloads for c in columns}
        for key in workloads:  # warm-up: the plan cache, imports
            _wrk_file(server.url, tmp, "one", f"{key}.txt", 16, 1, "/v1/evaluate")
            _wrk_file(server.url, tmp, "batch", f"{key}_batch.txt", 2, 1, "/v1/evaluate/batch")
        for r in range(args.service_rounds):
            order = list(runs)
            order = order[r % len(order):] + order[:r % len(order)]
            for key, c in order:
                path, conns = columns[c]
                batch = "batch" in c
                # a random batch takes ~0.7 s alone, two at once up to ~3 s on a loaded machine: twice the run
                seconds = args.duration * (2 if batch and key == "random" else 1)
                res = _wrk_file(server.url, tmp, "batch" if batch else "one", f"{key}{'_batch' if batch else ''}.txt",
                                conns, seconds, path)
                if batch:  # documents a second: conns / mean latency (Little's law, each connection always
                    # waiting on one batch), not requests/s x 1,000: a random batch takes ~0.7 s, so a run of
                    # 3 s completes 4-8 of them and wrk's count would be off by up to one batch in four
                    runs[(key, c)].append(conns * DOCS / res["latency"] if res["latency"] else 0)
                else:
                    runs[(key, c)].append(res["rps"] or 0)
                if res["errors"]:
                    notes.append(f"{key} {c}: {res['errors']} non-2xx responses")
        for key, (label, _) in workloads.items():
            med = {c: statistics.median(runs[(key, c)]) for c in columns}
            r16 = statistics.median(b / s for b, s in zip(runs[(key, "batch2")], runs[(key, "separate16")]) if s)
            r1 = statistics.median(b / s for b, s in zip(runs[(key, "batch1")], runs[(key, "separate1")]) if s)
            goal = GOAL if key == "seed" else 1.0
            rows.append([label, f"{med['separate16']:.0f}", f"{med['separate1']:.0f}", f"{med['batch2']:.0f}",
                         f"{med['batch1']:.0f}", fmt_ratio(r16, goal, higher_is_better=True),
                         fmt_ratio(r1, goal, higher_is_better=True)])
            figures[key] = {**med, "batch_vs_separate16": r16, "batch_vs_separate1": r1}
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    notes += [
        f"server: python -m bench.serve app.main:app --workers {procs} --stack fast (httptools / uvloop), default "
        f"settings (2 compute workers a server process); {args.threads} BLAS thread(s); load: wrk -t1, "
        f"{args.duration:g} s per run, "
        f"{args.service_rounds} rounds rotating through the rows; the load generator shares the machine's cores",
        "separate: each document its own POST /v1/evaluate, over 16 connections (the server's throughput) and "
        "over 1 (one client awaiting each answer); batch: POST /v1/evaluate/batch of the 1,000 documents "
        "(wrk too: connections x 1,000 / its mean latency), over 2 connections (the server's throughput) and "
        "over 1, four bodies in turn (the seed's: other values in each); figures are documents per second",
        f"goal (issue 16): the seed batch ≥ {GOAL:g}× the separate requests' throughput (batch, 2 conns / "
        f"separate, 16 conns); random programs ≥ 1×; one waiting client each: batch, 1 conn / separate, 1 conn",
        "the seed batch uses a second process's core: a body with a run of >= 512 documents of one template is "
        "split with an idle compute worker, which reads, runs and writes the documents of the text's last 60% "
        "(all of it beside another batch; app/services/batch_part.py); the separate requests get a second core "
        "only with BENCH_BATCH_SERVER_WORKERS=2 (two server processes; then the batches too)",
        "before timing, 200 documents of each workload are answered both ways and compared byte for byte, and "
        "each batch body's answer is checked to hold its 1,000 documents' answers",
    ]
    return table(
        f"Batch: POST /v1/evaluate/batch of {DOCS:,} documents vs the same as separate requests",
        ["workload", "separate, 16 conns", "separate, 1 conn", "batch, 2 conns", "batch, 1 conn",
         "batch 2 / sep. 16", "batch 1 / sep. 1"],
        rows,
        notes,
    ), figures


def _unanswered(url, body_file) -> int:
    """How many of body_file's batch bodies (one a line) are not answered 200 with DOCS documents' answers."""
    import http.client  # noqa: PLC0415
    from urllib.parse import urlsplit  # noqa: PLC0415

    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    short = 0
    try:
        for body in body_file.read_bytes().splitlines():
            conn.request("POST", "/v1/evaluate/batch", body, {"content-type": "application/json"})
            reply = conn.getresponse()
            short += reply.status != 200 or len(json.loads(reply.read())["results"]) != DOCS
    finally:
        conn.close()
    return short


def _wrk_file(url, tmp, lua, body_file, conns, seconds, path):
    """wrk with the Lua script cycling through the bodies of body_file (one a line)."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(tmp / f"{lua}.lua"),
         url + path, "--", str(tmp / body_file)],
        capture_output=True, text=True, timeout=seconds + 90,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    lat = re.search(r"Latency\s+([\d.]+)(us|ms|s)\b", out)
    latency = float(lat[1]) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[lat[2]] if lat else None
    return {"rps": float(rps[1]) if rps else None, "errors": int(non2xx[1]) if non2xx else 0,
            "latency": latency}

