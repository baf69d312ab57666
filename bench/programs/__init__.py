"""The program corpus (issue 21): request documents users send, one JSON file each (_make.py wrote them)."""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(only=()) -> list[tuple[str, dict]]:
    """(name, document) for every program, in file order; `only`: names (or their numbers) to keep."""
    out = []
    for p in sorted(HERE.glob("*.json")):
        name = p.stem.split("_", 1)[1]
        if only and name not in only and p.stem.split("_", 1)[0] not in only:
            continue
        out.append((name, json.loads(p.read_text())))
    return out
