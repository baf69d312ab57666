"""A budget for tests of deadline checks inside loops: it counts its checks (from any thread) and passes its
deadline at the `stop`-th, so a test can show that a loop checks at every step without a clock."""
from __future__ import annotations

import threading

from engine import budget as _budget


class CountingBudget(_budget.Budget):
    """Counts `check()` calls in `checks`; raises DeadlinePassed at the `stop`-th (never where stop is None)."""

    __slots__ = ("checks", "stop", "lock")

    def __init__(self, stop=None):
        super().__init__()
        self.checks = 0
        self.stop = stop
        self.lock = threading.Lock()

    def check(self):
        with self.lock:
            self.checks += 1
            n = self.checks
        if self.stop is not None and n >= self.stop:
            raise _budget.DeadlinePassed("stopped")
