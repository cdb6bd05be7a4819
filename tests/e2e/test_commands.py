"""Every /incident subcommand through signed HTTP into the real app; assertions on the
simulator's state and on the database."""

from __future__ import annotations

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import Incident, TimelineEvent, count, rows, settle, timeline_kinds


def bot_lines(channel_messages: list[dict]) -> list[str]:
    return [m["text"] for m in channel_messages if m.get("bot_id") and not m.get("blocks")]


def summary_fields(declared: Declared) -> str:
    message = declared.channel.message(declared.summary_ts)
    assert message is not None
    return " ".join(f["text"] for b in message["blocks"] for f in b.get("fields", []))


async def test_status_changes_echo_update_summary_and_stamp_milestones(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared
) -> None:
    response = await slack.command(
        people.alice, "status identified Bad index on search_docs", declared.channel.id
    )
    assert response.status_code == 200 and not response.content
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.status == "identified" and incident.mitigated_at is None
    assert "identified" in summary_fields(declared)
    assert declared.channel.topic.startswith("SEV3 | identified")
    assert bot_lines(declared.channel.messages)[-1].startswith(
        ":arrows_counterclockwise: Status investigating → identified: Bad index on search_docs"
    )

    await slack.command(people.alice, "status monitoring", declared.channel.id)
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.mitigated_at is not None and incident.resolved_at is None
    assert (await rows(warroom, TimelineEvent, TimelineEvent.kind == "status"))[-1].text == (
        "Status identified → monitoring"
    )


async def test_illegal_transition_is_refused_and_changes_nothing(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared
) -> None:
    response = await slack.command(people.alice, "status closed", declared.channel.id)
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    assert "Cannot go from investigating to closed" in reply["text"]
    assert "identified, monitoring, resolved" in reply["text"]
    assert (await warroom.queries.get(1)).status == "investigating"
    assert await timeline_kinds(warroom, 1) == ["declared", "role"]
    assert await settle(warroom) == 0


async def test_unknown_status_lists_the_statuses(
    slack: SlackDriver, people: People, declared: Declared
) -> None:
    reply = (await slack.command(people.alice, "status fixed", declared.channel.id)).json()["text"]
    assert (
        "Unknown status `fixed`" in reply
        and "investigating, identified, monitoring, resolved, closed" in reply
    )


