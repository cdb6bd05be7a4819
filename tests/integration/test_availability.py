"""The availability figures read from the database (SQLite and PostgreSQL), held to their
definition on hand-computed cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import WarroomConfig
from bot.documents import availability as documents
from bot.domain.availability import Availability, AvailabilityReport
from bot.domain.status import ComponentState as S
from bot.services.status_page import AvailabilityReads
from bot.store.db import Database
from bot.store.tables import Incident, StatusUpdate

END = datetime(2026, 12, 1, tzinfo=UTC)
START = END - timedelta(days=30)  # 43 200 minutes
CONFIG = WarroomConfig.model_validate(
    {
        "status_page": {
            "components": [
                {"name": "Checkout", "services": ["checkout"], "slo": 99.9},
                {"name": "Search", "services": ["search"], "slo": 99.5},
                {"name": "API"},
            ]
        }
    }
)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


async def add(
    db: Database,
    number: int,
    started: float,
    resolved: float | None,
    updates: list[tuple[float, dict[str, str]]],
    *,
    service: str | None = None,
    drill: bool = False,
    private: bool = False,
) -> None:
    async with db.transaction() as session:
        session.add(
            Incident(
                number=number,
                title=f"incident {number}",
                severity="SEV2",
                status="resolved" if resolved is not None else "investigating",
                service=service,
                reporter_id="U1",
                drill=drill,
                private=private,
                started_at=at(started),
                detected_at=at(started),
                declared_at=at(started),
                resolved_at=at(resolved) if resolved is not None else None,
                updated_at=at(started),
            )
        )
        await session.flush()
        for i, (minute, components) in enumerate(updates):
            session.add(
                StatusUpdate(
                    incident_number=number,
                    at=at(minute),
                    actor="U1",
                    message="update",
                    audience="internal" if i % 2 else "public",
                    status="investigating",
                    components=components,
                    event_key=f"update:{number}:{i}",
                )
            )


@pytest.fixture
async def figures(db: Database) -> dict[str, Availability]:
    # Checkout: #1 partial 100 → 200 (from its first update naming it); #2 is of its service,
    # so major from its impact start 140 (the state its first update named at 150), partial
    # from 170 until resolved at 260: overlapping, the worst state counted once.
    await add(db, 1, 90, 300, [(100, {"Checkout": "partial_outage"}), (200, {"Checkout": "operational"})])
    await add(
        db,
        2,
        140,
        260,
        [(150, {"Checkout": "major_outage"}), (170, {"Checkout": "partial_outage"})],
        service="checkout",
    )
    # Search: degraded 1000 → 1030, major 1030 → 1040, operational again.
    await add(
        db,
        3,
        1000,
        1100,
        [
            (1000, {"Search": "degraded"}),
            (1030, {"Search": "major_outage"}),
            (1040, {"Search": "operational"}),
        ],
    )
    # API: began before the period (-600), major until resolved 45 minutes into it.
    await add(db, 4, -600, 45, [(-590, {"API": "major_outage"})])
    # Neither a drill nor an incident resolved before the period counts.
    await add(db, 5, 2000, 2100, [(2000, {"API": "major_outage"})], drill=True)
    await add(db, 6, -2000, -1000, [(-2000, {"API": "major_outage"})])
    report = await AvailabilityReads(db, CONFIG).report(timedelta(days=30), now=END)
    return {row.component: row for row in report.rows}


async def test_overlapping_incidents_count_the_worst_state_once(figures: dict[str, Availability]) -> None:
    checkout = figures["Checkout"]
    assert checkout.by_state[S.MAJOR_OUTAGE] == timedelta(minutes=30)  # 140 → 170
    assert checkout.by_state[S.PARTIAL_OUTAGE] == timedelta(minutes=40 + 90)  # 100 → 140, 170 → 260
    assert checkout.downtime == timedelta(minutes=160)
    assert checkout.percent == pytest.approx(100 * (43200 - 160) / 43200)
    assert checkout.budget == timedelta(minutes=43.2)
    assert checkout.budget_left == timedelta(minutes=43.2 - 160)


async def test_degraded_then_down_counts_each_state_and_only_the_outage_as_downtime(
    figures: dict[str, Availability],
) -> None:
    search = figures["Search"]
    assert search.by_state == {
        S.DEGRADED: timedelta(minutes=30),
        S.PARTIAL_OUTAGE: timedelta(0),
        S.MAJOR_OUTAGE: timedelta(minutes=10),
    }
    assert search.downtime == timedelta(minutes=10)
    assert search.budget_left == timedelta(minutes=216 - 10)


async def test_an_incident_spanning_the_start_counts_inside_the_period_only(
    figures: dict[str, Availability],
) -> None:
    api = figures["API"]
    assert api.downtime == timedelta(minutes=45)
    assert api.slo is None and api.budget_left is None


async def test_the_json_document_says_the_same_in_seconds(figures: dict[str, Availability]) -> None:
    report = AvailabilityReport(START, END, UTC, list(figures.values()))
    [checkout, *_] = documents.to_json(report)["components"]
    assert checkout["downtime_seconds"] == 160 * 60
    assert checkout["seconds_by_state"] == {
        "degraded": 0,
        "partial_outage": 130 * 60,
        "major_outage": 30 * 60,
    }
    assert checkout["budget_left_seconds"] == pytest.approx((43.2 - 160) * 60)


async def test_a_private_incident_counts_only_for_who_may_see_it(db: Database) -> None:
    await add(db, 1, 10, 70, [(10, {"API": "major_outage"})], private=True)
    reads = AvailabilityReads(db, CONFIG)
    seen = await reads.report(timedelta(days=30), now=END)
    unseen = await reads.report(timedelta(days=30), include_private=False, now=END)
    assert [r.downtime for r in seen.rows if r.component == "API"] == [timedelta(minutes=60)]
    assert [r.downtime for r in unseen.rows if r.component == "API"] == [timedelta(0)]
