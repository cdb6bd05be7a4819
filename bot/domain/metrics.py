"""Response metrics: the definitions, and count / mean / p50 / p90 / max over incidents.

The definitions (also in the README):
- time to detect      = detected_at     - started_at
- time to acknowledge = acknowledged_at - detected_at
- time to mitigate    = mitigated_at    - started_at
- time to resolve     = resolved_at     - started_at

Drills are left out. An incident that has not reached a milestone is counted as `missing` for
that metric, never silently dropped; incidents not resolved yet are also counted as `open`.
Percentiles interpolate linearly between the two nearest values (numpy's default).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

METRICS: dict[str, tuple[str, str]] = {
    "time_to_detect": ("started_at", "detected_at"),
    "time_to_acknowledge": ("detected_at", "acknowledged_at"),
    "time_to_mitigate": ("started_at", "mitigated_at"),
    "time_to_resolve": ("started_at", "resolved_at"),
}
GROUPINGS = ("severity", "service", "month", "week")
# The longest period a report covers (`since=all` included): ten years of weeks is 522
# buckets; an unbounded period once made one report hold the server for half a minute.
MAX_PERIOD = timedelta(days=3650)


def check_period(period: timedelta | None) -> timedelta | None:
    """A report's period as asked for (None: all), or ValueError past MAX_PERIOD."""
    if period is not None and not timedelta(0) < period <= MAX_PERIOD:
        raise ValueError(f"a period from 1s to {MAX_PERIOD.days}d")
    return period


class IncidentTimes(Protocol):
    severity: str
    service: str | None
    drill: bool
    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class Stats:
    """Seconds; None where there is nothing to measure."""

    count: int
    missing: int  # incidents that have not reached the milestone
    mean: float | None
    p50: float | None
    p90: float | None
    max: float | None


@dataclass
class Group:
    incidents: int = 0
    open: int = 0  # not resolved yet
    metrics: dict[str, Stats] = field(default_factory=dict)


@dataclass
class Report:
    groups: dict[str, Group]  # "all" when not grouped
    drills_excluded: int


def durations(incident: IncidentTimes) -> dict[str, float | None]:
    """Seconds for each metric; None when a milestone is not reached. A clock that ran
    backwards (an end before its start) counts as zero rather than as a negative time."""
    result: dict[str, float | None] = {}
    for name, (start, end) in METRICS.items():
        begin, finish = getattr(incident, start), getattr(incident, end)
        result[name] = None if begin is None or finish is None else max((finish - begin).total_seconds(), 0.0)
    return result


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def stats(values: Iterable[float | None]) -> Stats:
    measured, missing = [], 0
    for value in values:
        if value is None:
            missing += 1
        else:
            measured.append(value)
    if not measured:
        return Stats(0, missing, None, None, None, None)
    measured.sort()
    return Stats(
        count=len(measured),
        missing=missing,
        mean=sum(measured) / len(measured),
        p50=percentile(measured, 0.5),
        p90=percentile(measured, 0.9),
        max=measured[-1],
    )


def group_of(incident: IncidentTimes, by: str | None, zone: tzinfo = UTC) -> str:
    if by is None:
        return "all"
    if by == "severity":
        return incident.severity
    if by == "service":
        return incident.service or "(no service)"
    if by == "month":  # the month the impact started, in the configured time zone
        return incident.started_at.astimezone(zone).strftime("%Y-%m")
    if by == "week":  # the ISO week the impact started, in the configured time zone
        return incident.started_at.astimezone(zone).strftime("%G-W%V")
    raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}")


