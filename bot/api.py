"""JSON for dashboards and scripts: incidents, their timelines and follow-ups, the MTTR
report; and, with a write token, declare, note, status, resolve and follow-ups through the
same services as Slack (recorded on the timeline as `api:NAME`).

Every request needs `Authorization: Bearer wr_...` (`warroom token create`) unless
warroom.yaml says `api: {public_read: true}`; each token (or address) is throttled.
"""

# No `from __future__ import annotations` here: FastAPI reads the parameters' annotations,
# and those naming this module's closures (Reader, Writer) must be evaluated where they are.
import math
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy.exc import IntegrityError

from bot.config import ApiConfig, parse_duration
from bot.documents import reports as report_docs
from bot.domain.incident import DomainError, Status
from bot.domain.metrics import GROUPINGS, check_period
from bot.domain.text import storable
from bot.domain.throttle import Throttle
from bot.services.access import Refused
from bot.services.incidents import IncidentService
from bot.services.postmortems import PostmortemService
from bot.services.queries import IncidentQueries
from bot.services.reports import ReportService
from bot.services.timeline import NotFound
from bot.services.tokens import PUBLIC, Principal, TokenService
from bot.store.tables import Incident, TimelineEvent

MAX_NUMBER = 2**31 - 1  # an incident number is a 32-bit integer in the database
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="warroom"'}


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


def incident_out(incident: Incident, roles: dict[str, str]) -> IncidentOut:
    data: dict[str, Any] = {
        name: getattr(incident, name) for name in IncidentOut.model_fields if name != "roles"
    }
    return IncidentOut(**data, roles=roles)


ANYONE = "(api)"  # a viewer who is nobody's member: sees public incidents only
Number = Annotated[int, Path(ge=1, le=MAX_NUMBER)]


