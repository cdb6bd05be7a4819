"""`warroom demo`: one incident, from the alert that opens it to its post-mortem and MTTR
report, through the real app and the simulators, on a simulated clock.

Every step is a request signed as Slack (or Alertmanager) sends it, into the ASGI app; what
people would have seen is read back from the simulator's channels. The clock moves minutes
between steps (bot/clock.py), so the documents show the durations a real incident would.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx

from bot.app import Warroom, build
from bot.clock import SimulatedClock, simulated
from bot.config import Settings, WarroomConfig
from bot.documents import reports as report_docs
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.slack_model import BOT_TOKEN
from bot.slack.ids import Action, Field

SECRET = "demo-signing-secret"
ALERT_TOKEN = "demo-alert-token"
CONFIG = {
    "alerts": {
        "routes": [
            {
                "name": "checkout",
                "match": {"service": "checkout"},
                "severity": "SEV2",
                "runbook": "checkout-errors",
            }
        ]
    }
}
RUNBOOK = """\
name: checkout-errors
description: Checkout answers with 5xx errors.
steps:
  - id: look
    title: Check the error dashboard
    details: Which endpoints of {{ incident.service }} fail, since when?
    owner: commander
  - id: rollback
    title: Roll back the last deploy
    command: kubectl rollout undo deployment/checkout
    confirm: true
  - id: status-page
    title: Update the status page
    owner: comms
"""


async def run_demo(out: TextIO | None = None, postmortem_dir: str | Path = "postmortems") -> int:
    """Run the story; its documents are kept in `postmortem_dir`, the rest is temporary."""
    import sys

    out = out or sys.stdout

    def say(line: str = "") -> None:
        print(line, file=out)

    sim = await SlackSimulator().start()
    today = datetime.now(UTC).replace(hour=14, minute=0, second=0, microsecond=0)
    with tempfile.TemporaryDirectory(prefix="warroom-demo-") as tmp, simulated(today) as clock:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=sim.api_url,
            alert_webhook_token=ALERT_TOKEN,
            database_url=f"sqlite:///{Path(tmp) / 'demo.db'}",
            postmortem_dir=str(postmortem_dir),
            runbooks_dir=str(Path(tmp) / "runbooks"),
            slack_rate_period=0.1,  # the demo compresses an hour into seconds, and Slack's minute with it
        )
        (Path(tmp) / "runbooks").mkdir()
        (Path(tmp) / "runbooks" / "checkout-errors.yaml").write_text(RUNBOOK)
        warroom = build(settings, WarroomConfig.model_validate(CONFIG), run_worker=False)
        await warroom.db.migrate()
        await warroom.open_connections()
        try:
            await _story(warroom, sim, clock, say)
            await _show_outcome(warroom, sim, say, Path(postmortem_dir))
        finally:
            await warroom.close()
            await sim.stop()
    return 0


def _workspace(sim: SlackSimulator) -> tuple[str, str, str]:
    """#incidents, and the three people of the story."""
    sim.add_channel("general")
    sim.add_channel("incidents")
    names = (("alice", "Alice Smith"), ("bob", "Bob Jones"), ("carol", "Carol Diaz"))
    alice, bob, carol = (sim.add_user(n, email=f"{n}@example.com", real_name=r) for n, r in names)
    return alice, bob, carol


def alert(status: str, starts: datetime, ends: datetime | None = None) -> bytes:
    """What Alertmanager posts (webhook version 4) for the checkout error rate."""
    instance = "checkout-7d9f:8080"
    labels = {
        "alertname": "HighErrorRate",
        "service": "checkout",
        "severity": "critical",
        "instance": instance,
    }
    one = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"HighErrorRate on {instance}", "description": "5xx above 5% for 5 min"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "endsAt": (ends or datetime(1, 1, 1, tzinfo=UTC)).isoformat().replace("+00:00", "Z"),
        "fingerprint": "5ef77f1f8a3ecfa4",
    }
    group = {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "status": status,
        "receiver": "warroom",
    }
    return json.dumps(group | {"groupLabels": {}, "commonLabels": labels, "alerts": [one]}).encode()


