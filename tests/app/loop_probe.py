"""Whether a server's event loop was held, judged by the CPU the server spent while a probe waited, not by the
wall clock: on the shared test host (load 15-25 on 2 cores) a /healthz can wait seconds for a core while the loop
is free, and a request's own work can take many times its CPU in wall time.

`LoopProber(server)` GETs /healthz every 50 ms on its own connection while `with` runs. A probe is late when the
server process (every thread of it: the event loop, and a thread that holds the GIL) spent more than
HEALTH_BOUND_CPU_S of CPU between the probe's send and its answer, or when no answer came within
PROBE_TIMEOUT_S at all. Answering a /healthz takes the loop milliseconds; a loop held by a request's work spends
that work's CPU before it answers, at any load. What it does not see: a loop blocked without spending the server's
CPU (a sleep, a lock, a synchronous wait on a compute worker) for less than PROBE_TIMEOUT_S; the requests these
probes watch spend at most ~1.4 s of CPU in all (mode of 4e6 values, in the worker), so a wall-clock prober's 2 s
could not see such a wait on them either. `cpu_s(pids)` is what processes have spent, for a request's own CPU (the
server and its compute workers: `tree`)."""
from __future__ import annotations

import os
import threading
import time

import httpx

from tests.app.conftest import children

HEALTH_BOUND_CPU_S = 2.0  # generous: the loop must never be held for longer than this by one request
PROBE_TIMEOUT_S = 60.0  # a probe unanswered this long is late, whatever the CPU says
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pids) -> float:
    """User + system CPU seconds the processes `pids` (all their threads) have used, from /proc; a process gone
    counts 0."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": fields 3.. of proc(5)
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _TICK


def tree(server) -> list[int]:
    """The server process and its children (the compute workers)."""
    return [server.proc.pid, *sorted(children(server.proc.pid))]


class LoopProber:
    """GET /healthz every 50 ms while `with` runs; `late` lists the probes during which the server spent more
    than HEALTH_BOUND_CPU_S of CPU (or that got no answer), as (CPU s, wall s) or the error. `with` starts once a
    first probe was answered, and ends once one sent inside it was (on a loaded host the prober's thread may
    not run at all in a short `with`: answered would be 0)."""

    def __init__(self, server):
        self.url, self.pid = server.url, server.proc.pid
        self.late, self.answered, self.most_cpu = [], 0, 0.0
        self._sent = self._done = 0
        self._inside = None  # the number of the first probe sent inside `with`
        self._stop, self._first = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _probe(self, c):
        c0, t0 = cpu_s([self.pid]), time.monotonic()
        try:
            status = c.get("/healthz").status_code
        except httpx.HTTPError as e:  # no answer within PROBE_TIMEOUT_S, or none at all
            self.late.append(repr(e))
            return
        if status != 200:
            self.late.append(f"/healthz answered {status}")
            return
        self.answered += 1
        spent = cpu_s([self.pid]) - c0
        self.most_cpu = max(self.most_cpu, spent)
        if spent > HEALTH_BOUND_CPU_S:
            self.late.append((spent, time.monotonic() - t0))

    def _run(self):
        with httpx.Client(base_url=self.url, timeout=PROBE_TIMEOUT_S) as c:
            while True:
                self._sent += 1
                self._probe(c)
                self._done += 1
                self._first.set()
                if self._stop.is_set() and self._done > self._inside:  # (probes run one after another)
                    return
                self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        self._first.wait(2 * PROBE_TIMEOUT_S)
        self._inside = self._sent
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(2 * PROBE_TIMEOUT_S + 10)  # a probe in flight is answered (or late) before it is read
