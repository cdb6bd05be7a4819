"""Read-only JSON for dashboards and scripts: incidents, their timelines and follow-ups, and
the MTTR report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from bot.config import parse_duration
from bot.docs import reports as report_docs
from bot.domain.metrics import GROUPINGS
from bot.services.incidents import IncidentService, NotFound
from bot.services.postmortems import PostmortemService
from bot.services.reports import ReportService
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


class FollowUpOut(BaseModel):
    text: str
    owner: str | None
    created_by: str
    created_at: datetime


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


ANYONE = "(api)"  # a viewer who is nobody's member: sees public incidents only


def router(service: IncidentService, postmortems: PostmortemService, reports: ReportService) -> APIRouter:
    api = APIRouter(prefix="/api", tags=["incidents"])

    async def load(number: int) -> Incident:
        """The API answers anyone who can reach it: private incidents are not shown."""
        try:
            incident = await service.get(number)
        except NotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        if incident.private:
            raise HTTPException(status_code=404, detail=f"There is no incident #{number}.")
        return incident

    @api.get("/incidents", response_model=list[IncidentOut])
    async def list_incidents(
        status: str = Query("open", pattern="^(open|all)$"), limit: int = Query(100, ge=1, le=1000)
    ) -> list[IncidentOut]:
        incidents = await service.list_incidents(open_only=status == "open", limit=limit, viewer=ANYONE)
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

    @api.get("/incidents/{number}/followups", response_model=list[FollowUpOut])
    async def incident_followups(number: int) -> list[FollowUpOut]:
        await load(number)
        items = await postmortems.followups(number)
        return [FollowUpOut.model_validate(f, from_attributes=True) for f in items]

    @api.get("/reports/mttr", tags=["reports"])
    async def mttr_report(
        since: str = Query("90d", description="A period like 30d, or `all`.", max_length=20),
        by: str | None = Query(None, description=f"One of {', '.join(GROUPINGS)}."),
    ) -> dict[str, Any]:
        """Time to detect, acknowledge, mitigate and resolve (count, missing, mean, p50, p90,
        max, in seconds), grouped, with the weekly or monthly trend of the time to resolve."""
        try:
            period = None if since == "all" else parse_duration(since)
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=f"since: {exc}, or all") from None
        if by is not None and by not in GROUPINGS:
            raise HTTPException(status_code=422, detail=f"by: choose one of {', '.join(GROUPINGS)}")
        return report_docs.to_json(await reports.mttr(period, by))

    return api
