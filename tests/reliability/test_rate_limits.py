"""An alert storm against a Slack that enforces its rate limits (tiers per method, one message
a second per channel; here one "minute" lasts a second): warroom's budgets space the calls so
that not one 429 comes back, and everything is projected once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.app import Warroom
from bot.sim.server import SlackSimulator
from bot.slack.ratelimit import SlackBudget
from bot.store.db import Database
from tests import payloads
from tests.conftest import ALERT_TOKEN
from tests.reliability.conftest import census, until

STORM = 40
MINUTE = 1.0  # Slack's minute, for the simulator and for the budgets alike


@pytest.fixture
async def sim() -> AsyncIterator[SlackSimulator]:
    simulator = await SlackSimulator(rate_period=MINUTE).start()
    simulator.add_channel("incidents")
    simulator.add_channel("general")
    yield simulator
    await simulator.stop()


async def storm(warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator, db: Database) -> None:
    """STORM different alerts at once, each opening an incident; the worker runs as in serve."""
    deliveries = [
        http.post(
            "/webhooks/generic",
            content=payloads.generic(title=f"Disk full on db-{i}", dedup_key=f"disk-{i}", service=f"db-{i}"),
            headers={"Authorization": f"Bearer {ALERT_TOKEN}"},
        )
        for i in range(STORM)
    ]
    assert {r.status_code for r in await asyncio.gather(*deliveries)} == {200}
    worker = asyncio.create_task(warroom.run_worker())
    try:

        def projected() -> bool:
            channels = [c for c in sim.channels.values() if c.name.startswith("inc-")]
            announcements = sim.channel_named("incidents")
            done = len(channels) == STORM and all(c.pins and len(c.messages) >= 2 for c in channels)
            return done and announcements is not None and len(announcements.messages) == STORM

        await until(projected, "the storm is projected", within=90)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    after = await census(db, sim)
    assert after.incidents == STORM and after.channels == STORM and after.announcements == STORM
    assert set(after.pins.values()) == {1} and after.jobs_failed == 0
    assert sim.count("conversations.create", ok=True) == STORM


async def test_an_alert_storm_draws_no_429_within_the_budgets(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator, db: Database
) -> None:
    warroom.slack.budget = SlackBudget(period=MINUTE)
    await storm(warroom, http, sim, db)
    limited = [c.method for c in sim.calls if c.status == 429]
    assert limited == []


async def test_without_budgets_the_same_storm_is_rate_limited_and_still_lands_once(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator, db: Database
) -> None:
    warroom.slack.budget = SlackBudget(period=MINUTE / 1000)
    # Slack's minute three times as long: the storm's 40 creates surely meet a tier-2 limit
    # (20 a minute), however the machine spreads them.
    sim.rate_period = 3 * MINUTE
    await storm(warroom, http, sim, db)
    limited = [c.method for c in sim.calls if c.status == 429]
    assert "conversations.create" in limited  # Slack said no, warroom waited as told
