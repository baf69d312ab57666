"""POST /v1/graph on real servers: the SVG (Graphviz's dot, and the built-in layout) and the DOT text hold
exactly the evaluate response's graph (which is torch's): its nodes with PyTorch's names, leaves labelled
with their names and shapes, one edge per next_functions entry; errors, limits, API keys, the in-flight
limit and the time limit as for /v1/evaluate."""
from __future__ import annotations

import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app.examples import EXAMPLES
from app.main import create_app
from app.services import graph as drawings
from app.services import layout
from tests import torch_reference

from .conftest import SLOW_LIMITS, Server, cheap_program, children, in_thread, slow_program, wait_until

SVG = "{http://www.w3.org/2000/svg}"
SEED = EXAMPLES["leaf_grads"]["value"]
LEAF_FILLS = {"lightblue", "#add8e6"}  # Graphviz writes the name, the built-in layout the hex
OUTPUT_FILLS = {"darkolivegreen1", "#caff70"}
HAS_DOT = shutil.which("dot") is not None


@pytest.fixture(scope="module", params=["dot", "builtin"])
def layout_server(request):
    if request.param == "dot" and not HAS_DOT:
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz)")
    s = Server({"GRADSERVE_GRAPH_LAYOUT": request.param, "GRADSERVE_COMPUTE_WORKERS": "0",
                "GRADSERVE_ACCESS_LOG": "false"})
    s.layout = request.param
    yield s
    s.stop()


@pytest.fixture(scope="module")
def graph_server():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


