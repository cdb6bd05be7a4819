"""Requests that are not from Slack change nothing: bad signature, stale timestamp,
tampered body. User text cannot ping a channel or break out of its place."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from bot.app import Warroom
from bot.sim.driver import SlackDriver, signed_headers
from bot.sim.server import SlackSimulator
from tests.conftest import SIGNING_SECRET, People
from tests.e2e.helpers import Incident, Job, count, settle

CONTENT_TYPE = "application/x-www-form-urlencoded"


async def assert_nothing_happened(warroom: Warroom, sim: SlackSimulator) -> None:
    assert await count(warroom, Incident) == 0
    assert await count(warroom, Job) == 0
    assert sim.calls == []


def forged(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed_headers("not-the-secret", body, CONTENT_TYPE)


def stale(body: bytes) -> tuple[bytes, dict[str, str]]:  # older than Slack's five minutes
    return body, signed_headers(SIGNING_SECRET, body, CONTENT_TYPE, timestamp=int(time.time()) - 301)


def tampered(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body.replace(b"sev4", b"sev1"), signed_headers(SIGNING_SECRET, body, CONTENT_TYPE)


def unsigned(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {"Content-Type": CONTENT_TYPE}


@pytest.mark.parametrize("attack", [forged, stale, tampered, unsigned])
async def test_requests_not_signed_by_slack_are_refused_and_change_nothing(
    warroom: Warroom,
    http: httpx.AsyncClient,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    general: str,
    attack: Callable[[bytes], tuple[bytes, dict[str, str]]],
) -> None:
    body, headers = attack(slack.command_body(people.alice, "declare sev4 Small thing", general))
    response = await http.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    await assert_nothing_happened(warroom, sim)


async def test_broadcast_mentions_in_titles_and_notes_are_escaped(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    reply = (await slack.command(people.alice, "declare <!channel> DB down @here <!here>", general)).json()[
        "text"
    ]
    assert "&lt;!channel&gt; DB down @here &lt;!here&gt;" in reply
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.title == "<!channel> DB down @here <!here>"  # stored as typed
    channel = sim.channels[incident.channel_id or ""]
    await slack.command(people.bob, "note <!everyone> look at <https://grafana.example/d/1|this>", channel.id)
    await settle(warroom)

    everything = [m.get("text", "") for c in sim.channels.values() for m in c.messages]
    everything += [str(b) for c in sim.channels.values() for m in c.messages for b in m.get("blocks", [])]
    for broadcast in ("<!channel>", "<!here>", "<!everyone>"):
        assert not any(broadcast in text and "plain_text" not in text for text in everything), broadcast
    assert channel.messages[-1]["text"] == (
        f":memo: Note from <@{people.bob}>: &lt;!everyone&gt; look at <https://grafana.example/d/1>"
    )
