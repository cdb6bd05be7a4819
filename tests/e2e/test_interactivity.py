"""Modals, buttons on the pinned summary, the :pushpin: reaction and the App Home tab."""

from __future__ import annotations

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import Incident, TimelineEvent, count, rows, settle, timeline_kinds


def last_view(sim: SlackSimulator) -> dict:
    return sim.views[next(reversed(sim.views))]


async def test_declare_modal_opens_and_declares_once(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    response = await slack.command(people.alice, "", general)
    assert response.status_code == 200 and not response.content
    view = last_view(sim)
    assert view["callback_id"] == "declare"
    assert [b["block_id"] for b in view["blocks"]] == [
        "title",
        "severity",
        "commander",
        "description",
        "private",
    ]

    values = {
        "title": "Payments <!channel> down",
        "severity": "SEV1",
        "commander": people.bob,
        "description": "card auths fail",
    }
    first = await slack.submit(people.alice, view["id"], values)
    again = await slack.submit(people.alice, view["id"], values)  # a double click on "Declare"
    assert first.status_code == again.status_code == 200
    assert await count(warroom, Incident) == 1
    incident = await warroom.queries.get(1)
    assert (incident.severity, incident.description, incident.reporter_id) == (
        "SEV1",
        "card auths fail",
        people.alice,
    )
    assert (await warroom.queries.roles([1]))[1] == {"commander": people.bob}

    await settle(warroom)
    channel = sim.channels[(await warroom.queries.get(1)).channel_id or ""]
    assert channel.name == "inc-1-payments-channel-down"
    assert {people.alice, people.bob} <= channel.members
    header = channel.messages[0]["blocks"][0]["text"]["text"]
    assert header == "#1 Payments <!channel> down"  # plain_text: Slack shows it literally, pings nobody
    announcement = sim.channel_named("incidents")
    assert (
        announcement is not None
        and "&lt;!channel&gt;" in announcement.messages[0]["blocks"][0]["text"]["text"]
    )


async def test_declare_modal_rejects_an_empty_title_on_the_form(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    await slack.command(people.alice, "", general)
    response = await slack.submit(people.alice, last_view(sim)["id"], {"title": "   ", "severity": "SEV2"})
    body = response.json()
    assert body["response_action"] == "errors" and "needs a title" in body["errors"]["title"]
    assert await count(warroom, Incident) == 0


async def test_take_commander_button(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    response = await slack.click(people.bob, declared.channel.id, declared.summary_ts, "take_commander")
    assert response.status_code == 200
    again = await slack.click(people.bob, declared.channel.id, declared.summary_ts, "take_commander")
    assert again.status_code == 200
    await settle(warroom)
    assert (await warroom.queries.roles([1]))[1]["commander"] == people.bob
    assert len([r for r in await warroom.queries.role_history(1) if r.user_id == people.bob]) == 1
    assert sim.responses[-1]["text"] == f":warning: <@{people.bob}> is already the commander."
    assert sim.responses[-1]["response_type"] == "ephemeral"


async def test_update_status_button_and_modal(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    await slack.click(people.alice, declared.channel.id, declared.summary_ts, "open_status_modal")
    view = last_view(sim)
    assert view["callback_id"] == "status_update" and view["private_metadata"] == "1"
    options = [o["value"] for o in view["blocks"][1]["element"]["options"]]
    assert options == ["identified", "monitoring", "resolved"]

    response = await slack.submit(
        people.alice, view["id"], {"status": "monitoring", "message": "failover done"}
    )
    assert response.status_code == 200 and not response.content
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.status == "monitoring" and incident.mitigated_at is not None
    assert declared.channel.messages[-1]["text"].startswith(
        ":arrows_counterclockwise: Status investigating → monitoring: failover done"
    )


async def test_resolve_button_and_modal(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    await slack.click(people.bob, declared.channel.id, declared.summary_ts, "open_resolve_modal")
    view = last_view(sim)
    assert view["callback_id"] == "resolve"
    empty = await slack.submit(people.bob, view["id"], {"summary": " "})
    assert empty.json()["errors"]["summary"] == "Say in a sentence what fixed it."
    await slack.submit(people.bob, view["id"], {"summary": "Rebuilt the index"})
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert (incident.status, incident.resolve_summary) == ("resolved", "Rebuilt the index")
    summary = declared.channel.message(declared.summary_ts)
    assert summary is not None and any(
        b.get("text", {}).get("text") == "*Resolution*\nRebuilt the index" for b in summary["blocks"]
    )


async def test_resolve_command_without_summary_opens_the_form(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    response = await slack.command(people.alice, "resolve", declared.channel.id)
    assert response.status_code == 200 and not response.content
    assert last_view(sim)["callback_id"] == "resolve"
    assert (await warroom.queries.get(1)).status == "investigating"


async def test_buttons_on_a_closed_incident_explain_instead_of_acting(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    old_message = dict(declared.channel.message(declared.summary_ts) or {})  # the summary as first posted
    await slack.command(people.alice, "resolve done", declared.channel.id)
    await slack.command(people.alice, "close", declared.channel.id)
    await settle(warroom)
    declared.channel.messages.append({**old_message, "ts": "1.000001"})  # a stale copy still shows buttons
    views_before = len(sim.views)
    await slack.click(people.bob, declared.channel.id, "1.000001", "open_status_modal")
    assert len(sim.views) == views_before
    assert sim.responses[-1]["text"] == ":warning: Incident #1 is closed."
    await slack.click(people.bob, declared.channel.id, "1.000001", "take_commander")
    assert "closed" in sim.responses[-1]["text"]
    assert (await warroom.queries.roles([1]))[1]["commander"] == people.alice


async def test_pushpin_reaction_records_the_message_once_at_its_own_time(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    ts = sim.user_post(people.bob, declared.channel.id, "p99 latency is 9s since 10:02 <!here>")
    first = await slack.react(people.carol, declared.channel.id, ts, event_id="EvPIN1")
    retry = await slack.react(people.carol, declared.channel.id, ts, event_id="EvPIN1")  # Slack retries
    other = await slack.react(
        people.alice, declared.channel.id, ts, event_id="EvPIN2"
    )  # someone else pins too
    assert first.status_code == retry.status_code == other.status_code == 200
    await settle(warroom)

    pinned = await rows(warroom, TimelineEvent, TimelineEvent.kind == "pinned")
    assert len(pinned) == 1
    assert pinned[0].text == "p99 latency is 9s since 10:02 <!here>"
    assert pinned[0].actor == people.bob
    assert pinned[0].at.timestamp() == float(ts)
    assert pinned[0].source == f"slack:{declared.channel.id}:{ts}"
    assert sim.count("conversations.history") == 2  # the second delivery id fetched, found it recorded

    reply = (await slack.command(people.alice, "timeline", declared.channel.id)).json()["text"]
    assert "&lt;!here&gt;" in reply and "<!here>" not in reply


async def test_other_reactions_and_other_channels_are_ignored(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    general: str,
) -> None:
    ts = sim.user_post(people.bob, declared.channel.id, "lunch?")
    await slack.react(people.carol, declared.channel.id, ts, reaction="tada")
    elsewhere = sim.user_post(people.bob, general, "unrelated")
    await slack.react(people.carol, general, elsewhere)
    await settle(warroom)
    assert await timeline_kinds(warroom, 1) == ["declared", "role"]


async def test_app_home_lists_open_incidents(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    response = await slack.open_home(people.carol)
    assert response.status_code == 200
    await settle(warroom)
    home = sim.home[people.carol]
    assert home["type"] == "home"
    text = " ".join(b["text"]["text"] for b in home["blocks"] if isinstance(b.get("text"), dict))
    assert "Open incidents" in text and "*#1* SEV3 · investigating · Search is slow" in text

    await slack.command(people.alice, "resolve done", declared.channel.id)
    await slack.command(people.alice, "close", declared.channel.id)
    await slack.open_home(people.carol)
    await settle(warroom)
    text = " ".join(
        b["text"]["text"] for b in sim.home[people.carol]["blocks"] if isinstance(b.get("text"), dict)
    )
    assert "No open incidents" in text
