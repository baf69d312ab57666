"""`gradserve eval`: evaluate a program file or an expression on a gradserve server and print it as PyTorch would.

    gradserve eval prog.json                       # a POST /v1/evaluate body ('-' reads standard input)
    gradserve eval -e "a*b + c" --leaf a=2.0 --leaf b=3.0 --const c=1.0
    gradserve eval prog.json --json                # the server's raw answer
    gradserve eval prog.json --graph graph.svg     # the backward graph drawn (POST /v1/graph; .dot for DOT)

Printed: `name = repr(t)` for every returned tensor, then `name.grad = repr(t.grad)` for those with a grad
(PyTorch's printing: the server's repr for tensors; for grads, the engine's port of PyTorch's printing), and
warnings on standard error as `UserWarning: ...`. An error prints as PyTorch shows it (`RuntimeError: ...`),
with where it happened, on standard error; the exit status is then 1.
"""
from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path
from typing import Any

DTYPES = ("float32", "float64", "float16", "int64", "int32", "bool")


def add_parser(sub) -> argparse.ArgumentParser:
    """Adds `eval` to an argparse subparsers object (app/cli.py's and this module's own main)."""
    p = sub.add_parser(
        "eval", help="evaluate a program on a gradserve server and print it as PyTorch would",
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="A leaf is NAME=VALUE or NAME=VALUE:DTYPE, VALUE in JSON ([1.0, 2.0], NaN, Infinity). --leaf "
               "leaves require grad (whole numbers are then floats, as the v1.1 wire reads them); --const "
               "leaves do not. Environment: GRADSERVE_URL, GRADSERVE_API_KEY.")
    p.add_argument("program", nargs="?", help="JSON file with a POST /v1/evaluate body ('-': standard input)")
    p.add_argument("-e", "--expression", help="Python-syntax statements, e.g. \"a*b + c\" (sent as `expression`)")
    p.add_argument("--leaf", action="append", default=[], metavar="NAME=VALUE[:DTYPE]",
                   help="a leaf that requires grad (repeatable; overrides the file's leaf of that name)")
    p.add_argument("--const", action="append", default=[], metavar="NAME=VALUE[:DTYPE]",
                   help="a leaf that does not require grad (repeatable)")
    p.add_argument("--backward", metavar="NAME",
                   help="run backward from NAME (default with -e: the tensor the last statement defines)")
    p.add_argument("--no-backward", action="store_true", help="with -e: no backward pass")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), help="where to run (default: the server's auto)")
    p.add_argument("--json", action="store_true", help="print the server's raw JSON answer")
    p.add_argument("--graph", metavar="FILE", help="also draw the backward graph into FILE (.svg, or .dot/.gv)")
    p.add_argument("--url", default=None, help="server URL (default: $GRADSERVE_URL or http://127.0.0.1:8000)")
    p.add_argument("--api-key", default=None, help="API key (default: $GRADSERVE_API_KEY)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for an answer (default 60)")
    p.set_defaults(func=run)
    return p


def parse_leaf(text: str, requires_grad: bool) -> tuple[str, dict]:
    """NAME=VALUE[:DTYPE] -> (name, leaf spec)."""
    name, eq, value = text.partition("=")
    if not eq or not name.strip():
        raise ValueError(f"a leaf is NAME=VALUE[:DTYPE], not {text!r}")
    dtype = None
    head, colon, tail = value.rpartition(":")
    if colon and tail.strip() in DTYPES:
        value, dtype = head, tail.strip()
    try:
        data = json.loads(value)
    except ValueError:
        raise ValueError(f"the value of {name.strip()!r} is not JSON: {value!r}") from None
    from gradserve.results import to_wire  # noqa: PLC0415 - keeps `gradserve --help` light

    data = to_wire(data)
    if requires_grad and dtype is None:
        data = _floats(data)
    spec: dict = {"data": data, "requires_grad": requires_grad}
    if dtype:
        spec["dtype"] = dtype
    return name.strip(), spec


def _floats(x: Any) -> Any:
    if isinstance(x, list):
        return [_floats(v) for v in x]
    return float(x) if isinstance(x, int) and not isinstance(x, bool) else x


def last_target(expression: str) -> str | None:
    """The tensor the expression's last statement defines: its assignment target, or `out` for a bare
    expression; None where it does not parse (the server then reports where). Parsed only, never run."""
    try:
        tree = ast.parse(expression)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not tree.body:
        return None
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        return "out"
    if isinstance(last, ast.Assign) and len(last.targets) == 1 and isinstance(last.targets[0], ast.Name):
        return last.targets[0].id
    return None


