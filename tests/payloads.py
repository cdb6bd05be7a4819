"""Webhook payloads as the real senders produce them (field names, nesting, timestamp style)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any


def ago(seconds: float) -> str:
    """A time just past, as PagerDuty writes it: its webhooks refuse stale events."""
    at = datetime.now(UTC) - timedelta(seconds=seconds)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event_id(*parts: str) -> str:
    """PagerDuty gives every event its own id; the same event delivered again keeps it."""
    return "01" + hashlib.sha256(":".join(parts).encode()).hexdigest()[:24].upper()


def alertmanager_alert(
    alertname: str = "HighErrorRate",
    *,
    status: str = "firing",
    fingerprint: str = "5ef77f1f8a3ecfa4",
    service: str | None = "checkout",
    severity: str = "critical",
    instance: str = "checkout-7d9f:8080",
    starts_at: str = "2026-11-21T09:58:12.345678901Z",
    ends_at: str = "0001-01-01T00:00:00Z",
) -> dict[str, Any]:
    labels = {"alertname": alertname, "instance": instance, "job": "checkout", "severity": severity}
    if service:
        labels["service"] = service
    return {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": f"{alertname} on {instance}",
            "description": "5xx ratio above 5% for 5 minutes",
            "runbook_url": "https://runbooks.example/high-error-rate",
        },
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=rate%28http_errors%5B5m%5D%29",
        "fingerprint": fingerprint,
    }


def alertmanager(
    alerts: list[dict[str, Any]], *, group_key: str = '{}/{}:{alertname="HighErrorRate"}'
) -> bytes:
    """Alertmanager webhook payload version 4."""
    statuses = {a["status"] for a in alerts}
    return json.dumps(
        {
            "version": "4",
            "groupKey": group_key,
            "truncatedAlerts": 0,
            "status": "firing" if "firing" in statuses else "resolved",
            "receiver": "warroom",
            "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
            "commonLabels": {"job": "checkout"},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": alerts,
        }
    ).encode()


def grafana(*, status: str = "firing", fingerprint: str = "c6eadffa33fcdf37", org: int = 1) -> bytes:
    return json.dumps(
        {
            "receiver": "warroom",
            "status": status,
            "orgId": org,
            "alerts": [
                {
                    "status": status,
                    "labels": {
                        "alertname": "High memory usage",
                        "team": "blue",
                        "zone": "us-1",
                        "service": "search",
                    },
                    "annotations": {
                        "description": "The system has high memory usage",
                        "summary": "Memory above 90% in us-1",
                    },
                    "startsAt": "2026-11-21T09:51:03.157076+02:00",
                    "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-21T10:20:00+02:00",
                    "generatorURL": "https://grafana.example/alerting/1afz29v7z/edit",
                    "fingerprint": fingerprint,
                    "silenceURL": "https://grafana.example/alerting/silence/new",
                    "dashboardURL": "https://grafana.example/d/abc",
                    "panelURL": "https://grafana.example/d/abc?viewPanel=1",
                    "values": {"B": 94.2, "C": 1},
                }
            ],
            "groupLabels": {"alertname": "High memory usage"},
            "commonLabels": {"alertname": "High memory usage", "team": "blue"},
            "commonAnnotations": {},
            "externalURL": "https://grafana.example/",
            "version": "1",
            "groupKey": '{}/{alertname="High memory usage"}:{alertname="High memory usage"}',
            "truncatedAlerts": 0,
            "title": "[FIRING:1] High memory usage (blue)",
            "state": "alerting" if status == "firing" else "ok",
            "message": "**Firing**\n\nValue: B=94.2",
        }
    ).encode()


def generic(**overrides: Any) -> bytes:
    body: dict[str, Any] = {
        "title": "Payment provider timeouts",
        "status": "firing",
        "dedup_key": "psp-timeouts",
        "severity": "SEV2",
        "service": "payments",
        "labels": {"team": "payments"},
        "links": ["https://status.psp.example"],
    }
    body.update(overrides)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def pagerduty(
    event_type: str = "incident.triggered", *, incident_id: str = "Q2P3O4N5M6", status: str = "triggered"
) -> bytes:
    """A PagerDuty Webhooks v3 event."""
    return json.dumps(
        {
            "event": {
                "id": event_id(event_type, incident_id, status),
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": ago(120),
                "agent": {
                    "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
                    "id": "PLH1HKV",
                    "type": "user_reference",
                },
                "client": None,
                "data": {
                    "id": incident_id,
                    "type": "incident",
                    "self": f"https://api.pagerduty.com/incidents/{incident_id}",
                    "html_url": f"https://acme.pagerduty.com/incidents/{incident_id}",
                    "number": 2,
                    "status": status,
                    "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                    "created_at": ago(258)[:19] + "Z",
                    "title": "Database replication lag",
                    "service": {
                        "html_url": "https://acme.pagerduty.com/services/PF9KMXH",
                        "id": "PF9KMXH",
                        "self": "https://api.pagerduty.com/services/PF9KMXH",
                        "summary": "orders-db",
                        "type": "service_reference",
                    },
                    "assignees": [],
                    "escalation_policy": {
                        "id": "PRPH4LF",
                        "summary": "Orders on-call",
                        "type": "escalation_policy_reference",
                    },
                    "teams": [],
                    "priority": {"id": "PSO75BM", "summary": "P1", "type": "priority_reference"},
                    "urgency": "high",
                    "conference_bridge": None,
                    "resolve_reason": None,
                },
            }
        }
    ).encode()


def pagerduty_signature(body: bytes, *secrets: str) -> str:
    return ",".join("v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)


def pagerduty_note(incident_id: str = "Q2P3O4N5M6", content: str = "Failover started") -> bytes:
    """A PagerDuty Webhooks v3 incident.annotated event (data is the note)."""
    return json.dumps(
        {
            "event": {
                "id": event_id("incident.annotated", incident_id, content),
                "event_type": "incident.annotated",
                "resource_type": "incident",
                "occurred_at": ago(35),
                "agent": {"id": "PLH1HKV", "summary": "Dana Ops", "type": "user_reference"},
                "client": None,
                "data": {
                    "incident": {
                        "id": incident_id,
                        "type": "incident_reference",
                        "summary": "Database replication lag",
                    },
                    "id": "PWL7QXS",
                    "content": content,
                    "trimmed": False,
                    "type": "incident_note",
                },
            }
        }
    ).encode()