def svg_graph(svg: bytes) -> tuple[dict, dict, set]:
    """What a drawing shows, read from its SVG (either layout): {node id: text lines}, {node id: fill},
    {(next function's id, node id, slot)}."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    texts, fills, edges = {}, {}, set()
    for g in root.iter(f"{SVG}g"):
        gid = g.get("id", "")
        if g.get("class") == "node":
            k = int(gid.removeprefix("node"))
            texts[k] = [t.text or "" for t in g.iter(f"{SVG}text")]
            shape = next(el for el in g if el.tag in (f"{SVG}path", f"{SVG}polygon", f"{SVG}rect"))
            fills[k] = shape.get("fill")
        elif g.get("class") == "edge":
            src, dst = g.find(f"{SVG}title").text.split("->")
            k, slot = gid.removeprefix("edge").split("_")
            assert int(k) == int(dst[1:])
            edges.add((int(src[1:]), int(dst[1:]), int(slot)))
    return texts, fills, edges


def expected_edges(graph: list) -> set:
    return {(nf[0], n["id"], slot) for n in graph for slot, nf in enumerate(n["next_functions"]) if nf is not None}


def test_seed_drawing_holds_the_graph(layout_server):
    s = layout_server
    evaluated = s.client.post("/v1/evaluate", json=SEED).json()
    assert evaluated["graph"] == torch_reference.evaluate(SEED)["graph"]  # the graph drawn is torch's
    r = s.client.post("/v1/graph", json=SEED)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/svg+xml"
    texts, fills, edges = svg_graph(r.content)
    graph = evaluated["graph"]
    assert set(texts) == {n["id"] for n in graph}
    assert edges == expected_edges(graph)
    leaves = [n for n in graph if n["name"] == "AccumulateGrad"]
    assert len(leaves) == 5
    for n in graph:
        assert texts[n["id"]][0] == n["name"]
        if n["name"] == "AccumulateGrad":
            assert texts[n["id"]][1] == f"{n['tensor']} ()"  # name and shape (scalars)
            assert fills[n["id"]] in LEAF_FILLS
    [root] = [n for n in graph if not any(n["id"] == e[0] for e in edges)]
    assert root["tensor"] == "f" and fills[root["id"]] in OUTPUT_FILLS


def test_dot_text(graph_server):
    body = {"leaves": {"x": {"data": [1.0, 2.0, 3.0, 4.0], "requires_grad": True}},
            "expression": "u, w = x.split(2)\n(u * w).sum()", "backward": [{"tensor": "out"}], "format": "dot"}
    r = graph_server.client.post("/v1/graph", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/vnd.graphviz")
    program = {k: v for k, v in body.items() if k != "format"}
    graph = graph_server.client.post("/v1/evaluate", json=program).json()["graph"]
    text = r.text
    nodes = dict(re.findall(r'^  n(\d+) \[id="node\d+", label="([^"]*)"', text, re.M))
    assert {int(k) for k in nodes} == {n["id"] for n in graph}
    edges = {(int(a), int(b), int(c)) for a, b, _, c in
             re.findall(r'^  n(\d+) -> n(\d+) \[id="edge(\d+)_(\d+)"', text, re.M)}
    assert edges == expected_edges(graph)
    # split's two outputs are used apart: its edges say which (input_nr)
    [split] = [n for n in graph if n["name"] == "SplitBackward0"]
    labels = re.findall(rf'^  n{split["id"]} -> n\d+ \[id="edge\d+_\d+", label=" (\d)"\];', text, re.M)
    assert sorted(labels) == ["0", "1"]
    assert 'label="AccumulateGrad\\nx (4,)", fillcolor=lightblue' in text
    if HAS_DOT:  # Graphviz itself reads it
        out = subprocess.run(["dot", "-Tsvg"], input=r.content, capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("body", [
    {"leaves": {"a": {"data": [1.0, 2.0, 3.0]}, "b": {"data": [1.0, 2.0]}},
     "ops": [{"name": "c", "op": "add", "args": ["a", "b"]}]},  # PyTorch's RuntimeError
    {"leaves": {"a": {"data": 1.0}}, "expression": "a +* 2"},
    {"leaves": {"a": {"data": 1.0}}, "expression": "a * 2", "ops": []},
    {"leaves": {"a": {"data": 1.0}}, "bogus": 1},
    {"leaves": {"a": {"data": 1.0, "requires_grad": True, "dtype": "int64"}}},
    [1, 2],
    "{not json",
    '{"leaves": {}, "leaves": {}}',
    "",
])
def test_errors_are_evaluates(graph_server, body):
    def post(path):
        if isinstance(body, str):
            return graph_server.client.post(path, content=body, headers={"content-type": "application/json"})
        return graph_server.client.post(path, json=body)

    g, e = post("/v1/graph"), post("/v1/evaluate")
    assert g.status_code == e.status_code and g.status_code >= 400, (g.text, e.text)
    assert g.json() == e.json()


@pytest.mark.parametrize("fmt", ["png", {}, [], None, 1])
def test_bad_format(graph_server, fmt):
    r = graph_server.client.post("/v1/graph", json={**cheap_program(), "format": fmt})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "literal_error", "loc": ["body", "format"],
                                   "msg": "Input should be 'svg' or 'dot'"}]


def test_hostile_names_are_text(layout_server):
    names = ["<script>alert(1)</script>", 'a"b\\N\\G', "tab\there", "x" * 128]
    body = {"leaves": {n: {"data": 1.0, "requires_grad": True} for n in names},
            "ops": [{"name": "s", "op": "stack", "args": [names]}, {"name": "t", "op": "sum", "args": ["s"]}]}
    r = layout_server.client.post("/v1/graph", json=body)
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    assert not [el for el in root.iter() if el.tag.endswith("script")]
    texts, _, _ = svg_graph(r.content)
    shown = {lines[1] for lines in texts.values() if lines[0] == "AccumulateGrad"}
    assert shown == {"<script>alert(1)</script> ()", 'a"b\\N\\G ()', "tab\\there ()", "x" * 39 + "… ()"}
    dot = layout_server.client.post("/v1/graph", json={**body, "format": "dot"}).text
    assert 'label="AccumulateGrad\\na\\"b\\\\N\\\\G ()"' in dot


def test_no_graph(layout_server):
    r = layout_server.client.post("/v1/graph", json={"leaves": {"a": {"data": 1.0}},
                                                     "ops": [{"name": "b", "op": "mul", "args": ["a", 2]}]})
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    assert "no backward graph" in " ".join(t.text or "" for t in root.iter(f"{SVG}text"))


def chain(n: int) -> dict:
    ops = [{"name": f"t{i}", "op": "mul", "args": ["x" if i == 0 else f"t{i - 1}", 1.0001]} for i in range(n)]
    return {"leaves": {"x": {"data": 1.0, "requires_grad": True}}, "ops": ops}


def test_a_10000_op_graph_is_refused(graph_server):
    """Refused before any layout (the cap is read off the response's graph). `outputs` names the last tensor
    only (its graph is still all 10,001 nodes): the response's tensors are not what is tested here."""
    r = graph_server.client.post("/v1/graph", json={**chain(10_000), "outputs": ["t9999"]})
    assert r.status_code == 413, r.text[:300]
    [err] = r.json()["detail"]
    assert err["type"] == "limit_exceeded" and err["loc"] == ["body"]
    assert "10001 nodes, over the limit of 1000" in err["msg"] and "graph_max_nodes" in err["msg"]
    assert graph_server.client.post("/v1/graph", json=cheap_program()).status_code == 200


def test_the_largest_graph_drawn(layout_server):
    r = layout_server.client.post("/v1/graph", json=chain(999))  # 1,000 nodes with the leaf: the default cap
    assert r.status_code == 200, r.text[:300]
    texts, _, edges = svg_graph(r.content)
    assert len(texts) == 1000 and len(edges) == 999


def tangle(n: int, k: int = 4, seed: int = 1) -> dict:
    """n sums of stacks of k earlier sums, chosen at random: a graph of 2n + 1 nodes that dot's crossing
    minimisation takes very long over (n=150: ~20 s; n=300: past 30 s)."""
    rnd = random.Random(seed)
    names, ops = ["x"], []
    for i in range(n):
        ops.append({"name": f"s{i}", "op": "stack", "args": [[rnd.choice(names) for _ in range(k)]]})
        ops.append({"name": f"t{i}", "op": "sum", "args": [f"s{i}", 0]})
        names.append(f"t{i}")
    return {"leaves": {"x": {"data": [1.0, 2.0], "requires_grad": True}}, "ops": ops}


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_dot_past_the_time_limit_is_stopped():
    """A graph dot takes over 30 s for, against a 2 s time limit: 504, and the dot process is gone."""
    s = Server({"GRADSERVE_TIME_LIMIT_S": "2", "GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false"})
    try:
        r = s.client.post("/v1/graph", json=tangle(300))
        assert r.status_code == 504, r.text[:300]
        assert "drawing the graph ran past the time limit" in r.json()["detail"][0]["msg"]

        def dots():
            return [p for p in children(s.proc.pid) if Path(f"/proc/{p}/comm").read_text().strip() == "dot"]

        assert wait_until(lambda: not dots(), 10), "dot still runs"
        assert s.client.post("/v1/graph", json=cheap_program()).status_code == 200
    finally:
        s.stop()


def test_service_path_keys_in_flight_and_time_limit():
    """/v1/graph is the evaluate path: API keys, the in-flight limit (shared with /v1/evaluate) and the time
    limit apply; the playground page and its files stay open."""
    s = Server({"GRADSERVE_API_KEYS": "k1", "GRADSERVE_TIME_LIMIT_S": "2", "GRADSERVE_MAX_IN_FLIGHT": "1",
                "GRADSERVE_COMPUTE_WORKERS": "1", "GRADSERVE_ACCESS_LOG": "false", **SLOW_LIMITS})
    key = {"X-API-Key": "k1"}
    try:
        assert s.client.get("/").status_code == 200
        assert s.client.get("/static/playground/playground.js").status_code == 200
        assert s.client.post("/v1/graph", json=cheap_program()).status_code == 401
        assert s.client.post("/v1/graph", json=cheap_program(), headers=key).status_code == 200

        t, box = in_thread(lambda: s.client.post("/v1/graph", json=slow_program(), headers=key))
        assert wait_until(lambda: s.client.get("/readyz", headers=key).json()["workers"]["in_flight"] == 1, 10)
        for path in ("/v1/graph", "/v1/evaluate"):
            busy = s.client.post(path, json=cheap_program(), headers=key)
            assert busy.status_code == 503 and "Retry-After" in busy.headers, busy.text
        t.join(30)
        [slow] = box
        assert slow.status_code == 504, slow.text
        assert "time limit" in slow.json()["detail"][0]["msg"]
    finally:
        s.stop()


# ----- in process: the built-in layout and the OpenAPI document -----


def test_builtin_layout_boxes_never_overlap():
    for seed in range(8):
        rnd = random.Random(seed)
        n = rnd.randrange(2, 60)
        graph = [{"id": 0, "name": "AccumulateGrad", "tensor": "x", "next_functions": []}]
        for i in range(1, n):
            k = rnd.choice([1, 1, 2, 3])
            nfs = [[rnd.randrange(i), rnd.choice([0, 0, 1])] for _ in range(k)]
            graph.append({"id": i, "name": f"Op{i}Backward0", "tensor": f"t{i}" if i % 3 else None,
                          "next_functions": nfs + ([None] if i % 5 == 0 else [])})
        d = drawings.drawing({"graph": graph, "tensors": {}}, 1000, 4000)
        root = ET.fromstring(layout.to_svg(d))
        boxes = [(float(r.get("x")), float(r.get("y")), float(r.get("width")), float(r.get("height")))
                 for r in root.iter(f"{SVG}rect")]
        assert len(boxes) == n
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                apart = (a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1])
                assert apart, (seed, a, b)
        _, _, edges = svg_graph(ET.tostring(root))
        assert edges == expected_edges(graph)


