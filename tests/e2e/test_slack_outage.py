"""Slack failing while incidents are declared: the database keeps everything, Slack catches
up once it recovers, and nothing appears twice."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store import jobs
from tests.conftest import People
from tests.e2e.helpers import Job, TimelineEvent, count, rows, settle

LATER = timedelta(minutes=10)


async def assert_projected_once(warroom: Warroom, sim: SlackSimulator, number: int) -> None:
    incident = await warroom.queries.get(number)
    assert incident.channel_id and incident.summary_ts and incident.announcement_ts
    channel = sim.channels[incident.channel_id]
    summaries = [m for m in channel.messages if m.get("blocks") and m["blocks"][0]["type"] == "header"]
    assert len(summaries) == 1 and channel.pins == [incident.summary_ts]
    announcements = sim.channel_named("incidents")
    assert announcements is not None
    assert len([m for m in announcements.messages if f"#{number} " in str(m.get("blocks"))]) == 1
    assert len([c for c in sim.channels.values() if c.name.startswith(f"inc-{number}-")]) == 1


async def test_declare_during_500s_and_429s_commits_now_and_projects_once_later(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    sim.inject("*", status=500, times=3)
    sim.inject("*", status=429, retry_after=5, times=2)
    response = await slack.command(people.alice, "declare sev1 API is down", general)
    assert "Declared *#1* SEV1" in response.json()["text"]
    assert [e.kind for e in await warroom.queries.timeline(1)] == ["declared", "role"]

    for _ in range(6):  # each failed attempt reschedules the job; run them as time passes
        await settle(warroom, horizon=LATER)
    await assert_projected_once(warroom, sim, 1)
    # Opening the channel and looking up the declarer's name shared the five failures.
    done = await rows(warroom, Job, Job.done_at.is_not(None))  # type: ignore[union-attr]
    assert sorted(j.kind for j in done) == ["slack.lookup_user", "slack.open_channel"]
    assert sum(j.attempts for j in done) == 5 + 2
    # Still pending: the reminder to post a status update, due 30 minutes after a SEV1 is declared.
    assert await jobs.counts(warroom.db) == {"pending": 1, "done": 2, "failed": 0}
    assert sim.count("conversations.create") == 1


async def test_retry_after_is_honoured(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    sim.inject("conversations.create", status=429, retry_after=30)
    await slack.command(people.alice, "declare API is down", general)
    await settle(warroom)
    job = (await rows(warroom, Job, Job.kind == "slack.open_channel"))[0]
    assert job.done_at is None and "ratelimited" in (job.last_error or "")
    wait = (job.run_at - job.created_at).total_seconds()
    assert 29 <= wait <= 32
    assert await settle(warroom, horizon=timedelta(seconds=20)) == 0  # not before Retry-After
    assert await settle(warroom, horizon=timedelta(seconds=35)) == 1
    await assert_projected_once(warroom, sim, 1)


async def test_connection_refused_then_recovery(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    await sim.go_down()
    await slack.command(people.alice, "declare sev2 Queue backlog", general)
    await slack.command(people.bob, "declare sev3 Slow dashboards", general)
    await settle(warroom)
    assert await count(warroom, TimelineEvent) == 4
    pending = await rows(warroom, Job, col(Job.done_at).is_(None), col(Job.kind).startswith("slack."))
    assert sorted(j.kind for j in pending) == ["slack.lookup_user"] * 2 + ["slack.open_channel"] * 2
    assert all("ClientConnectorError" in (j.last_error or "") for j in pending)

    await sim.come_up()
    await settle(warroom, horizon=LATER)
    await assert_projected_once(warroom, sim, 1)
    await assert_projected_once(warroom, sim, 2)


async def test_failure_halfway_does_not_repeat_what_was_done(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    sim.inject("pins.add", status=500, times=2)
    await slack.command(people.alice, "declare Cache misses", general)
    await settle(warroom)
    await settle(warroom, horizon=LATER)
    await settle(warroom, horizon=LATER)
    await assert_projected_once(warroom, sim, 1)
    assert sim.count("chat.postMessage") == 2  # one summary, one announcement, across three attempts
    assert sim.count("pins.add", ok=False) == 2


async def test_changes_made_during_the_outage_appear_in_order(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    await slack.command(people.alice, "declare Checkout errors", general)
    await settle(warroom)
    channel = (await warroom.queries.get(1)).channel_id or ""
    await sim.go_down()
    await slack.command(people.alice, "note first", channel)
    await slack.command(people.alice, "status identified", channel)
    await slack.command(people.alice, "note second", channel)
    await settle(warroom)
    assert [m["text"] for m in sim.channels[channel].messages[1:]] == []

    await sim.come_up()
    await settle(warroom, horizon=LATER)
    texts = [m["text"] for m in sim.channels[channel].messages[1:]]
    assert len(texts) == 3
    assert "first" in texts[0] and "identified" in texts[1] and "second" in texts[2]
