"""`warroom demo`: one incident, declare to close, through the real app and the simulator.

Every step is a request signed as Slack signs it, sent into the ASGI app; what people would
have seen is read back from the simulator's channels.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, TextIO

import httpx

from bot.app import Warroom, build
from bot.config import Settings
from bot.sim.driver import SlackDriver
from bot.sim.server import BOT_TOKEN, SlackSimulator
from bot.slack.ids import Action, Field

SECRET = "demo-signing-secret"
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
    """Run the story; the post-mortem draft is kept in `postmortem_dir`, the rest is temporary."""
    import sys

    out = out or sys.stdout

    def say(line: str = "") -> None:
        print(line, file=out)

    sim = await SlackSimulator().start()
    with tempfile.TemporaryDirectory(prefix="warroom-demo-") as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=sim.api_url,
            database_url=f"sqlite:///{Path(tmp) / 'demo.db'}",
            postmortem_dir=str(postmortem_dir),
            runbooks_dir=str(Path(tmp) / "runbooks"),
            slack_rate_period=0.1,  # the demo compresses an hour into seconds, and Slack's minute with it
        )
        (Path(tmp) / "runbooks").mkdir()
        (Path(tmp) / "runbooks" / "checkout-errors.yaml").write_text(RUNBOOK)
        warroom = build(settings, run_worker=False)
        await warroom.db.migrate()
        await warroom.open_connections()
        try:
            await _story(warroom, sim, say)
        finally:
            await warroom.close()
            await sim.stop()
    return 0


def _workspace(sim: SlackSimulator) -> tuple[str, str, str, str]:
    """#general, #incidents, and the three people of the story."""
    general = sim.add_channel("general")
    sim.add_channel("incidents")
    people = [sim.add_user(name, email=f"{name}@example.com") for name in ("alice", "bob", "carol")]
    return general, people[0], people[1], people[2]


async def _story(warroom: Warroom, sim: SlackSimulator, say: object) -> None:
    assert callable(say)
    general, alice, bob, carol = _workspace(sim)

    transport = httpx.ASGITransport(app=warroom.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom.local") as http:
        slack = SlackDriver(http, sim, SECRET)

        async def command(user: str, text: str, channel: str) -> None:
            response = await slack.command(user, text, channel)
            reply = response.json().get("text") if response.content else None
            say(f"  @{sim.name_of(user)} typed: /incident {text}")
            if reply:
                say(f"    (only @{sim.name_of(user)} sees) {sim.resolve_mentions(reply)}")
            await warroom.worker.run_until_idle()

        say("== A person declares an incident from #general")
        await command(alice, "declare sev2 Checkout API returns 500s", general)
        incident = await warroom.queries.get(1)
        channel = incident.channel_id
        assert channel is not None
        say(f"  warroom opened #{sim.channels[channel].name} and announced it in #incidents")
        say()
        say("== Responders take roles, pin evidence and move the status along")
        await command(alice, f"role scribe <@{bob}|bob>", channel)
        await command(alice, f"role comms <@{carol}|carol>", channel)
        evidence = sim.user_post(bob, channel, "Error rate jumped to 23% at 14:02, right after deploy 4711")
        await slack.react(carol, channel, evidence)
        await warroom.worker.run_until_idle()
        say("  @carol reacted with :pushpin: to @bob's message")
        await command(alice, "runbook checkout-errors", channel)
        [run] = await warroom.runbooks.runs(1)
        checklist = run.checklist_ts or ""
        await slack.click(alice, channel, checklist, Action.STEP_DONE.of_step("look"))
        say("  @alice pressed Done on 'Check the error dashboard'")
        await slack.click(carol, channel, checklist, Action.STEP_TAKE.of_step("status-page"))
        say("  @carol pressed I'll take it on 'Update the status page'")
        await warroom.worker.run_until_idle()
        await command(alice, "status identified Deploy 4711 broke the payment client", channel)
        await slack.click(bob, channel, checklist, Action.STEP_DONE.of_step("rollback"))
        await slack.submit(bob, next(reversed(sim.views)), {})
        say("  @bob pressed Done on 'Roll back the last deploy' and confirmed it in the form")
        await warroom.worker.run_until_idle()
        await command(alice, "note Rolling back deploy 4711", channel)
        await command(alice, "status monitoring Rollback done, error rate falling", channel)
        say()
        say("== @bob presses Resolve on the pinned summary and fills in the form")
        incident = await warroom.queries.get(1)
        await slack.click(bob, channel, incident.summary_ts or "", Action.OPEN_RESOLVE)
        view_id = next(reversed(sim.views))
        await slack.submit(
            bob, view_id, {Field.SUMMARY: "Rolled back deploy 4711; payment client pinned to v2.3"}
        )
        await warroom.worker.run_until_idle()
        await command(alice, "close", channel)

        await _show_outcome(warroom, sim, say, channel)


async def _show_outcome(warroom: Warroom, sim: SlackSimulator, say: Any, channel: str) -> None:
    """What people saw in Slack, what warroom recorded, and where the documents are."""
    say()
    say("== What #incidents showed")
    incidents_channel = sim.channel_named("incidents")
    assert incidents_channel is not None
    for line in sim.transcript(incidents_channel.id):
        say(f"  {line}")
    say()
    say(
        f"== What #{sim.channels[channel].name} showed (topic: {sim.resolve_mentions(sim.channels[channel].topic)})"
    )
    for line in sim.transcript(channel):
        say(f"  {line}")
    say()
    say("== The timeline warroom recorded")
    for event in await warroom.queries.timeline(1):
        say(f"  {event.at:%H:%M:%S} {event.kind:<9} {sim.resolve_mentions(event.text)}")
    incident = await warroom.queries.get(1)
    say()
    say("== Milestones")
    for name in ("declared_at", "acknowledged_at", "mitigated_at", "resolved_at", "closed_at"):
        value = getattr(incident, name)
        say(f"  {name:<16} {value:%Y-%m-%d %H:%M:%S} UTC" if value else f"  {name:<16} -")
    say()
    say("== The post-mortem draft (written when the incident closed, uploaded into the channel)")
    for postmortem in await warroom.postmortems.versions(1):
        for path in warroom.postmortems.paths(postmortem):
            say(f"  {path.resolve()}")
