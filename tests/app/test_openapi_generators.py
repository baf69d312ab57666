"""The OpenAPI document as its consumers read it: openapi-typescript + tsc (default flags) and
openapi-python-client generate typed clients from it (the Python one then talks to a real server), and
Swagger UI's Authorize button sends the API key.

The generators are installed on first use (npm and pip from the registries; pinned) into a folder of the user's
cache that every clone shares (GEN: $GRADSERVE_GEN_DIR, else ~/.cache/gradserve/gen-<the pins' hash>; a fresh
clone spent ~33 s of `make test` installing them), under a lock and finished with a stamp, so that two
clones' test runs neither install at once nor use a half-installed folder; where that is impossible the
tests skip and say why.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.examples import EXAMPLES
from app.main import create_app
from tests.app.conftest import Server

TS_PACKAGES = ("openapi-typescript@7.13.0", "typescript@5.9.3")
PY_GENERATOR = "openapi-python-client==0.29.1"
_PINS = hashlib.sha256(repr((TS_PACKAGES, PY_GENERATOR, sys.version_info[:2])).encode()).hexdigest()[:12]
GEN = Path(os.environ.get("GRADSERVE_GEN_DIR")
           or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gradserve" / f"gen-{_PINS}")
KEY = "k-secret"


def openapi(recursive: bool = False, **settings) -> dict:
    with TestClient(create_app(Settings(compute_workers=0, access_log=False, **settings))) as c:
        return c.get("/openapi.json" + ("?recursive=true" if recursive else "")).json()


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


@contextlib.contextmanager
def _installed(name: str):
    """Holds GEN's lock; yields (GEN / name, whether a finished install is there by its stamp; if not, the folder
    was removed); the caller installs into it and checks it; the stamp is written once that passed."""
    GEN.mkdir(parents=True, exist_ok=True)
    with open(GEN / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another clone's run installing: wait for it
        folder, stamp = GEN / name, GEN / f"{name}.done"
        if not stamp.exists():
            shutil.rmtree(folder, ignore_errors=True)
        yield folder, stamp.exists()
        stamp.touch()


@pytest.fixture(scope="module")
def ts_tools():
    if not shutil.which("npm") or not shutil.which("node"):
        pytest.skip("node/npm not installed (apt-get install nodejs npm)")
    with _installed("npm") as (folder, done_before):
        if not done_before:
            folder.mkdir()
            done = _run(["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--no-save",
                         *TS_PACKAGES])
            if done.returncode != 0:
                pytest.skip(f"could not install {TS_PACKAGES} from npm: {done.stderr[-500:]}")
        bins = folder / "node_modules" / ".bin"
        assert (bins / "openapi-typescript").exists() and (bins / "tsc").exists(), f"{folder}: installed without them"
    return bins


@pytest.fixture(scope="module")
def py_generator():
    with _installed("opc") as (folder, done_before):
        if not done_before:
            done = _run([sys.executable, "-m", "venv", str(folder)])
            if done.returncode == 0:
                done = _run([str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", PY_GENERATOR])
            if done.returncode != 0:
                pytest.skip(f"could not install {PY_GENERATOR}: {done.stderr[-500:]}")
        assert (folder / "bin" / "openapi-python-client").exists(), f"{folder}: installed without the generator"
    return folder / "bin"


def test_the_document_itself():
    doc = openapi(api_keys=KEY)
    schemas = doc["components"]["schemas"]
    exact = openapi(recursive=True, api_keys=KEY)
    for d in (doc, exact):
        for ref in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(d))):
            assert ref in d["components"]["schemas"], f"dangling $ref {ref}"
    nested = exact["components"]["schemas"]["NestedList"]
    assert nested["items"]["anyOf"][-1] == {"$ref": "#/components/schemas/NestedList"}
    assert {"TensorData", "Scalar", "NestedList", "FunctionalValue"} <= set(exact["components"]["schemas"])
    assert schemas["NonFinite"]["x-enum-varnames"] == ["NAN", "INFINITY", "NEGATIVE_INFINITY"]
    for name in ("EvaluateRequest", "LeafSpec", "OpSpec", "BackwardSpec", "FunctionalRequest", "GradcheckRequest",
                 "GraphRequest", "BatchRequest"):
        assert not [p for p, s in schemas[name]["properties"].items() if "default" in s], name
    assert schemas["LeafSpec"]["required"] == ["data"] and "required" not in schemas["EvaluateRequest"]
    assert {"functions", "detect_anomaly", "expression"} <= set(schemas["EvaluateRequest"]["properties"])
    assert set(doc["components"]["securitySchemes"]) == {"BearerAuth", "APIKeyHeader"}
    evaluate = doc["paths"]["/v1/evaluate"]["post"]
    assert evaluate["security"] == [{"BearerAuth": []}, {"APIKeyHeader": []}]
    assert {"200", "401", "408", "413", "415", "422", "503", "504"} <= set(evaluate["responses"])
    assert "Retry-After" in evaluate["responses"]["503"]["headers"]
    assert evaluate["responses"]["200"]["content"]["application/json"]["example"]["tensors"]["a"]["grad"] == 4.0
    assert "security" not in doc["paths"]["/healthz"]["get"]
    assert "securitySchemes" not in openapi()["components"]  # no keys, no Authorize button
    assert not {"TensorData", "NestedList", "Scalar", "FunctionalValue"} & set(schemas)
    assert "#/components/schemas/TensorData" not in json.dumps(doc)
    with TestClient(create_app(Settings(compute_workers=0, access_log=False))) as c:
        app = c.app
        assert c.get("/openapi.json").json() == app.openapi()  # what the app's own tools (schemathesis) read


USAGE_TS = """\
import type { components } from "./api";
type S = components["schemas"];

