"""The incident at a glance: a PNG timeline for the post-mortem (matplotlib). Pure: data in,
image bytes out.

Status phases are bands, milestones (detected, declared, acknowledged, mitigated, resolved)
dashed lines, alerts bars of the time they fired, notes and pins points. Colours are told apart
in grey print too (each phase is also labelled), and times are in the configured zone.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from bot.domain.incident import StatusChange

PHASE_COLOURS = {  # light to dark, so that a grey print still orders them
    "before declare": "#f2d0d0",
    "investigating": "#e8743b",
    "identified": "#f0b429",
    "monitoring": "#5aa9e6",
    "resolved": "#3c8d5a",
}
MILESTONE_NAMES = {
    "detected_at": "detected",
    "declared_at": "declared",
    "acknowledged_at": "acknowledged",
    "mitigated_at": "mitigated",
    "resolved_at": "resolved",
}
MAX_ALERT_ROWS = 6
MAX_POINTS = 40


@dataclass(frozen=True)
class Span:
    label: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Point:
    at: datetime
    kind: str  # note | pinned


@dataclass(frozen=True)
class ChartData:
    title: str
    start: datetime
    end: datetime
    phases: list[Span]
    milestones: list[tuple[str, datetime]]
    alerts: list[Span]
    points: list[Point]


def chart_data(incident: Any, title: str, alerts: list[Any], timeline: list[Any], now: datetime) -> ChartData:
    """What the picture shows, from the incident row, its alerts and its timeline entries."""
    end = incident.closed_at or incident.resolved_at or now
    if incident.resolved_at and incident.closed_at:
        end = min(incident.closed_at, incident.resolved_at + (incident.resolved_at - incident.started_at) / 4)
    start = min([incident.started_at, *(a.starts_at for a in alerts)])
    phases: list[Span] = []
    if incident.declared_at > start:
        phases.append(Span("before declare", start, incident.declared_at))
    status, since = "investigating", incident.declared_at
    for entry in timeline:
        change = StatusChange.recorded(entry.text) if entry.kind == "status" else None
        if change is None:
            continue
        phases.append(Span(change.old.value, since, entry.at))
        status, since = change.new.value, entry.at
    if status != "closed":
        phases.append(Span(status, since, max(end, since)))
    phases = [Span(p.label, p.start, min(p.end, end)) for p in phases]
    milestones = [(label, getattr(incident, name)) for name, label in MILESTONE_NAMES.items()]
    spans = [Span(a.title, a.starts_at, a.ends_at or end) for a in alerts]
    points = [Point(e.at, e.kind) for e in timeline if e.kind in ("note", "pinned")]
    return ChartData(
        f"#{incident.number} {title}",
        start,
        max(end, start + timedelta(minutes=1)),
        [p for p in phases if p.end > p.start],
        [(label, at) for label, at in milestones if at is not None],
        spans,
        points[:MAX_POINTS],
    )


def timeline_png(data: ChartData, zone: tzinfo) -> bytes:
    # Imported here, not at the top: matplotlib takes half a second to import. The Figure API
    # (no pyplot) keeps no global state, so pictures can be drawn in threads.
    from matplotlib import dates
    from matplotlib.figure import Figure

    shown = data.alerts[:MAX_ALERT_ROWS]
    rows = ["Status", *(_short(a.label) for a in shown), "Notes ●, pins ◆"]
    top, notes = len(rows) - 1, 0  # rows are drawn top to bottom
    figure = Figure(figsize=(10, 1.6 + 0.45 * len(rows)), dpi=110)
    axes = figure.subplots()
    span = data.end - data.start
    for phase in data.phases:
        width = phase.end - phase.start
        colour = PHASE_COLOURS.get(phase.label, "#999")
        axes.barh(top, _days(width), left=_x(phase.start), height=0.8, color=colour)
        if width >= span / 9:
            axes.text(_x(phase.start + width / 2), top, phase.label, ha="center", va="center", fontsize=8)
    for i, alert in enumerate(shown):
        axes.barh(
            top - 1 - i, _days(alert.end - alert.start), left=_x(alert.start), height=0.5, color="#b71c1c"
        )
    if len(data.alerts) > len(shown):
        more = f"+{len(data.alerts) - len(shown)} more alerts "
        axes.text(_x(data.end), notes + 1, more, fontsize=7, ha="right", va="center")
    for kind, marker in (("note", "o"), ("pinned", "D")):
        xs = [_x(p.at) for p in data.points if p.kind == kind]
        if xs:
            axes.plot(xs, [notes] * len(xs), marker, color="#333", markersize=5, label=kind)
    level, last = 0, None
    for label, at in sorted(data.milestones, key=lambda m: m[1]):
        close = last is not None and at - last < span / 7
        level, last = (level + 1) % 3 if close else 0, at
        axes.axvline(_x(at), color="#222", linestyle="--", linewidth=0.8)
        text = f" {label} {at.astimezone(zone):%H:%M}"
        axes.text(_x(at), len(rows) - 0.5 + 0.4 * level, text, fontsize=7, va="bottom")
    axes.set_yticks(list(range(top, -1, -1)), rows, fontsize=8)
    axes.set_ylim(-0.7, len(rows) + 0.9)
    axes.set_xlim(_x(data.start), _x(data.end))
    axes.xaxis.set_major_locator(dates.AutoDateLocator(tz=zone))  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_formatter(dates.DateFormatter("%H:%M", tz=zone))  # type: ignore[no-untyped-call]
    axes.set_xlabel(f"time ({zone})", fontsize=8)
    axes.set_title(data.title[:90], fontsize=10, loc="left")
    axes.grid(axis="x", alpha=0.3)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # matplotlib's: its dates are days since then


def _x(at: datetime) -> float:
    return _days(at - EPOCH)


def _days(span: timedelta) -> float:
    return span.total_seconds() / 86400


def _short(title: str) -> str:
    return title if len(title) <= 38 else title[:37] + "…"
