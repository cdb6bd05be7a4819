"""Engine, sessions and migrations. SQLite (aiosqlite) by default, PostgreSQL (asyncpg) when asked."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE = "warroom_write"  # execution option: this SQLite transaction will write
_READ = "warroom_read"  # execution option: this SQLite session only reads
BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a connection waits for another process's lock
_MIGRATION_LOCK = 7_402_133  # any constant: serialises `db upgrade` across replicas on PostgreSQL


def async_url(url: str) -> str:
    """Map the URLs operators write (sqlite:///x.db, postgresql://...) to async drivers."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres") and "+" not in parsed.drivername:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


class Database:
    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 30) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            # Every aiosqlite connection is a thread; a fixed pool avoids starting threads
            # (and re-running the PRAGMAs) for overflow connections under load.
            kwargs.update(
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, pool_size=4, max_overflow=0, pool_timeout=30
            )
        else:
            # No pre-ping (a round trip per checkout); connections that died with a server
            # restart are detected on use and the pool is refreshed.
            # A pool as large as the concurrency we serve: overflow connections are opened and
            # closed per use, which costs a connect and cold statement caches each time.
            # Custom plans: the hot statements are prepared once per connection, and a generic
            # plan chosen while a table was small (a fresh install, the first minute of an alert
            # storm) keeps scanning it as it grows, until autovacuum happens to analyze it.
            # Each process may open pool_size + 10 connections (DATABASE_POOL_SIZE).
            kwargs.update(
                pool_size=pool_size,
                max_overflow=10,
                pool_recycle=1800,
                connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}},
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        # Reads run in autocommit: no BEGIN/COMMIT round trips around a SELECT. Every write
        # goes through transaction(), which has sessions of its own. (SQLite: the connections
        # are in autocommit already and _tune_sqlite skips the BEGIN for reads.)
        reads = self.engine.execution_options(
            **({_READ: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"})
        )
        self.sessions = async_sessionmaker(reads, expire_on_commit=False)
        self._write_engine = self.engine
        if self.is_sqlite:
            # One writer at a time (the lock below), so one connection, running inline.
            self._write_engine = create_async_engine(
                self.url,
                echo=echo,
                async_creator=partial(_InlineSqlite.open, make_url(self.url).database or ""),
                pool_size=1,
                max_overflow=0,
                pool_timeout=30,
            )
            _tune_sqlite(self._write_engine, busy_timeout_ms=0)
        self._writers = async_sessionmaker(self._write_engine, expire_on_commit=False)
        self._sqlite_writer = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any exception.

        SQLite allows one writer at a time: writers in this process queue on a lock (FIFO,
        no busy-wait sleeps) and take the write lock up front (BEGIN IMMEDIATE), so a write
        never fails halfway for lack of it.
        """
        if not self.is_sqlite:
            async with self._writers() as session, session.begin():
                yield session
            return
        async with self._sqlite_writer, self._writers() as session, session.begin():
            await session.connection(execution_options={_WRITE: True})  # emits BEGIN IMMEDIATE
            yield session

    async def migrate(self) -> None:
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                await conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
            await conn.run_sync(_upgrade)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._write_engine is not self.engine:
            await self._write_engine.dispose()


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _upgrade(connection: sa.Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


class _InlineSqlite(aiosqlite.Connection):
    """An aiosqlite connection that runs its statements on the event loop, not on its thread.

    For SQLite's single writer: a write transaction holds the database's write lock from
    BEGIN IMMEDIATE to COMMIT, and with a thread hand-off per statement (~25 in a declare)
    every writer queued behind it waited for all of them; under 20 concurrent declares that
    was most of the acknowledgement time. On a local WAL file a statement takes
    microseconds, so running it inline blocks the loop less than the hand-off cost. Reads
    keep their threads: a report over 100,000 incidents must not stall the loop. (The
    thread still opens and closes the connection.)

    Inline, the connection never waits for SQLite's lock (busy timeout 0): when another
    process holds it (a `warroom` command, a separate worker), the statement is run again
    on the thread, which waits for the lock as long as the other connections do.
    """

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
        return await super()._execute(self._patiently, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _patiently(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            return fn(*args, **kwargs)
        finally:
            self._conn.execute("PRAGMA busy_timeout=0")

    @classmethod
    def open(cls, path: str) -> _InlineSqlite:
        connection = cls(lambda: sqlite3.connect(path, timeout=0, check_same_thread=False), 64)
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
        return connection


def _tune_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    """WAL for concurrent readers; BEGIN IMMEDIATE so two writers queue instead of deadlocking."""

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        options = conn.get_execution_options()
        if options.get(_READ):
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_WRITE) else "BEGIN")
