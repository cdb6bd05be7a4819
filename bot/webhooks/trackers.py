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

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.ingest import MAX_BODY
from bot.integrations.linear import OPEN_TYPES
from bot.web.guard import Refused, read_body

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def signature_valid(body: bytes, header: str | None, secret: str, *, prefix: str = "sha256=") -> bool:
    expected = prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return bool(header) and hmac.compare_digest(expected.encode(), (header or "").encode())


@router.post("/github", summary="GitHub `issues` webhook (X-Hub-Signature-256)")
async def from_github(request: Request) -> JSONResponse:
    from bot.webhooks import refusal, services

    s = services(request)
    secret = s.settings.github_webhook_secret
    try:
        s.check_rate(request)
        if not secret:
            raise Refused(403, "GitHub webhooks are disabled: set GITHUB_WEBHOOK_SECRET")
        body = await read_body(request, MAX_BODY, seconds=s.settings.request_timeout)
        if not signature_valid(body, request.headers.get("x-hub-signature-256"), secret):
            raise Refused(401, "X-Hub-Signature-256 is missing or does not match")
        try:
            event = json.loads(body)
        except ValueError:
            raise Refused(400, "body: not valid JSON") from None
    except Refused as exc:
        return refusal(exc)
    if request.headers.get("x-github-event") != "issues" or not isinstance(event, dict):
        return JSONResponse({"ignored": "not an issues event"})
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
    delivery = request.headers.get("x-github-delivery")
    who = str((event.get("sender") or {}).get("login") or "someone")
    changed = await s.followups.ticket_changed(
        f"{repo}#{issue['number']}",
        action == "reopened",
        f"github:{who}"[:32],
        delivery=f"github:{delivery[:100]}" if delivery else None,
    )
    return JSONResponse({"changed": changed})


@router.post("/jira", summary="Jira Cloud `jira:issue_updated` webhook (X-Hub-Signature)")
async def from_jira(request: Request) -> JSONResponse:
    from bot.webhooks import refusal, services

    s = services(request)
    secret = s.settings.jira_webhook_secret
    try:
        s.check_rate(request)
        if not secret:
            raise Refused(403, "Jira webhooks are disabled: set JIRA_WEBHOOK_SECRET")
        body = await read_body(request, MAX_BODY, seconds=s.settings.request_timeout)
        if not signature_valid(body, request.headers.get("x-hub-signature"), secret):
            raise Refused(401, "X-Hub-Signature is missing or does not match")
        try:
            event = json.loads(body)
        except ValueError:
            raise Refused(400, "body: not valid JSON") from None
    except Refused as exc:
        return refusal(exc)
    issue = event.get("issue") if isinstance(event, dict) else None
    if event.get("webhookEvent") != "jira:issue_updated" or not isinstance(issue, dict) or "key" not in issue:
        return JSONResponse({"ignored": "not an issue update"})
    status = ((issue.get("fields") or {}).get("status") or {}).get("statusCategory") or {}
    delivery = request.headers.get("x-atlassian-webhook-identifier")
    who = str((event.get("user") or {}).get("displayName") or "someone")
    changed = await s.followups.ticket_changed(
        str(issue["key"]),
        status.get("key") != "done",
        f"jira:{who}"[:32],
        delivery=f"jira:{delivery[:100]}" if delivery else None,
    )
    return JSONResponse({"changed": changed})


@router.post("/linear", summary="Linear `Issue` webhook (Linear-Signature)")
async def from_linear(request: Request) -> JSONResponse:
    from bot.webhooks import refusal, services

    s = services(request)
    secret = s.settings.linear_webhook_secret
    try:
        s.check_rate(request)
        if not secret:
            raise Refused(403, "Linear webhooks are disabled: set LINEAR_WEBHOOK_SECRET")
        body = await read_body(request, MAX_BODY, seconds=s.settings.request_timeout)
        if not signature_valid(body, request.headers.get("linear-signature"), secret, prefix=""):
            raise Refused(401, "Linear-Signature is missing or does not match")
        try:
            event = json.loads(body)
        except ValueError:
            raise Refused(400, "body: not valid JSON") from None
    except Refused as exc:
        return refusal(exc)
    data = event.get("data") if isinstance(event, dict) else None
    if event.get("type") != "Issue" or not isinstance(data, dict) or "identifier" not in data:
        return JSONResponse({"ignored": "not an issue event"})
    kind = (data.get("state") or {}).get("type")
    delivery = request.headers.get("linear-delivery")
    changed = await s.followups.ticket_changed(
        str(data["identifier"]),
        kind in OPEN_TYPES,
        "linear",
        delivery=f"linear:{delivery[:100]}" if delivery else None,
    )
    return JSONResponse({"changed": changed})
