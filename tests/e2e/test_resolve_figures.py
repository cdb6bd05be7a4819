"""MTTR where it matters: a resolved incident's announcement, and its post-mortem, say how
long it took beside its severity's recent p50 and p90 (on a simulated clock, so that the
incidents take minutes)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app import Warroom
from bot.clock import simulated
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from tests.conftest import People
from tests.e2e.helpers import settle


async def test_closing_announces_the_time_to_resolve_beside_recent_figures(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    with simulated(datetime.now(UTC).replace(microsecond=0)) as clock:
        for number, minutes in ((1, 30), (2, 90), (3, 60)):
            await slack.command(people.alice, f"declare sev3 Search is slow ({number})", general)
            await settle(warroom)
            clock.advance(minutes=minutes)
            channel = (await warroom.queries.get(number)).channel_id or ""
            await slack.command(people.alice, "resolve Dropped the bad index", channel)
            await settle(warroom)
            clock.advance(minutes=5)
        await slack.command(people.alice, "close", channel)
        await settle(warroom)

    announcements = sim.channel_named("incidents")
    assert announcements is not None
    third = next(m for m in announcements.messages if "Search is slow (3)" in str(m["blocks"]))
    line = third["blocks"][-1]["elements"][0]["text"]
    assert line == (
        ":stopwatch: Resolved in 1 h 00 min; SEV3 median over the last 90 days: 1 h 00 min, "
        "p90 1 h 24 min (3 incidents)"
    )
    draft = (await warroom.postmortems.versions(3))[-1].markdown
    assert (
        "| Compared with recent incidents | Resolved in 1 h 00 min; SEV3 median over the last 90 days"
        in draft
    )
    first = next(m for m in announcements.messages if "Search is slow (1)" in str(m["blocks"]))
    assert "Resolved in 30 min; no other" not in str(first["blocks"])  # it was compared with itself then
    assert "Resolved in 30 min; SEV3 median over the last 90 days: 30 min, p90 30 min (1 incident)" in str(
        first["blocks"]
    )
