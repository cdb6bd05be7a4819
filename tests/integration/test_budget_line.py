"""Waiting for a Slack budget, on the real database: the job is given its turn and released,
not failed; the line is by priority then age; on PostgreSQL every replica spends one budget."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from bot.domain.budget import window
from bot.slack.ratelimit import SharedCalls
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import utcnow
from bot.store.work_tables import Job
from bot.worker import Postpone, Ticket, Worker

LEASE = timedelta(seconds=60)
KEY = "slack:conversations.create"


async def add(db: Database, *priorities: int) -> list[int]:
    """One job (in a queue of its own) per priority; their ids, oldest first."""
    async with db.transaction() as session:
        for i in range(len(priorities)):
            await jobs.enqueue(session, "k", {"n": i}, queue=f"q{i}")
    async with db.transaction() as session:
        ids = list((await session.scalars(sa.select(col(Job.id)).order_by(col(Job.id)))).all())[
            -len(priorities) :
        ]
        for job_id, priority in zip(ids, priorities, strict=True):
            await session.execute(sa.update(Job).where(col(Job.id) == job_id).values(priority=priority))
    return [int(i) for i in ids if i is not None]


async def row(db: Database, job_id: int) -> Job:
    async with db.sessions() as session:
        job = await session.get(Job, job_id)
    assert job is not None
    return job


async def test_a_job_waiting_its_turn_is_released_not_failed(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[int] = []

    async def handler(payload: dict[str, Any]) -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise Postpone(30.0, KEY)

    worker = Worker(db, {"k": handler}, retry_policy=lambda exc, n: 1.0)
    (job_id,) = await add(db, 4)
    caplog.set_level(logging.DEBUG, logger="bot")
    assert await worker.run_until_idle() == 1
    waiting = await row(db, job_id)
    assert waiting.waiting_for == KEY and waiting.attempts == 0 and waiting.locked_until is None
    reserved = (waiting.run_at - utcnow()).total_seconds()
    assert 28 < reserved <= 30
    assert worker.stats == {"run": 0, "retried": 0, "failed": 0, "waited": 1}
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [j.id for j in await jobs.unfinished(db, failed_only=False)] == [job_id]
    # Nothing wakes it before its turn; at its turn it runs, its first attempt.
    assert await worker.run_until_idle(horizon=timedelta(seconds=20)) == 0
    assert await worker.run_until_idle(horizon=timedelta(seconds=31)) == 1
    done = await row(db, job_id)
    assert done.done_at is not None and done.attempts == 1 and done.waiting_for is None


async def test_claims_take_the_most_urgent_first_then_the_oldest(db: Database) -> None:
    sev4_old, sev1, sev4_new, unranked, sev2 = await add(db, 4, 1, 4, 100, 2)
    claimed = await jobs.claim(db, limit=4, lease=LEASE)
    assert [j.id for j in claimed] == [sev1, sev2, sev4_old, sev4_new]
    assert [j.id for j in await jobs.claim(db, limit=4, lease=LEASE)] == [unranked]


async def test_the_line_counts_those_before_a_job_and_a_served_job_leaves_it(db: Database) -> None:
    sev4_old, sev4_new, sev1 = await add(db, 4, 4, 1)
    for job_id in (sev4_old, sev4_new, sev1):
        await jobs.wait(db, job_id, utcnow(), KEY)
    line = jobs.WaitingLine(db)
    assert await line.ahead(KEY, job=sev4_new, priority=4) == 2  # the SEV1, and the older SEV4
    assert await line.ahead(KEY, job=sev1, priority=1) == 0
    assert await line.ahead("slack:pins.add", job=sev4_new, priority=4) == 0  # another line
    await line.served(KEY, job=sev1)
    assert await line.ahead(KEY, job=sev4_new, priority=4) == 1
    assert (await row(db, sev1)).waiting_for is None


@pytest.fixture
async def replicas(db: Database) -> Any:
    if db.is_sqlite:
        pytest.skip("one budget for every replica lives in PostgreSQL (SQLite is one process's)")
    pools = [Database(db.url) for _ in range(3)]  # three processes' pools
    yield pools
    for pool in pools:
        await pool.dispose()


async def test_replicas_spend_one_budget_and_never_more_than_its_limit(db: Database, replicas: Any) -> None:
    period = 2.0
    budgets = [SharedCalls(pool, period=period) for pool in replicas]

    async def burst() -> int:
        takes = [b.take(KEY, limit=20, keep=20, ticket=None) for b in budgets for _ in range(15)]
        delays = await asyncio.gather(*takes)
        return sum(1 for d in delays if d.wait == 0)

    assert await burst() == 20  # 45 calls at once from three replicas: the window's 20 go
    assert await burst() == 0  # none more until the window slides
    await asyncio.sleep(window(period) + 0.05)
    assert await burst() == 20
    async with db.sessions() as session:
        kept = await session.scalar(sa.text("SELECT calls FROM slack_budget WHERE key = :k"), {"k": KEY})
    assert len(kept) == 20


async def test_on_postgresql_a_call_is_counted_again_when_answered(db: Database, replicas: Any) -> None:
    budget = SharedCalls(replicas[0], period=60.0)
    first, second = [await budget.take(KEY, limit=20, keep=20, ticket=None) for _ in range(2)]
    await asyncio.sleep(0.2)
    await budget.settle(KEY, first.at)  # answered 0.2 s on
    async with db.sessions() as session:
        kept = await session.scalar(sa.text("SELECT calls FROM slack_budget WHERE key = :k"), {"k": KEY})
    assert kept[0] == second.at and kept[1] >= first.at + 0.2  # in order, the settled one last


async def test_on_postgresql_the_line_is_kept_by_the_budgets_statement(db: Database, replicas: Any) -> None:
    budget = SharedCalls(replicas[0], period=60.0)
    sev4, sev1 = await add(db, 4, 1)
    for job_id in (sev4, sev1):
        await jobs.wait(db, job_id, utcnow(), KEY)
    for _ in range(19):
        assert (await budget.take(KEY, limit=20, keep=20, ticket=None)).wait == 0
    # One call left: the SEV4 waits behind the SEV1, for about a minute (the window's first call).
    delay = await budget.take(KEY, limit=20, keep=20, ticket=Ticket(sev4, 4, KEY))
    assert 59 < delay.wait < 62
    assert (await budget.take(KEY, limit=20, keep=20, ticket=Ticket(sev1, 1, KEY))).wait == 0
    assert (await row(db, sev1)).waiting_for is None and (await row(db, sev4)).waiting_for == KEY


async def test_the_worker_wakes_for_the_turn_it_reserved_not_at_the_next_poll(db: Database) -> None:
    done = asyncio.Event()
    runs: list[float] = []

    async def handler(payload: dict[str, Any]) -> None:
        runs.append(asyncio.get_running_loop().time())
        if len(runs) == 1:
            raise Postpone(0.3, KEY)
        done.set()

    worker = Worker(db, {"k": handler}, poll_interval=30)  # a poll would come far too late
    await add(db, 4)
    task = asyncio.create_task(worker.run_forever())
    try:
        await asyncio.wait_for(done.wait(), timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert 0.3 <= runs[1] - runs[0] < 1.0
