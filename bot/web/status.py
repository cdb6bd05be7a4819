"""The built-in status page: /status, /status/incidents/{id}, /status.json and
/status/feed.atom. Public (no token), cacheable (ETag, a short max-age), and rendered once
per change: a page view is kept until the database says something changed, or a minute
passes (the uptime bars and "Updated" move with the clock)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from bot.documents import status_page as documents
from bot.domain.status_page import PageView
from bot.services.status_page import StatusPageReads

CACHE_SECONDS = 60
HEADERS = {"Cache-Control": f"public, max-age={CACHE_SECONDS // 2}"}
ATOM = "application/atom+xml; charset=utf-8"


class StatusSite:
    """The page view and its documents, kept while nothing changes."""

    def __init__(self, reads: StatusPageReads) -> None:
        self.reads = reads
        self._key: tuple[Any, ...] | None = None
        self._view: PageView | None = None
        self._documents: dict[str, str] = {}

    async def view(self) -> PageView:
        key = (*await self.reads.version(), int(time.time() // CACHE_SECONDS))
        if key != self._key or self._view is None:
            self._view = await self.reads.page()
            self._key = key
            self._documents = {}
        return self._view

    async def document(self, name: str, render: Callable[[PageView], str]) -> str:
        view = await self.view()
        if name not in self._documents:
            self._documents[name] = render(view)
            if len(self._documents) > 512:  # incident pages nobody asks for twice
                self._documents.clear()
        return self._documents[name]


def _answer(request: Request, body: str, media_type: str, status: int = 200) -> Response:
    tag = documents.etag(body)
    if status == 200 and tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={**HEADERS, "ETag": tag})
    return Response(body, status_code=status, media_type=media_type, headers={**HEADERS, "ETag": tag})


def status_router(site: StatusSite) -> APIRouter:
    router = APIRouter(tags=["status page"])

    @router.get("/status", response_class=HTMLResponse, summary="The status page (HTML)")
    async def status(request: Request) -> Response:
        body = await site.document("page", documents.page_html)
        return _answer(request, body, "text/html; charset=utf-8")

    @router.get("/status.json", response_model=documents.StatusOut, summary="The status page as JSON")
    async def status_json(request: Request) -> Response:
        body = await site.document("json", lambda v: documents.page_json(v).model_dump_json(indent=2))
        return _answer(request, body, "application/json")

    @router.get("/status/feed.atom", summary="Public incident updates as an Atom feed")
    async def feed(request: Request) -> Response:
        base = str(request.base_url)

        def render(view: PageView) -> str:
            return documents.feed_atom(
                view, view.incidents, base=base, links=documents.SERVED, self_url=base + "status/feed.atom"
            )

        body = await site.document(f"feed:{base}", render)
        return _answer(request, body, ATOM)

    @router.get(
        "/status/incidents/{public_id}", response_class=HTMLResponse, summary="One incident's public updates"
    )
    async def incident(request: Request, public_id: str) -> Response:
        view = await site.view()
        record = next((r for r in view.incidents if r.id == public_id), None)
        if record is None and len(public_id) <= 16 and public_id.isalnum():
            record = await site.reads.incident(public_id)  # older than the page's history
        if record is None:
            return _answer(request, documents.not_found_html(view), "text/html; charset=utf-8", 404)
        body = await site.document(f"incident:{public_id}", lambda v: documents.incident_html(v, record))
        return _answer(request, body, "text/html; charset=utf-8")

    return router
