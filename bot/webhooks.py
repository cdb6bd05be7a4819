"""Alert webhooks: Alertmanager, Grafana, PagerDuty (v3) and generic JSON.

Each request is checked (credentials, size, shape) before anything is stored; a bad one gets
a JSON error naming what is wrong and changes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.config import Settings
from bot.domain.alerts import Alert
from bot.domain.throttle import Throttle
from bot.ingest import MAX_BODY, PayloadError, alertmanager, generic, grafana, pagerduty
from bot.observability import Metrics
from bot.services.alerts import AlertService, IngestResult
from bot.web.guard import Refused, read_body


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


# Request bodies as the OpenAPI document describes them (what /docs shows and the schema-driven
# fuzzer sends); the parsers in bot/ingest are what actually checks them.
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_ALERTMANAGER_ALERT = {
    "type": "object",
    "required": ["status", "labels"],
    "properties": {
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "labels": _STRINGS,
        "annotations": _STRINGS,
        "startsAt": {"type": "string", "format": "date-time"},
        "endsAt": {"type": "string", "format": "date-time"},
        "generatorURL": {"type": "string"},
        "fingerprint": {"type": "string"},
    },
}
ALERTMANAGER_BODY = {
    "type": "object",
    "required": ["version", "status", "alerts"],
    "properties": {
        "version": {"type": "string", "enum": ["4"]},
        "groupKey": {"type": "string"},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "receiver": {"type": "string"},
        "groupLabels": _STRINGS,
        "commonLabels": _STRINGS,
        "commonAnnotations": _STRINGS,
        "externalURL": {"type": "string"},
        "truncatedAlerts": {"type": "integer"},
        "alerts": {"type": "array", "items": _ALERTMANAGER_ALERT},
        "title": {"type": "string"},
        "state": {"type": "string"},
        "message": {"type": "string"},
        "orgId": {"type": "integer"},
    },
}
GENERIC_BODY = {
    "type": "object",
    "required": ["status", "dedup_key"],
    "properties": {
        "title": {"type": "string"},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "dedup_key": {"type": "string"},
        "severity": {"type": "string"},
        "service": {"type": "string"},
        "started_at": {"type": "string", "format": "date-time"},
        "labels": _STRINGS,
        "links": {"type": "array", "items": {"type": "string", "format": "uri"}},
    },
}
PAGERDUTY_BODY = {
    "type": "object",
    "required": ["event"],
    "properties": {
        "event": {
            "type": "object",
            "required": ["event_type", "data"],
            "properties": {
                "id": {"type": "string"},
                "event_type": {"type": "string"},
                "occurred_at": {"type": "string", "format": "date-time"},
                "data": {"type": "object"},
            },
        }
    },
}


def _body(schema: Mapping[str, object]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


Parsed = tuple[list[Alert], list[PayloadError]]  # the good alerts, and what was wrong with the others


class Waiting(Protocol):
    def holding(self) -> AbstractContextManager[None]: ...


def router(
    alerts: AlertService,
    settings: Settings,
    clock: Callable[[], datetime],
    metrics: Metrics,
    waiting: Waiting,
    deliveries_per_minute: int,
) -> APIRouter:
    api = APIRouter(prefix="/webhooks", tags=["webhooks"])
    throttle = Throttle(deliveries_per_minute)

    def check_rate(request: Request) -> None:
        """A budget per sender address, spent before anything else is looked at."""
        if wait := throttle.take(request.client.host if request.client else "?"):
            raise Refused(
                429,
                f"more than {deliveries_per_minute} deliveries a minute from this address",
                retry_after=wait,
            )

    async def handle(request: Request, parse: Callable[[bytes], Parsed]) -> JSONResponse:
        """A delivery with some bad alerts stores the good ones and names the bad ones (200);
        one with nothing good in it changes nothing (400)."""
        try:
            check_rate(request)
            check_token(request.headers.get("authorization"), settings.alert_webhook_token)
            parsed, rejected = parse(await read_body(request, MAX_BODY, seconds=settings.request_timeout))
            if rejected and not parsed:
                raise rejected[0]
        except Refused as exc:
            return refusal(exc)
        except PayloadError as exc:
            return JSONResponse(
                {"error": "invalid payload", "field": exc.field, "message": exc.message}, status_code=400
            )
        with waiting.holding():
            result = await alerts.ingest(parsed)
        metrics.alerts_ingested(parsed)
        answer = summary(result)
        if rejected:
            answer["rejected"] = [{"field": e.field, "message": e.message} for e in rejected]
        return JSONResponse(answer)

    @api.post(
        "/alertmanager",
        summary="Prometheus Alertmanager webhook (payload version 4)",
        openapi_extra=_body(ALERTMANAGER_BODY),
    )
    async def from_alertmanager(request: Request) -> JSONResponse:
        return await handle(request, lambda body: alertmanager.parse_batch(body, now=clock()))

    @api.post("/grafana", summary="Grafana unified alerting webhook", openapi_extra=_body(ALERTMANAGER_BODY))
    async def from_grafana(request: Request) -> JSONResponse:
        return await handle(request, lambda body: grafana.parse_batch(body, now=clock()))

    @api.post(
        "/generic",
        summary="warroom's generic alert JSON (see bot/ingest/generic.py)",
        openapi_extra=_body(GENERIC_BODY),
    )
    async def from_generic(request: Request) -> JSONResponse:
        return await handle(request, lambda body: (generic.parse(body, now=clock()), []))

    @api.post(
        "/pagerduty",
        summary="PagerDuty Webhooks v3 (X-PagerDuty-Signature)",
        openapi_extra=_body(PAGERDUTY_BODY),
    )
    async def from_pagerduty(request: Request) -> JSONResponse:
        secrets = [s.strip() for s in settings.pagerduty_webhook_secret.split(",") if s.strip()]
        try:
            check_rate(request)
            if not secrets:
                raise Refused(403, "PagerDuty webhooks are disabled: set PAGERDUTY_WEBHOOK_SECRET")
            body = await read_body(request, MAX_BODY, seconds=settings.request_timeout)
            signature = request.headers.get("x-pagerduty-signature")
            if not signature:
                raise Refused(401, "X-PagerDuty-Signature is missing")
            if not pagerduty.signature_valid(body, signature, secrets):
                raise Refused(403, "no valid signature in X-PagerDuty-Signature")
            delivery = pagerduty.delivery_key(body, now=clock())
            event_type, parsed = pagerduty.parse(body, now=clock())
            noted = pagerduty.note(body, now=clock())
        except Refused as exc:
            return refusal(exc)
        except PayloadError as exc:
            return JSONResponse(
                {"error": "invalid payload", "field": exc.field, "message": exc.message}, status_code=400
            )
        with waiting.holding():
            if noted is not None:
                incident_id, text, at = noted
                number = await alerts.note_source_event("pagerduty", incident_id, text, at, delivery=delivery)
                return JSONResponse({"event_type": event_type, "noted_on": number})
            result = await alerts.ingest(parsed, delivery=delivery)
        metrics.alerts_ingested(parsed)
        return JSONResponse({"event_type": event_type, **summary(result)})

    return api
