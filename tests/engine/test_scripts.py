"""PyTorch-style scripts written for this repository (tests/engine/scripts/) run twice, in real processes: with
`import torch` (torch 2.13) and with `import engine as torch`; what they print must be the same, line for line
(object addresses aside)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parent / "scripts").glob("*.py"))
ADDRESS = re.compile(r" at 0x[0-9a-f]+>")


def _run(script: Path, engine: bool) -> list[str]:
    env = dict(os.environ)
    env.pop("GRADSERVE_SCRIPT_ENGINE", None)
    if engine:
        env["GRADSERVE_SCRIPT_ENGINE"] = "1"
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180, env=env,
                          cwd=Path(__file__).parents[2])
    assert proc.returncode == 0, f"{script.name} ({'engine' if engine else 'torch'}) failed:\n{proc.stderr}"
    return [ADDRESS.sub(" at 0x...>", line) for line in proc.stdout.splitlines()]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_script_prints_what_torch_prints(script):
    expected = _run(script, engine=False)
    got = _run(script, engine=True)
    assert len(expected) > 10
    for i, (e, t) in enumerate(zip(got, expected)):
        assert e == t, f"{script.name}, line {i + 1}:\n  engine: {e}\n  torch:  {t}"
    assert len(got) == len(expected)


def test_the_scripts_are_there():
    assert {s.stem for s in SCRIPTS} >= {"linear_regression", "cnn_step", "jacobian", "legendre_function",
                                        "autograd_walkthrough"}
