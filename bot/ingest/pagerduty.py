"""PagerDuty Webhooks v3: signature check and incident events -> alerts."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from bot.domain.alerts import Alert, AlertStatus
from bot.ingest import PayloadError, field, load_json, normalised, timestamp

# Events that change whether the PagerDuty incident is firing; the others are accepted and
# acknowledged, but change nothing here.
STATUS_BY_EVENT = {
    "incident.triggered": AlertStatus.FIRING,
    "incident.reopened": AlertStatus.FIRING,
    "incident.resolved": AlertStatus.RESOLVED,
}


def signature_valid(body: bytes, header: str | None, secrets: list[str]) -> bool:
    """X-PagerDuty-Signature carries one `v1=<hex>` per active secret (several while a secret
    is rotated); one match is enough. Constant-time comparison."""
    if not header:
        return False
    offered = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return True
    return False


STALE_AFTER = timedelta(days=7)  # PagerDuty retries a delivery for hours, never for days


def delivery_key(body: bytes, *, now: datetime) -> str:
    """What a (signed) event is deduplicated on: its own id, inside the signed body, never an
    unsigned header; an event older than a week is refused, so a captured one cannot be
    replayed once its id is forgotten (`warroom db prune` keeps ids 30 days)."""
    data = load_json(body)
    event = field(data, "event", dict, "")
    event_id = field(event, "id", str, "event.", required=False)
    occurred = timestamp(event.get("occurred_at"), "event.occurred_at")
    if occurred is not None and occurred < now - STALE_AFTER:
        raise PayloadError("event.occurred_at", "this event is more than 7 days old: refused as stale")
    if event_id:
        return f"pagerduty:{event_id[:100]}"
    return "pagerduty:body:" + hashlib.sha256(body).hexdigest()


def parse(body: bytes, *, now: datetime) -> tuple[str, list[Alert]]:
    """Return the event type and the alerts it produces (none for events we only note)."""
    data = load_json(body)
    event = field(data, "event", dict, "")
    event_type = field(event, "event_type", str, "event.")
    resource = field(event, "data", dict, "event.")
    if not event_type.startswith("incident.") or event_type not in STATUS_BY_EVENT:
        return event_type, []
    incident_id = field(resource, "id", str, "event.data.")
    title = (
        field(resource, "title", str, "event.data.", required=False) or f"PagerDuty incident {incident_id}"
    )
    service = resource.get("service") if isinstance(resource.get("service"), dict) else {}
    priority = resource.get("priority") if isinstance(resource.get("priority"), dict) else {}
    link = resource.get("html_url")
    occurred = timestamp(event.get("occurred_at"), "event.occurred_at") or now
    started = timestamp(resource.get("created_at"), "event.data.created_at") or occurred
    status = STATUS_BY_EVENT[event_type]
    return event_type, [
        normalised(
            Alert(
                source="pagerduty",
                fingerprint=incident_id,
                status=status,
                title=title,
                starts_at=started,
                ends_at=occurred if status is AlertStatus.RESOLVED else None,
                group_key=f"pagerduty:{incident_id}",
                service=str(service.get("summary")) if service.get("summary") else None,
                severity=str(priority.get("summary") or resource.get("urgency") or "") or None,
                labels={
                    k: str(v)
                    for k, v in (
                        ("pagerduty_service_id", service.get("id")),
                        ("urgency", resource.get("urgency")),
                        ("incident_key", resource.get("incident_key")),
                    )
                    if v
                },
                links=(link,) if isinstance(link, str) and link else (),
            ),
            now,
        )
    ]


def note(body: bytes, *, now: datetime) -> tuple[str, str, datetime] | None:
    """Events that change no alert but belong on the linked incident's timeline:
    (PagerDuty incident id, text, when) or None."""
    data = load_json(body)
    event = field(data, "event", dict, "")
    event_type = field(event, "event_type", str, "event.")
    resource = field(event, "data", dict, "event.")
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else {}
    who = str(agent.get("summary") or "someone")
    at = timestamp(event.get("occurred_at"), "event.occurred_at") or now
    if event_type == "incident.annotated":
        incident = resource.get("incident") if isinstance(resource.get("incident"), dict) else {}
        content = field(resource, "content", str, "event.data.", required=False) or ""
        if incident.get("id") and content:
            return str(incident["id"]), f"PagerDuty note by {who}: {content[:2000]}", at
        return None
    texts = {
        "incident.acknowledged": f"Acknowledged in PagerDuty by {who}",
        "incident.escalated": "Escalated in PagerDuty",
        "incident.reassigned": f"Reassigned in PagerDuty by {who}",
    }
    if event_type == "incident.priority_updated":
        priority = resource.get("priority") if isinstance(resource.get("priority"), dict) else {}
        texts[event_type] = f"PagerDuty priority set to {priority.get('summary') or 'none'} by {who}"
    if event_type in texts and isinstance(resource.get("id"), str):
        return resource["id"], texts[event_type], at
    return None
