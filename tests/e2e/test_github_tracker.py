"""Follow-ups synced both ways with GitHub Issues, against the GitHub fake (a real HTTP
server): one ticket per follow-up, also when the tracker's answer is lost; closing the issue
(a signed webhook) closes the follow-up, once; done in Slack closes the issue; the hourly
reconcile catches a change no webhook announced; outages and rate limits delay tickets, bad
credentials fail for good with a note."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.app import Warroom, build
from bot.clock import simulated
from bot.config import ConfigError, Settings, WarroomConfig
from bot.domain.followups import FollowUpState
from bot.sim.driver import SlackDriver
from bot.sim.github import GitHubFake
from bot.sim.server import SlackSimulator
from bot.store.db import Database
from bot.store.tables import FollowUp, TimelineEvent
from bot.store.work_tables import Job
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import followup, rows, settle, warroom_with

REPO = "acme/ops"


@pytest.fixture
async def github() -> AsyncIterator[GitHubFake]:
    fake = await GitHubFake().start()
    yield fake
    await fake.stop()


@pytest.fixture
def config() -> WarroomConfig:
    return WarroomConfig.model_validate(
        {"api": {"public_read": True}, "followups": {"tracker": "github", "github": {"repo": REPO}}}
    )


@pytest.fixture
async def warroom(
    db: Database, sim: SlackSimulator, config: WarroomConfig, postmortem_dir: Path, github: GitHubFake
) -> AsyncIterator[Warroom]:
    async with warroom_with(
        db,
        sim,
        config,
        postmortem_dir,
        github_token=github.token,
        github_api_url=github.api_url,
        github_webhook_secret=github.webhook_secret,
    ) as app:
        yield app


async def test_a_follow_up_opens_exactly_one_ticket_linked_back_to_the_incident(
    warroom: Warroom,
    slack: SlackDriver,
    http: httpx.AsyncClient,
    people: People,
    declared: Declared,
    github: GitHubFake,
) -> None:
    await followup(slack, people.alice, declared.channel.id)
    await settle(warroom)
    await settle(warroom, horizon=timedelta(seconds=5))
    [issue] = github.issues(REPO)
    assert issue["title"] == "Alert on queue depth"
    assert "<!-- warroom:followup:1 -->" in issue["body"] and "incident #1" in issue["body"]
    assert f"channel={declared.channel.id}" in issue["body"]
    assert [label["name"] for label in issue["labels"]] == ["incident-followup", "severity:SEV3"]
    [item] = await rows(warroom, FollowUp)
    assert (item.ticket_key, item.ticket_url) == ("acme/ops#1", "https://github.com/acme/ops/issues/1")
    assert github.count("POST", "/issues") == 1
    events = [e.text for e in await rows(warroom, TimelineEvent, TimelineEvent.kind == "followup")]
    assert events[-1] == "Follow-up ticket acme/ops#1: Alert on queue depth"
    listing = (await slack.command(people.alice, "followups", declared.channel.id)).json()
    assert "<https://github.com/acme/ops/issues/1|acme/ops#1>" in str(listing["blocks"])  # shown with it
    await slack.command(people.alice, "postmortem", declared.channel.id)
    await settle(warroom)
    assert "Alert on queue depth, due " in (await warroom.postmortems.versions(1))[-1].markdown
    assert "(acme/ops\\#1)" in (await warroom.postmortems.versions(1))[-1].markdown
    [listed] = (await http.get("/api/incidents/1/followups")).json()
    assert (listed["ticket_key"], listed["ticket_url"]) == (
        "acme/ops#1",
        "https://github.com/acme/ops/issues/1",
    )


async def test_a_lost_answer_is_retried_without_a_second_ticket(
    warroom: Warroom,
    slack: SlackDriver,
    people: People,
    declared: Declared,
    github: GitHubFake,
) -> None:
    github.lose_answers = 1  # GitHub made the issue; warroom never heard back
    await followup(slack, people.alice, declared.channel.id)
    await settle(warroom)
    [job] = await rows(warroom, Job, Job.kind == "tracker.create")
    assert job.done_at is None and "502" in (job.last_error or "")
    await settle(warroom, horizon=timedelta(seconds=5))
    assert len(github.issues(REPO)) == 1 and github.count("POST", "/issues") == 1
    [item] = await rows(warroom, FollowUp)
    assert item.ticket_key == "acme/ops#1"


async def test_closing_the_issue_closes_the_follow_up_once_and_forged_webhooks_change_nothing(
    warroom: Warroom,
    slack: SlackDriver,
    http: httpx.AsyncClient,
    people: People,
    declared: Declared,
    github: GitHubFake,
) -> None:
    await followup(slack, people.alice, declared.channel.id)
    await settle(warroom)
    issue = github.set_state(REPO, 1, "closed")

    body, headers = github.webhook(REPO, issue, "closed", secret="not-the-secret")
    forged = await http.post("/webhooks/github", content=body, headers=headers)
    assert forged.status_code == 401
    assert (await rows(warroom, FollowUp))[0].state == "open"

    body, headers = github.webhook(REPO, issue, "closed")
    assert (await http.post("/webhooks/github", content=body, headers=headers)).json() == {"changed": True}
    again = await http.post("/webhooks/github", content=body, headers=headers)  # a redelivery
    assert again.json() == {"changed": False}
    [item] = await rows(warroom, FollowUp)
    assert item.state == "done" and item.closed_by == "github:octocat"
    await settle(warroom)
    assert github.count("PATCH") == 0  # the tracker is not told what it said itself
    events = [e.text for e in await rows(warroom, TimelineEvent, TimelineEvent.kind == "followup")]
    assert events[-1] == "Follow-up done: Alert on queue depth (acme/ops#1 closed in the tracker)"

    reopened = github.set_state(REPO, 1, "open")
    body, headers = github.webhook(REPO, reopened, "reopened")
    assert (await http.post("/webhooks/github", content=body, headers=headers)).json() == {"changed": True}
    assert (await rows(warroom, FollowUp))[0].state == "open"
    ping = b'{"zen": "Keep it logically awesome."}'
    signed = "sha256=" + hmac.new(github.webhook_secret.encode(), ping, hashlib.sha256).hexdigest()
    answer = await http.post(
        "/webhooks/github",
        content=ping,
        headers={**headers, "X-GitHub-Event": "ping", "X-Hub-Signature-256": signed},
    )
    assert answer.json() == {"ignored": "not an issues or deployment_status event"}


async def test_done_in_slack_closes_the_issue_and_the_reconcile_catches_silent_changes(
    warroom: Warroom,
    slack: SlackDriver,
    people: People,
    declared: Declared,
    github: GitHubFake,
) -> None:
    await followup(slack, people.alice, declared.channel.id)
    await settle(warroom)  # its ticket first, so that the tickets are numbered as the follow-ups
    await followup(slack, people.alice, declared.channel.id, "Canary deploys")
    await settle(warroom)
    first, second = await rows(warroom, FollowUp)
    await warroom.followups.close(first.id or 0, FollowUpState.WONT_DO, people.bob)
    await settle(warroom)
    issue = github.issues(REPO)[0]
    assert (issue["state"], issue["state_reason"]) == ("closed", "not_planned")

    github.set_state(REPO, 2, "closed")  # closed on GitHub, and the webhook never arrived
    with simulated(datetime.now(UTC)) as clock:
        await warroom.schedules.ensure()
        clock.advance(hours=1, minutes=1)
        await settle(warroom)
    assert (await warroom.followups.get(second.id or 0)).state == "done"
    checks = await rows(warroom, Job, Job.kind == "tracker.reconcile")
    assert [j.done_at is not None for j in checks] == [True]


async def test_a_rate_limited_or_down_tracker_delays_the_ticket_and_loses_nothing(
    warroom: Warroom,
    slack: SlackDriver,
    people: People,
    declared: Declared,
    github: GitHubFake,
) -> None:
    github.secondary_limited, github.limited, github.failing = 1, 1, 1
    await followup(slack, people.alice, declared.channel.id)
    assert len(await rows(warroom, FollowUp)) == 1  # stored at once
    for _ in range(4):
        await settle(warroom, horizon=timedelta(seconds=10))
    assert len(github.issues(REPO)) == 1
    assert (await rows(warroom, FollowUp))[0].ticket_key == "acme/ops#1"


async def test_bad_credentials_fail_for_good_with_a_note_not_a_retry_loop(
    warroom: Warroom,
    slack: SlackDriver,
    people: People,
    declared: Declared,
    github: GitHubFake,
) -> None:
    github.token = "rotated"  # warroom's token no longer works
    await followup(slack, people.alice, declared.channel.id)
    await settle(warroom)
    await settle(warroom, horizon=timedelta(minutes=10))
    [job] = await rows(warroom, Job, Job.kind == "tracker.create")
    assert job.failed_at is not None and job.attempts == 1 and "Bad credentials" in (job.last_error or "")
    notes = [e.text for e in await rows(warroom, TimelineEvent, TimelineEvent.kind == "system")]
    assert notes == [
        "Job `tracker.create` failed for good: TrackerError: GitHub answered 401: Bad credentials"
    ]
    assert github.issues(REPO) == []


def test_a_tracker_that_cannot_work_stops_start_up_saying_why(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"tracker linear needs followups\.linear\.team"):
        WarroomConfig.model_validate({"followups": {"tracker": "linear"}})
    with pytest.raises(ValueError, match=r"tracker jira needs followups\.jira\.project"):
        WarroomConfig.model_validate({"followups": {"tracker": "jira"}})
    with pytest.raises(ValueError, match=r"needs followups\.github\.repo"):
        WarroomConfig.model_validate({"followups": {"tracker": "github"}})
    with pytest.raises(ValueError, match="repo"):
        WarroomConfig.model_validate({"followups": {"tracker": "github", "github": {"repo": "no slash"}}})
    config = WarroomConfig.model_validate({"followups": {"tracker": "github", "github": {"repo": REPO}}})
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'x.db'}")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="set GITHUB_TOKEN"):
        build(settings, config, run_worker=False)
