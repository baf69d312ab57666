"""PyTorch-style scripts written for this repository (tests/engine/scripts/) run twice, in real processes: with
`import torch` (torch 2.13) and with `import engine as torch`; what they print must be the same, line for line
(object addresses aside).

Each script runs in a process of its own, forked from a runner that imported its side's library once (torch,
and torch._dynamo, which torch.optim imports on first use; or engine, without torch): a fresh interpreter per
script spent ~10 s of `make test`'s time importing torch, five times. The forked process starts with nothing
of the runner's but those imports (no tensor was made in the runner), runs the script as `python script.py`
would (as __main__, its folder first on sys.path, its own stdout and stderr), and exits with its status.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parent / "scripts").glob("*.py"))
ADDRESS = re.compile(r" at 0x[0-9a-f]+>")
ROOT = Path(__file__).parents[2]

# The runner: imports its side once, then per line of stdin ({"script", "out", "err"}) forks a process that runs
# the script with stdout/stderr in those files and stdin from /dev/null, and answers the exit status.
RUNNER = r"""
import json, os, runpy, sys, traceback
if os.environ.get("GRADSERVE_SCRIPT_ENGINE"):
    import engine
else:
    import torch, torch._dynamo
commands, answers = sys.stdin, sys.stdout
for line in commands:
    job = json.loads(line)
    answers.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
            os.dup2(os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
            sys.stdin = open(0, closefd=False)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            sys.argv = [job["script"]]
            sys.path[0] = os.path.dirname(job["script"])
            runpy.run_path(job["script"], run_name="__main__")
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    answers.write(json.dumps(os.waitstatus_to_exitcode(status)) + "\n")
    answers.flush()
"""


class Runner:
    """One side's runner process; run(script) is one forked process running the script."""

    def __init__(self, engine: bool, tmp: Path):
        env = dict(os.environ)
        env.pop("GRADSERVE_SCRIPT_ENGINE", None)
        if engine:
            env["GRADSERVE_SCRIPT_ENGINE"] = "1"
        self.side, self.tmp = "engine" if engine else "torch", tmp
        self.proc = subprocess.Popen([sys.executable, "-c", RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env, cwd=ROOT)

    def run(self, script: Path) -> list[str]:
        out, err = self.tmp / f"{script.stem}.{self.side}.out", self.tmp / f"{script.stem}.{self.side}.err"
        self.proc.stdin.write(json.dumps({"script": str(script), "out": str(out), "err": str(err)}) + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        assert answer, f"the {self.side} runner exited (status {self.proc.wait(30)})"
        code = json.loads(answer)
        assert code == 0, f"{script.name} ({self.side}) failed (status {code}):\n{err.read_text()}"
        return [ADDRESS.sub(" at 0x...>", line) for line in out.read_text().splitlines()]

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def runners(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scripts")
    sides = {"torch": Runner(False, tmp), "engine": Runner(True, tmp)}
    yield sides
    for r in sides.values():
        r.close()


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_script_prints_what_torch_prints(script, runners):
    expected = runners["torch"].run(script)
    got = runners["engine"].run(script)
    assert len(expected) > 10
    for i, (e, t) in enumerate(zip(got, expected)):
        assert e == t or _same_but_last_digit(e, t), f"{script.name}, line {i + 1}:\n  engine: {e}\n  torch:  {t}"
    assert len(got) == len(expected)


_NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def _same_but_last_digit(e: str, t: str) -> bool:
    """The same line but for a printed decimal's last digit or so (relative 2e-6: `:.6f` of a number that
    differs from torch's in float32's last bits). A product of more than a few terms adds in MKL's order in torch
    and in NumPy's BLAS's here (docs/ENGINE.md, "What stays different"), so a training loop's value drifts in the
    last bits over its steps: linear_regression's (1, 20) @ (20, 1) weight gradient, epoch 10's loss printed to 6
    digits. Everything else on the line (text, integers, the count and place of the numbers) must be equal."""
    if _NUMBER.sub("#", e) != _NUMBER.sub("#", t):
        return False
    a, b = _NUMBER.findall(e), _NUMBER.findall(t)
    return len(a) == len(b) and all(abs(float(x) - float(y)) <= 2e-6 * max(abs(float(y)), 1e-3) + 1.5e-6
                                    for x, y in zip(a, b))


def test_the_engine_runner_has_no_torch(runners, tmp_path):
    """The engine's side never imports torch: a script run there sees no torch in sys.modules."""
    probe = tmp_path / "probe.py"
    probe.write_text("import sys\nfor i in range(11):\n    print('torch' in sys.modules, i)\n")
    assert runners["engine"].run(probe) == [f"False {i}" for i in range(11)]
    assert runners["torch"].run(probe) == [f"True {i}" for i in range(11)]


def test_a_failing_script_fails(runners, tmp_path):
    """A script that raises is reported as failed, with its traceback."""
    bad = tmp_path / "bad.py"
    bad.write_text("print('before')\nraise ValueError('the script broke')\n")
    with pytest.raises(AssertionError, match="the script broke"):
        runners["engine"].run(bad)


def test_the_scripts_are_there():
    assert {s.stem for s in SCRIPTS} >= {"linear_regression", "cnn_step", "jacobian", "legendre_function",
                                        "autograd_walkthrough"}