@dataclass
class _Scene:
    """What every step of the story uses: the app, Slack's side, the clock, the narrator."""

    warroom: Warroom
    sim: SlackSimulator
    clock: SimulatedClock
    say: Callable[[str], None]
    http: httpx.AsyncClient
    slack: SlackDriver

    def at(self, minutes: int, what: str) -> None:
        self.clock.now = self.clock.now.replace(hour=14, minute=0) + timedelta(minutes=minutes)
        self.say(f"{self.clock.now:%H:%M}  {what}")

    async def command(self, user: str, text: str, channel: str) -> None:
        response = await self.slack.command(user, text, channel)
        reply = response.json().get("text") if response.content else None
        name = self.sim.name_of(user)
        self.say(f"         @{name} typed: /incident {self.sim.resolve_mentions(text)}")
        if reply:
            self.say(f"           (only @{name} sees) {self.sim.resolve_mentions(reply)}")
        await self.warroom.worker.run_until_idle()

    async def webhook(self, path: str, body: bytes) -> None:
        headers = {"Authorization": f"Bearer {ALERT_TOKEN}", "Content-Type": "application/json"}
        response = await self.http.post(f"/webhooks/{path}", content=body, headers=headers)
        assert response.status_code == 200, response.text
        await self.warroom.worker.run_until_idle()


def deploy(change_id: str, version: str, finished: datetime) -> bytes:
    """What the CI pipeline posts when a deploy of checkout finished."""
    body = {"id": change_id, "service": "checkout", "summary": f"checkout {version}", "version": version}
    started = finished - timedelta(minutes=3)
    author, url = "dana@example.com", f"https://ci.example.com/runs/{change_id}"
    return json.dumps(
        body
        | {
            "author": author,
            "url": url,
            "started_at": started.isoformat(),
            "finished_at": finished.isoformat(),
        }
    ).encode()


