"""warroom watching itself: /metrics, JSON log lines with request id and incident number, a
job that fails for good showing up as a metric, a log line and a timeline note, and the
operator retrying it with `warroom jobs`."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from bot.app import Warroom
from bot.observability import JsonFormatter
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store.db import Database
from tests import payloads
from tests.conftest import ALERT_TOKEN, People
from tests.e2e.conftest import Declared
from tests.e2e.helpers import environment, run_warroom, scrape, settle


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Log lines as `warroom serve` writes them (LOG_FORMAT=json)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield out
    root.removeHandler(handler)


async def test_metrics_count_requests_acks_jobs_alerts_and_open_incidents(
    warroom: Warroom, http: httpx.AsyncClient, slack: SlackDriver, people: People, general: str
) -> None:
    await slack.command(people.alice, "declare sev2 Checkout is slow", general)
    await slack.command(people.alice, "declare sev3 Search is slow", general)
    delivered = await http.post(
        "/webhooks/alertmanager",
        content=payloads.alertmanager([payloads.alertmanager_alert()]),
        headers={"Authorization": f"Bearer {ALERT_TOKEN}"},
    )
    assert delivered.status_code == 200
    before = await scrape(http)
    assert before["warroom_http_requests_total", (("route", "/slack/events"), ("status", "200"))] == 2
    assert before["warroom_slack_ack_seconds_count", ()] == 2
    assert before["warroom_alerts_ingested_total", (("source", "alertmanager"),)] == 1
    assert before["warroom_incidents_open", ()] >= 2
    assert before["warroom_jobs_pending", ()] > 0

    ran = await settle(warroom)
    after = await scrape(http)
    attempts = {
        outcome: sum(
            v
            for (name, labels), v in after.items()
            if name == "warroom_job_runs_total" and ("outcome", outcome) in labels
        )
        for outcome in ("done", "retried", "failed", "waited")
    }
    assert attempts["done"] > 0 and attempts["failed"] == 0
    assert sum(attempts.values()) == ran  # every attempt counted once
    assert after["warroom_jobs_failed", ()] == 0
    assert after["warroom_http_requests_total", (("route", "/metrics"), ("status", "200"))] == 1


async def test_log_lines_carry_the_request_id_and_the_incident(
    warroom: Warroom,
    http: httpx.AsyncClient,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    json_log: io.StringIO,
) -> None:
    sim.inject("chat.postMessage", status=500)  # the echo of the note fails once: a warning
    response = await slack.post(
        slack.command_body(people.alice, "note Restarted the pods", declared.channel.id),
        "application/x-www-form-urlencoded",
    )
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 16
    await settle(warroom)
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    retried = [line for line in lines if "attempt 1 failed" in line["message"]]
    assert retried and retried[0]["level"] == "warning" and retried[0]["incident"] == 1
    assert retried[0]["request_id"].startswith("job-")

    given = await http.get("/api/incidents", headers={"X-Request-Id": "trace-42"})
    assert given.headers["x-request-id"] == "trace-42"


async def test_a_job_that_fails_for_good_is_a_metric_a_log_line_and_a_timeline_note(
    warroom: Warroom,
    http: httpx.AsyncClient,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
    json_log: io.StringIO,
) -> None:
    sim.channels[declared.channel.id].is_archived = True  # someone archived the channel by hand
    await slack.command(people.alice, "note Restarted the pods", declared.channel.id)
    for _ in range(4):
        await settle(warroom, horizon=timedelta(minutes=10))
    metrics = await scrape(http)
    assert metrics["warroom_jobs_failed", ()] == 1
    assert metrics["warroom_job_runs_total", (("kind", "slack.echo"), ("outcome", "failed"))] == 1
    [line] = [json.loads(x) for x in json_log.getvalue().splitlines() if "failed for good" in x]
    assert line["level"] == "error" and line["incident"] == 1 and "is_archived" in line["message"]
    notes = [e.text for e in await warroom.queries.timeline(1) if e.kind == "system"]
    assert any("`slack.echo` failed for good" in text and "is_archived" in text for text in notes)


@pytest.mark.processes
async def test_an_operator_retries_a_job_that_failed_for_good(
    warroom: Warroom,
    db: Database,
    http: httpx.AsyncClient,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    declared: Declared,
) -> None:
    channel = sim.channels[declared.channel.id]
    channel.is_archived = True  # archived by hand: the echo of the note fails for good
    await slack.command(people.alice, "note Restarted the pods", declared.channel.id)
    for _ in range(4):
        await settle(warroom, horizon=timedelta(minutes=10))
    env = environment(db, sim)
    code, out, err = await run_warroom(env, "jobs", "list", "--failed", "--json")
    assert code == 0, err
    [failed] = json.loads(out)
    assert (failed["kind"], failed["incident"], failed["state"]) == ("slack.echo", 1, "failed")
    assert "is_archived" in failed["last_error"]

    channel.is_archived = False  # someone unarchives it, and asks warroom to try again
    code, out, err = await run_warroom(env, "jobs", "retry", "--all-failed")
    assert code == 0 and out.strip() == f"retrying 1 job(s): {failed['id']}", err
    await settle(warroom)
    echoes = [m["text"] for m in sim.messages(channel.id) if "Restarted the pods" in m.get("text", "")]
    assert len(echoes) == 1
    assert (await scrape(http))["warroom_jobs_failed", ()] == 0

    code, _, err = await run_warroom(env, "jobs", "retry", str(failed["id"]))  # done now
    assert code == 1 and f"not failed (or no such job): {failed['id']}" in err
    code, _, err = await run_warroom(env, "jobs", "retry")
    assert code == 1 and "--all-failed" in err and "Traceback" not in err
