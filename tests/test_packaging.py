"""How gradserve is installed, run and shipped: Makefile, console script, wheel, container files, README."""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------- Makefile, .ci/run


def make_targets() -> dict[str, str]:
    """target name -> its recipe text, for the simple `name: prereqs` rules of the Makefile."""
    targets, current = {}, None
    for line in read("Makefile").splitlines():
        if line.startswith("\t") and current:
            targets[current] += line.strip() + "\n"
        elif m := re.match(r"^([A-Za-z][\w-]*)\s*:(?!=)", line):
            current = m.group(1)
            targets[current] = ""
        elif line and not line.startswith("#"):
            current = None
    return targets


def test_makefile_has_the_documented_targets():
    targets = make_targets()
    for name in ("run", "test", "bench", "lint", "fuzz"):
        assert name in targets, f"Makefile has no `{name}` target"
    assert "gradserve serve" in targets["run"] and "$(HOST)" in targets["run"]
    assert "pytest" in targets["test"]
    assert "-m bench" in targets["bench"]
    assert "ruff check" in targets["lint"]
    assert re.search(r"^HOST \?= 127\.0\.0\.1$", read("Makefile"), re.M)


def test_make_test_pins_torch():
    # An unpinned torch would pull a multi-GB CUDA build; the dev extra is what `make test` installs.
    dev = importlib.metadata.metadata("gradserve").get_all("Requires-Dist") if _installed() else None
    text = read("pyproject.toml")
    assert re.search(r'"torch==2\.13\.0"', text)
    if dev is not None:
        assert any(r.replace(" ", "").startswith("torch==2.13.0") for r in dev), dev


def test_ci_script_runs_make_test():
    script = read(".ci/run")
    assert script.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in script
    assert re.search(r"^\s*make test\b", script, re.M)
    assert "../shared/tools/container-smoke" in script


# ---------------------------------------------------------------- console script and wheel


def _installed() -> bool:
    try:
        importlib.metadata.distribution("gradserve")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_console_script_answers_help():
    if not _installed():
        pytest.skip("gradserve is not installed in this interpreter (make test installs it)")
    script = shutil.which("gradserve", path=os.path.dirname(sys.executable))
    assert script, f"`gradserve` is not next to {sys.executable}: the console script did not install"
    for argv in ([script, "--help"], [script, "serve", "--help"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{argv[1:]} exited {done.returncode}:\n{done.stderr}"
        assert "usage" in done.stdout.lower()
    assert "serve" in subprocess.run([script, "--help"], capture_output=True, text=True).stdout


def test_make_run_passes_flags_that_gradserve_serve_has():
    if not _installed() or not shutil.which("make"):
        pytest.skip("needs make and an installed gradserve")
    dry = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    (command,) = [line for line in dry.stdout.splitlines() if "gradserve serve" in line]
    script = shutil.which("gradserve", path=os.path.dirname(sys.executable))
    usage = subprocess.run([script, "serve", "--help"], capture_output=True, text=True, timeout=60).stdout
    for flag in re.findall(r"\s(--[\w-]+)", command):
        assert re.search(rf"{flag}\b", usage), f"`make run` passes {flag}, which `gradserve serve` lacks"
    assert "--host 127.0.0.1 --port 8000" in command


def test_wheel_carries_both_packages_and_the_entry_point(tmp_path):
    """What the Docker image installs: a plain wheel, built from the files the Dockerfile copies."""
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    src.mkdir()
    for name in dockerfile_build_sources():
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("gradserve-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("engine/__init__.py", "engine/program/evaluate.py", "app/cli.py", "app/main.py",
                   # the playground's page and assets (GET /), which are files, not modules
                   "app/static/playground/index.html", "app/static/playground/playground.js",
                   "app/static/playground/playground.css"):
        assert module in names, f"{module} is missing from {wheel.name}"
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "gradserve = app.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


# ---------------------------------------------------------------- Dockerfile


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", read("Dockerfile"))
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction, args.strip()))
        else:
            assert instruction == "ARG", f"{instruction} before the first FROM"
    return stages


def dockerfile_build_sources() -> list[str]:
    """What the builder stage copies from the build context."""
    sources = []
    for instruction, args in dockerfile_stages()[0]:
        if instruction == "COPY" and not args.startswith("--"):
            sources += [s.rstrip("/").removeprefix("./") for s in args.split()[:-1]]
    return sources


def test_dockerfile_is_multi_stage_on_python_slim():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "the builder stage keeps compilers and caches out of the image"
    for stage in stages:
        base = stage[0][1].split()[0]
        assert base == "python:3.11-slim", f"FROM {base}: every stage builds on python:3.11-slim"
    final = stages[-1]
    assert any(i == "COPY" and a.startswith("--from=") for i, a in final), "the final stage copies the build"


