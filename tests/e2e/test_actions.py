"""Executable runbook steps end to end: signed clicks on Run, the job that sends the request to a
real local target server, retries with the same Idempotency-Key, confirmation, drills, who may
run, and built-ins that change the incident as their commands do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Warroom
from bot.config import WarroomConfig
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.target import TargetServer
from bot.store.tables import ActionRun, FollowUp, Postmortem, RunbookStep
from bot.store.work_tables import Job
from tests.conftest import People
from tests.e2e.helpers import incident_channel, rows, settle

TOKEN = "s3cr3t-deploy-token-42"

RUNBOOK = """\
name: bad-deploy
description: A deploy broke checkout.
match:
  services: [checkout]
steps:
  - id: rollback
    title: Roll back the deploy
    action:
      http:
        method: POST
        url: "{target}/rollback/{{{{ incident.service }}}}"
        headers: {{Authorization: "Bearer ${{DEPLOY_TOKEN}}", X-Incident: "{{{{ incident.number }}}}"}}
        json: {{reason: "incident {{{{ incident.number }}}}", service: "{{{{ incident.service }}}}"}}
        timeout: 5s
        expect: [200]
  - id: scale
    title: Scale out
    confirm: true
    action:
      http:
        url: "{target}/scale"
        json: {{replicas: 6}}
  - id: monitor
    title: Watch it recover
    run: auto
    action: {{status: monitoring}}
"""


@pytest.fixture
async def target() -> AsyncIterator[TargetServer]:
    server = await TargetServer().start()
    yield server
    await server.stop()


@pytest.fixture
def runbooks_dir(tmp_path: Path, target: TargetServer) -> str:
    directory = tmp_path / "runbooks"
    directory.mkdir()
    (directory / "bad-deploy.yaml").write_text(RUNBOOK.format(target=target.url))
    return str(directory)


@pytest.fixture
def config() -> WarroomConfig:
    return WarroomConfig.model_validate(
        {"actions": {"allowed_hosts": ["127.0.0.1"], "allowed_networks": ["127.0.0.1/32"]}}
    )


@pytest.fixture(autouse=True)
def deploy_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", TOKEN)


async def declare(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, *, drill: bool = False
) -> tuple[str, str]:
    """Incident #1 about checkout, with the runbook's checklist: its channel and checklist ts."""
    general = sim.channel_named("general")
    assert general is not None
    text = "drill bad-deploy" if drill else "declare sev2 service:checkout Checkout is failing"
    assert (await slack.command(people.alice, text, general.id)).status_code == 200
    await settle(warroom)
    channel = await incident_channel(warroom, sim, 1)
    [checklist] = [m for m in channel.messages if str(m.get("text", "")).startswith("Runbook ")]
    return channel.id, str(checklist["ts"])


def checklist_blocks(sim: SlackSimulator, channel: str) -> str:
    [found] = [m for m in sim.messages(channel) if str(m.get("text", "")).startswith("Runbook ")]
    return json.dumps(found["blocks"])


async def states(warroom: Warroom) -> dict[str, str]:
    return {s.step_id: s.state for s in await rows(warroom, RunbookStep)}


