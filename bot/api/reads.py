"""Reading incidents, timelines, follow-ups and the MTTR report (any token; private
incidents with an admin one)."""

# No `from __future__ import annotations`: FastAPI reads these annotations at import.
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response

from bot.api.auth import Reader, Services
from bot.api.models import FollowUpOut, IncidentOut, TimelineEventOut, incident_out
from bot.config import parse_duration
from bot.documents import reports as report_docs
from bot.domain.metrics import GROUPINGS, check_period
from bot.services.timeline import NotFound
from bot.services.tokens import Principal
from bot.store.tables import Incident, TimelineEvent

MAX_NUMBER = 2**31 - 1  # an incident number is a 32-bit integer in the database
ANYONE = "(api)"  # a viewer who is nobody's member: sees public incidents only
Number = Annotated[int, Path(ge=1, le=MAX_NUMBER)]
router = APIRouter()


async def visible(s: Services, number: int, who: Principal) -> Incident:
    """A private incident is not there for a token that may not see it."""
    try:
        incident = await s.queries.get(number)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    if incident.private and not who.sees_private:
        raise HTTPException(status_code=404, detail=f"There is no incident #{number}.")
    return incident


async def shown(s: Services, number: int) -> IncidentOut:
    incident = await s.queries.get(number)
    return incident_out(incident, (await s.queries.named_roles([number]))[number])


@router.get("/incidents", response_model=list[IncidentOut])
async def list_incidents(
    who: Reader,
    s: Services,
    status: str = Query("open", pattern="^(open|all)$"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[IncidentOut]:
    viewer = None if who.sees_private else ANYONE
    incidents = await s.queries.list_incidents(open_only=status == "open", limit=limit, viewer=viewer)
    roles = await s.queries.named_roles([i.number for i in incidents if i.number is not None])
    return [incident_out(i, roles[i.number or 0]) for i in incidents]


@router.get("/incidents/{number}", response_model=IncidentOut)
async def show_incident(number: Number, who: Reader, s: Services) -> IncidentOut:
    incident = await visible(s, number, who)
    return incident_out(incident, (await s.queries.named_roles([number]))[number])


@router.get("/incidents/{number}/timeline", response_model=list[TimelineEventOut])
async def incident_timeline(
    number: Number,
    who: Reader,
    s: Services,
    response: Response,
    offset: int = Query(0, ge=0, le=1_000_000),
    limit: int = Query(200, ge=1, le=1000),
) -> list[TimelineEventOut]:
    """A page of the timeline, oldest first; a `Link: <...>; rel="next"` header points at
    the next page while there is one."""
    await visible(s, number, who)
    events: list[TimelineEvent] = await s.queries.timeline(number, offset=offset, limit=limit + 1)
    if len(events) > limit:
        events = events[:limit]
        after = f"/api/incidents/{number}/timeline?offset={offset + limit}&limit={limit}"
        response.headers["Link"] = f'<{after}>; rel="next"'
    return [TimelineEventOut.model_validate(e, from_attributes=True) for e in events]


@router.get("/incidents/{number}/followups", response_model=list[FollowUpOut])
async def incident_followups(number: Number, who: Reader, s: Services) -> list[FollowUpOut]:
    await visible(s, number, who)
    items = await s.followups.of_incident(number)
    return [FollowUpOut.model_validate(f, from_attributes=True) for f in items]


@router.get("/reports/mttr", tags=["reports"])
async def mttr_report(
    who: Reader,
    s: Services,
    since: str = Query("90d", description="A period like 30d (at most 3650d), or `all`.", max_length=20),
    by: str | None = Query(None, description=f"One of {', '.join(GROUPINGS)}."),
) -> dict[str, Any]:
    """Time to detect, acknowledge, mitigate and resolve (count, missing, mean, p50, p90,
    max, in seconds), grouped, with the weekly or monthly trend of the time to resolve."""
    try:
        period = check_period(None if since == "all" else parse_duration(since))
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=f"since: {exc}, or all") from None
    if by is not None and by not in GROUPINGS:
        raise HTTPException(status_code=422, detail=f"by: choose one of {', '.join(GROUPINGS)}")
    return report_docs.to_json(await s.reports.mttr(period, by, include_private=who.sees_private))