// Optional request fields are optional, with openapi-typescript's default flags.
export const minimal: S["EvaluateRequest"] = {
  leaves: { a: { data: 2.0, requires_grad: true } },
  ops: [{ name: "f", op: "mul", args: ["a", "a"] }],
};
export const empty: S["EvaluateRequest"] = {};
export const nested: S["LeafSpec"] = { data: [[1, 2], [3, "NaN"]], dtype: "float64" };
export const deep: S["LeafSpec"] = { data: [[[[[["-Infinity", true]]]]]] };
export const b64: S["LeafSpec"] = { data: { dtype: "float32", shape: [1], b64: "AACAPw==" } };
export function read(t: S["TensorOut"]): S["TensorOut"]["data"] { return t.grad ?? t.data; }

// Tensor data is typed: each of these must be a type error (tsc fails where one is not).
// @ts-expect-error: a string that is not a non-finite number
export const bad1: S["LeafSpec"] = { data: [["x"]] };
// @ts-expect-error: an object inside a nested list
export const bad2: S["LeafSpec"] = { data: [{ a: 1 }] };
// @ts-expect-error: the non-finite strings are an enum
export const bad3: S["NonFinite"] = "nan";
// @ts-expect-error: data is required
export const bad4: S["LeafSpec"] = {};
// @ts-expect-error: grad may be null
export const bad5: S["TensorOut"]["data"] = ({} as S["TensorOut"]).grad;
// @ts-expect-error: a string deep down is typed too
export const bad8: S["LeafSpec"] = { data: [[[["x"]]]] };
// @ts-expect-error: a response's fields are all there
export const bad6: S["TensorOut"] = { shape: [] };
// @ts-expect-error: dtype is one of the six
export const bad7: S["LeafSpec"] = { data: 1, dtype: "float128" };
"""


def test_openapi_typescript_types_data_and_keeps_optional_fields_optional(ts_tools, tmp_path):
    (tmp_path / "openapi.json").write_text(json.dumps(openapi(api_keys=KEY)))
    done = _run([str(ts_tools / "openapi-typescript"), str(tmp_path / "openapi.json"), "-o", str(tmp_path / "api.ts")])
    assert done.returncode == 0, done.stderr
    api = (tmp_path / "api.ts").read_text()
    assert 'NonFinite: "NaN" | "Infinity" | "-Infinity";' in api
    assert "unknown[]" not in api.split("TensorOut: {")[1][:800]
    assert "requires_grad?: boolean;" in api and "device?: " in api
    (tmp_path / "usage.ts").write_text(USAGE_TS)
    done = _run([str(ts_tools / "tsc"), "--noEmit", "--strict", "--target", "es2020", "--module", "es2020",
                 "--moduleResolution", "node", str(tmp_path / "usage.ts")], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


GENERATED_USE = """\
import sys
sys.path.insert(0, {out!r})
from gradserve_api import AuthenticatedClient
from gradserve_api.api.evaluate import evaluate_v1_evaluate_post
from gradserve_api.models import EvaluateRequest, EvaluateResponse, LeafSpec, NonFinite, TensorOut
from gradserve_api.types import UNSET

