"""A Jira Cloud fake: a real HTTP server speaking REST v3 as warroom uses it (create an issue,
read its status, JQL search by label, transitions), with Basic auth (email and API token),
Jira's error shape (`errorMessages`, `errors`), 429 with `Retry-After`, and the webhook
signed as Jira signs it (`X-Hub-Signature: sha256=...`)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import uuid
from typing import Any

from aiohttp import web

from bot.sim.serving import FakeServer

TO_DO = {"id": "10000", "name": "To Do", "statusCategory": {"key": "new"}}
DONE = {"id": "10002", "name": "Done", "statusCategory": {"key": "done"}}
TRANSITIONS = [
    {"id": "31", "name": "Done", "to": DONE},
    {"id": "11", "name": "Reopen", "to": TO_DO},
]


class JiraFake(FakeServer):
    def __init__(
        self,
        *,
        email: str = "ops@example.com",
        token: str = "jira-test-token",
        webhook_secret: str = "jira-secret",
    ) -> None:
        super().__init__()
        self.email = email
        self.token = token
        self.webhook_secret = webhook_secret
        self.projects = {"OPS"}
        self.issues: dict[str, dict[str, Any]] = {}  # key -> issue
        self.requests: list[tuple[str, str]] = []
        self.limited = 0  # answer this many requests 429 with Retry-After
        self.lose_answers = 0  # make this many issues but answer 502
        self.delay = 0.0  # seconds between making an issue and answering (a crash test's window)
        self._ids = itertools.count(10001)
        self._numbers = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/rest/api/3/issue", self._create)
        app.router.add_get("/rest/api/3/issue/{key}", self._get)
        app.router.add_get("/rest/api/3/issue/{key}/transitions", self._transitions)
        app.router.add_post("/rest/api/3/issue/{key}/transitions", self._transition)
        app.router.add_post("/rest/api/3/search/jql", self._search)

    # ------------------------------------------------------------ test helpers

    def count(self, method: str, path_end: str = "") -> int:
        return sum(1 for m, p in self.requests if m == method and p.endswith(path_end))

    def set_status(self, key: str, done: bool) -> dict[str, Any]:
        issue = self.issues[key]
        issue["fields"]["status"] = DONE if done else TO_DO
        return issue

    def webhook(self, issue: dict[str, Any], *, secret: str | None = None) -> tuple[bytes, dict[str, str]]:
        """The `jira:issue_updated` delivery Jira would send: its body and headers (signed)."""
        body = json.dumps(
            {"webhookEvent": "jira:issue_updated", "issue": issue, "user": {"displayName": "Jira User"}}
        ).encode()
        signature = hmac.new((secret or self.webhook_secret).encode(), body, hashlib.sha256).hexdigest()
        return body, {
            "Content-Type": "application/json",
            "X-Hub-Signature": f"sha256={signature}",
            "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
        }

    # ------------------------------------------------------------ the API

    def _refuse(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.method, request.path))
        basic = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {basic}":
            return _error(401, "Client must be authenticated to access this resource.")
        if self.limited > 0:
            self.limited -= 1
            return web.json_response(
                {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                status=429,
                headers={"Retry-After": "1"},
            )
        return None

    async def _create(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        fields = (await request.json()).get("fields") or {}
        project = (fields.get("project") or {}).get("key")
        if project not in self.projects:
            return _error(400, errors={"project": "valid project is required"})
        if not str(fields.get("summary") or "").strip():
            return _error(400, errors={"summary": "You must specify a summary of the issue."})
        if (fields.get("description") or {}).get("type") != "doc":
            return _error(400, errors={"description": "Operation value must be an Atlassian Document."})
        issue_id, key = str(next(self._ids)), f"{project}-{next(self._numbers)}"
        self.issues[key] = {
            "id": issue_id,
            "key": key,
            "self": f"{self.url}/rest/api/3/issue/{issue_id}",
            "fields": {**fields, "status": TO_DO},
        }
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return web.Response(status=502, text="Bad Gateway")
        return web.json_response({"id": issue_id, "key": key, "self": self.issues[key]["self"]}, status=201)

    def _issue(self, request: web.Request) -> dict[str, Any] | None:
        return self.issues.get(request.match_info["key"])

    async def _get(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        issue = self._issue(request)
        return (
            web.json_response(issue)
            if issue
            else _error(404, "Issue does not exist or you do not have permission to see it.")
        )

    async def _transitions(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        done = issue["fields"]["status"]["statusCategory"]["key"] == "done"
        return web.json_response({"transitions": [t for t in TRANSITIONS if (t["to"] is DONE) != done]})

    async def _transition(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        issue = self._issue(request)
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        wanted = str(((await request.json()).get("transition") or {}).get("id"))
        transition = next((t for t in TRANSITIONS if t["id"] == wanted), None)
        if transition is None:
            return _error(400, f"Transition id '{wanted}' is not valid for this issue.")
        issue["fields"]["status"] = transition["to"]
        return web.Response(status=204)

    async def _search(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        jql = str((await request.json()).get("jql") or "")
        wanted = re.search(r'labels = "([^"]+)"', jql)
        found = [
            i
            for i in reversed(list(self.issues.values()))
            if wanted and wanted.group(1) in i["fields"].get("labels", [])
        ]
        return web.json_response({"issues": found, "isLast": True})


def _error(status: int, message: str | None = None, *, errors: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"errorMessages": [message] if message else [], "errors": errors or {}}, status=status
    )
