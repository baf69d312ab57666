"""GET /docs (Swagger UI) and /redoc, with their assets served from here: no CDN, so they work offline."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_URL = "/static/docs"


def _assets() -> Path | None:
    # fastapi-offline ships Swagger UI's and ReDoc's files; only its files are used.
    try:
        import fastapi_offline  # noqa: PLC0415
    except ImportError:
        return None
    path = Path(fastapi_offline.__file__).parent / "static"
    return path if (path / "swagger-ui-bundle.js").is_file() else None


def install(app: FastAPI) -> None:
    """Docs pages on local assets where fastapi-offline is installed; else on FastAPI's CDN defaults."""
    assets = _assets()
    local = assets is not None
    if local:
        app.mount(STATIC_URL, StaticFiles(directory=assets), name="docs-static")
    router = APIRouter(include_in_schema=False)

    def urls(root: str, **files: str) -> dict:
        return {k: f"{root}{STATIC_URL}/{f}" for k, f in files.items()} if local else {}

    @router.get("/docs")
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_ui_parameters=app.swagger_ui_parameters,
            **urls(root, swagger_js_url="swagger-ui-bundle.js", swagger_css_url="swagger-ui.css",
                   swagger_favicon_url="favicon.png"))

    @router.get("/docs/oauth2-redirect")
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get("/redoc")
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc", with_google_fonts=not local,
            **urls(root, redoc_js_url="redoc.standalone.js", redoc_favicon_url="favicon.png"))

    app.include_router(router)
