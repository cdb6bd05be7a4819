"""Post-mortem drafts and follow-ups end to end: written on close and on request, versions
kept, files written, uploaded into the channel and linked from the summary."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import Warroom
from bot.cli import app
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store.tables import Postmortem
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import rows, settle


async def reply(slack: SlackDriver, user: str, text: str, channel: str) -> str:
    response = await slack.command(user, text, channel)
    assert response.status_code == 200
    return str(response.json().get("text", "")) if response.content else ""


async def test_closing_writes_uploads_and_links_the_draft_and_later_versions_are_kept(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    postmortem_dir: Path,
) -> None:
    channel = declared.channel.id
    await reply(slack, people.alice, "note <script>alert(1)</script> *restarted* the pods", channel)
    await reply(slack, people.alice, "followup Add a search latency alert", channel)
    await reply(slack, people.alice, "resolve Restarted the search pods", channel)
    await reply(slack, people.alice, "close", channel)
    await settle(warroom)

    [first] = await rows(warroom, Postmortem)
    assert (first.incident_number, first.version, first.created_by) == (1, 1, "warroom")
    assert "## Follow-ups\n\n- [ ] P2 Add a search latency alert, due " in first.markdown
    assert "\\<script>alert(1)\\</script> **restarted** the pods" in first.markdown
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <strong>restarted</strong> the pods" in first.html
    assert (postmortem_dir / "incident-1-postmortem-v1.md").read_text() == first.markdown
    assert (postmortem_dir / "incident-1-postmortem-v1.html").read_text() == first.html
    uploads = [m for m in sim.messages(channel) if m.get("files")]
    assert [[f["name"] for f in m["files"]] for m in uploads] == [
        ["incident-1-postmortem-v1.md", "incident-1-postmortem-v1-timeline.png"]
    ]
    assert sim.files[uploads[0]["files"][0]["id"]]["content"] == first.markdown.encode()
    picture = sim.files[uploads[0]["files"][1]["id"]]["content"]
    assert first.chart and picture == first.chart and picture.startswith(b"\x89PNG")
    assert (postmortem_dir / "incident-1-postmortem-v1-timeline.png").read_bytes() == first.chart
    assert (
        "![The incident over time" in first.markdown
        and "(incident-1-postmortem-v1-timeline.png)" in first.markdown
    )
    assert 'src="data:image/png;base64,' in first.html
    assert first.slack_file_id == uploads[0]["files"][0]["id"]
    summary = declared.channel.message(declared.summary_ts)
    assert summary is not None and "*Post-mortem*: draft v1" in str(summary["blocks"])

    # Asked for again after more was learned: a new version, the first one kept.
    again = await reply(slack, people.bob, "postmortem", channel)
    assert again == ":page_facing_up: Post-mortem draft v2 is written; it is being uploaded here."
    await settle(warroom)
    versions = await rows(warroom, Postmortem)
    assert [(p.version, p.created_by) for p in versions] == [(1, "warroom"), (2, people.bob)]
    assert sorted(await asyncio.to_thread(os.listdir, postmortem_dir)) == [
        "incident-1-postmortem-v1-timeline.png",
        "incident-1-postmortem-v1.html",
        "incident-1-postmortem-v1.md",
        "incident-1-postmortem-v2-timeline.png",
        "incident-1-postmortem-v2.html",
        "incident-1-postmortem-v2.md",
    ]
    assert len([m for m in sim.messages(channel) if m.get("files")]) == 2
    summary = declared.channel.message(declared.summary_ts)
    assert summary is not None and "*Post-mortem*: draft v2" in str(summary["blocks"])
    assert [e.text for e in await warroom.queries.timeline(1) if e.kind == "postmortem"] == [
        "Post-mortem draft v1 written",
        "Post-mortem draft v2 written",
    ]


def test_the_postmortem_command_writes_a_draft_from_the_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env or warroom.yaml of the developer's
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("POSTMORTEM_DIR", str(tmp_path / "drafts"))
    runner = CliRunner()
    declared = runner.invoke(app, ["incident", "declare", "Search is slow", "--sev", "SEV2"])
    assert declared.exit_code == 0, declared.output
    written = runner.invoke(app, ["postmortem", "1"])
    assert written.exit_code == 0, written.output
    assert written.output.splitlines()[0] == "Post-mortem draft v1 of #1:"
    draft = (tmp_path / "drafts" / "incident-1-postmortem-v1.md").read_text()
    assert draft.startswith("# Post-mortem: #1 Search is slow\n")
    missing = runner.invoke(app, ["postmortem", "7"])
    assert missing.exit_code == 1 and "There is no incident #7." in missing.output
