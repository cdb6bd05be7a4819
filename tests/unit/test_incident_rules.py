"""The incident state machine and input rules, without any I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.incident import (
    TRANSITIONS,
    DomainError,
    Status,
    change_severity,
    change_status,
    clean_note,
    clean_title,
    parse_severity,
    parse_status,
    record_role,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SEVERITIES = ["SEV1", "SEV2", "SEV3", "SEV4"]
ROLES = ["commander", "scribe", "comms"]


@dataclass
class State:
    status: str = "investigating"
    severity: str = "SEV3"
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None


def test_the_happy_path_stamps_each_milestone_once() -> None:
    incident = State()
    change_status(incident, Status.IDENTIFIED, T0)
    assert incident.mitigated_at is None
    change_status(incident, Status.MONITORING, T0 + timedelta(minutes=5))
    change_status(incident, Status.RESOLVED, T0 + timedelta(minutes=9))
    change_status(incident, Status.CLOSED, T0 + timedelta(days=1))
    assert incident.mitigated_at == T0 + timedelta(minutes=5)
    assert incident.resolved_at == T0 + timedelta(minutes=9)
    assert incident.closed_at == T0 + timedelta(days=1)


@pytest.mark.parametrize("start", ["investigating", "identified", "monitoring"])
def test_any_active_status_may_resolve_directly(start: str) -> None:
    incident = State(status=start)
    change_status(incident, Status.RESOLVED, T0)
    assert incident.status == "resolved" and incident.resolved_at == T0 and incident.mitigated_at == T0


def test_reopening_clears_resolved_but_keeps_first_mitigation() -> None:
    incident = State()
    change_status(incident, Status.RESOLVED, T0)
    change = change_status(incident, Status.INVESTIGATING, T0 + timedelta(hours=1))
    assert change.reopened
    assert incident.resolved_at is None and incident.mitigated_at == T0
    change_status(incident, Status.RESOLVED, T0 + timedelta(hours=2))
    assert incident.resolved_at == T0 + timedelta(hours=2) and incident.mitigated_at == T0


@pytest.mark.parametrize(
    ("start", "target", "message"),
    [
        (
            "investigating",
            "closed",
            "Cannot go from investigating to closed. From investigating the incident can go to: identified, monitoring, resolved.",
        ),
        ("monitoring", "closed", "Cannot go from monitoring to closed."),
        ("resolved", "monitoring", "From resolved the incident can go to: investigating, closed."),
        ("closed", "investigating", "a closed incident cannot change status"),
        ("identified", "identified", "already identified"),
    ],
)
def test_illegal_transitions_say_what_is_allowed(start: str, target: str, message: str) -> None:
    incident = State(status=start)
    with pytest.raises(DomainError, match=message.replace(".", r"\.")):
        change_status(incident, Status(target), T0)
    assert incident.status == start and incident.mitigated_at is None


def test_closed_is_final_and_every_status_has_an_entry() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert TRANSITIONS[Status.CLOSED] == frozenset()
    assert all(
        Status.RESOLVED in TRANSITIONS[s]
        for s in (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING)
    )


def test_parse_status_and_severity() -> None:
    assert parse_status(" Monitoring ") is Status.MONITORING
    with pytest.raises(DomainError, match="Unknown status `done`"):
        parse_status("done")
    assert [parse_severity(t, SEVERITIES) for t in ("1", "sev2", "SEV3", " Sev4 ")] == SEVERITIES
    with pytest.raises(DomainError, match="Unknown severity `5`"):
        parse_severity("5", SEVERITIES)


def test_severity_change_rules() -> None:
    incident = State()
    assert change_severity(incident, "SEV1", SEVERITIES) == "SEV3" and incident.severity == "SEV1"
    with pytest.raises(DomainError, match="already SEV1"):
        change_severity(incident, "SEV1", SEVERITIES)
    with pytest.raises(DomainError, match="closed"):
        change_severity(State(status="closed"), "SEV1", SEVERITIES)


def test_first_commander_acknowledges_the_incident() -> None:
    incident = State()
    record_role(incident, "scribe", ROLES, T0)
    assert incident.acknowledged_at is None
    record_role(incident, "commander", ROLES, T0 + timedelta(minutes=3))
    record_role(incident, "commander", ROLES, T0 + timedelta(minutes=9))
    assert incident.acknowledged_at == T0 + timedelta(minutes=3)
    with pytest.raises(DomainError, match="Unknown role `captain`"):
        record_role(incident, "captain", ROLES, T0)
    with pytest.raises(DomainError, match="closed"):
        record_role(State(status="closed"), "scribe", ROLES, T0)


def test_titles_and_notes() -> None:
    assert clean_title("  Disk   full\non db-1 ") == "Disk full on db-1"
    assert clean_title("x" * 150) == "x" * 150
    with pytest.raises(DomainError, match="151 characters"):
        clean_title("x" * 151)
    with pytest.raises(DomainError, match="needs a title"):
        clean_title(" \n ")
    assert clean_note(" line one\nline two ") == "line one\nline two"
    with pytest.raises(DomainError, match="empty"):
        clean_note("   ")
