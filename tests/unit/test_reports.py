"""The MTTR report documents: golden files of the tables, well-formed HTML with its chart,
escaped group names. The numbers themselves are tested against the database in
tests/integration/test_reports.py."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.documents import reports
from bot.domain.metrics import MttrReport, Trend, summarize
from bot.slack.blocks import report_summary_text
from tests.unit.test_metrics import Times
from tests.unit.test_postmortem import golden

BERLIN = ZoneInfo("Europe/Berlin")
END = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def incident(
    severity: str, service: str, resolve: int | None, *, acknowledged: bool = True, drill: bool = False
) -> Times:
    """Impact at 09:00, detected 4 minutes later, acknowledged 3 after that, mitigated at 60 %
    of the time to resolve (or after 20 minutes when it is not resolved)."""
    t = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    return Times(
        severity=severity,
        service=service,
        drill=drill,
        started_at=t,
        detected_at=t + 4 * MIN,
        acknowledged_at=t + 7 * MIN if acknowledged else None,
        mitigated_at=t + (resolve * 0.6 if resolve else 20) * MIN,
        resolved_at=t + resolve * MIN if resolve else None,
    )


def sample(by: str | None = "severity", service: str = "checkout") -> MttrReport:
    incidents = [
        incident("SEV1", service, 95),
        incident("SEV1", service, 35),
        incident("SEV2", "search", 26 * 60, acknowledged=False),
        incident("SEV2", "search", None),
        incident("SEV3", "search", 30, drill=True),
    ]
    trend = Trend(
        "week",
        ["2026-W39", "2026-W40", "2026-W41"],
        {"SEV1": [3600.0, None, 2100.0], "SEV2": [None, 93600.0, None]},
    )
    return MttrReport(END - timedelta(days=90), END, BERLIN, by, summarize(incidents, by, BERLIN), trend)


def test_report_tables_match_the_golden_files() -> None:
    report = sample()
    golden("report.md", reports.to_markdown(report, timedelta(days=90)))
    golden("report.csv", reports.to_csv(report))
    golden("report.json", reports.to_json_text(report))


def test_the_html_is_well_formed_and_carries_its_chart() -> None:
    report = sample()
    html = reports.to_html(report, timedelta(days=90), reports.chart_png(report))
    root = ET.fromstring(html.removeprefix("<!DOCTYPE html>\n"))
    assert (
        len(root.findall("body/table")) == 7
    )  # four metrics, follow-ups by severity and service, post-mortems
    image = root.find("body/p/img")
    assert image is not None and image.get("src", "").startswith("data:image/png;base64,iVBORw0KGgo")
    rows = root.findall("body/table[1]/tbody/tr")
    assert [r[0].text for r in rows] == ["SEV1", "SEV2"]
    assert [c.text for c in rows[0]] == [
        "SEV1",
        "2",
        "0",
        "2",
        "0",
        "1 h 05 min",
        "1 h 05 min",
        "1 h 29 min",
        "1 h 35 min",
    ]


def test_the_chart_is_a_png_even_without_incidents() -> None:
    empty = MttrReport(
        END - timedelta(days=30), END, UTC, None, summarize([]), Trend("week", ["2026-W44"], {})
    )
    assert reports.chart_png(empty).startswith(b"\x89PNG\r\n\x1a\n")
    assert "| (no incidents) |" in reports.to_markdown(empty, timedelta(days=30))


def test_group_names_are_user_text_and_are_escaped() -> None:
    hostile = "<script>x</script> | *a*"
    report = sample(by="service", service=hostile)
    markdown = reports.to_markdown(report, None)
    assert "| \\<script>x\\</script> \\| \\*a\\* | 2 |" in markdown
    html = reports.to_html(report, None, None)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>" not in report_summary_text(report, None)
    assert (
        json.loads(reports.to_json_text(report))["groups"][0]["group"] == hostile
    )  # JSON keeps data as it is
