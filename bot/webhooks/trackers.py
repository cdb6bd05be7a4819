"""Trackers telling warroom a ticket changed: `POST /webhooks/github` (the `issues` event,
signed with X-Hub-Signature-256, deduplicated on X-GitHub-Delivery) and `POST /webhooks/jira`
(`jira:issue_updated`, signed with X-Hub-Signature, deduplicated on
X-Atlassian-Webhook-Identifier). A closed (done) ticket marks its follow-up done; a reopened
one reopens it; anything else is answered and ignored. `POST /webhooks/linear` (`Issue`
updates, signed with Linear-Signature, deduplicated on Linear-Delivery) does the same."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.ingest import MAX_BODY
from bot.integrations.linear import OPEN_TYPES
from bot.web.guard import Refused, read_body

# The package is initialised before this module (install() imports it): no import cycle.
from bot.webhooks import WebhookServices, refusal, services
from bot.webhooks.changes import deployment_status

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def signature_valid(body: bytes, header: str | None, secret: str, *, prefix: str = "sha256=") -> bool:
    expected = prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return bool(header) and hmac.compare_digest(expected.encode(), (header or "").encode())


async def signed_event(
    request: Request, s: WebhookServices, tracker: str, secret: str, header: str, *, prefix: str = "sha256="
) -> dict[str, Any]:
    """The delivery's JSON object, once its signature (`header`, an HMAC-SHA256 of the body
    with the tracker's webhook secret) holds; Refused otherwise."""
    s.check_rate(request)
    if not secret:
        raise Refused(403, f"{tracker} webhooks are disabled: set {tracker.upper()}_WEBHOOK_SECRET")
    body = await read_body(request, MAX_BODY, seconds=s.settings.request_timeout)
    if not signature_valid(body, request.headers.get(header), secret, prefix=prefix):
        raise Refused(401, f"{header} is missing or does not match")
    try:
        event = json.loads(body)
    except ValueError:
        raise Refused(400, "body: not valid JSON") from None
    if not isinstance(event, dict):
        raise Refused(400, "body: expected a JSON object")
    return event


async def apply(
    s: WebhookServices, key: str, is_open: bool, actor: str, tracker: str, delivery: str | None
) -> JSONResponse:
    """The ticket's new state, applied to its follow-up once per delivery id."""
    changed = await s.followups.ticket_changed(
        key, is_open, actor[:32], delivery=f"{tracker}:{delivery[:100]}" if delivery else None
    )
    return JSONResponse({"changed": changed})


@router.post("/github", summary="GitHub `issues` and `deployment_status` webhook (X-Hub-Signature-256)")
async def from_github(request: Request) -> JSONResponse:
    s = services(request)
    try:
        event = await signed_event(
            request, s, "GitHub", s.settings.github_webhook_secret, "x-hub-signature-256"
        )
    except Refused as exc:
        return refusal(exc)
    kind = request.headers.get("x-github-event")
    if kind == "deployment_status":
        return await deployment_status(s, event)
    if kind != "issues":
        return JSONResponse({"ignored": "not an issues or deployment_status event"})
    action = event.get("action")
    repo = str((event.get("repository") or {}).get("full_name") or "")
    issue = event.get("issue") or {}
    tracked = s.config.followups.github
    if (
        action not in ("closed", "reopened")
        or tracked is None
        or repo != tracked.repo
        or "number" not in issue
    ):
        return JSONResponse({"ignored": f"{action} in {repo or 'no repository'}"})
    who = str((event.get("sender") or {}).get("login") or "someone")
    key = f"{repo}#{issue['number']}"
    return await apply(
        s, key, action == "reopened", f"github:{who}", "github", request.headers.get("x-github-delivery")
    )


@router.post("/jira", summary="Jira Cloud `jira:issue_updated` webhook (X-Hub-Signature)")
async def from_jira(request: Request) -> JSONResponse:
    s = services(request)
    try:
        event = await signed_event(request, s, "Jira", s.settings.jira_webhook_secret, "x-hub-signature")
    except Refused as exc:
        return refusal(exc)
    issue = event.get("issue")
    if event.get("webhookEvent") != "jira:issue_updated" or not isinstance(issue, dict) or "key" not in issue:
        return JSONResponse({"ignored": "not an issue update"})
    status = ((issue.get("fields") or {}).get("status") or {}).get("statusCategory") or {}
    who = str((event.get("user") or {}).get("displayName") or "someone")
    delivery = request.headers.get("x-atlassian-webhook-identifier")
    return await apply(s, str(issue["key"]), status.get("key") != "done", f"jira:{who}", "jira", delivery)


@router.post("/linear", summary="Linear `Issue` webhook (Linear-Signature)")
async def from_linear(request: Request) -> JSONResponse:
    s = services(request)
    try:
        event = await signed_event(
            request, s, "Linear", s.settings.linear_webhook_secret, "linear-signature", prefix=""
        )
    except Refused as exc:
        return refusal(exc)
    data = event.get("data")
    if event.get("type") != "Issue" or not isinstance(data, dict) or "identifier" not in data:
        return JSONResponse({"ignored": "not an issue event"})
    is_open = (data.get("state") or {}).get("type") in OPEN_TYPES
    return await apply(
        s, str(data["identifier"]), is_open, "linear", "linear", request.headers.get("linear-delivery")
    )
