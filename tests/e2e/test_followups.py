"""Follow-ups that close: recorded with an owner, a priority and a due date (typed, or through
the form), listed with Done / Won't do / Reopen buttons that act only from their incident's
channel, on the App Home and in the API, and chased by reminders (a simulated clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from bot.app import Warroom
from bot.clock import simulated
from bot.domain.followups import FollowUpState
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.slack.ids import Action, Field
from bot.store.tables import FollowUp, TimelineEvent
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import rows, settle


def show(sim: SlackSimulator, channel: str, ts: str, blocks: list[dict]) -> None:
    """Put blocks on a message, as the ephemeral list would be when it is clicked on."""
    message = sim.channels[channel].message(ts)
    assert message is not None
    message["blocks"] = blocks


async def reply(slack: SlackDriver, user: str, text: str, channel: str) -> dict:
    response = await slack.command(user, text, channel)
    assert response.status_code == 200
    return dict(response.json()) if response.content else {}


async def test_followups_are_parsed_recorded_and_listed_with_buttons(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    assert (await reply(slack, people.alice, "followups", channel))["text"].startswith(
        "No follow-ups for #1 yet"
    )
    await reply(slack, people.alice, f"followup Alert on queue depth <@{people.bob}|bob> p1 due:7d", channel)
    await reply(slack, people.carol, "followup Canary deploys for search", channel)
    bad = await reply(slack, people.carol, "followup Fix it due:tomorrow", channel)
    assert bad["text"].startswith(":warning: `due:tomorrow`: give a day like `due:2026-12-24`")
    items = await rows(warroom, FollowUp)
    assert [(f.text, f.owner, f.priority, f.state, f.created_by) for f in items] == [
        ("Alert on queue depth", people.bob, "P1", "open", people.alice),
        ("Canary deploys for search", None, "P2", "open", people.carol),
    ]
    first, second = items
    assert first.due_at is not None and second.due_at is not None
    assert timedelta(days=7) - (first.due_at - first.created_at) < timedelta(seconds=1)
    assert second.due_at - second.created_at == timedelta(days=60)  # SEV3: followups.due_after default
    await settle(warroom)
    echoed = [m["text"] for m in sim.messages(channel) if "Follow-up (" in m.get("text", "")]
    assert echoed[0].startswith(f":information_source: Follow-up (P1, owner <@{people.bob}>, due ")

    listing = await reply(slack, people.alice, "followups", channel)
    assert listing["response_type"] == "ephemeral"
    texts = str(listing["blocks"])
    assert (
        "*Follow-ups of #1* (2 open of 2)" in texts
        and f"*P1* Alert on queue depth · <@{people.bob}>" in texts
    )
    done = [b for b in listing["blocks"] if b.get("accessory", {}).get("action_id") == Action.FOLLOWUP_DONE]
    assert [b["accessory"]["value"] for b in done] == [str(first.id), str(second.id)]


async def test_done_wont_do_and_reopen_buttons_act_from_the_incident_channel_only(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    general: str,
) -> None:
    channel = declared.channel.id
    await reply(slack, people.alice, "followup Alert on queue depth", channel)
    [item] = await rows(warroom, FollowUp)
    message = sim.user_post(people.alice, channel, "list")  # the ephemeral list, as a message to click on
    show(sim, channel, message, (await reply(slack, people.alice, "followups", channel))["blocks"])
    await slack.click(people.bob, channel, message, Action.FOLLOWUP_DONE, value=str(item.id))
    await slack.click(people.bob, channel, message, Action.FOLLOWUP_DONE, value=str(item.id))  # twice: once
    [item] = await rows(warroom, FollowUp)
    assert (item.state, item.closed_by) == ("done", people.bob) and item.done_at is not None
    assert "Reopen" in str(sim.responses[-1]["blocks"])  # the list was shown again, current

    elsewhere = sim.user_post(people.alice, general, "x")
    show(sim, general, elsewhere, sim.responses[-1]["blocks"])
    await slack.click(people.bob, general, elsewhere, Action.FOLLOWUP_REOPEN, value=str(item.id))
    assert "from their incident's channel" in sim.responses[-1]["text"]
    assert (await rows(warroom, FollowUp))[0].state == "done"

    show(sim, channel, message, sim.responses[-2]["blocks"])  # with Reopen
    await slack.click(people.bob, channel, message, Action.FOLLOWUP_REOPEN, value=str(item.id))
    show(sim, channel, message, sim.responses[-1]["blocks"])  # open again
    await slack.click(people.carol, channel, message, Action.FOLLOWUP_WONT_DO, value=str(item.id))
    [item] = await rows(warroom, FollowUp)
    assert (item.state, item.closed_by) == ("wont_do", people.carol)
    events = [e.text for e in await rows(warroom, TimelineEvent, TimelineEvent.kind == "followup")]
    assert events[1:] == [
        "Follow-up done: Alert on queue depth",
        "Follow-up open: Alert on queue depth",
        "Follow-up won't do: Alert on queue depth",
    ]


async def test_the_form_the_app_home_and_the_api(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    http: httpx.AsyncClient,
) -> None:
    assert await reply(slack, people.alice, "followup", declared.channel.id) == {}
    view_id = next(reversed(sim.views))
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    values: dict[str, Any] = {
        Field.TITLE: "Rotate the search keys",
        Field.OWNER: people.alice,
        Field.PRIORITY: "P3",
        Field.DUE: tomorrow.isoformat(),
    }
    assert (await slack.submit(people.alice, view_id, values)).status_code == 200
    past: dict[str, Any] = {**values, Field.DUE: date(2020, 1, 1).isoformat()}
    refused = (await slack.submit(people.alice, view_id, past)).json()
    assert refused["errors"][Field.DUE].endswith("is in the past.")
    [item] = await rows(warroom, FollowUp)
    assert (item.text, item.owner, item.priority) == ("Rotate the search keys", people.alice, "P3")

    await slack.open_home(people.alice)
    await settle(warroom)
    home = str(sim.home[people.alice]["blocks"])
    assert "Your follow-ups" in home and "#1 • *P3* Rotate the search keys" in home

    listed = (await http.get("/api/incidents/1/followups")).json()
    assert [(f["text"], f["priority"], f["state"]) for f in listed] == [
        ("Rotate the search keys", "P3", "open")
    ]


async def test_reminders_when_due_and_while_overdue_and_none_once_done(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)

    def reminders() -> list[str]:
        return [m["text"] for m in sim.messages(channel) if ": follow-up (P1)" in m.get("text", "")]

    with simulated(start) as clock:
        await reply(
            slack, people.alice, f"followup Alert on queue depth <@{people.bob}|bob> p1 due:2d", channel
        )
        await settle(warroom)
        clock.advance(days=2, minutes=1)
        await settle(warroom)
        assert reminders() == [
            f":alarm_clock: <@{people.bob}>: follow-up (P1) is due now: Alert on queue depth. "
            "`/incident followups` marks it done or won't do."
        ]
        clock.advance(hours=5)  # the same day: no second reminder
        await settle(warroom)
        clock.advance(hours=19)
        await settle(warroom)
        assert [r.split(" is ")[1].split(":")[0] for r in reminders()] == [
            "due now",
            "overdue by 24 h 01 min",
        ]
        [item] = await rows(warroom, FollowUp)
        await warroom.followups.close(item.id or 0, FollowUpState.DONE, people.bob)
        clock.advance(days=3)
        await settle(warroom)
        assert len(reminders()) == 2


async def test_the_report_counts_follow_ups_done_on_time_late_overdue_and_wont_do(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared, http: httpx.AsyncClient
) -> None:
    channel = declared.channel.id
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    with simulated(start) as clock:
        for title in ("on time due:2d", "late due:1d", "overdue due:1d", "dropped due:1d", "later due:30d"):
            await reply(slack, people.alice, f"followup {title}", channel)
        items = {f.text: f.id or 0 for f in await rows(warroom, FollowUp)}
        await warroom.followups.close(items["on time"], FollowUpState.DONE, people.bob)
        await warroom.followups.close(items["dropped"], FollowUpState.WONT_DO, people.bob)
        clock.advance(days=1, hours=1)
        await warroom.followups.close(items["late"], FollowUpState.DONE, people.bob)
        counts = (await warroom.reports.mttr()).followups
        expected = {"done_on_time": 1, "done_late": 1, "open_overdue": 1, "open": 1, "wont_do": 1}
        assert counts == {"severity": {"SEV3": expected}, "service": {"(no service)": expected}}
        body = (await http.get("/api/reports/mttr", params={"since": "30d"})).json()
        assert body["followups"]["severity"]["SEV3"] == expected
