"""/docs and /redoc, when warroom.yaml says `api: {docs: true}`: their scripts come from a
pinned version (FastAPI's default follows the newest major version of the CDN's package)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse

SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.18.2"
REDOC = "https://cdn.jsdelivr.net/npm/redoc@2.4.0/bundles/redoc.standalone.js"


def pin_docs_assets(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="warroom API",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="warroom API", redoc_js_url=REDOC)
