"""The op table and the catalog as data, to compare two trees before and after a refactor that should not change
them (a module split, a move): every entry's name, grad_fn name, kind and whether it has forward and array
formulas, in registration order; the catalog's entries in order; the request ops; GET /v1/ops' document.

    .venv/bin/python -m tests.engine.op_table_snapshot dump /tmp/before.json    # in the tree before
    .venv/bin/python -m tests.engine.op_table_snapshot dump /tmp/after.json     # in the tree after
    .venv/bin/python -m tests.engine.op_table_snapshot compare /tmp/before.json /tmp/after.json

Not a test: what it compares is a tree with an earlier one (docs/runs/split.md). The registration order matters
only within a base name (a grad_fn's index); `compare` says whether the entries are the same and, apart, whether
their order is."""
from __future__ import annotations

import json
import sys


def snapshot() -> dict:
    import engine  # noqa: F401, PLC0415 - the catalog gathered, as a request sees it
    from engine import catalog  # noqa: PLC0415
    from engine.ops.registry import REGISTRY  # noqa: PLC0415

    return {
        "registry": [[k, getattr(v, "grad_fn_name", None), type(v).__name__, bool(getattr(v, "jvp", None)),
                      bool(getattr(v, "has_vjp", False))] for k, v in REGISTRY.items()],
        "entries": [[e.name, e.signature, list(e.grad_fn_names), [o.qualname for o in e.opdefs], e.function,
                     e.method, e.functional, e.doc] for e in catalog.ENTRIES],
        "ops": [[k, getattr(v, "__qualname__", repr(v))] for k, v in catalog.OPS.items()],
        "describe": catalog.describe(),
    }


def compare(a: dict, b: dict) -> list[str]:
    """One line per part: 'identical' or what differs."""
    out = [f"{k}: {'identical' if a[k] == b[k] else 'DIFFERENT'}" for k in ("entries", "ops", "describe")]
    same = sorted(map(tuple, a["registry"])) == sorted(map(tuple, b["registry"]))
    out.append(f"registry entries (name, grad_fn, kind, jvp, vjp): {'identical' if same else 'DIFFERENT'}")
    oa, ob = [x[0] for x in a["registry"]], [x[0] for x in b["registry"]]
    moved = [x for i, x in enumerate(ob) if x in oa and oa.index(x) != i]
    out.append("registry order: " + ("identical" if oa == ob else "moved: " + ", ".join(moved)))
    return out


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "dump":
        snap = snapshot()
        with open(argv[1], "w") as f:
            json.dump(snap, f)
        print(f"{len(snap['registry'])} entries, {len(snap['entries'])} catalog entries, {len(snap['ops'])} ops")
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        with open(argv[1]) as f1, open(argv[2]) as f2:
            lines = compare(json.load(f1), json.load(f2))
        print("\n".join(lines))
        return 0 if not any("DIFFERENT" in line for line in lines) else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
