"""Alert webhooks end to end: auth, limits, each source, grouping, redelivery, storms."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.app import Warroom
from bot.config import WarroomConfig
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store.tables import AlertRecord
from tests import payloads
from tests.conftest import ALERT_TOKEN, PAGERDUTY_SECRET, People
from tests.e2e.helpers import Incident, Job, TimelineEvent, count, incident_channel, rows, settle

BEARER = {"Authorization": f"Bearer {ALERT_TOKEN}", "Content-Type": "application/json"}
LATER = timedelta(minutes=10)


async def post(
    http: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post(f"/webhooks/{path}", content=body, headers=BEARER if headers is None else headers)


async def nothing_stored(warroom: Warroom) -> None:
    for table in (AlertRecord, Incident, TimelineEvent, Job):
        assert await count(warroom, table) == 0, table


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 403),
        ({"Authorization": "Token " + ALERT_TOKEN}, 401),
        ({"Authorization": "Basic !!!"}, 401),
        ({"Authorization": "Basic " + base64.b64encode(b"alertmanager:wrong").decode()}, 403),
    ],
)
async def test_bad_credentials_are_refused(
    warroom: Warroom, http: httpx.AsyncClient, headers: dict, status: int
) -> None:
    response = await post(
        http, "alertmanager", payloads.alertmanager([payloads.alertmanager_alert()]), headers
    )
    assert response.status_code == status and "error" in response.json()
    await nothing_stored(warroom)


async def test_basic_auth_as_alertmanager_sends_it(warroom: Warroom, http: httpx.AsyncClient) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(f"alertmanager:{ALERT_TOKEN}".encode()).decode()}
    response = await post(http, "alertmanager", payloads.alertmanager([payloads.alertmanager_alert()]), basic)
    assert response.status_code == 200 and response.json()["declared"] == [1]


async def test_malformed_payloads_get_400_naming_the_field(warroom: Warroom, http: httpx.AsyncClient) -> None:
    bad = json.loads(payloads.alertmanager([payloads.alertmanager_alert()]))
    bad["alerts"][0]["status"] = "pending"
    response = await post(http, "alertmanager", json.dumps(bad).encode())
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid payload",
        "field": "alerts[0].status",
        "message": "expected firing or resolved, got 'pending'",
    }
    assert (await post(http, "generic", b"{not json")).json()["field"] == "(body)"
    assert (await post(http, "grafana", b"[]")).status_code == 400
    await nothing_stored(warroom)


async def test_bodies_over_one_mebibyte_get_413(warroom: Warroom, http: httpx.AsyncClient) -> None:
    huge = payloads.generic(title="x" * (1024 * 1024))
    assert (await post(http, "generic", huge)).status_code == 413
    await nothing_stored(warroom)


async def test_alertmanager_declares_once_and_redelivery_changes_nothing(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    body = payloads.alertmanager(
        [
            payloads.alertmanager_alert(),
            payloads.alertmanager_alert(fingerprint="b2", instance="checkout-2:8080"),
        ]
    )
    first = (await post(http, "alertmanager", body)).json()
    assert (first["new"], first["declared"], first["incidents"]) == (2, [1], [1])
    again = (await post(http, "alertmanager", body)).json()  # Alertmanager re-sends the group
    assert (again["new"], again["unchanged"], again["declared"]) == (0, 2, [])
    await settle(warroom, horizon=LATER)

    incident = await warroom.queries.get(1)
    assert (incident.title, incident.service, incident.severity, incident.reporter_id) == (
        "HighErrorRate on checkout-7d9f:8080",
        "checkout",
        "SEV3",
        "alert:alertmanager",
    )
    assert incident.acknowledged_at is None  # nobody took command yet
    assert incident.started_at.isoformat() == "2026-11-21T09:58:12.345678+00:00"
    assert incident.detected_at == incident.started_at
    kinds = [e.kind for e in await warroom.queries.timeline(1)]
    assert kinds.count("alert") == 2 and await count(warroom, Incident) == 1
    channel = sim.channels[incident.channel_id or ""]
    alerts_message = channel.message(incident.alerts_ts or "")
    assert alerts_message is not None and "2 firing, 0 resolved" in alerts_message["text"]
    assert sim.count("conversations.create") == 1


async def test_resolution_is_recorded_and_the_commander_asked_once(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    firing = payloads.alertmanager_alert()
    await post(http, "alertmanager", payloads.alertmanager([firing]))
    await settle(warroom, horizon=LATER)
    resolved = payloads.alertmanager_alert(status="resolved", ends_at="2026-11-21T10:30:00Z")
    result = (await post(http, "alertmanager", payloads.alertmanager([resolved]))).json()
    assert (result["changed"], result["incidents"]) == (1, [1])
    await post(http, "alertmanager", payloads.alertmanager([resolved]))  # re-sent
    await settle(warroom, horizon=LATER)

    incident = await warroom.queries.get(1)
    channel = sim.channels[incident.channel_id or ""]
    asks = [m for m in channel.messages if "have resolved" in m.get("text", "") + str(m.get("blocks"))]
    assert len(asks) == 1
    assert any(
        e["action_id"] == "open_resolve_modal"
        for b in asks[0]["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    )
    texts = [e.text for e in await warroom.queries.timeline(1) if e.kind == "alert"]
    assert texts == [
        "Alert firing: HighErrorRate on checkout-7d9f:8080 (alertmanager)",
        "Alert resolved: HighErrorRate on checkout-7d9f:8080 (alertmanager)",
    ]
    assert "0 firing, 1 resolved" in (channel.message(incident.alerts_ts or "") or {})["text"]


async def test_the_commander_is_asked_only_once_the_last_alert_has_resolved(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    def alert(fingerprint: str, status: str = "firing") -> dict[str, Any]:
        ends_at = "2026-11-21T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z"
        return payloads.alertmanager_alert(
            fingerprint=fingerprint, instance=fingerprint, status=status, ends_at=ends_at
        )

    async def asks() -> int:
        channel = await incident_channel(warroom, sim, 1)
        return sum("have resolved" in m.get("text", "") for m in channel.messages)

    await post(http, "alertmanager", payloads.alertmanager([alert("a"), alert("b")]))
    await settle(warroom, horizon=LATER)
    await post(http, "alertmanager", payloads.alertmanager([alert("a", "resolved")]))
    await settle(warroom, horizon=LATER)
    assert await asks() == 0  # b still fires
    await post(http, "alertmanager", payloads.alertmanager([alert("b", "resolved")]))
    await settle(warroom, horizon=LATER)
    assert await asks() == 1
    await post(http, "alertmanager", payloads.alertmanager([alert("a")]))  # fires again...
    await post(http, "alertmanager", payloads.alertmanager([alert("a", "resolved")]))  # ...and clears
    await settle(warroom, horizon=LATER)
    assert (await warroom.queries.get(1)).alerts_cleared_at is not None
    assert await count(warroom, Incident) == 1


async def test_two_services_firing_at_once_make_two_incidents(
    warroom: Warroom, http: httpx.AsyncClient
) -> None:
    checkout = payloads.alertmanager([payloads.alertmanager_alert()], group_key="{}:{service=checkout}")
    search = payloads.alertmanager(
        [payloads.alertmanager_alert("SlowQueries", fingerprint="s1", service="search")],
        group_key="{}:{service=search}",
    )
    assert (await post(http, "alertmanager", checkout)).json()["declared"] == [1]
    assert (await post(http, "alertmanager", search)).json()["declared"] == [2]
    assert {(await warroom.queries.get(n)).service for n in (1, 2)} == {"checkout", "search"}


async def test_a_new_group_of_the_same_service_joins_within_the_window(
    warroom: Warroom, http: httpx.AsyncClient
) -> None:
    await post(http, "alertmanager", payloads.alertmanager([payloads.alertmanager_alert()], group_key="g-a"))
    joined = (
        await post(
            http,
            "alertmanager",
            payloads.alertmanager(
                [payloads.alertmanager_alert("Latency", fingerprint="l1")], group_key="g-b"
            ),
        )
    ).json()
    assert (joined["declared"], joined["incidents"]) == ([], [1])


async def test_storm_of_1000_alerts_one_group_one_incident_bounded_slack_calls(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    for batch in range(10):
        alerts = [
            payloads.alertmanager_alert(fingerprint=f"fp-{batch}-{i}", instance=f"checkout-{batch}-{i}:8080")
            for i in range(100)
        ]
        response = await post(http, "alertmanager", payloads.alertmanager(alerts))
        assert response.status_code == 200
        await settle(warroom)  # the worker keeps up as it would in production
    await settle(warroom, horizon=LATER)

    assert await count(warroom, Incident) == 1
    assert await count(warroom, AlertRecord) == 1000
    assert len([e for e in await warroom.queries.timeline(1) if e.kind == "alert"]) == 1000
    assert sim.count("conversations.create") == 1
    assert sim.count("chat.postMessage") <= 3  # summary, announcement, alerts message
    assert sim.count("chat.update") <= 3  # the alerts message, at most once per interval (+ final)
    incident = await warroom.queries.get(1)
    text = (sim.channels[incident.channel_id or ""].message(incident.alerts_ts or "") or {})["text"]
    assert text == "Alerts: 1000 firing, 0 resolved"


async def test_grafana_and_generic(warroom: Warroom, http: httpx.AsyncClient) -> None:
    assert (await post(http, "grafana", payloads.grafana())).json()["declared"] == [1]
    assert (await warroom.queries.get(1)).service == "search"
    assert (await post(http, "generic", payloads.generic())).json()["declared"] == [2]
    resolved = (await post(http, "generic", payloads.generic(status="resolved", title=None))).json()
    assert (resolved["changed"], resolved["incidents"]) == (1, [2])


async def test_pagerduty_signature_redelivery_and_rotation(warroom: Warroom, http: httpx.AsyncClient) -> None:
    body = payloads.pagerduty()
    signed = {
        "X-PagerDuty-Signature": payloads.pagerduty_signature(body, "retired", PAGERDUTY_SECRET),
        "X-Webhook-Id": "wh-1",
    }
    first = (await post(http, "pagerduty", body, signed)).json()
    assert (first["event_type"], first["declared"], first["duplicate"]) == ("incident.triggered", [1], False)
    again = (await post(http, "pagerduty", body, signed)).json()
    assert again["duplicate"] is True and await count(warroom, Incident) == 1

    unsigned = await post(http, "pagerduty", body, {"X-Webhook-Id": "wh-2"})
    assert unsigned.status_code == 401
    forged = {"X-PagerDuty-Signature": payloads.pagerduty_signature(body, "guess"), "X-Webhook-Id": "wh-3"}
    assert (await post(http, "pagerduty", body, forged)).status_code == 403

    resolved = payloads.pagerduty("incident.resolved", status="resolved")
    headers = {
        "X-PagerDuty-Signature": payloads.pagerduty_signature(resolved, PAGERDUTY_SECRET),
        "X-Webhook-Id": "wh-4",
    }
    assert (await post(http, "pagerduty", resolved, headers)).json()["incidents"] == [1]
    (alert,) = await rows(warroom, AlertRecord)
    assert alert.status == "resolved"


async def test_triage_posts_once_and_the_button_declares(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator, slack: SlackDriver, people: People
) -> None:
    warroom.alerts.config = WarroomConfig.model_validate({"alerts": {"default": {"action": "triage"}}})
    body = payloads.alertmanager(
        [payloads.alertmanager_alert(), payloads.alertmanager_alert(fingerprint="b2", instance="x:1")]
    )
    result = (await post(http, "alertmanager", body)).json()
    assert (result["triaged"], result["declared"]) == (2, [])
    await post(http, "alertmanager", body)
    await settle(warroom)
    triage = sim.channel_named("incidents")
    assert triage is not None
    posts = [m for m in triage.messages if "needs a look" in m["text"]]
    assert len(posts) == 1 and await count(warroom, Incident) == 0

    await slack.click(people.bob, triage.id, posts[0]["ts"], "declare_from_alert")
    await slack.click(people.bob, triage.id, posts[0]["ts"], "declare_from_alert")  # double click
    assert await count(warroom, Incident) == 1
    incident = await warroom.queries.get(1)
    assert (await warroom.queries.roles([1]))[1] == {"commander": people.bob}
    assert {a.incident_number for a in await rows(warroom, AlertRecord)} == {1}
    assert incident.acknowledged_at is not None
    assert "declared *#1* from this alert" in sim.responses[-1]["text"]


async def test_ignored_alerts_are_kept_but_open_nothing(warroom: Warroom, http: httpx.AsyncClient) -> None:
    warroom.alerts.config = WarroomConfig.model_validate({"alerts": {"default": {"action": "ignore"}}})
    result = (await post(http, "generic", payloads.generic())).json()
    assert (result["ignored"], result["declared"]) == (1, [])
    assert await count(warroom, AlertRecord) == 1 and await count(warroom, Incident) == 0


async def test_pagerduty_acknowledgements_and_notes_land_on_the_timeline(
    warroom: Warroom, http: httpx.AsyncClient, sim: SlackSimulator
) -> None:
    def signed(body: bytes, webhook_id: str) -> dict[str, str]:
        return {
            "X-PagerDuty-Signature": payloads.pagerduty_signature(body, PAGERDUTY_SECRET),
            "X-Webhook-Id": webhook_id,
        }

    triggered = payloads.pagerduty()
    await post(http, "pagerduty", triggered, signed(triggered, "wh-1"))
    acked = payloads.pagerduty("incident.acknowledged", status="acknowledged")
    assert (await post(http, "pagerduty", acked, signed(acked, "wh-2"))).json() == {
        "event_type": "incident.acknowledged",
        "noted_on": 1,
    }
    noted = payloads.pagerduty_note()
    await post(http, "pagerduty", noted, signed(noted, "wh-3"))
    await post(http, "pagerduty", noted, signed(noted, "wh-3"))  # redelivered
    await settle(warroom, horizon=LATER)
    texts = [e.text for e in await warroom.queries.timeline(1) if e.kind == "pagerduty"]
    assert texts == ["Acknowledged in PagerDuty by someone", "PagerDuty note by Dana Ops: Failover started"]
    channel = sim.channels[(await warroom.queries.get(1)).channel_id or ""]
    assert any("PagerDuty note by Dana Ops: Failover started" in m["text"] for m in channel.messages)


async def test_an_alert_firing_again_after_its_incident_closed_opens_a_new_one(
    warroom: Warroom, http: httpx.AsyncClient
) -> None:
    await post(http, "generic", payloads.generic())
    await post(http, "generic", payloads.generic(status="resolved", title=None))
    await warroom.service.resolve(1, "U0TEST", "fixed")
    await warroom.service.close(1, "U0TEST")
    again = (await post(http, "generic", payloads.generic())).json()
    assert (again["changed"], again["declared"]) == (1, [2])
    assert {a.incident_number for a in await rows(warroom, AlertRecord)} == {2}
