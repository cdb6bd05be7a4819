"""Availability: how long each component was impaired, and what that leaves of its error
budget. Pure Python: no I/O. The README's "Availability" section says the same in words.

- An incident impairs a component from the first update that names it in an impaired state
  (degraded, partial outage, major outage); when the component covers the incident's service
  (`status_page.components[].services`), from the incident's impact start (`started_at`)
  instead, in the state of that first update.
- Each later update naming the component sets its state; an update naming it operational
  ends the impairment (a later impaired state starts a new one); otherwise it ends when the
  incident is resolved, and while it is not, it is still going on.
- Several incidents at once: at each moment the component is in the worst state any of them
  gives it, so overlapping incidents are not counted twice.
- Downtime = the time in partial or major outage; degraded time is shown but is not downtime.
  Availability = (period - downtime) / period. The error budget is the downtime the target
  allows, (100 % - target) x period; what is left = budget - downtime (negative: overspent).
- Drills never count; the caller leaves them out.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from bot.domain.status import IMPAIRED, ComponentState, worst


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    services: frozenset[str] = frozenset()
    slo: float | None = None  # the availability target in percent, e.g. 99.9


@dataclass(frozen=True)
class ImpactFacts:
    """One incident as the figures see it: when it started and was resolved, and the
    component states its updates named, in time order."""

    service: str | None
    started_at: datetime
    resolved_at: datetime | None
    updates: Sequence[tuple[datetime, dict[str, ComponentState]]]


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime | None  # None: still going on
    state: ComponentState


def segments(incident: ImpactFacts, component: ComponentSpec) -> list[Segment]:
    """The stretches of time this incident impaired the component, and in which state."""
    found: list[Segment] = []
    opened: tuple[datetime, ComponentState] | None = None
    covers = incident.service is not None and incident.service in component.services
    for at, states in sorted(incident.updates, key=lambda u: u[0]):
        state = states.get(component.name)
        if state is None:
            continue
        if opened is None:
            if state is ComponentState.OPERATIONAL:
                continue
            begin = incident.started_at if covers and not found else at
            opened = (min(begin, at), state)
            continue
        if state is opened[1]:
            continue
        found.append(Segment(opened[0], at, opened[1]))
        opened = None if state is ComponentState.OPERATIONAL else (at, state)
    if opened is not None:
        end = incident.resolved_at
        if end is not None and end < opened[0]:
            end = opened[0]
        found.append(Segment(opened[0], end, opened[1]))
    return found


def combined(parts: Iterable[Segment], start: datetime, end: datetime) -> list[Segment]:
    """The worst state at each moment of [start, end), as non-overlapping segments in time
    order (only impaired time; the rest is operational)."""
    clipped = [
        (max(p.start, start), min(p.end or end, end), p.state)
        for p in parts
        if p.start < end and (p.end is None or p.end > start)
    ]
    clipped = [c for c in clipped if c[0] < c[1]]
    edges = sorted({t for c in clipped for t in c[:2]})
    out: list[Segment] = []
    for left, right in itertools.pairwise(edges):
        here = [c[2] for c in clipped if c[0] <= left and c[1] >= right]
        if not here:
            continue
        state = worst(here)
        if out and out[-1].state is state and out[-1].end == left:
            out[-1] = Segment(out[-1].start, right, state)
        else:
            out.append(Segment(left, right, state))
    return out


def time_in(parts: Iterable[Segment]) -> dict[ComponentState, timedelta]:
    totals = {state: timedelta(0) for state in IMPAIRED}
    for part in parts:
        assert part.end is not None  # combined() closes every segment
        totals[part.state] += part.end - part.start
    return totals


@dataclass(frozen=True)
class Availability:
    component: str
    start: datetime
    end: datetime
    by_state: dict[ComponentState, timedelta]
    slo: float | None = None

    @property
    def total(self) -> timedelta:
        return self.end - self.start

    @property
    def downtime(self) -> timedelta:
        return sum((t for s, t in self.by_state.items() if s.is_down), timedelta(0))

    @property
    def percent(self) -> float:
        total = self.total.total_seconds()
        return 100.0 if total <= 0 else 100.0 * (total - self.downtime.total_seconds()) / total

    @property
    def budget(self) -> timedelta | None:
        """The downtime the target allows in this period."""
        return None if self.slo is None else self.total * ((100.0 - self.slo) / 100.0)

    @property
    def budget_left(self) -> timedelta | None:
        return None if self.budget is None else self.budget - self.downtime

    @property
    def budget_left_percent(self) -> float | None:
        """What is left of the budget, in percent of it (negative: overspent)."""
        budget = self.budget
        if budget is None or budget.total_seconds() <= 0:
            return None
        left = self.budget_left
        assert left is not None
        return 100.0 * left.total_seconds() / budget.total_seconds()


@dataclass(frozen=True)
class AvailabilityReport:
    start: datetime
    end: datetime
    zone: tzinfo
    rows: list[Availability]


def availability(
    component: ComponentSpec, incidents: Iterable[ImpactFacts], start: datetime, end: datetime
) -> Availability:
    """The component's figures over [start, end) (end: the period's end, or now)."""
    parts = combined((s for i in incidents for s in segments(i, component)), start, end)
    return Availability(component.name, start, end, time_in(parts), component.slo)


@dataclass(frozen=True)
class Day:
    """One uptime bar: a day, the worst state the component was in, and for how long."""

    day: date
    state: ComponentState
    by_state: dict[ComponentState, timedelta] = field(default_factory=dict)

    @property
    def impaired(self) -> timedelta:
        return sum(self.by_state.values(), timedelta(0))


def days(
    component: ComponentSpec,
    incidents: Iterable[ImpactFacts],
    today: date,
    count: int,
    zone: tzinfo,
    now: datetime,
) -> list[Day]:
    """The last `count` days up to `today` (in `zone`), oldest first."""
    edges = day_edges(today, count, zone)
    parts = combined((s for i in incidents for s in segments(i, component)), edges[0][0], now)
    return by_day(parts, edges)


DayEdges = list[tuple[datetime, datetime, "Day"]]  # each day's start and end, and the day quiet


def day_edges(today: date, count: int, zone: tzinfo) -> DayEdges:
    """The last `count` days up to `today`, oldest first (worked out once for every component)."""
    first = today - timedelta(days=count - 1)
    days = [first + timedelta(days=offset) for offset in range(count + 1)]
    starts = [datetime.combine(day, time(), zone) for day in days]
    return [(starts[i], starts[i + 1], Day(days[i], ComponentState.OPERATIONAL)) for i in range(count)]


def by_day(parts: Sequence[Segment], edges: DayEdges) -> list[Day]:
    """Combined segments (time order, closed) split into days: one pass."""
    out: list[Day] = []
    index = 0
    for left, right, quiet in edges:
        while index < len(parts) and (parts[index].end or right) <= left:
            index += 1
        if index == len(parts) or parts[index].start >= right:
            out.append(quiet)
            continue
        totals: dict[ComponentState, timedelta] = {}
        scan = index
        while scan < len(parts) and parts[scan].start < right:
            part = parts[scan]
            within = min(part.end or right, right) - max(part.start, left)
            if within > timedelta(0):
                totals[part.state] = totals.get(part.state, timedelta(0)) + within
            scan += 1
        out.append(Day(quiet.day, worst(list(totals)), totals))
    return out
