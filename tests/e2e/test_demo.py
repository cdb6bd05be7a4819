"""`warroom demo` tells the whole story and needs nothing outside the process."""

from __future__ import annotations

import io
from pathlib import Path

from bot.demo import run_demo


async def test_demo_runs_declare_to_close(tmp_path: Path) -> None:
    out = io.StringIO()
    assert await run_demo(out, tmp_path) == 0
    text = out.getvalue()
    assert "warroom opened #inc-1-checkout-api-returns-500s and announced it in #incidents" in text
    assert "warroom [pinned]: #1 Checkout API returns 500s" in text
    assert ":bust_in_silhouette: @bob is now scribe (by @alice)" in text
    assert "pinned    Error rate jumped to 23% at 14:02" in text
    assert "Status monitoring → resolved: Rolled back deploy 4711" in text
    assert "Status resolved → closed" in text
    assert "warroom: :clipboard: *Runbook: checkout-errors* · 2/3 done" in text  # one checklist, updated
    assert "runbook   Runbook *checkout-errors*: *Roll back the last deploy* done" in text
    for milestone in ("declared_at", "acknowledged_at", "mitigated_at", "resolved_at", "closed_at"):
        line = next(line for line in text.splitlines() if line.strip().startswith(milestone))
        assert line.strip().endswith("UTC"), line
    assert f"  {tmp_path / 'incident-1-postmortem-v1.md'}" in text
    draft = (tmp_path / "incident-1-postmortem-v1.md").read_text()
    assert "- Step 2, Roll back the last deploy: **done** by Bob (@bob)" in draft
    assert "[file: incident-1-postmortem-v1.md]" in text
