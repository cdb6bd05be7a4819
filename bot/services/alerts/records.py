"""Alert rows to and from the domain's alerts, and the summary an incident's alerts message shows."""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.domain.alerts import Alert, AlertStatus, Decision, OpenIncident
from bot.domain.incident import Status
from bot.services.alerts.statements import ALERT, FIRING, KNOWN_ALERTS, LOCK_KEYS, OPEN_CANDIDATES, Known
from bot.store.tables import AlertRecord


def as_alert(row: AlertRecord) -> Alert:
    return Alert(
        source=row.source,
        fingerprint=row.fingerprint,
        status=AlertStatus(row.status),
        title=row.title,
        starts_at=row.starts_at,
        group_key=row.group_key,
        service=row.service,
        severity=row.severity,
        labels=row.labels,
        annotations=row.annotations,
    )


def update_of(row: Known, alert: Alert, number: int | None, now: datetime) -> dict[str, object]:
    return {
        "alert_id": row.id,
        "new_status": alert.status.value,
        "new_ends_at": alert.ends_at,
        "seen": now,
        "incident": number,
    }


@dataclass(frozen=True)
class AlertsSummary:
    firing: int
    resolved: int
    newest: list[AlertRecord]


async def summary_of(session: AsyncSession, number: int, newest: int) -> AlertsSummary:
    counts: dict[str, int] = dict(
        (
            await session.execute(
                sa.select(ALERT.c.status, sa.func.count())
                .where(ALERT.c.incident_number == number)
                .group_by(ALERT.c.status)
            )
        ).all()
    )
    rows = await session.scalars(
        sa.select(AlertRecord)
        .where(col(AlertRecord.incident_number) == number)
        .order_by(col(AlertRecord.last_seen_at).desc(), col(AlertRecord.id).desc())
        .limit(newest)
    )
    return AlertsSummary(
        int(counts.get(FIRING, 0)), int(counts.get(AlertStatus.RESOLVED.value, 0)), list(rows)
    )


async def known_alerts(session: AsyncSession, alerts: list[Alert]) -> dict[tuple[str, str], Known]:
    by_source: dict[str, set[str]] = defaultdict(set)
    for alert in alerts:
        by_source[alert.source].add(alert.fingerprint)
    found: dict[tuple[str, str], Known] = {}
    for source, fingerprints in by_source.items():
        for row in await session.execute(
            KNOWN_ALERTS, {"source": source, "fingerprints": sorted(fingerprints)}
        ):
            closed = row[4] == Status.CLOSED.value
            found[(source, row.fingerprint)] = Known(row.id, row.status, row.incident_number, closed)
    return found


async def open_incidents(
    session: AsyncSession, alerts: list[Alert], decisions: dict[tuple[str, str], Decision]
) -> dict[int, OpenIncident]:
    """Open incidents these alerts could join, by group key or by service: one query."""
    keys = sorted({a.group_key for a in alerts if a.group_key})
    services = sorted({d.service for d in decisions.values() if d.service})
    if not keys and not services:
        return {}
    found: dict[int, OpenIncident] = {}
    for row in await session.execute(OPEN_CANDIDATES, {"keys": keys, "services": services}):
        known = found.get(row.number)
        group_keys = (known.group_keys if known else frozenset()) | (
            {row.group_key} if row.group_key else set()
        )
        found[row.number] = OpenIncident(
            row.number, row.service, group_keys, row.last_alert_at or row.declared_at
        )
    return found


async def lock_groups(
    session: AsyncSession, alerts: list[Alert], decisions: dict[tuple[str, str], Decision], *, sqlite: bool
) -> None:
    """Serialise deliveries that could join the same incident (PostgreSQL; SQLite already
    has one writer at a time), so two replicas never declare the same group twice."""
    if sqlite:
        return
    names = {f"group:{a.group_key}" for a in alerts if a.group_key}
    names |= {f"service:{d.service}" for d in decisions.values() if d.service}
    # One round trip; the keys in a fixed order, so two deliveries cannot deadlock.
    keys = sorted({zlib.crc32(name.encode()) for name in names})
    if keys:
        await session.execute(LOCK_KEYS, {"keys": keys})


def row_of(alert: Alert, decision: Decision, number: int | None, now: datetime) -> dict[str, object]:
    return {
        "source": alert.source,
        "fingerprint": alert.fingerprint,
        "group_key": alert.group_key,
        "status": alert.status.value,
        "title": alert.title[:500],
        "service": decision.service,
        "severity": (alert.severity or "")[:50] or None,
        "route": decision.route[:100],
        "action": decision.action.value,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "links": list(alert.links),
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "first_seen_at": now,
        "last_seen_at": now,
        "incident_number": number,
    }


@dataclass
class IngestResult:
    received: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    ignored: int = 0
    triaged: int = 0
    declared: list[int] = field(default_factory=list)
    incidents: list[int] = field(default_factory=list)  # every incident an alert joined or left
    duplicate_delivery: bool = False


@dataclass
class Batch:
    """What one transaction has decided so far."""

    now: datetime
    candidates: dict[int, OpenIncident]
    inserts: list[dict[str, object]] = field(default_factory=list)
    updates: list[dict[str, object]] = field(default_factory=list)
    timeline: list[dict[str, object]] = field(default_factory=list)
    touched: dict[int, datetime] = field(default_factory=dict)  # incident -> earliest alert start
    triage_keys: set[str] = field(default_factory=set)
    new_groups: set[tuple[str, int]] = field(default_factory=set)  # (group key, incident)
    resolved_in: set[int] = field(default_factory=set)  # incidents that saw an alert resolve
