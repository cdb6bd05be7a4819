"""Finding 1: the access policy cannot be walked around. Handing out the commander role and
reopening follow the same rule as resolving; the triage post's Declare button follows
`access.declarers`; a click or a form acts only on the incident of its own channel, and only
on an incident the person may see."""

from __future__ import annotations

import httpx

from bot.app import Warroom
from bot.config import WarroomConfig
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from tests import payloads
from tests.conftest import ALERT_TOKEN, People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import Incident, count, settle, timeline_kinds
from tests.e2e.test_access import admin, config, reply  # the same people and groups

__all__ = ["admin", "config"]


def last_ephemeral(sim: SlackSimulator) -> str:
    return str(sim.responses[-1]["text"])


async def test_nobody_outside_the_policy_makes_themselves_commander(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    before = await timeline_kinds(warroom, 1)
    refused = await reply(slack, people.bob, f"role commander <@{people.bob}|bob>", channel)
    assert refused.startswith(":warning: You may not hand out the commander role of #1: only its commander")
    await slack.click(people.bob, channel, declared.summary_ts, "take_commander")
    assert last_ephemeral(sim).startswith(":warning: You may not hand out the commander role of #1")
    assert (await warroom.queries.roles([1]))[1]["commander"] == people.alice
    assert await timeline_kinds(warroom, 1) == before
    # ...so the resolve that the stolen role would have allowed is still refused.
    assert (await reply(slack, people.bob, "resolve done", channel)).startswith(":warning: You may not")

    # Other roles are anyone's to take; the commander and responders may hand out commander.
    assert await reply(slack, people.bob, f"role scribe <@{people.bob}|bob>", channel) == ""
    assert await reply(slack, people.carol, f"role commander <@{people.carol}|carol>", channel) == ""
    assert (await warroom.queries.roles([1]))[1] == {"commander": people.carol, "scribe": people.bob}


async def test_reopening_follows_the_resolve_policy(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    assert await reply(slack, people.alice, "resolve Restarted it", channel) == ""
    refused = await reply(slack, people.bob, "status investigating", channel)
    assert refused.startswith(":warning: You may not reopen #1: only its commander")
    assert (await warroom.queries.get(1)).status == "resolved"
    assert await reply(slack, people.carol, "status investigating", channel) == ""  # a responder
    assert (await warroom.queries.get(1)).status == "investigating"


async def test_the_triage_declare_button_follows_access_declarers(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator, slack: SlackDriver, people: People
) -> None:
    warroom.alerts.config = WarroomConfig.model_validate({"alerts": {"default": {"action": "triage"}}})
    delivered = await http.post(
        "/webhooks/alertmanager",
        content=payloads.alertmanager([payloads.alertmanager_alert()]),
        headers={"Authorization": f"Bearer {ALERT_TOKEN}"},
    )
    assert delivered.json()["triaged"] == 1
    await settle(warroom)
    triage = sim.channel_named("incidents")
    assert triage is not None
    (post,) = [m for m in triage.messages if "needs a look" in m["text"]]
    await slack.click(people.carol, triage.id, post["ts"], "declare_from_alert")  # not a declarer
    assert last_ephemeral(sim).startswith(":warning: Only members of")
    assert await count(warroom, Incident) == 0
    await slack.click(people.bob, triage.id, post["ts"], "declare_from_alert")
    assert await count(warroom, Incident) == 1


async def test_a_button_acts_only_on_the_incident_of_its_own_channel(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    general: str,
) -> None:
    # Bob declares #2 and is its commander; a click in #2's channel that names #1 does nothing.
    await slack.command(people.bob, "declare Checkout is slow", general)
    await settle(warroom)
    second = await warroom.queries.get(2)
    assert second.channel_id and second.summary_ts
    await slack.click(people.bob, second.channel_id, second.summary_ts, "take_commander", value="1")
    assert "does not belong to this channel" in last_ephemeral(sim)
    await slack.click(people.bob, second.channel_id, second.summary_ts, "open_resolve_modal", value="1")
    assert "does not belong to this channel" in last_ephemeral(sim)
    await slack.click(people.bob, second.channel_id, second.summary_ts, "take_commander", value="x;1")
    assert last_ephemeral(sim) == ":warning: That button is not one of warroom's buttons."
    assert (await warroom.queries.roles([1]))[1] == {"commander": people.alice}


async def test_forms_and_clicks_never_reach_an_incident_the_person_may_not_see(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    await slack.command(people.alice, "declare private sev2 Payroll export leaked", general)
    await slack.command(people.bob, "declare Search is slow", general)
    await settle(warroom)
    public = await warroom.queries.get(2)
    assert public.channel_id
    before = await timeline_kinds(warroom, 1)
    # Bob opens #2's resolve form, and the submission is forged to name private #1.
    await slack.command(people.bob, "resolve", public.channel_id)
    view = list(sim.views.values())[-1]
    sim.views[view["id"]] = {**view, "private_metadata": "1"}
    answer = (await slack.submit(people.bob, view["id"], {"summary": "gone"})).json()
    assert answer == {"response_action": "errors", "errors": {"summary": "There is no incident #1."}}
    sim.views[view["id"]] = {**view, "private_metadata": "not a number"}
    answer = (await slack.submit(people.bob, view["id"], {"summary": "gone"})).json()
    assert answer["errors"]["summary"] == "That form is not one of warroom's forms."
    assert (await warroom.queries.get(1)).status == "investigating"
    assert await timeline_kinds(warroom, 1) == before
