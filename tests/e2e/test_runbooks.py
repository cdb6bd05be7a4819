"""Runbooks end to end: attached on declare, walked with signed clicks and modals, reminders,
version pinning while files change, drills."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import Warroom
from bot.domain.incident import DomainError
from bot.domain.metrics import summarize
from bot.domain.runbooks import StepRef, StepState
from bot.runbook_files import version_of
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store.tables import RunbookRun, RunbookStep, utcnow
from tests import payloads
from tests.conftest import ALERT_TOKEN, People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import Job, TimelineEvent, incident_channel, rows, settle

WEB_ERRORS = """\
name: web-errors
description: Many 5xx answers from an HTTP service.
match:
  labels:
    alertname: HighErrorRate
steps:
  - id: look
    title: Look at the dashboard
    details: "Errors of {{ incident.service }} on {{ labels.instance }}"
    owner: commander
    remind_after: 10m
  - id: rollback
    title: Roll back the deploy
    command: "kubectl rollout undo deployment/{{ incident.service }}"
    confirm: true
  - id: scale
    title: Scale out
    when:
      severities: [SEV1]
  - id: status-page
    title: Update the status page
    owner: comms
"""
MANUAL = """\
name: manual
description: Only by name.
steps:
  - id: one
    title: The only step
"""


def write_runbooks(tmp_path: Path) -> str:
    directory = tmp_path / "runbooks"
    directory.mkdir()
    (directory / "web-errors.yaml").write_text(WEB_ERRORS)
    (directory / "manual.yaml").write_text(MANUAL)
    return str(directory)


@pytest.fixture
def runbooks_dir(tmp_path: Path) -> str:
    return write_runbooks(tmp_path)


def checklist(sim: SlackSimulator, channel: str) -> dict[str, Any]:
    found = [m for m in sim.messages(channel) if str(m.get("text", "")).startswith("Runbook ")]
    assert len(found) == 1, f"expected one checklist message, found {len(found)}"
    return found[0]


def step_states(steps: list[RunbookStep]) -> dict[str, str]:
    return {s.step_id: s.state for s in steps}


async def command(slack: SlackDriver, user: str, text: str, channel: str) -> str:
    response = await slack.command(user, text, channel)
    assert response.status_code == 200
    return str(response.json().get("text", "")) if response.content else ""


async def start(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, declared: Declared, name: str
) -> str:
    """Start a runbook in the declared incident; returns the checklist's ts."""
    reply = await command(slack, sim_user(sim, "alice"), f"runbook {name}", declared.channel.id)
    assert reply.startswith(f"Started runbook *{name}*")
    await settle(warroom)
    return str(checklist(sim, declared.channel.id)["ts"])


def sim_user(sim: SlackSimulator, name: str) -> str:
    return next(uid for uid, user in sim.users.items() if user.get("name") == name)


async def test_an_alert_attaches_the_matching_runbook_and_posts_its_checklist(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator, runbooks_dir: str
) -> None:
    body = payloads.alertmanager([payloads.alertmanager_alert()])
    response = await http.post(
        "/webhooks/alertmanager", content=body, headers={"Authorization": f"Bearer {ALERT_TOKEN}"}
    )
    assert response.status_code == 200
    await settle(warroom)

    [run] = await rows(warroom, RunbookRun)
    assert (run.incident_number, run.name, run.source) == (1, "web-errors", "match")
    assert run.version == version_of((Path(runbooks_dir) / "web-errors.yaml").read_bytes())
    channel = await incident_channel(warroom, sim, 1)
    message = checklist(sim, channel.id)
    shown = str(message["blocks"])
    assert "Errors of checkout on checkout-7d9f:8080" in shown  # templates filled from the alert
    assert "kubectl rollout undo deployment/checkout" in shown
    assert "Not for this incident now: 3. Scale out (SEV1)" in shown  # SEV3: the SEV1 step waits
    assert run.checklist_ts == message["ts"]
    texts = [e.text for e in await warroom.queries.timeline(1) if e.kind == "runbook"]
    assert texts == [f"Runbook *web-errors* started (version {run.version}, 4 steps)"]


