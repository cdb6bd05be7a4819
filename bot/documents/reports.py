"""The MTTR report as Markdown, HTML (with its chart), CSV, JSON and a short Slack summary.
Pure: a computed report in, documents out. Group names come from incidents (services are
whatever alerts said), so they are escaped like any user text."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from bot.documents.mrkdwn import markdown_escape
from bot.documents.postmortem import STYLE
from bot.domain.metrics import TREND_METRIC, MttrReport, Stats, format_duration

FORMATS = ("md", "html", "csv", "json")
# Time to resolve first: it is the number people ask for.
ORDER = ["time_to_resolve", "time_to_mitigate", "time_to_acknowledge", "time_to_detect"]
STATS = ("mean", "p50", "p90", "max")
TEMPLATES = Path(__file__).parent / "templates"
html_templates = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=True)


def title(metric: str) -> str:
    return metric.replace("_", " ").capitalize()


def period(report: MttrReport, since: timedelta | None) -> str:
    zone = report.zone
    span = f"from {_time(report.start, zone)} to {_time(report.end, zone)}"
    return f"{span} (last {_days(since)})" if since is not None else f"{span} (all time)"


def _days(since: timedelta) -> str:
    if since.days and since == timedelta(days=since.days):
        return f"{since.days} days" if since.days != 1 else "day"
    return format_duration(since.total_seconds())


def _time(at: datetime, zone: Any) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def cell_duration(value: float | None) -> str:
    return "n/a" if value is None else format_duration(value)


def heading(report: MttrReport) -> str:
    by = f"Grouped by {report.by}. " if report.by else ""
    return (
        f"{by}{_count(report.incidents, 'incident')}, {report.open} still open (counted, and listed"
        f" as open); {_count(report.report.drills_excluded, 'drill')} left out."
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def to_markdown(report: MttrReport, since: timedelta | None) -> str:
    group_title = (report.by or "group").capitalize()
    lines = [
        "# MTTR report",
        "",
        f"Incidents whose impact started {period(report, since)}. Times in {report.zone}.",
        "",
        heading(report),
    ]
    for metric in ORDER:
        lines += ["", f"## {title(metric)}", ""]
        lines.append(f"| {group_title} | Incidents | Open | Measured | Missing | Mean | p50 | p90 | Max |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, group in report.report.groups.items():
            s = group.metrics[metric]
            cells = [markdown_escape(name), group.incidents, group.open, s.count, s.missing]
            cells += [cell_duration(getattr(s, stat)) for stat in STATS]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        if not report.report.groups:
            lines.append("| (no incidents) | 0 | 0 | 0 | 0 | n/a | n/a | n/a | n/a |")
    for kind, groups in report.followups.items():
        lines += ["", f"## Follow-ups by {kind}", ""]
        lines.append(f"| {kind.capitalize()} | " + " | ".join(FOLLOWUP_TITLES.values()) + " |")
        lines.append("|---|" + "---:|" * len(FOLLOWUP_TITLES))
        for name, counts in groups.items():
            lines.append(
                f"| {markdown_escape(name)} | " + " | ".join(str(counts[k]) for k in FOLLOWUP_TITLES) + " |"
            )
        if not groups:
            lines.append("| (no follow-ups) | " + " | ".join("0" for _ in FOLLOWUP_TITLES) + " |")
    lines += ["", "## Post-mortems", "", "| " + " | ".join(POSTMORTEM_TITLES.values()) + " |"]
    lines += [
        "|" + "---:|" * len(POSTMORTEM_TITLES),
        "| " + " | ".join(str(report.postmortems[k]) for k in POSTMORTEM_TITLES) + " |",
    ]
    return "\n".join(lines) + "\n"


POSTMORTEM_TITLES = {
    "on_time": "Published on time",
    "late": "Published late",
    "missing": "Missing (overdue)",
    "pending": "Not due yet",
}


FOLLOWUP_TITLES = {
    "done_on_time": "Done on time",
    "done_late": "Done late",
    "open_overdue": "Open, overdue",
    "open": "Open",
    "wont_do": "Won't do",
}


def to_csv(report: MttrReport) -> str:
    """One row per group and metric; durations in seconds, empty where nothing was measured."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["group", "incidents", "open", "metric", "count", "missing"]
    writer.writerow(header + [f"{stat}_seconds" for stat in STATS])
    for name, group in report.report.groups.items():
        for metric in ORDER:
            s = group.metrics[metric]
            seconds = ["" if getattr(s, stat) is None else round(getattr(s, stat), 1) for stat in STATS]
            writer.writerow([cell(name), group.incidents, group.open, metric, s.count, s.missing, *seconds])
    return out.getvalue()


