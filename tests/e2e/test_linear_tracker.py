"""Follow-ups synced both ways with Linear, against the Linear fake (a real HTTP server at
/graphql): one issue per follow-up (also when the answer is lost), its signed webhook, done in
Slack moving it to a completed state, the reconcile, a rate limit, bad credentials."""

from __future__ import annotations

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
from bot.sim.linear import LinearFake
from bot.sim.server import SlackSimulator
from bot.store.db import Database
from bot.store.tables import FollowUp, TimelineEvent
from bot.store.work_tables import Job
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import followup, rows, settle, warroom_with


@pytest.fixture
async def linear() -> AsyncIterator[LinearFake]:
    fake = await LinearFake().start()
    yield fake
    await fake.stop()


@pytest.fixture
def config() -> WarroomConfig:
    return WarroomConfig.model_validate(
        {"api": {"public_read": True}, "followups": {"tracker": "linear", "linear": {"team": "OPS"}}}
    )


@pytest.fixture
async def warroom(
    db: Database, sim: SlackSimulator, config: WarroomConfig, postmortem_dir: Path, linear: LinearFake
) -> AsyncIterator[Warroom]:
    async with warroom_with(
        db,
        sim,
        config,
        postmortem_dir,
        linear_api_key=linear.api_key,
        linear_api_url=linear.api_url,
        linear_webhook_secret=linear.webhook_secret,
    ) as app:
        yield app


async def test_one_issue_per_follow_up_even_when_the_answer_is_lost(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared, linear: LinearFake
) -> None:
    linear.lose_answers = 1
    await followup(slack, people.alice, declared.channel.id)
    await settle(warroom)
    await settle(warroom, horizon=timedelta(seconds=5))
    [issue] = linear.issues.values()
    assert issue["title"] == "Alert on queue depth" and "`warroom:followup:1`" in issue["description"]
    assert linear.operations.count("issueCreate") == 1
    [item] = await rows(warroom, FollowUp)
    assert (item.ticket_key, item.ticket_url) == ("OPS-1", "https://linear.app/acme/issue/ops-1")


async def test_the_webhook_and_slack_keep_the_issue_and_the_follow_up_in_step(
    warroom: Warroom,
    slack: SlackDriver,
    http: httpx.AsyncClient,
    people: People,
    declared: Declared,
    linear: LinearFake,
) -> None:
    await followup(slack, people.alice, declared.channel.id)
    await settle(warroom)  # its ticket first, so that the tickets are numbered as the follow-ups
    await followup(slack, people.alice, declared.channel.id, "Canary deploys")
    await settle(warroom)
    issue = linear.set_state("OPS-1", "completed")
    body, headers = linear.webhook(issue, secret="forged")
    assert (await http.post("/webhooks/linear", content=body, headers=headers)).status_code == 401
    body, headers = linear.webhook(issue)
    assert (await http.post("/webhooks/linear", content=body, headers=headers)).json() == {"changed": True}
    assert (await http.post("/webhooks/linear", content=body, headers=headers)).json() == {"changed": False}
    first, second = await rows(warroom, FollowUp)
    assert first.state == "done"

    await warroom.followups.close(second.id or 0, FollowUpState.WONT_DO, people.bob)
    await settle(warroom)
    assert linear.issues["OPS-2"]["state"] == {"type": "canceled"}
    await warroom.followups.close(second.id or 0, FollowUpState.OPEN, people.bob)
    await settle(warroom)
    assert linear.issues["OPS-2"]["state"] == {"type": "unstarted"}


async def test_the_reconcile_catches_a_silent_change_and_a_rate_limit_only_delays(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared, linear: LinearFake
) -> None:
    linear.limited = 1
    await followup(slack, people.alice, declared.channel.id)
    for _ in range(3):
        await settle(warroom, horizon=timedelta(seconds=5))
    [item] = await rows(warroom, FollowUp)
    assert item.ticket_key == "OPS-1"
    linear.set_state("OPS-1", "completed")
    with simulated(datetime.now(UTC)) as clock:
        await warroom.schedules.ensure()
        clock.advance(hours=1, minutes=1)
        await settle(warroom)
    assert (await warroom.followups.get(item.id or 0)).state == "done"


async def test_bad_credentials_fail_for_good_with_a_note(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared, linear: LinearFake
) -> None:
    linear.api_key = "revoked"
    await followup(slack, people.alice, declared.channel.id)
    await settle(warroom)
    [job] = await rows(warroom, Job, Job.kind == "tracker.create")
    assert job.failed_at is not None and job.attempts == 1
    notes = [e.text for e in await rows(warroom, TimelineEvent, TimelineEvent.kind == "system")]
    assert notes == [
        "Job `tracker.create` failed for good: TrackerError: Linear answered 401: "
        "Authentication required, not authenticated"
    ]
