"""Changes: record what senders say changed, relate it to incidents, and gate deploys.

`record` stores one change event (once per change id and status) and, in the same
transaction, puts it on the timeline of every open incident of its service, flagged when the
service was frozen. The reads answer "what changed before this incident?" (the suspects),
"what changed while it was open?" and "may checkout deploy now?".
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import WarroomConfig
from bot.config.changes import ChangesConfig
from bot.domain import changes as rules
from bot.domain.changes import Change, Freeze, OpenIncident
from bot.domain.incident import ACTIVE, DomainError
from bot.domain.runbooks import Facts
from bot.services.timeline import Timeline, first_alert_labels
from bot.store.tables import ChangeEvent, Incident

EVENTS, INCIDENTS = ChangeEvent.__table__, Incident.__table__  # type: ignore[attr-defined]
EVENT, INCIDENT = EVENTS.c, INCIDENTS.c
OPEN_INCIDENTS = sa.select(
    INCIDENT.number, INCIDENT.severity, INCIDENT.service, INCIDENT.title, INCIDENT.private, INCIDENT.drill
).where(INCIDENT.status.in_([s.value for s in ACTIVE]))
# The columns of a Change, in the order of its fields: rows become changes by position.
CHANGE_COLUMNS = [
    EVENT.change_id,
    EVENT.service,
    EVENT.environment,
    EVENT.kind,
    EVENT.status,
    EVENT.summary,
    EVENT.started_at,
    EVENT.finished_at,
    EVENT.version,
    EVENT.previous_version,
    EVENT.author,
    EVENT.url,
    EVENT.source,
    EVENT.freeze,
]
MAX_LISTED = 10  # suspects shown in the channel, each with a button


@dataclass(frozen=True)
class Recorded:
    change: Change
    new: bool  # False: this change id and status were recorded before
    incidents: list[int]  # open incidents of its service, whose timeline shows it
    freeze: Freeze


@dataclass(frozen=True)
class IncidentChanges:
    """An incident's changes: before it started (the suspects), while open, and its cause."""

    suspects: list[Change]
    during: list[Change]
    cause: Change | None
    lead: tuple[Change, timedelta] | None


