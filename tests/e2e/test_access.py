"""Who may do what (warroom.yaml `access`): refusals are ephemeral, say who may, and change
nothing; user group membership is read from Slack (usergroups.users.list) and cached."""

from __future__ import annotations

import httpx
import pytest

from bot.app import Warroom
from bot.config import WarroomConfig
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from tests import payloads
from tests.conftest import ALERT_TOKEN, People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import settle


@pytest.fixture
def admin(sim: SlackSimulator) -> str:
    return sim.add_user("dana")


@pytest.fixture
def config(sim: SlackSimulator, people: People, admin: str) -> WarroomConfig:
    """Alice and Bob may declare; Carol is a responder; Dana is an admin."""
    declarers = sim.add_usergroup([people.alice, people.bob])
    responders = sim.add_usergroup([people.carol])
    return WarroomConfig.model_validate(
        {"access": {"declarers": declarers, "responders": responders, "admins": [admin]}}
    )


async def reply(slack: SlackDriver, user: str, text: str, channel: str) -> str:
    response = await slack.command(user, text, channel)
    return str(response.json()["text"]) if response.content else ""


async def test_only_the_commander_responders_and_admins_may_resolve_close_or_change_severity(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared, admin: str
) -> None:
    channel = declared.channel.id
    before = [e.kind for e in await warroom.queries.timeline(1)]
    refused = await reply(slack, people.bob, "resolve It was DNS", channel)
    group = warroom.config.access.responders
    assert refused == (
        f":warning: You may not resolve #1: only its commander (<@{people.alice}>), members of "
        f"<!subteam^{group}> or an admin may."
    )
    assert (await reply(slack, people.bob, "sev 1", channel)).startswith(
        ":warning: You may not change the severity of #1"
    )
    # The Resolve button's form refuses on the form, too.
    await slack.command(people.bob, "resolve", channel)
    view = list(sim.views.values())[-1]
    answer = (await slack.submit(people.bob, view["id"], {"summary": "DNS"})).json()
    assert answer["response_action"] == "errors" and "You may not resolve #1" in answer["errors"]["summary"]
    assert [e.kind for e in await warroom.queries.timeline(1)] == before  # nothing changed
    assert (await warroom.queries.get(1)).status == "investigating"

    assert await reply(slack, people.carol, "sev 2", channel) == ""  # a responder
    assert await reply(slack, people.alice, "resolve Restarted the resolver", channel) == ""  # the commander
    assert await reply(slack, admin, "close", channel) == ""  # an admin
    assert (await warroom.queries.get(1)).status == "closed"
    await settle(warroom)
    assert sim.count("usergroups.users.list") == 2  # once per group (declarers, responders): cached


async def test_only_declarers_may_declare_but_alerts_always_can(
    warroom: Warroom, http: httpx.AsyncClient, slack: SlackDriver, people: People, general: str, admin: str
) -> None:
    refused = await reply(slack, people.carol, "declare Search is slow", general)
    group = warroom.config.access.declarers
    assert refused == f":warning: Only members of <!subteam^{group}> or an admin may declare incidents here."
    assert await warroom.queries.list_incidents() == []
    assert "Declared *#1*" in await reply(slack, people.bob, "declare Search is slow", general)
    assert "Declared *#2*" in await reply(slack, admin, "declare Checkout is slow", general)
    delivered = await http.post(
        "/webhooks/generic", content=payloads.generic(), headers={"Authorization": f"Bearer {ALERT_TOKEN}"}
    )
    assert delivered.json()["declared"] == [3]


def test_access_ids_are_checked_at_start() -> None:
    with pytest.raises(ValueError, match="'responders' is not a Slack user group id"):
        WarroomConfig.model_validate({"access": {"responders": "responders"}})
    with pytest.raises(ValueError, match="'@dana' is not a Slack user id"):
        WarroomConfig.model_validate({"access": {"admins": ["@dana"]}})
