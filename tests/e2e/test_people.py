"""People by name outside Slack: looked up once per person by a job (never on the ack path),
cached in the database, renamed by Slack's user_change event, and shown in the post-mortem,
the API and the command line."""

from __future__ import annotations

import httpx

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store.tables import PersonRecord
from bot.store.work_tables import Job
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import rows, settle


async def test_names_are_looked_up_once_cached_and_used_in_the_draft(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    assert sim.count("users.info") == 1  # alice, who declared: once, by a job
    for text in (
        f"role scribe <@{people.bob}|bob>",
        "note first",
        "note second",
        f"note ask <@{people.carol}>",
    ):
        response = await slack.command(people.alice, text, channel)
        assert response.status_code == 200
    await slack.command(people.bob, "note I am on it", channel)
    assert sim.count("users.info") == 1  # the acks asked Slack nothing
    await settle(warroom)
    assert sim.count("users.info") == 3  # bob and carol once each, however often they appear
    lookups = await rows(warroom, Job, Job.kind == "slack.lookup_user")
    assert sorted(j.payload["user"] for j in lookups) == sorted([people.alice, people.bob, people.carol])

    await slack.command(people.alice, "postmortem", channel)
    await settle(warroom)
    markdown = (await warroom.postmortems.versions(1))[-1].markdown
    assert "Alice (@alice): commander" in markdown and "Bob (@bob): scribe" in markdown
    assert "[note] Alice (@alice): ask Carol (@carol)" in markdown
    assert "U0000" not in markdown and "\\*" not in markdown


async def test_a_rename_and_a_deactivation_are_picked_up(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    await slack.command(people.bob, "note looking", declared.channel.id)
    await settle(warroom)
    calls = sim.count("users.info")
    renamed = sim.change_user(people.bob, real_name="Robert Jones", name="rjones")
    assert (await slack.event({"type": "user_change", "user": renamed, "event_ts": "1.2"})).status_code == 200
    gone = sim.change_user(people.alice, deleted=True)
    await slack.event({"type": "user_change", "user": gone, "event_ts": "1.3"})
    stranger = sim.add_user("dave")  # not someone warroom has seen: not kept
    await slack.event({"type": "user_change", "user": sim.users[stranger], "event_ts": "1.4"})

    assert sim.count("users.info") == calls  # the event carries the new name
    by_id = {p.user_id: p for p in await rows(warroom, PersonRecord)}
    assert (by_id[people.bob].real_name, by_id[people.bob].handle) == ("Robert Jones", "rjones")
    assert by_id[people.alice].deleted and stranger not in by_id
    await slack.command(people.bob, "postmortem", declared.channel.id)
    await settle(warroom)
    markdown = (await warroom.postmortems.versions(1))[-1].markdown
    assert "[note] Robert Jones (@rjones): looking" in markdown
    assert "Alice (@alice, deactivated): commander" in markdown


async def test_an_id_slack_does_not_know_stays_an_id_and_is_not_asked_again(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    await slack.command(people.alice, "note paged <@U0GHOST>", declared.channel.id)
    await settle(warroom)
    assert sim.count("users.info", ok=False) == 1
    [lookup] = await rows(warroom, Job, Job.payload["user"].as_string() == "U0GHOST")
    assert lookup.done_at is not None and lookup.failed_at is None
    await slack.command(people.bob, "note <@U0GHOST> still silent", declared.channel.id)
    await settle(warroom)
    assert sim.count("users.info", ok=False) == 1
    await slack.command(people.alice, "postmortem", declared.channel.id)
    await settle(warroom)
    assert "paged U0GHOST" in (await warroom.postmortems.versions(1))[-1].markdown


async def test_the_api_names_role_holders(
    warroom: Warroom, http: httpx.AsyncClient, people: People, declared: Declared
) -> None:
    body = (await http.get("/api/incidents/1")).json()
    assert body["roles"] == {"commander": people.alice}
    assert body["role_names"] == {"commander": "Alice (@alice)"}
