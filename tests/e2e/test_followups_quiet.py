"""`followups.quiet_weekends: true`: no follow-up reminders on Saturdays and Sundays; Monday
brings the overdue one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.app import Warroom
from bot.clock import simulated
from bot.config import WarroomConfig
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import settle

FRIDAY = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def config() -> WarroomConfig:
    return WarroomConfig.model_validate({"followups": {"quiet_weekends": True}})


async def test_no_reminders_at_the_weekend(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    def reminders() -> list[str]:
        return [
            m["text"] for m in sim.messages(declared.channel.id) if ": follow-up (P2)" in m.get("text", "")
        ]

    with simulated(FRIDAY) as clock:
        await slack.command(people.alice, "followup Rotate the keys due:1d", declared.channel.id)
        await settle(warroom)
        for _ in range(2):  # Saturday and Sunday, 10:00
            clock.advance(days=1)
            await settle(warroom)
        assert reminders() == []
        clock.advance(days=1)  # Monday
        await settle(warroom)
        assert [r.split(" is ")[1].split(":")[0] for r in reminders()] == ["overdue by 2 d 0 h"]