async def test_run_sends_one_request_and_its_outcome_goes_on_the_timeline_and_checklist(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, target: TargetServer
) -> None:
    channel, ts = await declare(warroom, slack, sim, people)
    shown = checklist_blocks(sim, channel)
    assert "runbook_run:rollback" in shown and "*Run* will POST 127.0.0.1" in shown

    assert (await slack.click(people.alice, channel, ts, "runbook_run:rollback")).status_code == 200
    assert target.requests == []  # committed as a job; sent by the worker
    await settle(warroom)

    [seen] = target.requests
    assert (seen.method, seen.path) == ("POST", "/rollback/checkout")
    assert seen.json() == {"reason": "incident 1", "service": "checkout"}
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["X-Incident"] == "1"
    assert seen.headers["Content-Type"] == "application/json"
    [action] = await rows(warroom, ActionRun)
    assert seen.key == action.idempotency_key and len(action.idempotency_key) == 32
    assert (action.state, action.status_code, action.requested_by) == ("succeeded", 200, people.alice)
    assert action.answer == '{"ok": true, "run": 1}'
    assert TOKEN not in json.dumps(action.request)  # kept as ${DEPLOY_TOKEN}
    assert "${DEPLOY_TOKEN}" in json.dumps(action.request)
    assert (await states(warroom))["rollback"] == "done"

    [event] = [e for e in await warroom.queries.timeline(1) if e.kind == "action"]
    assert event.actor == people.alice
    assert event.text.startswith(
        f"Runbook *bad-deploy*: <@{people.alice}> ran *Roll back the deploy* "
        f"(POST {target.url}/rollback/checkout): 200 OK in "
    )
    assert 'Answer: `{"ok": true, "run": 1}`' in event.text
    assert any("ran *Roll back the deploy*" in str(m.get("text")) for m in sim.messages(channel))  # echoed
    shown = checklist_blocks(sim, channel)
    assert ":white_check_mark: 1. Roll back the deploy" in shown and "200 OK in" in shown


async def test_a_503_then_200_is_retried_with_the_same_key(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, target: TargetServer
) -> None:
    channel, ts = await declare(warroom, slack, sim, people)
    target.answers = [(503, {}), (429, {"Retry-After": "1"})]
    await slack.click(people.alice, channel, ts, "runbook_run:rollback")
    await settle(warroom)
    assert len(target.requests) == 1
    [action] = await rows(warroom, ActionRun)
    assert action.state == "running" and "attempt 1 of 4: 503 Service Unavailable" in str(action.summary)
    assert "attempt 1 of 4: 503 Service Unavailable" in checklist_blocks(sim, channel)
    assert "runbook_run:rollback" not in checklist_blocks(sim, channel)  # no Run while it runs

    await settle(warroom, horizon=timedelta(seconds=5))
    assert [r.key for r in target.requests] == [action.idempotency_key] * 3
    assert len(target.executed) == 1
    [action] = await rows(warroom, ActionRun)
    assert (action.state, action.status_code, action.attempts) == ("succeeded", 200, 3)
    assert len([e for e in await warroom.queries.timeline(1) if e.kind == "action"]) == 1


async def test_a_double_click_runs_once(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, target: TargetServer
) -> None:
    channel, ts = await declare(warroom, slack, sim, people)
    await slack.click(people.alice, channel, ts, "runbook_run:rollback")
    await slack.click(people.alice, channel, ts, "runbook_run:rollback")
    assert sim.responses[-1]["text"] == (
        f":warning: *Roll back the deploy* is already running (started by <@{people.alice}>)."
    )
    await settle(warroom)
    assert "runbook_run:rollback" not in checklist_blocks(sim, channel)  # done: no Run any more
    assert len(target.requests) == 1 and len(await rows(warroom, ActionRun)) == 1


async def test_a_confirm_step_sends_nothing_until_confirmed_and_shows_what_it_will_send(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, target: TargetServer
) -> None:
    channel, ts = await declare(warroom, slack, sim, people)
    await slack.click(people.alice, channel, ts, "runbook_run:scale")
    view = sim.views[next(reversed(sim.views))]
    assert view["callback_id"] == "runbook_run_confirm"
    shown = json.dumps(view["blocks"])
    assert f"POST {target.url}/scale" in shown and '\\"replicas\\": 6' in shown
    await settle(warroom)
    assert target.requests == [] and await rows(warroom, ActionRun) == []

    assert (await slack.submit(people.alice, view["id"], {})).status_code == 200
    await settle(warroom)
    [seen] = target.requests
    assert (seen.path, seen.json()) == ("/scale", {"replicas": 6})
    again = await slack.submit(people.alice, view["id"], {})  # submitted twice
    assert "already done" in json.dumps(again.json())
    await settle(warroom)
    assert len(target.requests) == 1


