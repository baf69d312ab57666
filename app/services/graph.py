"""POST /v1/graph's drawing: an evaluate response's backward graph as Graphviz DOT (built here) and as SVG
(laid out by Graphviz's `dot` where it is installed, else by app/services/layout.py).

torchviz's conventions: one box per grad_fn object, named as PyTorch names it; leaves (AccumulateGrad)
light blue, labelled with their tensor's name and shape; the graph's outputs (grad_fns no other node points
at) green; edges run from `next_functions[i]` to the node that holds it, so leaves sit on top and the
output at the bottom. An edge is labelled with its `input_nr` where that tells something (a function whose
outputs are used apart: split, unbind, max with dim). Node `k` is `n{k}` with SVG id `node{k}`; the edge
of `k.next_functions[i]` has SVG id `edge{k}_{i}` and title `n{j}->n{k}`, in either layout.

Graphviz is bounded per server process (`DotLimits`, from the settings graph_dot_*): at most
`graph_dot_max_concurrent` drawings at once, dot processes or built-in layout threads (a request waits up to
`graph_dot_wait_s` for a slot, then 503 over_capacity with Retry-After; a layout thread keeps its slot until it
ends), each dot stopped after `graph_dot_time_s` of wall time (504, the DOT text suggested)
and limited to as many CPU seconds plus one by RLIMIT_CPU (the kernel stops it even if the server cannot). The
node and edge caps do not bound dot's time: a 1 KB create_graph program of 960 nodes ran it 30 s (redteam10 F3).
"""
from __future__ import annotations

import math
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field

import anyio
import anyio.to_thread

from app.core.errors import ComputeTimeout, OverCapacity, ServiceError
from engine.errors import LimitExceeded

LEAF_COLOR = "lightblue"  # torchviz: variables (leaves)
OUTPUT_COLOR = "darkolivegreen1"  # torchviz: the tensors drawn for
OP_COLOR = "lightgrey"  # Graphviz's default fill for style=filled, as in torchviz
NAME_MAX_SHOWN = 40
MAX_SVG_BYTES = 8 << 20  # dot's output for the largest graph allowed is ~2 MiB


class DrawingFailed(ServiceError):
    status_code = 500
    type = "graph_layout_failed"


@dataclass
class Node:
    id: int
    name: str  # the grad_fn's class name
    kind: str  # "leaf", "output" or "op"
    lines: list[str]  # the label, line by line


@dataclass
class Edge:
    src: int  # next_functions[slot]'s node
    dst: int  # the node that holds it
    slot: int
    input_nr: int
    label: str = ""


@dataclass
class Drawing:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def shown(name: str) -> str:
    """A request name as a label shows it: control characters escaped, long names cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
    return text if len(text) <= NAME_MAX_SHOWN else text[:NAME_MAX_SHOWN - 1] + "…"


def _shape_text(doc: dict) -> str:
    shape = doc.get("shape")
    if not isinstance(shape, list):
        return ""
    text = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    dtype = doc.get("dtype")
    return text if dtype in (None, "float32") else f"{text} {dtype}"


def drawing(response: dict, max_nodes: int, max_edges: int) -> Drawing:
    """The Drawing of an evaluate response's `graph`; LimitExceeded (413) past max_nodes or max_edges."""
    graph = response.get("graph") or []
    tensors = response.get("tensors") or {}
    if len(graph) > max_nodes:
        raise LimitExceeded(f"the backward graph has {len(graph)} nodes, over the limit of {max_nodes} that "
                            "are drawn (graph_max_nodes)", ["body"])
    n_edges = sum(1 for node in graph for nf in node["next_functions"] if nf is not None)
    if n_edges > max_edges:
        raise LimitExceeded(f"the backward graph has {n_edges} edges, over the limit of {max_edges} that are "
                            "drawn (graph_max_edges)", ["body"])
    out = Drawing()
    pointed_at = {nf[0] for node in graph for nf in node["next_functions"] if nf is not None}
    for node in graph:
        name, tensor = node["name"], node["tensor"]
        kind = "leaf" if name == "AccumulateGrad" else ("output" if node["id"] not in pointed_at else "op")
        lines = [name]
        if tensor is not None:
            doc = tensors.get(tensor)
            lines.append(f"{shown(tensor)} {_shape_text(doc)}".rstrip() if isinstance(doc, dict) else shown(tensor))
        out.nodes.append(Node(node["id"], name, kind, lines))
        for slot, nf in enumerate(node["next_functions"]):
            if nf is not None:
                out.edges.append(Edge(nf[0], node["id"], slot, nf[1]))
    used: dict[int, set] = {}
    for e in out.edges:
        used.setdefault(e.src, set()).add(e.input_nr)
    for e in out.edges:
        nrs = used[e.src]
        if len(nrs) > 1 or e.input_nr != 0:
            e.label = str(e.input_nr)
    return out


# ----- DOT -----


