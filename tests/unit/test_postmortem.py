"""Post-mortem rendering: a golden file for a realistic incident, escaping, the sandbox and
clear errors from broken custom templates."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from markdown_it import MarkdownIt

from bot.documents.postmortem import (
    AlertLine,
    Entry,
    FollowUpLine,
    PostmortemData,
    PostmortemRenderer,
    PostmortemTemplateError,
    RoleSpan,
    RunbookSection,
    StepLine,
    UpdateLine,
)
from bot.domain.changes import Change
from bot.domain.metrics import format_duration
from bot.domain.people import Names, Person

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
T0 = datetime(2026, 3, 29, 0, 40, tzinfo=UTC)  # the night Berlin moves from CET to CEST
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class IncidentRow:
    number: int = 42
    title: str = "Checkout API returns 500s"
    severity: str = "SEV2"
    service: str | None = "checkout"
    status: str = "closed"
    drill: bool = False
    description: str | None = "Card payments fail for about a third of customers"
    resolve_summary: str | None = "Rolled back deploy 4711; payment client pinned to v2.3"
    started_at: datetime = T0 + 0 * MINUTE
    detected_at: datetime = T0 + 4 * MINUTE
    declared_at: datetime = T0 + 6 * MINUTE
    acknowledged_at: datetime | None = T0 + 7 * MINUTE
    mitigated_at: datetime | None = T0 + 41 * MINUTE
    resolved_at: datetime | None = T0 + 95 * MINUTE
    closed_at: datetime | None = T0 + 180 * MINUTE
    cause_change: str | None = "deploy-4711"


DEPLOY_4711 = Change(
    "deploy-4711",
    "checkout",
    "production",
    "deploy",
    "succeeded",
    "checkout v2.4.0",
    at(-9),
    at(-6),
    version="v2.4.0",
    previous_version="v2.3.9",
    author="alice@example.com",
    url="https://deploy.example.com/4711",
)
ROLLBACK = Change(
    "deploy-4712",
    "checkout",
    "production",
    "deploy",
    "succeeded",
    "checkout v2.3.9",
    at(37),
    at(40),
    version="v2.3.9",
    author="carol@example.com",
    freeze="SEV2 incident #42 is open on checkout",
)


def realistic(incident: IncidentRow | None = None) -> PostmortemData:
    return PostmortemData(
        incident=incident or IncidentRow(),
        version=2,
        generated_at=at(181),
        roles=[
            RoleSpan("commander", "U0ALICE", at(7), at(30), 23 * 60),
            RoleSpan("scribe", "U0BOB", at(9), None, 171 * 60),
            RoleSpan("commander", "U0CAROL", at(30), None, 150 * 60),
        ],
        alerts=[
            AlertLine("alertmanager", "HighErrorRate on checkout-7d9f:8080", "resolved", at(0), at(90)),
            AlertLine("alertmanager", "HighLatency on checkout-7d9f:8080", "resolved", at(2), at(85)),
        ],
        runbooks=[
            RunbookSection(
                "high-error-rate",
                "9d60dd566117",
                [
                    StepLine(1, "Confirm the impact", "done", "U0ALICE", at(12)),
                    StepLine(2, "Look for a recent change", "done", "U0BOB", at(20)),
                    StepLine(3, "Roll back the last deploy", "done", "U0CAROL", at(38)),
                    StepLine(4, "Add capacity if the service is saturated", "not applicable"),
                    StepLine(
                        5, "Update the status page", "skipped", "U0CAROL", at(40), "no public impact yet"
                    ),
                    StepLine(6, "Verify the recovery", "not reached"),
                ],
            )
        ],
        timeline=[
            Entry(at(0), None, "alert", "Alert firing: *HighErrorRate* on checkout-7d9f:8080 (alertmanager)"),
            Entry(at(6), "U0ALICE", "declared", "Declared SEV2: Checkout API returns 500s"),
            Entry(at(7), "U0ALICE", "role", "<@U0ALICE> is now commander"),
            Entry(at(7) + 25 * SECOND, "U0ALICE", "role", "<@U0BOB|bob> is now scribe"),
            Entry(
                at(15),
                "U0BOB",
                "pinned",
                "Error rate jumped to 23% at 14:02, right after <https://deploy.example.com/4711|deploy 4711>"
                " :chart_with_upwards_trend:",
            ),
            Entry(at(30), "U0ALICE", "role", "<@U0CAROL> is now commander"),
            Entry(at(36), "U0CAROL", "note", "Rolling back `deploy 4711` &amp; _pinning_ the payment client"),
            Entry(at(41), "U0CAROL", "status", "Status identified → monitoring: error rate falling"),
            Entry(at(95), "U0CAROL", "status", "Status monitoring → resolved: Rolled back deploy 4711"),
            Entry(at(180), "U0CAROL", "status", "Status resolved → closed"),
        ],
        followups=[
            FollowUpLine(
                "Alert on the payment client's error rate, not only the API's",
                "U0BOB",
                at(100),
                "P1",
                "open",
                at(60 * 24 * 14),
            ),
            FollowUpLine("Canary deploys for checkout", None, at(101), "P2", "done"),
            FollowUpLine("Rewrite the payment client", "U0CAROL", at(102), "P3", "wont_do"),
        ],
        changes_before=[
            DEPLOY_4711,
            Change(
                "flag-9",
                "checkout",
                "production",
                "flag",
                "succeeded",
                "new-cart on",
                at(-50),
                at(-50),
                author="dana",
            ),
        ],
        changes_during=[ROLLBACK],
        cause=DEPLOY_4711,
        updates=[
            UpdateLine(
                at(20),
                "U0ALICE",
                "internal",
                "Card payments fail for a third of customers; rolling back.",
                "Checkout: partial outage",
            ),
            UpdateLine(
                at(25),
                "U0BOB",
                "public",
                "Some card payments are failing. Next update in 30 minutes.",
                "Checkout: partial outage",
            ),
            UpdateLine(
                at(95),
                "U0CAROL",
                "public",
                "This incident has been resolved.",
                "Checkout: operational",
                final=True,
            ),
        ],
        chart=b"\x89PNG\r\n\x1a\n(the timeline picture; its drawing is tested on its own)",
        comparison="Resolved in 1 h 35 min; SEV2 median over the last 90 days: 48 min, p90 2 h 10 min (7 incidents)",
        names=Names(
            [
                Person("U0ALICE", "alice", "Alice Smith"),
                Person("U0BOB", "bob", "Bob Jones"),
                Person("U0CAROL", "carol", "Carol Diaz", deleted=True),
            ]
        ),
    )


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("WARROOM_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), (
        f"differs from {path}; WARROOM_UPDATE_GOLDEN=1 rewrites it"
    )


def test_a_realistic_post_mortem_matches_the_golden_files() -> None:
    markdown, html = PostmortemRenderer(ZoneInfo("Europe/Berlin")).render(realistic())
    golden("postmortem.md", markdown)
    golden("postmortem.html", html)
    for document in (markdown, html):  # people by name, Slack's markup converted
        assert not re.search(r"\bU0[A-Z0-9]+", document) and "\\*" not in document


def test_the_html_is_well_formed() -> None:
    _, html = PostmortemRenderer(ZoneInfo("UTC")).render(realistic())
    root = ET.fromstring(html.removeprefix("<!DOCTYPE html>\n"))
    assert root.tag == "html" and root.find("body/h1") is not None
    assert len(root.findall("body/table")) == 3


def test_times_are_shown_in_the_configured_zone() -> None:
    markdown, _ = PostmortemRenderer(ZoneInfo("Europe/Berlin")).render(realistic())
    assert "| Started (impact began) | 2026-03-29 01:40 CET |" in markdown
    assert "| Resolved | 2026-03-29 04:15 CEST |" in markdown  # after the clocks went forward
    utc, _ = PostmortemRenderer(ZoneInfo("UTC")).render(realistic())
    assert "| Started (impact began) | 2026-03-29 00:40 UTC |" in utc


def test_a_milestone_never_reached_says_so() -> None:
    markdown, _ = PostmortemRenderer(ZoneInfo("UTC")).render(realistic(IncidentRow(acknowledged_at=None)))
    assert "| Acknowledged (commander assigned) | not reached |" in markdown
    assert "| Time to acknowledge | not reached |" in markdown


HOSTILE = "<script>alert(1)</script> *bold* [click](javascript:alert(1)) {{ 7*7 }} | pipe `code` <!channel>"


def test_user_text_cannot_break_the_document_or_run_in_the_template() -> None:
    data = realistic(IncidentRow(title=HOSTILE, resolve_summary=HOSTILE + "\n# not a heading"))
    data.timeline.append(Entry(at(50), "U0BOB", "note", HOSTILE))
    markdown, html = PostmortemRenderer(ZoneInfo("UTC")).render(data)
    # Even a Markdown renderer that passes raw HTML through shows the tag as text.
    assert "<script" not in MarkdownIt("commonmark", {"html": True}).render(markdown)
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    title = markdown.splitlines()[0]
    assert "\\{\\{ 7\\*7 \\}\\}" in title and "49" not in title  # printed, not evaluated
    assert "\\[click\\](javascript:alert(1))" in markdown and 'href="javascript' not in html
    assert "\n# not a heading" not in markdown  # user text stays on its line
    assert markdown.count("\n| Severity | SEV2 |") == 1  # the tables still stand
    ET.fromstring(html.removeprefix("<!DOCTYPE html>\n"))


def test_a_drill_is_marked() -> None:
    markdown, _ = PostmortemRenderer(ZoneInfo("UTC")).render(realistic(IncidentRow(drill=True)))
    assert markdown.startswith("# Post-mortem: #42 Checkout API returns 500s (DRILL)")


def test_a_broken_custom_template_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ours.md.j2"
    path.write_text("# {{ incident.title }}\n\n{% for x in timeline %}\n{{ x.text }\n{% endfor %}\n")
    with pytest.raises(PostmortemTemplateError, match=rf"^{path}:4: unexpected '}}'"):
        PostmortemRenderer(ZoneInfo("UTC"), path)

    path.write_text("# {{ incident.title }}\n\nOwner: {{ followups[0].owner.upper() }}\n{{ nope.deeper }}\n")
    renderer = PostmortemRenderer(ZoneInfo("UTC"), path)
    with pytest.raises(PostmortemTemplateError, match=rf"^{path}:4: 'nope' is undefined"):
        renderer.render(realistic())

    with pytest.raises(PostmortemTemplateError, match=re.escape("missing.md.j2' not found")):
        PostmortemRenderer(ZoneInfo("UTC"), tmp_path / "missing.md.j2")


def test_a_custom_template_runs_in_the_sandbox(tmp_path: Path) -> None:
    path = tmp_path / "evil.md.j2"
    path.write_text("{{ incident.__class__.__init__.__globals__ }}\n")
    with pytest.raises(PostmortemTemplateError, match=rf"^{path}:1: access to attribute .* is unsafe"):
        PostmortemRenderer(ZoneInfo("UTC"), path).render(realistic())


def test_a_custom_template_gets_its_html_from_its_markdown(tmp_path: Path) -> None:
    path = tmp_path / "short.md.j2"
    path.write_text(
        "# {{ incident.title }}\n\n{% for entry in timeline %}\n- {{ entry.text }}\n{% endfor %}\n"
    )
    data = realistic(IncidentRow(title=HOSTILE))
    markdown, html = PostmortemRenderer(ZoneInfo("UTC"), path).render(data)
    assert markdown.count("\n- ") == len(data.timeline)
    root = ET.fromstring(html.removeprefix("<!DOCTYPE html>\n"))
    assert len(root.findall("body/ul/li")) == len(data.timeline)
    assert "<script" not in html  # the title is shown as text, not run
    heading = root.find("body/h1")
    assert heading is not None and (heading.text or "").startswith("<script>alert(1)</script> ")
    assert heading.findtext("strong") == "bold"  # Slack's *bold*, converted


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "not reached"),
        (0, "0 s"),
        (45.4, "45 s"),
        (59.6, "1 min"),
        (240, "4 min"),
        (270, "4 min 30 s"),
        (3599, "59 min 59 s"),
        (3600, "1 h 00 min"),
        (7500, "2 h 05 min"),
        (47 * 3600 + 59 * 60, "47 h 59 min"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
        (-5, "0 s"),  # a clock that ran backwards
    ],
)
def test_durations_read_like_a_person_writes_them(seconds: float | None, shown: str) -> None:
    assert format_duration(seconds) == shown
