"""Availability figures as Markdown, HTML (with a chart), CSV and JSON. Pure: figures in
(bot/domain/availability.py has the definitions), documents out."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import timedelta
from typing import Any

from bot.documents.mrkdwn import markdown_escape
from bot.documents.postmortem import STYLE
from bot.documents.reports import html_templates, png
from bot.domain.availability import Availability, AvailabilityReport
from bot.domain.metrics import format_duration
from bot.domain.status import IMPAIRED, ComponentState

FORMATS = ("md", "html", "csv", "json")
DEFINITIONS = [
    (
        "Impaired",
        "from the first update naming the component impaired (from the incident's impact start when "
        "the component covers its service) until an update names it operational, or the incident is resolved",
    ),
    (
        "Downtime",
        "the time in partial or major outage (overlapping incidents counted once, by the worst state)",
    ),
    ("Availability", "(period - downtime) / period"),
    ("Error budget", "(100 % - target) x period; left = budget - downtime, negative when overspent"),
]


def minutes(value: timedelta | None) -> str:
    if value is None:
        return "n/a"
    sign = "-" if value < timedelta(0) else ""
    return sign + format_duration(abs(value.total_seconds()))


def percent(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f} %"


def target(row: Availability) -> str:
    return "none" if row.slo is None else f"{row.slo:g} %"


def period(report: AvailabilityReport) -> str:
    zone = report.zone
    return f"{report.start.astimezone(zone):%Y-%m-%d %H:%M} to {report.end.astimezone(zone):%Y-%m-%d %H:%M} ({zone})"


def to_markdown(report: AvailabilityReport) -> str:
    lines = [
        "# Availability",
        "",
        f"{period(report)}. Drills are excluded.",
        "",
        "| Component | Availability | Target | Downtime | Budget | Budget left | Degraded | Partial outage | Major outage |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        left = row.budget_left_percent
        lines.append(
            f"| {markdown_escape(row.component)} | {percent(row.percent)} | {target(row)} | {minutes(row.downtime)} "
            f"| {minutes(row.budget)} | {minutes(row.budget_left)}{f' ({left:.0f} %)' if left is not None else ''} | "
            + " | ".join(minutes(row.by_state[s]) for s in IMPAIRED)
            + " |"
        )
    if not report.rows:
        lines.append("| (no components: status_page.components in warroom.yaml) | | | | | | | | |")
    lines += ["", "## Definitions", ""]
    lines += [f"- **{name}**: {words}." for name, words in DEFINITIONS]
    return "\n".join(lines) + "\n"


def to_json(report: AvailabilityReport) -> dict[str, Any]:
    return {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "components": [
            {
                "component": row.component,
                "period_seconds": row.total.total_seconds(),
                "availability_percent": round(row.percent, 6),
                "target_percent": row.slo,
                "downtime_seconds": row.downtime.total_seconds(),
                "seconds_by_state": {s.value: row.by_state[s].total_seconds() for s in IMPAIRED},
                "budget_seconds": None if row.budget is None else round(row.budget.total_seconds(), 3),
                "budget_left_seconds": None
                if row.budget_left is None
                else round(row.budget_left.total_seconds(), 3),
                "budget_left_percent": None
                if row.budget_left_percent is None
                else round(row.budget_left_percent, 3),
            }
            for row in report.rows
        ],
        "definitions": dict(DEFINITIONS),
    }


def to_csv(report: AvailabilityReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "component",
            "availability_percent",
            "target_percent",
            "downtime_minutes",
            "budget_minutes",
            "budget_left_minutes",
            *(f"{s.value}_minutes" for s in IMPAIRED),
        ]
    )
    for row in report.rows:
        writer.writerow(
            [
                row.component,
                f"{row.percent:.6f}",
                "" if row.slo is None else row.slo,
                f"{row.downtime.total_seconds() / 60:.2f}",
                "" if row.budget is None else f"{row.budget.total_seconds() / 60:.2f}",
                "" if row.budget_left is None else f"{row.budget_left.total_seconds() / 60:.2f}",
                *(f"{row.by_state[s].total_seconds() / 60:.2f}" for s in IMPAIRED),
            ]
        )
    return out.getvalue()


def to_html(report: AvailabilityReport, chart: bytes | None) -> str:
    return html_templates.get_template("availability.html.j2").render(
        style=STYLE,
        period=period(report),
        rows=report.rows,
        minutes=minutes,
        percent=percent,
        target=target,
        states=IMPAIRED,
        definitions=DEFINITIONS,
        chart=base64.b64encode(chart).decode() if chart else None,
    )


def render(report: AvailabilityReport, fmt: str) -> str:
    if fmt == "md":
        return to_markdown(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return json.dumps(to_json(report), indent=2) + "\n"
    if fmt == "html":
        return to_html(report, chart_png(report) if report.rows else None)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


COLOURS = {
    ComponentState.DEGRADED: "#d4a72c",
    ComponentState.PARTIAL_OUTAGE: "#e16f24",
    ComponentState.MAJOR_OUTAGE: "#cf222e",
}


def chart_png(report: AvailabilityReport) -> bytes:
    """Minutes impaired per component, by state, with the error budget marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    rows = report.rows
    figure, axes = pyplot.subplots(figsize=(9, 1.2 + 0.5 * len(rows)), dpi=100)
    try:
        positions = list(range(len(rows)))
        left = [0.0] * len(rows)
        for state in (ComponentState.MAJOR_OUTAGE, ComponentState.PARTIAL_OUTAGE, ComponentState.DEGRADED):
            widths = [r.by_state[state].total_seconds() / 60 for r in rows]
            axes.barh(positions, widths, left=left, color=COLOURS[state], label=state.label.lower())
            left = [a + b for a, b in zip(left, widths, strict=True)]
        for y, row in zip(positions, rows, strict=True):
            if row.budget is not None:
                budget = row.budget.total_seconds() / 60
                axes.plot([budget, budget], [y - 0.4, y + 0.4], color="#1f2328", linewidth=2)
        axes.plot([], [], color="#1f2328", linewidth=2, label="error budget")
        axes.set_yticks(positions, [r.component for r in rows])
        axes.invert_yaxis()
        axes.set_xlabel("minutes")
        axes.set_title("Time impaired per component (the budget counts partial and major outages)")
        axes.grid(alpha=0.3, axis="x")
        axes.legend(loc="lower right", fontsize="small")
        return png(figure)
    finally:
        pyplot.close(figure)
