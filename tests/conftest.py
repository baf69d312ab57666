"""Test isolation for process-wide engine state.

An app built in-process (TestClient(create_app(Settings(...)))) sets the process's memory limit for requests
(engine.budget.set_process_limit) when its service starts, and nothing unsets it when the test ends: a test
that builds one with max_process_bytes=1 MiB left every later test in that pytest worker refusing requests
past 1 MiB with over_capacity (seen as two test_transforms failures, in one order of an xdist run only).
Every test gets back the limit it started with."""
from __future__ import annotations

import pytest

from engine import budget


@pytest.fixture(autouse=True)
def _process_limit_restored():
    saved = budget.PROCESS.max_bytes
    yield
    budget.PROCESS.max_bytes = saved
