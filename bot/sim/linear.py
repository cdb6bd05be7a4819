"""A Linear fake: a real HTTP server at `/graphql` answering the operations warroom sends
(teams by key, issueCreate, issues filtered by team and description, issue by identifier,
issueUpdate), with Linear's auth (the API key as the Authorization header), its GraphQL error
shape (`errors[].extensions.code`: AUTHENTICATION_ERROR, RATELIMITED with HTTP 400 and
X-RateLimit-Requests-Reset), and the webhook signed as Linear signs it (`Linear-Signature`)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from typing import Any

from aiohttp import web

from bot.sim.serving import FakeServer

STATES = [
    {"id": "st-backlog", "type": "backlog"},
    {"id": "st-todo", "type": "unstarted"},
    {"id": "st-done", "type": "completed"},
    {"id": "st-canceled", "type": "canceled"},
]


class LinearFake(FakeServer):
    def __init__(self, *, api_key: str = "lin_api_test", webhook_secret: str = "linear-secret") -> None:
        super().__init__()
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.team = {"id": "team-ops", "key": "OPS", "states": {"nodes": STATES}}
        self.issues: dict[str, dict[str, Any]] = {}  # identifier -> issue
        self.operations: list[str] = []
        self.limited = 0
        self.lose_answers = 0
        self.delay = 0.0
        self._numbers = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/graphql", self._graphql)

    def set_state(self, identifier: str, kind: str) -> dict[str, Any]:
        issue = self.issues[identifier]
        issue["state"] = {"type": kind}
        return issue

    def webhook(self, issue: dict[str, Any], *, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            {"action": "update", "type": "Issue", "data": issue, "webhookTimestamp": int(time.time() * 1000)}
        ).encode()
        signature = hmac.new((secret or self.webhook_secret).encode(), body, hashlib.sha256).hexdigest()
        return body, {
            "Content-Type": "application/json",
            "Linear-Signature": signature,
            "Linear-Delivery": str(uuid.uuid4()),
            "Linear-Event": "Issue",
        }

    async def _graphql(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != self.api_key:
            return _errors("Authentication required, not authenticated", "AUTHENTICATION_ERROR")
        if self.limited > 0:
            self.limited -= 1
            reset = str(int(time.time() * 1000) + 1000)
            return _errors("Rate limit exceeded", "RATELIMITED", {"X-RateLimit-Requests-Reset": reset})
        body = await request.json()
        query, variables = str(body.get("query") or ""), body.get("variables") or {}
        if "issueCreate(" in query:
            self.operations.append("issueCreate")
            return await self._create(variables["input"])
        if "issueUpdate(" in query:
            self.operations.append("issueUpdate")
            issue = self.issues.get(variables["id"])
            state = next((s for s in STATES if s["id"] == variables["input"].get("stateId")), None)
            if issue is None or state is None:
                return _errors("Entity not found", "INVALID_INPUT")
            issue["state"] = {"type": state["type"]}
            return web.json_response({"data": {"issueUpdate": {"success": True, "issue": issue}}})
        if "teams(" in query:
            self.operations.append("teams")
            nodes = [self.team] if variables.get("key") == self.team["key"] else []
            return web.json_response({"data": {"teams": {"nodes": nodes}}})
        if "issues(" in query:
            self.operations.append("issues")
            found = [i for i in self.issues.values() if variables.get("marker", "") in i["description"]]
            return web.json_response({"data": {"issues": {"nodes": found[:1]}}})
        if "issue(" in query:
            self.operations.append("issue")
            issue = self.issues.get(variables.get("id", ""))
            if issue is None:
                return _errors("Entity not found: Issue", "INVALID_INPUT")
            return web.json_response({"data": {"issue": issue}})
        return _errors("Cannot query field", "GRAPHQL_VALIDATION_FAILED")

    async def _create(self, given: dict[str, Any]) -> web.StreamResponse:
        if given.get("teamId") != self.team["id"] or not str(given.get("title") or "").strip():
            return _errors("Argument Validation Error", "INVALID_INPUT")
        identifier = f"OPS-{next(self._numbers)}"
        issue = {
            "id": str(uuid.uuid4()),
            "identifier": identifier,
            "url": f"https://linear.app/acme/issue/{identifier.lower()}",
            "title": given["title"],
            "description": str(given.get("description") or ""),
            "state": {"type": "unstarted"},
        }
        self.issues[identifier] = issue
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return web.Response(status=502, text="Bad Gateway")
        return web.json_response({"data": {"issueCreate": {"success": True, "issue": issue}}})


def _errors(message: str, code: str, headers: dict[str, str] | None = None) -> web.Response:
    error = {"message": message, "extensions": {"code": code, "userPresentableMessage": message}}
    return web.json_response({"errors": [error]}, status=400, headers=headers)
