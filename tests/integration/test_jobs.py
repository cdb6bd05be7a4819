"""The durable job queue and the worker, on the real database."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import utcnow
from bot.store.work_tables import Job, ProcessedEvent
from bot.worker import Worker

LEASE = timedelta(seconds=60)


async def add(db: Database, *specs: tuple[str, str]) -> list[int]:
    """Enqueue jobs of (kind, queue) in one transaction; return their ids in order."""
    async with db.transaction() as session:
        for i, (kind, queue) in enumerate(specs):
            await jobs.enqueue(session, kind, {"n": i}, queue=queue)
    async with db.sessions() as session:
        ids = (await session.execute(sa.select(col(Job.id)).order_by(col(Job.id)))).scalars()
        return [i for i in ids if i is not None][-len(specs) :]


async def test_one_job_per_queue_at_a_time_in_order(db: Database) -> None:
    a1, a2, b1 = await add(db, ("k", "a"), ("k", "a"), ("k", "b"))
    first = await jobs.claim(db, limit=10, lease=LEASE)
    assert [j.id for j in first] == [a1, b1]
    assert await jobs.claim(db, limit=10, lease=LEASE) == []  # a2 waits for a1
    await jobs.complete(db, a1)
    assert [j.id for j in await jobs.claim(db, limit=10, lease=LEASE)] == [a2]


async def test_a_job_waiting_for_retry_holds_back_its_queue(db: Database) -> None:
    a1, a2 = await add(db, ("k", "a"), ("k", "a"))
    await jobs.claim(db, limit=10, lease=LEASE)
    await jobs.retry_later(db, a1, "boom", utcnow() + timedelta(seconds=30))
    assert await jobs.claim(db, limit=10, lease=LEASE) == []
    later = await jobs.claim(db, limit=10, lease=LEASE, now=utcnow() + timedelta(seconds=31))
    assert [j.id for j in later] == [a1]
    await jobs.give_up(db, a1, "still boom")  # a dead job no longer blocks the queue
    assert [j.id for j in await jobs.claim(db, limit=10, lease=LEASE)] == [a2]


async def test_an_expired_lease_makes_the_job_claimable_again(db: Database) -> None:
    (job_id,) = await add(db, ("k", "a"))
    (claimed,) = await jobs.claim(db, limit=1, lease=LEASE)
    assert claimed.attempts == 1
    assert await jobs.claim(db, limit=1, lease=LEASE) == []  # another worker sees it leased
    (again,) = await jobs.claim(db, limit=1, lease=LEASE, now=utcnow() + LEASE + timedelta(seconds=1))
    assert again.id == job_id and again.attempts == 2


async def test_concurrent_claimers_never_share_a_job(db: Database) -> None:
    await add(db, *[("k", f"q{i}") for i in range(60)])
    batches = await asyncio.gather(*(jobs.claim(db, limit=10, lease=LEASE) for _ in range(8)))
    claimed = [j.id for batch in batches for j in batch]
    assert len(claimed) == len(set(claimed))
    rest = await jobs.claim(db, limit=100, lease=LEASE)
    assert len(claimed) + len(rest) == 60


async def test_worker_retries_then_gives_up_and_reports(db: Database) -> None:
    attempts: list[dict[str, Any]] = []
    reported: list[tuple[int | None, str]] = []

    async def flaky(payload: dict[str, Any]) -> None:
        attempts.append(payload)
        raise ValueError("nope")

    async def report(job: Job, error: str) -> None:
        reported.append((job.id, error))

    worker = Worker(
        db, {"flaky": flaky}, retry_policy=lambda exc, n: 1.0 if n < 3 else None, on_give_up=report
    )
    (job_id,) = await add(db, ("flaky", "a"))
    assert await worker.run_until_idle() == 1  # the retry is due a second later: not yet
    assert await worker.run_until_idle(horizon=timedelta(hours=1)) == 2  # attempts 2 and 3
    assert await worker.run_until_idle(horizon=timedelta(days=1)) == 0
    assert len(attempts) == 3
    assert reported == [(job_id, "ValueError: nope")]
    assert await jobs.counts(db) == {"pending": 0, "done": 0, "failed": 1}
    assert worker.stats == {"run": 0, "retried": 2, "failed": 1, "waited": 0}


async def test_unknown_job_kind_fails_visibly(db: Database) -> None:
    worker = Worker(db, {}, retry_policy=lambda exc, n: None)
    await add(db, ("mystery", "a"))
    await worker.run_until_idle()
    async with db.sessions() as session:
        job = await session.get(Job, 1)
    assert job is not None and job.failed_at is not None
    assert job.last_error == "LookupError: no handler for job kind 'mystery'"


async def test_background_loop_runs_jobs_as_they_are_notified(db: Database) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def handler(payload: dict[str, Any]) -> None:
        started.set()
        await release.wait()

    worker = Worker(db, {"k": handler}, poll_interval=30)  # only notify() can wake it in time
    task = asyncio.create_task(worker.run_forever())
    await asyncio.sleep(0.05)
    await add(db, ("k", "a"))
    worker.notify()
    await asyncio.wait_for(started.wait(), timeout=5)
    task.cancel()  # shutting down while the job is in flight...
    release.set()
    await asyncio.gather(task, return_exceptions=True)
    assert await jobs.counts(db) == {"pending": 0, "done": 1, "failed": 0}  # ...lets it finish


async def test_commits_in_one_process_wake_listeners_in_another(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    woken = asyncio.Event()
    other = Database(db.url)  # a separate pool, as another process would have
    try:
        async with jobs.notifications(other, woken.set):
            await add(db, ("k", "a"))
            await asyncio.wait_for(woken.wait(), timeout=5)
    finally:
        await other.dispose()


async def test_worker_runs_one_job_at_a_time_while_slack_waits_for_acks(db: Database) -> None:
    running = 0
    most = 0
    slack_waiting = True

    async def handler(payload: dict[str, Any]) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.02)
        running -= 1

    worker = Worker(db, {"k": handler}, concurrency=8, poll_interval=0.01, yield_to=lambda: slack_waiting)
    await add(db, *[("k", f"q{i}") for i in range(6)])
    task = asyncio.create_task(worker.run_forever())
    try:
        for _ in range(500):
            if (await jobs.counts(db))["done"] == 3:
                break
            await asyncio.sleep(0.01)
        assert most == 1
        slack_waiting = False  # the acks are out: full speed again
        await add(db, *[("k", f"r{i}") for i in range(8)])
        for _ in range(500):
            if (await jobs.counts(db))["done"] == 14:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert (await jobs.counts(db))["done"] == 14
    assert most > 1


async def test_a_cancelled_worker_stops_even_when_woken_at_the_same_moment(db: Database) -> None:
    # At shutdown, finishing jobs wake the worker just as it is cancelled. Python 3.11's
    # asyncio.wait_for could swallow that cancellation, and `serve` never exited.
    for _ in range(20):
        worker = Worker(db, {}, poll_interval=30)
        task = asyncio.create_task(worker.run_forever())
        await asyncio.sleep(0.01)  # idle, waiting to be woken
        worker.notify()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        assert done == {task}, "the worker ignored its cancellation"
        assert task.cancelled()


async def test_retrying_failed_jobs_gives_them_one_more_attempt(db: Database) -> None:
    dead, alive, other_dead = await add(db, ("k", "a"), ("k", "b"), ("k", "c"))
    await jobs.claim(db, limit=10, lease=LEASE)
    await jobs.give_up(db, dead, "boom")
    await jobs.give_up(db, other_dead, "boom")
    assert [j.id for j in await jobs.unfinished(db, failed_only=True)] == [other_dead, dead]
    assert [j.id for j in await jobs.unfinished(db)] == [other_dead, alive, dead]

    assert await jobs.retry_failed(db, [dead, alive, 999]) == [dead]  # only failed ones
    (again,) = await jobs.claim(db, limit=10, lease=LEASE)
    assert again.id == dead and again.attempts == 2  # an earlier attempt ran: the handler checks
    assert await jobs.retry_failed(db) == [other_dead]
    assert await jobs.counts(db) == {"pending": 3, "done": 0, "failed": 0}


async def test_prune_deletes_only_old_finished_jobs_and_old_delivery_ids(db: Database) -> None:
    old_done, new_done, old_failed, _pending = await add(db, ("k", "a"), ("k", "b"), ("k", "c"), ("k", "d"))
    now = utcnow()
    async with db.transaction() as session:
        await session.execute(
            sa.update(Job).where(col(Job.id) == old_done).values(done_at=now - timedelta(days=40))
        )
        await session.execute(sa.update(Job).where(col(Job.id) == new_done).values(done_at=now))
        await session.execute(
            sa.update(Job).where(col(Job.id) == old_failed).values(failed_at=now - timedelta(days=40))
        )
        session.add(ProcessedEvent(key="Ev-old", processed_at=now - timedelta(days=31)))
        session.add(ProcessedEvent(key="Ev-new", processed_at=now - timedelta(days=1)))

    assert await jobs.prune(db, now - timedelta(days=30)) == {"jobs": 1, "deliveries": 1}
    async with db.sessions() as session:
        left = set(await session.scalars(sa.select(col(Job.id))))
        keys = set(await session.scalars(sa.select(col(ProcessedEvent.key))))
    assert left == {new_done, old_failed, _pending}  # a failed job stays until someone looks
    assert keys == {"Ev-new"}
