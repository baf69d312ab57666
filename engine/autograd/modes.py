"""Grad mode and anomaly mode: the per-thread switches torch.autograd has (no_grad, enable_grad,
set_grad_enabled; set_detect_anomaly, detect_anomaly), read by the op table and the backward pass. Moved out of
engine/autograd/__init__.py, which re-exports every name here.
"""
from __future__ import annotations

import threading

# ----- grad mode -----

GRAD_OFF = [0]  # how many threads have grad mode off now: 0 tells a hot path its thread's mode is on, unread
_off_lock = threading.Lock()


class _GradMode(threading.local):
    """Per-thread, as in torch: a service runs requests on several threads at once. `enabled` is a property whose
    setter keeps GRAD_OFF[0], the number of threads whose mode is off: a thread's own change counts before the
    setter returns, so where GRAD_OFF[0] is 0 the reading thread's mode is on, and the op table's unrolled calls
    (engine/ops/fastcall.py) skip the thread-local read (~800 instructions). A thread that ends with its mode off
    stays counted: the hot paths then read the thread-local, as before."""

    _on = True

    @property
    def enabled(self):
        return self._on

    @enabled.setter
    def enabled(self, value):
        was_off = not self._on
        self._on = value
        if was_off != (not value):
            with _off_lock:
                GRAD_OFF[0] += -1 if was_off else 1


grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    return grad_mode.enabled


class set_grad_enabled:  # noqa: N801 - torch's name
    def __init__(self, mode: bool):
        self.prev = grad_mode.enabled
        grad_mode.enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        grad_mode.enabled = self.prev
        return False


class _GradModeContext:
    mode = True

    def __enter__(self):
        self.prev = grad_mode.enabled
        grad_mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        grad_mode.enabled = self.prev
        return False

    def __call__(self, fn):  # usable as a decorator, as in torch
        def wrapper(*a, **k):
            with type(self)():
                return fn(*a, **k)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


class no_grad(_GradModeContext):  # noqa: N801
    mode = False


class enable_grad(_GradModeContext):  # noqa: N801
    mode = True


# ----- anomaly mode -----


class _Anomaly(threading.local):
    enabled = False
    check_nan = True


anomaly = _Anomaly()


def anomaly_enabled() -> bool:
    return anomaly.enabled


# ----- torch.autograd's anomaly switches -----


class set_detect_anomaly:  # noqa: N801 - torch's name
    """torch.autograd.set_detect_anomaly(mode, check_nan=True): on from the call, restored on leaving a `with`."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = (anomaly.enabled, anomaly.check_nan)
        anomaly.enabled, anomaly.check_nan = bool(mode), bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        anomaly.enabled, anomaly.check_nan = self.prev
        return False


class detect_anomaly:  # noqa: N801 - torch's name
    """torch.autograd.detect_anomaly(check_nan=True): a context that turns anomaly mode on, with torch's warning."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        import warnings  # noqa: PLC0415

        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", UserWarning, stacklevel=2)
        self.prev = (anomaly.enabled, anomaly.check_nan)
        anomaly.enabled, anomaly.check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc):
        anomaly.enabled, anomaly.check_nan = self.prev
        return False


def is_anomaly_enabled() -> bool:
    return anomaly.enabled
