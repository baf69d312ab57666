"""`make redteam` (bench/redteam.py) runs against a real server it starts and prints one line per attack."""
from __future__ import annotations

import subprocess
import sys

from tests.app.conftest import ROOT


def test_redteam_prints_a_line_per_attack_and_its_verdict():
    out = subprocess.run([sys.executable, "-m", "bench.redteam", "--only", "text/plain,headers"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    rows = [ln for ln in out.stdout.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    assert [r.split(" | ")[0] for r in rows] == ["| 1 MiB of headers", "| text/plain POST (cross-site)"], out.stdout
    assert [r.split(" | ")[2] for r in rows] == ["431", "415"], out.stdout
    assert all(r.endswith("| pass |") for r in rows) and out.returncode == 0, out.stdout + out.stderr