def build_request(args) -> dict:
    if args.program and args.expression:
        raise ValueError("give a program file or -e EXPRESSION, not both")
    if args.program:
        text = sys.stdin.read() if args.program == "-" else Path(args.program).read_text(encoding="utf-8")
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise ValueError("the program file must hold a JSON object (a POST /v1/evaluate body)")
    elif args.expression is not None:
        doc = {"expression": args.expression}
    else:
        raise ValueError("give a program file (or '-') or -e EXPRESSION")
    leaves = dict(doc.get("leaves") or {})
    for text in args.leaf:
        name, spec = parse_leaf(text, True)
        leaves[name] = spec
    for text in args.const:
        name, spec = parse_leaf(text, False)
        leaves[name] = spec
    if leaves or "leaves" in doc:
        doc["leaves"] = leaves
    target = args.backward
    if target is None and args.expression is not None and not args.no_backward:
        target = last_target(args.expression)
    if target is not None and not args.no_backward:
        doc["backward"] = [*doc.get("backward", []), {"tensor": target}]
    if args.device:
        doc["device"] = args.device
    return doc


def grad_repr(values: Any, dtype: str) -> str:
    """repr() of a tensor holding `values`, as PyTorch prints a `.grad` (no autograd suffix)."""
    try:
        import numpy as np  # noqa: PLC0415

        from engine.printing import format_tensor  # noqa: PLC0415 - the engine's port of PyTorch's printing
    except ImportError:
        return f"tensor({values})"
    return format_tensor(np.array(values, dtype=np.bool_ if dtype == "bool" else dtype), dtype)


def render(result) -> tuple[str, str]:
    """(standard output, standard error) text for an EvaluateResult."""
    lines = [f"{name} = {t.repr}" if t is not None else f"{name} = None" for name, t in result.tensors.items()]
    grads = [f"{name}.grad = {grad_repr(t.grad, t.dtype)}" for name, t in result.tensors.items()
             if t is not None and t.grad is not None]
    if grads:
        lines += ["", *grads]
    note = [f"note: {result.device_note}"] if result.device_note else []
    return "\n".join(lines) + "\n", "".join(f"{w}\n" for w in [*result.warnings, *note])


def error_text(e) -> str:
    """An APIError as PyTorch shows an exception (its class, its message), then where and the HTTP status."""
    from gradserve.errors import TorchError, format_loc  # noqa: PLC0415

    head = f"{e.type}: {e.msg}" if isinstance(e, TorchError) else f"gradserve: {e.type}: {e.msg}"
    where = f"at {format_loc(e.loc)}; " if e.loc else ""
    return f"{head}\n  ({where}HTTP {e.status})\n"


def run(args) -> int:
    from gradserve.client import Client  # noqa: PLC0415
    from gradserve.errors import APIError, TransportError  # noqa: PLC0415
    from gradserve.results import EvaluateResult  # noqa: PLC0415

    try:
        doc = build_request(args)
    except (OSError, ValueError) as e:
        print(f"gradserve eval: {e}", file=sys.stderr)
        return 2
    with Client(args.url, api_key=args.api_key, timeout=args.timeout) as client:
        try:
            if args.json:
                try:
                    raw = client.request("POST", "/v1/evaluate", doc, raw=True)
                except APIError as e:
                    print(json.dumps({"detail": e.errors}), file=sys.stdout)
                    return 1
                sys.stdout.write(raw.decode("utf-8") + "\n")
            else:
                result = EvaluateResult.from_json(client.request("POST", "/v1/evaluate", doc))
                out, err = render(result)
                sys.stdout.write(out)
                sys.stderr.write(err)
            if args.graph:
                fmt = "dot" if Path(args.graph).suffix.lower() in (".dot", ".gv") else "svg"
                Path(args.graph).write_text(client.graph(doc, fmt), encoding="utf-8")
        except APIError as e:
            if e.status == 404 and args.graph:
                print(f"gradserve eval: {client.url} has no POST /v1/graph (a server before v1.1)", file=sys.stderr)
            else:
                sys.stderr.write(error_text(e))
            return 1
        except TransportError as e:
            print(f"gradserve eval: {e}", file=sys.stderr)
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gradserve", description="gradserve's client commands.")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
