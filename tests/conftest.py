"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when WARROOM_TEST_DATABASE_URL
is set), the Slack simulator on a real port, and warroom built around both."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from bot.app import Warroom, build
from bot.config import Settings, WarroomConfig
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.slack_model import BOT_TOKEN
from bot.store import tables as _tables  # noqa: F401  (registers the models)
from bot.store.db import Database, async_url

SIGNING_SECRET = "test-signing-secret"
ALERT_TOKEN = "test-alert-token"
PAGERDUTY_SECRET = "test-pagerduty-secret"
# Every table, children before parents: derived from the models, so a new table is emptied too.
TABLES = [table.name for table in reversed(SQLModel.metadata.sorted_tables)]


async def _create_pg_database(server_url: str, name: str) -> None:
    engine = create_async_engine(async_url(server_url), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()


async def _drop_pg_database(server_url: str, name: str) -> None:
    engine = create_async_engine(async_url(server_url), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


async def _migrate(url: str) -> None:
    db = Database(url)
    await db.migrate()
    await db.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated database for this test session."""
    server = os.environ.get("WARROOM_TEST_DATABASE_URL")
    if server:
        name = f"warroom_test_{os.getpid()}"
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        asyncio.run(_create_pg_database(server, name))
        asyncio.run(_migrate(url))
        yield url
        asyncio.run(_drop_pg_database(server, name))
    else:
        path: Path = tmp_path_factory.mktemp("db") / "warroom.db"
        url = f"sqlite:///{path}"
        asyncio.run(_migrate(url))
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The session database, emptied for this test."""
    database = Database(database_url)
    async with database.engine.begin() as conn:
        if database.is_sqlite:
            for table in TABLES:
                await conn.execute(sa.text(f"DELETE FROM {table}"))
        else:
            await conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield database
    await database.dispose()


@dataclass
class People:
    alice: str
    bob: str
    carol: str


@pytest.fixture
async def sim() -> AsyncIterator[SlackSimulator]:
    simulator = await SlackSimulator().start()
    simulator.add_channel("incidents")
    simulator.add_channel("general")
    yield simulator
    await simulator.stop()


@pytest.fixture
def people(sim: SlackSimulator) -> People:
    return People(
        alice=sim.add_user("alice", email="alice@example.com"),
        bob=sim.add_user("bob", email="bob@example.com"),
        carol=sim.add_user("carol", email="carol@example.com"),
    )


def make_settings(
    database_url: str, sim: SlackSimulator, runbooks_dir: str = "", postmortem_dir: str | None = None
) -> Settings:
    """Settings for a test; no runbooks unless the test names a directory of them."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=sim.api_url,
        database_url=database_url,
        alert_webhook_token=ALERT_TOKEN,
        pagerduty_webhook_secret=PAGERDUTY_SECRET,
        runbooks_dir=runbooks_dir,
        postmortem_dir=postmortem_dir or tempfile.mkdtemp(prefix="warroom-postmortems-"),
        slack_rate_period=0.1,  # tests compress time; tests/reliability/test_rate_limits.py checks the budgets
        readyz_slack_every=0,  # readiness sees Slack go down at once; tests/security checks the cache
    )


@pytest.fixture
def config() -> WarroomConfig:
    """The built-in defaults, but with the API readable without a token (public incidents
    only) and its docs served: what most tests read through. tests/security checks the
    defaults themselves (a token for everything, no docs)."""
    return WarroomConfig.model_validate({"api": {"public_read": True, "docs": True}})


@pytest.fixture
def runbooks_dir() -> str:
    """No runbooks by default; runbook tests override this fixture."""
    return ""


@pytest.fixture
def postmortem_dir(tmp_path: Path) -> Path:
    return tmp_path / "postmortems"


@pytest.fixture
async def warroom(
    db: Database, sim: SlackSimulator, config: WarroomConfig, runbooks_dir: str, postmortem_dir: Path
) -> AsyncIterator[Warroom]:
    """warroom wired to the simulator; its worker is driven by the test (settle)."""
    settings = make_settings(db.url, sim, runbooks_dir, str(postmortem_dir))
    app = build(settings, config, run_worker=False, migrate=False)
    await app.open_connections()
    yield app
    await app.close()


@pytest.fixture
async def http(warroom: Warroom) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=warroom.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom.test") as client:
        yield client


@pytest.fixture
def slack(http: httpx.AsyncClient, sim: SlackSimulator) -> SlackDriver:
    return SlackDriver(http, sim, SIGNING_SECRET)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