def test_dockerfile_runs_as_non_root_with_a_healthcheck():
    final = dict()
    for instruction, args in dockerfile_stages()[-1]:
        final[instruction] = args  # the last of each counts
    user = final.get("USER", "root").split(":")[0]
    assert user not in ("root", "0"), "the image must not run as root"
    assert "HEALTHCHECK" in final and "/healthz" in final["HEALTHCHECK"]
    assert "curl" not in final["HEALTHCHECK"], "python:3.11-slim has no curl"
    assert "gradserve" in final["CMD"] and "serve" in final["CMD"]
    assert "8000" in final.get("EXPOSE", "")
    env = " ".join(a for i, a in dockerfile_stages()[-1] if i == "ENV")
    assert "GRADSERVE_HOST=0.0.0.0" in env and "GRADSERVE_WORKERS=" in env


def test_dockerignore_keeps_the_context_small():
    ignored = {line.strip().rstrip("/") for line in read(".dockerignore").splitlines()}
    assert {".venv", ".git", ".pytest_cache"} <= ignored


# ---------------------------------------------------------------- docker-compose.yml


@pytest.fixture(scope="module")
def compose() -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    return yaml.safe_load(read("docker-compose.yml"))


def test_compose_api_service(compose):
    api = compose["services"]["api"]
    assert "profiles" not in api, "the API starts with a plain `docker compose up`"
    assert "/healthz" in " ".join(api["healthcheck"]["test"])
    limits = api["deploy"]["resources"]["limits"]
    assert limits["cpus"] and limits["memory"]
    assert api["environment"]["GRADSERVE_CUDA_WORKER_URL"] == "http://cuda-worker:8000"


def test_compose_cuda_worker_is_behind_the_gpu_profile(compose):
    worker = compose["services"]["cuda-worker"]
    assert worker["profiles"] == ["gpu"]
    assert worker["environment"]["GRADSERVE_BACKEND"] == "cupy"
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert "cuda" in worker["build"]["args"]["EXTRAS"]


# ---------------------------------------------------------------- README


def test_readme_begins_with_the_two_setup_commands():
    readme = read("README.md")
    m = re.match(r"```(?:sh|bash|console)?\n(.*?)```", readme, re.S)
    assert m, "README.md must open with a code block of the set-up commands"
    commands = [line.split("#")[0].strip() for line in m.group(1).splitlines()]
    assert [c for c in commands if c] == ["make run", "make test"]


def test_readme_documents_every_setting():
    config = pytest.importorskip("app.core.config")
    readme = read("README.md")
    missing = [f"GRADSERVE_{name.upper()}" for name in config.Settings.model_fields
               if f"`GRADSERVE_{name.upper()}`" not in readme]
    assert not missing, f"README.md's settings table lacks {missing}"


def readme_blocks() -> list[tuple[str, str]]:
    """README.md's fenced code blocks as (language, text)."""
    return re.findall(r"```(\w*)\n(.*?)```", read("README.md"), re.S)


def readme_example(lang: str, start: str) -> tuple[str, str]:
    """The README's `lang` block that starts with `start`, and the block after it (what it prints)."""
    blocks = readme_blocks()
    i = next(i for i, (lg, code) in enumerate(blocks) if lg == lang and code.startswith(start))
    return blocks[i][1], blocks[i + 1][1]


def test_readme_library_example_prints_what_it_says():
    code, printed = readme_example("python", "import engine as torch")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == printed


@pytest.fixture(scope="module")
def api():
    """The app in this process, answering at the address the README's examples use."""
    testclient = pytest.importorskip("fastapi.testclient")
    from app.main import app

    with testclient.TestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client


def test_readme_curl_example_answers_what_it_says(api):
    command, printed = readme_example("sh", "curl ")
    payload = re.search(r"-d '(.*)'", command, re.S).group(1)
    answer = api.post("/v1/evaluate", content=payload, headers={"Content-Type": "application/json"})
    assert answer.json() == json.loads(printed.replace("\n", ""))


def test_readme_httpx_example_prints_what_it_says(api, monkeypatch, capsys):
    import httpx

    class InProcess:
        """`with httpx.Client(base_url=...) as client:` hands out the in-process app."""

        def __init__(self, base_url):
            assert base_url == str(api.base_url)

        def __enter__(self):
            return api

        def __exit__(self, *exc):
            return False

    code, printed = readme_example("python", "import httpx")
    monkeypatch.setattr(httpx, "Client", InProcess)
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out == printed
