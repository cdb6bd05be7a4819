"""The status page as a visitor sees it: headless Chromium (Debian's, driven by Playwright)
with JavaScript disabled loads /status and an incident page from the real ASGI app, and the
static copy from the file system; both read the same.

Locally, without Chromium, these skip and say why; CI (WARROOM_REQUIRE_BROWSER=1) fails."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.app import Warroom
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store.tables import utcnow
from tests.conftest import People
from tests.e2e.helpers import settle
from tests.e2e.status.conftest import open_incident, send_update

SITE = "http://status.test"

READ = """() => ({
    title: document.title,
    text: document.body.innerText,
    headings: [...document.querySelectorAll('h1, h2, h3')].map(h => h.tagName + ' ' + h.innerText),
    scripts: document.scripts.length,
    states: Object.fromEntries([...document.querySelectorAll('.component')].map(
        c => [c.querySelector('h3').innerText, c.querySelector('.state').innerText])),
    bars: [...document.querySelectorAll('.bars')].map(b => b.children.length),
    today: [...document.querySelectorAll('.bars')].map(b => b.lastElementChild.title),
})"""


async def without_javascript(browser: Any, http: httpx.AsyncClient) -> Any:
    """A page whose requests to SITE are answered by warroom's ASGI app, with scripts off."""
    context = await browser.new_context(java_script_enabled=False)

    async def answer(route: Any) -> None:
        url = urlsplit(route.request.url)
        response = await http.get(url.path + (f"?{url.query}" if url.query else ""))
        await route.fulfill(
            status=response.status_code,
            headers={"content-type": response.headers.get("content-type", "text/html")},
            body=response.content,
        )

    await context.route(f"{SITE}/**", answer)
    return await context.new_page()


async def test_a_visitor_reads_the_status_page_and_an_incident_without_javascript(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    general: str,
    http: httpx.AsyncClient,
    browser: Any,
    public_dir: Path,
) -> None:
    opened = await open_incident(
        warroom, slack, sim, people.alice, general, "sev1 service:checkout Bluefin failover"
    )
    await send_update(
        slack,
        sim,
        people.alice,
        opened.channel,
        {
            "message": "Some card payments are failing. Next update in 30 minutes.",
            "audience": "public",
            "public_title": "Card payments failing",
            "component:Checkout": "partial_outage",
        },
    )
    now = utcnow()
    warroom.services.status_page.clock = lambda: now  # the served page and the copy, at one time
    await settle(warroom)

    page = await without_javascript(browser, http)
    await page.goto(f"{SITE}/status")
    served = await page.evaluate(READ)
    assert served["title"] == "Acme status" and served["scripts"] == 0
    assert served["headings"][:3] == ["H1 Acme status", "H2 Active incidents", "H3 Card payments failing"]
    assert "Partial outage" in served["text"] and "Some card payments are failing." in served["text"]
    assert served["states"] == {"Checkout": "Partial outage", "Search": "Operational", "API": "Operational"}
    assert served["bars"] == [90, 90, 90]
    checkout, search, _ = served["today"]  # what each bar says in words, not only in colour
    assert re.fullmatch(rf"{now.day} {now:%b %Y}: partial outage for \d+ s", checkout)
    assert search == f"{now.day} {now:%b %Y}: no incidents"
    assert "Bluefin" not in served["text"]

    await page.click("text=Card payments failing")  # a plain link: no script needed
    await page.wait_for_load_state("load")
    incident = await page.evaluate(READ)
    assert incident["title"] == "Card payments failing · Acme status"
    assert "H2 Updates" in incident["headings"] and "Investigating" in incident["text"]
    assert "Checkout: Partial outage" in incident["text"]
    assert urlsplit(page.url).path.startswith("/status/incidents/")

    await page.goto((public_dir / "index.html").as_uri())  # the static copy, from the disk
    copy = await page.evaluate(READ)
    assert copy["text"] == served["text"] and copy["states"] == served["states"]
    await page.click("text=Card payments failing")
    await page.wait_for_load_state("load")
    copied = await page.evaluate(READ)
    assert copied["text"] == incident["text"] and page.url.startswith("file://")
    await page.context.close()