async def test_a_secret_is_masked_on_the_confirmation_form(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    target: TargetServer,
    runbooks_dir: str,
) -> None:
    path = Path(runbooks_dir) / "bad-deploy.yaml"
    path.write_text(
        path.read_text().replace(
            "    title: Roll back the deploy\n", "    title: Roll back the deploy\n    confirm: true\n"
        )
    )
    channel, ts = await declare(warroom, slack, sim, people)
    await slack.click(people.alice, channel, ts, "runbook_run:rollback")
    shown = json.dumps(sim.views[next(reversed(sim.views))]["blocks"])
    assert "Authorization: Bearer [secret DEPLOY_TOKEN]" in shown and TOKEN not in shown


async def test_a_drill_sends_nothing_and_says_what_it_would_have_sent(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, target: TargetServer
) -> None:
    channel, ts = await declare(warroom, slack, sim, people, drill=True)
    assert "Run (dry run)" in checklist_blocks(sim, channel)
    await slack.click(people.alice, channel, ts, "runbook_run:rollback")
    await settle(warroom)
    assert target.requests == []
    assert [j for j in await rows(warroom, Job) if j.kind == "runbook.action"] == []
    [action] = await rows(warroom, ActionRun)
    assert action.dry_run and action.state == "succeeded"
    assert (
        action.summary == f"dry run (drill): would send POST {target.url}/rollback/checkout; nothing was sent"
    )
    assert (await states(warroom))["rollback"] == "done"
    # The step that runs by itself, once it is next, is a dry run too: the status stays.
    await slack.click(people.alice, channel, ts, "runbook_skip:scale")
    await slack.submit(people.alice, sim.views[next(reversed(sim.views))]["id"], {"reason": "a drill"})
    await settle(warroom)
    auto = (await rows(warroom, ActionRun))[-1]
    assert (auto.step_id, auto.dry_run, auto.summary) == (
        "monitor",
        True,
        "dry run (drill): would set the status to monitoring; nothing was sent",
    )
    assert (await warroom.queries.get(1)).status == "investigating"
    assert target.requests == []


async def test_an_auto_step_runs_when_it_becomes_the_next_step(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, target: TargetServer
) -> None:
    channel, ts = await declare(warroom, slack, sim, people)
    await slack.click(people.alice, channel, ts, "runbook_run:rollback")
    await settle(warroom)
    assert (await warroom.queries.get(1)).status == "investigating"  # scale is next, by hand
    await slack.click(people.bob, channel, ts, "runbook_done:scale")  # dangerous: Done confirms
    await slack.submit(people.bob, sim.views[next(reversed(sim.views))]["id"], {})
    await settle(warroom)
    assert target.requests[-1].path == "/rollback/checkout"  # scale was done by hand: not sent
    print([(a.step_id, a.state, a.summary) for a in await rows(warroom, ActionRun)], await states(warroom))
    incident = await warroom.queries.get(1)
    assert incident.status == "monitoring" and incident.mitigated_at is not None
    auto = (await rows(warroom, ActionRun))[-1]
    assert (auto.step_id, auto.requested_by, auto.state) == ("monitor", "warroom", "succeeded")
    assert (await states(warroom))["monitor"] == "done"


