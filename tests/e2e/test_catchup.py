"""Catching up: `/incident catchup`, and the same digest shown (only to them) to anyone who
joins an incident channel, once per join event."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.slack_model import BOT_USER_ID
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import settle

RUNBOOK = """\
name: search-slow
description: Search answers slowly.
steps:
  - id: dashboards
    title: Check the search dashboards
    owner: commander
  - id: reindex
    title: Rebuild the index
  - id: sev1-only
    title: Call the vendor
    when: {severities: [SEV1]}
"""


@pytest.fixture
def runbooks_dir(tmp_path: Path) -> str:
    directory = tmp_path / "runbooks"
    directory.mkdir()
    (directory / "search-slow.yaml").write_text(RUNBOOK)
    return str(directory)


async def test_catchup_shows_the_incident_in_one_message(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    for text in (
        "runbook search-slow",
        f"role scribe <@{people.bob}|bob>",
        "status identified Bad index on search_docs",
        "note nothing to see",
        "status monitoring Index rebuilt",
        "status investigating It is back",
        "status identified Second index is bad too",
        f"followup Alert on index size <@{people.carol}|carol>",
    ):
        assert (await slack.command(people.alice, text, channel)).status_code == 200
    await settle(warroom)

    reply = (await slack.command(people.carol, "catchup", channel)).json()
    assert reply["response_type"] == "ephemeral"
    lines = reply["text"].splitlines()
    assert lines[0] == "*Catching up on #1 Search is slow*"
    assert lines[1].startswith("SEV3 · :bulb: identified · started ") and lines[1].endswith(" ago")
    assert lines[2] == f"*Roles*: commander <@{people.alice}> · scribe <@{people.bob}>"
    updates = [line for line in lines if ":arrows_counterclockwise:" in line]
    assert [u.split(":arrows_counterclockwise: ")[1] for u in updates] == [
        f"Status investigating → identified: Second index is bad too (<@{people.alice}>)",
        f"Status monitoring → investigating: It is back (<@{people.alice}>)",
        f"Status identified → monitoring: Index rebuilt (<@{people.alice}>)",
    ]  # the last three, newest first
    assert "*Open runbook steps* (2)" in lines  # the SEV1-only step does not apply
    assert "*Open follow-ups* (1)" in lines and f"• Alert on index size (owner <@{people.carol}>)" in lines

    outside = (await slack.command(people.carol, "catchup", declared.channel.id + "X")).json()["text"]
    assert "works inside an incident channel" in outside


async def test_whoever_joins_is_caught_up_privately_once(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    runbooks_dir: str,
) -> None:
    await slack.command(people.alice, "runbook search-slow", declared.channel.id)
    await settle(warroom)
    dave = sim.add_user("dave")
    joined = sim.join(dave, declared.channel.id)
    for _ in range(2):  # Slack retries a delivery it thinks failed: same event id
        assert (await slack.event(joined, event_id="EvJOIN1")).status_code == 200
    await slack.event(sim.join(BOT_USER_ID, declared.channel.id))  # warroom itself: nothing
    await settle(warroom)

    [shown] = [e for e in sim.ephemeral if e["channel"] == declared.channel.id]
    assert shown["user"] == dave
    assert shown["text"].startswith("*Catching up on #1 Search is slow*")
    assert "*Open runbook steps* (2)" in shown["text"]
    assert "• search-slow 1. Check the search dashboards (owner: commander)" in shown["text"]
    assert "Call the vendor" not in shown["text"]  # a SEV1 step; this is SEV3
    assert "Only you see this" in str(shown["blocks"])
