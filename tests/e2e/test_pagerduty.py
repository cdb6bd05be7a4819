"""PagerDuty: on-call people join alert incidents, /incident page, resolve in PagerDuty.
PagerDuty is faked at the HTTP level (bot/sim/pagerduty.py); the official client talks to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from bot.app import Warroom, build
from bot.config import WarroomConfig
from bot.sim.driver import SlackDriver
from bot.sim.pagerduty import API_URL, EVENTS_URL, PagerDutyFake
from bot.sim.server import SlackSimulator
from bot.store.db import Database
from bot.store.tables import PagerDutyPage, TimelineEvent
from tests import payloads
from tests.conftest import ALERT_TOKEN, SIGNING_SECRET, People, make_settings
from tests.e2e.helpers import rows, settle

LATER = timedelta(minutes=10)
CONFIG = {
    "pagerduty": {
        "services": {
            "checkout": {"escalation_policy": "PCHECK1", "routing_key": "R-checkout"},
            "payments": {"routing_key": "R-payments"},
        }
    }
}


@pytest.fixture
def pd() -> PagerDutyFake:
    return PagerDutyFake()


@pytest.fixture
async def pd_warroom(db: Database, sim: SlackSimulator, pd: PagerDutyFake) -> AsyncIterator[Warroom]:
    settings = make_settings(db.url, sim).model_copy(
        update={
            "pagerduty_api_token": pd.api_token,
            "pagerduty_api_url": API_URL,
            "pagerduty_events_url": EVENTS_URL,
        }
    )
    config = WarroomConfig.model_validate(CONFIG)
    app = build(settings, config, run_worker=False, migrate=False, pagerduty_transport=pd.transport())
    await app.open_connections()
    yield app
    await app.close()


@pytest.fixture
async def pd_http(pd_warroom: Warroom) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=pd_warroom.http), base_url="http://warroom.test"
    ) as client:
        yield client


async def test_on_call_people_join_an_alert_incident_and_the_first_commands(
    pd_warroom: Warroom, pd_http: httpx.AsyncClient, pd: PagerDutyFake, sim: SlackSimulator, people: People
) -> None:
    pd.on_call(
        "PCHECK1",
        ("P1", "Alice", "alice@example.com"),
        ("P2", "Bob", "bob@example.com"),
        ("P3", "Zed", "zed@example.com"),
    )
    body = payloads.alertmanager([payloads.alertmanager_alert()])
    response = await pd_http.post(
        "/webhooks/alertmanager", content=body, headers={"Authorization": f"Bearer {ALERT_TOKEN}"}
    )
    assert response.json()["declared"] == [1]
    await settle(pd_warroom, horizon=LATER)

    incident = await pd_warroom.queries.get(1)
    channel = sim.channels[incident.channel_id or ""]
    assert {people.alice, people.bob} <= channel.members
    assert (await pd_warroom.queries.roles([1]))[1] == {"commander": people.alice}
    assert incident.acknowledged_at is not None
    texts = [e.text for e in await pd_warroom.queries.timeline(1)]
    assert f"PagerDuty on-call for checkout: <@{people.alice}>, <@{people.bob}>" in texts
    assert "PagerDuty on-call for checkout: no Slack user for zed@example.com" in texts
    assert ("GET", "/oncalls") in pd.requests


async def test_pagerduty_failure_never_blocks_the_incident(
    pd_warroom: Warroom, pd_http: httpx.AsyncClient, pd: PagerDutyFake, sim: SlackSimulator, people: People
) -> None:
    pd.on_call("PCHECK1", ("P1", "Alice", "alice@example.com"))
    pd.fail_next = 100  # PagerDuty is down
    body = payloads.alertmanager([payloads.alertmanager_alert()])
    await pd_http.post(
        "/webhooks/alertmanager", content=body, headers={"Authorization": f"Bearer {ALERT_TOKEN}"}
    )
    await settle(pd_warroom)
    incident = await pd_warroom.queries.get(1)
    assert incident.channel_id is not None  # the channel opened anyway
    pd.fail_next = 0
    await settle(pd_warroom, horizon=LATER)
    assert (await pd_warroom.queries.roles([1]))[1] == {"commander": people.alice}


async def test_page_a_service_and_resolve_it_with_the_incident(
    pd_warroom: Warroom, pd_http: httpx.AsyncClient, pd: PagerDutyFake, sim: SlackSimulator, people: People
) -> None:
    slack = SlackDriver(pd_http, sim, SIGNING_SECRET)
    general = sim.channel_named("general")
    assert general is not None
    await slack.command(people.alice, "declare sev1 Card payments failing", general.id)
    await settle(pd_warroom)
    channel = (await pd_warroom.queries.get(1)).channel_id or ""

    reply = (await slack.command(people.alice, "page payments", channel)).json()["text"]
    assert "Paging `payments`" in reply
    again = (await slack.command(people.alice, "page payments", channel)).json()["text"]
    assert "already paged" in again
    missing = (await slack.command(people.alice, "page search", channel)).json()["text"]
    assert "no PagerDuty routing key for `search`" in missing
    await settle(pd_warroom)
    (event,) = pd.events
    assert (event["event_action"], event["routing_key"], event["dedup_key"]) == (
        "trigger",
        "R-payments",
        "warroom-1-payments",
    )
    assert (
        event["payload"]["severity"] == "critical" and "Card payments failing" in event["payload"]["summary"]
    )

    await slack.command(people.alice, "resolve Rolled back the PSP client", channel)
    await settle(pd_warroom)
    assert [(e["event_action"], e["dedup_key"]) for e in pd.events][-1] == ("resolve", "warroom-1-payments")
    (page,) = await rows(pd_warroom, PagerDutyPage)
    assert page.resolved_at is not None
    assert "Paged `payments` in PagerDuty" in [e.text for e in await rows(pd_warroom, TimelineEvent)]


async def test_page_a_person(
    pd_warroom: Warroom, pd_http: httpx.AsyncClient, sim: SlackSimulator, people: People
) -> None:
    slack = SlackDriver(pd_http, sim, SIGNING_SECRET)
    general = sim.channel_named("general")
    assert general is not None
    await slack.command(people.alice, "declare DNS flapping", general.id)
    await settle(pd_warroom)
    channel = sim.channels[(await pd_warroom.queries.get(1)).channel_id or ""]
    response = await slack.command(people.alice, f"page <@{people.carol}|carol>", channel.id)
    assert response.status_code == 200
    await settle(pd_warroom)
    assert people.carol in channel.members
    assert channel.messages[-1]["text"].startswith(
        f":information_source: <@{people.carol}> was paged into the incident"
    )
