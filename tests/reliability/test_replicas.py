"""Three `warroom serve` processes on one PostgreSQL database, receiving the same traffic
several times over: one incident per alert group, one channel each, and every job run once."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col

from bot.sim.server import SlackSimulator
from bot.store.db import Database
from bot.store.tables import utcnow
from bot.store.work_tables import Job
from tests import payloads
from tests.conftest import ALERT_TOKEN, People
from tests.e2e.helpers import environment
from tests.reliability.conftest import census, serving, settled, until

GROUPS = 6
BEARER = {"Authorization": f"Bearer {ALERT_TOKEN}"}


def group(i: int) -> bytes:
    alert = payloads.alertmanager_alert(f"DiskFull{i}", fingerprint=f"fp{i:04d}", service=f"svc{i}")
    return payloads.alertmanager([alert], group_key=f'{{}}:{{alertname="DiskFull{i}"}}')


@pytest.mark.processes
async def test_three_replicas_one_incident_per_group_one_channel_each_job_once(
    db: Database, sim: SlackSimulator, people: People
) -> None:
    if db.is_sqlite:
        pytest.skip("replicas share a PostgreSQL database (SQLite is one process's database)")
    env = environment(db, sim)
    async with contextlib.AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(serving(env, sim)) for _ in range(3)]
        # Every group goes to every replica at once, three times over (Alertmanager in HA
        # sends from each of its peers, and re-sends).
        deliveries = [
            server.http.post("/webhooks/alertmanager", content=group(i), headers=BEARER)
            for _ in range(3)
            for i in range(GROUPS)
            for server in servers
        ]
        answers = await asyncio.gather(*deliveries)
        assert {a.status_code for a in answers} == {200}

        def all_pinned() -> bool:
            channels = [c for c in sim.channels.values() if c.name.startswith("inc-")]
            return len(channels) >= GROUPS and all(c.pins for c in channels)

        await until(all_pinned, "every incident's channel is ready", within=60)
        # A pinned message, its Slack retries spread over the replicas.
        first = next(c for c in sim.channels.values() if c.name.startswith("inc-1-"))
        ts = sim.user_post(people.bob, first.id, "Disk at 100% since 03:12")
        event = {
            "type": "reaction_added",
            "user": people.alice,
            "reaction": "pushpin",
            "item": {"type": "message", "channel": first.id, "ts": ts},
            "event_ts": "1763700000.000200",
        }
        for retry, server in enumerate(servers):
            await server.slack.event(event, event_id="Ev0REPLICA", retry_num=retry or None)

        await settled(db)
        after = await census(db, sim)

    assert after.incidents == GROUPS and after.channels == GROUPS and after.announcements == GROUPS
    assert set(after.pins.values()) == {1}
    assert after.timeline["pinned"] == 1 and after.jobs_failed == 0
    assert sim.count("conversations.create") == GROUPS
    # Every Slack side effect happened once: the calls Slack saw are exactly what exists.
    messages = sum(after.messages.values()) - 1 + after.announcements  # less the user's message
    assert sim.count("chat.postMessage") == messages, after.messages
    assert sim.count("pins.add") == GROUPS
    async with db.sessions() as session:  # and no job is left with an error on it
        left = sa.select(col(Job.last_error)).where(
            col(Job.done_at).is_(None), col(Job.run_at) < utcnow() + timedelta(minutes=10)
        )  # (the next weekly report, scheduled by the starting workers, waits for Monday)
        errors = list(await session.scalars(left))
    assert errors == []  # every job ran exactly once, on one replica


BUDGET_MINUTE = 6.0  # Slack's minute, shortened (long enough for the budget's margin: 500 ms)
DECLARES = 60


@pytest.mark.processes
async def test_three_replicas_spend_one_slack_budget(db: Database, sim: SlackSimulator) -> None:
    if db.is_sqlite:
        pytest.skip("replicas share a PostgreSQL database (SQLite is one process's database)")
    sim.rate_period, sim.latency = BUDGET_MINUTE, 0.05
    general = sim.add_channel("general")
    people = [sim.add_user(f"responder{i}") for i in range(DECLARES)]
    # Three processes, and this one, under PostgreSQL's default of 100 connections.
    env = environment(db, sim, SLACK_RATE_PERIOD=str(BUDGET_MINUTE), DATABASE_POOL_SIZE="20")
    assert "SLACK_RATE_SHARE" not in env
    async with contextlib.AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(serving(env, sim)) for _ in range(3)]
        declares = [
            servers[i % 3].slack.command(person, f"declare sev2 Shard {i} is down", general)
            for i, person in enumerate(people)
        ]
        assert {answer.status_code for answer in await asyncio.gather(*declares)} == {200}

        def all_ready() -> bool:
            channels = [c for c in sim.channels.values() if c.name.startswith("inc-")]
            return len(channels) == DECLARES and all(c.pins for c in channels)

        # 60 channels at 18 a minute for SEV2s (Tier 2): a little over three minutes.
        await until(all_ready, "every channel is ready", within=8 * BUDGET_MINUTE)
        await settled(db)
        after = await census(db, sim)
    assert after.channels == DECLARES and set(after.pins.values()) == {1} and after.jobs_failed == 0
    assert [c.method for c in sim.calls if c.status == 429] == []
    assert sim.count("conversations.create", ok=True) == sim.count("pins.add", ok=True) == DECLARES
    for method in ("conversations.create", "pins.add", "conversations.setTopic"):  # Tier 2: 20
        assert sim.busiest(method, BUDGET_MINUTE) <= 20, method
    assert sim.busiest("conversations.invite", BUDGET_MINUTE) <= 50  # Tier 3
