"""Changing incidents through the API (a write or admin token): declare, note, status,
resolve, follow-ups; the same services as Slack, recorded as `api:NAME`, and safe to retry
with an Idempotency-Key."""

# No `from __future__ import annotations`: FastAPI reads these annotations at import.
import re
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Response
from sqlalchemy.exc import IntegrityError

from bot.api.auth import Services, Writer
from bot.api.models import (
    DeclareIn,
    FollowUpIn,
    FollowUpOut,
    IncidentOut,
    NoteIn,
    ResolveIn,
    StatusIn,
)
from bot.api.reads import Number, shown, visible
from bot.domain.followups import FollowUpRequest
from bot.domain.incident import DomainError
from bot.services.tokens import Principal

IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
Key = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
router = APIRouter()


def idempotency(who: Principal, header: str | None) -> str | None:
    if header is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(header):
        raise HTTPException(400, "Idempotency-Key: 1 to 64 of A-Z a-z 0-9 _ . : -")
    return f"{who.actor}:{header}"


async def once(
    s: Services, key: str | None, response: Response, work: Callable[[], Awaitable[object]]
) -> None:
    """Run a write unless a request with the same Idempotency-Key already made it. The key is
    the idempotency key of the timeline event the write records, in the same transaction: a
    retry after any failure either finds it or makes it."""
    if key is not None and await s.queries.event_by_key(key) is not None:
        response.headers["Idempotent-Replayed"] = "true"
        return
    try:
        await work()
    except (IntegrityError, DomainError):
        if key is not None and await s.queries.event_by_key(key) is not None:
            response.headers["Idempotent-Replayed"] = "true"
            return
        raise


@router.post("/incidents", response_model=IncidentOut, status_code=201)
async def declare(body: DeclareIn, who: Writer, s: Services, idempotency_key: Key = None) -> IncidentOut:
    """Declare an incident (the same as `/incident declare`); commanded by nobody until
    someone takes the role in Slack."""
    key = idempotency(who, idempotency_key)
    if body.private and not who.sees_private:
        raise HTTPException(403, "only an admin token may declare a private incident")
    incident = await s.service.declare(
        title=body.title,
        severity=body.severity,
        reporter=who.actor,
        service=body.service,
        description=body.description,
        private=body.private,
        declare_key=key,
    )
    return await shown(s, incident.number or 0)


@router.post("/incidents/{number}/notes", status_code=201, response_model=IncidentOut)
async def add_note(
    number: Number, body: NoteIn, who: Writer, s: Services, response: Response, idempotency_key: Key = None
) -> IncidentOut:
    await visible(s, number, who)
    key = idempotency(who, idempotency_key)
    await once(s, key, response, lambda: s.service.add_note(number, body.text, who.actor, key=key))
    return await shown(s, number)


@router.post("/incidents/{number}/status", response_model=IncidentOut)
async def change_status(
    number: Number, body: StatusIn, who: Writer, s: Services, response: Response, idempotency_key: Key = None
) -> IncidentOut:
    await visible(s, number, who)
    key = idempotency(who, idempotency_key)
    change = s.service.change_status
    await once(s, key, response, lambda: change(number, body.status, who.actor, body.message, key=key))
    return await shown(s, number)


@router.post("/incidents/{number}/resolve", response_model=IncidentOut)
async def resolve(
    number: Number, body: ResolveIn, who: Writer, s: Services, response: Response, idempotency_key: Key = None
) -> IncidentOut:
    await visible(s, number, who)
    key = idempotency(who, idempotency_key)
    await once(s, key, response, lambda: s.service.resolve(number, who.actor, body.summary, key=key))
    return await shown(s, number)


@router.post("/incidents/{number}/followups", status_code=201, response_model=list[FollowUpOut])
async def add_followup(
    number: Number,
    body: FollowUpIn,
    who: Writer,
    s: Services,
    response: Response,
    idempotency_key: Key = None,
) -> list[FollowUpOut]:
    await visible(s, number, who)
    key = idempotency(who, idempotency_key)
    request = FollowUpRequest(body.text, body.owner, body.priority, body.due)
    await once(s, key, response, lambda: s.followups.add(number, request, who.actor, key=key))
    items = await s.followups.of_incident(number)
    return [FollowUpOut.model_validate(f, from_attributes=True) for f in items]
