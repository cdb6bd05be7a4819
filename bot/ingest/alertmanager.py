"""Prometheus Alertmanager webhook (payload version 4), and Grafana's compatible variant."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from bot.domain.alerts import ALERT_STATUSES, Alert, AlertStatus
from bot.ingest import PayloadError, field, load_json, normalised, string_map, timestamp


def parse(body: bytes, *, source: str = "alertmanager", now: datetime) -> list[Alert]:
    """Every alert of the delivery, or the first problem found."""
    alerts, rejected = parse_batch(body, source=source, now=now)
    if rejected:
        raise rejected[0]
    return alerts


def parse_batch(
    body: bytes, *, source: str = "alertmanager", now: datetime
) -> tuple[list[Alert], list[PayloadError]]:
    """The good alerts of a delivery, and a problem for each bad one: one bad alert must not
    keep the others out (nor make the sender retry the delivery forever). A problem with the
    delivery itself (not JSON, no alerts) is raised."""
    data = load_json(body)
    version = data.get("version")
    if source == "alertmanager" and version != "4":
        raise PayloadError("version", f'expected Alertmanager webhook version "4", got {version!r}')
    group_key = field(data, "groupKey", str, "")
    string_map(data, "commonLabels", "")  # checked once for the delivery
    string_map(data, "commonAnnotations", "")
    raw_alerts = field(data, "alerts", list, "")
    if not raw_alerts:
        raise PayloadError("alerts", "is empty")
    prefix = f"{data.get('orgId')}:" if source == "grafana" and data.get("orgId") is not None else ""
    alerts, rejected = [], []
    for i, raw in enumerate(raw_alerts):
        try:
            alerts.append(normalised(_alert(raw, f"alerts[{i}].", source, prefix, group_key, data, now), now))
        except PayloadError as exc:
            rejected.append(exc)
    return alerts, rejected


def _alert(
    raw: Any, where: str, source: str, prefix: str, group_key: str, data: dict[str, Any], now: datetime
) -> Alert:
    if not isinstance(raw, dict):
        raise PayloadError(where.rstrip("."), "expected an object")
    status = field(raw, "status", str, where)
    if status not in ALERT_STATUSES:
        raise PayloadError(f"{where}status", f"expected firing or resolved, got {status!r}")
    labels = {**string_map(data, "commonLabels", ""), **string_map(raw, "labels", where)}
    annotations = {**string_map(data, "commonAnnotations", ""), **string_map(raw, "annotations", where)}
    fingerprint = field(raw, "fingerprint", str, where, required=False) or _fingerprint(labels)
    links = tuple(
        u
        for u in (raw.get("generatorURL"), raw.get("dashboardURL"), raw.get("panelURL"))
        if isinstance(u, str) and u
    )
    return Alert(
        source=source,
        fingerprint=prefix + fingerprint,
        status=AlertStatus(status),
        title=_title(labels, annotations, data),
        starts_at=timestamp(raw.get("startsAt"), f"{where}startsAt") or now,
        ends_at=timestamp(raw.get("endsAt"), f"{where}endsAt") if status == AlertStatus.RESOLVED else None,
        group_key=f"{source}:{prefix}{group_key}",
        service=labels.get("service"),
        severity=labels.get("severity"),
        labels=labels,
        annotations=annotations,
        links=links,
    )


def _title(labels: dict[str, str], annotations: dict[str, str], data: dict[str, Any]) -> str:
    for candidate in (
        annotations.get("summary"),
        annotations.get("title"),
        labels.get("alertname"),
        data.get("title"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return "Alert"


def _fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's own fingerprint is a hash of the label set; do the same when absent."""
    canonical = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
