"""The database layer: how SQLite writes and reads are run."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store.db import Database
from bot.store.tables import utcnow
from bot.store.work_tables import ProcessedEvent


async def _thread_of_statements(session: AsyncSession) -> int:
    """The thread that runs this session's SQL, seen from inside SQLite."""
    seen: list[int] = []
    connection = await session.connection()
    raw = await connection.get_raw_connection()

    def record() -> int:
        seen.append(threading.get_ident())
        return 1

    await raw.driver_connection.create_function("warroom_thread", 0, record)  # type: ignore[union-attr]
    await session.execute(sa.text("SELECT warroom_thread()"))
    return seen[0]


async def test_sqlite_writes_run_on_the_loop_and_reads_on_a_thread(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    loop_thread = threading.get_ident()
    async with db.transaction() as session:
        assert await _thread_of_statements(session) == loop_thread
    async with db.sessions() as session:
        assert await _thread_of_statements(session) != loop_thread


async def test_concurrent_sqlite_writers_queue_and_all_commit(db: Database) -> None:
    async def write(i: int) -> None:
        async with db.transaction() as session:
            session.add(ProcessedEvent(key=f"w{i}", processed_at=utcnow()))
            await asyncio.sleep(0)  # give another writer the chance to interleave
            await session.flush()

    await asyncio.gather(*(write(i) for i in range(50)))
    async with db.sessions() as session:
        count = await session.scalar(sa.select(sa.func.count()).select_from(ProcessedEvent))
    assert count == 50


async def test_a_failed_write_rolls_back_and_frees_the_writer(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            session.add(ProcessedEvent(key="lost", processed_at=utcnow()))
            await session.flush()
            raise RuntimeError("boom")
    async with db.transaction() as session:
        session.add(ProcessedEvent(key="kept", processed_at=utcnow()))
    async with db.sessions() as session:
        keys = set(await session.scalars(sa.select(col(ProcessedEvent.key))))
    assert keys == {"kept"}


async def test_a_sqlite_writer_waits_for_another_process_without_stalling_the_loop(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    other_process = sqlite3.connect(make_url(db.url).database or "", isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")  # a `warroom` command holding the write lock
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def ticker() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.005)
            gaps.append(loop.time() - last)
            last = loop.time()

    async def write() -> None:
        async with db.transaction() as session:
            session.add(ProcessedEvent(key="after-the-lock", processed_at=utcnow()))

    ticking = asyncio.create_task(ticker())
    writing = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not writing.done()  # still waiting for the lock...
    other_process.execute("COMMIT")
    await asyncio.wait_for(writing, timeout=5)  # ...and through once it is free
    ticking.cancel()
    other_process.close()
    assert max(gaps) < 0.1, f"the event loop stalled for {max(gaps):.3f} s"
    async with db.sessions() as session:
        assert await session.get(ProcessedEvent, "after-the-lock") is not None


async def test_a_process_keeps_its_pool_size_of_postgresql_connections_and_ten_more_at_a_peak(
    db: Database,
) -> None:
    if db.is_sqlite:
        pytest.skip("PostgreSQL only")
    small = Database(db.url, pool_size=2)
    try:
        pool = small.engine.pool
        assert (pool.size(), pool._max_overflow) == (2, 10)  # type: ignore[attr-defined]
        async with small.sessions() as session:
            assert await session.scalar(sa.text("SELECT 1")) == 1
    finally:
        await small.dispose()
