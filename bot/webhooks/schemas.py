"""The webhooks' request bodies as the OpenAPI document describes them (what /docs shows and
the schema-driven fuzzer sends); the parsers in bot/ingest are what actually checks them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.domain.alerts import AlertStatus

STATUSES = [status.value for status in AlertStatus]

_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_ALERTMANAGER_ALERT = {
    "type": "object",
    "required": ["status", "labels"],
    "properties": {
        "status": {"type": "string", "enum": STATUSES},
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
        "status": {"type": "string", "enum": STATUSES},
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
        "status": {"type": "string", "enum": STATUSES},
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


def body_of(schema: Mapping[str, object]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
