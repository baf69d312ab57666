"""The playground at / in a real headless Chromium against a real server: type the seed expression, set its
leaves, run, read the grads off the page (against torch 2.13), check the drawn graph (five AccumulateGrad
nodes, the edges of torch's graph), show a PyTorch error as PyTorch shows it, and use the API-key field.

Screenshots go to a temporary folder; with GRADSERVE_SCREENSHOTS=<folder> (`make screenshots` sets docs/img)
they are written there, which is how the README's pictures are made."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from tests import torch_reference

from .conftest import Server
from .test_docs_browser import CHROMIUM_FLAGS, find_chromium
from .test_graph import expected_edges, svg_graph

pytestmark = pytest.mark.browser
SEED = "a*b + c*d**2/e"
SEED_VALUES = {"a": 2.0, "b": 4.0, "c": 6.0, "d": 8.0, "e": 10.0}
VIEWPORT = {"width": 1400, "height": 900}


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set GRADSERVE_CHROMIUM)")
    return path


@pytest.fixture(scope="module")
def browser(chromium):
    sync_api = pytest.importorskip("playwright.sync_api", reason="no playwright (make test installs it)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def open_server():
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false"})
    yield s
    s.stop()


@pytest.fixture
def shots(tmp_path) -> Path:
    where = os.environ.get("GRADSERVE_SCREENSHOTS")
    folder = Path(where) if where else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(browser, url):
    page = browser.new_page(viewport=VIEWPORT)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="load")
    page.wait_for_function("document.body.dataset.runs === '1'", timeout=30_000)  # it runs its first example
    page.errors = errors
    return page


def run(page):
    n = int(page.evaluate("document.body.dataset.runs"))
    page.click("#run")
    page.wait_for_function(f"document.body.dataset.runs === '{n + 1}'", timeout=30_000)


def torch_seed():
    leaves = {n: torch.tensor(v, requires_grad=True) for n, v in SEED_VALUES.items()}
    a, b, c, d, e = leaves.values()
    f = a * b + c * d**2 / e
    f.backward()
    return {n: t.grad.item() for n, t in leaves.items()}


def test_seed_expression(browser, open_server, shots):
    page = open_page(browser, f"{open_server.url}/")
    page.select_option("#example", "expr:layer")  # away from the seed, so that nothing of it is left over
    page.fill("#expression", "")
    page.type("#expression", SEED)  # typed: the leaf rows follow the text as it changes
    assert page.eval_on_selector_all("#leaves tbody tr", "rows => rows.map(r => r.dataset.leaf)") == list("abcde")
    for name, value in SEED_VALUES.items():
        page.fill(f'#leaves tr[data-leaf="{name}"] input.value', str(value))
    assert page.input_value("#backward-of") == "out"
    run(page)
    assert not page.is_visible("#error"), page.inner_text("#error")

    want = torch_seed()
    for name, g in want.items():
        cell = page.get_attribute(f'#tensors tr[data-tensor="{name}"] td.grad', "data-grad")
        assert json.loads(cell) == pytest.approx(g, rel=1e-6), name
        assert page.inner_text(f'#tensors tr[data-tensor="{name}"] td.grad') in (f"{g:g}.", f"{g:g}")
    assert page.inner_text('#tensors tr[data-tensor="out"] td.repr') == "tensor(46.4000, grad_fn=<AddBackward0>)"

    svg = page.evaluate("new XMLSerializer().serializeToString(document.querySelector('#graph svg'))")
    texts, _, edges = svg_graph(svg.encode())
    assert sum(lines[0] == "AccumulateGrad" for lines in texts.values()) == 5
    leaves = sorted(lines[1] for lines in texts.values() if lines[0] == "AccumulateGrad")
    assert leaves == [f"{n} ()" for n in "abcde"]
    # the edges of torch's own graph of the same formula (the ops it means, with torch's next_functions)
    ops = [("_1", "mul", ["a", "b"]), ("_2", "pow", ["d", 2]), ("_3", "mul", ["c", "_2"]), ("_4", "div", ["_3", "e"]),
           ("out", "add", ["_1", "_4"])]
    program = {"leaves": {n: {"data": v, "requires_grad": True} for n, v in SEED_VALUES.items()},
               "ops": [{"name": n, "op": op, "args": args} for n, op, args in ops], "backward": [{"tensor": "out"}]}
    ref = torch_reference.evaluate(program)["graph"]
    assert edges == expected_edges(ref)
    assert {k: lines[0] for k, lines in texts.items()} == {n["id"]: n["name"] for n in ref}

    # hovering a node lights its tensor's row
    page.hover("#graph g.node[data-tensor='out']")
    assert "hot" in page.get_attribute('#tensors tr[data-tensor="out"]', "class")
    page.mouse.move(0, 0)
    page.screenshot(path=str(shots / "playground.png"))
    page.locator("#graph-card").screenshot(path=str(shots / "graph.png"))
    assert page.errors == []
    page.close()


def test_pytorch_error(browser, open_server, shots):
    page = open_page(browser, f"{open_server.url}/")
    page.select_option("#example", "expr:error")
    run(page)
    with pytest.raises(RuntimeError) as info:
        torch.tensor([1.0, 2.0, 3.0], requires_grad=True) + torch.tensor([1.0, 2.0], requires_grad=True)
    assert page.is_visible("#error")
    assert page.inner_text("#error .exc") == f"RuntimeError: {info.value}"
    assert "in the expression" in page.inner_text("#error .where")
    assert page.inner_text("#graph").startswith("The request failed")
    page.screenshot(path=str(shots / "playground-error.png"))

    # the same failure from the JSON editor, and an expression the parser refuses
    page.click("#as-json")
    assert json.loads(page.input_value("#program"))["expression"] == "a + b"
    page.click("#tab-expression")
    page.fill("#expression", "a + __import__('os')")
    run(page)
    assert page.inner_text("#error .exc").startswith("value_error: line 1, column 5: dunder names")

    # PyTorch's warnings, as it words them
    page.select_option("#example", "json:xT_matmul_x")
    run(page)
    assert not page.is_visible("#error")
    [warning] = torch_reference.evaluate(json.loads(page.input_value("#program")))["warnings"]
    assert page.is_visible("#warnings")
    assert page.inner_text("#warnings .w") == f"{warning['category']}: {warning['message']}"
    assert page.errors == []
    page.close()


def test_json_program_and_api_key(browser, shots):
    s = Server({"GRADSERVE_COMPUTE_WORKERS": "0", "GRADSERVE_ACCESS_LOG": "false", "GRADSERVE_API_KEYS": "sesame"})
    try:
        page = open_page(browser, f"{s.url}/")  # the page is open; its first run is refused without a key
        assert page.inner_text("#error .exc").startswith("unauthorized: an API key is required")
        page.fill("#api-key", "sesame")
        page.select_option("#example", "json:bce_with_logits")
        assert not page.is_hidden("#program")
        run(page)
        assert not page.is_visible("#error"), page.inner_text("#error")
        body = json.loads(page.input_value("#program"))
        want = torch_reference.evaluate(body)["tensors"]
        for name in ("w", "b"):
            got = json.loads(page.get_attribute(f'#tensors tr[data-tensor="{name}"] td.grad', "data-grad"))
            assert torch.allclose(torch.tensor(got), torch.tensor(want[name]["grad"]), rtol=1e-5, atol=1e-6)
        assert page.inner_text('#tensors tr[data-tensor="loss"] td.fn') == "BinaryCrossEntropyWithLogitsBackward0"
        texts, _, _ = svg_graph(page.evaluate(
            "new XMLSerializer().serializeToString(document.querySelector('#graph svg'))").encode())
        assert sorted(lines[0] for lines in texts.values()).count("AccumulateGrad") == 2  # w and b
        assert page.errors == []
        page.close()
    finally:
        s.stop()
