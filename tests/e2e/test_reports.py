"""The MTTR report end to end: `/incident report` posts a summary and its chart where it was
asked, GET /api/reports/mttr and `warroom report mttr` give the same numbers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bot.app import Warroom
from bot.cli import app
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import settle


async def resolved_incident(slack: SlackDriver, people: People, declared: Declared) -> None:
    await slack.command(people.alice, "resolve Restarted the search pods", declared.channel.id)


async def test_the_report_command_posts_a_summary_and_a_chart_in_the_channel(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    general: str,
) -> None:
    await resolved_incident(slack, people, declared)
    await slack.command(people.bob, "declare sev1 Checkout is down", general)
    answer = (await slack.command(people.carol, "report 30d", general)).json()
    assert answer == {
        "text": "Working on the MTTR report of the last 30d: it will appear here.",
        "response_type": "ephemeral",
    }
    await settle(warroom)
    [posted] = [m for m in sim.messages(general) if m.get("files")]
    assert posted["text"].startswith("*MTTR report*, from ")
    assert "2 incidents, 1 still open (counted, and listed as open); 0 drills left out." in posted["text"]
    # Declared and resolved within a second or two: how many depends on the machine.
    assert re.search(
        r"• \*all\*: 2 incidents, time to resolve mean \d s, p50 \d s, p90 \d s \(1 still open\)",
        posted["text"],
    ), posted["text"]
    chart = sim.files[posted["files"][0]["id"]]
    assert chart["name"].startswith("mttr-") and chart["content"].startswith(b"\x89PNG")


async def test_a_channel_warroom_is_not_in_gets_the_summary_privately(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    elsewhere = sim.add_channel("team-search", members=[people.alice], private=True)
    await slack.command(people.alice, "report", elsewhere)
    await settle(warroom)
    assert sim.messages(elsewhere) == []
    [response] = sim.responses
    assert response["response_type"] == "ephemeral"
    assert response["text"].startswith("*MTTR report*, from ") and "/invite @warroom" in response["text"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("report soon", "`report soon`: give the period as days, like `report 30d` (default 30d)."),
        ("report 0d", "Choose a period from 1d to 3650d, like `report 30d`."),
    ],
)
async def test_a_bad_period_is_explained(
    warroom: Warroom, slack: SlackDriver, people: People, general: str, text: str, error: str
) -> None:
    answer = (await slack.command(people.alice, text, general)).json()
    assert answer["text"] == f":warning: {error}"
    assert await settle(warroom) == 0  # no job was queued


async def test_the_report_and_follow_ups_as_json(
    http: httpx.AsyncClient, slack: SlackDriver, people: People, declared: Declared
) -> None:
    await slack.command(
        people.alice, f"followup Alert on queue depth <@{people.bob}|bob>", declared.channel.id
    )
    await resolved_incident(slack, people, declared)
    followups = (await http.get("/api/incidents/1/followups")).json()
    assert [(f["text"], f["owner"], f["created_by"]) for f in followups] == [
        ("Alert on queue depth", people.bob, people.alice)
    ]
    assert (await http.get("/api/incidents/9/followups")).status_code == 404

    report = (await http.get("/api/reports/mttr", params={"since": "7d", "by": "severity"})).json()
    assert (report["incidents"], report["open"], report["by"]) == (1, 0, "severity")
    [group] = report["groups"]
    assert group["group"] == "SEV3" and group["metrics"]["time_to_resolve"]["count"] == 1
    assert report["trend"]["unit"] == "week" and report["trend"]["seconds"]["SEV3"][-1] is not None
    for params in ({"since": "soon"}, {"by": "team"}):
        refused = await http.get("/api/reports/mttr", params=params)
        assert refused.status_code == 422 and "detail" in refused.json()


def test_the_report_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env or warroom.yaml of the developer's
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    assert runner.invoke(app, ["incident", "declare", "Search is slow", "--sev", "SEV2"]).exit_code == 0
    markdown = runner.invoke(app, ["report", "mttr", "--by", "severity"])
    assert markdown.exit_code == 0, markdown.output
    assert "| SEV2 | 1 | 1 | 0 | 1 | n/a | n/a | n/a | n/a |" in markdown.output
    written = runner.invoke(app, ["report", "mttr", "--since", "all", "--format", "html", "--out", "r.html"])
    assert written.exit_code == 0 and (tmp_path / "r.html").read_text().count("data:image/png;base64,") == 1
    as_json = runner.invoke(app, ["report", "mttr", "--format", "json"])
    assert json.loads(as_json.output)["groups"][0]["open"] == 1
    for args, message in [
        (["--since", "soon"], "--since: 'soon' is not a duration"),
        (["--by", "team"], "--by: choose one of severity, service, month, week"),
        (["--format", "pdf"], "--format: choose one of md, html, csv, json"),
    ]:
        refused = runner.invoke(app, ["report", "mttr", *args])
        assert refused.exit_code == 1 and message in refused.output


def test_the_availability_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    (tmp_path / "warroom.yaml").write_text("status_page:\n  components:\n    - {name: Checkout, slo: 99.9}\n")
    runner = CliRunner()
    markdown = runner.invoke(app, ["report", "availability", "--since", "30d"])
    assert markdown.exit_code == 0, markdown.output
    assert (
        "| Checkout | 100.000 % | 99.9 % | 0 s | 43 min 12 s | 43 min 12 s (100 %) | 0 s | 0 s | 0 s |"
        in markdown.output
    )
    written = runner.invoke(app, ["report", "availability", "--format", "html", "--out", "a.html"])
    assert written.exit_code == 0 and (tmp_path / "a.html").read_text().count("data:image/png;base64,") == 1
    as_csv = runner.invoke(app, ["report", "availability", "--format", "csv"])
    assert as_csv.output.splitlines()[1].startswith("Checkout,100.000000,99.9,0.00,43.20,43.20")
    for args, message in [
        (["--since", "soon"], "--since: 'soon' is not a duration"),
        (["--format", "pdf"], "--format: choose one of md, html, csv, json"),
    ]:
        refused = runner.invoke(app, ["report", "availability", *args])
        assert refused.exit_code == 1 and message in refused.output
    unset = runner.invoke(app, ["status", "export"])
    assert unset.exit_code == 1 and "STATUS_PAGE_DIR is not set" in unset.output
    monkeypatch.setenv("STATUS_PAGE_DIR", str(tmp_path / "public"))
    exported = runner.invoke(app, ["status", "export"])
    assert (
        exported.exit_code == 0 and "All systems operational" in (tmp_path / "public/index.html").read_text()
    )
