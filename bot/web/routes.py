"""The routes that are not the API or the webhooks: Slack's one URL, and health."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_sdk.errors import SlackApiError

from bot.clock import utcnow
from bot.config import Settings
from bot.observability import Metrics
from bot.services.queries import IncidentQueries
from bot.slack.ratelimit import BudgetedWebClient
from bot.store import jobs
from bot.store.db import Database
from bot.web.guard import SLACK_MAX_BODY, Refused, SlackGate, parse_slack_body, read_body
from bot.worker import Postpone

log = logging.getLogger(__name__)
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="warroom"'}


class InFlight:
    """Counts Slack requests and alert deliveries being answered, so the worker can step
    aside for them: both have a sender waiting on the other end. A request counts once it
    is read (and, for Slack, verified): a sender trickling its body waits alone."""

    def __init__(self) -> None:
        self.count = 0

    def __bool__(self) -> bool:
        return self.count > 0

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        self.count += 1
        try:
            yield
        finally:
            self.count -= 1


def slack_router(bolt: AsyncApp, settings: Settings, waiting: InFlight) -> APIRouter:
    router = APIRouter()
    gate = SlackGate(settings.slack_signing_secret)

    @router.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        """Size, deadline and signature first, over the raw bytes; then the body is parsed
        once and handed to bolt. Only a verified request counts as waiting (the worker steps aside for it)."""
        if not settings.slack_signing_secret:  # Socket Mode only: nothing to verify with
            return JSONResponse({"error": "no SLACK_SIGNING_SECRET: Slack is served over Socket Mode"}, 401)
        headers = request.headers
        try:
            body = await read_body(request, SLACK_MAX_BODY, seconds=settings.request_timeout)
            fresh = gate.verify(
                headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature"), body
            )
            slack_body = parse_slack_body(headers.get("content-type", ""), body)
        except Refused as exc:
            return JSONResponse({"error": exc.error}, exc.status)
        if not fresh:
            log.warning("a signed Slack request arrived again (same signature): answered, not acted on")
            return Response(status_code=200)
        # Bolt takes a parsed body only in its "socket_mode"; the mode's one other effect,
        # skipping bolt's signature check, is ours already (the gate checked it above).
        query = request.query_params
        slack_request = AsyncBoltRequest(body=slack_body, query=query, headers=headers, mode="socket_mode")  # type: ignore[arg-type]
        with waiting.holding():
            answer = await bolt.async_dispatch(slack_request)
        return to_starlette_response(answer)

    return router


class SlackCheck:
    """Readiness asks Slack (auth.test) at most every `every` seconds, whatever the probe
    rate: probes must not spend the budget that incidents need, and our own budget being
    spent (or Slack rate-limiting us) means Slack answers, so it never makes warroom unready."""

    def __init__(self, slack: BudgetedWebClient, *, every: float = 30.0) -> None:
        self.slack = slack
        self.every = every
        self._checked: tuple[float, str] | None = None
        self._lock = asyncio.Lock()

    async def result(self) -> str:
        async with self._lock:  # ten probes at once make one call
            if self._checked and time.monotonic() - self._checked[0] < self.every:
                return self._checked[1]
            self._checked = (time.monotonic(), await self._ask())
            return self._checked[1]

    async def _ask(self) -> str:
        try:
            async with asyncio.timeout(3):
                await self.slack.auth_test()
        except Postpone:
            return "ok"
        except SlackApiError as exc:
            return "ok" if exc.response.status_code == 429 else f"error: {exc.response.get('error')}"
        except Exception as exc:
            return f"error: {type(exc).__name__}"
        return "ok"


def health_router(
    db: Database, slack: BudgetedWebClient, queries: IncidentQueries, metrics: Metrics, settings: Settings
) -> APIRouter:
    router = APIRouter(tags=["health"])
    slack_check = SlackCheck(slack, every=settings.readyz_slack_every)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        checks: dict[str, Any] = {}
        try:
            await db.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        checks["slack"] = await slack_check.result()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @router.get("/metrics", response_class=PlainTextResponse)
    async def prometheus(authorization: Annotated[str | None, Header()] = None) -> PlainTextResponse:
        """Prometheus metrics of this process, and the job and incident gauges of the database
        (`Authorization: Bearer $METRICS_TOKEN` when METRICS_TOKEN is set)."""
        token = settings.metrics_token
        if token and not hmac.compare_digest((authorization or "").encode(), f"Bearer {token}".encode()):
            return PlainTextResponse("metrics need Authorization: Bearer $METRICS_TOKEN\n", 401, CHALLENGE)
        pending, failed, open_ = await queries.health_counts()
        metrics.jobs_pending.set(pending)
        metrics.jobs_failed.set(failed)
        metrics.incidents_open.set(open_)
        metrics.waiting(await jobs.waiting(db), utcnow())
        return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
