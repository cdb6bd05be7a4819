"""`warroom serve` killed (SIGKILL) in the middle of projecting an incident: Slack had done
the work but the answer never reached warroom. After a restart the projection completes,
and nothing exists twice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col

from bot.sim.github import GitHubFake
from bot.sim.jira import JiraFake
from bot.sim.linear import LinearFake
from bot.sim.server import SlackSimulator
from bot.sim.slack_model import Channel
from bot.sim.statuspage import StatuspageFake
from bot.sim.target import TargetServer
from bot.store.db import Database
from bot.store.tables import ActionRun, ChangeEvent, FollowUp, Incident, StatusUpdate, TimelineEvent
from tests import payloads
from tests.conftest import ALERT_TOKEN, People
from tests.e2e.helpers import TEST_CONFIG, environment
from tests.reliability.conftest import Server, census, serving, settled, until


def projected(sim: SlackSimulator) -> bool:
    channel = next((c for c in sim.channels.values() if c.name.startswith("inc-1-")), None)
    announcements = sim.channel_named("incidents")
    return bool(channel and channel.pins and announcements and announcements.messages)


def slack_did(sim: SlackSimulator, method: str) -> bool:
    """The simulator has carried out `method` (its answer is still on the way)."""
    channel = next((c for c in sim.channels.values() if c.name.startswith("inc-1-")), None)
    if method == "conversations.create":
        return channel is not None
    return channel is not None and any("metadata" in m for m in channel.messages)


async def declared(server: Server, sim: SlackSimulator, people: People) -> Channel:
    """Incident #1, declared through `server` and projected: its channel."""
    general = sim.channel_named("general")
    assert general is not None
    await server.slack.command(people.alice, "declare sev3 Search is slow", general.id)
    await until(lambda: projected(sim), "the channel is ready")
    [channel] = [c for c in sim.channels.values() if c.name.startswith("inc-1-")]
    return channel


@pytest.mark.processes
@pytest.mark.parametrize("answer_lost", ["conversations.create", "chat.postMessage"])
async def test_a_kill_mid_projection_completes_after_restart_without_duplicates(
    db: Database, sim: SlackSimulator, people: People, answer_lost: str
) -> None:
    general = sim.channel_named("general")
    assert general is not None
    env = environment(db, sim)
    async with serving(env, sim) as first:
        # Slack does the work at once but answers a minute later: the kill lands in between.
        sim.inject(answer_lost, status=200, delay=60, times=None)
        answer = await first.slack.command(people.alice, "declare sev2 Checkout is down", general.id)
        assert "Declared *#1* SEV2" in answer.json()["text"]
        await until(lambda: slack_did(sim, answer_lost), f"Slack has carried out {answer_lost}")
        await first.kill()
    sim.clear_faults()

    async with serving(env, sim):
        await until(lambda: projected(sim), "the projection is complete", within=60)
        after = await census(db, sim)
    [channel] = [c for c in sim.channels.values() if c.name.startswith("inc-1-")]
    assert channel.name == "inc-1-checkout-is-down"  # adopted, not "-2"
    assert after.channels == 1 and after.pins == {channel.name: 1} and after.announcements == 1
    summaries = [m for m in channel.messages if m.get("metadata", {}).get("event_type") == "warroom_summary"]
    assert len(summaries) == 1 and channel.pins == [summaries[0]["ts"]]
    assert after.incidents == 1 and after.jobs_failed == 0
    async with db.sessions() as session:
        incident = await session.get(Incident, 1)
    assert incident is not None and incident.channel_id == channel.id
    assert incident.summary_ts == summaries[0]["ts"] and incident.announcement_ts is not None


