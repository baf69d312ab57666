"""What gradserve serve's guarded HTTP protocol (app/core/protocol.py) costs a request, against uvicorn's own
httptools protocol: `python -m bench.protocol_ab [--rounds 15] [--requests 4000]`.

One kept-alive connection over a stand-in transport, in one process on uvloop: each request is fed to the
protocol's data_received, and the loop runs its ASGI task (a trivial app: read the body, answer 2 bytes).
No socket, no kernel, no app: the protocols' own cost per request. Rounds alternate the two; the figure is
each one's fastest round (the machine's noise only ever adds) and the median. GC is off while timing.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time

import uvloop
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.core.protocol import GuardedHttpToolsProtocol
from bench.workloads import SEED_SPEC


async def _app(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})


class _Transport:
    def __init__(self):
        self.closing = False

    def get_extra_info(self, key, default=None):
        return ("127.0.0.1", 8000) if key in ("peername", "sockname") else default

    def write(self, data):
        pass

    def close(self):
        self.closing = True

    def is_closing(self):
        return self.closing

    def pause_reading(self):
        pass

    def resume_reading(self):
        pass


def _request() -> bytes:
    import json  # noqa: PLC0415

    body = json.dumps(SEED_SPEC).encode()
    return (b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


async def _run(rounds: int, requests: int) -> dict[str, list[float]]:
    loop = asyncio.get_running_loop()
    config = Config(app=_app, log_level="warning")
    config.load()
    req = _request()
    out: dict[str, list[float]] = {}
    classes = (HttpToolsProtocol, GuardedHttpToolsProtocol)
    gc.disable()
    try:
        for r in range(rounds):
            for cls in classes if r % 2 else classes[::-1]:
                protocol = cls(config, ServerState(), {}, loop)
                protocol.connection_made(_Transport())
                t0 = time.perf_counter()
                for _ in range(requests):
                    protocol.data_received(req)
                    await asyncio.sleep(0)  # the ASGI task reads the body ...
                    await asyncio.sleep(0)  # ... and answers
                out.setdefault(cls.__name__, []).append((time.perf_counter() - t0) / requests * 1e6)
                protocol.connection_lost(None)
                gc.collect()
    finally:
        gc.enable()
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.protocol_ab", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--requests", type=int, default=4000)
    a = p.parse_args(argv)
    res = uvloop.run(_run(a.rounds, a.requests))
    base = min(res["HttpToolsProtocol"])
    print(f"| protocol ({a.rounds} rounds of {a.requests} requests) | fastest round, µs a request | median | "
          "fastest vs uvicorn's |")
    print("|---|---|---|---|")
    for name, v in res.items():
        print(f"| {name} | {min(v):.2f} | {statistics.median(v):.2f} | {min(v) / base:.3f}× |")


if __name__ == "__main__":
    main()
