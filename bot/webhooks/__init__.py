"""Alert webhooks: Alertmanager, Grafana, PagerDuty (v3) and generic JSON.

Each request is checked (credentials, size, shape) before anything is stored; a bad one gets
a JSON error naming what is wrong and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from bot.config import Settings, WarroomConfig
from bot.domain.alerts import Alert
from bot.domain.throttle import Throttle
from bot.ingest import MAX_BODY, PayloadError, alertmanager, generic, grafana, pagerduty
from bot.observability import Metrics
from bot.services.alerts import AlertService, IngestResult
from bot.services.changes import ChangeService
from bot.services.followups import Followups
from bot.web.guard import Refused, read_body
from bot.webhooks.schemas import ALERTMANAGER_BODY, GENERIC_BODY, PAGERDUTY_BODY, body_of


def check_token(header: str | None, token: str) -> None:
    """Bearer token, or basic auth with the token as password (Alertmanager's http_config
    can send either); compared in constant time."""
    if not token:
        raise Refused(403, "alert webhooks are disabled: set ALERT_WEBHOOK_TOKEN")
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() == "bearer":
        offered = value.strip()
    elif scheme.lower() == "basic":
        try:
            offered = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            raise Refused(401, "malformed basic credentials") from None
    else:
        raise Refused(401, "credentials required: Authorization: Bearer <token> or basic auth")
    if not hmac.compare_digest(offered.encode(), token.encode()):
        raise Refused(403, "wrong credentials")


def refusal(exc: Refused) -> JSONResponse:
    headers = {"Retry-After": str(math.ceil(exc.retry_after))} if exc.retry_after else None
    return JSONResponse({"error": exc.error}, status_code=exc.status, headers=headers)


def summary(result: IngestResult) -> dict[str, object]:
    return {
        "received": result.received,
        "new": result.new,
        "changed": result.changed,
        "unchanged": result.unchanged,
        "ignored": result.ignored,
        "triaged": result.triaged,
        "declared": result.declared,
        "incidents": result.incidents,
        "duplicate": result.duplicate_delivery,
    }


Parsed = tuple[list[Alert], list[PayloadError]]  # the good alerts, and what was wrong with the others


class Waiting(Protocol):
    def holding(self) -> AbstractContextManager[None]: ...


@dataclass
class WebhookServices:
    """What the webhook routes use (kept on the application's state by `install`)."""

    alerts: AlertService
    settings: Settings
    clock: Callable[[], datetime]
    metrics: Metrics
    waiting: Waiting
    deliveries_per_minute: int
    followups: Followups
    config: WarroomConfig
    changes: ChangeService
    throttle: Throttle = field(init=False)

    def __post_init__(self) -> None:
        self.throttle = Throttle(self.deliveries_per_minute)

    def check_rate(self, request: Request) -> None:
        """A budget per sender address, spent before anything else is looked at."""
        if wait := self.throttle.take(request.client.host if request.client else "?"):
            limit = self.deliveries_per_minute
            raise Refused(429, f"more than {limit} deliveries a minute from this address", retry_after=wait)


def services(request: Request) -> WebhookServices:
    found: WebhookServices = request.app.state.webhooks
    return found


router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def install(app: FastAPI, webhooks: WebhookServices) -> None:
    from bot.webhooks import changes, trackers

    app.state.webhooks = webhooks
    app.include_router(router)
    app.include_router(trackers.router)
    app.include_router(changes.router)


def invalid(exc: PayloadError) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid payload", "field": exc.field, "message": exc.message}, status_code=400
    )


async def handle(request: Request, parse: Callable[[bytes], Parsed]) -> JSONResponse:
    """A delivery with some bad alerts stores the good ones and names the bad ones (200);
    one with nothing good in it changes nothing (400)."""
    s = services(request)
    try:
        s.check_rate(request)
        check_token(request.headers.get("authorization"), s.settings.alert_webhook_token)
        parsed, rejected = parse(await read_body(request, MAX_BODY, seconds=s.settings.request_timeout))
        if rejected and not parsed:
            raise rejected[0]
    except Refused as exc:
        return refusal(exc)
    except PayloadError as exc:
        return invalid(exc)
    with s.waiting.holding():
        result = await s.alerts.ingest(parsed)
    s.metrics.alerts_ingested(parsed)
    answer = summary(result)
    if rejected:
        answer["rejected"] = [{"field": e.field, "message": e.message} for e in rejected]
    return JSONResponse(answer)


@router.post(
    "/alertmanager",
    summary="Prometheus Alertmanager webhook (payload version 4)",
    openapi_extra=body_of(ALERTMANAGER_BODY),
)
async def from_alertmanager(request: Request) -> JSONResponse:
    now = services(request).clock()
    return await handle(request, lambda body: alertmanager.parse_batch(body, now=now))


@router.post("/grafana", summary="Grafana unified alerting webhook", openapi_extra=body_of(ALERTMANAGER_BODY))
async def from_grafana(request: Request) -> JSONResponse:
    now = services(request).clock()
    return await handle(request, lambda body: grafana.parse_batch(body, now=now))


@router.post(
    "/generic",
    summary="warroom's generic alert JSON (see bot/ingest/generic.py)",
    openapi_extra=body_of(GENERIC_BODY),
)
async def from_generic(request: Request) -> JSONResponse:
    now = services(request).clock()
    return await handle(request, lambda body: (generic.parse(body, now=now), []))


async def signed_pagerduty_body(request: Request, s: WebhookServices) -> bytes:
    """The body, once it is known to be signed by PagerDuty with one of the secrets."""
    secrets = [x.strip() for x in s.settings.pagerduty_webhook_secret.split(",") if x.strip()]
    s.check_rate(request)
    if not secrets:
        raise Refused(403, "PagerDuty webhooks are disabled: set PAGERDUTY_WEBHOOK_SECRET")
    body = await read_body(request, MAX_BODY, seconds=s.settings.request_timeout)
    signature = request.headers.get("x-pagerduty-signature")
    if not signature:
        raise Refused(401, "X-PagerDuty-Signature is missing")
    if not pagerduty.signature_valid(body, signature, secrets):
        raise Refused(403, "no valid signature in X-PagerDuty-Signature")
    return body


@router.post(
    "/pagerduty",
    summary="PagerDuty Webhooks v3 (X-PagerDuty-Signature)",
    openapi_extra=body_of(PAGERDUTY_BODY),
)
async def from_pagerduty(request: Request) -> JSONResponse:
    s = services(request)
    try:
        body = await signed_pagerduty_body(request, s)
        now = s.clock()
        delivery = pagerduty.delivery_key(body, now=now)
        event_type, parsed = pagerduty.parse(body, now=now)
        noted = pagerduty.note(body, now=now)
    except Refused as exc:
        return refusal(exc)
    except PayloadError as exc:
        return invalid(exc)
    with s.waiting.holding():
        if noted is not None:
            incident_id, text, at = noted
            number = await s.alerts.note_source_event("pagerduty", incident_id, text, at, delivery=delivery)
            return JSONResponse({"event_type": event_type, "noted_on": number})
        result = await s.alerts.ingest(parsed, delivery=delivery)
    s.metrics.alerts_ingested(parsed)
    return JSONResponse({"event_type": event_type, **summary(result)})