@pytest.mark.processes
async def test_a_kill_after_an_echo_was_posted_does_not_post_it_again(
    db: Database, sim: SlackSimulator, people: People
) -> None:
    env = environment(db, sim)
    async with serving(env, sim) as first:
        channel = await declared(first, sim, people)
        sim.inject("chat.postMessage", status=200, delay=60, times=None)
        await first.slack.command(people.alice, "note Restarted the search pods", channel.id)

        def echoed() -> bool:
            return any("Restarted the search pods" in m["text"] for m in channel.messages)

        await until(echoed, "Slack has posted the echo")
        await first.kill()
    sim.clear_faults()
    async with serving(env, sim):
        await settled(db)  # the echo job's lease runs out, and the new process retries it
    echoes = [m for m in channel.messages if "Restarted the search pods" in m["text"]]
    assert len(echoes) == 1
    assert sim.count("conversations.history") == 1  # the retry looked before posting
    assert (await census(db, sim)).jobs_failed == 0


@pytest.mark.processes
async def test_a_kill_after_a_draft_was_uploaded_does_not_upload_it_again(
    db: Database, sim: SlackSimulator, people: People
) -> None:
    env = environment(db, sim)
    async with serving(env, sim) as first:
        channel = await declared(first, sim, people)
        sim.inject("files.completeUploadExternal", status=200, delay=60, times=None)
        await first.slack.command(people.alice, "resolve Restarted the search pods", channel.id)
        await first.slack.command(people.alice, "close", channel.id)
        await until(lambda: any(m.get("files") for m in channel.messages), "Slack has shared the draft")
        await first.kill()
    sim.clear_faults()
    async with serving(env, sim):
        await settled(db)
    shared = [m for m in channel.messages if m.get("files")]
    assert [m["files"][0]["name"] for m in shared] == ["incident-1-postmortem-v1.md"]
    async with db.sessions() as session:
        incident = await session.get(Incident, 1)
    assert incident is not None and incident.postmortem_version == 1


@pytest.mark.processes
async def test_a_kill_after_a_publication_was_shared_does_not_share_it_again(
    db: Database, sim: SlackSimulator, people: People
) -> None:
    env = environment(db, sim)
    announcements = sim.channel_named("incidents")
    assert announcements is not None

    def published() -> list[dict]:
        return [m for m in announcements.messages if m.get("files")]

    async with serving(env, sim) as first:
        channel = await declared(first, sim, people)
        await first.slack.command(people.alice, "resolve Restarted the search pods", channel.id)
        await first.slack.command(people.alice, "close", channel.id)
        await until(lambda: any(m.get("files") for m in channel.messages), "Slack has shared the draft")
        await first.slack.command(people.alice, "postmortem review", channel.id)
        sim.inject("files.completeUploadExternal", status=200, delay=60, times=None)
        await first.slack.command(people.alice, "postmortem publish", channel.id)
        await until(lambda: bool(published()), "Slack has shared the published post-mortem")
        await first.kill()
    sim.clear_faults()
    async with serving(env, sim):
        await settled(db)
    assert len(published()) == 1
    assert published()[0]["files"][0]["name"] == "incident-1-postmortem-v1-published.html"
    assert (await census(db, sim)).jobs_failed == 0


@pytest.mark.processes
@pytest.mark.parametrize("tracker", ["github", "jira", "linear"])
async def test_a_kill_between_the_trackers_answer_and_the_commit_makes_one_ticket(
    db: Database, sim: SlackSimulator, people: People, tmp_path: Path, tracker: str
) -> None:
    fakes = {"github": GitHubFake, "jira": JiraFake, "linear": LinearFake}
    fake: GitHubFake | JiraFake | LinearFake = await fakes[tracker]().start()
    try:
        config = tmp_path / "warroom.yaml"
        if isinstance(fake, GitHubFake):
            settings = {"GITHUB_TOKEN": fake.token, "GITHUB_API_URL": fake.api_url}
            where = "  github: {repo: acme/ops}\n"
        elif isinstance(fake, JiraFake):
            settings = {"JIRA_URL": fake.url, "JIRA_EMAIL": fake.email, "JIRA_API_TOKEN": fake.token}
            where = "  jira: {project: OPS}\n"
        else:
            settings = {"LINEAR_API_KEY": fake.api_key, "LINEAR_API_URL": fake.api_url}
            where = "  linear: {team: OPS}\n"
        config.write_text(TEST_CONFIG.read_text() + f"\nfollowups:\n  tracker: {tracker}\n{where}")
        env = environment(db, sim, WARROOM_CONFIG=str(config), **settings)

        def made() -> int:
            return len(fake.issues("acme/ops")) if isinstance(fake, GitHubFake) else len(fake.issues)

        async with serving(env, sim) as first:
            channel = await declared(first, sim, people)
            fake.delay = 60  # the tracker makes the ticket, and warroom dies before it hears back
            await first.slack.command(people.alice, "followup Alert on queue depth p1", channel.id)
            await until(lambda: made() == 1, "the tracker has made the ticket")
            await first.kill()
        fake.delay = 0
        async with serving(env, sim):
            await settled(db)  # the lease runs out; the retry finds the ticket by its mark
        assert made() == 1
        async with db.sessions() as session:
            [item] = list(await session.scalars(sa.select(FollowUp)))
        assert item.ticket_key == ("acme/ops#1" if tracker == "github" else "OPS-1")
        assert (await census(db, sim)).jobs_failed == 0
    finally:
        await fake.stop()


