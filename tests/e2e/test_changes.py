"""Changes end to end: a deploy of checkout, then an Alertmanager alert for checkout. The
incident channel lists the deploy with a working Suspect button; a deploy while it is open
lands on its timeline, flagged (checkout is frozen); the freeze endpoint answers 423 while it
is open and 200 once resolved; a freeze window of warroom.yaml answers 423; the CLI's exit
codes; GitHub's deployment_status, signed and forged, delivered twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import Warroom
from bot.config import WarroomConfig
from bot.sim.driver import SlackDriver
from bot.sim.github import GitHubFake
from bot.sim.server import SlackSimulator
from bot.slack.ids import Action, Marker
from bot.store.db import Database
from bot.store.tables import ChangeEvent, RunbookRun
from tests import payloads
from tests.conftest import ALERT_TOKEN, People
from tests.e2e.helpers import (
    Incident,
    TimelineEvent,
    count,
    environment,
    incident_channel,
    rows,
    run_warroom,
    settle,
    warroom_with,
)

BEARER = {"Authorization": f"Bearer {ALERT_TOKEN}", "Content-Type": "application/json"}


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def deploy(change_id: str, version: str, finished: datetime, **fields: Any) -> bytes:
    body = {
        "id": change_id,
        "service": "checkout",
        "environment": "production",
        "kind": "deploy",
        "summary": f"checkout {version}",
        "version": version,
        "author": "alice@example.com",
        "url": f"https://ci.example.com/runs/{change_id}",
        "status": "succeeded",
        "started_at": iso(finished - timedelta(minutes=4)),
        "finished_at": iso(finished),
        **fields,
    }
    return json.dumps(body).encode()


@pytest.fixture
async def github() -> AsyncIterator[GitHubFake]:
    fake = await GitHubFake().start()
    yield fake
    await fake.stop()


@pytest.fixture
def config() -> WarroomConfig:
    return WarroomConfig.model_validate(
        {"api": {"public_read": True}, "alerts": {"default": {"action": "declare", "severity": "SEV2"}}}
    )


@pytest.fixture
async def warroom(
    db: Database, sim: SlackSimulator, config: WarroomConfig, postmortem_dir: Path, github: GitHubFake
) -> AsyncIterator[Warroom]:
    async with warroom_with(
        db, sim, config, postmortem_dir, github_webhook_secret=github.webhook_secret
    ) as app:
        yield app


async def alert_for_checkout(http: httpx.AsyncClient, started: datetime) -> int:
    alert = payloads.alertmanager_alert(starts_at=iso(started))
    answer = await http.post("/webhooks/alertmanager", content=payloads.alertmanager([alert]), headers=BEARER)
    assert answer.status_code == 200, answer.text
    [number] = answer.json()["declared"]
    return int(number)


def message_with(sim: SlackSimulator, channel: str, marker: str) -> dict[str, Any]:
    found = [m for m in sim.messages(channel) if (m.get("metadata") or {}).get("event_type") == marker]
    assert len(found) == 1, f"{len(found)} messages {marker} in {channel}"
    return found[0]


def texts(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", [])) + str(message.get("text", ""))


async def test_the_deploy_before_an_alert_is_the_suspect_and_checkout_is_frozen_until_resolved(
    warroom: Warroom, http: httpx.AsyncClient, slack: SlackDriver, sim: SlackSimulator, people: People
) -> None:
    now = datetime.now(UTC)
    recorded = await http.post(
        "/webhooks/changes",
        content=deploy("deploy-8812", "v2.14.0", now - timedelta(minutes=15)),
        headers=BEARER,
    )
    assert recorded.status_code == 200
    assert recorded.json() | {"reason": None} == {
        "id": "deploy-8812",
        "status": "succeeded",
        "recorded": True,
        "duplicate": False,
        "incidents": [],
        "frozen": False,
        "reason": None,
    }
    elsewhere = json.loads(deploy("search-1", "v9", now - timedelta(minutes=5)))
    await http.post(
        "/webhooks/changes", content=json.dumps({**elsewhere, "service": "search"}), headers=BEARER
    )

    number = await alert_for_checkout(http, now - timedelta(minutes=3))
    await settle(warroom)
    channel = await incident_channel(warroom, sim, number)
    incident = await warroom.queries.get(number)
    summary = channel.message(incident.summary_ts or "")
    assert summary is not None
    assert "Started 12 min after deploy checkout v2.14.0" in texts(summary)
    assert "deploys to checkout are frozen while this incident is open" in texts(summary)

    changes = message_with(sim, channel.id, Marker.CHANGES)
    assert "deploy checkout v2.14.0" in texts(changes) and "search" not in texts(changes)
    assert "12 min before the start" in texts(changes)

    # The gate: 423 for checkout while the SEV2 is open, 200 for search.
    frozen = await http.get("/api/freeze", params={"service": "checkout"})
    assert frozen.status_code == 423
    assert frozen.json()["incidents"] == [
        {"number": number, "severity": "SEV2", "service": "checkout", "title": incident.title}
    ]
    assert f"SEV2 incident #{number} is open on checkout" in frozen.json()["reason"]
    assert (await http.get("/api/freeze", params={"service": "search"})).json() == {
        "frozen": False,
        "service": "search",
    }

    # Suspect links the deploy as the cause: on the timeline, in the summary, marked in the message.
    clicked = await slack.click(people.bob, channel.id, changes["ts"], Action.SUSPECT_CHANGE)
    assert clicked.status_code == 200
    await settle(warroom)
    assert (await warroom.queries.get(number)).cause_change == "deploy-8812"
    [cause] = await rows(warroom, TimelineEvent, TimelineEvent.kind == "cause")
    assert cause.text == "Linked deploy checkout v2.14.0 as the cause" and cause.actor == people.bob
    summary = channel.message(incident.summary_ts or "")
    assert summary is not None and "*Cause*: deploy checkout v2.14.0" in texts(summary)
    assert "Linked deploy checkout v2.14.0 as the cause" in texts(channel.messages[-1])

    # The rollback deploy, while it is open, lands on the timeline by itself, flagged.
    later = datetime.now(UTC)
    rollback = deploy(
        "deploy-8813",
        "v2.13.2",
        later,
        author="bob@example.com",
        started_at=iso(later - timedelta(minutes=1)),
    )
    answer = (await http.post("/webhooks/changes", content=rollback, headers=BEARER)).json()
    assert answer["incidents"] == [number] and answer["frozen"] is True
    await settle(warroom)
    [arrived] = await rows(warroom, TimelineEvent, TimelineEvent.kind == "change")
    assert arrived.text.startswith(
        ":warning: During a freeze: deploy checkout v2.13.2 finished (bob@example.com)."
    )
    assert any("During a freeze: deploy checkout v2.13.2" in texts(m) for m in channel.messages)
    stored = await rows(warroom, ChangeEvent, ChangeEvent.change_id == "deploy-8813")
    assert stored[0].freeze == f"SEV2 incident #{number} is open on checkout: {incident.title}"
    [during] = (await warroom.changes.for_incident(await warroom.queries.get(number))).during
    assert during.previous_version == "v2.14.0"  # what it rolled back from

    caught_up = (await slack.command(people.carol, "catchup", channel.id)).json()["text"]
    assert "*Recent changes* to checkout" in caught_up and "deploy checkout v2.13.2" in caught_up
    listed = await slack.command(people.carol, "changes", channel.id)
    assert "Cause" in listed.text and "While it was open" in listed.text and "deploy-8813" in listed.text

    # Resolved: the gate opens; the post-mortem names the changes, the cause marked.
    await slack.command(people.alice, "resolve Rolled back to v2.13.2", channel.id)
    await settle(warroom)
    assert (await http.get("/api/freeze", params={"service": "checkout"})).status_code == 200
    await slack.command(people.alice, "postmortem", channel.id)
    await settle(warroom)
    draft = (await warroom.postmortems.versions(number))[-1]
    section = draft.markdown.split("## Changes before and during")[1].split("## Runbooks")[0]
    assert "deploy checkout v2.14.0, succeeded, by alice@example.com **(linked as the cause)**" in section
    assert "While it was open:" in section and "deploy checkout v2.13.2" in section
    assert "Linked as the cause: deploy checkout v2.14.0" in draft.markdown


async def test_bad_change_payloads_get_400_naming_the_field_and_store_nothing(
    warroom: Warroom, http: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    bad = json.loads(deploy("x", "v1", now))
    for body, field in [
        ({**bad, "service": ""}, "service"),
        ({**bad, "kind": "yolo"}, "kind"),
        ({**bad, "finished_at": "2026-13-45"}, "finished_at"),
        ([bad, {**bad, "id": ""}], "[1].id"),
        ([], "(body)"),
        ("deploy", "(body)"),
    ]:
        answer = await http.post("/webhooks/changes", content=json.dumps(body), headers=BEARER)
        assert answer.status_code == 400 and answer.json()["field"] == field, body
    assert (await http.post("/webhooks/changes", content=deploy("x", "v1", now))).status_code == 401
    assert await count(warroom, ChangeEvent) == 0
    first = await http.post("/webhooks/changes", content=deploy("x", "v1", now), headers=BEARER)
    again = await http.post("/webhooks/changes", content=deploy("x", "v1", now), headers=BEARER)
    assert first.json()["recorded"] and again.json()["duplicate"]
    batch = [bad, {**bad, "id": "y"}, {**bad, "id": "y"}]  # one known, one new (sent twice)
    answer = (await http.post("/webhooks/changes", content=json.dumps(batch), headers=BEARER)).json()
    assert (answer["received"], answer["recorded"], answer["duplicates"]) == (3, 1, 2)
    assert [c["recorded"] for c in answer["changes"]] == [False, True, False]
    assert await count(warroom, ChangeEvent) == 2


async def test_github_deployment_status_is_a_signed_change_and_a_redelivery_changes_nothing(
    warroom: Warroom, http: httpx.AsyncClient, github: GitHubFake
) -> None:
    body, headers = github.deployment_status("acme/checkout", 7, "success", secret="forged")
    assert (await http.post("/webhooks/github", content=body, headers=headers)).status_code == 401
    assert await count(warroom, ChangeEvent) == 0

    for state in ("in_progress", "success"):
        body, headers = github.deployment_status("acme/checkout", 7, state)
        answer = await http.post("/webhooks/github", content=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["recorded"], answer.text
    again = await http.post("/webhooks/github", content=body, headers=headers)  # a redelivery
    assert again.json()["duplicate"] is True
    body, headers = github.deployment_status("acme/checkout", 7, "inactive")
    assert (await http.post("/webhooks/github", content=body, headers=headers)).json() == {
        "ignored": "deployment state inactive"
    }
    events = await rows(warroom, ChangeEvent)
    assert [(e.change_id, e.status, e.service, e.version, e.source) for e in events] == [
        ("github-deployment-7", "started", "checkout", "v2.14.0", "github"),
        ("github-deployment-7", "succeeded", "checkout", "v2.14.0", "github"),
    ]
    assert (
        events[1].url == "https://github.com/acme/checkout/actions/runs/7" and events[1].author == "octocat"
    )


async def test_a_freeze_window_of_warroom_yaml_closes_the_gate(
    db: Database, sim: SlackSimulator, postmortem_dir: Path
) -> None:
    now = datetime.now(UTC)
    config = WarroomConfig.model_validate(
        {
            "api": {"public_read": True},
            "changes": {
                "freeze_windows": [
                    {
                        "name": "black-friday",
                        "start": iso(now - timedelta(hours=1)),
                        "end": iso(now + timedelta(hours=1)),
                    },
                    {
                        "name": "search-later",
                        "services": ["search"],
                        "start": iso(now + timedelta(days=1)),
                        "end": iso(now + timedelta(days=2)),
                    },
                ]
            },
        }
    )
    async with warroom_with(db, sim, config, postmortem_dir) as app:
        transport = httpx.ASGITransport(app=app.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://warroom.test") as http:
            frozen = await http.get("/api/freeze", params={"service": "search"})
            assert frozen.status_code == 423
            assert frozen.json()["reason"] == "freeze window black-friday is active"
            assert frozen.json()["windows"] == ["black-friday"] and frozen.json()["incidents"] == []
            answer = await http.post("/webhooks/changes", content=deploy("bf-1", "v3", now), headers=BEARER)
            assert answer.json()["frozen"] is True
            [event] = await rows(app, ChangeEvent)
            assert event.freeze == "freeze window black-friday is active"
            assert (await http.get("/api/freeze", params={"service": ""})).status_code == 422


@pytest.mark.processes
async def test_the_command_line_records_changes_and_gates_pipelines(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator, db: Database
) -> None:
    env = environment(db, sim)
    code, out, _ = await run_warroom(
        env,
        "change",
        "record",
        "--service",
        "checkout",
        "--summary",
        "checkout v2.14.0",
        "--version",
        "v2.14.0",
        "--id",
        "ci-1",
    )
    assert code == 0 and "Recorded ci-1: deploy checkout v2.14.0 succeeded." in out
    code, out, err = await run_warroom(
        env, "change", "record", "--service", "checkout", "--summary", "x", "--kind", "yolo"
    )
    assert code == 1 and "--kind: expected one of deploy" in err

    number = await alert_for_checkout(http, datetime.now(UTC))
    code, _, err = await run_warroom(env, "freeze", "check", "--service", "checkout")
    assert code == 3 and f"SEV2 incident #{number} is open on checkout" in err
    await warroom.service.resolve(number, "U0ALICE", "Fixed")
    code, out, _ = await run_warroom(env, "freeze", "check", "--service", "checkout")
    assert code == 0 and "go: checkout may deploy" in out
    [change] = await rows(warroom, ChangeEvent)
    assert (change.change_id, change.source) == ("ci-1", "cli")
    code, out, _ = await run_warroom(env, "report", "dora", "--since", "7d", "--format", "json")
    assert code == 0 and json.loads(out)["overall"]["deployments"] == 1


ROLLBACK_RUNBOOK = """
name: bad-deploy
description: The service broke right after a deploy
match:
  changed_within: 2h
