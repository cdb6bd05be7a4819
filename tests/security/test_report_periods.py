"""Finding 3: a report covers at most ten years, whatever it is asked for or whatever old
date is stored, and its heavy part runs off the event loop: a signed Slack command is
acknowledged promptly while reports are computed."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from bot.app import Warroom
from bot.domain.metrics import MAX_PERIOD
from bot.sim.driver import SlackDriver
from bot.store.tables import Incident
from tests.conftest import People


async def test_an_unbounded_period_is_refused_at_once(http: httpx.AsyncClient) -> None:
    for since in ("700000d", "999999999d", "0d"):
        began = time.perf_counter()
        answer = await http.get("/api/reports/mttr", params={"since": since, "by": "week"})
        assert answer.status_code == 422, since
        assert answer.json()["detail"] == "since: a period from 1s to 3650d, or all"
        assert time.perf_counter() - began < 1


async def test_an_incident_from_year_two_does_not_stretch_since_all(
    warroom: Warroom, http: httpx.AsyncClient, slack: SlackDriver, people: People, general: str
) -> None:
    ancient = datetime(2, 1, 1, tzinfo=UTC)
    now = datetime.now(UTC)
    rows = [
        {
            "number": n,
            "title": f"Incident {n}",
            "severity": "SEV3",
            "status": "resolved",
            "reporter_id": "U0ALICE",
            "private": False,
            "drill": False,
            "started_at": ancient if n == 1 else now - timedelta(days=n),
            "detected_at": ancient if n == 1 else now - timedelta(days=n),
            "declared_at": now - timedelta(days=n),
            "resolved_at": now - timedelta(days=n) + timedelta(hours=1),
            "updated_at": now,
        }
        for n in range(1, 2001)
    ]
    async with warroom.db.transaction() as session:
        await session.execute(sa.insert(Incident), rows)
        if not warroom.db.is_sqlite:
            await session.execute(sa.text("SELECT setval('incident_number_seq', 2000)"))

    async def report() -> httpx.Response:
        return await http.get("/api/reports/mttr", params={"since": "all", "by": "week"})

    async def acked() -> float:
        await asyncio.sleep(0.01)
        began = time.perf_counter()
        answer = await slack.command(people.alice, "declare sev3 While reports run", general)
        assert "Declared" in answer.json()["text"]
        return time.perf_counter() - began

    began = time.perf_counter()
    reports = [asyncio.ensure_future(report()) for _ in range(6)]
    ack = await acked()
    answers = await asyncio.gather(*reports)
    assert time.perf_counter() - began < 10  # was a minute for one report
    assert ack < 1.5
    body = answers[0].json()
    start = datetime.fromisoformat(body["start"])
    assert start >= now - MAX_PERIOD - timedelta(seconds=5)
    assert len(body["trend"]["buckets"]) <= 523