def _q(text: str) -> str:
    """A DOT double-quoted string; its newlines are line breaks (backslashes doubled: Graphviz would read \\N,
    \\G, \\l in a label otherwise)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(d: Drawing) -> str:
    lines = [
        "// gradserve: the backward graph (nodes: grad_fn objects; an edge runs from next_functions[i] to its node)",
        "digraph backward {",
        '  graph [rankdir=TB, nodesep=0.25, ranksep=0.35, bgcolor="transparent", fontname="monospace"];',
        f'  node [shape=box, style="filled,rounded", fontname="monospace", fontsize=10, height=0.3, '
        f'margin="0.12,0.05", color="#444444", fillcolor={OP_COLOR}];',
        '  edge [fontname="monospace", fontsize=9, arrowsize=0.7, color="#444444", fontcolor="#1a5fb4"];',
    ]
    if not d.nodes:
        lines.append('  empty [id="empty", shape=plaintext, style="", label="no backward graph: no tensor of this '
                     'program requires grad"];')
    colors = {"leaf": LEAF_COLOR, "output": OUTPUT_COLOR}
    for n in d.nodes:
        attrs = [f'id="node{n.id}"', "label=" + _q("\n".join(n.lines))]
        if n.kind in colors:
            attrs.append(f"fillcolor={colors[n.kind]}")
        lines.append(f"  n{n.id} [{', '.join(attrs)}];")
    for e in d.edges:
        attrs = [f'id="edge{e.dst}_{e.slot}"']
        if e.label:
            attrs.append(f"label={_q(' ' + e.label)}")
        lines.append(f"  n{e.src} -> n{e.dst} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ----- SVG -----


def dot_binary() -> str | None:
    return shutil.which("dot")


class DotLimits:
    """One server process's bound on drawing: `max_concurrent` layouts at once (dot processes, or built-in layout
    threads where dot is not used), a request waiting up to `wait_s` for a slot; each dot stopped after `time_s`
    (wall) and `time_s` + 1 CPU seconds (RLIMIT_CPU). A built-in layout cannot be stopped (a thread): it keeps
    its slot until it really ends, past its request's 504. Once per app (`for_app`)."""

    POLL_S = 0.05  # how often a waiting request tries for a slot (a thread releases them: no event to await)

    def __init__(self, max_concurrent: int, wait_s: float, time_s: float):
        self.max_concurrent = max_concurrent
        self.wait_s = wait_s
        self.time_s = time_s
        self.slots = threading.Semaphore(max_concurrent)

    @classmethod
    def for_app(cls, state, settings) -> DotLimits:
        limits = getattr(state, "dot_limits", None)
        if limits is None:
            limits = state.dot_limits = cls(settings.graph_dot_max_concurrent, settings.graph_dot_wait_s,
                                            settings.graph_dot_time_s)
        return limits

    async def take(self, timeout: float, what: str) -> float:
        """Take a slot (release it with `slots.release()`), waiting up to wait_s or `timeout`, whichever is
        shorter; returns the time left of `timeout`. 503 past wait_s, 504 where the request's time ran out."""
        start = anyio.current_time()
        end = start + max(min(self.wait_s, timeout), 0.0)
        while not self.slots.acquire(blocking=False):  # never blocks: a cancelled wait holds nothing
            if anyio.current_time() >= end:
                if timeout <= self.wait_s:
                    raise _timeout(timeout)
                raise self.busy(what)
            await anyio.sleep(self.POLL_S)
        return timeout - (anyio.current_time() - start)

    def busy(self, what: str = "Graphviz's dot") -> OverCapacity:
        n = self.max_concurrent
        return OverCapacity(f"{what} is drawing {n} graph{'s' if n != 1 else ''} already, as many as this server "
                            f"draws at once (graph_dot_max_concurrent), and none finished within {self.wait_s:g} s "
                            "(graph_dot_wait_s); retry later, or ask for \"format\": \"dot\" (the DOT text, "
                            "drawn by no one here)", headers={"Retry-After": "1"})


async def render_svg(d: Drawing, layout: str, timeout: float, dot_limits: DotLimits | None = None) -> bytes:
    """The SVG: Graphviz's `dot` (layout "dot", or "auto" where it is installed), else the built-in layout (in
    a thread: it is Python work that grows with the graph). Past `timeout` (the request's time left), 504;
    within `dot_limits`' slots and dot's budget (none: only `timeout` bounds them)."""
    exe = dot_binary() if layout != "builtin" else None
    if exe is not None:
        if dot_limits is None:
            return await run_dot(exe, to_dot(d).encode(), timeout)
        return await _bounded_dot(exe, to_dot(d).encode(), timeout, dot_limits)
    if layout == "dot":
        raise DrawingFailed("GRADSERVE_GRAPH_LAYOUT=dot but Graphviz's `dot` is not installed")
    from app.services.layout import to_svg  # noqa: PLC0415

    if dot_limits is None:
        slot = None
    else:
        timeout = await dot_limits.take(timeout, "the built-in layout")
        slot = _ThreadSlot(dot_limits.slots)
    try:
        with anyio.fail_after(max(timeout, 0.001)):
            return await anyio.to_thread.run_sync(slot.run if slot else to_svg, d, abandon_on_cancel=True)
    except TimeoutError:
        raise _timeout(timeout) from None
    finally:
        if slot is not None:
            slot.leave()


