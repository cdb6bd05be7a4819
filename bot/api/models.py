"""What /api reads and answers: the JSON shapes, as the OpenAPI document describes them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from bot.domain.incident import Status
from bot.domain.text import storable
from bot.services.queries import Holder
from bot.store.tables import Incident


class IncidentOut(BaseModel):
    number: int
    title: str
    severity: str
    status: str
    service: str | None
    channel_id: str | None
    drill: bool
    private: bool
    roles: dict[str, str] = Field(description="role -> Slack user id")
    role_names: dict[str, str] = Field(description="role -> the holder's name: `Alice Smith (@alice)`")
    started_at: datetime
    detected_at: datetime
    declared_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None


class FollowUpOut(BaseModel):
    id: int
    text: str = Field(description="its title")
    owner: str | None
    priority: str = Field(description="P1, P2 or P3")
    state: str = Field(description="open, done or wont_do")
    due_at: datetime | None
    created_by: str
    created_at: datetime
    done_at: datetime | None = Field(description="when it was closed (done or won't do)")
    closed_by: str | None
    ticket_key: str | None = Field(default=None, description="its ticket in the tracker: acme/ops#12, OPS-12")
    ticket_url: str | None = None


class TimelineEventOut(BaseModel):
    at: datetime
    kind: str
    actor: str | None
    text: str
    source: str | None


# Text a person sends, made storable before anything sees it (NUL, lone surrogates dropped).
Text = Annotated[str, AfterValidator(storable)]


class DeclareIn(BaseModel):
    title: Text = Field(min_length=1, max_length=200)
    severity: str | None = Field(default=None, max_length=16, description="SEV1..; the default if absent")
    service: Text | None = Field(default=None, max_length=100)
    description: Text | None = Field(default=None, max_length=3000)
    private: bool = False


class NoteIn(BaseModel):
    text: Text = Field(min_length=1, max_length=3000)


class StatusIn(BaseModel):
    status: Status
    message: Text | None = Field(default=None, max_length=3000)


class ResolveIn(BaseModel):
    summary: Text | None = Field(default=None, max_length=3000)


class FollowUpIn(BaseModel):
    text: Text = Field(min_length=1, max_length=500)
    owner: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{1,30}$", description="a Slack user id")
    priority: Literal["P1", "P2", "P3"] = "P2"
    due: date | None = Field(
        default=None, description="the day it is due; default: by severity (followups.due_after)"
    )


def incident_out(incident: Incident, roles: dict[str, Holder]) -> IncidentOut:
    data: dict[str, Any] = {
        name: getattr(incident, name)
        for name in IncidentOut.model_fields
        if name not in ("roles", "role_names")
    }
    return IncidentOut(
        **data,
        roles={role: h.user for role, h in roles.items()},
        role_names={role: h.name for role, h in roles.items()},
    )
