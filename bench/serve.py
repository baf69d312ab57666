"""Start an app the way `gradserve serve --workers N` does: uvicorn's supervisor, TCP_NODELAY intact for
N > 1, and a listening socket per worker (app.cli.worker_sockets).

    python -m bench.serve app.main:app --port 8000 --workers 2 [--stock] [--stack h11|fast]

uvicorn 0.54's multiprocess path binds the listening socket with proto 0; accepted sockets inherit it and
asyncio only sets TCP_NODELAY on sockets whose proto is IPPROTO_TCP, so Nagle's algorithm meets the
client's delayed ACK and every keep-alive response waits ~40 ms (Kludex/uvicorn#3149, still open). Here the
sockets are bound with IPPROTO_TCP, one per worker in an SO_REUSEPORT group (one shared socket let a burst of
connections land on one worker: see app/cli.py); everything else is uvicorn's own. --stock runs uvicorn.run
as is.
--stack: h11 (pure-Python HTTP parser, asyncio's loop) or fast (httptools and uvloop, what uvicorn picks by
itself where they are installed, as they are with gradserve)."""

from __future__ import annotations

import argparse

from app.cli import worker_sockets


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--stock", action="store_true", help="plain uvicorn.run (the Nagle stall included)")
    p.add_argument("--stack", choices=("h11", "fast"), default="h11")
    p.add_argument("--guarded", action="store_true",
                   help="with --stack fast: gradserve serve's own HTTP protocol (app/core/protocol.py: request "
                        "deadlines, header and connection limits), as app.main is deployed")
    a = p.parse_args(argv)

    import uvicorn  # noqa: PLC0415
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    kw = dict(host=a.host, port=a.port, workers=a.workers, log_level="warning", access_log=False,
              **({"loop": "asyncio", "http": "h11"} if a.stack == "h11" else {"loop": "uvloop", "http": "httptools"}))
    if a.guarded and a.stack == "fast":
        from app.cli import _http_protocol  # noqa: PLC0415

        kw["http"] = _http_protocol()
    if a.stock or a.workers == 1:  # one process: asyncio binds from getaddrinfo, proto 6, no stall
        uvicorn.run(a.app, **kw)
        return
    config = uvicorn.Config(a.app, **kw)
    Multiprocess(config, sockets=worker_sockets(a.host, a.port)).run()


if __name__ == "__main__":
    main()