class _ThreadSlot:
    """A slot held by a layout thread until the layout really ends (a thread abandoned at its request's 504 keeps
    it), or given back by its request where the thread never started (anyio skips a call cancelled before it
    starts)."""

    def __init__(self, slots: threading.Semaphore):
        self.slots = slots
        self.lock = threading.Lock()
        self.started = self.gone = False

    def run(self, d: Drawing) -> bytes:
        from app.services.layout import to_svg  # noqa: PLC0415

        with self.lock:
            if self.gone:
                return b""
            self.started = True
        try:
            return to_svg(d)
        finally:
            self.slots.release()

    def leave(self) -> None:
        with self.lock:
            if not self.started and not self.gone:
                self.gone = True
                self.slots.release()


async def _bounded_dot(exe: str, dot_text: bytes, timeout: float, limits: DotLimits) -> bytes:
    """run_dot in one of the process's slots (503 where none frees within wait_s, or the time left), stopped
    at the drawing budget or the request's time left, whichever comes first."""
    timeout = await limits.take(timeout, "Graphviz's dot")
    try:
        if limits.time_s < timeout:
            return await run_dot(exe, dot_text, limits.time_s, cpu_s=limits.time_s, budget=True)
        return await run_dot(exe, dot_text, timeout, cpu_s=limits.time_s)
    finally:
        limits.slots.release()


def _timeout(left: float) -> ComputeTimeout:
    return ComputeTimeout(f"drawing the graph ran past the time limit ({math.ceil(left * 10) / 10:g} s were left "
                          "of time_limit_s)")


def _over_budget(seconds: float, cpu: bool = False) -> ComputeTimeout:
    what = (f"its CPU time limit of {_cpu_limit(seconds)} s (RLIMIT_CPU, from graph_dot_time_s)" if cpu else
            f"the drawing time budget of {seconds:g} s (graph_dot_time_s)")
    return ComputeTimeout(f"Graphviz's dot ran past {what} and was stopped: this graph is too tangled to lay out "
                          "here; ask for \"format\": \"dot\" for the DOT text (the same graph, not laid out)")


def _cpu_limit(seconds: float) -> int:
    return math.ceil(seconds) + 1


def _dot_command(exe: str, cpu_s: float | None) -> list[str]:
    """dot -Tsvg, under RLIMIT_CPU of cpu_s + 1 whole seconds where a POSIX shell sets it (ulimit -t, then
    exec: the process is dot's)."""
    sh = shutil.which("sh") if cpu_s is not None else None
    if sh is None:
        return [exe, "-Tsvg"]
    return [sh, "-c", 'ulimit -t "$1" && exec "$2" -Tsvg', "sh", str(_cpu_limit(cpu_s)), exe]


CPU_LIMIT_SIGNALS = (-signal.SIGXCPU, -signal.SIGKILL)  # how RLIMIT_CPU stops a process: soft, then hard


async def run_dot(exe: str, dot_text: bytes, timeout: float, max_bytes: int = MAX_SVG_BYTES, *,
                  cpu_s: float | None = None, budget: bool = False) -> bytes:
    """`dot -Tsvg` in a subprocess, off the event loop: killed past `timeout` (504: the drawing budget's message
    where `budget`, else the time limit's) or `max_bytes` of output (413); with `cpu_s`, RLIMIT_CPU of cpu_s + 1
    seconds (stopped by it: 504 as well)."""
    chunks: list[bytes] = []
    err: list[bytes] = []
    too_big = False
    proc = await anyio.open_process(_dot_command(exe, cpu_s), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)

    async def feed():
        try:
            await proc.stdin.send(dot_text)
            await proc.stdin.aclose()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass  # dot stopped reading: its exit code says why

    async def drain_errors():  # read as it comes, so that a chatty dot never blocks on a full pipe
        async for chunk in proc.stderr:
            if sum(map(len, err)) < 4096:
                err.append(chunk)

    try:
        with anyio.fail_after(max(timeout, 0.001)):
            async with anyio.create_task_group() as tg:
                tg.start_soon(feed)
                tg.start_soon(drain_errors)
                size = 0
                async for chunk in proc.stdout:
                    size += len(chunk)
                    if size > max_bytes:
                        too_big = True
                        tg.cancel_scope.cancel()
                        break
                    chunks.append(chunk)
            if not too_big:
                code = await proc.wait()
    except TimeoutError:
        raise (_over_budget(timeout) if budget else _timeout(timeout)) from None
    finally:
        if proc.returncode is None:
            proc.kill()
        with anyio.CancelScope(shield=True):
            await proc.aclose()
    if too_big:
        raise LimitExceeded(f"the drawing is over {max_bytes} bytes of SVG", ["body"])
    if cpu_s is not None and code in CPU_LIMIT_SIGNALS:
        raise _over_budget(cpu_s, cpu=True)
    if code != 0:
        text = b"".join(err).decode(errors="replace").strip()[-500:]
        raise DrawingFailed(f"Graphviz's dot failed (exit code {code}): {text}")
    return b"".join(chunks)
