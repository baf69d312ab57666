"""A small pool of compute processes that can be killed: the only way to really stop a computation on time.

Each worker is a fresh interpreter (never a fork: the server has threads, and CUDA does not survive a fork;
nor multiprocessing's spawn, which re-runs the server's __main__ script in every child) that answers one
call at a time over its own socket. A call past its deadline gets the worker SIGKILLed, reaped and replaced
in the background; so does a worker that dies mid-call, and one that dies while idle, as it dies: the event
loop watches each worker's pidfd (Linux 5.3+), which turns readable when the process ends, so no request is
sent to a dead worker (elsewhere, a call checks the worker it takes). Not its socket: uvloop's add_reader
makes a descriptor non-blocking, and the blocking reads of the thread that waits for a reply then failed
with EAGAIN on any reply longer than one read. Other calls go on meanwhile. This module imports neither
FastAPI nor the engine, so a worker starts with only what `preload` names.
"""
from __future__ import annotations

import asyncio
import gc
import importlib
import json
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

import anyio.to_thread

from app.core import memtrim

log = logging.getLogger("gradserve.workers")
# The child's whole program: the parent's sys.path (so it imports what the parent can), then the loop.
_BOOTSTRAP = ("import json, sys; a = json.loads(sys.argv[1]); sys.path[:] = a['sys_path']; "
              "from app.core.workers import _child_main; _child_main(a)")


class WorkerTimeout(Exception):
    """The call ran past its deadline (its worker was killed), or no worker was free before it (`waited`)."""

    def __init__(self, msg: str, waited: bool = False):
        super().__init__(msg)
        self.waited = waited


class WorkerDied(Exception):
    """The worker died (killed, crashed) during the call."""

    def __init__(self, pid: int, exitcode: int | None):
        super().__init__(f"worker {pid} died with exit code {exitcode}")
        self.pid, self.exitcode = pid, exitcode


class PoolClosed(Exception):
    pass


class NoIdleWorker(Exception):
    """WorkerPool.run_idle found no worker it may take now (it never waits for one)."""


# ----- the child process -----

def _watch_parent(parent_pid: int) -> None:
    # The pipe's EOF ends an idle worker when the server dies; this ends a busy one too.
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(1)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a RuntimeError saying what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _child_main(a: dict) -> None:
    _worker_main(Connection(a["fd"]), a["parent_pid"], tuple(a["preload"]), a["threads"])


def _worker_main(conn: Connection, parent_pid: int, preload: tuple[str, ...], threads: int) -> None:
    # Ctrl-C reaches the whole process group; the server decides when its workers end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Workers share the cores: N workers each running BLAS on every core would starve one another (and the
    # server). Set before `preload` imports NumPy; an explicit setting in the environment wins.
    for var in _THREAD_VARS:
        os.environ.setdefault(var, str(threads))
    memtrim.pin_worker_heap()  # the heap's top kept between calls (app/core/memtrim.py)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    for name in preload:
        importlib.import_module(name)
    # as the server does (app.main._tune_gc): graphs are many small objects and no cycles
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    memtrim.mark()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, args = msg
        try:
            reply = ("ok", fn(*args))
        except BaseException as e:  # noqa: BLE001 - everything goes back to the caller
            reply = ("raised", _portable(e), traceback.format_exc())
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        msg = fn = args = reply = None  # (what the call held, freed before the allocator is asked to give it back)
        memtrim.after_call()  # the freed pages given back after a call that grew the worker (app/core/memtrim.py)


# ----- the parent's view of one worker -----

