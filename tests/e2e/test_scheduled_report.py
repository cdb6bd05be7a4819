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
from bot.store.work_tables import Job
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
            scheduled = await rows(warroom, Job, Job.kind == "report.scheduled")
            assert sorted((j.payload["name"], j.run_at) for j in scheduled) == [
                ("followup-digest", datetime(2026, 12, 7, 9, 0, tzinfo=UTC)),
                ("mttr-report", datetime(2026, 12, 7, 9, 0, tzinfo=UTC)),
            ]

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
            weekly = [j.run_at.day for j in scheduled if j.payload["name"] == "mttr-report"]
            assert sorted(weekly) == [7, 14, 21]  # one a week, the next one waiting
            assert not [m for m in sim.messages(general) if "Overdue follow-ups" in m.get("text", "")]
    finally:
        await replica.close()


async def test_the_weekly_digest_lists_overdue_follow_ups_in_the_announcement_channel(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    with simulated(SUNDAY) as clock:
        await slack.command(people.alice, "declare sev2 Checkout is down", general)
        await settle(warroom)
        channel = (await warroom.queries.get(1)).channel_id or ""
        await slack.command(
            people.alice, f"followup Alert on queue depth <@{people.bob}|bob> p1 due:1d", channel
        )
        await slack.command(people.alice, "followup Canary deploys due:30d", channel)
        await slack.command(people.alice, "declare private sev1 Payroll leak", general)
        await settle(warroom)
        secret = (await warroom.queries.get(2)).channel_id or ""
        await slack.command(people.alice, "followup Rotate the payroll keys due:1d", secret)
        await warroom.schedules.ensure()
        clock.advance(hours=13, minutes=10)  # Monday 09:10: the follow-ups due in a day are not yet
        await settle(warroom)
        announcements = sim.channel_named("incidents")
        assert announcements is not None
        assert not [m for m in announcements.messages if "Overdue follow-ups" in m.get("text", "")]
        clock.advance(days=7)
        await settle(warroom)
    [digest] = [m for m in announcements.messages if "Overdue follow-ups" in m.get("text", "")]
    body = str(digest["blocks"])
    assert ":hourglass: *Overdue follow-ups* (1)" in body and "*P1* Alert on queue depth" in body
    assert "payroll" not in body.lower()  # a private incident's follow-ups stay private
    assert "Canary" not in body  # not due yet
