"""Read-only JSON for dashboards and scripts: incidents and their timelines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from bot.services.incidents import IncidentService, NotFound
from bot.store.tables import Incident, TimelineEvent


class IncidentOut(BaseModel):
    number: int
    title: str
    severity: str
    status: str
    service: str | None
    channel_id: str | None
    drill: bool
    private: bool
    roles: dict[str, str]
    started_at: datetime
    detected_at: datetime
    declared_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None


class TimelineEventOut(BaseModel):
    at: datetime
    kind: str
    actor: str | None
    text: str
    source: str | None


def incident_out(incident: Incident, roles: dict[str, str]) -> IncidentOut:
    data: dict[str, Any] = {
        name: getattr(incident, name) for name in IncidentOut.model_fields if name != "roles"
    }
    return IncidentOut(**data, roles=roles)


def router(service: IncidentService) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["incidents"])

    async def load(number: int) -> Incident:
        try:
            return await service.get(number)
        except NotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    @api.get("/incidents", response_model=list[IncidentOut])
    async def list_incidents(
        status: str = Query("open", pattern="^(open|all)$"), limit: int = Query(100, ge=1, le=1000)
    ) -> list[IncidentOut]:
        incidents = await service.list_incidents(open_only=status == "open", limit=limit)
        roles = await service.roles([i.number for i in incidents if i.number is not None])
        return [incident_out(i, roles[i.number or 0]) for i in incidents]

    @api.get("/incidents/{number}", response_model=IncidentOut)
    async def show_incident(number: int) -> IncidentOut:
        incident = await load(number)
        return incident_out(incident, (await service.roles([number]))[number])

    @api.get("/incidents/{number}/timeline", response_model=list[TimelineEventOut])
    async def incident_timeline(number: int) -> list[TimelineEventOut]:
        await load(number)
        events: list[TimelineEvent] = await service.timeline(number)
        return [TimelineEventOut.model_validate(e, from_attributes=True) for e in events]

    return api
