"""Tracing: which op entry ran on which operands (engine.program.lower reads the log to lower a Program).

`with trace() as log:` turns logging on for this thread; the op call paths (engine.ops.registry) call _traced while
the registry's `_tracing` count (threads tracing now) is not 0. That count stays a global of engine.ops.registry,
so that its hot paths read it as one global read; trace updates it there. Moved out of engine.ops.registry, which
re-exports trace and _traced.
"""
from __future__ import annotations

import threading

_trace_local = threading.local()
_trace_lock = threading.Lock()


class trace:
    """`with trace() as log:` appends (entry, args, forward operands, attrs, output) to log for every entry
    this thread applies meanwhile: for each node recorded (_record, the unrolled call), and for each
    application that records none (no input needs a grad, or grad mode is off; the output a tuple where the
    entry has several), so that a caller can tell which entries a function of the catalog ran, on what."""

    def __enter__(self):
        from engine.ops import registry  # noqa: PLC0415 - the count lives where the call paths read it

        self.prev = getattr(_trace_local, "log", None)
        log = _trace_local.log = []
        with _trace_lock:
            registry._tracing += 1
        return log

    def __exit__(self, *exc):
        from engine.ops import registry  # noqa: PLC0415

        with _trace_lock:
            registry._tracing -= 1
        _trace_local.log = self.prev
        return False


def _traced(op, args, arrays, attrs, out):
    log = getattr(_trace_local, "log", None)
    if log is not None:
        log.append((op, tuple(args), tuple(arrays), attrs, out))
