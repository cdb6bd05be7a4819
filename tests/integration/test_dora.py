"""The DORA figures agree with their definitions (bot/domain/dora.py), computed here again
the plain way from what was stored, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import WarroomConfig
from bot.domain.changes import Change
from bot.domain.metrics import percentile
from bot.services.changes import ChangeService
from bot.services.dora import DoraService
from bot.services.timeline import Timeline
from bot.store.db import Database
from bot.store.tables import Incident

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PERIOD = timedelta(days=60)
SERVICES = ["checkout", "search", "api"]


def plan(seed: int = 11) -> tuple[list[tuple[Change, str]], list[Incident]]:
    """Changes over 90 days (deploys that went out, failed, were rolled back, ran only in
    staging, config pushes) sent as their events, and incidents blaming some of them."""
    rng = random.Random(seed)
    events: list[tuple[Change, str]] = []
    changes: list[Change] = []
    for i in range(300):
        started = NOW - timedelta(days=rng.uniform(0, 90))
        kind = "config" if i % 9 == 0 else "deploy"
        ending = rng.choice(["succeeded"] * 6 + ["failed", "rolled_back"])
        change = Change(
            id=f"c{i}",
            service=rng.choice(SERVICES),
            environment="staging" if i % 10 == 0 else "production",
            kind=kind,
            status="started",
            summary=f"change {i}",
            started_at=started,
            version=f"v{i}",
        )
        changes.append(change)
        events.append((change, "started"))
        if i % 25 != 0:  # a few never report how they ended
            events.append((change, ending))
    incidents = []
    for number in range(1, 121):
        started = NOW - timedelta(days=rng.uniform(0, 75))
        blamed = rng.choice(changes) if number % 3 else None
        resolved = None if number % 8 == 0 else started + timedelta(minutes=rng.uniform(5, 600))
        incidents.append(
            Incident(
                number=number,
                title=f"Incident {number}",
                severity="SEV2",
                status="resolved" if resolved else "investigating",
                reporter_id="U0ALICE",
                drill=number % 13 == 0,
                private=number % 17 == 0,
                started_at=started,
                detected_at=started,
                declared_at=started,
                resolved_at=resolved,
                updated_at=NOW,
                cause_change=blamed.id if blamed else None,
            )
        )
    return events, incidents


def expected(
    events: list[tuple[Change, str]], incidents: list[Incident], by_service: bool
) -> dict[str, dict]:
    """The definitions, word for word, over what was sent."""
    start = NOW - PERIOD
    last: dict[str, tuple[Change, str]] = {}
    order = {"started": 0, "succeeded": 1, "failed": 1, "rolled_back": 2}
    for change, status in events:
        if change.id not in last or order[status] >= order[last[change.id][1]]:
            last[change.id] = (change, status)
    deployments = {
        c.id: c
        for c, status in last.values()
        if c.kind == "deploy"
        and status in ("succeeded", "rolled_back")
        and c.environment == "production"
        and start <= c.started_at <= NOW
    }
    blamed = {i.cause_change for i in incidents if i.cause_change and not i.drill}
    figures: dict[str, dict] = {}

    def group(name: str) -> dict:
        return figures.setdefault(name, {"deployments": 0, "failed": 0, "recovery": []})

    for c in deployments.values():
        g = group(c.service if by_service else "all")
        g["deployments"] += 1
        g["failed"] += c.id in blamed
    for i in incidents:
        cause = deployments.get(i.cause_change or "")
        if i.drill or i.private or cause is None or not start <= i.started_at <= NOW:
            continue
        seconds = (i.resolved_at - i.started_at).total_seconds() if i.resolved_at else None
        group(cause.service if by_service else "all")["recovery"].append(seconds)
    return figures


@pytest.fixture
async def stored(db: Database) -> tuple[list[tuple[Change, str]], list[Incident]]:
    events, incidents = plan()
    changes = ChangeService(Timeline(db, clock=lambda: NOW), WarroomConfig())
    for change, status in events:
        ending = status != "started"
        finished = change.started_at + timedelta(minutes=7) if ending else None
        sent = Change(**{**change.__dict__, "status": status, "finished_at": finished})
        assert (await changes.record(sent)).new
    assert not (await changes.record(sent)).new  # a redelivery changes nothing
    async with db.transaction() as session:
        session.add_all(incidents)
    return events, incidents


@pytest.mark.parametrize("by", [None, "service"])
async def test_dora_figures_hold_to_their_definitions(
    db: Database, stored: tuple[list[tuple[Change, str]], list[Incident]], by: str | None
) -> None:
    events, incidents = stored
    dora = DoraService(ChangeService(Timeline(db, clock=lambda: NOW), WarroomConfig()), UTC)
    report = await dora.report(PERIOD, by, now=NOW)
    want = expected(events, incidents, by == "service")
    groups = report.groups if by else {"all": report.overall}
    assert sorted(groups) == sorted(want)
    for name, figures in want.items():
        got = groups[name]
        assert (got.deployments, got.failed) == (figures["deployments"], figures["failed"]), name
        assert got.per_day == pytest.approx(figures["deployments"] / PERIOD.days)
        assert got.failure_rate == pytest.approx(figures["failed"] / figures["deployments"])
        measured = sorted(v for v in figures["recovery"] if v is not None)
        assert got.recovery.count == len(measured), name
        assert got.recovery.missing == len(figures["recovery"]) - len(measured), name
        if measured:
            assert got.recovery.p50 == pytest.approx(percentile(measured, 0.5), abs=0.01)
            assert got.recovery.p90 == pytest.approx(percentile(measured, 0.9), abs=0.01)
    assert sum(report.weekly_deployments) == report.overall.deployments
    assert sum(report.weekly_failed) == report.overall.failed
    assert report.overall.deployments > 50 and report.overall.failed > 5  # the plan covers the cases