@pytest.mark.processes
async def test_a_kill_after_a_change_was_echoed_does_not_post_it_again(
    db: Database, sim: SlackSimulator, people: People
) -> None:
    """A deploy before an alert (its suspects message), then a rollback while the incident is
    open, whose line on the timeline Slack posts just before the kill: after the restart each
    message is there once, and the change once."""
    env = environment(db, sim)
    now = datetime.now(UTC)
    bearer = {"Authorization": f"Bearer {ALERT_TOKEN}"}

    def deploy(change_id: str, version: str, finished: datetime) -> bytes:
        body = {"id": change_id, "service": "checkout", "summary": f"checkout {version}", "version": version}
        return json.dumps(
            {**body, "finished_at": finished.isoformat(), "started_at": finished.isoformat()}
        ).encode()

    def posted(text: str) -> list[dict]:
        channel = next(c for c in sim.channels.values() if c.name.startswith("inc-1-"))
        return [m for m in channel.messages if text in json.dumps(m.get("blocks", [])) + m["text"]]

    async with serving(env, sim) as first:
        await first.http.post(
            "/webhooks/changes", content=deploy("d-1", "v2.14.0", now - timedelta(minutes=9)), headers=bearer
        )
        alert = payloads.alertmanager(
            [payloads.alertmanager_alert(starts_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"))]
        )
        assert (
            await first.http.post("/webhooks/alertmanager", content=alert, headers=bearer)
        ).status_code == 200
        await until(lambda: projected(sim) and bool(posted("Suspect")), "the suspects are listed")
        sim.inject("chat.postMessage", status=200, delay=60, times=None)
        rollback = deploy("d-2", "v2.13.2", datetime.now(UTC))
        assert (await first.http.post("/webhooks/changes", content=rollback, headers=bearer)).json()[
            "incidents"
        ] == [1]
        await until(lambda: bool(posted("deploy checkout v2.13.2 finished")), "Slack has posted the change")
        await first.kill()
    sim.clear_faults()
    async with serving(env, sim):
        await settled(db)
    assert len(posted("deploy checkout v2.13.2 finished")) == 1
    assert len(posted("Suspect")) == 1
    async with db.sessions() as session:
        events = list(await session.scalars(sa.select(ChangeEvent)))
    assert sorted(e.change_id for e in events) == ["d-1", "d-2"]
    assert (await census(db, sim)).jobs_failed == 0


@pytest.mark.processes
async def test_a_kill_mid_action_retries_with_the_same_key_and_records_one_outcome(
    db: Database, sim: SlackSimulator, people: People, tmp_path: Path
) -> None:
    """Run sends the rollback; the target does it but warroom dies before the answer. After
    the restart the job asks again with the same Idempotency-Key: the target does it once,
    and the outcome is on the timeline once."""
    target = await TargetServer().start()
    try:
        runbooks = tmp_path / "runbooks"
        runbooks.mkdir()
        (runbooks / "rollback.yaml").write_text(
            "name: rollback\ndescription: Roll back.\nsteps:\n  - id: rollback\n    title: Roll back\n"
            f'    action: {{http: {{url: "{target.url}/rollback", headers: {{Authorization: "Bearer ${{DEPLOY_TOKEN}}"}}}}}}\n'
        )
        config = tmp_path / "warroom.yaml"
        config.write_text(
            TEST_CONFIG.read_text()
            + '\nactions:\n  allowed_hosts: ["127.0.0.1"]\n  allowed_networks: ["127.0.0.1/32"]\n'
        )
        env = environment(
            db, sim, WARROOM_CONFIG=str(config), RUNBOOKS_DIR=str(runbooks), DEPLOY_TOKEN="crash-token"
        )
        async with serving(env, sim) as first:
            channel = await declared(first, sim, people)
            await first.slack.command(people.alice, "runbook rollback", channel.id)
            await until(
                lambda: any(str(m.get("text", "")).startswith("Runbook ") for m in channel.messages),
                "the checklist is posted",
            )
            [checklist] = [m for m in channel.messages if str(m.get("text", "")).startswith("Runbook ")]
            target.delay = 60  # it does the work, and warroom dies before it hears back
            await first.slack.click(people.alice, channel.id, str(checklist["ts"]), "runbook_run:rollback")
            await until(lambda: len(target.executed) == 1, "the target has rolled back")
            await first.kill()
        target.delay = 0
        async with serving(env, sim):
            await settled(db)  # the lease runs out; the retry asks again with the same key
        keys = [r.key for r in target.requests]
        assert len(keys) == 2 and keys[0] == keys[1] and len(target.executed) == 1
        async with db.sessions() as session:
            [action] = list(await session.scalars(sa.select(ActionRun)))
            outcomes = list(
                await session.scalars(sa.select(TimelineEvent).where(col(TimelineEvent.kind) == "action"))
            )
        assert (action.state, action.idempotency_key, action.attempts) == ("succeeded", keys[0], 2)
        assert len(outcomes) == 1
        assert (await census(db, sim)).jobs_failed == 0
    finally:
        await target.stop()


@pytest.mark.processes
async def test_a_kill_after_statuspage_made_the_incident_makes_no_second_one(
    db: Database, sim: SlackSimulator, people: People, tmp_path: Path
) -> None:
    """The first public update creates the Statuspage incident, and warroom dies before the
    answer arrives. After the restart the retry finds it by its mark: one incident there, with
    each public update once."""
    fake = await StatuspageFake(components={"cmpsearch001": "Search"}).start()
    try:
        config = tmp_path / "warroom.yaml"
        config.write_text(
            TEST_CONFIG.read_text()
            + "\nstatus_page:\n  components:\n    - {name: Search, services: [search], statuspage_id: cmpsearch001}\n"
        )
        env = environment(
            db,
            sim,
            WARROOM_CONFIG=str(config),
            STATUSPAGE_API_KEY=fake.api_key,
            STATUSPAGE_PAGE_ID=fake.page_id,
            STATUSPAGE_API_URL=fake.api_url,
        )
        async with serving(env, sim) as first:
            channel = await declared(first, sim, people)
            fake.delay = 60  # Statuspage makes the incident, and warroom dies before it hears back
            await first.slack.command(people.alice, "update public Search is slow for some users", channel.id)
            await until(lambda: len(fake.incidents) == 1, "Statuspage has made the incident")
            await first.kill()
        fake.delay = 0
        async with serving(env, sim) as second:
            await settled(db)  # the lease runs out; the retry finds the incident by its mark
            await second.slack.command(people.alice, "update public Fixed; watching it", channel.id)
            await until(lambda: len(fake.incidents[0]["incident_updates"]) == 2, "the second update is there")
            await settled(db)
        [made] = fake.incidents
        assert [u["body"] for u in made["incident_updates"]] == [
            "Fixed; watching it",
            "Search is slow for some users",
        ]
        assert fake.count("POST") == 1
        async with db.sessions() as session:
            [incident] = list(await session.scalars(sa.select(Incident)))
            posted = [u.statuspage_update_id for u in await session.scalars(sa.select(StatusUpdate))]
        assert incident.statuspage_id == made["id"]
        assert set(posted) == {u["id"] for u in made["incident_updates"]}
        assert (await census(db, sim)).jobs_failed == 0
    finally:
        await fake.stop()
