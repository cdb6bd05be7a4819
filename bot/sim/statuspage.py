"""An Atlassian Statuspage fake: a real HTTP server speaking the REST API v1 incident
endpoints as warroom uses them (developer.statuspage.io), with its auth header, error shape
and rate-limit answers.

- `POST /v1/pages/{page_id}/incidents` (201), `GET /v1/pages/{page_id}/incidents/unresolved`,
  `GET` and `PATCH /v1/pages/{page_id}/incidents/{incident_id}`; bodies wrap the fields in
  `{"incident": {...}}`: `name`, `status`, `body` (a new incident update), `components`
  (`{component_id: status}`), `metadata`. Each body or status change adds an incident update
  (newest first in `incident_updates`), and component changes show in its `affected_components`.
- `Authorization: OAuth KEY`; otherwise 401 `{"error": "..."}`; an unknown page or incident
  404, an unknown component or status 422.
- `rate_limit(n)` answers the next n requests 429 with `Retry-After` (the API allows one
  request a second per token), `failing` 503, `lose_answers` makes the incident but answers
  502 (the answer lost on the way), `delay` holds the answer after making it (a crash window).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from aiohttp import web

from bot.sim.serving import FakeServer

INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
COMPONENT_STATUSES = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)
Incident = dict[str, Any]


class StatuspageFake(FakeServer):
    def __init__(
        self,
        *,
        api_key: str = "sp-test-key",
        page_id: str = "pg1test",
        components: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.page_id = page_id
        # component id -> {"id", "name", "status"}
        self.components: dict[str, dict[str, str]] = {
            cid: {"id": cid, "name": name, "status": "operational"}
            for cid, name in (components or {}).items()
        }
        self.incidents: list[Incident] = []  # oldest first
        self.requests: list[tuple[str, str]] = []
        self.limited = 0
        self.failing = 0
        self.lose_answers = 0
        self.delay = 0.0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/v1/pages/{page}/incidents", self._collection)
        app.router.add_route("GET", "/v1/pages/{page}/incidents/unresolved", self._unresolved)
        app.router.add_route("*", "/v1/pages/{page}/incidents/{incident}", self._incident)

    def rate_limit(self, requests: int) -> None:
        self.limited = requests

    def count(self, method: str, path_end: str = "") -> int:
        return sum(1 for m, p in self.requests if m == method and p.endswith(path_end))

    # ------------------------------------------------------------ the API

    def _refuse(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"OAuth {self.api_key}":
            return _error(401, "Could not authenticate you with that API key")
        if request.match_info["page"] != self.page_id:
            return _error(404, "Page not found")
        if self.limited > 0:
            self.limited -= 1
            return _error(429, "Rate limit exceeded: 1 request per second", {"Retry-After": "1"})
        if self.failing > 0:
            self.failing -= 1
            return _error(503, "Service Unavailable")
        return None

    async def _collection(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        if request.method == "GET":
            return web.json_response(list(reversed(self.incidents)))
        if request.method != "POST":
            return _error(405, "Method Not Allowed")
        fields, problem = await _fields(request)
        if problem:
            return problem
        if not str(fields.get("name") or "").strip():
            return _error(422, ["Name can't be blank"])
        now = _now()
        incident: Incident = {
            "id": secrets.token_hex(6),
            "page_id": self.page_id,
            "name": str(fields["name"]),
            "status": "investigating",
            "impact": "none",
            "metadata": fields.get("metadata") or {},
            "created_at": now,
            "updated_at": now,
            "resolved_at": None,
            "shortlink": f"https://stspg.io/{secrets.token_hex(4)}",
            "incident_updates": [],
            "components": [],
        }
        if (problem := self._apply(incident, fields)) is not None:
            return problem
        self.incidents.append(incident)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return web.Response(status=502, text="Bad Gateway")
        return web.json_response(incident, status=201)

    async def _unresolved(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        return web.json_response([i for i in reversed(self.incidents) if i["status"] != "resolved"])

    async def _incident(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        incident = next((i for i in self.incidents if i["id"] == request.match_info["incident"]), None)
        if incident is None:
            return _error(404, "Incident not found")
        if request.method == "GET":
            return web.json_response(incident)
        if request.method not in ("PATCH", "PUT"):
            return _error(405, "Method Not Allowed")
        fields, problem = await _fields(request)
        if problem:
            return problem
        if fields.get("name"):
            incident["name"] = str(fields["name"])
        if (problem := self._apply(incident, fields)) is not None:
            return problem
        return web.json_response(incident)

    def _apply(self, incident: Incident, fields: dict[str, Any]) -> web.Response | None:
        """A status, a body and component states: checked, then one incident update."""
        status = str(fields.get("status") or incident["status"])
        if status not in INCIDENT_STATUSES:
            return _error(422, [f"Status {status} is not a valid incident status"])
        changes = fields.get("components") or {}
        if not isinstance(changes, dict):
            return _error(422, ["Components must be a hash of component id to status"])
        for cid, state in changes.items():
            if cid not in self.components:
                return _error(422, [f"Component {cid} does not belong to this page"])
            if state not in COMPONENT_STATUSES:
                return _error(422, [f"Component status {state} is invalid"])
        affected = []
        for cid, state in changes.items():
            component = self.components[cid]
            affected.append(
                {
                    "code": cid,
                    "name": component["name"],
                    "old_status": component["status"],
                    "new_status": state,
                }
            )
            component["status"] = state
        listed = {c["id"] for c in incident["components"]}
        incident["components"] += [dict(self.components[c]) for c in changes if c not in listed]
        for shown in incident["components"]:
            shown["status"] = self.components[shown["id"]]["status"]
        body = fields.get("body")
        if body is None and status == incident["status"] and not changes:
            return None
        now = _now()
        incident["incident_updates"].insert(
            0,
            {
                "id": secrets.token_hex(6),
                "incident_id": incident["id"],
                "status": status,
                "body": str(body or ""),
                "created_at": now,
                "display_at": now,
                "affected_components": affected or None,
                "deliver_notifications": bool(fields.get("deliver_notifications", True)),
            },
        )
        incident["status"] = status
        incident["updated_at"] = now
        if status == "resolved":
            incident["resolved_at"] = now
        return None


async def _fields(request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
    try:
        body = await request.json()
    except ValueError:
        return {}, _error(400, "The body is not valid JSON")
    if not isinstance(body, dict) or not isinstance(body.get("incident"), dict):
        return {}, _error(400, "Missing parameter: incident")
    return body["incident"], None


def _error(status: int, error: str | list[str], headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": error}, status=status, headers=headers)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
