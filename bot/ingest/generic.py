"""warroom's own JSON schema, for every other source.

{
  "title": "Checkout error rate above 5%",       required while firing
  "status": "firing" | "resolved",               required
  "dedup_key": "checkout-error-rate",            required: the same key updates the same alert
  "severity": "SEV2",                            optional: as the sender names it
  "service": "checkout",                         optional
  "started_at": "2026-11-21T10:00:00Z",          optional, default: when received
  "labels": {"team": "payments"},                optional, string values
  "links": ["https://grafana.example/d/abc"]     optional, http(s) URLs
}
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.alerts import ALERT_STATUSES, Alert, AlertStatus
from bot.ingest import PayloadError, field, load_json, normalised, string_map, timestamp


def parse(body: bytes, *, now: datetime) -> list[Alert]:
    data = load_json(body)
    status = field(data, "status", str, "")
    if status not in ALERT_STATUSES:
        raise PayloadError("status", f"expected firing or resolved, got {status!r}")
    dedup_key = field(data, "dedup_key", str, "").strip()
    if not dedup_key:
        raise PayloadError("dedup_key", "must not be empty")
    title = (field(data, "title", str, "", required=status == AlertStatus.FIRING) or "").strip()
    if status == AlertStatus.FIRING and not title:
        raise PayloadError("title", "is required while firing")
    links = field(data, "links", list, "", required=False) or []
    for i, link in enumerate(links):
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            raise PayloadError(f"links[{i}]", "expected an http(s) URL")
    severity = field(data, "severity", str, "", required=False)
    service = field(data, "service", str, "", required=False)
    return [
        normalised(
            Alert(
                source="generic",
                fingerprint=dedup_key,
                status=AlertStatus(status),
                title=title[:500] or dedup_key,
                starts_at=timestamp(data.get("started_at"), "started_at") or now,
                ends_at=now if status == AlertStatus.RESOLVED else None,
                group_key=f"generic:{dedup_key}",
                service=service.strip() or None if service else None,
                severity=severity,
                labels=string_map(data, "labels", ""),
                links=tuple(links),
            ),
            now,
        )
    ]
