"""Claiming jobs when the job table holds a long history of done jobs.

A deployment that never runs `warroom db prune` keeps every finished job; an alert storm
adds one alerts-message job per incident every few seconds. This fills the table with
`--done` finished jobs spread over 20 alert queues, then 20 due jobs (one per queue) and 200
reminders scheduled for later, and times `jobs.claim(limit=16)`, which the worker runs after
every job it finishes. Run by hand:

    python -m bench.job_claim [--database sqlite|postgresql] [--done 40000] [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import col

from bench.harness import discard_database, fresh_database, summary
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import utcnow
from bot.store.work_tables import Job

QUEUES = 20


async def main(kind: str, done: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(fresh_database(kind, tmp))
        await db.migrate()
        now = utcnow()

        def job(queue: str, **extra: object) -> dict[str, object]:
            return {"kind": "k", "queue": queue, "payload": {}, "run_at": now, "created_at": now, **extra}

        async with db.transaction() as session:
            history = [job(f"alerts:{i % QUEUES}", attempts=1, done_at=now) for i in range(done)]
            await session.execute(sa.insert(Job), history)
            due = [job(f"alerts:{i}", attempts=0) for i in range(QUEUES)]
            later = [job(f"reminder:{i}", attempts=0, run_at=now + timedelta(hours=1)) for i in range(200)]
            await session.execute(sa.insert(Job), due + later)
        if not db.is_sqlite:  # a table this old has statistics: autovacuum has analyzed it
            async with db.sessions() as session:  # autocommit on PostgreSQL
                await session.execute(sa.text("ANALYZE job"))
        timings: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            claimed = await jobs.claim(db, limit=16, lease=timedelta(seconds=60))
            timings.append((time.perf_counter() - started) * 1000)
            async with db.transaction() as session:  # hand them back for the next run
                ids = [j.id for j in claimed]
                await session.execute(sa.update(Job).where(col(Job.id).in_(ids)).values(locked_until=None))
        print(f"{kind}: claim 16 of {QUEUES} due jobs, {done} done jobs in the table: {summary(timings)}")
        await discard_database(db, kind)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--done", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.database, args.done, args.runs))
