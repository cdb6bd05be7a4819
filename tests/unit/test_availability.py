"""The availability figures, held to their definition (bot/domain/availability.py) on
hand-computed cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.domain.availability import ComponentSpec, ImpactFacts, availability, days, segments
from bot.domain.status import ComponentState as S

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CHECKOUT = ComponentSpec("Checkout", frozenset({"checkout"}), slo=99.9)
SEARCH = ComponentSpec("Search", frozenset({"search"}), slo=99.0)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def incident(
    started: float, resolved: float | None, *updates: tuple[float, dict[str, S]], service: str | None = None
) -> ImpactFacts:
    return ImpactFacts(
        service, at(started), at(resolved) if resolved is not None else None, [(at(m), c) for m, c in updates]
    )


PERIOD = (at(0), at(30 * 24 * 60))  # 30 days: 43 200 minutes


def minutes(value: timedelta | None) -> float:
    assert value is not None
    return value.total_seconds() / 60


def test_one_major_outage_from_the_first_update_to_operational() -> None:
    one = incident(100, 200, (110, {"Checkout": S.MAJOR_OUTAGE}), (150, {"Checkout": S.OPERATIONAL}))
    figures = availability(CHECKOUT, [one], *PERIOD)
    assert minutes(figures.by_state[S.MAJOR_OUTAGE]) == 40  # 110 → 150: not a service of the incident
    assert minutes(figures.downtime) == 40
    assert figures.percent == pytest.approx(100 * (43200 - 40) / 43200)
    assert minutes(figures.budget) == pytest.approx(43.2)  # 0.1 % of 30 days
    assert minutes(figures.budget_left) == pytest.approx(3.2)
    assert figures.budget_left_percent == pytest.approx(100 * 3.2 / 43.2)


def test_the_incidents_own_service_counts_from_impact_start() -> None:
    one = incident(
        100,
        200,
        (110, {"Checkout": S.PARTIAL_OUTAGE}),
        (150, {"Checkout": S.OPERATIONAL}),
        service="checkout",
    )
    assert minutes(availability(CHECKOUT, [one], *PERIOD).downtime) == 50  # 100 → 150


def test_degraded_then_down_then_back_counts_each_state_and_only_outages_as_downtime() -> None:
    one = incident(
        0,
        None,
        (60, {"Search": S.DEGRADED}),
        (90, {"Search": S.MAJOR_OUTAGE}),
        (100, {"Search": S.PARTIAL_OUTAGE}),
        (130, {"Search": S.OPERATIONAL}),
    )
    figures = availability(SEARCH, [one], *PERIOD)
    assert minutes(figures.by_state[S.DEGRADED]) == 30
    assert minutes(figures.by_state[S.MAJOR_OUTAGE]) == 10
    assert minutes(figures.by_state[S.PARTIAL_OUTAGE]) == 30
    assert minutes(figures.downtime) == 40


def test_overlapping_incidents_count_the_worst_state_once() -> None:
    # A: partial 100 → 200. B: major 150 → 170, then partial until resolved at 260.
    a = incident(90, 300, (100, {"Checkout": S.PARTIAL_OUTAGE}), (200, {"Checkout": S.OPERATIONAL}))
    b = incident(140, 260, (150, {"Checkout": S.MAJOR_OUTAGE}), (170, {"Checkout": S.PARTIAL_OUTAGE}))
    figures = availability(CHECKOUT, [a, b], *PERIOD)
    assert minutes(figures.by_state[S.MAJOR_OUTAGE]) == 20  # 150 → 170
    assert minutes(figures.by_state[S.PARTIAL_OUTAGE]) == 50 + 90  # 100 → 150 and 170 → 260
    assert minutes(figures.downtime) == 160  # 100 → 260, not 100 + 110 + 20


def test_an_incident_spanning_the_period_start_counts_only_inside_it() -> None:
    one = incident(-120, 30, (-100, {"Checkout": S.MAJOR_OUTAGE}))  # never said operational: until resolved
    figures = availability(CHECKOUT, [one], *PERIOD)
    assert minutes(figures.downtime) == 30
    assert minutes(figures.budget_left) == pytest.approx(13.2)


def test_an_ongoing_incident_counts_until_the_end_given() -> None:
    one = incident(0, None, (10, {"Checkout": S.MAJOR_OUTAGE}))
    assert minutes(availability(CHECKOUT, [one], at(0), at(70)).downtime) == 60


def test_an_overspent_budget_is_negative() -> None:
    one = incident(0, 120, (0, {"Checkout": S.MAJOR_OUTAGE}))
    figures = availability(CHECKOUT, [one], *PERIOD)
    assert minutes(figures.budget_left) == pytest.approx(43.2 - 120)
    assert figures.budget_left_percent is not None and figures.budget_left_percent < 0


def test_a_component_named_again_after_recovering_opens_a_new_stretch() -> None:
    one = incident(
        0,
        500,
        (10, {"Checkout": S.MAJOR_OUTAGE}),
        (20, {"Checkout": S.OPERATIONAL}),
        (100, {"Checkout": S.MAJOR_OUTAGE}),
        (105, {"Checkout": S.OPERATIONAL}),
        service="checkout",
    )
    assert [(s.start, s.end) for s in segments(one, CHECKOUT)] == [(at(0), at(20)), (at(100), at(105))]


def test_without_a_target_there_is_no_budget() -> None:
    figures = availability(ComponentSpec("API"), [], *PERIOD)
    assert figures.percent == 100.0 and figures.budget is None and figures.budget_left_percent is None


def test_uptime_bars_split_impairment_by_day() -> None:
    # 23:00 on 1 Nov → 01:00 on 2 Nov in partial outage; degraded for 10 minutes on 3 Nov.
    one = incident(
        23 * 60,
        26 * 60,
        (23 * 60, {"Checkout": S.PARTIAL_OUTAGE}),
        (25 * 60, {"Checkout": S.OPERATIONAL}),
    )
    two = incident(
        49 * 60, 50 * 60, (49 * 60, {"Checkout": S.DEGRADED}), (49 * 60 + 10, {"Checkout": S.OPERATIONAL})
    )
    bars = days(CHECKOUT, [one, two], date(2026, 11, 4), 5, UTC, at(4 * 24 * 60))
    assert [b.day.day for b in bars] == [31, 1, 2, 3, 4]
    assert [b.state for b in bars] == [
        S.OPERATIONAL,
        S.PARTIAL_OUTAGE,
        S.PARTIAL_OUTAGE,
        S.DEGRADED,
        S.OPERATIONAL,
    ]
    assert [minutes(b.impaired) for b in bars] == [0, 60, 60, 10, 0]
