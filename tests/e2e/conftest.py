"""Fixtures for end-to-end tests: an incident already declared and projected into Slack."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.slack_model import Channel
from tests.conftest import People
from tests.e2e.helpers import settle


@dataclass
class Declared:
    number: int
    channel: Channel
    summary_ts: str


@pytest.fixture
async def general(sim: SlackSimulator) -> str:
    channel = sim.channel_named("general")
    assert channel is not None
    return channel.id


@pytest.fixture
async def declared(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> Declared:
    """Incident #1, declared by alice (its commander), with its channel ready."""
    response = await slack.command(people.alice, "declare sev3 Search is slow", general)
    assert response.status_code == 200
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.channel_id and incident.summary_ts
    return Declared(1, sim.channels[incident.channel_id], incident.summary_ts)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("WARROOM_REQUIRE_BROWSER"):
            pytest.fail("WARROOM_REQUIRE_BROWSER is set but there is no chromium on PATH")
        pytest.skip("no Chromium here: `apt-get install -y chromium` to check documents in a browser")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        await launched.close()
