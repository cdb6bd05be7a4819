"""What the status page shows, built from the public record only: components and their
current state, active incidents with their public updates, uptime bars and past incidents.
Pure Python: the service hands in rows, documents render what comes out. Nothing here ever
sees an internal title, an internal update, a person, or a private or drill incident: the
service leaves those out before they reach `IncidentRecord`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from bot.domain.availability import (
    Availability,
    ComponentSpec,
    Day,
    ImpactFacts,
    by_day,
    combined,
    day_edges,
    segments,
    time_in,
)
from bot.domain.incident import ACTIVE, Status
from bot.domain.status import PUBLIC_STATUS, ComponentState, worst

HISTORY_DAYS = 90  # uptime bars per component


@dataclass(frozen=True)
class PublicUpdate:
    at: datetime
    status: Status  # the incident's status when it was posted
    message: str
    components: dict[str, ComponentState] = field(default_factory=dict)
    final: bool = False

    @property
    def status_label(self) -> str:
        return PUBLIC_STATUS[self.status]


@dataclass(frozen=True)
class IncidentRecord:
    """A public incident: its public id and title, and only its public updates."""

    id: str
    title: str
    status: Status
    service: str | None
    started_at: datetime
    resolved_at: datetime | None
    updates: list[PublicUpdate]  # oldest first

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def first_seen(self) -> datetime:
        """When the public first heard of it."""
        return self.updates[0].at if self.updates else self.started_at

    @property
    def ended(self) -> datetime | None:
        return None if self.active else self.resolved_at or (self.updates[-1].at if self.updates else None)

    @property
    def states(self) -> dict[str, ComponentState]:
        """Each component's state as its public updates last said it."""
        current: dict[str, ComponentState] = {}
        for update in self.updates:
            current.update(update.components)
        return current

    @property
    def affected(self) -> list[str]:
        """Every component any of its updates named impaired, in the order first named."""
        named: dict[str, None] = {}
        for update in self.updates:
            for name, state in update.components.items():
                if state is not ComponentState.OPERATIONAL:
                    named[name] = None
        return list(named)

    @property
    def impact(self) -> ComponentState:
        """The worst state its updates ever gave a component."""
        return worst([s for u in self.updates for s in u.components.values()])

    @property
    def status_label(self) -> str:
        return PUBLIC_STATUS[self.status]

    def facts(self) -> ImpactFacts:
        return ImpactFacts(
            self.service,
            self.started_at,
            self.resolved_at if not self.active else None,
            [(u.at, u.components) for u in self.updates],
        )


@dataclass(frozen=True)
class ComponentView:
    name: str
    description: str | None
    state: ComponentState
    days: list[Day]
    uptime: float  # percent over the days shown


@dataclass(frozen=True)
class PageView:
    title: str
    generated_at: datetime
    zone: tzinfo
    components: list[ComponentView]
    active: list[IncidentRecord]
    past: list[IncidentRecord]  # resolved within `past_days`, newest first
    past_days: int = 14

    @property
    def incidents(self) -> list[IncidentRecord]:
        """What the feed and the static copy cover: the active incidents, then the past."""
        return [*self.active, *self.past]

    @property
    def state(self) -> ComponentState:
        return worst([c.state for c in self.components])

    @property
    def headline(self) -> str:
        if self.state is ComponentState.OPERATIONAL:
            return "Some systems are affected" if self.active else "All systems operational"
        return {
            ComponentState.DEGRADED: "Some systems have degraded performance",
            ComponentState.PARTIAL_OUTAGE: "Partial outage",
            ComponentState.MAJOR_OUTAGE: "Major outage",
        }[self.state]


@dataclass(frozen=True)
class ComponentInfo:
    spec: ComponentSpec
    description: str | None = None


def build_page(
    title: str,
    components: list[ComponentInfo],
    incidents: list[IncidentRecord],
    now: datetime,
    zone: tzinfo,
    past_days: int,
) -> PageView:
    """`incidents`: every public incident still active or resolved within the history shown."""
    active = sorted((i for i in incidents if i.active), key=lambda i: i.first_seen, reverse=True)
    since = now - timedelta(days=past_days)
    past = sorted(
        (i for i in incidents if not i.active and (i.ended or now) >= since),
        key=lambda i: i.ended or now,
        reverse=True,
    )
    today = now.astimezone(zone).date()
    edges = day_edges(today, HISTORY_DAYS, zone)
    start = edges[0][0]
    naming: dict[str, list[ImpactFacts]] = {}
    for record in incidents:
        facts = record.facts()
        for name in {n for u in record.updates for n in u.components}:
            naming.setdefault(name, []).append(facts)
    views = []
    for info in components:
        spec = info.spec
        raw = [s for f in naming.get(spec.name, []) for s in segments(f, spec)]
        parts = combined(raw, start, now)
        current = worst([i.states.get(spec.name, ComponentState.OPERATIONAL) for i in active])
        figures = Availability(spec.name, start, now, time_in(parts), spec.slo)
        views.append(
            ComponentView(
                spec.name,
                info.description,
                current,
                by_day(parts, edges),
                figures.percent,
            )
        )
    return PageView(title, now, zone, views, active, past, past_days)
