"""`warroom demo` tells the whole story, from an alert to the documents, and needs nothing
outside the process."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

from bot.demo import run_demo


async def test_the_demo_runs_from_an_alert_to_the_post_mortem_and_the_mttr_report(tmp_path: Path) -> None:
    out = io.StringIO()
    began = time.perf_counter()
    assert await run_demo(out, tmp_path) == 0
    assert time.perf_counter() - began < 10
    text = out.getvalue()
    lines = text.splitlines()
    assert lines[0] == "13:52  CI posts 'deploy checkout v2.4.0 finished' to /webhooks/changes"
    assert (
        lines[1] == "14:00  Alertmanager posts HighErrorRate (firing since 13:57) to /webhooks/alertmanager"
    )
    story = [line[:5] for line in lines if re.match(r"\d\d:\d\d  ", line)]
    assert story == [
        "13:52",
        "14:00",
        "14:02",
        "14:05",
        "14:08",
        "14:12",
        "14:18",
        "14:24",
        "14:27",
        "14:31",
        "14:38",
        "14:45",
        "15:10",
    ]
    assert "warroom declared #1 SEV2, opened #inc-1-higherrorrate-on-checkout-7d9f-8080" in text
    assert "@alice typed: /incident role scribe @bob" in text
    assert "14:08 pinned    Error rate jumped to 23% at 13:57" in text
    assert "14:38 alert     Alert resolved: HighErrorRate on checkout-7d9f:8080 (alertmanager)" in text
    assert "warroom: :clipboard: *Runbook: checkout-errors* · 2/3 done" in text  # one checklist, updated
    assert re.search(r"\n  resolved_at +\d{4}-\d\d-\d\d 14:45 UTC\n", text)
    for path in (
        "incident-1-postmortem-v1.md",
        "incident-1-postmortem-v1.html",
        "incident-1-postmortem-v1-timeline.png",
    ):
        assert f"  {tmp_path / path}" in text and (tmp_path / path).stat().st_size > 1000
    assert f"  {tmp_path / 'mttr-report.html'}" in text
    assert "data:image/png;base64," in (tmp_path / "mttr-report.html").read_text()

    draft = (tmp_path / "incident-1-postmortem-v1.md").read_text()
    assert "| Duration (started to resolved) | 48 min |" in draft
    assert "| Time to acknowledge | 5 min |" in draft and "| Time to mitigate | 34 min |" in draft
    assert "- Step 2, Roll back the last deploy: **done** by Bob Jones (@bob)" in draft
    assert "right after **deploy 4711**" in draft
    assert "*deploy checkout v2.4.0* · succeeded 5 min before the start" in text  # the suspects message
    assert "14:18 cause     Linked deploy checkout v2.4.0 as the cause" in text
    assert "deploy checkout v2.4.0, succeeded, by dana@example.com **(linked as the cause)**" in draft
    assert "While it was open:" in draft and "deploy checkout v2.3.9" in draft
    assert not re.search(r"\bU0\d+", draft) and "\\*" not in draft
    assert "[file: incident-1-postmortem-v1.md] [file: incident-1-postmortem-v1-timeline.png]" in text