async def test_severity_change(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    await slack.command(people.bob, "sev 1", declared.channel.id)
    await settle(warroom)
    assert (await warroom.queries.get(1)).severity == "SEV1"
    assert "SEV1" in summary_fields(declared)
    assert (
        bot_lines(declared.channel.messages)[-1]
        == f":rotating_light: Severity SEV3 → SEV1 (by <@{people.bob}>)"
    )
    announcements = sim.channel_named("incidents")
    assert announcements is not None
    assert "*SEV1* incident *#1 Search is slow*" in announcements.messages[0]["blocks"][0]["text"]["text"]

    reply = (await slack.command(people.bob, "sev 9", declared.channel.id)).json()["text"]
    assert "Unknown severity `9`" in reply and "SEV1, SEV2, SEV3, SEV4" in reply
    reply = (await slack.command(people.bob, "sev sev1", declared.channel.id)).json()["text"]
    assert "already SEV1" in reply


async def test_role_assignment_invites_and_keeps_history(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared
) -> None:
    await slack.command(people.alice, f"role scribe <@{people.bob}|bob>", declared.channel.id)
    await slack.command(people.alice, f"role commander <@{people.carol}|carol>", declared.channel.id)
    await settle(warroom)

    assert {people.bob, people.carol} <= declared.channel.members
    roles = (await warroom.queries.roles([1]))[1]
    assert roles == {"commander": people.carol, "scribe": people.bob}
    history = await warroom.queries.role_history(1)
    assert [(h.role, h.user_id, h.ended_at is None) for h in history] == [
        ("commander", people.alice, False),
        ("scribe", people.bob, True),
        ("commander", people.carol, True),
    ]
    assert f"<@{people.carol}>" in summary_fields(declared)
    assert declared.channel.topic.startswith(f"SEV3 | investigating | IC: <@{people.carol}>")


async def test_role_errors(slack: SlackDriver, people: People, declared: Declared) -> None:
    reply = (await slack.command(people.alice, "role pilot <@U123|x>", declared.channel.id)).json()["text"]
    assert "Unknown role `pilot`" in reply and "commander, scribe, comms" in reply
    reply = (await slack.command(people.alice, "role scribe bob", declared.channel.id)).json()["text"]
    assert "is not a Slack user" in reply
    reply = (
        await slack.command(people.alice, f"role commander <@{people.alice}>", declared.channel.id)
    ).json()
    assert "is already the commander" in reply["text"]
    reply = (await slack.command(people.alice, "role", declared.channel.id)).json()["text"]
    assert "Usage:" in reply


async def test_note_and_timeline(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared
) -> None:
    await slack.command(people.bob, "note Restarted search-7 & search-8", declared.channel.id)
    await settle(warroom)
    assert (
        bot_lines(declared.channel.messages)[-1]
        == f":memo: Note from <@{people.bob}>: Restarted search-7 &amp; search-8"
    )

    reply = (await slack.command(people.bob, "timeline", declared.channel.id)).json()
    assert reply["response_type"] == "ephemeral"
    lines = reply["text"].splitlines()
    assert lines[0] == "*Timeline of #1* (UTC)"
    assert "Declared SEV3: Search is slow" in lines[1]
    assert "Restarted search-7 &amp; search-8" in lines[-1]


async def test_a_command_mentioning_payload_is_a_command(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared
) -> None:
    """A slash command's form has no `payload` field; the word in its text must not make it
    look like an interaction (bolt's own parser drops it as "unhandled")."""
    response = await slack.command(
        people.bob, "note payload=retry failed at payload step", declared.channel.id
    )
    assert response.status_code == 200
    await settle(warroom)
    notes = await rows(warroom, TimelineEvent, TimelineEvent.kind == "note")
    assert [n.text for n in notes] == ["payload=retry failed at payload step"]


async def test_resolve_with_summary_then_close(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    await slack.command(people.alice, "resolve Dropped the bad index", declared.channel.id)
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.status == "resolved" and incident.resolve_summary == "Dropped the bad index"
    assert incident.resolved_at is not None and incident.mitigated_at == incident.resolved_at
    summary = declared.channel.message(declared.summary_ts)
    assert summary is not None
    assert [e["action_id"] for b in summary["blocks"] if b["type"] == "actions" for e in b["elements"]] == [
        "take_commander",
        "open_status_modal",
    ]

    await slack.command(people.alice, "close", declared.channel.id)
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.status == "closed" and incident.closed_at is not None
    summary = declared.channel.message(declared.summary_ts)
    assert summary is not None and not [b for b in summary["blocks"] if b["type"] == "actions"]
    reply = (await slack.command(people.alice, "sev 1", declared.channel.id)).json()["text"]
    assert "closed" in reply


async def test_resolved_incident_reopens(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared
) -> None:
    await slack.command(people.alice, "resolve fixed", declared.channel.id)
    await slack.command(people.alice, "status investigating it is back", declared.channel.id)
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert (
        incident.status == "investigating"
        and incident.resolved_at is None
        and incident.mitigated_at is not None
    )
    assert bot_lines(declared.channel.messages)[-1].startswith(
        ":arrows_counterclockwise: Reopened: status resolved → investigating: it is back"
    )


async def test_list_and_help_work_anywhere(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared, general: str
) -> None:
    reply = (await slack.command(people.carol, "list", general)).json()["text"]
    assert reply.startswith("*Open incidents*")
    assert (
        f"*#1* SEV3 · investigating · Search is slow · IC <@{people.alice}> · <#{declared.channel.id}>"
        in reply
    )

    help_text = (await slack.command(people.carol, "help", general)).json()["text"]
    for sub in ("declare", "list", "status", "sev N", "role", "note", "timeline", "resolve", "close"):
        assert sub in help_text


async def test_list_when_nothing_is_open(slack: SlackDriver, people: People, general: str) -> None:
    assert (await slack.command(people.carol, "list", general)).json()["text"] == ":sunny: No open incidents."


async def test_channel_commands_outside_an_incident_channel(
    warroom: Warroom, slack: SlackDriver, people: People, general: str
) -> None:
    reply = (await slack.command(people.alice, "note hello", general)).json()["text"]
    assert "works inside an incident channel" in reply
    assert await count(warroom, TimelineEvent) == 0


async def test_unknown_subcommand(warroom: Warroom, slack: SlackDriver, people: People, general: str) -> None:
    reply = (await slack.command(people.alice, "frobnicate now", general)).json()["text"]
    assert reply.startswith(":warning: Unknown command `frobnicate`")
    assert "declare, drill, list, report, help, status" in reply
    assert await count(warroom, Incident) == 0
