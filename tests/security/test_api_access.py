"""Finding 4 (and 8, 9, 12, 16): /api needs a token by default, hashed and scoped; a write
token declares, notes, changes status, resolves and adds follow-ups through the same services
as Slack, recorded as `api:NAME`, idempotent with Idempotency-Key; tokens are throttled;
/metrics needs METRICS_TOKEN when set; the docs are off unless asked for; the Host header is
checked when ALLOWED_HOSTS is set; timelines come in pages; readiness does not spend Slack's
budget on every probe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from bot.app import Warroom, build
from bot.config import WarroomConfig
from bot.services.tokens import digest
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store.tables import ApiToken
from tests.conftest import People, make_settings
from tests.e2e.conftest import Declared
from tests.e2e.helpers import Incident, count, rows, settle, timeline_kinds


@pytest.fixture
def config() -> WarroomConfig:
    return WarroomConfig()  # the defaults: no public reads, no docs


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_without_a_token_the_api_answers_nothing(
    warroom: Warroom, http: httpx.AsyncClient, declared: Declared
) -> None:
    for path in ("/api/incidents", "/api/incidents/1", "/api/incidents/1/timeline", "/api/reports/mttr"):
        answer = await http.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "Search is slow" not in answer.text
    assert (await http.get("/api/incidents", headers=bearer("wr_guessed"))).status_code == 401
    assert (await http.get("/api/incidents", headers={"Authorization": "Basic eDp5"})).status_code == 401
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await http.get(path)).status_code == 404, path


async def test_tokens_are_stored_hashed_scoped_and_revocable(
    warroom: Warroom, http: httpx.AsyncClient, slack: SlackDriver, people: People, general: str
) -> None:
    await slack.command(people.alice, "declare private sev2 Payroll leak", general)
    await slack.command(people.bob, "declare Search is slow", general)
    reader = await warroom.tokens.create("grafana", "read")
    admin = await warroom.tokens.create("auditor", "admin")
    (row, _) = sorted(await rows(warroom, ApiToken), key=lambda t: t.name != "grafana")
    assert row.token_hash == digest(reader) and reader not in str(row.model_dump())
    listed = (await http.get("/api/incidents", headers=bearer(reader))).json()
    assert [i["number"] for i in listed] == [2]
    assert (await http.get("/api/incidents/1", headers=bearer(reader))).status_code == 404
    assert (await http.get("/api/incidents/1", headers=bearer(admin))).json()["private"] is True
    refused = await http.post("/api/incidents/2/notes", json={"text": "hi"}, headers=bearer(reader))
    assert refused.status_code == 403 and "scope is read" in refused.json()["detail"]

    await warroom.tokens.revoke("grafana")
    assert (await http.get("/api/incidents", headers=bearer(reader))).status_code == 401
    expiring = await warroom.tokens.create("short", "read", timedelta(seconds=-1))
    assert (await http.get("/api/incidents", headers=bearer(expiring))).status_code == 401


async def test_a_write_token_runs_an_incident_through_the_same_services(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator, people: People
) -> None:
    writer = bearer(await warroom.tokens.create("deploy-bot", "write"))
    declared = await http.post(
        "/api/incidents",
        json={"title": "Checkout 5xx", "severity": "SEV2", "service": "checkout"},
        headers={**writer, "Idempotency-Key": "deploy-8812"},
    )
    assert declared.status_code == 201 and declared.json()["number"] == 1
    again = await http.post(
        "/api/incidents", json={"title": "Checkout 5xx"}, headers={**writer, "Idempotency-Key": "deploy-8812"}
    )
    assert again.json()["number"] == 1 and await count(warroom, Incident) == 1

    note = {**writer, "Idempotency-Key": "note-1"}
    assert (
        await http.post("/api/incidents/1/notes", json={"text": "Rolling back"}, headers=note)
    ).status_code == 201
    replay = await http.post("/api/incidents/1/notes", json={"text": "Rolling back"}, headers=note)
    assert replay.headers["idempotent-replayed"] == "true"
    status = await http.post("/api/incidents/1/status", json={"status": "monitoring"}, headers=writer)
    assert status.json()["status"] == "monitoring"
    follow = await http.post(
        "/api/incidents/1/followups", json={"text": "Canary the deploy", "owner": people.bob}, headers=writer
    )
    assert follow.status_code == 201 and follow.json()[0]["created_by"] == "api:deploy-bot"
    resolve = {**writer, "Idempotency-Key": "resolve-1"}
    for _ in range(2):
        resolved = await http.post(
            "/api/incidents/1/resolve", json={"summary": "Rolled back"}, headers=resolve
        )
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    conflict = await http.post(
        "/api/incidents/1/resolve", json={}, headers=writer
    )  # no key: a second resolve
    assert conflict.status_code == 409

    assert await timeline_kinds(warroom, 1) == ["declared", "note", "status", "followup", "status"]
    actors = {e.actor for e in await warroom.queries.timeline(1)}
    assert actors == {"api:deploy-bot"}
    await settle(warroom)
    incident = await warroom.queries.get(1)
    assert incident.channel_id is not None
    texts = " ".join(m["text"] for m in sim.channels[incident.channel_id].messages)
    assert "Rolling back" in texts and texts.count("Rolling back") == 1

    bad = await http.post("/api/incidents", json={"title": "x", "severity": "SEV9"}, headers=writer)
    assert bad.status_code == 409 and bad.json()["detail"].startswith("Unknown severity")
    assert (await http.post("/api/incidents/1/notes", json={"text": ""}, headers=writer)).status_code == 422
    huge = await http.get(f"/api/incidents/{10**20}", headers=writer)
    assert huge.status_code == 422
    key = await http.post(
        "/api/incidents/1/notes", json={"text": "x"}, headers={**writer, "Idempotency-Key": "a b"}
    )
    assert key.status_code == 400


async def test_each_token_is_throttled(warroom: Warroom, http: httpx.AsyncClient) -> None:
    warroom_config = WarroomConfig.model_validate({"api": {"rate_limit": 5}})
    app = build(warroom.settings, warroom_config, run_worker=False, migrate=False)
    token = await app.tokens.create("script", "read")
    other = await app.tokens.create("other", "read")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app.http), base_url="http://t") as client:
        answers = [(await client.get("/api/incidents", headers=bearer(token))).status_code for _ in range(7)]
        assert answers == [200] * 5 + [429, 429]
        limited = await client.get("/api/incidents", headers=bearer(token))
        assert int(limited.headers["retry-after"]) >= 1
        assert (await client.get("/api/incidents", headers=bearer(other))).status_code == 200
    await app.close()


async def test_timelines_come_in_pages(warroom: Warroom, http: httpx.AsyncClient, declared: Declared) -> None:
    for i in range(5):
        await warroom.service.add_note(1, f"note {i}", "U1")
    token = bearer(await warroom.tokens.create("pager", "read"))
    first = await http.get("/api/incidents/1/timeline?limit=4", headers=token)
    assert [e["kind"] for e in first.json()] == ["declared", "role", "note", "note"]
    assert first.headers["link"] == '</api/incidents/1/timeline?offset=4&limit=4>; rel="next"'
    rest = await http.get("/api/incidents/1/timeline?offset=4&limit=4", headers=token)
    assert [e["text"] for e in rest.json()] == ["note 2", "note 3", "note 4"] and "link" not in rest.headers
    assert (await http.get("/api/incidents/1/timeline?limit=100000", headers=token)).status_code == 422


@pytest.fixture
async def guarded(warroom: Warroom, sim: SlackSimulator, config: WarroomConfig) -> AsyncIterator[Warroom]:
    """warroom with METRICS_TOKEN, ALLOWED_HOSTS and the docs on."""
    settings = make_settings(warroom.db.url, sim).model_copy(
        update={"metrics_token": "m-secret", "allowed_hosts": "warroom.example.com,*.internal"}
    )
    app = build(
        settings, WarroomConfig.model_validate({"api": {"docs": True}}), run_worker=False, migrate=False
    )
    await app.open_connections()
    yield app
    await app.close()


async def test_metrics_token_allowed_hosts_and_pinned_docs(guarded: Warroom) -> None:
    transport = httpx.ASGITransport(app=guarded.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom.example.com") as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=bearer("wrong"))).status_code == 401
        metrics = await client.get("/metrics", headers=bearer("m-secret"))
        assert metrics.status_code == 200 and "warroom_jobs_pending" in metrics.text
        docs = await client.get("/docs")
        assert "swagger-ui-dist@5.18.2/swagger-ui-bundle.js" in docs.text
        schema = (await client.get("/openapi.json")).json()
        assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    async with httpx.AsyncClient(transport=transport, base_url="http://a.internal") as client:
        assert (await client.get("/healthz")).status_code == 200
    async with httpx.AsyncClient(transport=transport, base_url="http://evil.example") as client:
        assert (await client.get("/healthz")).status_code == 400


async def test_readiness_asks_slack_at_most_every_30_seconds(warroom: Warroom, sim: SlackSimulator) -> None:
    settings = warroom.settings.model_copy(update={"readyz_slack_every": 30.0})
    app = build(settings, WarroomConfig(), run_worker=False, migrate=False)
    await app.open_connections()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app.http), base_url="http://t") as client:
        answers = [await client.get("/readyz") for _ in range(20)]
    await app.close()
    assert {a.status_code for a in answers} == {200}
    assert sim.count("auth.test") == 1


async def test_one_person_cannot_bury_the_next_incident(
    warroom: Warroom, slack: SlackDriver, people: People, general: str
) -> None:
    answers = [
        (await slack.command(people.bob, f"declare Flood {i}", general)).json()["text"] for i in range(12)
    ]
    assert all("Declared" in a for a in answers[:10])
    assert answers[10].startswith(
        ":warning: You have declared 10 incidents in 1 min, the most one person may"
    )
    assert (
        "Declared" in (await slack.command(people.alice, "declare sev1 The real one", general)).json()["text"]
    )
    async with warroom.db.sessions() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 11


async def test_text_no_column_can_take_is_made_storable(warroom: Warroom, http: httpx.AsyncClient) -> None:
    """Found by the fuzzer on PostgreSQL: a NUL in a follow-up made a 500."""
    writer = bearer(await warroom.tokens.create("fuzz", "write"))
    declared = await http.post("/api/incidents", json={"title": "Disk\u0000 full"}, headers=writer)
    assert declared.status_code == 201 and declared.json()["title"] == "Disk full"
    body = rb'{"text": "Alert\u0000 on \ud800inodes"}'  # a lone surrogate, as JSON may carry one
    follow = await http.post(
        "/api/incidents/1/followups", content=body, headers={**writer, "Content-Type": "application/json"}
    )
    assert follow.status_code == 422  # not a string JSON can encode again: refused, naming the field
    assert follow.json()["detail"][0]["loc"] == ["body", "text"]
    follow = await http.post(
        "/api/incidents/1/followups", json={"text": "Alert\u0000 on inodes"}, headers=writer
    )
    assert follow.status_code == 201 and follow.json()[0]["text"] == "Alert on inodes"
    note = await http.post("/api/incidents/1/notes", json={"text": "\u0000"}, headers=writer)
    assert note.status_code == 409 and note.json()["detail"].startswith("The note is empty")
