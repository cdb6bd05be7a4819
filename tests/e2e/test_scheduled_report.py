"""The scheduled MTTR report: posted with its chart in the configured channel on its
schedule (a simulated clock), once per period however many replicas run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.app import Warroom, build
from bot.clock import simulated
from bot.config import WarroomConfig
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store.tables import Job
from tests.conftest import People, make_settings
from tests.e2e.helpers import rows, settle

SUNDAY = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)  # the report is due Monday 09:00 UTC


@pytest.fixture
def config() -> WarroomConfig:
    return WarroomConfig.model_validate({"reports": {"schedule": "weekly", "channel": "general"}})


async def test_the_weekly_report_is_posted_once_per_week_whatever_the_replicas(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    general: str,
    config: WarroomConfig,
) -> None:
    replica = build(make_settings(warroom.db.url, sim), config, run_worker=False, migrate=False)
    try:
        with simulated(SUNDAY) as clock:
            await slack.command(people.alice, "declare sev2 Checkout is down", general)
            clock.advance(minutes=40)
            await settle(warroom)
            channel = (await warroom.queries.get(1)).channel_id or ""
            await slack.command(people.alice, "resolve Rolled back", channel)
            await settle(warroom)

            started = await asyncio.gather(
                warroom.schedules.ensure(), replica.schedules.ensure(), warroom.schedules.ensure()
            )
            assert sorted(started) == [False, False, True]  # three workers start: one schedules
            [job] = await rows(warroom, Job, Job.kind == "report.scheduled")
            assert job.run_at == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

            def reports() -> list[dict]:
                return [m for m in sim.messages(general) if m.get("files")]

            clock.advance(hours=12)  # Monday 08:40: not yet
            await settle(warroom)
            assert reports() == []
            clock.advance(minutes=30)  # 09:10
            await asyncio.gather(settle(warroom), replica.worker.run_until_idle())
            [posted] = reports()
            assert posted["files"][0]["name"].endswith(".png")
            assert posted["text"].startswith("*MTTR report*, from 2026-11-30 09:10 UTC")
            assert "time to resolve mean 40 min" in posted["text"]

            await replica.schedules.ensure()  # a replica restarting mid-week schedules nothing new
            clock.advance(days=7)
            await asyncio.gather(settle(warroom), replica.worker.run_until_idle())
            assert len(reports()) == 2
            scheduled = await rows(warroom, Job, Job.kind == "report.scheduled")
            assert sorted(j.run_at.day for j in scheduled) == [
                7,
                14,
                21,
            ]  # one per week, the next one waiting
    finally:
        await replica.close()
