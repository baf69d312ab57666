"""Test isolation for process-wide engine state, and the order in which `make test` hands files to its workers.

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


# ----- the order files run in (make test: pytest -n auto --dist loadfile) -----

# The files that take longest in `make test`, longest first (their summed test times in a whole run of 1ec48a7 under
# load ~20, with what branch tests16 cut since taken into account: docs/runs/tests16.md). Under --dist loadfile every
# file runs whole on one worker (its module fixtures, servers and browsers, are built once) and a worker is handed the
# next file in this order when it is down to its last two tests: the long ones start first and the short ones fill in
# at the end, so both workers finish together. Files not listed follow in collection order.
LONGEST_FIRST = (
    "tests/app/test_batch_split.py",
    "tests/test_bench_tools.py",
    "tests/app/test_batch_redteam.py",
    "tests/app/test_server.py",
    "tests/app/test_fuzz.py",
    "tests/engine/test_rules.py",
    "tests/app/test_batch_text_split.py",
    "tests/engine/test_ops.py",
    "tests/engine/test_parallel.py",
    "tests/app/test_openapi_generators.py",
    "tests/app/test_large_bodies.py",
    "tests/engine/test_opinfo.py",
    "tests/engine/test_safety_special.py",
    "tests/app/test_cuda_routing.py",
    "tests/engine/test_forward_ad_ops.py",
    "tests/engine/test_parity15_select.py",
    "tests/app/test_client_cli.py",
    "tests/app/test_batch_files.py",
    "tests/app/test_unsent_answers.py",
    "tests/app/test_graph.py",
    "tests/engine/test_printing_fast.py",
    "tests/engine/test_lu_solve_memory.py",
    "tests/app/test_safety_empty_dims.py",
    "tests/engine/test_batch_text.py",
    "tests/app/test_batch.py",
    "tests/engine/test_lower_kernels_sum.py",
    "tests/app/test_process_budget_body_413.py",
    "tests/engine/test_printing_decades.py",
    "tests/app/test_safety_split.py",
    "tests/engine/test_safety_python_loops.py",
    "tests/engine/test_parity12_numbers.py",
    "tests/app/test_worker_watch.py",
    "tests/app/test_batch_memory.py",
    "tests/app/test_client.py",
    "tests/app/test_hostile.py",
    "tests/app/test_process_budget_413.py",
    "tests/app/test_safety_fanout.py",
    "tests/app/test_connections.py",
    "tests/app/test_batch_answer_room.py",
    "tests/app/test_batch_text.py",
    "tests/engine/test_pieces_planned.py",
    "tests/engine/test_select_charges.py",
    "tests/app/test_parse_cost.py",
    "tests/engine/test_gradcheck_memory.py",
    "tests/engine/test_scripts.py",
    "tests/engine/test_batched_backward.py",
    "tests/app/test_select_charge_http.py",
    "tests/app/test_bytext.py",
)


def pytest_collection_modifyitems(items):
    """Files in LONGEST_FIRST order, the rest after them; tests keep their order within a file."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))