async def _story(
    warroom: Warroom, sim: SlackSimulator, clock: SimulatedClock, say: Callable[[str], None]
) -> None:
    alice, bob, carol = _workspace(sim)
    sim.clock = lambda: clock.now.timestamp()  # Slack's message times follow the story's clock
    transport = httpx.ASGITransport(app=warroom.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom.local") as http:
        scene = _Scene(warroom, sim, clock, say, http, SlackDriver(http, sim, SECRET))
        say("13:52  CI posts 'deploy checkout v2.4.0 finished' to /webhooks/changes")
        await scene.webhook("changes", deploy("deploy-4711", "v2.4.0", clock.now - timedelta(minutes=8)))
        began = clock.now - timedelta(minutes=3)
        scene.at(0, "Alertmanager posts HighErrorRate (firing since 13:57) to /webhooks/alertmanager")
        await scene.webhook("alertmanager", alert("firing", began))
        incident = await warroom.queries.get(1)
        channel = incident.channel_id
        assert channel is not None
        say(f"         warroom declared #1 {incident.severity}, opened #{sim.channels[channel].name}")
        say("         and announced it in #incidents; the checkout-errors runbook started with it;")
        say("         it listed the deploy 5 minutes before the alert, with a Suspect button")
        scene.at(2, "@alice, on call, takes command")
        await scene.command(alice, f"role commander <@{alice}|alice>", channel)
        scene.at(5, "roles for the rest of the team")
        await scene.command(alice, f"role scribe <@{bob}|bob>", channel)
        await scene.command(alice, f"role comms <@{carol}|carol>", channel)
        scene.at(8, "@bob posts what he found; @carol pins it with :pushpin:")
        evidence = sim.user_post(bob, channel, "Error rate jumped to 23% at 13:57, right after *deploy 4711*")
        await scene.slack.react(carol, channel, evidence)
        await warroom.worker.run_until_idle()
        [run] = await warroom.runbooks.runs(1)
        scene.at(12, "@alice pressed Done on 'Check the error dashboard'")
        await scene.slack.click(alice, channel, run.checklist_ts or "", Action.STEP_DONE.of_step("look"))
        await scene.slack.click(
            carol, channel, run.checklist_ts or "", Action.STEP_TAKE.of_step("status-page")
        )
        say("         @carol pressed I'll take it on 'Update the status page'")
        await warroom.worker.run_until_idle()
        await _resolution(scene, channel, run.checklist_ts or "", began, (alice, bob))


async def _resolution(
    scene: _Scene, channel: str, checklist: str, began: datetime, people: tuple[str, str]
) -> None:
    """From the cause to the post-mortem."""
    (alice, bob), warroom, sim = people, scene.warroom, scene.sim
    scene.at(18, "the cause is known: @bob presses Suspect on the deploy")
    suspects = next(m for m in sim.channels[channel].messages if "Suspect" in json.dumps(m.get("blocks", [])))
    await scene.slack.click(bob, channel, suspects["ts"], Action.SUSPECT_CHANGE)
    await scene.command(alice, "status identified Deploy 4711 broke the payment client", channel)
    scene.at(24, "@bob pressed Done on 'Roll back the last deploy' and confirmed it in the form")
    await scene.slack.click(bob, channel, checklist, Action.STEP_DONE.of_step("rollback"))
    await scene.slack.submit(bob, next(reversed(sim.views)), {})
    await warroom.worker.run_until_idle()
    scene.at(27, "CI posts the rollback, 'deploy checkout v2.3.9 finished': it lands on the timeline")
    await scene.webhook("changes", deploy("deploy-4712", "v2.3.9", scene.clock.now))
    await scene.command(alice, "note Rollback of `deploy 4711` finished", channel)
    scene.at(31, "the error rate falls")
    await scene.command(alice, "status monitoring Rollback done, error rate falling", channel)
    scene.at(38, "Alertmanager says HighErrorRate resolved")
    await scene.webhook("alertmanager", alert("resolved", began, scene.clock.now))
    scene.at(45, "@bob presses Resolve on the pinned summary and fills in the form")
    incident = await warroom.queries.get(1)
    await scene.slack.click(bob, channel, incident.summary_ts or "", Action.OPEN_RESOLVE)
    summary: dict[str, Any] = {Field.SUMMARY: "Rolled back deploy 4711; payment client pinned to v2.3"}
    await scene.slack.submit(bob, next(reversed(sim.views)), summary)
    await warroom.worker.run_until_idle()
    scene.at(70, "@alice closes the incident: the post-mortem draft writes itself")
    await scene.command(alice, "close", channel)


async def _show_outcome(warroom: Warroom, sim: SlackSimulator, say: Any, directory: Path) -> None:
    """What people saw in Slack, what warroom recorded, and where the documents are."""
    incident = await warroom.queries.get(1)
    channel = incident.channel_id or ""
    say()
    say("== What #incidents showed")
    incidents_channel = sim.channel_named("incidents")
    assert incidents_channel is not None
    for line in sim.transcript(incidents_channel.id):
        say(f"  {line}")
    say()
    topic = sim.resolve_mentions(sim.channels[channel].topic)
    say(f"== What #{sim.channels[channel].name} showed (topic: {topic})")
    for line in sim.transcript(channel):
        say(f"  {line}")
    say()
    say("== The timeline warroom recorded (UTC)")
    for event in await warroom.queries.timeline(1):
        say(f"  {event.at:%H:%M} {event.kind:<9} {sim.resolve_mentions(event.text)}")
    say()
    say("== Milestones")
    for name in ("started_at", "declared_at", "acknowledged_at", "mitigated_at", "resolved_at", "closed_at"):
        value = getattr(incident, name)
        say(f"  {name:<16} {value:%Y-%m-%d %H:%M} UTC" if value else f"  {name:<16} -")
    say()
    say("== The post-mortem (written when the incident closed, uploaded into the channel)")
    for postmortem in await warroom.postmortems.versions(1):
        for path in warroom.postmortems.paths(postmortem):
            say(f"  {path.resolve()}")
    report = await warroom.reports.mttr(timedelta(days=90), by="severity")
    path = directory / "mttr-report.html"
    path.write_text(report_docs.render(report, timedelta(days=90), "html"), encoding="utf-8")
    say()
    say("== The MTTR report (the last 90 days, by severity, with its chart)")
    say(f"  {path.resolve()}")
