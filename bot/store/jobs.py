"""The durable job queue: the outbox for Slack side effects and the scheduler for later work.

Services call `enqueue` inside their own transaction, so a job exists exactly when the change
that needs it was committed. Workers `claim` due jobs with a lease; a worker that dies leaves
its jobs to be claimed again when the lease runs out. Jobs of one queue run one at a time in
id order; on PostgreSQL `FOR UPDATE SKIP LOCKED` lets replicas share the work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.domain.budget import UNRANKED
from bot.store.db import Database
from bot.store.tables import Incident, UTCDateTime, utcnow
from bot.store.work_tables import Job, ProcessedEvent

INSERT_JOB = sa.insert(Job.__table__)  # type: ignore[attr-defined]
NOTIFY_CHANNEL = "warroom_jobs"  # see migration 0002


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    queue: str,
    run_at: datetime | None = None,
) -> None:
    """Add a job in the caller's transaction (a Core insert: this is on every hot path).

    A job of an incident takes the incident's priority, read by the insert itself."""
    now = utcnow()
    number = payload.get("incident")
    row: dict[str, Any] = {
        "kind": kind,
        "queue": queue,
        "payload": payload,
        "run_at": run_at or now,
        "created_at": now,
        "attempts": 0,
    }
    if isinstance(number, int):
        insert = INSERT_JOB.values(priority=_priority_of(number))
    else:
        insert, row["priority"] = INSERT_JOB, UNRANKED
    await session.execute(insert, row)  # on PostgreSQL a trigger NOTIFYs the workers


def _priority_of(number: int) -> sa.ScalarSelect[int]:
    ranked = sa.select(col(Incident.priority)).where(col(Incident.number) == number)
    return sa.select(sa.func.coalesce(ranked.scalar_subquery(), UNRANKED)).scalar_subquery()


async def reprioritise(session: AsyncSession, number: int, priority: int) -> None:
    """An incident's severity changed: its pending jobs take the new priority, and those
    waiting for a Slack budget wake now to take their new place in line."""
    await session.execute(
        sa.update(Job)
        .where(_pending(), col(Job.payload)["incident"].as_integer() == number)
        .values(
            priority=priority,
            run_at=sa.case((col(Job.waiting_for).is_not(None), utcnow()), else_=col(Job.run_at)),
        )
    )


@asynccontextmanager
async def notifications(db: Database, wake: Callable[[], None]) -> AsyncIterator[None]:
    """Call `wake` whenever any process commits new jobs (PostgreSQL LISTEN/NOTIFY).

    On SQLite there is nothing to listen to: one process serves, and it wakes its own
    worker directly; a separate worker process polls.
    """
    if db.is_sqlite:
        yield
        return
    dsn = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    await connection.add_listener(NOTIFY_CHANNEL, lambda *_: wake())
    try:
        yield
    finally:
        await connection.close()


def _pending() -> sa.ColumnElement[bool]:
    return sa.and_(col(Job.done_at).is_(None), col(Job.failed_at).is_(None))


def _claim_statement(*, skip_locked: bool) -> sa.Update:
    """UPDATE ... RETURNING over the due jobs, at most one per queue: one round trip."""
    table = Job.__table__  # type: ignore[attr-defined]
    candidate, earlier = table.alias("candidate"), table.alias("earlier")
    blocked = (
        sa.select(earlier.c.id)
        .where(
            earlier.c.queue == candidate.c.queue,
            earlier.c.id < candidate.c.id,
            earlier.c.done_at.is_(None),
            earlier.c.failed_at.is_(None),
        )
        .exists()
    )
    now = sa.bindparam("now", type_=UTCDateTime())
    due = (
        sa.select(candidate.c.id)
        .where(
            candidate.c.done_at.is_(None),
            candidate.c.failed_at.is_(None),
            candidate.c.run_at <= now,
            sa.or_(candidate.c.locked_until.is_(None), candidate.c.locked_until < now),
            ~blocked,
        )
        .order_by(candidate.c.priority, candidate.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer()))
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True, of=candidate)
    return (
        sa.update(table)
        .where(table.c.id.in_(due))
        .values(locked_until=sa.bindparam("until", type_=UTCDateTime()), attempts=table.c.attempts + 1)
        .returning(*table.c)
    )


CLAIM_SQLITE = _claim_statement(skip_locked=False)
CLAIM_POSTGRESQL = _claim_statement(skip_locked=True)


async def claim(db: Database, *, limit: int, lease: timedelta, now: datetime | None = None) -> list[Job]:
    """Lease up to `limit` due jobs, at most one per queue, most urgent then oldest first."""
    now = now or utcnow()
    statement = CLAIM_SQLITE if db.is_sqlite else CLAIM_POSTGRESQL
    async with db.transaction() as session:
        rows = (
            await session.execute(statement, {"now": now, "limit": limit, "until": now + lease})
        ).mappings()
        return sorted((Job(**row) for row in rows), key=lambda job: (job.priority, job.id or 0))


async def complete(db: Database, job_id: int) -> None:
    async with db.transaction() as session:
        await session.execute(
            sa.update(Job)
            .where(col(Job.id) == job_id)
            .values(done_at=utcnow(), locked_until=None, last_error=None, waiting_for=None)
        )


