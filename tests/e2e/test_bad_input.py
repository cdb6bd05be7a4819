"""Bad input gets a clear ephemeral answer and writes nothing."""

from __future__ import annotations

import pytest

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import Incident, Job, TimelineEvent, count, settle


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("declare", "An incident needs a title"),
        ("declare sev2", "An incident needs a title"),
        ("declare    ", "An incident needs a title"),
        ("declare " + "x" * 500, "That title is 500 characters long; keep it under 150"),
        ("declare sev9 Disk full", "Unknown severity `sev9`. Severities: SEV1, SEV2, SEV3, SEV4."),
        ("declare SEV0 Disk full", "Unknown severity `SEV0`"),
        ("wat", "Unknown command `wat`"),
        ("<!channel>", "Unknown command `&lt;!channel&gt;`"),
    ],
)
async def test_refused_declares_write_nothing(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    general: str,
    text: str,
    expected: str,
) -> None:
    response = await slack.command(people.alice, text, general)
    assert response.status_code == 200
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith(":warning: ")
    assert expected in reply["text"]
    assert await count(warroom, Incident) == 0
    assert await count(warroom, TimelineEvent) == 0
    assert await count(warroom, Job) == 0
    assert sim.calls == []


@pytest.mark.parametrize(
    ("before", "text", "expected"),
    [
        (None, "note", "The note is empty"),
        (None, "note " + "n" * 3001, "That note is 3001 characters long; the limit is 3000."),
        (None, "sev", "Which severity?"),
        ("status identified", "status identified", "The incident is already identified."),
        ("resolve fixed", "note still here", None),  # notes stay possible after resolve: control
    ],
)
async def test_refused_channel_commands_write_nothing(
    warroom: Warroom,
    slack: SlackDriver,
    people: People,
    declared: Declared,
    before: str | None,
    text: str,
    expected: str | None,
) -> None:
    if before:
        await slack.command(people.alice, before, declared.channel.id)
    await settle(warroom)
    events_before = await count(warroom, TimelineEvent)
    response = await slack.command(people.alice, text, declared.channel.id)
    if expected is None:
        assert not response.content
        assert await count(warroom, TimelineEvent) == events_before + 1
        return
    reply = response.json()
    assert reply["response_type"] == "ephemeral" and expected in reply["text"]
    assert await count(warroom, TimelineEvent) == events_before
    assert await settle(warroom) == 0


async def test_long_and_odd_titles_make_valid_channel_names(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    titles = ["Zahlungsausfall: Köln → Düsseldorf!!", "🔥🔥🔥", "a" * 150]
    for title in titles:
        response = await slack.command(people.alice, f"declare {title}", general)
        assert "Declared" in response.json()["text"]
    await settle(warroom)
    names = [sim.channels[(await warroom.queries.get(n)).channel_id or ""].name for n in (1, 2, 3)]
    assert names[0] == "inc-1-zahlungsausfall-koln-dusseldorf"
    assert names[1] == "inc-2"
    assert names[2] == "inc-3-" + "a" * 74 and len(names[2]) == 80


async def test_name_taken_gets_a_suffix(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    sim.add_channel("inc-1-search-is-slow", members=[people.bob])  # someone else's channel
    # warroom's own, from an earlier installation that also had an incident #1 (yesterday)
    old = sim.add_channel("inc-1-search-is-slow-2")
    sim.channels[old].created -= 86400
    await slack.command(people.alice, "declare Search is slow", general)
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.channel_name == "inc-1-search-is-slow-3"
    assert sim.count("conversations.create", ok=False) == 2
    assert sim.count("conversations.create") == 1