class Worker:
    def __init__(self, preload: tuple[str, ...], threads: int):
        ours, theirs = socket.socketpair()
        with ours, theirs:
            fd = theirs.fileno()
            args = {"fd": fd, "parent_pid": os.getpid(), "preload": list(preload), "threads": threads,
                    "sys_path": [p for p in sys.path if isinstance(p, str)]}
            self.proc = subprocess.Popen([sys.executable, "-c", _BOOTSTRAP, json.dumps(args)], pass_fds=(fd,),
                                         stdin=subprocess.DEVNULL)
            self.conn = Connection(ours.detach())
        self.pid = self.proc.pid
        self.busy = False
        self.idle = False  # in the pool's queue of idle workers
        self.dead = False  # found dead while idle, and retired
        self.watched = False  # its pidfd is on the event loop's watch
        try:
            self.pidfd: int | None = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # not Linux 5.3+: no watch
            self.pidfd = None
        self._lock = threading.Lock()
        self._reaped = False

    def wait_ready(self, timeout: float) -> bool:
        try:
            return self.conn.poll(timeout) and self.conn.recv()[0] == "ready"
        except (EOFError, OSError):
            return False

    def call(self, fn, args: tuple, deadline: float) -> tuple:
        """Blocking: send one call and wait for its reply until `deadline` (time.monotonic)."""
        try:
            self.conn.send((fn, args))
            if not self.conn.poll(max(0.0, deadline - time.monotonic())):
                return ("timeout",)
            return self.conn.recv()
        except (EOFError, OSError):
            return ("died",)

    @property
    def exitcode(self) -> int | None:
        return self.proc.poll()

    def is_alive(self) -> bool:
        return self.proc.poll() is None

    def signal_kill(self) -> None:
        """SIGKILL only: whoever is in `call` then sees EOF, and reaps the worker through `kill`."""
        try:
            self.proc.kill()  # a no-op once the worker is reaped: never a signal to a reused pid
        except ProcessLookupError:
            pass

    def kill(self) -> int | None:
        """SIGKILL (when still alive) and reap, so that no zombie stays behind; the exit code.
        Only the worker's current user calls this: closing the pipe under a thread that polls it would let
        the descriptor be reused beneath that thread."""
        with self._lock:
            if not self._reaped:
                self.signal_kill()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:  # unkillable (D state): left to subprocess's own reaping
                    log.error("compute worker %s did not die on SIGKILL", self.pid)
                self.conn.close()
                if self.pidfd is not None:  # off the loop's watch already (WorkerPool._unwatch)
                    os.close(self.pidfd)
                self._reaped = True
        return self.proc.returncode

    def stop(self) -> None:
        """Ask an idle worker to leave, then make sure it did."""
        try:
            self.conn.send(None)
        except (EOFError, OSError):
            pass
        try:
            self.proc.wait(1)
        except subprocess.TimeoutExpired:
            pass
        self.kill()


