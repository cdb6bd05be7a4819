"""The deploy gate, the DORA figures and the availability figures (any token; see
bot/domain/changes.py, dora.py and availability.py for what they mean)."""

# No `from __future__ import annotations`: FastAPI reads these annotations at import.
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse

from bot.api.auth import Reader, Services
from bot.config import parse_duration
from bot.documents import availability as availability_docs
from bot.documents import dora as dora_docs
from bot.domain.metrics import check_period

router = APIRouter()


@router.get("/freeze", tags=["changes"], responses={423: {"description": "Frozen: do not deploy"}})
async def freeze(
    who: Reader,
    s: Services,
    service: str = Query(..., min_length=1, max_length=100, description="The service to deploy, or `*`."),
) -> JSONResponse:
    """200 `{"frozen": false}`: go. 423 with the reason and the incidents: an incident of a
    `changes.freeze_on` severity is open on the service, or a freeze window is active."""
    gate = await s.changes.freeze(service.strip())
    if not gate.frozen:
        return JSONResponse({"frozen": False, "service": service})
    incidents = [
        {
            "number": i.number,
            "severity": i.severity,
            "service": i.service,
            "title": None if i.private and not who.sees_private else i.title,
        }
        for i in gate.incidents
    ]
    body = {
        "frozen": True,
        "service": service,
        "reason": gate.reason,
        "incidents": incidents,
        "windows": list(gate.windows),
    }
    return JSONResponse(body, status_code=423)


@router.get("/reports/dora", tags=["reports"])
async def dora_report(
    who: Reader,
    s: Services,
    since: str = Query("90d", description="A period like 30d (at most 3650d).", max_length=20),
    by: str | None = Query(None, description="service"),
) -> dict[str, Any]:
    """Deployment frequency, change failure rate and failed deployment recovery time
    (p50, p90, in seconds), overall and, with `by=service`, per service."""
    try:
        period = check_period(parse_duration(since))
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=f"since: {exc}") from None
    if by is not None and by != "service":
        raise HTTPException(status_code=422, detail="by: service, or leave it out")
    assert period is not None
    return dora_docs.to_json(await s.dora.report(period, by, include_private=who.sees_private))


@router.get("/reports/availability", tags=["reports"])
async def availability_report(
    who: Reader,
    s: Services,
    since: str = Query(
        "30d", description="The period that ends now, like 30d (at most 3650d).", max_length=20
    ),
) -> dict[str, Any]:
    """Per status page component: availability, downtime and the time in each impaired state
    (seconds), the target and the error budget left. Drills are excluded; private incidents
    count only for tokens that may see them."""
    try:
        period = check_period(parse_duration(since))
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=f"since: {exc}") from None
    assert period is not None
    report = await s.availability.report(period, include_private=who.sees_private)
    return availability_docs.to_json(report)
