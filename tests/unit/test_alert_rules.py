"""Routing (first match wins) and grouping, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import WarroomConfig
from bot.domain.alerts import Action, Alert, AlertStatus, OpenIncident, incident_title, pick_incident, route

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def alert(**overrides: object) -> Alert:
    values: dict[str, object] = {
        "source": "alertmanager",
        "fingerprint": "f1",
        "status": AlertStatus.FIRING,
        "title": "HighErrorRate",
        "starts_at": NOW,
        "group_key": "g1",
        "labels": {"severity": "critical", "team": "payments"},
    }
    values.update(overrides)
    return Alert(**values)  # type: ignore[arg-type]


CONFIG = WarroomConfig.model_validate(
    {
        "alerts": {
            "routes": [
                {"name": "canaries", "match": {"labels": {"canary": {"present": True}}}, "action": "ignore"},
                {
                    "name": "payments",
                    "match": {
                        "source": "alertmanager",
                        "labels": {"team": "payments", "severity": {"regex": "crit.*"}},
                    },
                    "service": "payments",
                    "severity": "SEV1",
                    "runbook": "high-error-rate",
                },
                {"name": "no-team", "match": {"labels": {"team": {"present": False}}}, "action": "triage"},
                {"name": "search", "match": {"service": {"regex": "search|index"}}, "severity": "SEV2"},
            ],
            "default": {"action": "triage", "severity": "SEV4"},
        }
    }
)


def decide(a: Alert):
    alerts = CONFIG.alerts
    return route(a, alerts.compiled_routes, alerts.default_route, CONFIG.default_severity)


def test_first_match_wins_and_sets_service_severity_runbook() -> None:
    d = decide(alert())
    assert (d.route, d.action, d.service, d.severity, d.runbook) == (
        "payments",
        Action.DECLARE,
        "payments",
        "SEV1",
        "high-error-rate",
    )
    assert (
        decide(alert(labels={"team": "payments", "severity": "critical", "canary": "1"})).action
        is Action.IGNORE
    )


def test_regex_is_anchored_and_presence_checks() -> None:
    assert decide(alert(labels={"team": "payments", "severity": "not-critical"})).route == "alerts.default"
    assert decide(alert(labels={"severity": "critical"})).route == "no-team"
    assert decide(alert(source="grafana")).route == "alerts.default"


def test_service_matching_and_default() -> None:
    d = decide(alert(labels={"team": "blue"}, service="index"))
    assert (d.route, d.service, d.severity, d.action) == ("search", "index", "SEV2", Action.DECLARE)
    d = decide(alert(labels={"team": "blue", "service": "mail"}))
    assert (d.route, d.action, d.service, d.severity) == ("alerts.default", Action.TRIAGE, "mail", "SEV4")


def test_built_in_default_declares_at_the_default_severity() -> None:
    plain = WarroomConfig()
    d = route(alert(), plain.alerts.compiled_routes, plain.alerts.default_route, plain.default_severity)
    assert (d.action, d.severity) == (Action.DECLARE, "SEV3")


def test_grouping_prefers_the_group_key_then_the_service_within_the_window() -> None:
    window = timedelta(hours=4)
    by_key = OpenIncident(7, "checkout", frozenset({"g1"}), NOW - timedelta(days=2))
    by_service = OpenIncident(5, "payments", frozenset({"other"}), NOW - timedelta(hours=1))
    stale = OpenIncident(3, "payments", frozenset(), NOW - timedelta(hours=5))
    assert pick_incident(alert(), "payments", [by_service, by_key, stale], NOW, window) == 7
    assert pick_incident(alert(group_key="g2"), "payments", [by_service, by_key, stale], NOW, window) == 5
    assert pick_incident(alert(group_key="g2"), "payments", [stale], NOW, window) is None
    assert pick_incident(alert(group_key=None), None, [by_service, by_key], NOW, window) is None
    twins = [OpenIncident(9, None, frozenset({"g1"}), NOW), OpenIncident(8, None, frozenset({"g1"}), NOW)]
    assert pick_incident(alert(), None, twins, NOW, window) == 8  # oldest, so a race converges


def test_incident_titles() -> None:
    assert incident_title(alert(title="HighErrorRate"), "payments") == "payments: HighErrorRate"
    assert incident_title(alert(title="Payments API down"), "payments") == "Payments API down"
    assert incident_title(alert(title="  "), None) == "Alert"
    assert len(incident_title(alert(title="x" * 400), None)) == 150
