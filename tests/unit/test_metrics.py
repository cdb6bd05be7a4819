"""Metric definitions and their edge cases, without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.incident import Status, change_status
from bot.domain.metrics import durations, percentile, stats, summarize

T0 = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)


@dataclass
class Times:
    severity: str = "SEV2"
    service: str | None = "api"
    drill: bool = False
    status: str = "resolved"
    started_at: datetime = T0
    detected_at: datetime = T0 + timedelta(minutes=5)
    acknowledged_at: datetime | None = T0 + timedelta(minutes=7)
    mitigated_at: datetime | None = T0 + timedelta(minutes=20)
    resolved_at: datetime | None = T0 + timedelta(minutes=60)
    closed_at: datetime | None = None


def test_definitions() -> None:
    assert durations(Times()) == {
        "time_to_detect": 300.0,
        "time_to_acknowledge": 120.0,
        "time_to_mitigate": 1200.0,
        "time_to_resolve": 3600.0,
    }


def test_percentiles_interpolate() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0], 0.9) == 10.0
    assert percentile([float(i) for i in range(1, 11)], 0.9) == pytest.approx(9.1)
    assert stats([]).count == 0 and stats([]).mean is None


def test_a_milestone_never_reached_is_counted_as_missing_not_dropped() -> None:
    never_acknowledged = Times(acknowledged_at=None)
    still_open = Times(mitigated_at=None, resolved_at=None, status="investigating")
    report = summarize([Times(), never_acknowledged, still_open])
    group = report.groups["all"]
    assert (group.incidents, group.open) == (3, 1)
    assert (group.metrics["time_to_acknowledge"].count, group.metrics["time_to_acknowledge"].missing) == (
        2,
        1,
    )
    assert (group.metrics["time_to_resolve"].count, group.metrics["time_to_resolve"].missing) == (2, 1)


def test_drills_are_excluded_from_the_metrics() -> None:
    drill = Times(drill=True, resolved_at=T0 + timedelta(days=3))
    report = summarize([Times(), drill])
    assert report.drills_excluded == 1
    assert report.groups["all"].incidents == 1
    assert report.groups["all"].metrics["time_to_resolve"].max == 3600.0
    assert summarize([drill]).groups == {}


def test_a_reopened_incident_counts_until_its_final_resolution() -> None:
    incident = Times(status="investigating", mitigated_at=None, resolved_at=None)
    change_status(incident, Status.RESOLVED, T0 + timedelta(minutes=30))
    change_status(incident, Status.INVESTIGATING, T0 + timedelta(minutes=40))
    assert durations(incident)["time_to_resolve"] is None  # reopened: not resolved any more
    change_status(incident, Status.RESOLVED, T0 + timedelta(minutes=90))
    assert durations(incident)["time_to_resolve"] == 5400.0
    assert durations(incident)["time_to_mitigate"] == 1800.0  # the first mitigation stands


def test_months_follow_the_configured_time_zone() -> None:
    # 23:30 UTC on 31 October is already November in Berlin.
    incidents = [Times(), Times(started_at=T0 - timedelta(days=2))]
    assert list(summarize(incidents, by="month").groups) == ["2026-10"]
    assert list(summarize(incidents, by="month", zone=ZoneInfo("Europe/Berlin")).groups) == [
        "2026-10",
        "2026-11",
    ]


def test_grouping_by_severity_and_service() -> None:
    report = summarize([Times(), Times(severity="SEV1", service=None)], by="severity")
    assert list(report.groups) == ["SEV1", "SEV2"]
    assert list(summarize([Times(service=None)], by="service").groups) == ["(no service)"]
    with pytest.raises(ValueError, match="cannot group by"):
        summarize([Times()], by="colour")