class WorkerPool:
    """`await pool.run(fn, *args, timeout=...)` runs `fn(*args)` in a worker; fn and args must pickle."""

    def __init__(self, size: int, preload: tuple[str, ...] = (), start_timeout: float = 60.0):
        self.size = size
        self.preload = tuple(preload)
        self.start_timeout = start_timeout
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.threads = max(1, cores // max(1, size))
        self.restarts = 0
        self._workers: set[Worker] = set()
        self._idle: asyncio.Queue[Worker] | None = None
        self._tasks: set[asyncio.Task] = set()
        self._closed = False
        self._waiting = 0  # `run` calls waiting for a worker

    async def start(self) -> None:
        self._idle = asyncio.Queue()
        await asyncio.gather(*(self._add_worker() for _ in range(self.size)))

    async def _add_worker(self) -> None:
        w = await anyio.to_thread.run_sync(Worker, self.preload, self.threads)
        self._workers.add(w)
        ready = not self._closed and await anyio.to_thread.run_sync(w.wait_ready, self.start_timeout)
        if ready and not self._closed:
            self._put_idle(w)
            return
        await anyio.to_thread.run_sync(w.kill)
        self._workers.discard(w)
        if self._closed:
            return
        # A worker that cannot start (bad preload, no memory) is logged, reaped and tried again later.
        log.error("compute worker %s did not start (exit code %s); retrying", w.pid, w.exitcode)
        await asyncio.sleep(1.0)
        if not self._closed:
            self._spawn_replacement()

    def _spawn_replacement(self) -> None:
        task = asyncio.get_running_loop().create_task(self._add_worker())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _put_idle(self, w: Worker) -> None:
        w.idle = True
        self._idle.put_nowait(w)
        if not w.watched and w.pidfd is not None:  # watched from its first idle moment to its retirement
            try:
                asyncio.get_running_loop().add_reader(w.pidfd, self._exited, w)
                w.watched = True
            except (NotImplementedError, OSError):  # a loop without add_reader: found at its next call
                pass

    def _take_idle(self, w: Worker) -> None:
        w.idle = False

    def _unwatch(self, w: Worker) -> None:
        if w.watched:
            w.watched = False
            try:
                asyncio.get_running_loop().remove_reader(w.pidfd)
            except (NotImplementedError, OSError, ValueError):
                pass

    def _exited(self, w: Worker) -> None:
        """Its pidfd turned readable: the process ended. An idle worker is retired now; a busy one by its
        caller, who sees the end of its socket."""
        self._unwatch(w)
        if w.idle and not w.dead:
            self._take_idle(w)
            self._found_dead(w)

    def _found_dead(self, w: Worker) -> None:
        w.dead = True
        log.warning("compute worker %s died while idle (exit code %s); replacing it", w.pid, w.exitcode)
        task = asyncio.get_running_loop().create_task(self._retire(w))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _retire(self, w: Worker) -> int | None:
        self._workers.discard(w)
        self._unwatch(w)
        code = await anyio.to_thread.run_sync(w.kill)
        self.restarts += 1
        if not self._closed:
            self._spawn_replacement()
        return code

    async def run(self, fn, *args: Any, timeout: float) -> Any:
        if self._closed or self._idle is None:
            raise PoolClosed("the worker pool is not running")
        deadline = time.monotonic() + timeout
        while True:
            self._waiting += 1  # (run_idle takes no worker while a call waits for one, woken or not)
            try:
                w = await asyncio.wait_for(self._idle.get(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                raise WorkerTimeout(f"no compute worker became free within {timeout:g} s", waited=True) \
                    from None
            finally:
                self._waiting -= 1
            if w.dead:  # retired by the watch while it waited in the queue
                continue
            self._take_idle(w)
            if w.exitcode is None:
                break
            self._found_dead(w)  # died just now, before the watch saw it
        return await self._call(w, fn, args, timeout, deadline)

    def idle_count(self) -> int:
        """Workers idle now (waiting in the queue, not found dead)."""
        if self._idle is None:
            return 0
        return sum(1 for w in self._idle._queue if not w.dead)  # (asyncio.Queue's deque: read, never changed)

    def lendable(self, keep: int = 1) -> bool:
        """Whether run_idle(..., keep=keep) would take a worker now."""
        return not self._closed and self.idle_count() > keep and not self._waiting

    async def run_idle(self, fn, *args: Any, timeout: float, keep: int = 1) -> Any:
        """`run`, but only on a worker idle now, only while `keep` others stay idle after it, and only while no
        `run` is waiting for a worker (it would take the one it was woken for): this never waits, and never
        makes the pool's other users wait. Raises NoIdleWorker where there is none to take (nothing was sent)."""
        if self._closed or self._idle is None:
            raise PoolClosed("the worker pool is not running")
        deadline = time.monotonic() + timeout
        while True:
            if not self.lendable(keep):
                raise NoIdleWorker(f"fewer than {keep + 1} compute workers are idle, or a call waits for one")
            w = self._idle.get_nowait()
            if w.dead:
                continue
            self._take_idle(w)
            if w.exitcode is None:
                break
            self._found_dead(w)
        return await self._call(w, fn, args, timeout, deadline)

    async def _call(self, w: Worker, fn, args: tuple, timeout: float, deadline: float) -> Any:
        """fn(*args) on worker w, taken from the idle queue by the caller, until the deadline."""
        w.busy = True
        try:
            reply = await anyio.to_thread.run_sync(w.call, fn, args, deadline)
        except BaseException:
            await self._retire(w)
            raise
        w.busy = False
        kind = reply[0]
        if kind in ("ok", "raised"):
            if self._closed:
                self._unwatch(w)
                await anyio.to_thread.run_sync(w.stop)
            else:
                self._put_idle(w)
            if kind == "ok":
                return reply[1]
            exc, tb = reply[1], reply[2]
            exc.add_note(f"in compute worker {w.pid}:\n{tb}")
            raise exc
        if kind == "timeout":  # answered now; killed at once, reaped and replaced meanwhile (a worker holding
            # hundreds of MB on a busy machine took a second to die: the 504 came 1.5 s after the limit)
            w.signal_kill()
            task = asyncio.get_running_loop().create_task(self._retire(w))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            raise WorkerTimeout(f"the call ran past its time limit of {timeout:g} s; its worker was killed")
        code = await self._retire(w)
        raise WorkerDied(w.pid, code)

    def stats(self) -> dict:
        workers = sorted(self._workers, key=lambda w: w.pid)
        return {
            "size": self.size,
            "alive": sum(w.is_alive() for w in workers),
            "busy": sum(w.busy for w in workers),
            "idle": sum(w.idle and not w.dead for w in workers),
            "restarts": self.restarts,
            "processes": [{"pid": w.pid, "busy": w.busy} for w in workers],
        }

    async def close(self) -> None:
        """Stop idle workers, SIGKILL the others (their callers and starters reap them), wait for starters."""
        self._closed = True
        idle = []
        while self._idle is not None and not self._idle.empty():
            w = self._idle.get_nowait()
            if not w.dead:
                self._take_idle(w)
                idle.append(w)
        others = [w for w in self._workers if w not in idle]
        for w in self._workers:
            self._unwatch(w)

        def stop_all():
            for w in idle:
                w.stop()
            for w in others:
                w.signal_kill()

        await anyio.to_thread.run_sync(stop_all)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._workers.difference_update(idle)
