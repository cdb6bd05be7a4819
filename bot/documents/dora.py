"""DORA figures as Markdown, HTML (with a chart of deployments per week), CSV and JSON.
Pure: a computed report in, documents out (definitions: bot/domain/dora.py)."""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any

from bot.documents.mrkdwn import markdown_escape
from bot.documents.postmortem import STYLE
from bot.documents.reports import cell_duration, html_templates, png
from bot.domain.dora import DoraGroup, DoraReport, per_week

FORMATS = ("md", "html", "csv", "json")
DEFINITIONS = [
    ("Deployment frequency", "deployments (deploys that went out) per day, and per week"),
    ("Change failure rate", "deployments linked as the cause of an incident / deployments"),
    ("Failed deployment recovery time", "impact start to resolved of incidents caused by a deployment"),
]


def period(report: DoraReport) -> str:
    zone = report.zone
    return f"{report.start.astimezone(zone):%Y-%m-%d %H:%M} to {report.end.astimezone(zone):%Y-%m-%d %H:%M} ({zone})"


def rate(group: DoraGroup) -> str:
    value = group.failure_rate
    return "n/a" if value is None else f"{value:.1%}"


def frequency(group: DoraGroup) -> str:
    return f"{group.per_day:.2f}/day ({per_week(group):.1f}/week)"


def rows(report: DoraReport) -> list[tuple[str, DoraGroup]]:
    listed = list(report.groups.items()) if report.by else []
    return [*listed, ("all" if not report.by else "(all services)", report.overall)]


def to_markdown(report: DoraReport) -> str:
    lines = [
        "# DORA figures",
        "",
        f"Deployments that started {period(report)}. Drills are excluded.",
        "",
        f"| {'Service' if report.by else 'Scope'} | Deployments | Frequency | Caused an incident | Change failure rate | Recovery p50 | Recovery p90 | Recovered | Not yet |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, group in rows(report):
        r = group.recovery
        lines.append(
            f"| {markdown_escape(name)} | {group.deployments} | {frequency(group)} | {group.failed} | {rate(group)} "
            f"| {cell_duration(r.p50)} | {cell_duration(r.p90)} | {r.count} | {r.missing} |"
        )
    lines += ["", "## Definitions", ""]
    lines += [f"- **{name}**: {words}." for name, words in DEFINITIONS]
    return "\n".join(lines) + "\n"


def to_json(report: DoraReport) -> dict[str, Any]:
    def group(g: DoraGroup) -> dict[str, Any]:
        r = g.recovery
        return {
            "deployments": g.deployments,
            "deployments_per_day": round(g.per_day, 4),
            "caused_incident": g.failed,
            "change_failure_rate": None if g.failure_rate is None else round(g.failure_rate, 4),
            "recovery_seconds": {
                "count": r.count,
                "missing": r.missing,
                "p50": r.p50,
                "p90": r.p90,
                "max": r.max,
            },
        }

    return {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "zone": str(report.zone),
        "by": report.by,
        "overall": group(report.overall),
        "groups": {name: group(g) for name, g in report.groups.items()} if report.by else {},
        "weekly": {
            "weeks": report.weeks,
            "deployments": report.weekly_deployments,
            "failed": report.weekly_failed,
        },
    }


def to_csv(report: DoraReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "group",
            "deployments",
            "per_day",
            "caused_incident",
            "change_failure_rate",
            "recovery_p50_s",
            "recovery_p90_s",
        ]
    )
    for name, g in rows(report):
        r = g.recovery
        writer.writerow(
            [
                name if not name.startswith(("=", "+", "-", "@")) else f"'{name}",
                g.deployments,
                f"{g.per_day:.4f}",
                g.failed,
                "" if g.failure_rate is None else f"{g.failure_rate:.4f}",
                "" if r.p50 is None else round(r.p50),
                "" if r.p90 is None else round(r.p90),
            ]
        )
    return out.getvalue()


def to_html(report: DoraReport, chart: bytes | None) -> str:
    return html_templates.get_template("dora.html.j2").render(
        style=STYLE,
        period=period(report),
        grouped=bool(report.by),
        rows=rows(report),
        rate=rate,
        frequency=frequency,
        cell=cell_duration,
        definitions=DEFINITIONS,
        chart=base64.b64encode(chart).decode() if chart else None,
    )


def render(report: DoraReport, fmt: str) -> str:
    if fmt == "md":
        return to_markdown(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return json.dumps(to_json(report), indent=2) + "\n"
    if fmt == "html":
        return to_html(report, chart_png(report))
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def chart_png(report: DoraReport) -> bytes:
    """Deployments per week, the ones that caused an incident stacked in red."""
    import matplotlib  # here, not at the top: it takes half a second to import

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(9, 4), dpi=100)
    try:
        positions = list(range(len(report.weeks)))
        fine = [d - f for d, f in zip(report.weekly_deployments, report.weekly_failed, strict=True)]
        axes.bar(positions, fine, color="#4c78a8", label="deployments")
        axes.bar(positions, report.weekly_failed, bottom=fine, color="#e45756", label="caused an incident")
        if not any(report.weekly_deployments):
            axes.text(
                0.5, 0.5, "No deployments in this period", ha="center", va="center", transform=axes.transAxes
            )
        step = max(1, len(report.weeks) // 12)
        axes.set_xticks(positions[::step], report.weeks[::step], rotation=45, ha="right")
        axes.set_ylabel("deployments")
        axes.set_title(f"Deployments per week ({report.zone})")
        axes.grid(alpha=0.3, axis="y")
        axes.legend()
        return png(figure)
    finally:
        pyplot.close(figure)
