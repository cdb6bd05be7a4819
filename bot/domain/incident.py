"""The incident state machine, milestones and input rules. Pure Python: no I/O, no ORM.

Functions here act on anything shaped like `IncidentState` (the ORM row in production, a
dataclass in tests) and raise `DomainError` with a message meant for the person who asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.domain.budget import UNRANKED
from bot.domain.text import storable

MILESTONES = (
    "started_at",
    "detected_at",
    "declared_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
)
TITLE_MAX = 150
NOTE_MAX = 3000


class DomainError(Exception):
    """A request the rules refuse; the message is shown to the user as is."""


COMMANDER = "commander"  # the role whose holder leads the incident (and may resolve it)


class Status(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"


ACTIVE = frozenset({Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING})

# Responders move freely between the active statuses (a fix that did not hold sends
# "monitoring" back to "investigating"); any active status may resolve; a resolved incident
# may reopen or close; closed is final.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.INVESTIGATING: frozenset({Status.IDENTIFIED, Status.MONITORING, Status.RESOLVED}),
    Status.IDENTIFIED: frozenset({Status.INVESTIGATING, Status.MONITORING, Status.RESOLVED}),
    Status.MONITORING: frozenset({Status.INVESTIGATING, Status.IDENTIFIED, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.INVESTIGATING, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

_ORDER = list(Status)


class IncidentState(Protocol):
    status: str
    severity: str
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class StatusChange:
    old: Status
    new: Status

    @property
    def reopened(self) -> bool:
        return self.old is Status.RESOLVED and self.new is Status.INVESTIGATING

    def text(self, message: str | None = None) -> str:
        """How the timeline records it (read back by `recorded`)."""
        text = (
            "Reopened: status resolved → investigating"
            if self.reopened
            else (f"Status {self.old.value} → {self.new.value}")
        )
        return f"{text}: {message.strip()}" if message and message.strip() else text

    @staticmethod
    def recorded(text: str) -> StatusChange | None:
        """The change a timeline "status" entry records (None for any other text)."""
        match = _RECORDED_CHANGE.match(text)
        if match is None:
            return None
        try:
            return StatusChange(Status(match.group(1)), Status(match.group(2)))
        except ValueError:
            return None


_RECORDED_CHANGE = re.compile(r"(?:Reopened: s|S)tatus (\w+) → (\w+)")


def parse_status(text: str) -> Status:
    try:
        return Status(text.strip().lower())
    except ValueError:
        raise DomainError(
            f"Unknown status `{text.strip()[:40]}`. Statuses: {', '.join(s.value for s in Status)}."
        ) from None


def allowed_next(current: Status) -> list[Status]:
    return sorted(TRANSITIONS[current], key=_ORDER.index)


def change_status(incident: IncidentState, new: Status, at: datetime) -> StatusChange:
    """Move the incident to `new`, stamping the milestones that move reaches."""
    old = Status(incident.status)
    if new is old:
        raise DomainError(f"The incident is already {old.value}.")
    if new not in TRANSITIONS[old]:
        allowed = allowed_next(old)
        if not allowed:
            raise DomainError(f"The incident is {old.value}; a closed incident cannot change status.")
        raise DomainError(
            f"Cannot go from {old.value} to {new.value}. From {old.value} the incident can go to: "
            f"{', '.join(s.value for s in allowed)}."
        )
    incident.status = new.value
    if new in (Status.MONITORING, Status.RESOLVED) and incident.mitigated_at is None:
        incident.mitigated_at = at
    if new is Status.RESOLVED:
        incident.resolved_at = at
    if new is Status.CLOSED:
        incident.closed_at = at
    if new is Status.INVESTIGATING and old is Status.RESOLVED:
        incident.resolved_at = None  # reopened: it is not resolved any more
    return StatusChange(old, new)


def parse_severity(text: str, known: list[str]) -> str:
    """Accept `1`, `sev1` or `SEV1` for a configured severity."""
    cleaned = text.strip().upper()
    if re.fullmatch(r"\d", cleaned):
        cleaned = f"SEV{cleaned}"
    if cleaned not in known:
        raise DomainError(f"Unknown severity `{text.strip()[:20]}`. Severities: {', '.join(known)}.")
    return cleaned


def rank(severity: str, known: list[str]) -> int:
    """A severity's urgency: 1 for the first (most severe) configured, then 2, and so on."""
    return known.index(severity) + 1 if severity in known else UNRANKED


def change_severity(incident: IncidentState, new: str, known: list[str]) -> str:
    """Set a new severity and return the old one."""
    require_open(incident, "change severity")
    if new not in known:
        raise DomainError(f"Unknown severity `{new}`. Severities: {', '.join(known)}.")
    old = incident.severity
    if new == old:
        raise DomainError(f"The incident is already {new}.")
    incident.severity = new
    return old


def require_open(incident: IncidentState, action: str) -> None:
    if incident.status == Status.CLOSED:
        raise DomainError(f"The incident is closed; you cannot {action} any more.")


def record_role(incident: IncidentState, role: str, known_roles: list[str], at: datetime) -> None:
    """Check a role assignment and stamp acknowledged_at when a commander is first named."""
    require_open(incident, "assign roles")
    if role not in known_roles:
        raise DomainError(f"Unknown role `{role[:30]}`. Roles: {', '.join(known_roles)}.")
    if role == COMMANDER and incident.acknowledged_at is None:
        incident.acknowledged_at = at


def clean_title(title: str) -> str:
    title = " ".join(storable(title).split())
    if not title:
        raise DomainError("An incident needs a title, for example: `declare sev2 Checkout is failing`.")
    if len(title) > TITLE_MAX:
        raise DomainError(
            f"That title is {len(title)} characters long; keep it under {TITLE_MAX} "
            "and put the details in a note."
        )
    return title


def clean_note(text: str) -> str:
    text = storable(text).strip()
    if not text:
        raise DomainError("The note is empty. Write it after the command: `note restarted the pods`.")
    if len(text) > NOTE_MAX:
        raise DomainError(f"That note is {len(text)} characters long; the limit is {NOTE_MAX}.")
    return text
