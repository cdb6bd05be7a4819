"""Jobs carry their incident's severity as a priority (SEV1 first when Slack's budget is
short), and a severity change re-ranks the incident's pending work."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Warroom
from bot.domain.budget import UNRANKED
from bot.jobs import JobKind
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store import jobs
from bot.store.tables import utcnow
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import Incident, Job, rows, settle


async def pending(warroom: Warroom, number: int) -> list[Job]:
    return [j for j in await rows(warroom, Job) if j.payload.get("incident") == number and not j.done_at]


async def test_jobs_take_the_priority_of_their_incidents_severity(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    await slack.command(people.alice, "declare sev4 Search is slow", general)
    await slack.command(people.alice, "declare sev1 Payments are down", general)
    (sev4, sev1) = await rows(warroom, Incident)
    assert (sev4.priority, sev1.priority) == (4, 1)
    assert {j.priority for j in await pending(warroom, 1)} == {4}
    assert {j.priority for j in await pending(warroom, 2)} == {1}
    # Work of no incident (the schedules, triage) goes after every incident's.
    await warroom.schedules.ensure()
    assert {j.priority for j in await rows(warroom, Job) if "incident" not in j.payload} == {UNRANKED}
    # With one slot, the SEV1's channel is made first, though declared second.
    warroom.worker.concurrency = 1
    await settle(warroom)
    created = [str(c.args.get("name")) for c in sim.calls if c.method == "conversations.create"]
    assert [name.split("-")[1] for name in created] == ["2", "1"]


async def test_a_severity_change_reranks_pending_work_and_wakes_what_waits_for_slack(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared
) -> None:
    await slack.command(people.alice, "note Rolling back the search index", declared.channel.id)
    (echo,) = [j for j in await pending(warroom, 1) if j.kind == JobKind.SLACK_ECHO]
    assert echo.priority == 3
    assert echo.id is not None
    await jobs.wait(warroom.db, echo.id, utcnow() + timedelta(minutes=1), "slack:chat.postMessage:C1")
    await slack.command(people.bob, "sev 1", declared.channel.id)
    (incident,) = await rows(warroom, Incident)
    assert incident.priority == 1
    waiting = [j for j in await pending(warroom, 1) if j.id == echo.id]
    assert waiting[0].priority == 1 and waiting[0].run_at <= utcnow()  # its place in line is taken anew
    assert all(j.priority == 1 for j in await pending(warroom, 1) if j.run_at <= utcnow())
    await settle(warroom)
    assert "Rolling back the search index" in str(declared.channel.messages)
