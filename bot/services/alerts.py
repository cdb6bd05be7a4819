"""Alert ingestion: one webhook delivery is one transaction.

Each alert is upserted on (source, fingerprint); the routes decide declare / triage / ignore;
grouping sends an alert to the open incident that holds its group key (or its service, within
the window) before a new incident is declared. Every alert that joins, resolves or fires again
goes on the incident's timeline; Slack gets one alerts message per incident, refreshed at most
once per interval however many alerts arrive, and one question to the commander when every
alert has resolved.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.config import WarroomConfig
from bot.domain.alerts import (
    Action,
    Alert,
    AlertStatus,
    Decision,
    OpenIncident,
    incident_title,
    pick_incident,
    route,
)
from bot.domain.incident import ACTIVE, DomainError, Status
from bot.jobs import JobKind, alerts_queue, incident_queue, triage_queue
from bot.services.incidents import IncidentService
from bot.services.timeline import INSERT_TIMELINE_EVENT, first_time
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import AlertRecord, Incident, IncidentGroup, UTCDateTime, utcnow

FIRING = AlertStatus.FIRING.value  # as the alert table stores it
ALERT = AlertRecord.__table__  # type: ignore[attr-defined]
INSERT_ALERT = sa.insert(ALERT)
UPDATE_ALERT = (
    sa.update(ALERT)
    .where(ALERT.c.id == sa.bindparam("alert_id"))
    .values(
        status=sa.bindparam("new_status"),
        ends_at=sa.bindparam("new_ends_at"),
        last_seen_at=sa.bindparam("seen"),
        incident_number=sa.bindparam("incident"),
    )
)


INCIDENT = Incident.__table__  # type: ignore[attr-defined]
TOUCH_INCIDENT = (
    sa.update(INCIDENT)
    .where(INCIDENT.c.number == sa.bindparam("n"))
    .values(
        started_at=sa.case(
            (
                INCIDENT.c.started_at > sa.bindparam("earliest", type_=UTCDateTime()),
                sa.bindparam("earliest", type_=UTCDateTime()),
            ),
            else_=INCIDENT.c.started_at,
        ),
        detected_at=sa.case(
            (
                INCIDENT.c.detected_at > sa.bindparam("earliest", type_=UTCDateTime()),
                sa.bindparam("earliest", type_=UTCDateTime()),
            ),
            else_=INCIDENT.c.detected_at,
        ),
        last_alert_at=sa.bindparam("now", type_=UTCDateTime()),
    )
    .returning(INCIDENT.c.status, INCIDENT.c.alerts_cleared_at, INCIDENT.c.alerts_message_due_at)
)
SET_ALERTS_MESSAGE_DUE = (
    sa.update(INCIDENT)
    .where(INCIDENT.c.number == sa.bindparam("n"))
    .values(alerts_message_due_at=sa.bindparam("due", type_=UTCDateTime()))
)
SET_CLEARED = (
    sa.update(INCIDENT)
    .where(INCIDENT.c.number == sa.bindparam("n"))
    .values(alerts_cleared_at=sa.bindparam("cleared", type_=UTCDateTime()))
)
# Whether, not how many: one index probe however many alerts the incident has.
ANY_FIRING = sa.select(
    sa.exists().where(ALERT.c.incident_number == sa.bindparam("n"), ALERT.c.status == FIRING)
)
LOCK_KEYS = sa.text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k").bindparams(
    sa.bindparam("keys", type_=postgresql.ARRAY(sa.BigInteger()))
)


GROUP = IncidentGroup.__table__  # type: ignore[attr-defined]
OPEN_CANDIDATES = (
    sa.select(
        INCIDENT.c.number,
        INCIDENT.c.service,
        INCIDENT.c.last_alert_at,
        INCIDENT.c.declared_at,
        GROUP.c.group_key,
    )
    .select_from(INCIDENT.outerjoin(GROUP, GROUP.c.incident_number == INCIDENT.c.number))
    .where(
        INCIDENT.c.status.in_(sorted(ACTIVE)),
        sa.or_(
            INCIDENT.c.service.in_(sa.bindparam("services", expanding=True)),
            INCIDENT.c.number.in_(
                sa.select(GROUP.c.incident_number).where(
                    GROUP.c.group_key.in_(sa.bindparam("keys", expanding=True))
                )
            ),
        ),
    )
)
INSERT_GROUP = sa.insert(GROUP)


KNOWN_ALERTS = (
    sa.select(ALERT.c.id, ALERT.c.fingerprint, ALERT.c.status, ALERT.c.incident_number, INCIDENT.c.status)
    .select_from(ALERT.outerjoin(INCIDENT, INCIDENT.c.number == ALERT.c.incident_number))
    .where(
        ALERT.c.source == sa.bindparam("source"),
        ALERT.c.fingerprint.in_(sa.bindparam("fingerprints", expanding=True)),
    )
)


class _Known(NamedTuple):
    id: int
    status: str
    incident_number: int | None
    incident_closed: bool


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
class _Batch:
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


class AlertService:
    def __init__(
        self,
        db: Database,
        config: WarroomConfig,
        incidents: IncidentService,
        *,
        notify: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.config = config
        self.incidents = incidents
        self.notify = notify
        self.clock = clock

    def decide(self, alert: Alert) -> Decision:
        alerts = self.config.alerts
        return route(alert, alerts.compiled_routes, alerts.default_route, self.config.default_severity)

    async def ingest(self, alerts: list[Alert], *, delivery: str | None = None) -> IngestResult:
        result = IngestResult(received=len(alerts))
        try:
            async with self.db.transaction() as session:
                if delivery is not None and not await first_time(session, delivery, self.clock()):
                    return IngestResult(received=len(alerts), duplicate_delivery=True)
                await self._ingest(session, alerts, result)
        except IntegrityError:
            if delivery is not None:  # the same delivery, at the same moment, in another process
                return IngestResult(received=len(alerts), duplicate_delivery=True)
            raise
        self.notify()
        return result

    async def summary(self, number: int, *, newest: int = 5) -> AlertsSummary:
        async with self.db.sessions() as session:
            return await _summary(session, number, newest)

    async def get(self, source: str, fingerprint: str) -> AlertRecord | None:
        stmt = sa.select(AlertRecord).where(
            col(AlertRecord.source) == source, col(AlertRecord.fingerprint) == fingerprint
        )
        async with self.db.sessions() as session:
            return (await session.execute(stmt)).scalar_one_or_none()

    async def declare_from_triage(self, source: str, fingerprint: str, user: str) -> Incident:
        """The "Declare incident" button on a triage post: declare with this alert and the
        firing alerts of its group; a second click finds the incident the first one made.
        The clicker must be allowed to declare (access.declarers), like any declare."""
        await self.incidents.access.check_declare(user)
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    sa.select(AlertRecord).where(
                        col(AlertRecord.source) == source, col(AlertRecord.fingerprint) == fingerprint
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                raise DomainError("That alert is no longer on record.")
            if row.incident_number is not None:
                incident = await session.get(Incident, row.incident_number)
                assert incident is not None
                return incident
            alert, decision = _as_alert(row), self.decide(_as_alert(row))
            incident = await self.incidents.declare_in(
                session,
                labels=alert.labels,
                runbook=decision.runbook,
                title=incident_title(alert, row.service),
                reporter=user,
                commander=user,
                severity=decision.severity,
                service=row.service,
                started_at=row.starts_at,
            )
            assert incident.number is not None
            siblings = [row]
            if row.group_key:
                siblings = list(
                    await session.scalars(
                        sa.select(AlertRecord).where(
                            col(AlertRecord.group_key) == row.group_key,
                            col(AlertRecord.incident_number).is_(None),
                            col(AlertRecord.status) == FIRING,
                        )
                    )
                )
            now = self.clock()
            for sibling in siblings:
                sibling.incident_number = incident.number
            if row.group_key:
                await session.execute(
                    INSERT_GROUP, {"group_key": row.group_key, "incident_number": incident.number}
                )
            await session.execute(
                INSERT_TIMELINE_EVENT,
                [
                    self.incidents.timeline.row(
                        incident.number,
                        "alert",
                        None,
                        f"Alert firing: {a.title} ({a.source})",
                        now,
                        source=f"{a.source}:{a.fingerprint}",
                    )
                    for a in siblings
                ],
            )
            incident.last_alert_at = now
            await self._schedule_alerts_message(session, incident.number, now, None)
        self.notify()
        return incident

    async def note_source_event(
        self, source: str, fingerprint: str, text: str, at: datetime, *, delivery: str | None
    ) -> int | None:
        """Put an event from the alert's source (acknowledged in PagerDuty, a PagerDuty note)
        on the timeline of the incident the alert joined; returns that incident."""
        try:
            async with self.db.transaction() as session:
                if delivery is not None and not await first_time(session, delivery, self.clock()):
                    return None
                number = await session.scalar(
                    sa.select(ALERT.c.incident_number).where(
                        ALERT.c.source == source, ALERT.c.fingerprint == fingerprint
                    )
                )
                if number is None:
                    return None
                row = self.incidents.timeline.row(
                    number, source, None, text, min(at, self.clock()), source=f"{source}:{fingerprint}"
                )
                await session.execute(INSERT_TIMELINE_EVENT, row)
                await jobs.enqueue(
                    session,
                    JobKind.SLACK_ECHO,
                    {"incident": number, "event_key": row["idempotency_key"]},
                    queue=incident_queue(number),
                )
        except IntegrityError:
            return None
        self.notify()
        return int(number)

    async def _ingest(self, session: AsyncSession, alerts: list[Alert], result: IngestResult) -> None:
        now = self.clock()
        decisions = {(a.source, a.fingerprint): self.decide(a) for a in alerts}
        await self._lock_groups(session, alerts, decisions)
        existing = await self._existing(session, alerts)
        batch = _Batch(now=now, candidates=await self._open_incidents(session, alerts, decisions))
        # The same alert twice in one delivery: the last word counts.
        latest = {(a.source, a.fingerprint): a for a in sorted(alerts, key=lambda a: a.starts_at)}
        for key, alert in latest.items():
            decision = decisions[key]
            row = existing.get(key)
            if row is None:
                await self._new_alert(session, alert, decision, batch, result)
            else:
                await self._known_alert(session, alert, decision, row, batch, result)
        if batch.inserts:
            await session.execute(INSERT_ALERT, batch.inserts)
        if batch.updates:
            await session.execute(UPDATE_ALERT, batch.updates)
        if batch.timeline:
            await session.execute(INSERT_TIMELINE_EVENT, batch.timeline)
        if batch.new_groups:
            rows = [{"group_key": key, "incident_number": number} for key, number in sorted(batch.new_groups)]
            await session.execute(INSERT_GROUP, rows)
        for number, earliest in batch.touched.items():
            await self._after_change(session, number, earliest, now, resolved=number in batch.resolved_in)
        result.incidents = sorted(batch.touched)

    async def _new_alert(
        self, session: AsyncSession, alert: Alert, decision: Decision, batch: _Batch, result: IngestResult
    ) -> None:
        result.new += 1
        number = None
        if alert.status is AlertStatus.FIRING:
            number = await self._place(session, alert, decision, batch, result)
            if number is not None:
                self._note(batch, number, alert, "Alert firing")
        batch.inserts.append(self._row(alert, decision, number, batch.now))

    async def _known_alert(
        self,
        session: AsyncSession,
        alert: Alert,
        decision: Decision,
        row: _Known,
        batch: _Batch,
        result: IngestResult,
    ) -> None:
        number = row.incident_number
        if alert.status is AlertStatus.FIRING and row.incident_closed and row.status != FIRING:
            number = None  # it fires again after its incident was closed: a new incident's business
        if alert.status.value == row.status and not (alert.status is AlertStatus.FIRING and number is None):
            result.unchanged += 1  # a re-send: Alertmanager repeats firing groups
            batch.updates.append(_update(row, alert, number, batch.now))
            return
        result.changed += 1
        placed_now = False
        if alert.status is AlertStatus.FIRING and number is None:
            number = await self._place(session, alert, decision, batch, result)
            placed_now = number is not None
        if number is not None:
            if alert.status is AlertStatus.RESOLVED:
                what = "Alert resolved"
            else:
                what = "Alert firing" if placed_now else "Alert firing again"
            self._note(batch, number, alert, what)
        batch.updates.append(_update(row, alert, number, batch.now))

    async def _place(
        self, session: AsyncSession, alert: Alert, decision: Decision, batch: _Batch, result: IngestResult
    ) -> int | None:
        """The incident a firing alert belongs to: an open one, a new one, or none."""
        if decision.action is Action.IGNORE:
            result.ignored += 1
            return None
        window = self.config.alerts.group_window
        number = pick_incident(alert, decision.service, batch.candidates.values(), batch.now, window)
        if number is not None:
            return number
        if decision.action is Action.TRIAGE:
            result.triaged += 1
            await self._triage(session, alert, decision, batch)
            return None
        incident = await self.incidents.declare_in(
            session,
            labels=alert.labels,
            runbook=decision.runbook,
            title=incident_title(alert, decision.service),
            reporter=f"alert:{alert.source}",
            severity=decision.severity,
            service=decision.service,
            started_at=alert.starts_at,
        )
        assert incident.number is not None
        result.declared.append(incident.number)
        batch.candidates[incident.number] = OpenIncident(
            incident.number, decision.service, frozenset(), batch.now
        )
        return incident.number

    def _note(self, batch: _Batch, number: int, alert: Alert, what: str) -> None:
        """Every alert that joins, resolves or fires again goes on the timeline."""
        # On the timeline at the time the source says it happened, not when we heard of it.
        happened = alert.ends_at if alert.status is AlertStatus.RESOLVED else alert.starts_at
        at = min(happened or batch.now, batch.now)
        text = f"{what}: {alert.title} ({alert.source})"
        batch.timeline.append(
            self.incidents.timeline.row(
                number, "alert", None, text[:1000], at, source=f"{alert.source}:{alert.fingerprint}"
            )
        )
        candidate = batch.candidates.get(number)
        if candidate is not None and alert.group_key and alert.group_key not in candidate.group_keys:
            batch.candidates[number] = OpenIncident(
                number, candidate.service, candidate.group_keys | {alert.group_key}, batch.now
            )
            batch.new_groups.add((alert.group_key, number))
        if alert.status is AlertStatus.RESOLVED:
            batch.resolved_in.add(number)
        earliest = batch.touched.get(number)
        batch.touched[number] = alert.starts_at if earliest is None else min(earliest, alert.starts_at)

    async def _triage(self, session: AsyncSession, alert: Alert, decision: Decision, batch: _Batch) -> None:
        """One triage post per group of alerts, with a button that declares the incident."""
        key = alert.group_key or f"{alert.source}:{alert.fingerprint}"
        if key in batch.triage_keys:
            return
        batch.triage_keys.add(key)
        already = await session.scalar(
            sa.select(sa.func.count())
            .select_from(ALERT)
            .where(ALERT.c.group_key == key, ALERT.c.action == Action.TRIAGE.value, ALERT.c.status == FIRING)
        )
        if already:
            return
        payload = {"source": alert.source, "fingerprint": alert.fingerprint}
        await jobs.enqueue(session, JobKind.SLACK_TRIAGE, payload, queue=triage_queue(key))

    async def _after_change(
        self, session: AsyncSession, number: int, earliest: datetime, now: datetime, *, resolved: bool
    ) -> None:
        """Milestones from the earliest alert, the all-clear question, the alerts message."""
        status, cleared_at, due_at = (
            await session.execute(TOUCH_INCIDENT, {"n": number, "earliest": earliest, "now": now})
        ).one()
        if not resolved and cleared_at is None:
            # Only firing alerts arrived and nothing was cleared: the all-clear cannot change.
            await self._schedule_alerts_message(session, number, now, due_at)
            return
        firing = bool(await session.scalar(ANY_FIRING, {"n": number}))
        active = status not in (Status.RESOLVED, Status.CLOSED)
        if not firing and active and cleared_at is None:
            await session.execute(SET_CLEARED, {"n": number, "cleared": now})
            await jobs.enqueue(
                session, JobKind.SLACK_ALERTS_CLEARED, {"incident": number}, queue=incident_queue(number)
            )
        elif firing and cleared_at is not None:
            await session.execute(SET_CLEARED, {"n": number, "cleared": None})  # a later all-clear asks again
        await self._schedule_alerts_message(session, number, now, due_at)

    async def _schedule_alerts_message(
        self, session: AsyncSession, number: int, now: datetime, due_at: datetime | None
    ) -> None:
        """At most one alerts-message refresh per interval, however many alerts arrive: a
        refresh still to come will show this change too."""
        if due_at is not None and due_at > now:
            return
        run_at = now if due_at is None else max(now, due_at + self.config.alerts.alerts_message_interval)
        await session.execute(SET_ALERTS_MESSAGE_DUE, {"n": number, "due": run_at})
        await jobs.enqueue(
            session,
            JobKind.SLACK_SYNC_ALERTS,
            {"incident": number},
            queue=alerts_queue(number),
            run_at=run_at,
        )

    async def _existing(self, session: AsyncSession, alerts: list[Alert]) -> dict[tuple[str, str], _Known]:
        by_source: dict[str, set[str]] = defaultdict(set)
        for alert in alerts:
            by_source[alert.source].add(alert.fingerprint)
        found: dict[tuple[str, str], _Known] = {}
        for source, fingerprints in by_source.items():
            for row in await session.execute(
                KNOWN_ALERTS, {"source": source, "fingerprints": sorted(fingerprints)}
            ):
                closed = row[4] == Status.CLOSED.value
                found[(source, row.fingerprint)] = _Known(row.id, row.status, row.incident_number, closed)
        return found

    async def _open_incidents(
        self, session: AsyncSession, alerts: list[Alert], decisions: dict[tuple[str, str], Decision]
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

    async def _lock_groups(
        self, session: AsyncSession, alerts: list[Alert], decisions: dict[tuple[str, str], Decision]
    ) -> None:
        """Serialise deliveries that could join the same incident (PostgreSQL; SQLite already
        has one writer at a time), so two replicas never declare the same group twice."""
        if self.db.is_sqlite:
            return
        names = {f"group:{a.group_key}" for a in alerts if a.group_key}
        names |= {f"service:{d.service}" for d in decisions.values() if d.service}
        # One round trip; the keys in a fixed order, so two deliveries cannot deadlock.
        keys = sorted({zlib.crc32(name.encode()) for name in names})
        if keys:
            await session.execute(LOCK_KEYS, {"keys": keys})

    def _row(self, alert: Alert, decision: Decision, number: int | None, now: datetime) -> dict[str, object]:
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


def _as_alert(row: AlertRecord) -> Alert:
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


def _update(row: _Known, alert: Alert, number: int | None, now: datetime) -> dict[str, object]:
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


async def _summary(session: AsyncSession, number: int, newest: int) -> AlertsSummary:
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
