"""The MTTR report computed by the database agrees with the reference definition in
domain/metrics.py, on SQLite and PostgreSQL, for every grouping and edge case."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.domain.metrics import GROUPINGS, METRICS, Report, summarize
from bot.services.reports import ReportService
from bot.store.db import Database
from bot.store.tables import Incident

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def random_incidents(count: int, seed: int = 7) -> list[Incident]:
    """Incidents over a year with every edge case: never acknowledged, never resolved,
    drills, no service, a clock that ran backwards, impact starting on a month boundary."""
    rng = random.Random(seed)
    incidents = []
    for number in range(1, count + 1):
        started = NOW - timedelta(days=rng.uniform(0, 365))
        if number % 17 == 0:  # midnight at the turn of a month in Berlin: UTC still says last month
            started = datetime(2026, 7, 31, 22, 30, tzinfo=UTC)
        detected = started + timedelta(minutes=rng.uniform(0, 30))
        if number % 23 == 0:
            detected = started - timedelta(minutes=3)  # clock skew between alert sources
        acknowledged = None if number % 7 == 0 else detected + timedelta(minutes=rng.uniform(0, 20))
        mitigated = None if number % 5 == 0 else detected + timedelta(minutes=rng.uniform(10, 300))
        resolved = (
            None if number % 11 == 0 else (mitigated or detected) + timedelta(minutes=rng.uniform(0, 600))
        )
        incidents.append(
            Incident(
                number=number,
                title=f"Incident {number}",
                severity=rng.choice(["SEV1", "SEV2", "SEV3", "SEV4"]),
                service=rng.choice(["api", "checkout", "search", None]),
                status="resolved" if resolved else "investigating",
                reporter_id="U0ALICE",
                drill=number % 13 == 0,
                started_at=started,
                detected_at=detected,
                declared_at=detected,
                acknowledged_at=acknowledged,
                mitigated_at=mitigated,
                resolved_at=resolved,
                updated_at=NOW,
            )
        )
    return incidents


@pytest.fixture
async def incidents(db: Database) -> list[Incident]:
    rows = random_incidents(400)
    async with db.transaction() as session:
        session.add_all(rows)
    async with db.sessions() as session:  # read back: what the database holds
        return list(await session.scalars(sa.select(Incident).order_by(Incident.number)))  # type: ignore[arg-type]


def assert_same(computed: Report, expected: Report) -> None:
    assert computed.drills_excluded == expected.drills_excluded
    assert list(computed.groups) == list(expected.groups)
    for key, group in expected.groups.items():
        got = computed.groups[key]
        assert (got.incidents, got.open) == (group.incidents, group.open), key
        for metric in METRICS:
            a, b = got.metrics[metric], group.metrics[metric]
            assert (a.count, a.missing) == (b.count, b.missing), (key, metric)
            for stat in ("mean", "p50", "p90", "max"):
                assert getattr(a, stat) == pytest.approx(getattr(b, stat), abs=0.01), (key, metric, stat)


@pytest.mark.parametrize("by", [None, *GROUPINGS])
async def test_the_database_computes_what_the_definition_says(
    db: Database, incidents: list[Incident], by: str | None
) -> None:
    since = timedelta(days=200)
    report = await ReportService(db, BERLIN).mttr(since, by, now=NOW)
    in_period = [i for i in incidents if NOW - since <= i.started_at <= NOW]
    assert_same(report.report, summarize(in_period, by, BERLIN))
    assert report.incidents + report.report.drills_excluded == len(in_period)


async def test_all_time_starts_at_the_first_incident(db: Database, incidents: list[Incident]) -> None:
    report = await ReportService(db, BERLIN).mttr(None, "month", now=NOW)
    assert report.start == min(i.started_at for i in incidents)
    assert_same(report.report, summarize(incidents, "month", BERLIN))
    assert report.trend.unit == "month" and len(report.trend.buckets) == 13


async def test_months_are_the_configured_zones(db: Database, incidents: list[Incident]) -> None:
    at_midnight = [i for i in incidents if i.started_at == datetime(2026, 7, 31, 22, 30, tzinfo=UTC)]
    berlin = await ReportService(db, BERLIN).mttr(None, "month", now=NOW)
    utc = await ReportService(db, UTC).mttr(None, "month", now=NOW)
    moved = len([i for i in at_midnight if not i.drill])
    assert moved > 0
    assert berlin.report.groups["2026-08"].incidents == utc.report.groups["2026-08"].incidents + moved


async def test_the_trend_is_the_weekly_median_time_to_resolve_per_severity(
    db: Database, incidents: list[Incident]
) -> None:
    report = await ReportService(db, BERLIN).mttr(timedelta(days=60), now=NOW)
    trend = report.trend
    assert trend.unit == "week" and len(trend.buckets) in (9, 10)
    in_period = [i for i in incidents if NOW - timedelta(days=60) <= i.started_at <= NOW]
    weekly = summarize(in_period, "week", BERLIN)
    for severity, line in trend.p50.items():
        assert len(line) == len(trend.buckets)
        for week, p50 in zip(trend.buckets, line, strict=True):
            of_week = summarize([i for i in in_period if i.severity == severity], "week", BERLIN).groups.get(
                week
            )
            expected = of_week.metrics["time_to_resolve"].p50 if of_week else None
            assert p50 == pytest.approx(expected), (severity, week)
    assert set(weekly.groups) <= set(trend.buckets)


async def test_an_empty_database_gives_an_empty_report(db: Database) -> None:
    report = await ReportService(db, BERLIN).mttr(timedelta(days=30), "severity", now=NOW)
    assert report.report.groups == {} and report.incidents == 0
    assert report.trend.p50 == {} and len(report.trend.buckets) >= 4


async def test_a_grouping_that_does_not_exist_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="choose one of severity, service, month, week"):
        await ReportService(db, BERLIN).mttr(timedelta(days=30), "team", now=NOW)


async def test_a_group_where_nothing_was_resolved_has_no_percentiles(db: Database) -> None:
    [still_open] = [i for i in random_incidents(11) if i.number == 11]  # every 11th is unresolved
    still_open.drill = False
    async with db.transaction() as session:
        session.add(still_open)
    report = await ReportService(db, BERLIN).mttr(None, "severity", now=NOW)
    [group] = report.report.groups.values()
    assert (group.incidents, group.open) == (1, 1)
    resolve = group.metrics["time_to_resolve"]
    assert (resolve.count, resolve.missing, resolve.mean, resolve.p50, resolve.p90, resolve.max) == (
        0,
        1,
        None,
        None,
        None,
        None,
    )
    [line] = report.trend.p50.values()
    assert line == [None] * len(report.trend.buckets)
