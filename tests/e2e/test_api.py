"""The read-only JSON API and the health endpoints."""

from __future__ import annotations

import httpx

from bot.app import Warroom
from bot.domain.incident import MILESTONES
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from tests.conftest import People
from tests.e2e.conftest import Declared


async def test_incidents_as_json(
    http: httpx.AsyncClient, slack: SlackDriver, people: People, declared: Declared, general: str
) -> None:
    await slack.command(people.alice, f"role scribe <@{people.bob}|bob>", declared.channel.id)
    await slack.command(people.alice, "status monitoring", declared.channel.id)
    await slack.command(people.carol, "declare sev1 Second one", general)

    listed = (await http.get("/api/incidents")).json()
    assert [i["number"] for i in listed] == [2, 1]
    one = (await http.get("/api/incidents/1")).json()
    assert {
        k: one[k] for k in ("number", "title", "severity", "status", "service", "channel_id", "roles")
    } == {
        "number": 1,
        "title": "Search is slow",
        "severity": "SEV3",
        "status": "monitoring",
        "service": None,
        "channel_id": declared.channel.id,
        "roles": {"commander": people.alice, "scribe": people.bob},
    }
    assert all(k in one for k in MILESTONES)
    assert one["declared_at"].endswith("Z") or one["declared_at"].endswith("+00:00")
    assert one["mitigated_at"] is not None and one["resolved_at"] is None and one["closed_at"] is None

    timeline = (await http.get("/api/incidents/1/timeline")).json()
    assert [e["kind"] for e in timeline] == ["declared", "role", "role", "status"]
    assert (
        timeline[-1]["text"] == "Status investigating → monitoring" and timeline[-1]["actor"] == people.alice
    )


async def test_closed_incidents_only_when_asked(
    http: httpx.AsyncClient, slack: SlackDriver, people: People, declared: Declared
) -> None:
    await slack.command(people.alice, "resolve fixed", declared.channel.id)
    await slack.command(people.alice, "close", declared.channel.id)
    assert (await http.get("/api/incidents")).json() == []
    assert [i["status"] for i in (await http.get("/api/incidents?status=all")).json()] == ["closed"]


async def test_api_errors_are_clean(http: httpx.AsyncClient) -> None:
    missing = await http.get("/api/incidents/99")
    assert missing.status_code == 404 and missing.json() == {"detail": "There is no incident #99."}
    assert (await http.get("/api/incidents/99/timeline")).status_code == 404
    assert (await http.get("/api/incidents/abc")).status_code == 422
    assert (await http.get("/api/incidents?status=bogus")).status_code == 422
    assert (await http.get("/api/incidents?limit=0")).status_code == 422
    assert (await http.get("/openapi.json")).json()["info"]["title"] == "warroom"


async def test_health_and_readiness(http: httpx.AsyncClient, warroom: Warroom, sim: SlackSimulator) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {
        "ready": True,
        "checks": {"database": "ok", "slack": "ok"},
    }
    await sim.go_down()
    not_ready = await http.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["database"] == "ok" and not_ready.json()["checks"]["slack"].startswith(
        "error"
    )
