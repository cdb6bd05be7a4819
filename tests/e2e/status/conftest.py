"""Fixtures and helpers the stakeholder and status page tests share: a configuration with stakeholder
channels and components, the Statuspage fake, and warroom wired to both (with a static copy
of the status page in a temporary directory)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import Warroom, build
from bot.config import WarroomConfig
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.statuspage import StatuspageFake
from bot.store.db import Database
from tests.conftest import make_settings
from tests.e2e.helpers import incident_channel, settle

COMPONENTS = {"cmpcheckout1": "Checkout", "cmpsearch001": "Search"}
STATUS_CONFIG = {
    "api": {"public_read": True, "docs": True},
    "stakeholders": {"SEV1": ["leadership", "support"], "SEV2": ["support"]},
    "status_page": {
        "title": "Acme status",
        "components": [
            {"name": "Checkout", "services": ["checkout"], "slo": 99.9, "statuspage_id": "cmpcheckout1"},
            {
                "name": "Search",
                "description": "Finding products",
                "services": ["search"],
                "statuspage_id": "cmpsearch001",
            },
            {"name": "API", "slo": 99.95},
        ],
    },
}


@pytest.fixture
def config() -> WarroomConfig:
    return WarroomConfig.model_validate(STATUS_CONFIG)


@pytest.fixture
async def statuspage() -> AsyncIterator[StatuspageFake]:
    fake = await StatuspageFake(components=COMPONENTS).start()
    yield fake
    await fake.stop()


@pytest.fixture
def public_dir(tmp_path: Path) -> Path:
    return tmp_path / "public"


def status_settings(db: Database, sim: SlackSimulator, statuspage: StatuspageFake, public_dir: Path) -> Any:
    return make_settings(db.url, sim).model_copy(
        update={
            "status_page_dir": str(public_dir),
            "statuspage_api_key": statuspage.api_key,
            "statuspage_page_id": statuspage.page_id,
            "statuspage_api_url": statuspage.api_url,
        }
    )


@pytest.fixture
async def warroom(
    db: Database, sim: SlackSimulator, config: WarroomConfig, statuspage: StatuspageFake, public_dir: Path
) -> AsyncIterator[Warroom]:
    for name in ("leadership", "support"):
        sim.add_channel(name)
    app = build(status_settings(db, sim, statuspage, public_dir), config, run_worker=False, migrate=False)
    await app.open_connections()
    yield app
    await app.close()


@dataclass
class Opened:
    number: int
    channel: str


async def open_incident(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, user: str, general: str, text: str
) -> Opened:
    await slack.command(user, f"declare {text}", general)
    await settle(warroom)
    number = max(i.number or 0 for i in await warroom.queries.list_incidents(open_only=False))
    return Opened(number, (await incident_channel(warroom, sim, number)).id)


async def send_update(
    slack: SlackDriver, sim: SlackSimulator, user: str, channel: str, values: dict[str, Any]
) -> httpx.Response:
    """Open the update form with `/incident update` and submit it with these values."""
    before = set(sim.views)
    response = await slack.command(user, "update", channel)
    assert response.status_code == 200 and not response.content, response.text
    [view_id] = set(sim.views) - before
    return await slack.submit(user, view_id, values)


def channel_texts(sim: SlackSimulator, name: str) -> list[str]:
    found = sim.channel_named(name)
    assert found is not None
    return [str(m.get("text", "")) for m in sim.messages(found.id)]


def visible_text(html: str) -> str:
    """The words of an HTML page (tags and attributes gone), spaces collapsed."""
    body = re.sub(r"(?s)<(style|head)\b.*?</\1>", " ", html)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())
