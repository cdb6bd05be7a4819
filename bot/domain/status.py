"""Stakeholder updates and what the status page says: component states, audiences, the
checks an update must pass, and the public face of an incident. Pure Python: no I/O."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain.incident import DomainError, Status
from bot.domain.text import storable

MESSAGE_MAX = 2000
PUBLIC_TITLE_MAX = 120


class ComponentState(StrEnum):
    """A component's state, best first (the order `worst` compares by)."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_down(self) -> bool:
        """Counted as downtime by the availability figures (a degraded component still serves)."""
        return self in (ComponentState.PARTIAL_OUTAGE, ComponentState.MAJOR_OUTAGE)


_LABELS = {
    ComponentState.OPERATIONAL: "Operational",
    ComponentState.DEGRADED: "Degraded performance",
    ComponentState.PARTIAL_OUTAGE: "Partial outage",
    ComponentState.MAJOR_OUTAGE: "Major outage",
}
_RANK = {state: i for i, state in enumerate(ComponentState)}
_BY_RANK = list(ComponentState)
IMPAIRED = (ComponentState.DEGRADED, ComponentState.PARTIAL_OUTAGE, ComponentState.MAJOR_OUTAGE)


def worst(states: list[ComponentState]) -> ComponentState:
    if not states:
        return ComponentState.OPERATIONAL
    return _BY_RANK[max(_RANK[s] for s in states)]


class Audience(StrEnum):
    INTERNAL = "internal"  # the stakeholder channels of the incident's severity
    PUBLIC = "public"  # those, and the status page


# What a visitor of the status page reads for each incident status.
PUBLIC_STATUS = {
    Status.INVESTIGATING: "Investigating",
    Status.IDENTIFIED: "Identified",
    Status.MONITORING: "Monitoring",
    Status.RESOLVED: "Resolved",
    Status.CLOSED: "Resolved",
}
FINAL_MESSAGE = "This incident has been resolved."


@dataclass(frozen=True)
class UpdateDraft:
    """An update as someone wrote it: checked by `clean_update` before it is stored."""

    message: str
    audience: Audience = Audience.INTERNAL
    components: dict[str, ComponentState] = field(default_factory=dict)
    public_title: str | None = None  # what the status page calls the incident (public only)


def parse_state(text: str) -> ComponentState:
    cleaned = text.strip().lower().replace(" ", "_").replace("-", "_")
    aliases = {
        "degraded_performance": "degraded",
        "partial": "partial_outage",
        "major": "major_outage",
        "down": "major_outage",
        "ok": "operational",
    }
    try:
        return ComponentState(aliases.get(cleaned, cleaned))
    except ValueError:
        raise DomainError(
            f"Unknown component state `{text.strip()[:30]}`. States: {', '.join(s.value for s in ComponentState)}."
        ) from None


def parse_audience(text: str) -> Audience:
    try:
        return Audience(text.strip().lower())
    except ValueError:
        raise DomainError(f"Unknown audience `{text.strip()[:20]}`: internal or public.") from None


def clean_update(draft: UpdateDraft, known_components: list[str]) -> UpdateDraft:
    """The draft with its text tidied, or a DomainError saying what is wrong with it."""
    message = storable(draft.message).strip()
    if not message:
        raise DomainError("The update is empty: say what stakeholders should know.")
    if len(message) > MESSAGE_MAX:
        raise DomainError(f"That update is {len(message)} characters long; the limit is {MESSAGE_MAX}.")
    unknown = sorted(set(draft.components) - set(known_components))
    if unknown:
        listed = ", ".join(known_components) or "none are configured (status_page.components)"
        raise DomainError(f"Unknown component {', '.join(unknown)}. Components: {listed}.")
    title = " ".join(storable(draft.public_title or "").split()) or None
    if title and len(title) > PUBLIC_TITLE_MAX:
        raise DomainError(f"Keep the public title under {PUBLIC_TITLE_MAX} characters.")
    ordered = {name: draft.components[name] for name in known_components if name in draft.components}
    return UpdateDraft(message, draft.audience, ordered, title)


def check_audience(audience: Audience, *, private: bool, number: int) -> None:
    if audience is Audience.PUBLIC and private:
        raise DomainError(f"#{number} is private: its updates stay internal and never reach the status page.")


def default_public_title(components: list[str]) -> str:
    """What the status page calls an incident whose first public update named no title:
    never the internal title, which may say more than customers should read."""
    if not components:
        return "Service disruption"
    if len(components) == 1:
        return f"Issues with {components[0]}"
    return f"Issues with {', '.join(components[:-1])} and {components[-1]}"


def new_public_id() -> str:
    """The id the status page shows for an incident: random, so that it says nothing about
    how many incidents (private ones among them) there were."""
    return secrets.token_hex(6)


def restored(affected: list[str]) -> dict[str, ComponentState]:
    """The components a final update returns to operational."""
    return dict.fromkeys(affected, ComponentState.OPERATIONAL)


def named(chosen: dict[str, ComponentState], current: dict[str, ComponentState]) -> dict[str, ComponentState]:
    """What an update form's choices say: every component that is impaired, and every one
    whose state changed (an untouched operational component says nothing)."""
    return {
        name: state
        for name, state in chosen.items()
        if state is not ComponentState.OPERATIONAL
        or current.get(name, ComponentState.OPERATIONAL) is not ComponentState.OPERATIONAL
    }
