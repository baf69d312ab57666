"""GET /: the playground, one static page (app/static/playground/) that runs programs and draws their graphs.

No build step and no CDN: the page, its script and its stylesheet are files of this package, served from
here, so it works offline. The page gets what it needs to start in the HTML itself: the request examples,
the op names (to tell a leaf from an op as an expression is typed) and which POST endpoints this server has
(the page offers those it knows how to show, so v1.1's functional, gradcheck and batch appear as they land).
"""
from __future__ import annotations

import functools
from pathlib import Path

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.examples import EXAMPLES
from engine.catalog import ENTRIES

STATIC = Path(__file__).resolve().parent.parent / "static" / "playground"
STATIC_URL = "/static/playground"
_SLOT = "<!--gradserve-config-->"


@functools.cache
def _page() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


def _config(app: FastAPI) -> bytes:
    posts = sorted({r.path for r in app.routes if "POST" in getattr(r, "methods", ()) and r.path.startswith("/v1/")})
    return orjson.dumps({
        "version": __version__,
        "examples": {k: {"summary": v["summary"], "description": v.get("description", ""), "value": v["value"]}
                     for k, v in EXAMPLES.items()},
        "ops": sorted({e.name for e in ENTRIES}),
        "methods": sorted({e.name for e in ENTRIES if e.method}),
        "endpoints": posts,
    })


def install(app: FastAPI) -> None:
    app.mount(STATIC_URL, StaticFiles(directory=STATIC), name="playground-static")
    router = APIRouter(include_in_schema=False)
    config: list[bytes] = []

    @router.get("/")
    async def playground(request: Request) -> HTMLResponse:
        if not config:  # the routes are all there by the first request
            # inside <script>, "</" would end the element: JSON allows it written "<\/"
            config.append(_config(request.app).replace(b"</", b"<\\/"))
        blob = f'<script id="gradserve-config" type="application/json">{config[0].decode()}</script>'
        return HTMLResponse(_page().replace(_SLOT, blob), headers={"Cache-Control": "no-cache"})

    app.include_router(router)
