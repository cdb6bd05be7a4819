"""Stakeholder updates and the status page end to end: signed `/incident update` forms,
stakeholder channels in the Slack simulator, the public pages and feed through the real ASGI
app, the static copy on disk and the Statuspage fake."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import feedparser
import httpx
import pytest

from bot.app import Warroom
from bot.config import WarroomConfig
from bot.domain.status import Audience, UpdateDraft
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.statuspage import StatuspageFake
from bot.store.tables import StatusUpdate, utcnow
from bot.store.work_tables import Job
from tests.conftest import People
from tests.e2e.helpers import rows, settle
from tests.e2e.status.conftest import STATUS_CONFIG, channel_texts, open_incident, send_update


def exported_files(directory: Path) -> list[str]:
    return [p.read_text() for p in sorted(directory.rglob("*")) if p.is_file()]


INTERNAL_TITLE = "Primary payments DB failover codename BLUEFIN"


async def test_an_internal_update_reaches_only_the_stakeholder_channels(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    general: str,
    http: httpx.AsyncClient,
    statuspage: StatuspageFake,
) -> None:
    opened = await open_incident(
        warroom, slack, sim, people.alice, general, f"sev2 service:checkout {INTERNAL_TITLE}"
    )
    response = await send_update(
        slack,
        sim,
        people.alice,
        opened.channel,
        {
            "message": "Card payments fail for about 1 in 5 customers; failing over.",
            "component:Checkout": "partial_outage",
        },
    )
    assert response.status_code == 200 and not response.content
    await settle(warroom)

    [support] = [t for t in channel_texts(sim, "support") if "Card payments fail" in t]
    assert INTERNAL_TITLE in support  # internal stakeholders read the incident by its name
    assert not [t for t in channel_texts(sim, "leadership") if "Card payments" in t]  # SEV1 only
    assert not [t for t in channel_texts(sim, "incidents") if "Card payments" in t]
    echoed = [t for t in sim.messages(opened.channel) if "Card payments fail" in str(t.get("text"))]
    assert len(echoed) == 1  # and the channel sees what was sent
    [update] = await rows(warroom, StatusUpdate)
    assert (update.audience, update.components, update.actor) == (
        "internal",
        {"Checkout": "partial_outage"},
        people.alice,
    )
    [event] = [e for e in await warroom.queries.timeline(opened.number) if e.kind == "update"]
    assert event.text.startswith("Update (internal): Card payments fail")
    page = (await http.get("/status")).text
    assert "Card payments" not in page and INTERNAL_TITLE not in page and "All systems operational" in page
    assert json.loads((await http.get("/status.json")).text)["incidents"] == []
    assert statuspage.requests == []


async def test_a_public_update_is_on_every_page_and_resolving_posts_the_final_one(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    general: str,
    http: httpx.AsyncClient,
    statuspage: StatuspageFake,
    public_dir: Path,
) -> None:
    opened = await open_incident(
        warroom, slack, sim, people.alice, general, f"sev1 service:checkout {INTERNAL_TITLE}"
    )
    await send_update(
        slack,
        sim,
        people.alice,
        opened.channel,
        {
            "message": "Some card payments are failing. We are working on it.",
            "audience": "public",
            "public_title": "Card payments failing",
            "component:Checkout": "major_outage",
        },
    )
    await settle(warroom)
    for name in ("leadership", "support"):
        assert len([t for t in channel_texts(sim, name) if "Some card payments" in t]) == 1

    page = (await http.get("/status")).text
    assert "Card payments failing" in page and "Some card payments are failing" in page
    assert "Major outage" in page and INTERNAL_TITLE not in page
    served = json.loads((await http.get("/status.json")).text)
    [active] = served["incidents"]
    assert (active["title"], active["status"], active["impact"], active["components"]) == (
        "Card payments failing",
        "investigating",
        "major_outage",
        ["Checkout"],
    )
    assert {c["name"]: c["status"] for c in served["components"]} == {
        "Checkout": "major_outage",
        "Search": "operational",
        "API": "operational",
    }
    feed = feedparser.parse((await http.get("/status/feed.atom")).text)
    assert not feed.bozo and feed.version == "atom10"
    assert [e.title for e in feed.entries] == ["Card payments failing: Investigating"]
    assert "Some card payments are failing" in feed.entries[0].summary
    incident_page = await http.get(f"/status/incidents/{active['id']}")
    assert incident_page.status_code == 200 and "Some card payments are failing" in incident_page.text
    assert (public_dir / "index.html").exists() and (public_dir / f"incidents/{active['id']}.html").exists()
    [made] = statuspage.incidents
    assert (made["name"], made["status"], made["metadata"]["warroom"]["id"]) == (
        "Card payments failing",
        "investigating",
        active["id"],
    )
    assert statuspage.components["cmpcheckout1"]["status"] == "major_outage"

    await slack.command(people.alice, "status monitoring Failed over to the replica", opened.channel)
    await slack.command(people.alice, "resolve Failed over to the replica", opened.channel)
    await settle(warroom)

    finals = [u for u in await rows(warroom, StatusUpdate) if u.final]
    assert [(u.audience, u.message, u.components) for u in finals] == [
        ("public", "This incident has been resolved.", {"Checkout": "operational"})
    ]
    for name in ("leadership", "support"):
        assert [t for t in channel_texts(sim, name) if t.startswith("Final update on")]
    served = json.loads((await http.get("/status.json")).text)
    assert served["incidents"] == [] and served["status"] == "operational"
    [past] = served["past_incidents"]
    assert [u["message"] for u in past["updates"]] == [
        "This incident has been resolved.",
        "Some card payments are failing. We are working on it.",
    ]
    [made] = statuspage.incidents  # one incident there, updated and resolved
    assert made["status"] == "resolved" and statuspage.components["cmpcheckout1"]["status"] == "operational"
    assert [u["body"] for u in made["incident_updates"]] == [
        "This incident has been resolved.",
        "Some card payments are failing. We are working on it.",
    ]
    exported = json.loads((public_dir / "status.json").read_text())
    assert exported["past_incidents"][0]["id"] == past["id"]

    await slack.command(people.alice, "close", opened.channel)
    await settle(warroom)
    draft = (await warroom.postmortems.versions(opened.number))[-1]
    markdown = warroom.postmortems.paths(draft)[0].read_text()
    communication = markdown.split("## Communication")[1].split("## ")[0]
    assert "2 updates beyond the channel" in communication
    assert "public update from" in communication and "Some card payments are failing" in communication
    assert "final public update from" in communication and "[Checkout: operational]" in communication


async def test_private_incidents_and_drills_never_reach_the_status_page(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    general: str,
    http: httpx.AsyncClient,
    statuspage: StatuspageFake,
    public_dir: Path,
) -> None:
    public = await open_incident(
        warroom, slack, sim, people.alice, general, "sev1 service:search Index rebuild wedged"
    )
    await send_update(
        slack,
        sim,
        people.alice,
        public.channel,
        {"message": "Search results are slow.", "audience": "public", "component:Search": "degraded"},
    )
    secret = await open_incident(
        warroom, slack, sim, people.bob, general, "private sev1 Credential leak SECRETLEAK"
    )
    refused = await slack.command(
        people.bob, "update public Leaked keys rotated SECRETUPDATE", secret.channel
    )
    assert "private" in refused.json()["text"]
    await slack.command(people.bob, "update Keys rotated SECRETUPDATE", secret.channel)
    drill = await warroom.service.declare(
        title="Game day DRILLTITLE",
        reporter=people.carol,
        commander=people.carol,
        severity="SEV1",
        drill=True,
    )
    await settle(warroom)
    assert drill.number is not None
    await warroom.services.updates.post(
        drill.number, UpdateDraft("Practising DRILLUPDATE", Audience.PUBLIC), people.carol
    )
    await settle(warroom)

    served = json.loads((await http.get("/status.json")).text)
    ids = [i["id"] for i in served["incidents"] + served["past_incidents"]]
    documents = [
        (await http.get("/status")).text,
        (await http.get("/status.json")).text,
        (await http.get("/status/feed.atom")).text,
        *[(await http.get(f"/status/incidents/{i}")).text for i in ids],
        *exported_files(public_dir),
    ]
    assert len(ids) == 1 and "Search results are slow." in documents[0]
    for text in documents:
        for secret_word in (
            "SECRETLEAK",
            "SECRETUPDATE",
            "DRILLTITLE",
            "DRILLUPDATE",
            "Index rebuild wedged",
        ):
            assert secret_word not in text
    for number in (secret.number, drill.number):
        assert (await http.get(f"/status/incidents/{number}")).status_code == 404
    incidents = {i.number: i for i in await warroom.queries.list_incidents(open_only=False)}
    assert incidents[secret.number].public_id is None and incidents[drill.number].public_id is None
    for name in ("leadership", "support"):  # neither tells the stakeholders either
        assert not [t for t in channel_texts(sim, name) if "SECRET" in t or "DRILL" in t]
    assert [i["name"] for i in statuspage.incidents] == ["Issues with Search"]


async def test_an_update_counts_as_the_status_update_the_reminder_waits_for(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    warroom.service.clock = lambda: utcnow() - timedelta(minutes=20)  # SEV1: due every 30 minutes
    opened = await open_incident(warroom, slack, sim, people.alice, general, "sev1 Checkout down")
    warroom.service.clock = utcnow
    await slack.command(people.alice, "update Rolling back the 14:02 deploy", opened.channel)
    await settle(warroom, horizon=timedelta(minutes=15))
    assert "reminder" not in [e.kind for e in await warroom.queries.timeline(opened.number)]
    await settle(warroom, horizon=timedelta(minutes=31))
    [reminder] = [e.text for e in await warroom.queries.timeline(opened.number) if e.kind == "reminder"]
    assert reminder.endswith("Tell the stakeholders where things stand with `/incident update`.")


async def test_bad_update_forms_say_what_is_wrong_and_change_nothing(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    opened = await open_incident(warroom, slack, sim, people.alice, general, "sev2 Checkout down")
    response = await send_update(slack, sim, people.alice, opened.channel, {"message": "   "})
    assert response.json() == {
        "response_action": "errors",
        "errors": {"message": "The update is empty: say what stakeholders should know."},
    }
    await settle(warroom)
    assert await rows(warroom, StatusUpdate) == []
    assert not [j for j in await rows(warroom, Job) if j.kind == "slack.post_update"]


async def test_the_pages_are_cacheable_documented_and_the_figures_are_served(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    general: str,
    http: httpx.AsyncClient,
) -> None:
    opened = await open_incident(
        warroom, slack, sim, people.alice, general, "sev2 service:search Search down"
    )
    await send_update(
        slack,
        sim,
        people.alice,
        opened.channel,
        {"message": "Search is down.", "audience": "public", "component:Search": "major_outage"},
    )
    await settle(warroom)
    first = await http.get("/status")
    tag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public")
    again = await http.get("/status", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    schema = (await http.get("/openapi.json")).json()
    answer = schema["paths"]["/status.json"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert answer == {"$ref": "#/components/schemas/StatusOut"}
    assert {"components", "incidents", "past_incidents"} <= set(
        schema["components"]["schemas"]["StatusOut"]["properties"]
    )
    assert (await http.get("/status/incidents/nope")).status_code == 404

    await slack.command(people.alice, "resolve Restarted the cluster", opened.channel)
    await settle(warroom)
    figures = (await http.get("/api/reports/availability", params={"since": "1d"})).json()
    search = next(c for c in figures["components"] if c["component"] == "Search")
    assert 0 < search["downtime_seconds"] == search["seconds_by_state"]["major_outage"] < 60
    assert search["availability_percent"] < 100
    refused = await http.get("/api/reports/availability", params={"since": "soon"})
    assert refused.status_code == 422 and "since" in refused.json()["detail"]


async def test_statuspage_rate_limits_are_waited_out_and_a_refusal_is_noted_once(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    general: str,
    statuspage: StatuspageFake,
) -> None:
    opened = await open_incident(
        warroom, slack, sim, people.alice, general, "sev2 service:search Search down"
    )
    statuspage.rate_limit(2)  # 429 with Retry-After: 1, twice
    await slack.command(people.alice, "update public Search is down", opened.channel)
    await settle(warroom)
    assert statuspage.incidents == []  # waiting out Retry-After
    await settle(warroom, horizon=timedelta(seconds=5))
    assert [i["name"] for i in statuspage.incidents] == ["Service disruption"]  # it named no component

    statuspage.api_key = "rotated-elsewhere"  # warroom's key no longer works: 401, for good
    await slack.command(people.alice, "update public Still down", opened.channel)
    await settle(warroom, horizon=timedelta(minutes=5))
    assert [u["body"] for u in statuspage.incidents[0]["incident_updates"]] == ["Search is down"]
    [failed] = [
        j for j in await rows(warroom, Job) if j.kind == "statuspage.sync" and j.failed_at is not None
    ]
    assert "401" in str(failed.last_error)
    notes = [e.text for e in await warroom.queries.timeline(opened.number) if "statuspage.sync" in e.text]
    assert len(notes) == 1 and "Could not authenticate" in notes[0]


@pytest.mark.parametrize(
    "config", [WarroomConfig.model_validate({**STATUS_CONFIG, "access": {"admins": ["U0ADMIN1"]}})]
)
async def test_once_access_is_restricted_only_the_commander_and_comms_send_updates(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, general: str
) -> None:
    opened = await open_incident(warroom, slack, sim, people.alice, general, "sev2 Checkout down")
    refused = await slack.command(people.bob, "update Looking into it", opened.channel)
    assert "You may not send stakeholder updates for" in refused.json()["text"]
    await slack.command(people.alice, f"role comms <@{people.bob}|bob>", opened.channel)
    await slack.command(people.bob, "update Looking into it", opened.channel)
    await settle(warroom)
    assert [(u.actor, u.message) for u in await rows(warroom, StatusUpdate)] == [
        (people.bob, "Looking into it")
    ]
    assert [t for t in channel_texts(sim, "support") if "Looking into it" in t]