async def retry_later(db: Database, job_id: int, error: str, run_at: datetime) -> None:
    async with db.transaction() as session:
        await session.execute(
            sa.update(Job)
            .where(col(Job.id) == job_id)
            .values(run_at=run_at, locked_until=None, last_error=error[:2000], waiting_for=None)
        )


async def wait(db: Database, job_id: int, run_at: datetime, waiting_for: str) -> None:
    """The job waits its turn for a budget until `run_at`: released, its attempt not counted."""
    async with db.transaction() as session:
        await session.execute(
            sa.update(Job)
            .where(col(Job.id) == job_id)
            .values(
                run_at=run_at,
                locked_until=None,
                waiting_for=waiting_for[:100],
                attempts=col(Job.attempts) - 1,  # the claim counted it
            )
        )


class WaitingLine:
    """The jobs waiting for a budget, in line by priority then age: the SQLite budget asks it
    (on PostgreSQL the budget's own statement does the same, migration 0019)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def ahead(self, key: str, *, job: int, priority: int) -> int:
        """How many jobs wait in line for the budget `key` before this one."""
        async with self.db.sessions() as session:
            ahead = await session.scalar(
                sa.select(sa.func.count())
                .select_from(Job)
                .where(
                    col(Job.waiting_for) == key,
                    _pending(),
                    col(Job.id) != job,
                    sa.tuple_(col(Job.priority), col(Job.id)) < sa.tuple_(priority, job),
                )
            )
        return int(ahead or 0)

    async def served(self, key: str, *, job: int) -> None:
        """The job's call on `key` went: it no longer stands in that line."""
        async with self.db.transaction() as session:
            await session.execute(
                sa.update(Job).where(col(Job.id) == job, col(Job.waiting_for) == key).values(waiting_for=None)
            )


async def waiting(db: Database) -> list[tuple[str, int, datetime]]:
    """What jobs wait for (a Slack budget, a channel), how many, and the last reserved turn."""
    async with db.sessions() as session:
        rows = await session.execute(
            sa.select(col(Job.waiting_for), sa.func.count(), sa.func.max(col(Job.run_at)))
            .where(col(Job.waiting_for).is_not(None), _pending())
            .group_by(col(Job.waiting_for))
        )
    return [(str(key), int(count), last) for key, count, last in rows]


async def first_due(db: Database, queue: str, kind: str) -> datetime | None:
    """When the first pending job of this kind in a queue is due (its reserved time while it
    waits), or None when none is pending."""
    async with db.sessions() as session:
        return await session.scalar(
            sa.select(col(Job.run_at))
            .where(col(Job.queue) == queue, col(Job.kind) == kind, _pending())
            .order_by(col(Job.id))
            .limit(1)
        )


async def give_up(db: Database, job_id: int, error: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            sa.update(Job)
            .where(col(Job.id) == job_id)
            .values(failed_at=utcnow(), locked_until=None, last_error=error[:2000], waiting_for=None)
        )


async def unfinished(db: Database, *, failed_only: bool = False, limit: int = 200) -> list[Job]:
    """Jobs still to run and jobs that failed for good, newest first (for operators)."""
    where = col(Job.failed_at).is_not(None) if failed_only else col(Job.done_at).is_(None)
    async with db.sessions() as session:
        rows = await session.scalars(sa.select(Job).where(where).order_by(col(Job.id).desc()).limit(limit))
        return list(rows)


async def retry_failed(db: Database, ids: list[int] | None = None) -> list[int]:
    """Give jobs that failed for good (these, or all of them) one more attempt, due now.

    Their attempt count is kept: the handler knows an earlier attempt ran and looks for what
    it did before doing it again, and the retry policy gives up again after one failure.
    """
    failed = col(Job.failed_at).is_not(None)
    where = failed if ids is None else sa.and_(failed, col(Job.id).in_(ids))
    async with db.transaction() as session:
        retried = await session.scalars(
            sa.update(Job)
            .where(where)
            .values(failed_at=None, locked_until=None, run_at=utcnow())
            .returning(col(Job.id))
        )
        found = sorted(i for i in retried if i is not None)
        if found and not db.is_sqlite:
            await session.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
    return found


async def prune(db: Database, before: datetime) -> dict[str, int]:
    """Delete what is only kept for a while: jobs done before `before`, and the ids of
    deliveries (Slack events, webhooks) processed before it; no sender retries that late."""
    async with db.transaction() as session:
        jobs_deleted = await session.execute(
            sa.delete(Job).where(col(Job.done_at) < before).returning(col(Job.id))
        )
        jobs_count = len(jobs_deleted.all())
        events_deleted = await session.execute(
            sa.delete(ProcessedEvent)
            .where(col(ProcessedEvent.processed_at) < before)
            .returning(col(ProcessedEvent.key))
        )
        events_count = len(events_deleted.all())
    return {"jobs": jobs_count, "deliveries": events_count}


async def counts(db: Database) -> dict[str, int]:
    """Pending, done and failed job counts (for tests, health and metrics)."""
    async with db.sessions() as session:
        row = (
            await session.execute(
                sa.select(
                    sa.func.count().filter(_pending()),
                    sa.func.count().filter(col(Job.done_at).is_not(None)),
                    sa.func.count().filter(col(Job.failed_at).is_not(None)),
                )
            )
        ).one()
    return {"pending": row[0], "done": row[1], "failed": row[2]}