assert {{m.name: m.value for m in NonFinite}} == {{"NAN": "NaN", "INFINITY": "Infinity",
                                                  "NEGATIVE_INFINITY": "-Infinity"}}
for field in ("data", "grad"):
    text = TensorOut.__annotations__[field]
    assert "Base64Data" in text and "NonFinite" in text and "list[bool | float | list[" in text, text
assert EvaluateRequest().device is UNSET and LeafSpec(data=1.0).requires_grad is UNSET
client = AuthenticatedClient(base_url={url!r}, token={key!r})
body = EvaluateRequest.from_dict({seed!r})
answer = evaluate_v1_evaluate_post.sync(client=client, body=body)
assert isinstance(answer, EvaluateResponse), answer
print({{n: answer.tensors[n].grad for n in "abcde"}})
"""


def test_openapi_python_client_generates_typed_models_that_talk_to_the_server(py_generator, tmp_path):
    (tmp_path / "openapi.json").write_text(json.dumps(openapi(api_keys=KEY)))
    (tmp_path / "config.yml").write_text("project_name_override: gradserve-api\npackage_name_override: "
                                         "gradserve_api\n")
    out = tmp_path / "gen"
    done = _run([str(py_generator / "openapi-python-client"), "generate", "--path", str(tmp_path / "openapi.json"),
                 "--output-path", str(out), "--meta", "none", "--config", str(tmp_path / "config.yml")])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Unable to" not in done.stdout + done.stderr and "will not be generated" not in done.stdout
    models = sorted(p.stem for p in (out / "models").glob("*.py"))
    assert not [m for m in models if "type_" in m], models  # no TensorOutDataType4 and the like
    assert {"non_finite", "base_64_data", "tensor_out", "evaluate_request", "batch_request"} <= set(models)
    server = Server({"GRADSERVE_API_KEYS": KEY, "GRADSERVE_COMPUTE_WORKERS": "0"})
    try:
        script = GENERATED_USE.format(out=str(tmp_path), url=server.url, key=KEY,
                                      seed=EXAMPLES["leaf_grads"]["value"])
        (tmp_path / "gradserve_api").symlink_to(out, target_is_directory=True)
        done = _run([str(py_generator / "python"), "-c", script])
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    grads = eval(done.stdout.strip(), {})  # noqa: S307 - our own script's printed dict of floats
    assert grads == pytest.approx({"a": 4.0, "b": 2.0, "c": 6.4, "d": 9.6, "e": -3.84})


def test_swagger_authorize_button_sends_the_key(tmp_path):
    from tests.app.test_docs_browser import CHROMIUM_FLAGS, find_chromium

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set GRADSERVE_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="no playwright (make test installs it)")
    server = Server({"GRADSERVE_API_KEYS": KEY, "GRADSERVE_COMPUTE_WORKERS": "0"})
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page()
                page.goto(f"{server.url}/docs", wait_until="load")
                page.locator("button.authorize").first.click(timeout=30_000)
                dialog = page.locator(".auth-container").filter(has_text="BearerAuth")
                dialog.locator("input").first.fill(KEY)
                dialog.locator("button[type=submit]").first.click()
                page.locator(".modal-ux button.close-modal").first.click()
                op = page.locator(".opblock.opblock-post").filter(
                    has=page.locator(".opblock-summary-path", has_text="/v1/evaluate")).first
                op.locator(".opblock-summary").first.click()
                op.get_by_role("button", name="Try it out").click()
                op.locator("button.execute").click()
                table = op.locator(".live-responses-table")
                table.wait_for(timeout=30_000)
                status = table.locator("tbody td.response-col_status").first.inner_text().strip()
                curl = op.locator(".curl-command").first.inner_text()
            finally:
                browser.close()
    finally:
        server.stop()
    assert f"Authorization: Bearer {KEY}" in curl, curl
    assert status == "200", status
