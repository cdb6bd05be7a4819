"""Changes in: `POST /webhooks/changes` (warroom's JSON, bot/ingest/changes.py; the alert
webhooks' token) and GitHub's `deployment_status` event on `POST /webhooks/github`
(bot/webhooks/trackers.py hands it here). A change event is stored once per change id and
status: a redelivery changes nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.ingest import MAX_BODY, PayloadError
from bot.ingest import changes as parse
from bot.services.changes import Recorded
from bot.web.guard import Refused, read_body

# The package is initialised before this module (install() imports it): no import cycle.
from bot.webhooks import WebhookServices, check_token, invalid, refusal, services

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

CHANGE_BODY = {
    "requestBody": {
        "content": {
            "application/json": {
                "example": {
                    "id": "deploy-8812",
                    "service": "checkout",
                    "environment": "production",
                    "kind": "deploy",
                    "summary": "checkout v2.14.0",
                    "version": "v2.14.0",
                    "author": "alice@example.com",
                    "url": "https://ci.example.com/runs/8812",
                    "status": "succeeded",
                    "started_at": "2026-11-21T09:50:00Z",
                    "finished_at": "2026-11-21T09:55:00Z",
                }
            }
        }
    }
}


def answer(recorded: Recorded) -> dict[str, Any]:
    change, gate = recorded.change, recorded.freeze
    return {
        "id": change.id,
        "status": change.status,
        "recorded": recorded.new,
        "duplicate": not recorded.new,
        "incidents": recorded.incidents,
        "frozen": gate.frozen,
        "reason": gate.reason,
    }


@router.post(
    "/changes",
    summary="A deploy, config push, flag or migration (warroom's JSON), or an array of up to 500",
    openapi_extra=CHANGE_BODY,
)
async def from_changes(request: Request) -> JSONResponse:
    s = services(request)
    try:
        s.check_rate(request)
        check_token(request.headers.get("authorization"), s.settings.alert_webhook_token)
        body = await read_body(request, MAX_BODY, seconds=s.settings.request_timeout)
        parsed = parse.parse_batch(body, now=s.clock())
    except Refused as exc:
        return refusal(exc)
    except PayloadError as exc:
        return invalid(exc)
    with s.waiting.holding():
        if not isinstance(parsed, list):
            return JSONResponse(answer(await s.changes.record(parsed)))
        recorded = await s.changes.record_many(parsed)
    return JSONResponse(
        {
            "received": len(recorded),
            "recorded": sum(r.new for r in recorded),
            "duplicates": sum(not r.new for r in recorded),
            "incidents": sorted({n for r in recorded for n in r.incidents}),
            "frozen": any(r.freeze.frozen for r in recorded),
            "changes": [answer(r) for r in recorded],
        }
    )


async def deployment_status(s: WebhookServices, event: dict[str, Any]) -> JSONResponse:
    """GitHub's `deployment_status`, already signed and parsed: a deploy of the repository."""
    try:
        change = parse.from_github(event, now=s.clock())
    except PayloadError as exc:
        return invalid(exc)
    if change is None:
        state = (event.get("deployment_status") or {}).get("state")
        return JSONResponse({"ignored": f"deployment state {str(state)[:40]}"})
    with s.waiting.holding():
        recorded = await s.changes.record(change)
    return JSONResponse(answer(recorded))
