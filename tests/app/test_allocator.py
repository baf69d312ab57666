"""The allocator setting (GRADSERVE_MALLOC_*, app/cli.py tune_allocator): in a real process, a freed block below
the pinned mmap threshold stays in the heap (kept, no page faults for the next request); with the setting off,
or where the environment sets the allocator, glibc's defaults give it back. Each case is a fresh interpreter:
mallopt is per process and cannot be undone."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20

# Tunes the allocator the way a server process does (app.cli.serving_app), then mallocs a 16 MiB block, touches
# it, frees it, and reports how much of it the process still holds.
_PROBE = """
import ctypes, json, os, sys
import app.cli as cli
if sys.argv[1] == "serving_app":
    done = []
    real = cli.tune_allocator
    cli.tune_allocator = lambda settings=None: done.append(real(settings)) or done[-1]
    served = cli.serving_app()
    import app.main
    assert served is app.main.app, served
    what = done[0]
else:
    what = cli.tune_allocator()
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
page = os.sysconf("SC_PAGE_SIZE")
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * page
n = 16 << 20
p = libc.malloc(n)
ctypes.memset(p, 1, n)
before = rss()
libc.free(p)
print(json.dumps({"what": what, "kept": rss() - before + n}))
"""



def _glibc() -> bool:
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (ValueError, OSError):
        return False


def _probe(env: dict, how: str = "tune") -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GRADSERVE_MALLOC"))}
    base.pop("GLIBC_TUNABLES", None)
    out = subprocess.run([sys.executable, "-c", _PROBE, how], cwd=ROOT, env={**base, **env}, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


needs_glibc = pytest.mark.skipif(not _glibc(), reason="mallopt is glibc's")


@needs_glibc
@pytest.mark.parametrize("how", ["tune", "serving_app"])
def test_the_setting_keeps_a_freed_block_below_its_thresholds(how):
    got = _probe({"GRADSERVE_MALLOC_TUNING": "true"}, how)
    assert got["what"] == "set"
    assert got["kept"] >= 15 * MiB, got  # freed into the heap and kept there (below the 64 MiB trim threshold)


@needs_glibc
def test_off_leaves_glibcs_defaults():
    got = _probe({})  # off by default
    assert got["what"] == "off"
    assert got["kept"] < 1 * MiB, got  # 16 MiB >= glibc's first mmap threshold (128 KiB): mmap'd, given back


@needs_glibc
def test_smaller_thresholds_are_the_settings():
    got = _probe({"GRADSERVE_MALLOC_TUNING": "true", "GRADSERVE_MALLOC_MMAP_THRESHOLD_BYTES": str(8 * MiB)})
    assert got["what"] == "set"
    assert got["kept"] < 1 * MiB, got  # 16 MiB is past the 8 MiB mmap threshold: given back when freed


@needs_glibc
@pytest.mark.parametrize("env", [{"MALLOC_MMAP_THRESHOLD_": "131072"}, {"MALLOC_ARENA_MAX": "2"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}])
def test_the_environment_wins(env):
    got = _probe({"GRADSERVE_MALLOC_TUNING": "true", **env})
    assert got["what"] == "environment"
    if "MALLOC_ARENA_MAX" not in env:
        assert got["kept"] < 1 * MiB, got  # the environment's 128 KiB threshold, not the setting's 32 MiB


def test_the_settings_bounds():
    from pydantic import ValidationError

    from app.core.config import Settings

    for bad in ({"malloc_mmap_threshold_bytes": 64 * MiB}, {"malloc_trim_threshold_bytes": 1024},
                {"malloc_trim_threshold_bytes": 128 * MiB},
                {"malloc_mmap_threshold_bytes": 0}):
        with pytest.raises(ValidationError):
            Settings(**bad)
