"""Alert ingestion: one webhook delivery is one transaction.

Each alert is upserted on (source, fingerprint); the routes decide declare / triage / ignore;
grouping sends an alert to the open incident that holds its group key (or its service, within
the window) before a new incident is declared. Every alert that joins, resolves or fires again
goes on the incident's timeline; Slack gets one alerts message per incident, refreshed at most
once per interval however many alerts arrive, and one question to the commander when every
alert has resolved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
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
from bot.domain.incident import DomainError, Status
from bot.jobs import JobKind, alerts_queue, incident_queue, triage_queue
from bot.services.alerts.records import (
    AlertsSummary,
    Batch,
    IngestResult,
    as_alert,
    known_alerts,
    lock_groups,
    open_incidents,
    row_of,
    summary_of,
    update_of,
)
from bot.services.alerts.statements import (
    ALERT,
    ANY_FIRING,
    FIRING,
    INSERT_ALERT,
    INSERT_GROUP,
    SET_ALERTS_MESSAGE_DUE,
    SET_CLEARED,
    TOUCH_INCIDENT,
    UPDATE_ALERT,
    Known,
)
from bot.services.incidents import IncidentService
from bot.services.timeline import first_time
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import AlertRecord, Incident, utcnow


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
            return await summary_of(session, number, newest)

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
            alert, decision = as_alert(row), self.decide(as_alert(row))
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
            await self._adopt_group(session, row, incident.number)
            incident.last_alert_at = now = self.clock()
            await self._schedule_alerts_message(session, incident.number, now, None)
        self.notify()
        return incident

    async def _adopt_group(self, session: AsyncSession, row: AlertRecord, number: int) -> None:
        """The clicked alert and the firing alerts of its group join the new incident, each
        on its timeline."""
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
            await session.execute(INSERT_GROUP, {"group_key": row.group_key, "incident_number": number})
        for sibling in siblings:
            sibling.incident_number = number
        now = self.clock()
        events = [
            self.incidents.timeline.row(
                number,
                "alert",
                None,
                f"Alert firing: {a.title} ({a.source})",
                now,
                source=f"{a.source}:{a.fingerprint}",
            )
            for a in siblings
        ]
        await self.incidents.timeline.insert(session, events)

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
                await self.incidents.timeline.insert(session, [row])
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
        await lock_groups(session, alerts, decisions, sqlite=self.db.is_sqlite)
        existing = await known_alerts(session, alerts)
        batch = Batch(now=now, candidates=await open_incidents(session, alerts, decisions))
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
            await self.incidents.timeline.insert(session, batch.timeline)
        if batch.new_groups:
            rows = [{"group_key": key, "incident_number": number} for key, number in sorted(batch.new_groups)]
            await session.execute(INSERT_GROUP, rows)
        for number, earliest in batch.touched.items():
            await self._after_change(session, number, earliest, now, resolved=number in batch.resolved_in)
        result.incidents = sorted(batch.touched)

    async def _new_alert(
        self, session: AsyncSession, alert: Alert, decision: Decision, batch: Batch, result: IngestResult
    ) -> None:
        result.new += 1
        number = None
        if alert.status is AlertStatus.FIRING:
            number = await self._place(session, alert, decision, batch, result)
            if number is not None:
                self._note(batch, number, alert, "Alert firing")
        batch.inserts.append(row_of(alert, decision, number, batch.now))

    async def _known_alert(
        self,
        session: AsyncSession,
        alert: Alert,
        decision: Decision,
        row: Known,
        batch: Batch,
        result: IngestResult,
    ) -> None:
        number = row.incident_number
        if alert.status is AlertStatus.FIRING and row.incident_closed and row.status != FIRING:
            number = None  # it fires again after its incident was closed: a new incident's business
        if alert.status.value == row.status and not (alert.status is AlertStatus.FIRING and number is None):
            result.unchanged += 1  # a re-send: Alertmanager repeats firing groups
            batch.updates.append(update_of(row, alert, number, batch.now))
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
        batch.updates.append(update_of(row, alert, number, batch.now))

    async def _place(
        self, session: AsyncSession, alert: Alert, decision: Decision, batch: Batch, result: IngestResult
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

    def _note(self, batch: Batch, number: int, alert: Alert, what: str) -> None:
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

    async def _triage(self, session: AsyncSession, alert: Alert, decision: Decision, batch: Batch) -> None:
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