def router(
    service: IncidentService,
    queries: IncidentQueries,
    postmortems: PostmortemService,
    reports: ReportService,
    tokens: TokenService,
    config: ApiConfig,
) -> APIRouter:
    bearer = HTTPBearer(auto_error=False, bearerFormat="wr_...", description="`warroom token create`")
    throttle = Throttle(config.rate_limit)

    async def principal(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        if credentials is not None:
            who = await tokens.authenticate(credentials.credentials)
            if who is None:
                raise HTTPException(401, "unknown, expired or revoked token", headers=CHALLENGE)
            key = f"token:{who.name}"
        elif request.headers.get("authorization"):
            raise HTTPException(401, "use Authorization: Bearer wr_...", headers=CHALLENGE)
        elif config.public_read:
            who, key = PUBLIC, f"address:{request.client.host if request.client else '?'}"
        else:
            raise HTTPException(
                401, "this API needs a token: Authorization: Bearer wr_... (warroom token create)", CHALLENGE
            )
        if wait := throttle.take(key):
            raise HTTPException(
                429,
                f"more than {config.rate_limit} requests a minute; try again in {math.ceil(wait)} s",
                {"Retry-After": str(math.ceil(wait))},
            )
        return who

    async def writer(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if not who.can_write:
            raise HTTPException(403, f"this token's scope is {who.scope}: writes need a write or admin token")
        return who

    Reader = Annotated[Principal, Depends(principal)]
    Writer = Annotated[Principal, Depends(writer)]
    api = APIRouter(prefix="/api", tags=["incidents"], dependencies=[Depends(principal)])

    async def load(number: int, who: Principal) -> Incident:
        """A private incident is not there for a token that may not see it."""
        try:
            incident = await queries.get(number)
        except NotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        if incident.private and not who.sees_private:
            raise HTTPException(status_code=404, detail=f"There is no incident #{number}.")
        return incident

    async def shown(number: int) -> IncidentOut:
        incident = await queries.get(number)
        return incident_out(incident, (await queries.roles([number]))[number])

    @api.get("/incidents", response_model=list[IncidentOut])
    async def list_incidents(
        who: Reader,
        status: str = Query("open", pattern="^(open|all)$"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[IncidentOut]:
        viewer = None if who.sees_private else ANYONE
        incidents = await queries.list_incidents(open_only=status == "open", limit=limit, viewer=viewer)
        roles = await queries.roles([i.number for i in incidents if i.number is not None])
        return [incident_out(i, roles[i.number or 0]) for i in incidents]

    @api.get("/incidents/{number}", response_model=IncidentOut)
    async def show_incident(number: Number, who: Reader) -> IncidentOut:
        incident = await load(number, who)
        return incident_out(incident, (await queries.roles([number]))[number])

    @api.get("/incidents/{number}/timeline", response_model=list[TimelineEventOut])
    async def incident_timeline(
        number: Number,
        who: Reader,
        response: Response,
        offset: int = Query(0, ge=0, le=1_000_000),
        limit: int = Query(200, ge=1, le=1000),
    ) -> list[TimelineEventOut]:
        """A page of the timeline, oldest first; a `Link: <...>; rel="next"` header points at
        the next page while there is one."""
        await load(number, who)
        events: list[TimelineEvent] = await queries.timeline(number, offset=offset, limit=limit + 1)
        if len(events) > limit:
            events = events[:limit]
            after = f"/api/incidents/{number}/timeline?offset={offset + limit}&limit={limit}"
            response.headers["Link"] = f'<{after}>; rel="next"'
        return [TimelineEventOut.model_validate(e, from_attributes=True) for e in events]

    @api.get("/incidents/{number}/followups", response_model=list[FollowUpOut])
    async def incident_followups(number: Number, who: Reader) -> list[FollowUpOut]:
        await load(number, who)
        items = await postmortems.followups(number)
        return [FollowUpOut.model_validate(f, from_attributes=True) for f in items]

    @api.get("/reports/mttr", tags=["reports"])
    async def mttr_report(
        who: Reader,
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
        return report_docs.to_json(await reports.mttr(period, by, include_private=who.sees_private))

    # ------------------------------------------------------------ writes

    def idempotency(who: Principal, header: str | None) -> str | None:
        if header is None:
            return None
        if not IDEMPOTENCY_KEY.fullmatch(header):
            raise HTTPException(400, "Idempotency-Key: 1 to 64 of A-Z a-z 0-9 _ . : -")
        return f"{who.actor}:{header}"

    async def once(key: str | None, response: Response, work: Callable[[], Awaitable[object]]) -> None:
        """Run a write unless a request with the same Idempotency-Key already made it. The
        key is the idempotency key of the timeline event the write records, in the same
        transaction: a retry after any failure either finds it or makes it."""
        if key is not None and await queries.event_by_key(key) is not None:
            response.headers["Idempotent-Replayed"] = "true"
            return
        try:
            await work()
        except (IntegrityError, DomainError):
            if key is not None and await queries.event_by_key(key) is not None:
                response.headers["Idempotent-Replayed"] = "true"
                return
            raise

    Key = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]

    @api.post("/incidents", response_model=IncidentOut, status_code=201)
    async def declare(body: DeclareIn, who: Writer, idempotency_key: Key = None) -> IncidentOut:
        """Declare an incident (the same as `/incident declare`); commanded by nobody until
        someone takes the role in Slack."""
        key = idempotency(who, idempotency_key)
        if body.private and not who.sees_private:
            raise HTTPException(403, "only an admin token may declare a private incident")
        incident = await service.declare(
            title=body.title,
            severity=body.severity,
            reporter=who.actor,
            service=body.service,
            description=body.description,
            private=body.private,
            declare_key=key,
        )
        return await shown(incident.number or 0)

    @api.post("/incidents/{number}/notes", status_code=201, response_model=IncidentOut)
    async def add_note(
        number: Number, body: NoteIn, who: Writer, response: Response, idempotency_key: Key = None
    ) -> IncidentOut:
        await load(number, who)
        key = idempotency(who, idempotency_key)
        await once(key, response, lambda: service.add_note(number, body.text, who.actor, key=key))
        return await shown(number)

    @api.post("/incidents/{number}/status", response_model=IncidentOut)
    async def change_status(
        number: Number, body: StatusIn, who: Writer, response: Response, idempotency_key: Key = None
    ) -> IncidentOut:
        await load(number, who)
        key = idempotency(who, idempotency_key)
        await once(
            key,
            response,
            lambda: service.change_status(number, body.status, who.actor, body.message, key=key),
        )
        return await shown(number)

    @api.post("/incidents/{number}/resolve", response_model=IncidentOut)
    async def resolve(
        number: Number, body: ResolveIn, who: Writer, response: Response, idempotency_key: Key = None
    ) -> IncidentOut:
        await load(number, who)
        key = idempotency(who, idempotency_key)
        await once(key, response, lambda: service.resolve(number, who.actor, body.summary, key=key))
        return await shown(number)

    @api.post("/incidents/{number}/followups", status_code=201, response_model=list[FollowUpOut])
    async def add_followup(
        number: Number, body: FollowUpIn, who: Writer, response: Response, idempotency_key: Key = None
    ) -> list[FollowUpOut]:
        await load(number, who)
        key = idempotency(who, idempotency_key)
        await once(
            key, response, lambda: postmortems.add_followup(number, body.text, body.owner, who.actor, key=key)
        )
        items = await postmortems.followups(number)
        return [FollowUpOut.model_validate(f, from_attributes=True) for f in items]

    return api


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


def domain_errors(app: FastAPI) -> None:
    """The rules' refusals as answers: 404 for what is not there, 403 for who may not, 409
    for a change the incident's state does not allow (or a bad value the rules caught);
    422 for a malformed request, naming the field."""
    app.add_exception_handler(DomainError, _refused)
    app.add_exception_handler(RequestValidationError, _invalid)