class ChangeService:
    def __init__(self, timeline: Timeline, config: WarroomConfig) -> None:
        self.timeline = timeline
        self.db = timeline.db
        self.clock = timeline.clock
        self.config = config
        self.settings = config.changes

    # ----------------------------------------------------------------- writes

    async def record(self, change: Change) -> Recorded:
        """Store a change event once; put it on the timeline of its service's open incidents."""
        [recorded] = await self.record_many([change])
        return recorded

    async def record_many(self, changes: Sequence[Change]) -> list[Recorded]:
        """Several change events in one transaction (a batch delivery), each stored once:
        an event recorded before (the same change id and status) changes nothing."""
        # The same events at the same moment in another request: the insert skips them there.
        async with self.db.transaction() as session:
            recorded = await self._record(session, changes)
        if any(r.incidents for r in recorded):
            self.timeline.notify()
        return recorded

    async def _record(self, session: AsyncSession, changes: Sequence[Change]) -> list[Recorded]:
        now = self.clock()
        open_ = await self._open(session)
        gates: dict[str, Freeze] = {}
        prepared: list[tuple[Change, Freeze]] = []
        for change in changes:
            counted = self.settings.counts(change.environment)
            if counted and change.service not in gates:
                gates[change.service] = self._gate(change.service, open_, now)
            gate = gates[change.service] if counted else Freeze(False)
            prepared.append((replace(change, freeze=gate.reason[:500] if gate.reason else None), gate))
        stored = await self._insert_new(session, [_row(c, now) for c, _ in prepared])
        recorded = []
        for change, gate in prepared:
            if (change.id, change.status) not in stored:
                recorded.append(Recorded(change, False, [], gate))
                continue
            stored.discard((change.id, change.status))  # the same event twice in one batch: once
            counted = self.settings.counts(change.environment)
            numbers = [i.number for i in open_ if i.service == change.service] if counted else []
            for number in numbers:
                await self._on_timeline(session, number, change, gate, now)
            recorded.append(Recorded(change, True, numbers, gate))
        return recorded

    async def _insert_new(self, session: AsyncSession, rows: list[dict[str, object]]) -> set[tuple[str, str]]:
        """Insert the events not stored yet; the (change id, status) of those inserted."""
        insert = sqlite_insert(EVENTS) if self.db.is_sqlite else postgresql_insert(EVENTS)
        statement = insert.on_conflict_do_nothing().returning(EVENT.change_id, EVENT.status)
        return {(row.change_id, row.status) for row in await session.execute(statement, rows)}

    async def _on_timeline(
        self, session: AsyncSession, number: int, change: Change, gate: Freeze, now: datetime
    ) -> None:
        text = f"{change.label()} {rules.ChangeStatus(change.status).words}"
        text += f" ({change.author})" if change.author else ""
        if gate.frozen:
            text = f":warning: During a freeze: {text}. {gate.reason}"
        key = f"change:{number}:{change.id}:{change.status}"[:200]
        await self.timeline.append(session, number, "change", None, text, now, key=key, source=change.url)
        await self.timeline.echo(session, number, key)

    async def link_cause(self, number: int, change_id: str, actor: str) -> tuple[Incident, Change]:
        """Link a change as the incident's cause (on the timeline; the summary shows it)."""
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            found = rules.fold(await self._by_id(session, change_id))
            if not found:
                raise DomainError(f"There is no change `{change_id[:200]}`. `changes` lists this incident's.")
            change = found[0]
            if incident.cause_change == change.id:
                return incident, change
            incident.cause_change = change.id
            await self.timeline.changed(
                session, incident, "cause", actor, f"Linked {change.label()} as the cause", self.clock()
            )
            session.add(incident)
        self.timeline.notify()
        return incident, change

    # ----------------------------------------------------------------- reads

    async def freeze(self, service: str) -> Freeze:
        """Whether `service` (`*`: any) may change now: the deploy gate."""
        async with self.db.sessions() as session:
            return self._gate(service, await self._open(session), self.clock())

    async def for_incident(self, incident: Incident) -> IncidentChanges:
        async with self.db.sessions() as session:
            return await self.incident_changes(session, incident)

    async def incident_changes(self, session: AsyncSession, incident: Incident) -> IncidentChanges:
        """In the caller's session: what the channel message, the summary, the catch-up and
        the post-mortem show."""
        cause = rules.fold(await self._by_id(session, incident.cause_change)) if incident.cause_change else []
        if not incident.service:
            return IncidentChanges([], [], cause[0] if cause else None, None)
        lookback = self.settings.lookback
        end = incident.resolved_at or self.clock()
        # The service's newest events up to the end: the suspects, what changed while it was
        # open, and the deploys before them (each deploy's previous version).
        changes = counted(await _events(session, incident.service, until=end), self.settings)
        return IncidentChanges(
            suspects=rules.with_previous(rules.before(changes, incident.started_at, lookback), changes),
            during=rules.with_previous(
                rules.during(changes, incident.started_at, incident.resolved_at), changes
            ),
            cause=cause[0] if cause else None,
            lead=rules.lead(changes, incident.started_at, lookback),
        )

    async def lead_words(self, service: str | None, at: datetime) -> str | None:
        """`12 minutes after deploy checkout v2.14.0`, for a triage post."""
        async with self.db.sessions() as session:
            found = await latest(session, service, at, self.settings)
        return rules.lead_words(rules.lead(found, at, self.settings.lookback))

    async def deploys(self, start: datetime, end: datetime) -> list[Change]:
        """Every deploy to a counted environment that started in the period (DORA figures),
        newest first. Folding ten thousands of events is CPU work: a thread's, not the event
        loop's."""
        query = sa.select(*CHANGE_COLUMNS).where(
            EVENT.started_at >= start, EVENT.started_at <= end, EVENT.kind == rules.ChangeKind.DEPLOY.value
        )
        if self.settings.environments:
            query = query.where(EVENT.environment.in_(self.settings.environments))
        async with self.db.sessions() as session:
            rows = (await session.execute(query.order_by(EVENT.id))).all()

        def folded() -> list[Change]:
            return counted([_change(r) for r in rows], self.settings)

        return await asyncio.to_thread(folded)

    # ----------------------------------------------------------------- helpers

    def _gate(self, service: str, open_: Sequence[OpenIncident], now: datetime) -> Freeze:
        return rules.freeze(
            service, open_, self.settings.freeze_on, self.settings.windows(), now, self.config.zone
        )

    async def _open(self, session: AsyncSession) -> list[OpenIncident]:
        rows = await session.execute(OPEN_INCIDENTS)
        return [
            OpenIncident(n, sev, service, title, private)
            for n, sev, service, title, private, drill in rows
            if not drill
        ]

    async def _by_id(self, session: AsyncSession, change_id: str | None) -> list[Change]:
        rows = await session.execute(
            sa.select(*CHANGE_COLUMNS).where(EVENT.change_id == change_id).order_by(EVENT.id)
        )
        return [_change(r) for r in rows]


