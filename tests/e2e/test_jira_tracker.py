"""Follow-ups synced both ways with Jira Cloud, against the Jira fake (a real HTTP server):
the same promises as GitHub (tests/e2e/test_github_tracker.py) through Jira's own API: an ADF
description, a label to find the issue a lost answer made, transitions into and out of done,
and its signed webhook."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.app import Warroom
from bot.clock import simulated
from bot.config import WarroomConfig
from bot.domain.followups import FollowUpState
from bot.sim.driver import SlackDriver
from bot.sim.jira import JiraFake
from bot.sim.server import SlackSimulator
from bot.store.db import Database
from bot.store.tables import FollowUp, TimelineEvent
from bot.store.work_tables import Job
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import followup, rows, settle, warroom_with


@pytest.fixture
async def jira() -> AsyncIterator[JiraFake]:
    fake = await JiraFake().start()
    yield fake
    await fake.stop()


@pytest.fixture
def config() -> WarroomConfig:
    return WarroomConfig.model_validate(
        {"api": {"public_read": True}, "followups": {"tracker": "jira", "jira": {"project": "OPS"}}}
    )


@pytest.fixture
async def warroom(
    db: Database, sim: SlackSimulator, config: WarroomConfig, postmortem_dir: Path, jira: JiraFake
) -> AsyncIterator[Warroom]:
    async with warroom_with(
        db,
        sim,
        config,
        postmortem_dir,
        jira_url=jira.url,
        jira_email=jira.email,
        jira_api_token=jira.token,
        jira_webhook_secret=jira.webhook_secret,
    ) as app:
        yield app


async def test_a_follow_up_opens_one_jira_issue_even_when_the_answer_is_lost(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared, jira: JiraFake
) -> None:
    jira.lose_answers = 1
    await followup(slack, people.alice, declared.channel.id)
    await settle(warroom)
    await settle(warroom, horizon=timedelta(seconds=5))
    [issue] = jira.issues.values()
    fields = issue["fields"]
    assert fields["summary"] == "Alert on queue depth" and fields["issuetype"] == {"name": "Task"}
    assert fields["labels"] == ["warroom-followup-1", "severity:SEV3"]
    assert fields["description"]["type"] == "doc"
    assert "incident #1" in str(fields["description"]) and declared.channel.id in str(fields["description"])
    assert jira.count("POST", "/rest/api/3/issue") == 1
    [item] = await rows(warroom, FollowUp)
    assert (item.ticket_key, item.ticket_url) == ("OPS-1", f"{jira.url}/browse/OPS-1")


async def test_done_in_jira_closes_the_follow_up_once_and_done_in_slack_transitions_the_issue(
    warroom: Warroom,
    slack: SlackDriver,
    http: httpx.AsyncClient,
    people: People,
    declared: Declared,
    jira: JiraFake,
) -> None:
    await followup(slack, people.alice, declared.channel.id)
    await settle(warroom)  # its ticket first, so that the tickets are numbered as the follow-ups
    await followup(slack, people.alice, declared.channel.id, "Canary deploys")
    await settle(warroom)
    issue = jira.set_status("OPS-1", done=True)

    body, headers = jira.webhook(issue, secret="forged")
    assert (await http.post("/webhooks/jira", content=body, headers=headers)).status_code == 401
    body, headers = jira.webhook(issue)
    assert (await http.post("/webhooks/jira", content=body, headers=headers)).json() == {"changed": True}
    assert (await http.post("/webhooks/jira", content=body, headers=headers)).json() == {"changed": False}
    first, second = await rows(warroom, FollowUp)
    assert first.state == "done" and first.closed_by == "jira:Jira User"

    await warroom.followups.close(second.id or 0, FollowUpState.DONE, people.bob)
    await settle(warroom)
    assert jira.issues["OPS-2"]["fields"]["status"]["statusCategory"]["key"] == "done"
    await warroom.followups.close(second.id or 0, FollowUpState.OPEN, people.bob)
    await settle(warroom)
    assert jira.issues["OPS-2"]["fields"]["status"]["statusCategory"]["key"] == "new"
    events = [e.text for e in await rows(warroom, TimelineEvent, TimelineEvent.kind == "followup")]
    assert "Follow-up done: Alert on queue depth (OPS-1 closed in the tracker)" in events

    noise = b'{"webhookEvent": "comment_created"}'
    signed = "sha256=" + hmac.new(jira.webhook_secret.encode(), noise, hashlib.sha256).hexdigest()
    answer = await http.post("/webhooks/jira", content=noise, headers={**headers, "X-Hub-Signature": signed})
    assert answer.json() == {"ignored": "not an issue update"}


async def test_the_reconcile_catches_a_silent_change_and_rate_limits_only_delay(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared, jira: JiraFake
) -> None:
    jira.limited = 2
    await followup(slack, people.alice, declared.channel.id)
    for _ in range(3):
        await settle(warroom, horizon=timedelta(seconds=5))
    [item] = await rows(warroom, FollowUp)
    assert item.ticket_key == "OPS-1"
    jira.set_status("OPS-1", done=True)  # no webhook
    with simulated(datetime.now(UTC)) as clock:
        await warroom.schedules.ensure()
        clock.advance(hours=1, minutes=1)
        await settle(warroom)
    assert (await warroom.followups.get(item.id or 0)).state == "done"


async def test_bad_credentials_fail_for_good_with_a_note(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared, jira: JiraFake
) -> None:
    jira.token = "revoked"
    await followup(slack, people.alice, declared.channel.id)
    await settle(warroom)
    [job] = await rows(warroom, Job, Job.kind == "tracker.create")
    assert job.failed_at is not None and job.attempts == 1
    notes = [e.text for e in await rows(warroom, TimelineEvent, TimelineEvent.kind == "system")]
    assert notes == [
        "Job `tracker.create` failed for good: TrackerError: Jira answered 401: "
        "Client must be authenticated to access this resource."
    ]
