"""Alerts: the normalized alert every source is turned into, routing rules, and grouping.

Pure Python: parsers (bot/ingest) produce `Alert`s, the alert service stores them and asks
these functions what to do with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


ALERT_STATUSES = frozenset(status.value for status in AlertStatus)


class Action(StrEnum):
    DECLARE = "declare"  # open an incident (or join the open one it belongs to)
    TRIAGE = "triage"  # post to the triage channel with a "Declare incident" button
    IGNORE = "ignore"  # keep it on record, do nothing


@dataclass(frozen=True)
class Alert:
    source: str  # alertmanager | grafana | pagerduty | generic
    fingerprint: str  # unique within the source: the same alert, firing or resolved
    status: AlertStatus
    title: str
    starts_at: datetime
    group_key: str | None = None  # alerts that belong together (Alertmanager groupKey, ...)
    service: str | None = None
    severity: str | None = None  # as the source says it (critical, SEV1, P1, ...)
    ends_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelMatch:
    """One condition on a field: equal to a value, matching a regex, or present/absent."""

    equals: str | None = None
    regex: re.Pattern[str] | None = None
    present: bool | None = None

    def __call__(self, value: str | None) -> bool:
        if self.present is not None:
            return (value is not None) == self.present
        if value is None:
            return False
        if self.regex is not None:
            return self.regex.fullmatch(value) is not None
        return value == self.equals


@dataclass(frozen=True)
class Route:
    name: str
    action: Action
    source: LabelMatch | None = None
    service: LabelMatch | None = None
    labels: tuple[tuple[str, LabelMatch], ...] = ()
    set_service: str | None = None
    set_severity: str | None = None
    runbook: str | None = None

    def matches(self, alert: Alert) -> bool:
        if self.source is not None and not self.source(alert.source):
            return False
        if self.service is not None and not self.service(service_of(alert)):
            return False
        return all(condition(alert.labels.get(name)) for name, condition in self.labels)


@dataclass(frozen=True)
class Decision:
    """What to do with one alert, from the first route that matched."""

    route: str
    action: Action
    service: str | None
    severity: str
    runbook: str | None


def service_of(alert: Alert) -> str | None:
    return alert.service or alert.labels.get("service")


def route(alert: Alert, routes: Iterable[Route], default: Route, default_severity: str) -> Decision:
    """First matching route wins; the default route catches the rest."""
    chosen = next((r for r in routes if r.matches(alert)), default)
    return Decision(
        route=chosen.name,
        action=chosen.action,
        service=chosen.set_service or service_of(alert),
        severity=chosen.set_severity or default_severity,
        runbook=chosen.runbook,
    )


@dataclass(frozen=True)
class OpenIncident:
    """What grouping needs to know about an incident that is still open."""

    number: int
    service: str | None
    group_keys: frozenset[str]
    last_alert_at: datetime


def pick_incident(
    alert: Alert, service: str | None, candidates: Iterable[OpenIncident], now: datetime, window: timedelta
) -> int | None:
    """The open incident an alert joins: one that already holds its group key, else one of
    the same service that had an alert within the window. Oldest first, so a storm that
    raced into two incidents still converges on one."""
    ordered = sorted(candidates, key=lambda c: c.number)
    if alert.group_key:
        for candidate in ordered:
            if alert.group_key in candidate.group_keys:
                return candidate.number
    if service:
        for candidate in ordered:
            if candidate.service == service and now - candidate.last_alert_at <= window:
                return candidate.number
    return None


def incident_title(alert: Alert, service: str | None) -> str:
    title = alert.title.strip() or "Alert"
    if service and service.lower() not in title.lower():
        title = f"{service}: {title}"
    return " ".join(title.split())[:150]
