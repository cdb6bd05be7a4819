"""Small helpers for end-to-end tests: run pending jobs, find the incident channel, run the
`warroom` command as a process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Warroom, build
from bot.config import WarroomConfig
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.slack_model import BOT_TOKEN, Channel
from bot.store.db import Database
from bot.store.tables import Incident, TimelineEvent
from bot.store.work_tables import Job
from tests.conftest import ALERT_TOKEN, PAGERDUTY_SECRET, SIGNING_SECRET, make_settings

TEST_CONFIG = Path(__file__).parent.parent / "fixtures" / "warroom.yaml"


async def settle(warroom: Warroom, *, horizon: timedelta = timedelta(0)) -> int:
    """Run every job that is due (within `horizon`), as the worker would."""
    return await warroom.worker.run_until_idle(horizon=horizon)


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as samples by name and labels."""
    response = await http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def incident_channel(warroom: Warroom, sim: SlackSimulator, number: int) -> Channel:
    incident = await warroom.queries.get(number)
    assert incident.channel_id, f"incident #{number} has no channel"
    return sim.channels[incident.channel_id]


async def rows(warroom: Warroom, table: type, *where: Any) -> list:
    """A table's rows, in primary-key order (PostgreSQL promises no order otherwise)."""
    key = list(table.__table__.primary_key.columns)  # type: ignore[attr-defined]
    async with warroom.db.sessions() as session:
        return list((await session.execute(sa.select(table).where(*where).order_by(*key))).scalars())


async def timeline_kinds(warroom: Warroom, number: int) -> list[str]:
    return [e.kind for e in await warroom.queries.timeline(number)]


async def count(warroom: Warroom, table: type) -> int:
    async with warroom.db.sessions() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def environment(db: Database, sim: SlackSimulator, **extra: str) -> dict[str, str]:
    """The environment of a `warroom` process aimed at the test database and simulator."""
    return {
        **os.environ,
        "DATABASE_URL": db.url.replace("+aiosqlite", "").replace("+asyncpg", ""),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": sim.api_url,
        "ALERT_WEBHOOK_TOKEN": ALERT_TOKEN,
        "PAGERDUTY_WEBHOOK_SECRET": PAGERDUTY_SECRET,
        "WARROOM_CONFIG": str(TEST_CONFIG),
        "RUNBOOKS_DIR": "",
        "LOG_FORMAT": "text",
        "SLACK_RATE_PERIOD": "0.1",
        "JOB_LEASE_SECONDS": "15",  # the shortest allowed: a restart takes the job over sooner
        **extra,
    }


async def run_warroom(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run `warroom ARGS...` as a real process; its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


__all__ = [
    "Incident",
    "Job",
    "TimelineEvent",
    "count",
    "environment",
    "incident_channel",
    "rows",
    "run_warroom",
    "settle",
    "timeline_kinds",
]


@contextlib.asynccontextmanager
async def warroom_with(
    db: Database, sim: SlackSimulator, config: WarroomConfig, postmortem_dir: Path, **settings: str
) -> AsyncIterator[Warroom]:
    """The test warroom, with some settings of its own (a tracker's token and URL)."""
    chosen = make_settings(db.url, sim, "", str(postmortem_dir)).model_copy(update=settings)
    app = build(chosen, config, run_worker=False, migrate=False)
    await app.open_connections()
    try:
        yield app
    finally:
        await app.close()


async def followup(
    slack: SlackDriver, user: str, channel: str, text: str = "Alert on queue depth p1"
) -> None:
    """`/incident followup TEXT` in an incident channel, answered silently (it is echoed)."""
    response = await slack.command(user, f"followup {text}", channel)
    assert response.status_code == 200 and not response.content
