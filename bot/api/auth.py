"""Who an API request is (a token, or the public when api.public_read says so), its scope,
and its rate; what every route of /api depends on."""

# No `from __future__ import annotations`: FastAPI reads these annotations at import.
import math
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.config import ApiConfig
from bot.domain.throttle import Throttle
from bot.services.changes import ChangeService
from bot.services.dora import DoraService
from bot.services.followups import Followups
from bot.services.incidents import IncidentService
from bot.services.queries import IncidentQueries
from bot.services.reports import ReportService
from bot.services.status_page import AvailabilityReads
from bot.services.tokens import PUBLIC, Principal, TokenService

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="warroom"'}


@dataclass
class ApiServices:
    """What the routes of /api use (kept on the application's state by `api.install`)."""

    service: IncidentService
    queries: IncidentQueries
    followups: Followups
    reports: ReportService
    tokens: TokenService
    config: ApiConfig
    changes: ChangeService
    dora: DoraService
    availability: AvailabilityReads
    throttle: Throttle = field(init=False)

    def __post_init__(self) -> None:
        self.throttle = Throttle(self.config.rate_limit)


def api_services(request: Request) -> ApiServices:
    found: ApiServices = request.app.state.api
    return found


Services = Annotated[ApiServices, Depends(api_services)]
bearer = HTTPBearer(auto_error=False, bearerFormat="wr_...", description="`warroom token create`")


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    s: Services,
) -> Principal:
    if credentials is not None:
        who = await s.tokens.authenticate(credentials.credentials)
        if who is None:
            raise HTTPException(401, "unknown, expired or revoked token", headers=CHALLENGE)
        key = f"token:{who.name}"
    elif request.headers.get("authorization"):
        raise HTTPException(401, "use Authorization: Bearer wr_...", headers=CHALLENGE)
    elif s.config.public_read:
        who, key = PUBLIC, f"address:{request.client.host if request.client else '?'}"
    else:
        raise HTTPException(
            401, "this API needs a token: Authorization: Bearer wr_... (warroom token create)", CHALLENGE
        )
    if wait := s.throttle.take(key):
        raise HTTPException(
            429,
            f"more than {s.config.rate_limit} requests a minute; try again in {math.ceil(wait)} s",
            {"Retry-After": str(math.ceil(wait))},
        )
    return who


async def writer(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if not who.can_write:
        raise HTTPException(403, f"this token's scope is {who.scope}: writes need a write or admin token")
    return who


Reader = Annotated[Principal, Depends(principal)]
Writer = Annotated[Principal, Depends(writer)]
