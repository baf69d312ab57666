"""Group 3: a 1000×1000 float32 leaf and its gradient through the whole round trip, JSON lists vs base64.

Stages as a client and the service meet them: the client encodes the request (tolist or b64 + orjson),
the server decodes it (orjson), engine.evaluate builds the leaf, runs y = x*x, s = y.sum(), backward, and
writes x's data and grad in the request's encoding; the server encodes the response (orjson) and the
client decodes it back into NumPy arrays."""

from __future__ import annotations

import base64
import statistics
import time

import numpy as np

from bench.harness import fmt_ratio, fmt_time, table

GOAL = 5.0  # JSON lists / base64, total round trip
N = 1000


def _spec(leaf, encoding):
    s = {
        "leaves": {"x": {**leaf, "requires_grad": True}},
        "ops": [{"name": "y", "op": "mul", "args": ["x", "x"]}, {"name": "s", "op": "sum", "args": ["y"]}],
        "backward": [{"tensor": "s"}],
        "outputs": ["x"],
        "grads": ["x"],
    }
    if encoding == "base64":
        s["encoding"] = "base64"
    return s


def _decode_wire(v, encoding):
    if encoding == "base64":
        return np.frombuffer(
            base64.b64decode(v["b64"]), dtype="<" + {"float32": "f4", "float64": "f8"}[v["dtype"]]
        ).reshape(v["shape"])
    return np.asarray(v, dtype=np.float32)


def round_trip(arr, encoding):
    """One round trip; returns {stage: seconds}, the bytes each way, and the decoded grad."""
    import orjson  # noqa: PLC0415

    import engine  # noqa: PLC0415

    t = {}
    c0 = time.perf_counter()
    if encoding == "base64":
        leaf = {
            "dtype": "float32",
            "shape": list(arr.shape),
            "b64": base64.b64encode(arr.astype("<f4").tobytes()).decode(),
        }
        leaf = {"data": leaf}
    else:
        leaf = {"data": arr.tolist(), "dtype": "float32"}
    body = orjson.dumps(_spec(leaf, encoding))
    c1 = time.perf_counter()
    spec = orjson.loads(body)
    c2 = time.perf_counter()
    resp = engine.evaluate(spec)
    c3 = time.perf_counter()
    out = orjson.dumps(resp)
    c4 = time.perf_counter()
    got = orjson.loads(out)["tensors"]["x"]
    data, grad = _decode_wire(got["data"], encoding), _decode_wire(got["grad"], encoding)
    c5 = time.perf_counter()
    t["client encode"], t["server decode"], t["engine.evaluate"] = c1 - c0, c2 - c1, c3 - c2
    t["server encode"], t["client decode"], t["total"] = c4 - c3, c5 - c4, c5 - c0
    return t, len(body), len(out), data, grad


def run(args) -> tuple[str, dict]:
    arr = np.random.default_rng(4).standard_normal((N, N), dtype=np.float32)
    notes = []
    for enc in ("json", "base64"):  # correctness, and the first-call costs out of the way
        _, _, _, data, grad = round_trip(arr, enc)
        if not (np.array_equal(data, arr) and np.allclose(grad, 2 * arr, rtol=1e-6)):
            notes.append(f"CHECK FAILED: {enc} round trip does not give back x and 2x")
    rounds = max(3, args.rounds)
    runs = {"json": [], "base64": []}
    for r in range(rounds):
        for enc in ("json", "base64") if r % 2 == 0 else ("base64", "json"):
            runs[enc].append(round_trip(arr, enc))
    stages = list(runs["json"][0][0])
    rows, figures = [], {}
    for st in stages:
        j = statistics.median(x[0][st] for x in runs["json"])
        b = statistics.median(x[0][st] for x in runs["base64"])
        ratio = statistics.median(x[0][st] / y[0][st] for x, y in zip(runs["json"], runs["base64"]))
        figures[st] = {"json": j, "base64": b, "json/base64": ratio}
        rows.append(
            [
                st,
                fmt_time(j),
                fmt_time(b),
                fmt_ratio(ratio, GOAL if st == "total" else None, higher_is_better=True),
            ]
        )
    jb = runs["json"][0]
    bb = runs["base64"][0]
    rows.append(["request bytes", f"{jb[1] / 1e6:.1f} MB", f"{bb[1] / 1e6:.1f} MB", fmt_ratio(jb[1] / bb[1])])
    rows.append(
        ["response bytes", f"{jb[2] / 1e6:.1f} MB", f"{bb[2] / 1e6:.1f} MB", fmt_ratio(jb[2] / bb[2])]
    )
    figures["bytes"] = {"request": [jb[1], bb[1]], "response": [jb[2], bb[2]]}
    notes.insert(
        0,
        f"{rounds} alternating rounds, medians; x is {N}×{N} float32 (4 MB); the program is y = x*x, "
        "s = y.sum(), backward, outputs [x], grads [x]",
    )
    notes.append(f"goal: base64 round trip ≥ {GOAL:g}× faster than JSON lists (the 'total' row)")
    return table(
        f"Payload: {N}×{N} float32 leaf and its gradient, JSON lists vs base64",
        ["stage", "JSON lists", "base64", "JSON/base64"],
        rows,
        notes,
    ), figures