async def test_runbook_command_lists_starts_and_refuses_unknown_names(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    assert "No runbook matches this incident" in await command(slack, people.alice, "runbook", channel)
    unknown = await command(slack, people.alice, "runbook nope", channel)
    assert unknown == ":warning: There is no runbook `nope`. Runbooks: `manual`, `web-errors`."

    await start(warroom, slack, sim, declared, "web-errors")
    listing = await command(slack, people.alice, "runbook", channel)
    assert "*web-errors*" in listing and "(running)" in listing
    again = await command(slack, people.alice, "runbook web-errors", channel)
    assert again.startswith(":warning: This incident already runs *web-errors*")
    assert len(await rows(warroom, RunbookRun)) == 1


async def test_walking_the_checklist_with_signed_clicks(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    ts = await start(warroom, slack, sim, declared, "web-errors")
    shown = str(checklist(sim, channel)["blocks"])
    assert f"Owner: commander <@{people.alice}>" in shown
    assert "Owner: comms (nobody holds the role)" in shown
    assert "Errors of <service> on <instance>" not in shown  # escaped placeholders, never raw markup
    assert "Errors of &lt;service&gt; on &lt;instance&gt;" in shown

    # Done, clicked twice before the checklist refreshed: it counts once.
    first = await slack.click(people.bob, channel, ts, "runbook_done:look")
    second = await slack.click(people.bob, channel, ts, "runbook_done:look")
    assert first.status_code == second.status_code == 200
    assert (
        sim.responses[-1]["text"] == f":warning: *Look at the dashboard* was already done by <@{people.bob}>."
    )
    # I'll take it.
    await slack.click(people.carol, channel, ts, "runbook_take:status-page")
    await settle(warroom)

    steps = await rows(warroom, RunbookStep)
    assert step_states(steps) == {
        "look": "done",
        "rollback": "pending",
        "scale": "pending",
        "status-page": "pending",
    }
    look = next(s for s in steps if s.step_id == "look")
    assert look.finished_by == people.bob and look.finished_at is not None
    assert next(s for s in steps if s.step_id == "status-page").taken_by == people.carol
    message = checklist(sim, channel)
    assert message["ts"] == ts  # updated in place
    shown = str(message["blocks"])
    assert f":white_check_mark: 1. Look at the dashboard (<@{people.bob}>)" in shown
    assert f"Taken by <@{people.carol}>" in shown
    assert "runbook_done:look" not in shown

    # A dangerous step asks for confirmation first.
    await slack.click(people.bob, channel, ts, "runbook_done:rollback")
    view = sim.views[next(reversed(sim.views))]
    assert view["callback_id"] == "runbook_confirm" and "kubectl rollout undo" in str(view["blocks"])
    assert step_states(await rows(warroom, RunbookStep))["rollback"] == "pending"
    assert (await slack.submit(people.bob, view["id"], {})).status_code == 200
    again = await slack.submit(people.bob, view["id"], {})  # a double submission
    assert again.json()["response_action"] == "update" and "already done" in str(again.json()["view"])

    # Skip asks for a reason.
    await slack.click(people.carol, channel, ts, "runbook_skip:status-page")
    view = sim.views[next(reversed(sim.views))]
    empty = await slack.submit(people.carol, view["id"], {"reason": "  "})
    assert empty.json() == {
        "response_action": "errors",
        "errors": {"reason": "Say why the step is skipped: the post-mortem will ask."},
    }
    assert (
        await slack.submit(people.carol, view["id"], {"reason": "no <!channel> status page yet"})
    ).status_code == 200
    await settle(warroom)

    steps = await rows(warroom, RunbookStep)
    assert step_states(steps)["rollback"] == "done" and step_states(steps)["status-page"] == "skipped"
    texts = [(e.actor, e.text) for e in await warroom.queries.timeline(1) if e.kind == "runbook"][1:]
    assert texts == [
        (people.bob, "Runbook *web-errors*: *Look at the dashboard* done"),
        (people.carol, f"Runbook *web-errors*: <@{people.carol}> took *Update the status page*"),
        (people.bob, "Runbook *web-errors*: *Roll back the deploy* done"),
        (
            people.carol,
            "Runbook *web-errors*: *Update the status page* skipped: no <!channel> status page yet",
        ),
    ]
    shown = str(checklist(sim, channel)["blocks"])
    assert "skipped by" in shown and "no &lt;!channel&gt; status page yet" in shown
    assert "2/3 done, 1 skipped" in shown  # the SEV1-only step does not count for a SEV3


async def test_a_running_incident_keeps_its_version_when_the_file_changes(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    runbooks_dir: str,
    general: str,
) -> None:
    channel = declared.channel.id
    ts = await start(warroom, slack, sim, declared, "web-errors")
    old_version = (await rows(warroom, RunbookRun))[0].version

    edited = WEB_ERRORS.replace("Look at the dashboard", "Open the error dashboard").replace(
        "  - id: status-page\n    title: Update the status page\n    owner: comms\n",
        "  - id: page-owner\n    title: Page the owning team\n",
    )
    assert edited.count("page-owner") == 1
    (Path(runbooks_dir) / "web-errors.yaml").write_text(edited)
    new_version = version_of(edited.encode())

    await slack.click(people.bob, channel, ts, "runbook_done:look")
    await settle(warroom)
    shown = str(checklist(sim, channel)["blocks"])
    assert "Look at the dashboard" in shown and "Open the error dashboard" not in shown
    assert (await rows(warroom, RunbookRun))[0].version == old_version

    # A new incident gets the new version.
    await command(slack, people.carol, "declare Second one", general)
    await settle(warroom)
    second = await incident_channel(warroom, sim, 2)
    await command(slack, people.carol, "runbook web-errors", second.id)
    runs = {r.incident_number: r.version for r in await rows(warroom, RunbookRun)}
    assert runs == {1: old_version, 2: new_version}

    # The first incident moves to the new version on request, keeping what was done.
    reply = await command(slack, people.alice, "runbook web-errors", channel)
    assert reply.startswith(f"Runbook *web-errors* updated from version {old_version} to {new_version}")
    # Clicks from the checklist as it was (not refreshed yet): a step that is gone is refused,
    # a step that is still there counts.
    await slack.click(people.bob, channel, ts, "runbook_take:status-page")
    assert "out of date" in sim.responses[-1]["text"] and "`status-page`" in sim.responses[-1]["text"]
    await slack.click(people.bob, channel, ts, "runbook_take:rollback")
    await settle(warroom)
    steps = {s.step_id: s for s in await rows(warroom, RunbookStep, RunbookStep.run_id == 1)}
    assert steps["look"].state == "done" and steps["rollback"].taken_by == people.bob
    assert "page-owner" in steps
    shown = str(checklist(sim, channel)["blocks"])
    assert "Page the owning team" in shown and "Update the status page" not in shown


async def test_a_step_reminder_fires_once_and_never_after_the_step_is_done(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    await start(warroom, slack, sim, declared, "web-errors")
    before = len(sim.messages(channel))
    assert await settle(warroom, horizon=timedelta(minutes=9)) == 0

    await settle(warroom, horizon=timedelta(minutes=11))
    nudges = [m["text"] for m in sim.messages(channel)[before:]]
    assert nudges == [
        f":alarm_clock: <@{people.alice}>: *Look at the dashboard* (web-errors) is not done after 10 minutes."
    ]
    await settle(warroom, horizon=timedelta(hours=3))
    assert len(sim.messages(channel)) == before + 1
    assert [e.kind for e in await warroom.queries.timeline(1)].count("reminder") == 1


async def test_no_reminder_for_a_step_already_done(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    ts = await start(warroom, slack, sim, declared, "web-errors")
    await slack.click(people.alice, channel, ts, "runbook_done:look")
    await settle(warroom)
    await settle(warroom, horizon=timedelta(hours=1))
    assert [e.kind for e in await warroom.queries.timeline(1)].count("reminder") == 0
    [reminder] = await rows(warroom, Job, Job.kind == "reminder.runbook_step")
    assert reminder.done_at is not None  # it ran, looked, and stayed quiet


async def test_status_update_cadence_reminds_the_commander_unless_an_update_came(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    # Declared 20 minutes ago (SEV1: an update is due every 30 minutes), so due in 10.
    warroom.service.clock = lambda: utcnow() - timedelta(minutes=20)
    await command(slack, people.alice, "declare sev1 Checkout down", general)
    warroom.service.clock = utcnow
    await settle(warroom)
    channel = await incident_channel(warroom, sim, 1)

    await command(
        slack, people.alice, "status identified bad deploy", channel.id
    )  # an update: clock restarts
    await settle(warroom, horizon=timedelta(minutes=15))
    assert [e.kind for e in await warroom.queries.timeline(1)].count("reminder") == 0

    await settle(warroom, horizon=timedelta(minutes=31))
    reminders = [e.text for e in await warroom.queries.timeline(1) if e.kind == "reminder"]
    assert reminders == [
        f"<@{people.alice}>: no status update for 30 minutes. Tell the stakeholders where things stand with `/incident update`."
    ]
    assert (
        f":alarm_clock: <@{people.alice}>: no status update for 30 minutes"
        in sim.messages(channel.id)[-1]["text"]
    )

    await command(slack, people.alice, "resolve rolled back", channel.id)
    await settle(warroom, horizon=timedelta(hours=3))
    assert [e.kind for e in await warroom.queries.timeline(1)].count("reminder") == 1  # none once resolved


async def test_a_drill_is_marked_everywhere_and_pages_nobody(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    reply = await command(slack, people.alice, "drill web-errors", general)
    assert reply.startswith(":performing_arts: Drill *#1* declared")
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.drill
    channel = await incident_channel(warroom, sim, 1)
    assert channel.name == "inc-1-drill-web-errors"
    assert channel.messages[0]["blocks"][0]["text"]["text"] == "[DRILL] #1 web errors"
    assert (await warroom.queries.timeline(1))[0].text == "Declared drill: web errors (SEV3)"
    [run] = await rows(warroom, RunbookRun)
    assert (run.name, run.source) == ("web-errors", "drill")
    checklist(sim, channel.id)
    announcement = sim.channel_named("incidents")
    assert announcement is not None and "[DRILL] #1" in str(announcement.messages[-1]["blocks"])
    assert "DRILL" in await command(slack, people.bob, "list", general)

    refused = await command(slack, people.alice, "page checkout", channel.id)
    assert refused == ":warning: This is a drill: it pages nobody. Mention a person to pull them in."
    assert [j.kind for j in await rows(warroom, Job) if j.kind.startswith("pagerduty.")] == []
    # Rehearsed and over: it stays out of the metrics.
    await command(slack, people.alice, "resolve drill over", channel.id)
    report = summarize(await warroom.queries.list_incidents(open_only=False))
    assert (report.groups, report.drills_excluded) == ({}, 1)

    assert await command(slack, people.alice, "drill", general) == (
        ":warning: Which runbook? `/incident drill RUNBOOK`. Runbooks: `manual`, `web-errors`."
    )


async def test_a_sixty_step_checklist_is_accepted_by_slack(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    runbooks_dir: str,
) -> None:
    steps = "".join(
        f"  - id: s{i}\n    title: Step {i} {'t' * 120}\n    details: {'d' * 2400!r}\n    command: {'c' * 900!r}\n"
        for i in range(60)
    )
    (Path(runbooks_dir) / "long.yaml").write_text(f"name: long\ndescription: Sixty steps.\nsteps:\n{steps}")
    ts = await start(warroom, slack, sim, declared, "long")
    for i in range(8):  # the next five steps have buttons; each click refreshes the checklist
        await slack.click(people.bob, declared.channel.id, ts, f"runbook_done:s{i}")
        await settle(warroom)
    assert sim.count("chat.update", ok=False) == 0 and sim.count("chat.postMessage", ok=False) == 0
    shown = checklist(sim, declared.channel.id)
    assert len(shown["blocks"]) <= 50 and "8/60 done" in str(shown["blocks"])
    assert (await rows(warroom, TimelineEvent, TimelineEvent.kind == "runbook"))[-1].text.endswith(
        "*Step 7 " + "t" * 120 + "* done"
    )


async def test_closing_the_incident_takes_the_buttons_off_its_checklists(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    ts = await start(warroom, slack, sim, declared, "manual")
    await command(slack, people.alice, "resolve fixed", declared.channel.id)
    await command(slack, people.alice, "close", declared.channel.id)
    await settle(warroom)
    message = checklist(sim, declared.channel.id)
    assert message["ts"] == ts and "runbook_done:one" not in str(message["blocks"])
    assert "The only step" in str(message["blocks"])
    # A click that was on its way before the update is refused.
    with pytest.raises(DomainError, match="closed"):
        await warroom.runbooks.finish(StepRef(1, "one", "x"), people.bob, StepState.DONE)
