"""Everything that can arrive twice has exactly one effect: Slack event retries, double-clicked
buttons, double-submitted forms, PagerDuty redeliveries and Alertmanager re-sends."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from tests import payloads
from tests.conftest import ALERT_TOKEN, PAGERDUTY_SECRET, People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import settle
from tests.reliability.conftest import census

BEARER = {"Authorization": f"Bearer {ALERT_TOKEN}"}


async def test_slack_event_retries_pin_a_message_once(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    ts = sim.user_post(people.bob, declared.channel.id, "Error rate back under 1%")
    before = await census(warroom.db, sim)
    for retry in (None, 1, 2, 3):  # Slack resends the same event_id when the answer was slow
        event = {
            "type": "reaction_added",
            "user": people.alice,
            "reaction": "pushpin",
            "item": {"type": "message", "channel": declared.channel.id, "ts": ts},
            "event_ts": "1763700000.000100",
        }
        assert (await slack.event(event, event_id="Ev0PINONCE", retry_num=retry)).status_code == 200
    await settle(warroom)
    after = await census(warroom.db, sim)
    assert after.timeline - before.timeline == Counter({"pinned": 1})
    assert after.messages == before.messages  # the message is already in the channel
    assert sim.count("conversations.history") == 1  # the retries stopped at the event id


async def test_double_clicks_and_double_submissions_count_once(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    clicks = [
        slack.click(people.bob, declared.channel.id, declared.summary_ts, "take_commander") for _ in range(3)
    ]
    assert {r.status_code for r in await asyncio.gather(*clicks)} == {200}
    await slack.command(people.alice, "", declared.channel.id)  # opens the declare form
    view = list(sim.views.values())[-1]
    values = {"title": "Payments down", "severity": "SEV1", "commander": people.carol, "description": ""}
    submissions = [slack.submit(people.alice, view["id"], values) for _ in range(3)]
    assert {r.status_code for r in await asyncio.gather(*submissions)} == {200}
    await settle(warroom)
    after = await census(warroom.db, sim)
    assert after.incidents == 2 and after.channels == 2
    assert [r.user_id for r in await warroom.queries.role_history(1) if r.role == "commander"] == [
        people.alice,
        people.bob,
    ]
    assert after.timeline["declared"] == 2 and after.jobs_failed == 0


async def test_pagerduty_redeliveries_have_one_effect(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    body = payloads.pagerduty()
    headers = {
        "X-PagerDuty-Signature": payloads.pagerduty_signature(body, PAGERDUTY_SECRET),
        "X-Webhook-Id": "wh-7",
    }
    answers = await asyncio.gather(
        *(http.post("/webhooks/pagerduty", content=body, headers=headers) for _ in range(4))
    )
    assert {a.status_code for a in answers} == {200}
    note = payloads.pagerduty_note()
    noted = {
        "X-PagerDuty-Signature": payloads.pagerduty_signature(note, PAGERDUTY_SECRET),
        "X-Webhook-Id": "wh-8",
    }
    for _ in range(3):
        await http.post("/webhooks/pagerduty", content=note, headers=noted)
    await settle(warroom)
    after = await census(warroom.db, sim)
    assert after.incidents == 1 and after.channels == 1 and after.announcements == 1
    assert after.timeline["pagerduty"] == 1


async def test_alertmanager_resending_a_group_opens_one_incident(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    body = payloads.alertmanager(
        [payloads.alertmanager_alert(), payloads.alertmanager_alert("HighLatency", fingerprint="aa11")]
    )
    first = await asyncio.gather(
        *(http.post("/webhooks/alertmanager", content=body, headers=BEARER) for _ in range(5))
    )
    assert {a.status_code for a in first} == {200}
    await settle(warroom)
    once = await census(warroom.db, sim)
    for _ in range(5):  # every group_interval, as Alertmanager does
        await http.post("/webhooks/alertmanager", content=body, headers=BEARER)
    await settle(warroom)
    after = await census(warroom.db, sim)
    assert after.incidents == 1 and after.channels == 1 and after.announcements == 1
    assert after.timeline == once.timeline  # a re-send of the same state adds nothing
    assert after.messages == once.messages and after.jobs_failed == 0
