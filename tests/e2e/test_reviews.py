"""Post-mortems that get finished: draft -> in review -> published, an owner, a due date by
severity, reminders before and after it (on a simulated clock), publishing announces the final
version, the App Home lists what the viewer owns, and the command line does the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import Warroom
from bot.cli import app
from bot.clock import simulated
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store.tables import TimelineEvent
from bot.store.work_tables import Job
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import rows, settle

START = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)  # after `declared`


async def reply(slack: SlackDriver, user: str, text: str, channel: str) -> str:
    response = await slack.command(user, text, channel)
    assert response.status_code == 200
    return str(response.json().get("text", "")) if response.content else ""


def reminders(sim: SlackSimulator, channel: str) -> list[str]:
    return [m["text"] for m in sim.messages(channel) if "post-mortem of #1" in m.get("text", "")]


async def test_the_review_lifecycle_with_reminders_and_publication(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    with simulated(START) as clock:
        await reply(slack, people.alice, "resolve Dropped the bad index", channel)
        clock.advance(minutes=30)
        await reply(slack, people.alice, "close", channel)
        await settle(warroom)
        incident = await warroom.queries.get(1)
        assert (incident.postmortem_state, incident.postmortem_owner) == ("draft", people.alice)
        assert incident.postmortem_due_at == START + timedelta(minutes=30, days=10)  # SEV3: 10 days
        scheduled = await rows(warroom, Job, Job.kind == "reminder.postmortem")
        assert sorted((j.payload["when"], j.run_at) for j in scheduled) == [
            ("before", incident.postmortem_due_at - timedelta(days=1)),
            ("overdue", incident.postmortem_due_at),
        ]

        refused = await reply(slack, people.alice, "postmortem publish", channel)
        assert refused == ":warning: Put it in review first: `/incident postmortem review`."
        assert await reply(slack, people.alice, f"postmortem owner <@{people.bob}|bob>", channel) == ""
        assert (await warroom.queries.get(1)).postmortem_owner == people.bob
        assert "Usage:" in await reply(slack, people.alice, "postmortem sideways", channel)

        clock.advance(days=9)  # a day before it is due
        await settle(warroom)
        assert reminders(sim, channel) == [
            f":alarm_clock: <@{people.bob}>: the post-mortem of #1 (draft) is due in 24 h 00 min. "
            "`/incident postmortem review`, then `publish`, when it is ready."
        ]
        clock.advance(days=1, hours=2)  # overdue
        await settle(warroom)
        clock.advance(hours=6)  # the same day: no second reminder
        await settle(warroom)
        clock.advance(days=1)
        await settle(warroom)
        overdue = reminders(sim, channel)[1:]
        assert [line.split(" is ")[1].split(".")[0] for line in overdue] == [
            "overdue by 2 h 00 min",
            "overdue by 32 h 00 min",
        ]

        await reply(slack, people.bob, "postmortem review", channel)
        assert (await warroom.queries.get(1)).postmortem_state == "in_review"
        again = await reply(slack, people.bob, "postmortem review", channel)
        assert "in review already" in again
        published = await reply(slack, people.bob, "postmortem publish", channel)
        assert published.startswith(":books: Published")
        await settle(warroom)
        clock.advance(days=3)
        await settle(warroom)
        assert len(reminders(sim, channel)) == 3  # published: quiet from now on

    incident = await warroom.queries.get(1)
    assert incident.postmortem_state == "published" and incident.postmortem_published_at is not None
    announcements = sim.channel_named("incidents")
    assert announcements is not None
    [shared] = [m for m in announcements.messages if m.get("files")]
    assert shared["text"].startswith(":books: The post-mortem of *#1 Search is slow* is published")
    assert "owner Bob (@bob)" in shared["text"]
    assert [f["name"] for f in shared["files"]] == [
        "incident-1-postmortem-v1-published.html",
        "incident-1-postmortem-v1-published.md",
        "incident-1-postmortem-v1-timeline.png",
    ]
    events = [e.text for e in await rows(warroom, TimelineEvent, TimelineEvent.kind == "postmortem")]
    assert events[-1] == "Post-mortem v1 published, late"
    final = await reply(slack, people.alice, "postmortem", channel)
    assert "published; it is final" in final
    summary = declared.channel.message(declared.summary_ts)
    assert summary is not None and "draft v1, uploaded in this channel · published" in str(summary["blocks"])
    report = await warroom.reports.mttr()
    assert report.postmortems == {"on_time": 0, "late": 1, "missing": 0, "pending": 0}


async def test_the_app_home_lists_the_post_mortems_you_own(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    await reply(slack, people.alice, "resolve Dropped the bad index", declared.channel.id)
    await reply(slack, people.alice, "close", declared.channel.id)
    await settle(warroom)
    await slack.open_home(people.alice)
    await settle(warroom)
    home = str(sim.home[people.alice]["blocks"])
    assert "Your post-mortems" in home and "*#1* Search is slow · draft · due " in home
    await slack.open_home(people.bob)
    await settle(warroom)
    assert "Your post-mortems" not in str(sim.home[people.bob]["blocks"])
    assert (await warroom.reports.mttr()).postmortems["pending"] == 1
    due = (await warroom.queries.get(1)).postmortem_due_at
    assert due is not None
    assert (await warroom.reports.mttr(now=due + timedelta(hours=1))).postmortems["missing"] == 1


def test_the_command_line_moves_a_post_mortem_along(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("POSTMORTEM_DIR", str(tmp_path / "drafts"))
    runner = CliRunner()
    assert runner.invoke(app, ["incident", "declare", "Search is slow", "--sev", "SEV1"]).exit_code == 0
    early = runner.invoke(app, ["postmortem", "1", "--review"])
    assert early.exit_code == 1 and "There is no post-mortem draft yet" in early.output
    assert runner.invoke(app, ["postmortem", "1"]).exit_code == 0
    owned = runner.invoke(app, ["postmortem", "1", "--owner", "U0BOB"])
    assert owned.exit_code == 0 and owned.output.startswith("Post-mortem of #1: draft, owner U0BOB, due ")
    assert runner.invoke(app, ["postmortem", "1", "--owner", "bob"]).exit_code == 1
    assert "choose one" in runner.invoke(app, ["postmortem", "1", "--review", "--publish"]).output
    assert "in review" in runner.invoke(app, ["postmortem", "1", "--review"]).output
    assert "published" in runner.invoke(app, ["postmortem", "1", "--publish"]).output
