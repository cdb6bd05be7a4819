"""A target for runbook actions: a real HTTP server standing in for a deploy tool's webhook
(a rollback, a scale-out), honouring `Idempotency-Key` as Stripe-style APIs do (the first
request with a key does the work; a repeat gets the same answer and does nothing again).

- Any method and path. Every request is kept (`requests`); each key's work once (`executed`).
- `answers`: statuses (with headers) to answer the next requests with, instead of doing the
  work; a 503 then 200 is `answers = [(503, {})]`.
- `delay`: seconds between doing the work and answering (a crash test's window).
- `/echo` answers with the request's URL and headers (a target that echoes a secret).
- `/big?bytes=N` streams N bytes; `sent` is how many went out before the client hung up.
- `/redirect?to=URL` answers 302 to URL.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sim.serving import FakeServer

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # with its query
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> str | None:
        return self.headers.get("Idempotency-Key")

    def json(self) -> Any:
        return json.loads(self.body)


class TargetServer(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Seen] = []
        self.executed: list[Seen] = []
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.delay = 0.0
        self.sent = 0
        self._done: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(request.method, request.path_qs, dict(request.headers), await request.read())
        self.requests.append(seen)
        if request.path == "/big":
            return await self._big(request, int(request.query.get("bytes", "0")))
        if request.path == "/redirect":
            raise web.HTTPFound(request.query["to"])
        if request.path == "/echo":
            return web.json_response({"url": str(request.url), "headers": dict(request.headers)})
        if self.answers:
            status, headers = self.answers.pop(0)
            return web.json_response({"error": f"answered {status}"}, status=status, headers=headers)
        key = seen.key
        if key is None or key not in self._done:
            self.executed.append(seen)
            answer = {"ok": True, "run": len(self.executed)}
            if key is not None:
                self._done[key] = answer
        else:
            answer = self._done[key]
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response(answer, status=200)

    async def _big(self, request: web.Request, size: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.content_length = size
        await response.prepare(request)
        try:
            while self.sent < size:
                piece = min(CHUNK, size - self.sent)
                await response.write(b"x" * piece)
                self.sent += piece
                await asyncio.sleep(0)
        except (ConnectionResetError, ConnectionError):
            pass  # the client read what it wanted and hung up
        return response
