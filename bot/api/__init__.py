"""JSON for dashboards and scripts: incidents, their timelines and follow-ups, the MTTR
report (reads.py); and, with a write token, declare, note, status, resolve and follow-ups
through the same services as Slack, recorded on the timeline as `api:NAME` (writes.py).

Every request needs `Authorization: Bearer wr_...` (`warroom token create`) unless
warroom.yaml says `api: {public_read: true}`; each token (or address) is throttled (auth.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bot.api import changes, reads, writes
from bot.api.auth import ApiServices, principal
from bot.api.models import incident_out
from bot.domain.incident import DomainError
from bot.domain.text import storable
from bot.services.access import Refused
from bot.services.timeline import NotFound

__all__ = ["ApiServices", "incident_out", "install"]


def install(app: FastAPI, services: ApiServices) -> None:
    """/api on `app`: its routes, every one behind `principal`, and its error answers."""
    app.state.api = services
    api = APIRouter(prefix="/api", tags=["incidents"], dependencies=[Depends(principal)])
    api.include_router(reads.router)
    api.include_router(writes.router)
    api.include_router(changes.router)
    app.include_router(api)
    app.add_exception_handler(DomainError, _refused)
    app.add_exception_handler(RequestValidationError, _invalid)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    status = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, Refused) else 409
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, without echoing the input: a lone surrogate in it cannot even be
    written as UTF-8 (that answer was a 500), and the caller has the input already."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in errors]
    for item in detail:
        item["loc"] = [storable(str(part)) for part in item.get("loc", ())]
        item["msg"] = storable(str(item.get("msg", "")))
    return JSONResponse({"detail": detail}, status_code=422)
