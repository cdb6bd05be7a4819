"""The durable job queue: the outbox for Slack side effects and the scheduler for later work.

Services call `enqueue` inside their own transaction, so a job exists exactly when the change
that needs it was committed. Workers `claim` due jobs with a lease; a worker that dies leaves
its jobs to be claimed again when the lease runs out. Jobs of one queue run one at a time in
id order; on PostgreSQL `FOR UPDATE SKIP LOCKED` lets replicas share the work.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot.store.db import Database
from bot.store.tables import Job, utcnow

INSERT_JOB = sa.insert(Job.__table__)  # type: ignore[attr-defined]


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    *,
    queue: str,
    run_at: datetime | None = None,
) -> None:
    """Add a job in the caller's transaction (a Core insert: this is on every hot path)."""
    now = utcnow()
    row = {
        "kind": kind,
        "queue": queue,
        "payload": payload,
        "run_at": run_at or now,
        "created_at": now,
        "attempts": 0,
    }
    await session.execute(INSERT_JOB, row)


async def has_pending(session: AsyncSession, kind: str, queue: str) -> bool:
    """True when a job of this kind waits in the queue and has not been picked up yet."""
    stmt = sa.select(col(Job.id)).where(
        col(Job.kind) == kind,
        col(Job.queue) == queue,
        col(Job.done_at).is_(None),
        col(Job.failed_at).is_(None),
        col(Job.locked_until).is_(None),
    )
    return (await session.execute(stmt.limit(1))).first() is not None


def _pending() -> sa.ColumnElement[bool]:
    return sa.and_(col(Job.done_at).is_(None), col(Job.failed_at).is_(None))


async def claim(db: Database, *, limit: int, lease: timedelta, now: datetime | None = None) -> list[Job]:
    """Lease up to `limit` due jobs, at most one per queue, oldest first."""
    now = now or utcnow()
    earlier = aliased(Job)
    blocked = (
        sa.select(col(earlier.id))
        .where(
            col(earlier.queue) == col(Job.queue),
            col(earlier.id) < col(Job.id),
            col(earlier.done_at).is_(None),
            col(earlier.failed_at).is_(None),
        )
        .exists()
    )
    due = (
        sa.select(Job)
        .where(
            _pending(),
            col(Job.run_at) <= now,
            sa.or_(col(Job.locked_until).is_(None), col(Job.locked_until) < now),
            ~blocked,
        )
        .order_by(col(Job.id))
        .limit(limit)
    )
    if not db.is_sqlite:
        due = due.with_for_update(skip_locked=True, of=Job)
    async with db.transaction() as session:
        jobs = list((await session.execute(due)).scalars())
        for job in jobs:
            job.locked_until = now + lease
            job.attempts += 1
    return jobs


async def complete(db: Database, job_id: int) -> None:
    async with db.transaction() as session:
        await session.execute(
            sa.update(Job)
            .where(col(Job.id) == job_id)
            .values(done_at=utcnow(), locked_until=None, last_error=None)
        )


async def retry_later(db: Database, job_id: int, error: str, run_at: datetime) -> None:
    async with db.transaction() as session:
        await session.execute(
            sa.update(Job)
            .where(col(Job.id) == job_id)
            .values(run_at=run_at, locked_until=None, last_error=error[:2000])
        )


async def give_up(db: Database, job_id: int, error: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            sa.update(Job)
            .where(col(Job.id) == job_id)
            .values(failed_at=utcnow(), locked_until=None, last_error=error[:2000])
        )


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
