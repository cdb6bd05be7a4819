"""Alert routes that name a runbook: attached on declare, and checked at start-up."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from bot.app import Warroom, build
from bot.config import ConfigError, WarroomConfig
from bot.sim.server import SlackSimulator
from bot.store.db import Database
from bot.store.tables import RunbookRun
from tests import payloads
from tests.conftest import ALERT_TOKEN, make_settings
from tests.e2e.helpers import incident_channel, rows, settle
from tests.e2e.test_runbooks import write_runbooks


@pytest.fixture
def runbooks_dir(tmp_path: Path) -> str:
    return write_runbooks(tmp_path)


@pytest.fixture
def config() -> WarroomConfig:
    return WarroomConfig.model_validate(
        {"alerts": {"routes": [{"match": {"labels": {"alertname": "HighErrorRate"}}, "runbook": "manual"}]}}
    )


async def test_the_alert_route_names_a_runbook_and_match_rules_add_theirs(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    body = payloads.alertmanager([payloads.alertmanager_alert()])
    await http.post(
        "/webhooks/alertmanager", content=body, headers={"Authorization": f"Bearer {ALERT_TOKEN}"}
    )
    await settle(warroom)
    runs = [(r.name, r.source) for r in await rows(warroom, RunbookRun)]
    assert runs == [("manual", "route"), ("web-errors", "match")]
    channel = await incident_channel(warroom, sim, 1)
    assert len([m for m in sim.messages(channel.id) if str(m.get("text", "")).startswith("Runbook ")]) == 2


async def test_start_up_refuses_a_route_naming_a_missing_runbook(
    db: Database, sim: SlackSimulator, runbooks_dir: str, config: WarroomConfig
) -> None:
    (Path(runbooks_dir) / "manual.yaml").unlink()
    with pytest.raises(ConfigError, match=re.escape("alerts.routes.0.runbook: no runbook named 'manual'")):
        build(make_settings(db.url, sim, runbooks_dir), config, run_worker=False, migrate=False)
