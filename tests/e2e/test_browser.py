"""The documents as a reader sees them: the post-mortem and the MTTR report, rendered by warroom
from a real incident, opened in headless Chromium (Debian's, driven by Playwright).

Locally, without Chromium, these skip and say why; CI (WARROOM_REQUIRE_BROWSER=1, set by
.ci/run, which installs Chromium) fails instead of skipping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.app import Warroom
from bot.documents import reports as report_docs
from bot.sim.driver import SlackDriver
from tests.conftest import People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import settle


async def seen(browser: Any, path: Path) -> dict[str, Any]:
    """What a reader of this file sees: its title, its text, and each picture's pixel size."""
    page = await browser.new_page()
    try:
        await page.goto(path.as_uri())
        await page.wait_for_load_state("load")
        return dict(
            await page.evaluate(
                """() => ({
                    title: document.title,
                    text: document.body.innerText,
                    bold: [...document.querySelectorAll('strong')].map(e => e.innerText),
                    images: [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight]),
                })"""
            )
        )
    finally:
        await page.close()


async def test_a_post_mortem_reads_well_in_a_browser(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared, browser: Any
) -> None:
    channel = declared.channel.id
    for user, text in [
        (people.alice, f"role scribe <@{people.bob}|bob>"),
        (people.bob, "note *search-7* is out of memory, see <https://grafana.example/d/1|the dashboard>"),
        (people.alice, "status identified Bad index on `search_docs`"),
        (people.alice, "resolve Dropped the bad index"),
        (people.alice, "close"),
    ]:
        assert (await slack.command(user, text, channel)).status_code == 200
    await settle(warroom)
    draft = (await warroom.postmortems.versions(1))[-1]
    html = warroom.postmortems.paths(draft)[1]

    page = await seen(browser, html)
    assert page["title"] == "Post-mortem #1 Search is slow"
    assert "Alice (@alice): commander" in page["text"] and "Bob (@bob): scribe" in page["text"]
    assert "search-7 is out of memory, see the dashboard" in page["text"]
    assert "search-7" in page["bold"] and "*search-7*" not in page["text"]  # bold, not asterisks
    assert "U0000" not in page["text"] and "\\*" not in page["text"]
    [(complete, width, height)] = page["images"]
    assert complete and width > 600 and height > 150  # the timeline picture loaded


async def test_an_mttr_report_reads_well_in_a_browser(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared, browser: Any, tmp_path: Path
) -> None:
    await slack.command(people.alice, "resolve Dropped the bad index", declared.channel.id)
    await settle(warroom)
    report = await warroom.reports.mttr(by="severity")
    path = tmp_path / "report.html"
    path.write_text(report_docs.render(report, None, "html"), encoding="utf-8")

    page = await seen(browser, path)
    assert "MTTR report" in page["text"] and "SEV3" in page["text"]
    [(complete, width, height)] = page["images"]
    assert complete and width > 600 and height > 200  # the chart loaded