async def _events(
    session: AsyncSession, service: str, *, since: datetime | None = None, until: datetime, limit: int = 500
) -> list[Change]:
    """The service's events that started by `until` (and, given `since`, after it or still
    unfinished then), oldest first."""
    query = sa.select(*CHANGE_COLUMNS).where(EVENT.service == service, EVENT.started_at <= until)
    if since is not None:
        query = query.where(sa.or_(EVENT.started_at >= since, EVENT.finished_at >= since))
    rows = await session.execute(query.order_by(EVENT.started_at.desc(), EVENT.id.desc()).limit(limit))
    return [_change(r) for r in reversed(rows.all())]


async def latest(
    session: AsyncSession, service: str | None, at: datetime, settings: ChangesConfig
) -> list[Change]:
    """The service's latest changes that started by `at` (its newest 50 events), in counted
    environments, newest first: what runbook conditions and templates see of an incident."""
    if not service:
        return []
    found = counted(await _events(session, service, until=at, limit=50), settings)
    return rules.with_previous(found, found)


def counted(events: list[Change], settings: ChangesConfig) -> list[Change]:
    """The changes the events tell, newest first, in the environments that count."""
    return [c for c in rules.fold(events) if settings.counts(c.environment)]


async def step_facts(
    session: AsyncSession, incident: Incident, settings: ChangesConfig
) -> tuple[Facts, list[Change]]:
    """What runbook conditions look at (severity, service, the first alert's labels, how long
    before the start its service last changed) and the suspects templates read."""
    found = await latest(session, incident.service, incident.started_at, settings)
    since = rules.since_last(found, incident.started_at)
    labels = await first_alert_labels(session, incident.number) if incident.number is not None else {}
    facts = Facts(incident.severity, incident.service, labels, since_change=since)
    return facts, rules.before(found, incident.started_at, settings.lookback)


def _row(change: Change, now: datetime) -> dict[str, object]:
    return {
        "change_id": change.id,
        "status": change.status,
        "service": change.service,
        "environment": change.environment,
        "kind": change.kind,
        "summary": change.summary,
        "version": change.version,
        "previous_version": change.previous_version,
        "author": change.author,
        "url": change.url,
        "source": change.source,
        "freeze": change.freeze,
        "started_at": change.started_at,
        "finished_at": change.finished_at,
        "recorded_at": now,
    }


def _change(row: sa.Row[tuple[object, ...]]) -> Change:
    return Change(*row)  # type: ignore[arg-type,call-arg]
