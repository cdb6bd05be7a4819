"""Findings 7, 11 and 12 on the alert webhooks: values no column can take (NUL, lone
surrogates, over-long keys, far-away times) are made storable in the parsers; one bad alert
is rejected with its reason and the good ones are kept; never a 500 (run on PostgreSQL too,
where these used to fail). PagerDuty deliveries are deduplicated on the signed event id, and
stale events are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.app import Warroom, build
from bot.config import WarroomConfig
from bot.store.tables import AlertRecord, Incident
from tests import payloads
from tests.conftest import ALERT_TOKEN, PAGERDUTY_SECRET
from tests.e2e.helpers import count, rows

BEARER = {"Authorization": f"Bearer {ALERT_TOKEN}", "Content-Type": "application/json"}


async def test_unstorable_values_are_made_storable_and_one_bad_alert_does_not_spoil_the_rest(
    warroom: Warroom, http: httpx.AsyncClient
) -> None:
    nul = payloads.alertmanager_alert(fingerprint="a1", instance="web\x00-1")
    long_key = payloads.alertmanager_alert(fingerprint="f" * 300, instance="web-2", service="s" * 150)
    bad = payloads.alertmanager_alert(fingerprint="a3", status="exploded")
    body = payloads.alertmanager([nul, long_key, bad], group_key="g" * 600)
    answer = await http.post("/webhooks/alertmanager", content=body, headers=BEARER)
    assert answer.status_code == 200
    assert answer.json()["rejected"] == [
        {"field": "alerts[2].status", "message": "expected firing or resolved, got 'exploded'"}
    ]
    stored = {a.fingerprint: a for a in await rows(warroom, AlertRecord)}
    assert len(stored) == 2 and "a1" in stored
    assert stored["a1"].labels["instance"] == "web-1"  # the NUL is gone, the rest kept
    (long_one,) = [a for f, a in stored.items() if f != "a1"]
    assert len(long_one.fingerprint) == 160 and long_one.fingerprint.startswith("f" * 143 + "~")
    assert long_one.service == "s" * 100
    assert long_one.group_key is not None and len(long_one.group_key) == 500
    # The same long fingerprint maps to the same alert: a redelivery changes nothing.
    again = (await http.post("/webhooks/alertmanager", content=body, headers=BEARER)).json()
    assert (again["new"], await count(warroom, AlertRecord)) == (0, 2)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"started_at": "9999-12-31T23:59:59-01:00"}, "started_at"),  # OverflowError, once
        ({"started_at": "2026-13-45T00:00:00Z"}, "started_at"),
        ({"dedup_key": ""}, "dedup_key"),
    ],
)
async def test_bad_values_get_400_naming_the_field(
    warroom: Warroom, http: httpx.AsyncClient, overrides: dict[str, str], field: str
) -> None:
    answer = await http.post("/webhooks/generic", content=payloads.generic(**overrides), headers=BEARER)
    assert answer.status_code == 400 and answer.json()["field"] == field
    assert await count(warroom, AlertRecord) == 0


async def test_text_with_lone_surrogates_deep_json_and_times_far_away(
    warroom: Warroom, http: httpx.AsyncClient
) -> None:
    surrogate = payloads.generic(title="Disk \ud800full", started_at="0002-01-01T00:00:00Z").replace(
        b"\\ud800", b"\\udc00\\ud800"
    )
    assert (await http.post("/webhooks/generic", content=surrogate, headers=BEARER)).status_code == 200
    (alert,) = await rows(warroom, AlertRecord)
    assert alert.title == "Disk full"
    # An alert "started" in year 2 counts from a year ago at most: reports stay bounded.
    starts = alert.starts_at if alert.starts_at.tzinfo else alert.starts_at.replace(tzinfo=UTC)
    assert starts >= datetime.now(UTC) - timedelta(days=367)
    (incident,) = await rows(warroom, Incident)
    started = incident.started_at if incident.started_at.tzinfo else incident.started_at.replace(tzinfo=UTC)
    assert started >= datetime.now(UTC) - timedelta(days=367)
    future = payloads.generic(dedup_key="future", started_at="2999-01-01T00:00:00Z")
    assert (await http.post("/webhooks/generic", content=future, headers=BEARER)).status_code == 200

    deep = (
        json.dumps({"status": "firing", "labels": {}}).encode()[:-1]
        + b', "x": '
        + b"[" * 50_000
        + b"]" * 50_000
        + b"}"
    )
    answer = await http.post("/webhooks/generic", content=deep, headers=BEARER)
    assert answer.status_code == 400 and "nested deeper" in answer.json()["message"]


def signed(body: bytes, webhook_id: str) -> dict[str, str]:
    return {
        "X-PagerDuty-Signature": payloads.pagerduty_signature(body, PAGERDUTY_SECRET),
        "X-Webhook-Id": webhook_id,
        "Content-Type": "application/json",
    }


async def test_pagerduty_is_deduplicated_on_the_signed_event_id_and_stale_events_are_refused(
    warroom: Warroom, http: httpx.AsyncClient
) -> None:
    body = payloads.pagerduty()
    first = (await http.post("/webhooks/pagerduty", content=body, headers=signed(body, "a"))).json()
    # The same signed event with a new (unsigned) X-Webhook-Id is still the same event.
    replay = (await http.post("/webhooks/pagerduty", content=body, headers=signed(body, "b"))).json()
    assert (first["duplicate"], replay["duplicate"]) == (False, True)
    assert await count(warroom, Incident) == 1

    event = json.loads(payloads.pagerduty("incident.resolved", status="resolved"))
    event["event"]["occurred_at"] = payloads.ago(8 * 86400)
    stale = json.dumps(event).encode()
    answer = await http.post("/webhooks/pagerduty", content=stale, headers=signed(stale, "c"))
    assert answer.status_code == 400 and answer.json()["field"] == "event.occurred_at"
    (alert,) = await rows(warroom, AlertRecord)
    assert alert.status == "firing"


async def test_each_sender_address_has_a_delivery_budget(warroom: Warroom) -> None:
    """Finding 9: a sender that floods the webhooks gets 429 with Retry-After, spent before
    its credentials are even looked at; the next sender is not affected."""
    limited = build(
        warroom.settings,
        WarroomConfig.model_validate({"limits": {"webhook_deliveries": 3}}),
        run_worker=False,
        migrate=False,
    )
    transport = httpx.ASGITransport(app=limited.http, client=("127.0.0.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        body = payloads.generic()
        answers = [await client.post("/webhooks/generic", content=body, headers=BEARER) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        flooded = await client.post("/webhooks/generic", content=body, headers={"Authorization": "Bearer x"})
        assert flooded.status_code == 429 and int(flooded.headers["retry-after"]) >= 1
    other = httpx.ASGITransport(app=limited.http, client=("127.0.0.8", 4000))
    async with httpx.AsyncClient(transport=other, base_url="http://t") as client:
        assert (await client.post("/webhooks/generic", content=body, headers=BEARER)).status_code == 200
    await limited.close()