async def test_builtins_change_the_incident_as_their_commands_do(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    runbooks_dir: str,
    target: TargetServer,
) -> None:
    (Path(runbooks_dir) / "comms.yaml").write_text(
        """\
name: comms
description: Tell people.
steps:
  - id: note
    title: Note it
    action: {note: "Rolled back {{ incident.service }}"}
  - id: update
    title: Post an update
    action: {update: "Checkout is recovering"}
  - id: followup
    title: Track the fix
    action: {followup: {title: "Add a canary for {{ incident.service }}", owner: commander, priority: p1}}
  - id: page
    title: Page payments
    action: {page: payments}
"""
    )
    channel, _ = await declare(warroom, slack, sim, people)
    await slack.command(people.alice, "runbook comms", channel)
    await settle(warroom)
    [message] = [m for m in sim.messages(channel) if str(m.get("text", "")).startswith("Runbook comms")]
    for step in ("note", "update", "followup", "page"):
        await slack.click(people.alice, channel, str(message["ts"]), f"runbook_run:{step}")
        await settle(warroom)
    timeline = await warroom.queries.timeline(1)
    note = next(e for e in timeline if e.kind == "note")
    assert (note.text, note.actor) == ("Rolled back checkout", people.alice)
    update = next(e for e in timeline if e.kind == "update")
    assert (update.text, update.actor) == ("Update (internal): Checkout is recovering", people.alice)
    [item] = await rows(warroom, FollowUp)
    assert (item.text, item.owner, item.priority, item.created_by) == (
        "Add a canary for checkout",
        people.alice,
        "P1",
        people.alice,
    )
    # The same commands typed give the same records.
    await slack.command(people.alice, "note Rolled back checkout", channel)
    notes = [e for e in await warroom.queries.timeline(1) if e.kind == "note"]
    assert [(n.text, n.actor) for n in notes] == [("Rolled back checkout", people.alice)] * 2
    # Paging without a routing key fails as the command does, and the step offers Retry.
    page = next(a for a in await rows(warroom, ActionRun) if a.step_id == "page")
    assert page.state == "failed" and "no PagerDuty routing key for `payments`" in str(page.summary)
    [message] = [m for m in sim.messages(channel) if str(m.get("text", "")).startswith("Runbook comms")]
    assert '"text": "Retry"' in json.dumps(message["blocks"])
    assert (await warroom.queries.get(1)).update_due_at is not None


async def test_only_role_holders_responders_and_admins_may_run_actions(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, target: TargetServer
) -> None:
    warroom.config.access.admins.append(people.carol)  # restricted: commander, responders, admins
    channel, ts = await declare(warroom, slack, sim, people)
    await slack.click(people.bob, channel, ts, "runbook_run:rollback")
    assert sim.responses[-1]["text"] == (
        f":warning: You may not run runbook actions in #1: only its role holders (<@{people.alice}>) or an admin may."
    )
    await slack.click(people.bob, channel, ts, "runbook_run:scale")  # the form does not open either
    assert "You may not run runbook actions" in sim.responses[-1]["text"]
    await settle(warroom)
    assert target.requests == [] and await rows(warroom, ActionRun) == []
    await slack.click(people.carol, channel, ts, "runbook_run:rollback")  # an admin
    await settle(warroom)
    assert len(target.requests) == 1


async def test_the_post_mortem_says_who_ran_which_action_and_what_came_back(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    target: TargetServer,
    postmortem_dir: Path,
) -> None:
    channel, ts = await declare(warroom, slack, sim, people)
    target.answers = [(503, {})] * 4
    await slack.click(people.alice, channel, ts, "runbook_run:rollback")
    await settle(warroom, horizon=timedelta(seconds=30))  # four attempts, then it failed
    await slack.click(people.alice, channel, ts, "runbook_run:rollback")  # Retry
    await settle(warroom)
    await slack.command(people.alice, "resolve rolled back", channel)
    await slack.command(people.alice, "close", channel)
    await settle(warroom)
    [document] = await rows(warroom, Postmortem)
    url = f"{target.url}/rollback/checkout"
    assert (
        f"  - Ran POST {url} (Alice (@alice), " in document.markdown
        and "failed: 503 Service Unavailable in " in document.markdown
        and "(after 4 attempts)" in document.markdown
    )
    assert (
        "succeeded: 200 OK in " in document.markdown
        and '; answer: “\\{"ok": true, "run": 1\\}”' in document.markdown
    )
    assert people.alice not in document.markdown  # names, not Slack ids
    assert f"<li>Ran <code>POST {url}</code> (Alice (@alice), " in document.html


async def test_a_drill_live_runbook_really_sends_in_a_drill(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    target: TargetServer,
    runbooks_dir: str,
) -> None:
    path = Path(runbooks_dir) / "bad-deploy.yaml"
    path.write_text(path.read_text().replace("match:\n", "drill: live\nmatch:\n"))
    channel, ts = await declare(warroom, slack, sim, people, drill=True)
    assert "Run (dry run)" not in checklist_blocks(sim, channel)
    await slack.click(people.alice, channel, ts, "runbook_run:rollback")
    await settle(warroom)
    [action] = await rows(warroom, ActionRun)
    assert not action.dry_run and action.state == "succeeded" and len(target.requests) == 1