steps:
  - id: look
    title: Look at what changed
    details: "Changed before it broke: {{ changes }}"
  - id: rollback
    title: Roll back
    command: "deployctl rollback {{ incident.service }} --to {{ last_change.previous_version }}"
"""


async def test_a_runbook_matches_a_recent_change_and_its_command_names_the_rollback_target(
    db: Database, sim: SlackSimulator, postmortem_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "bad-deploy.yaml").write_text(ROLLBACK_RUNBOOK)
    config = WarroomConfig.model_validate({"alerts": {"default": {"action": "declare", "severity": "SEV2"}}})
    async with warroom_with(db, sim, config, postmortem_dir, runbooks_dir=str(tmp_path)) as app:
        transport = httpx.ASGITransport(app=app.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://warroom.test") as http:
            now = datetime.now(UTC)
            for change_id, version, ago in [("d-1", "v2.13.2", 300), ("d-2", "v2.14.0", 20)]:
                sent = deploy(change_id, version, now - timedelta(minutes=ago))
                assert (await http.post("/webhooks/changes", content=sent, headers=BEARER)).json()["recorded"]
            number = await alert_for_checkout(http, now - timedelta(minutes=2))
            await settle(app)
            channel = await incident_channel(app, sim, number)
            checklist = next(m for m in channel.messages if str(m.get("text", "")).startswith("Runbook "))
            shown = texts(checklist)
            assert "Changed before it broke: deploy checkout v2.14.0" in shown
            assert "deployctl rollback checkout --to v2.13.2" in shown

            # Nothing changed to search lately: the runbook's changed_within keeps it out.
            quiet = payloads.alertmanager_alert(service="search", fingerprint="0f0f0f0f0f0f0f0f")
            body = payloads.alertmanager([quiet], group_key='{}:{alertname="HighErrorRate",service="search"}')
            await http.post("/webhooks/alertmanager", content=body, headers=BEARER)
            await settle(app)
            runs = [(r.incident_number, r.name) for r in await rows(app, RunbookRun)]
            assert runs == [(number, "bad-deploy")]


async def test_the_dora_report_over_the_api_counts_a_deploy_blamed_for_an_incident(
    warroom: Warroom, http: httpx.AsyncClient, slack: SlackDriver, sim: SlackSimulator, people: People
) -> None:
    now = datetime.now(UTC)
    for change_id, minutes in [("d-1", 60), ("d-2", 15)]:
        sent = deploy(change_id, f"v{change_id}", now - timedelta(minutes=minutes))
        await http.post("/webhooks/changes", content=sent, headers=BEARER)
    number = await alert_for_checkout(http, now - timedelta(minutes=5))
    await settle(warroom)
    channel = await incident_channel(warroom, sim, number)
    assert (
        (await slack.command(people.alice, "cause d-2", channel.id))
        .json()["text"]
        .startswith(":dart: Linked")
    )
    unknown = await slack.command(people.alice, "cause nope", channel.id)
    assert "There is no change `nope`" in unknown.json()["text"]
    await slack.command(people.alice, "resolve Rolled back", channel.id)
    body = (await http.get("/api/reports/dora", params={"since": "7d", "by": "service"})).json()
    checkout = body["groups"]["checkout"]
    assert (checkout["deployments"], checkout["caused_incident"], checkout["change_failure_rate"]) == (
        2,
        1,
        0.5,
    )
    assert checkout["recovery_seconds"]["count"] == 1 and body["overall"]["deployments"] == 2
    assert (await http.get("/api/reports/dora", params={"since": "forever"})).status_code == 422
    assert (await http.get("/api/reports/dora", params={"by": "team"})).status_code == 422
    assert (await http.get("/api/freeze")).status_code == 422


async def test_the_same_change_delivered_twice_at_once_is_recorded_once(
    warroom: Warroom, http: httpx.AsyncClient
) -> None:
    sent = deploy("race-1", "v7", datetime.now(UTC))
    answers = await asyncio.gather(
        *(http.post("/webhooks/changes", content=sent, headers=BEARER) for _ in range(5))
    )
    assert {a.status_code for a in answers} == {200}
    assert sorted(a.json()["recorded"] for a in answers) == [False, False, False, False, True]
    assert await count(warroom, ChangeEvent) == 1


async def test_a_triage_post_says_how_long_after_a_change_the_alert_started(
    db: Database, sim: SlackSimulator, postmortem_dir: Path
) -> None:
    config = WarroomConfig.model_validate({"alerts": {"default": {"action": "triage"}}})
    async with warroom_with(db, sim, config, postmortem_dir) as app:
        transport = httpx.ASGITransport(app=app.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://warroom.test") as http:
            now = datetime.now(UTC)
            await http.post(
                "/webhooks/changes",
                content=deploy("d-9", "v2.14.0", now - timedelta(minutes=14)),
                headers=BEARER,
            )
            alert = payloads.alertmanager_alert(starts_at=iso(now - timedelta(minutes=2)))
            answer = await http.post(
                "/webhooks/alertmanager", content=payloads.alertmanager([alert]), headers=BEARER
            )
            assert answer.json()["triaged"] and not answer.json()["declared"]
            await settle(app)
            triage = sim.channel_named("incidents")
            assert triage is not None
            [post] = [m for m in triage.messages if "An alert needs a look" in texts(m)]
            assert "Started 12 minutes after deploy checkout v2.14.0" in texts(post)


async def test_an_incident_declared_with_a_service_lists_its_changes(
    warroom: Warroom, http: httpx.AsyncClient, slack: SlackDriver, sim: SlackSimulator, people: People
) -> None:
    general = sim.channel_named("general")
    assert general is not None
    await http.post("/webhooks/changes", content=deploy("d-5", "v3.1", datetime.now(UTC)), headers=BEARER)
    bad = await slack.command(people.alice, "declare sev2 service:<!channel> Checkout down", general.id)
    assert "a service is 1-100 of" in bad.json()["text"] and await count(warroom, Incident) == 0
    answer = await slack.command(people.alice, "declare sev2 service:checkout Checkout is down", general.id)
    assert "Declared *#1* SEV2: Checkout is down" in answer.json()["text"]
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert (incident.service, incident.title) == ("checkout", "Checkout is down")
    channel = await incident_channel(warroom, sim, 1)
    assert "deploy checkout v3.1" in texts(message_with(sim, channel.id, Marker.CHANGES))