def summarize(incidents: Iterable[IncidentTimes], by: str | None = None, zone: tzinfo = UTC) -> Report:
    values: dict[str, dict[str, list[float | None]]] = {}
    groups: dict[str, Group] = {}
    drills = 0
    for incident in incidents:
        if incident.drill:
            drills += 1
            continue
        key = group_of(incident, by, zone)
        group = groups.setdefault(key, Group())
        group.incidents += 1
        if incident.resolved_at is None:
            group.open += 1
        for name, seconds in durations(incident).items():
            values.setdefault(key, {}).setdefault(name, []).append(seconds)
    for key, group in groups.items():
        group.metrics = {name: stats(values[key][name]) for name in METRICS}
    return Report(dict(sorted(groups.items())), drills)


def calendar_buckets(start: datetime, end: datetime, unit: str, zone: tzinfo) -> list[tuple[str, datetime]]:
    """The months ("2026-11") or ISO weeks ("2026-W47") of `zone` from the one holding `start`
    to the one holding `end`: each label with the instant it begins."""
    if unit not in ("month", "week"):
        raise ValueError(f"a bucket is a month or a week, not {unit!r}")
    local = start.astimezone(zone)
    day = local.date().replace(day=1) if unit == "month" else local.date() - timedelta(days=local.weekday())
    buckets: list[tuple[str, datetime]] = []
    while True:
        begins = datetime(day.year, day.month, day.day, tzinfo=zone)
        if buckets and begins > end:
            return buckets
        buckets.append((day.strftime("%Y-%m" if unit == "month" else "%G-W%V"), begins))
        if unit == "week":
            day += timedelta(days=7)
        else:
            day = day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1)


# ---------------------------------------------------------------- the MTTR report

TREND_METRIC = "time_to_resolve"  # what the report's chart follows over time


@dataclass(frozen=True)
class Trend:
    """The median time to resolve per severity, week by week (or month by month for periods
    longer than 120 days): what the report's chart draws. None where nothing was resolved."""

    unit: str
    buckets: list[str]
    p50: dict[str, list[float | None]]


@dataclass(frozen=True)
class MttrReport:
    start: datetime
    end: datetime
    zone: tzinfo
    by: str | None
    report: Report
    trend: Trend
    # Post-mortems of the period's incidents against their due dates (bot/domain/reviews.py).
    postmortems: dict[str, int] = field(
        default_factory=lambda: {"on_time": 0, "late": 0, "missing": 0, "pending": 0}
    )
    # Follow-ups of the period's incidents by how they stand (bot/domain/followups.py), per
    # severity and per service: {"severity": {"SEV1": {"done_on_time": 2, ...}}, "service": ...}.
    followups: dict[str, dict[str, dict[str, int]]] = field(
        default_factory=lambda: {"severity": {}, "service": {}}
    )

    @property
    def incidents(self) -> int:
        return sum(group.incidents for group in self.report.groups.values())

    @property
    def open(self) -> int:
        return sum(group.open for group in self.report.groups.values())


def format_duration(seconds: float | None) -> str:
    """As a person writes it: `45 s`, `4 min 30 s`, `2 h 05 min`, `3 d 4 h`."""
    if seconds is None:
        return "not reached"
    whole = round(max(seconds, 0.0))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    minutes = round(whole / 60)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


FOLLOWUP_STANDINGS = ("done_on_time", "done_late", "open_overdue", "open", "wont_do")

RECENT = timedelta(days=90)  # "recent figures": what a resolved incident is compared with


def resolve_comparison(severity: str, seconds: float | None, recent: Stats | None) -> str | None:
    """`Resolved in 42 min; SEV2 median over the last 90 days: 35 min, p90 1 h 10 min (12
    incidents)`: how this one compares with its severity's recent figures."""
    if seconds is None:
        return None
    text = f"Resolved in {format_duration(seconds)}"
    if recent is None or recent.p50 is None or recent.p90 is None:
        return f"{text}; no other {severity} incident was resolved in the last {RECENT.days} days"
    many = "incident" if recent.count == 1 else "incidents"
    return (
        f"{text}; {severity} median over the last {RECENT.days} days: {format_duration(recent.p50)}, "
        f"p90 {format_duration(recent.p90)} ({recent.count} {many})"
    )
