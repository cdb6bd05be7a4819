"""The toolkit every service borrows: lock an incident, append to its timeline, echo an entry
in its channel, record a change (append, echo, refresh the summary), enqueue a job once per
delivery, and the reads a transaction needs (current roles, the first alert's labels).

Nothing here is a use case: the services in this package are, and they call these inside
their own transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.domain.incident import COMMANDER, DomainError
from bot.jobs import JobKind, incident_queue
from bot.services.people import People
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import AlertRecord, Incident, RoleAssignment, TimelineEvent, utcnow
from bot.store.work_tables import ProcessedEvent


class NotFound(DomainError):
    pass


# Hot-path writes are Core statements built once and run with a parameter dict: no ORM unit
# of work and no per-call statement construction (together most of a declare's CPU time).
INSERT_TIMELINE_EVENT = sa.insert(TimelineEvent.__table__)  # type: ignore[attr-defined]
INSERT_ROLE_ASSIGNMENT = sa.insert(RoleAssignment.__table__)  # type: ignore[attr-defined]
CURRENT_COMMANDER = sa.select(RoleAssignment.__table__.c.user_id).where(  # type: ignore[attr-defined]
    RoleAssignment.__table__.c.incident_number == sa.bindparam("n"),  # type: ignore[attr-defined]
    RoleAssignment.__table__.c.role == COMMANDER,  # type: ignore[attr-defined]
    RoleAssignment.__table__.c.ended_at.is_(None),  # type: ignore[attr-defined]
)


class Timeline:
    def __init__(
        self,
        db: Database,
        *,
        notify: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        people: People | None = None,
    ) -> None:
        self.db = db
        self.notify = notify  # wakes the worker once new jobs are committed
        self.clock = clock
        self.people = people or People(db, clock=clock)  # who the timeline names, looked up once

    async def lock(self, session: AsyncSession, number: int) -> Incident:
        """The incident, locked for the rest of the transaction (its changes queue here)."""
        stmt = sa.select(Incident).where(col(Incident.number) == number)
        if not self.db.is_sqlite:  # SQLite's BEGIN IMMEDIATE already serialises writers
            stmt = stmt.with_for_update()
        incident = (await session.execute(stmt)).scalar_one_or_none()
        if incident is None:
            raise NotFound(f"There is no incident #{number}.")
        return incident

    async def append(
        self,
        session: AsyncSession,
        number: int,
        kind: str,
        actor: str | None,
        text: str,
        at: datetime,
        *,
        key: str | None = None,
        source: str | None = None,
    ) -> str:
        """Append to the timeline; returns the event's idempotency key."""
        row = self.row(number, kind, actor, text, at, key=key, source=source)
        await self.insert(session, [row])
        return str(row["idempotency_key"])

    async def insert(self, session: AsyncSession, rows: list[dict[str, object]]) -> None:
        """Insert timeline entries made by row(); the people they name are seen."""
        await session.execute(INSERT_TIMELINE_EVENT, rows)
        for row in rows:
            await self.people.seen(session, row["actor"], str(row["text"]))  # type: ignore[arg-type]

    def row(
        self,
        number: int,
        kind: str,
        actor: str | None,
        text: str,
        at: datetime,
        *,
        key: str | None = None,
        source: str | None = None,
    ) -> dict[str, object]:
        """A timeline entry to insert (several at once with INSERT_TIMELINE_EVENT)."""
        return {
            "incident_number": number,
            "at": at,
            "recorded_at": self.clock(),
            "kind": kind,
            "actor": actor,
            "text": text,
            "source": source,
            "idempotency_key": key or f"{kind}:{uuid.uuid4()}",
        }

    async def echo(self, session: AsyncSession, number: int, event_key: str) -> None:
        """Post a timeline entry in the incident's channel (a job)."""
        await jobs.enqueue(
            session,
            JobKind.SLACK_ECHO,
            {"incident": number, "event_key": event_key},
            queue=incident_queue(number),
        )

    async def changed(
        self,
        session: AsyncSession,
        incident: Incident,
        kind: str,
        actor: str,
        text: str,
        now: datetime,
        *,
        key: str | None = None,
    ) -> None:
        """Record a change on the timeline; echo it in the channel and refresh the summary."""
        number = number_of(incident)
        incident.updated_at = now
        key = await self.append(session, number, kind, actor, text, now, key=key)
        await self.echo(session, number, key)
        await jobs.enqueue(
            session, JobKind.SLACK_SYNC_SUMMARY, {"incident": number}, queue=incident_queue(number)
        )

    async def once(self, delivery: str, kind: JobKind, payload: dict[str, object], *, queue: str) -> bool:
        """Enqueue a job for a delivery (a Slack event id) unless that delivery was handled:
        False for a delivery seen before."""
        try:
            async with self.db.transaction() as session:
                if not await first_time(session, delivery, self.clock()):
                    return False
                await jobs.enqueue(session, kind, dict(payload), queue=queue)
        except IntegrityError:  # the same delivery, at the same moment, in another process
            return False
        self.notify()
        return True


async def first_time(session: AsyncSession, delivery: str, now: datetime) -> bool:
    """Remember a delivery (a Slack event, a webhook) in the caller's transaction: False if
    it was seen before. Two at once: the second transaction's commit fails (IntegrityError)."""
    if await session.get(ProcessedEvent, delivery) is not None:
        return False
    session.add(ProcessedEvent(key=delivery, processed_at=now))
    return True


async def current_roles(session: AsyncSession, numbers: list[int]) -> dict[int, dict[str, str]]:
    """Current role holders per incident, in the caller's session: {number: {role: user}}."""
    result: dict[int, dict[str, str]] = {n: {} for n in numbers}
    stmt = (
        sa.select(RoleAssignment)
        .where(col(RoleAssignment.incident_number).in_(numbers), col(RoleAssignment.ended_at).is_(None))
        .order_by(col(RoleAssignment.id))
    )
    for assignment in await session.scalars(stmt):
        result[assignment.incident_number][assignment.role] = assignment.user_id
    return result


async def first_alert_labels(session: AsyncSession, number: int) -> dict[str, str]:
    """The labels of an incident's first alert: what runbook conditions and templates see."""
    stmt = (
        sa.select(col(AlertRecord.labels))
        .where(col(AlertRecord.incident_number) == number)
        .order_by(col(AlertRecord.id))
        .limit(1)
    )
    return dict(await session.scalar(stmt) or {})


def number_of(incident: Incident) -> int:
    assert incident.number is not None, "incident not flushed yet"
    return incident.number
