"""Findings 2, 11 and 12 on /slack/events: the body is capped and its signature checked over
the raw bytes before anything parses it; bad input gets 400 or 401, never 500; a signed
request replayed inside Slack's five-minute window is refused."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest

from bot.app import Warroom
from bot.sim.driver import SlackDriver, signed_headers
from bot.sim.server import SlackSimulator
from bot.web.guard import SLACK_MAX_BODY
from tests.conftest import SIGNING_SECRET, People
from tests.e2e.helpers import Incident, Job, count

FORM = "application/x-www-form-urlencoded"


async def nothing_happened(warroom: Warroom, sim: SlackSimulator) -> None:
    assert await count(warroom, Incident) == 0
    assert await count(warroom, Job) == 0
    assert sim.calls == []


async def test_an_oversized_body_is_refused_before_it_is_read(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    huge = b"a=" + b"x" * (64 * 1024 * 1024)
    began = time.perf_counter()
    response = await http.post("/slack/events", content=huge, headers={"Content-Type": FORM})
    assert response.status_code == 413
    assert response.json() == {"error": f"body larger than {SLACK_MAX_BODY} bytes"}

    async def trickle() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(64):
            yield b"x" * (64 * 1024)

    chunked = await http.post("/slack/events", content=trickle(), headers={"Content-Type": FORM})
    assert chunked.status_code == 413
    assert time.perf_counter() - began < 5  # was 21 s of a stalled event loop
    await nothing_happened(warroom, sim)


def signed(body: bytes, content_type: str = FORM) -> dict[str, str]:
    return signed_headers(SIGNING_SECRET, body, content_type)


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b'{"type": "event_callback"', None, 401, "X-Slack-Request-Timestamp and X-Slack-Signature"),
        (b"text=hi", {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"}, 401, "Unix time"),
        (b"text=hi", {"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": "v0=00"}, 401, "Unix time"),
        (b"text=hi", {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=zz"}, 401, "five minutes"),
    ],
)
async def test_unsigned_or_badly_signed_requests_get_401_before_parsing(
    warroom: Warroom,
    http: httpx.AsyncClient,
    sim: SlackSimulator,
    body: bytes,
    headers: dict[str, str] | None,
    status: int,
    error: str,
) -> None:
    response = await http.post(
        "/slack/events", content=body, headers={"Content-Type": FORM, **(headers or {})}
    )
    assert response.status_code == status
    assert error in response.json()["error"]
    await nothing_happened(warroom, sim)


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b'{"type": "event_callback", ', "application/json", "body: not valid JSON"),
        (b"[1, 2]", "application/json", "body: expected a JSON object"),
        (b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json", "nested deeper"),
        (urlencode({"payload": "{not json"}).encode(), FORM, "payload: not valid JSON"),
        (urlencode({"payload": "[" * 5000}).encode(), FORM, "payload: JSON nested deeper"),
        (b"\xff\xfe", FORM, "body is not UTF-8"),
        (b"<xml/>", "text/xml", "Content-Type must be"),
    ],
)
async def test_signed_but_malformed_bodies_get_400(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator, body: bytes, content_type: str, error: str
) -> None:
    response = await http.post("/slack/events", content=body, headers=signed(body, content_type))
    assert response.status_code == 400
    assert error in response.json()["error"]
    await nothing_happened(warroom, sim)


async def test_a_replayed_signed_command_declares_once(
    warroom: Warroom, http: httpx.AsyncClient, slack: SlackDriver, people: People, general: str
) -> None:
    body = slack.command_body(people.alice, "declare sev3 Search is slow", general)
    headers = signed(body)
    answers = [await http.post("/slack/events", content=body, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "Declared *#1*" in answers[0].json()["text"]
    assert answers[1].content == answers[2].content == b""  # answered, nothing done
    assert await count(warroom, Incident) == 1
    # A new request (a new timestamp, so a new signature) is not a replay.
    again = slack.command_body(people.alice, "declare sev3 Checkout is slow", general)
    fresh = signed_headers(SIGNING_SECRET, again, FORM, timestamp=int(time.time()) - 1)
    assert (await http.post("/slack/events", content=again, headers=fresh)).status_code == 200
    assert await count(warroom, Incident) == 2


async def test_events_with_a_json_body_still_work(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    challenge = json.dumps({"type": "url_verification", "challenge": "abc", "token": "t"}).encode()
    response = await http.post(
        "/slack/events", content=challenge, headers=signed(challenge, "application/json")
    )
    assert response.status_code == 200 and response.json() == {"challenge": "abc"}
