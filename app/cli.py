"""The `gradserve` command: `gradserve serve --host H --port P --workers N`."""
from __future__ import annotations

import argparse
import math
import os
import sys

from app import __version__
from app.core.config import get_settings


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="gradserve", description="Gradient-as-a-service over HTTP.")
    parser.add_argument("--version", action="version", version=f"gradserve {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server",
                           description="Run the HTTP server. Limits and other settings come from GRADSERVE_* "
                                       "environment variables.")
    serve.add_argument("--host", default=settings.host, help="interface to bind (default %(default)s)")
    serve.add_argument("--port", type=int, default=settings.port, help="port (default %(default)s)")
    serve.add_argument("--workers", type=int, default=settings.workers,
                       help="server processes, each with its own compute workers and limits "
                            "(default %(default)s)")
    serve.add_argument("--log-level", default=settings.log_level,
                       choices=["critical", "error", "warning", "info", "debug"])
    from gradserve.cli import add_parser as add_eval  # noqa: PLC0415 - `gradserve eval`, the client's command

    add_eval(sub)
    args = parser.parse_args(argv)
    if args.command == "eval":
        return args.func(args)

    import uvicorn  # noqa: PLC0415 - not needed for --help

    # The app reads its settings from the environment, in this process and in every --workers process.
    os.environ["GRADSERVE_LOG_LEVEL"] = args.log_level
    # the engine shares the CPUs among the server processes (GRADSERVE_ELEMENTWISE_THREADS' default, engine/parallel.py)
    os.environ["GRADSERVE_WORKERS"] = str(args.workers)
    get_settings.cache_clear()

    kw = dict(
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        server_header=False,
        # gradserve writes its own JSON access log (GRADSERVE_ACCESS_LOG); uvicorn's would say it twice.
        access_log=not settings.access_log,
        # In-flight evaluations end within the time limit; shutdown does not wait longer than that.
        timeout_graceful_shutdown=math.ceil(settings.time_limit_s) + 5,
        # A request's head and body within GRADSERVE_BODY_TIMEOUT_S, headers within GRADSERVE_MAX_HEADER_BYTES,
        # at most GRADSERVE_MAX_CONNECTIONS connections (app/core/protocol.py); h11, where httptools is
        # missing, gets the header limit from uvicorn and none of the rest.
        http=_http_protocol(),
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
    if args.workers <= 1:
        uvicorn.run("app.main:app", **kw)
        return 0
    _run_multiprocess(uvicorn, kw)
    return 0


def _http_protocol() -> str:
    """uvicorn's `http=`: the guarded httptools protocol, by import path (the --workers processes import it)."""
    import importlib.util  # noqa: PLC0415

    if importlib.util.find_spec("httptools") is None:
        print("gradserve: httptools is not installed: no header/body timeouts or connection limit (h11)",
              file=sys.stderr)
        return "h11"
    return "app.core.protocol:GuardedHttpToolsProtocol"


def _run_multiprocess(uvicorn, kw):
    """uvicorn --workers N, each worker listening on its own socket (SO_REUSEPORT), bound as IPPROTO_TCP.

    One shared socket (uvicorn's way) lets a burst of connections land on one worker: every worker wakes
    for it and the first to run accepts all that are waiting (asyncio takes up to `backlog` a wakeup), so
    16 keep-alive clients often all sat on one of two workers, which then served at one worker's rate
    (docs/PERFORMANCE.md, sixth session). With a socket per worker in one SO_REUSEPORT group, the kernel
    spreads connections over the workers by their addresses. The supervisor holds the port with a socket
    of the group that never listens (a port in use fails here, at once; port 0 is resolved here); each
    worker binds its own when it starts (WorkerSocket), and closes it with its life, so no new connection
    waits on the socket of a worker that died. The trade-off: connections queued on a stopping worker's
    socket, not yet accepted, are reset rather than taken by another worker (Linux migrates them where
    net.ipv4.tcp_migrate_req=1; docs/RELIABILITY.md). Where SO_REUSEPORT is missing, one shared socket.

    IPPROTO_TCP: uvicorn's own multiprocess path binds with proto 0, so asyncio never sets TCP_NODELAY on
    accepted connections and each keep-alive response waits ~40 ms for Nagle and the client's delayed ACK
    (Kludex/uvicorn#3149): 361 against 4,635 requests/s for a bare app at 2 workers (docs/PERFORMANCE.md).
    """
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    config = uvicorn.Config("app.main:app", **kw)
    Multiprocess(config, sockets=worker_sockets(kw["host"], kw["port"])).run()


def listening_socket(host: str, port: int, reuse_port: bool = False):
    """A TCP socket bound to (host, port), IPPROTO_TCP (see _run_multiprocess), inheritable."""
    import socket  # noqa: PLC0415

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class WorkerSocket:
    """Stands in for the listening socket in uvicorn's supervisor: a worker process it is sent to (pickled,
    as the supervisor sends sockets) unpickles it as its own socket (worker_socket), bound to the port in the
    SO_REUSEPORT group. `reserved`: the supervisor's socket of the group, which never listens (TCP gives
    connections to listening sockets only). A port already in use fails here: a probe socket without
    SO_REUSEPORT is bound first (it also resolves port 0), else a second server with this group's option
    would join it and share its traffic."""

    def __init__(self, host: str, port: int):
        probe = listening_socket(host, port)  # OSError (address in use) where anything listens there
        port = probe.getsockname()[1]
        probe.close()
        self.reserved = listening_socket(host, port, reuse_port=True)
        self.host, self.port = host, port

    def __reduce__(self):
        return worker_socket, (self.host, self.port)


def worker_socket(host: str, port: int):
    """A worker's own socket of the group. Where it cannot bind (another program took the port while no
    worker listened), the worker exits with uvicorn's STARTUP_FAILURE, so the supervisor stops with the
    error instead of starting a worker every half second that fails the same way."""

    try:
        return listening_socket(host, port, reuse_port=True)
    except OSError as e:
        from uvicorn.config import STARTUP_FAILURE  # noqa: PLC0415

        print(f"gradserve: worker cannot bind {host}:{port}: {e}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)


def worker_sockets(host: str, port: int) -> list:
    """What uvicorn's Multiprocess takes as its sockets: a WorkerSocket, or one shared socket."""
    import socket  # noqa: PLC0415

    if hasattr(socket, "SO_REUSEPORT"):
        return [WorkerSocket(host, port)]
    return [listening_socket(host, port)]


if __name__ == "__main__":
    raise SystemExit(main())