def cell(text: str) -> str:
    """Text for a spreadsheet cell that a spreadsheet will not run: a group name (a service
    name from an alert) starting with = + - @ (or a tab or return) gets a leading quote."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_json(report: MttrReport) -> dict[str, Any]:
    """What GET /api/reports/mttr returns; durations in seconds."""
    return {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "zone": str(report.zone),
        "by": report.by,
        "incidents": report.incidents,
        "open": report.open,
        "drills_excluded": report.report.drills_excluded,
        "postmortems": dict(report.postmortems),
        "followups": report.followups,
        "groups": [
            {
                "group": name,
                "incidents": group.incidents,
                "open": group.open,
                "metrics": {metric: _stats_json(group.metrics[metric]) for metric in ORDER},
            }
            for name, group in report.report.groups.items()
        ],
        "trend": {
            "metric": TREND_METRIC,
            "statistic": "p50",
            "unit": report.trend.unit,
            "buckets": report.trend.buckets,
            "seconds": {severity: [_round(v) for v in line] for severity, line in report.trend.p50.items()},
        },
    }


def _stats_json(s: Stats) -> dict[str, Any]:
    return {
        "count": s.count,
        "missing": s.missing,
        **{f"{stat}_seconds": _round(getattr(s, stat)) for stat in STATS},
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def to_json_text(report: MttrReport) -> str:
    return json.dumps(to_json(report), indent=2) + "\n"


def to_html(report: MttrReport, since: timedelta | None, chart: bytes | None) -> str:
    return html_templates.get_template("report.html.j2").render(
        style=STYLE,
        period=period(report, since),
        zone=str(report.zone),
        heading=heading(report),
        group_title=(report.by or "group").capitalize(),
        metrics=[(title(metric), metric) for metric in ORDER],
        groups=report.report.groups,
        stats=STATS,
        cell=cell_duration,
        chart=base64.b64encode(chart).decode() if chart else None,
        trend_unit=report.trend.unit,
        postmortems=[(POSTMORTEM_TITLES[k], report.postmortems[k]) for k in POSTMORTEM_TITLES],
        followups=report.followups,
        followup_titles=FOLLOWUP_TITLES,
    )


def render(report: MttrReport, since: timedelta | None, fmt: str) -> str:
    if fmt == "md":
        return to_markdown(report, since)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return to_json_text(report)
    if fmt == "html":
        return to_html(report, since, chart_png(report))
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def chart_png(report: MttrReport) -> bytes:
    """Median time to resolve per week or month, one line per severity."""
    import matplotlib  # here, not at the top: it takes half a second to import

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(9, 4), dpi=100)
    try:
        trend = report.trend
        positions = range(len(trend.buckets))
        plotted = False
        for severity, line in sorted(trend.p50.items()):
            points = [(x, v / 3600) for x, v in zip(positions, line, strict=True) if v is not None]
            if points:
                axes.plot(*zip(*points, strict=True), marker="o", label=severity)  # joined across empty weeks
                plotted = True
        if not trend.p50:
            axes.text(
                0.5, 0.5, "No incidents in this period", ha="center", va="center", transform=axes.transAxes
            )
        step = max(1, len(trend.buckets) // 12)
        axes.set_xticks(list(positions)[::step], trend.buckets[::step], rotation=45, ha="right")
        axes.set_ylabel("hours")
        axes.set_ylim(bottom=0)
        axes.set_title(f"Median time to resolve by severity, per {trend.unit} ({report.zone})")
        axes.grid(alpha=0.3)
        if plotted:
            axes.legend()
        return png(figure)
    finally:
        pyplot.close(figure)


def png(figure: Any) -> bytes:
    """A laid-out matplotlib figure as PNG bytes, without the software's name (reproducible)."""
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
