"""The benchmark tools that docs/PERFORMANCE.md cites run and print their tables (no timings are judged)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_inprocess_bench_prints_one_row_per_app():
    r = subprocess.run([sys.executable, "-m", "bench.inprocess", "--rounds", "1", "--requests", "20"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = re.findall(r"^\| ([^|]+) \| ([0-9.]+) \|$", r.stdout, re.M)
    assert [name for name, _ in rows] == [
        "bare FastAPI (parse only)", "reference: bare + engine.evaluate_json", "app.main",
        "app.main, no access log", "app.main, no access log, no metrics"]
    assert all(float(us) > 0 for _, us in rows)


def test_functional_group_prints_its_rows_and_checks_them():
    """bench.functional_group: every column's Jacobian matches torch's before timing (a CHECK FAILED note
    otherwise), one row per workload."""
    r = subprocess.run([sys.executable, "-m", "bench", "--groups", "functional", "--rounds", "1", "--target", "0.01"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "CHECK FAILED" not in r.stdout
    rows = re.findall(r"^\| (jacobian|hessian): [^|]+\|(.*)\|$", r.stdout, re.M)
    assert len(rows) == 6
    for _, cells in rows:
        assert all(c.strip() not in ("-", "") for c in cells.split("|")), cells


def test_programs_group_prints_a_row_per_program_and_the_lowering_share():
    """bench.programs_group on two corpus programs (--only): a row each with every column timed, the summary row
    and the lowering share (one lowers, one keeps its Program's replay)."""
    r = subprocess.run([sys.executable, "-m", "bench", "--groups", "programs", "--only", "seed,sgd_step_inplace",
                        "--rounds", "1", "--target", "0.01"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = re.findall(r"^\| (seed|sgd_step_inplace) +\| (yes|no) +\|(.*)\|$", r.stdout, re.M)
    assert {name: lowers for name, lowers, _ in rows} == {"seed": "yes", "sgd_step_inplace": "no"}
    for _, _, cells in rows:
        assert all(c.strip() not in ("-", "") for c in cells.split("|")), cells
    assert "covers 1 of 2 programs" in r.stdout and "sgd_step_inplace does not lower" in r.stdout


def test_service_group_programs_run_in_process():
    """bench.service_group's programs (the seed and the corpus's five, --only picks two), each as the load generator
    sends it (its template filled with fresh values), answered 200 by every app (asserted inside), one row each."""
    r = subprocess.run([sys.executable, "-m", "bench.service_group", "--only", "seed,11", "--rounds", "1",
                        "--requests", "10"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = re.findall(r"^\| (seed|logistic_regression) \|(.*)\|$", r.stdout, re.M)
    assert [name for name, _ in rows] == ["seed", "logistic_regression"]
    for _, cells in rows:
        assert len(cells.split("|")) == 5 and all(float(c) > 0 for c in cells.split("|")), cells


def test_service_group_templates_hold_every_float_leaf_and_stay_valid():
    """Each program's load template: one fresh value per leaf that has a float, integer leaves untouched; filled,
    it is the same document structure (same plan-cache key) as the corpus file."""
    import engine.program as E  # noqa: PLC0415
    from bench.service_group import _filled, _template, programs  # noqa: PLC0415

    cache = E.PlanCache()
    for name, spec in programs():
        _, holes = _template(spec)
        floats = sum(1 for leaf in spec["leaves"].values() if "." in repr(leaf["data"]))
        assert holes == floats, name
        assert cache.key(_filled(spec), E.DEFAULT_LIMITS)[0] == cache.key(spec, E.DEFAULT_LIMITS)[0], name


def test_service_server_mode_reads_a_callgrind_dump(tmp_path):
    """bench.service_instr --mode server reads each window's dump: its events and totals (with the cache and
    branch simulation's), and its cycle estimate from them."""
    from bench.service_server import _events, cycles  # noqa: PLC0415

    dump = tmp_path / "cg.1.1"
    dump.write_text("version: 1\ncreator: callgrind-3.19.0\n"
                    "events: Ir I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim\n"
                    "fn=(1) f\n0 5\nsummary: 1000 10 20 5 1 2 3 100 7 50 4\ntotals: 1000 10 20 5 1 2 3 100 7 50 4\n")
    ev = _events(str(dump))
    assert ev == {"Ir": 1000, "I1mr": 10, "D1mr": 20, "D1mw": 5, "ILmr": 1, "DLmr": 2, "DLmw": 3, "Bc": 100,
                  "Bcm": 7, "Bi": 50, "Bim": 4}
    assert cycles(ev) == 1000 + 10 * 35 + 100 * 6 + 15 * 11
    plain = tmp_path / "cg.1.2"
    plain.write_text("events: Ir\nsummary: 4321\n")
    assert cycles(_events(str(plain))) == 4321