def test_builtin_layout_routes_a_bounded_number_of_long_edges():
    """A chain of 1,000 nodes that each also use the leaf and a node 500 back: ~1.2M ranks of edge span in
    all. The layout routes MAX_DUMMIES vertices' worth and draws the rest straight; every edge is drawn."""
    graph = [{"id": 0, "name": "AccumulateGrad", "tensor": "x", "next_functions": []}]
    for i in range(1, 1000):
        graph.append({"id": i, "name": "MulBackward0", "tensor": f"t{i}",
                      "next_functions": [[i - 1, 0], [0, 0], [0, 0], [max(0, i - 500), 0]]})
    d = drawings.drawing({"graph": graph, "tensors": {}}, 1000, 4000)
    verts, ranks, chains = layout.layout(d)
    dummies = [k for k in verts if isinstance(k, tuple)]
    assert 0 < len(dummies) <= 20_000
    assert len(chains) == len(d.edges) == 3996
    _, _, edges = svg_graph(layout.to_svg(d))
    assert edges == expected_edges(graph)


def test_openapi_documents_graph():
    schema = create_app().openapi()
    op = schema["paths"]["/v1/graph"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/GraphRequest"}
    assert set(op["responses"]["200"]["content"]) == {"image/svg+xml", "text/vnd.graphviz"}
    props = schema["components"]["schemas"]["GraphRequest"]["properties"]
    fmt = props["format"]
    if "$ref" in fmt:  # a named component (app/openapi.py names the enums)
        fmt = schema["components"]["schemas"][fmt["$ref"].rsplit("/", 1)[1]]
    assert fmt["enum"] == ["svg", "dot"] and "expression" in props
