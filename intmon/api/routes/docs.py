"""`/docs`: Swagger UI served from this process, with a policy that allows only itself.

FastAPI's own `/docs` loads Swagger UI from a CDN (a blank page offline, and a
third party's script next to the API tokens). The assets are the Swagger UI 5
files that the `fastapi-offline` package ships (only its files are used: its
pages start Swagger UI with an inline script). This page has none
(`docs_static/init.js` starts the UI), so its Content-Security-Policy can forbid
everything but this site. ReDoc is off: it injects inline styles and workers.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
ASSETS = Path(fastapi_offline.__file__).parent / "static"
INIT_JS = Path(__file__).parent.parent / "docs_static" / "init.js"
# Swagger UI's stylesheet draws its icons as data: images; nothing else leaves 'self'.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    openapi_url = escape(request.app.openapi_url or "/openapi.json")
    title = escape(f"{request.app.title} API")
    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS_URL}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
    return HTMLResponse(html, headers=HEADERS)


@router.get("/docs/init.js")
def swagger_init() -> FileResponse:
    return FileResponse(INIT_JS, media_type="text/javascript", headers=HEADERS)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
