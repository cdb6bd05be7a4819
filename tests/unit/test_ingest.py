"""Parsing what Alertmanager, Grafana, PagerDuty and generic senders post."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.alerts import AlertStatus
from bot.ingest import PayloadError, alertmanager, generic, grafana, pagerduty
from tests import payloads

NOW = datetime(2026, 11, 21, 10, 5, tzinfo=UTC)


def test_alertmanager_firing_and_resolved() -> None:
    body = payloads.alertmanager(
        [
            payloads.alertmanager_alert(),
            payloads.alertmanager_alert(
                fingerprint="aa",
                status="resolved",
                ends_at="2026-11-21T10:03:00Z",
                instance="checkout-2:8080",
            ),
        ]
    )
    first, second = alertmanager.parse(body, now=NOW)
    assert first.source == "alertmanager" and first.fingerprint == "5ef77f1f8a3ecfa4"
    assert first.status is AlertStatus.FIRING and first.ends_at is None
    assert first.starts_at == datetime(2026, 11, 21, 9, 58, 12, 345678, tzinfo=UTC)  # nanoseconds cut
    assert first.title == "HighErrorRate on checkout-7d9f:8080"
    assert first.group_key == 'alertmanager:{}/{}:{alertname="HighErrorRate"}'
    assert (first.service, first.severity) == ("checkout", "critical")
    assert first.labels["job"] == "checkout"  # commonLabels merged
    assert first.links == ("http://prometheus:9090/graph?g0.expr=rate%28http_errors%5B5m%5D%29",)
    assert second.status is AlertStatus.RESOLVED and second.ends_at == datetime(
        2026, 11, 21, 10, 3, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("groupKey"), "groupKey"),
        (lambda d: d.update(version="3"), "version"),
        (lambda d: d.update(alerts=[]), "alerts"),
        (lambda d: d.update(alerts="nope"), "alerts"),
        (lambda d: d["alerts"][0].update(status="pending"), "alerts[0].status"),
        (lambda d: d["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
        (lambda d: d["alerts"][0].update(labels=["x"]), "alerts[0].labels"),
    ],
)
def test_alertmanager_errors_name_the_field(mutate, field: str) -> None:
    import json

    data = json.loads(payloads.alertmanager([payloads.alertmanager_alert()]))
    mutate(data)
    with pytest.raises(PayloadError) as error:
        alertmanager.parse(json.dumps(data).encode(), now=NOW)
    assert error.value.field == field


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_unreadable_bodies(body: bytes) -> None:
    with pytest.raises(PayloadError) as error:
        alertmanager.parse(body, now=NOW)
    assert error.value.field == "(body)"


def test_grafana() -> None:
    (alert,) = grafana.parse(payloads.grafana(org=7), now=NOW)
    assert alert.source == "grafana" and alert.fingerprint == "7:c6eadffa33fcdf37"
    assert alert.title == "Memory above 90% in us-1" and alert.service == "search"
    assert alert.starts_at == datetime(2026, 11, 21, 7, 51, 3, 157076, tzinfo=UTC)
    assert "https://grafana.example/d/abc" in alert.links
    (resolved,) = grafana.parse(payloads.grafana(status="resolved", org=7), now=NOW)
    assert resolved.status is AlertStatus.RESOLVED and resolved.ends_at == datetime(
        2026, 11, 21, 8, 20, tzinfo=UTC
    )


def test_generic() -> None:
    (alert,) = generic.parse(payloads.generic(), now=NOW)
    assert (alert.fingerprint, alert.group_key, alert.service, alert.severity) == (
        "psp-timeouts",
        "generic:psp-timeouts",
        "payments",
        "SEV2",
    )
    assert alert.starts_at == NOW and alert.links == ("https://status.psp.example",)
    (resolved,) = generic.parse(payloads.generic(status="resolved", title=None), now=NOW)
    assert resolved.status is AlertStatus.RESOLVED


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"status": "bad"}, "status"),
        ({"dedup_key": None}, "dedup_key"),
        ({"dedup_key": " "}, "dedup_key"),
        ({"title": None}, "title"),
        ({"links": ["javascript:alert(1)"]}, "links[0]"),
        ({"labels": "team=x"}, "labels"),
        ({"started_at": "soon"}, "started_at"),
        ({"severity": 2}, "severity"),
    ],
)
def test_generic_errors(overrides: dict, field: str) -> None:
    with pytest.raises(PayloadError) as error:
        generic.parse(payloads.generic(**overrides), now=NOW)
    assert error.value.field == field


def test_pagerduty_events() -> None:
    event_type, (alert,) = pagerduty.parse(payloads.pagerduty(), now=NOW)
    assert event_type == "incident.triggered"
    assert (alert.fingerprint, alert.group_key, alert.service, alert.severity) == (
        "Q2P3O4N5M6",
        "pagerduty:Q2P3O4N5M6",
        "orders-db",
        "P1",
    )
    assert alert.title == "Database replication lag" and alert.links == (
        "https://acme.pagerduty.com/incidents/Q2P3O4N5M6",
    )
    _, (resolved,) = pagerduty.parse(payloads.pagerduty("incident.resolved", status="resolved"), now=NOW)
    assert resolved.status is AlertStatus.RESOLVED
    assert pagerduty.parse(payloads.pagerduty("incident.acknowledged"), now=NOW) == (
        "incident.acknowledged",
        [],
    )


def test_pagerduty_signatures_with_rotation() -> None:
    body = payloads.pagerduty()
    assert pagerduty.signature_valid(body, payloads.pagerduty_signature(body, "old", "new"), ["new"])
    assert pagerduty.signature_valid(body, payloads.pagerduty_signature(body, "old"), ["new", "old"])
    assert not pagerduty.signature_valid(body, payloads.pagerduty_signature(body, "other"), ["new"])
    assert not pagerduty.signature_valid(body + b" ", payloads.pagerduty_signature(body, "new"), ["new"])
    assert not pagerduty.signature_valid(body, None, ["new"])
    assert not pagerduty.signature_valid(body, "sha256=abc", ["new"])
