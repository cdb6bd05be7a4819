"""Private incidents: a private channel, no public announcement, and hidden from the list,
App Home, the API and reports for everyone who is not a member."""

from __future__ import annotations

import httpx

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.slack_model import BOT_USER_ID
from tests.conftest import People
from tests.e2e.helpers import settle


def home_text(sim: SlackSimulator, user: str) -> str:
    return " ".join(b["text"]["text"] for b in sim.home[user]["blocks"] if isinstance(b.get("text"), dict))


async def test_a_private_incident_is_seen_only_by_its_members(
    warroom: Warroom,
    http: httpx.AsyncClient,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    general: str,
) -> None:
    answer = (await slack.command(people.alice, "declare private sev2 Payroll export leaked", general)).json()
    assert answer["text"].startswith(
        ":rotating_light: Declared *#1* SEV2: Payroll export leaked. A private channel"
    )
    await slack.command(people.bob, "declare Search is slow", general)
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.private and incident.channel_id is not None
    channel = sim.channels[incident.channel_id]
    assert channel.is_private and channel.members == {BOT_USER_ID, people.alice}
    announcements = sim.channel_named("incidents")
    assert announcements is not None and ["#2" in str(m["blocks"]) for m in announcements.messages] == [True]

    listed = (await slack.command(people.bob, "list", general)).json()["text"]
    assert "Search is slow" in listed and "Payroll" not in listed
    assert "Payroll" in (await slack.command(people.alice, "list", general)).json()["text"]
    await slack.open_home(people.carol)
    await settle(warroom)
    assert "Search is slow" in home_text(sim, people.carol) and "Payroll" not in home_text(sim, people.carol)

    # A role makes a member: Carol joins as scribe and sees it from then on.
    await slack.command(people.alice, f"role scribe <@{people.carol}|carol>", incident.channel_id)
    await slack.open_home(people.carol)
    await settle(warroom)
    assert "Payroll" in home_text(sim, people.carol)

    assert [i["number"] for i in (await http.get("/api/incidents")).json()] == [2]
    assert (await http.get("/api/incidents/1")).status_code == 404
    assert (await http.get("/api/incidents/1/timeline")).status_code == 404
    report = (await http.get("/api/reports/mttr", params={"since": "1d"})).json()
    assert report["incidents"] == 1  # the public one


async def test_the_declare_form_can_make_an_incident_private(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    await slack.command(people.alice, "", general)
    view = list(sim.views.values())[-1]
    values = {"title": "Payroll export leaked", "severity": "SEV2", "private": ["private"]}
    assert (await slack.submit(people.alice, view["id"], values)).status_code == 200
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.private and sim.channels[incident.channel_id or ""].is_private
