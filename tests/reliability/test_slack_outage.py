"""Slack unreachable (connections refused): declares, notes, role changes and alerts are
committed and visible through `warroom incident show` and the API; when Slack is back,
channels, messages and pins appear once and in order."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta

import httpx

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from tests import payloads
from tests.conftest import ALERT_TOKEN, People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import environment, settle
from tests.reliability.conftest import census

LATER = timedelta(minutes=10)


async def incident_show(warroom: Warroom, sim: SlackSimulator, number: int) -> dict:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "incident",
        "show",
        str(number),
        "--json",
        env=environment(warroom.db, sim),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return dict(json.loads(out))


async def test_work_goes_on_while_slack_is_down_and_appears_once_in_order_after(
    warroom: Warroom,
    http: httpx.AsyncClient,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    general: str,
) -> None:
    before = await census(warroom.db, sim)
    channel = declared.channel.id
    await sim.go_down()
    await slack.command(people.alice, "note Rolled back deploy 4711", channel)
    await slack.command(people.alice, f"role scribe <@{people.bob}|bob>", channel)
    await slack.command(people.alice, "status monitoring Error rate falling", channel)
    await slack.command(people.carol, "declare sev1 Payments are down", general)
    alert = payloads.alertmanager([payloads.alertmanager_alert()])
    delivered = await http.post(
        "/webhooks/alertmanager", content=alert, headers={"Authorization": f"Bearer {ALERT_TOKEN}"}
    )
    assert delivered.status_code == 200
    await settle(warroom)  # every attempt fails (connection refused) and is scheduled again

    shown = await incident_show(warroom, sim, 1)
    assert [e["kind"] for e in shown["timeline"]][-3:] == ["note", "role", "status"]
    assert (
        shown["roles"] == {"commander": people.alice, "scribe": people.bob}
        and shown["status"] == "monitoring"
    )
    listed = (await http.get("/api/incidents")).json()
    assert [(i["number"], i["channel_id"]) for i in listed] == [(3, None), (2, None), (1, channel)]
    down = await census(warroom.db, sim)
    assert down.channels == before.channels == 1 and down.messages == before.messages
    assert down.incidents == 3 and down.jobs_failed == 0

    await sim.come_up()
    for _ in range(3):
        await settle(warroom, horizon=LATER)
    after = await census(warroom.db, sim)
    assert after.channels == 3 and after.announcements == 3 and after.jobs_failed == 0
    assert set(after.pins.values()) == {1}
    texts = [m["text"] for m in sim.channels[channel].messages[before.messages[declared.channel.name] :]]
    assert len(texts) == 3
    assert "Rolled back deploy 4711" in texts[0] and "scribe" in texts[1] and "monitoring" in texts[2]
    assert sim.count("conversations.create") == 3  # one per incident, none twice
