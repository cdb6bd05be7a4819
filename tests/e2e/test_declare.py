"""Declaring an incident with the slash command, end to end."""

from __future__ import annotations

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.slack_model import BOT_USER_ID
from tests.conftest import People
from tests.e2e.helpers import Incident, TimelineEvent, count, incident_channel, settle


async def test_declare_opens_channel_summary_topic_and_announcement(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People
) -> None:
    general = sim.channel_named("general")
    assert general is not None
    response = await slack.command(people.alice, "declare sev2 Checkout is failing", general.id)

    assert response.status_code == 200
    assert "Declared *#1* SEV2" in response.json()["text"]
    incident = await warroom.queries.get(1)
    assert (incident.title, incident.severity, incident.status) == (
        "Checkout is failing",
        "SEV2",
        "investigating",
    )
    assert incident.acknowledged_at == incident.declared_at
    assert incident.channel_id is None  # committed first, projected into Slack by the worker

    await settle(warroom)

    channel = await incident_channel(warroom, sim, 1)
    assert channel.name == "inc-1-checkout-is-failing"
    assert channel.members == {BOT_USER_ID, people.alice}
    incident = await warroom.queries.get(1)
    assert channel.pins == [incident.summary_ts]
    summary = channel.message(incident.summary_ts or "")
    assert summary is not None
    assert summary["blocks"][0]["text"]["text"] == "#1 Checkout is failing"
    actions = [e["action_id"] for b in summary["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["take_commander", "open_status_modal", "open_resolve_modal"]
    assert channel.topic.startswith(f"SEV2 | investigating | IC: <@{people.alice}>")
    announcements = sim.channel_named("incidents")
    assert announcements is not None and len(announcements.messages) == 1
    assert f"<#{channel.id}>" in announcements.messages[0]["blocks"][0]["text"]["text"]
    assert await count(warroom, Incident) == 1
    assert [e.kind for e in await warroom.queries.timeline(1)] == ["declared", "role"]
    assert await count(warroom, TimelineEvent) == 2
