"""engine.budget's process check (redteam12 F5): 503 (ProcessBusy) where other requests hold the process's memory,
413 (LimitExceeded naming max_process_bytes) where the request alone passes it (a retry cannot pass)."""
from __future__ import annotations

import numpy as np
import pytest

from engine import budget
from engine.errors import LimitExceeded


@pytest.fixture()
def pmax():
    old, live = budget.PROCESS.max_bytes, budget.PROCESS.live
    budget.PROCESS.live = 0  # (what earlier tests of this process left counted: not these tests' other requests)
    budget.set_process_limit(1 << 20)
    try:
        yield 1 << 20
    finally:
        budget.set_process_limit(old)
        budget.PROCESS.live += live


def test_charge_alone_past_the_process_limit_is_413(pmax):
    b = budget.Budget()
    with pytest.raises(LimitExceeded, match=r"\(1048576 bytes, max_process_bytes\)"):
        b.charge(pmax + 1, what="op")
    keep = np.ones(pmax // 16)  # 64 KiB of this request's own, then a charge that with it passes the limit
    b.track(keep)
    with pytest.raises(LimitExceeded, match="max_process_bytes"):
        b.charge(pmax - keep.nbytes + 8, what="op")
    b.charge(pmax - keep.nbytes, what="op")  # fits
    b.close()


def test_charge_past_it_with_others_holding_memory_is_503(pmax):
    other = budget.Budget()
    held = np.ones(pmax // 16)
    other.track(held)
    b = budget.Budget()
    with pytest.raises(budget.ProcessBusy):
        b.charge(pmax - 1000, what="op")  # fits alone, not beside the other request's
    with pytest.raises(LimitExceeded):
        b.charge(pmax + 1, what="op")  # past it alone: 413 whatever the others hold
    other.close()
    b.charge(pmax - 1000, what="op")
    b.close()


def test_hold_and_reserve(pmax):
    b = budget.Budget()
    with pytest.raises(LimitExceeded, match="max_process_bytes"):
        b.hold(pmax + 1, what="the response")
    b.close()
    with pytest.raises(LimitExceeded, match="max_process_bytes"):
        budget.reserve(pmax + 1, "the request's parsed body")
    budget.reserve(pmax // 2, "a")
    try:
        with pytest.raises(budget.ProcessBusy):  # another's half held: this one fits alone
            budget.reserve(pmax // 2 + 1, "b")
        with pytest.raises(LimitExceeded):  # with its own half: past it alone
            budget.reserve(pmax // 2 + 1, "b", own=pmax // 2)
    finally:
        budget.release(pmax // 2)
