"""The /docs page in a real headless Chromium: run the seed example through Swagger UI's "Try it out"."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
# As root on a closed network: no sandbox, and no background connections that the network refuses.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
SEED_FORMULA = "a*b+c*d**2/e"
pytestmark = pytest.mark.browser


def find_chromium() -> str | None:
    """GRADSERVE_CHROMIUM, else Debian's /usr/bin/chromium, else a Chromium-family browser on PATH."""
    for candidate in (os.environ.get("GRADSERVE_CHROMIUM"), *CHROMIUM_CANDIDATES):
        path = candidate and (candidate if os.path.isabs(candidate) else shutil.which(candidate))
        if path and os.access(path, os.X_OK):
            return path
    return None


def is_seed_example(label: str) -> bool:
    """The seed example is f = a*b + c*d**2/e (df/da = 4), whatever else its menu label says."""
    return SEED_FORMULA in label.replace(" ", "") or "seed" in label.lower()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        reason = "no Chromium found (apt-get install chromium, or set GRADSERVE_CHROMIUM)"
        print(f"test_docs_browser: skipped: {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def server():
    """`gradserve serve` in its own process on a free port: the browser talks HTTP to it as a user's would."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"server did not come up on {base}:\n{proc.communicate()[0][-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_try_it_out_runs_the_seed_example(chromium, server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="no playwright (make test installs it)")
    with sync_api.sync_playwright() as pw:
        # Playwright adds its own --user-data-dir (a fresh temporary profile) and --no-sandbox.
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            failed = []
            page.on("requestfailed", lambda req: failed.append(req.url))
            page.goto(f"{server}/docs", wait_until="load")
            op = page.locator(".opblock.opblock-post").filter(
                has=page.locator(".opblock-summary-path", has_text="/v1/evaluate")
            ).first
            try:
                op.wait_for(timeout=30_000)
            except sync_api.TimeoutError:
                pytest.fail(f"Swagger UI never showed POST /v1/evaluate; failed requests: {failed} (a CDN "
                            f"cannot be reached offline: /docs must serve its own assets); "
                            f"page text: {page.inner_text('body')[:500]!r}")
            op.locator(".opblock-summary").first.click()
            op.get_by_role("button", name="Try it out").click()

            select = op.locator(".opblock-section-request-body select.examples-select-element").first
            select.wait_for(timeout=10_000)
            options = select.locator("option").all_inner_texts()
            seed = next((o for o in options if is_seed_example(o)), None)
            assert seed is not None, f"no seed example ({SEED_FORMULA}) among the request examples {options}"
            select.select_option(label=seed)

            op.locator("button.execute").click()
            table = op.locator(".live-responses-table")
            table.wait_for(timeout=30_000)
            status = table.locator("tbody td.response-col_status").first.inner_text().strip()
            body_text = table.locator("tbody .response-col_description pre").first.inner_text()
            page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
        finally:
            browser.close()

    assert status == "200", f"Execute answered {status}: {body_text[:1000]}"
    body = json.loads(body_text)
    assert body["tensors"]["a"]["grad"] == pytest.approx(4.0), body["tensors"]["a"]
