"""A GitHub fake: a real HTTP server speaking the REST API's issue endpoints as warroom uses
them, with GitHub's auth header, error shapes and rate-limit answers, and a way to send the
`issues` webhook signed as GitHub signs it.

- `POST /repos/{owner}/{repo}/issues` (201), `GET /repos/{owner}/{repo}/issues[?labels=&state=]`,
  `GET` and `PATCH /repos/{owner}/{repo}/issues/{number}`.
- `Authorization: Bearer TOKEN` (or `token TOKEN`); otherwise 401 `{"message": "Bad credentials"}`.
- `rate_limit()` answers the next requests 403 with `x-ratelimit-remaining: 0` and
  `x-ratelimit-reset` (the primary limit), `secondary()` 429 with `retry-after`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.sim.serving import FakeServer

DOCS = "https://docs.github.com/rest"
Issue = dict[str, Any]


class GitHubFake(FakeServer):
    def __init__(self, *, token: str = "ghp_test_token", webhook_secret: str = "gh-webhook-secret") -> None:
        super().__init__()
        self.token = token
        self.webhook_secret = webhook_secret
        self.repos: dict[str, list[Issue]] = {}  # "owner/repo" -> issues, oldest first
        self.requests: list[tuple[str, str]] = []
        self.limited = 0  # answer this many requests with the primary rate limit (403)
        self.secondary_limited = 0  # ... with a secondary rate limit (429, retry-after)
        self.failing = 0  # ... with 502
        self.delay = 0.0  # seconds between making an issue and answering (a crash test's window)
        self.lose_answers = 0  # make this many issues but answer 502, as if the answer was lost
        self._numbers = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/repos/{owner}/{repo}/issues", self._issues)
        app.router.add_route("*", "/repos/{owner}/{repo}/issues/{number}", self._issue)

    # ------------------------------------------------------------ test helpers

    def issues(self, repo: str) -> list[Issue]:
        return self.repos.setdefault(repo, [])

    def count(self, method: str, path_end: str = "") -> int:
        return sum(1 for m, p in self.requests if m == method and p.endswith(path_end))

    def set_state(self, repo: str, number: int, state: str) -> Issue:
        """Someone closes or reopens the issue on GitHub (no webhook: see `webhook`)."""
        issue = next(i for i in self.issues(repo) if i["number"] == number)
        issue["state"] = state
        issue["state_reason"] = "completed" if state == "closed" else "reopened"
        issue["closed_at"] = _now() if state == "closed" else None
        return issue

    def webhook(
        self, repo: str, issue: Issue, action: str, *, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The `issues` delivery GitHub would send: its body and headers (signed)."""
        event = {
            "action": action,
            "issue": issue,
            "repository": {"full_name": repo},
            "sender": {"login": "octocat"},
        }
        return self._delivery("issues", event, secret)

    def deployment_status(
        self,
        repo: str,
        deployment: int,
        state: str,
        *,
        ref: str = "v2.14.0",
        environment: str = "production",
        at: datetime | None = None,
        secret: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The `deployment_status` delivery GitHub sends when a deployment of `repo` changes
        state (queued, in_progress, success, failure, error, inactive)."""
        now = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        owner, name = repo.split("/")
        creator = {"login": "octocat", "id": 1, "type": "User"}
        event = {
            "action": "created",
            "deployment_status": {
                "id": deployment * 10 + len(state),
                "state": state,
                "creator": creator,
                "description": f"Deployment {state}",
                "environment": environment,
                "target_url": f"https://github.com/{repo}/actions/runs/{deployment}",
                "log_url": f"https://github.com/{repo}/actions/runs/{deployment}",
                "created_at": now,
                "updated_at": now,
                "deployment_url": f"https://api.github.com/repos/{repo}/deployments/{deployment}",
                "repository_url": f"https://api.github.com/repos/{repo}",
            },
            "deployment": {
                "id": deployment,
                "sha": hashlib.sha1(f"{repo}{deployment}".encode()).hexdigest(),
                "ref": ref,
                "task": "deploy",
                "payload": {},
                "environment": environment,
                "description": None,
                "creator": creator,
                "created_at": now,
                "updated_at": now,
            },
            "repository": {"full_name": repo, "name": name, "owner": {"login": owner}},
            "sender": creator,
        }
        return self._delivery("deployment_status", event, secret)

    def _delivery(
        self, kind: str, event: Mapping[str, object], secret: str | None
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(event).encode()
        signature = hmac.new((secret or self.webhook_secret).encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": kind,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": f"sha256={signature}",
            "User-Agent": "GitHub-Hookshot/fake",
        }
        return body, headers

    # ------------------------------------------------------------ the API

    def _refuse(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.method, request.path))
        auth = request.headers.get("Authorization", "")
        if auth not in (f"Bearer {self.token}", f"token {self.token}"):
            return _error(401, "Bad credentials")
        if self.limited > 0:
            self.limited -= 1
            headers = {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time()) + 2),
            }
            return _error(403, "API rate limit exceeded for user ID 1.", headers)
        if self.secondary_limited > 0:
            self.secondary_limited -= 1
            return _error(429, "You have exceeded a secondary rate limit.", {"retry-after": "1"})
        if self.failing > 0:
            self.failing -= 1
            return web.Response(status=502, text="Server Error")
        return None

    async def _issues(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if request.method == "GET":
            state = request.query.get("state", "open")
            labels = {x for x in request.query.get("labels", "").split(",") if x}
            found = [
                i
                for i in reversed(self.issues(repo))  # newest first, as sort=created&direction=desc
                if (state == "all" or i["state"] == state) and labels <= {lbl["name"] for lbl in i["labels"]}
            ]
            per_page = min(int(request.query.get("per_page", "30")), 100)
            return web.json_response(found[:per_page])
        if request.method != "POST":
            return _error(404, "Not Found")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Problems parsing JSON")
        if not isinstance(body, dict) or not str(body.get("title") or "").strip():
            return _error(
                422,
                "Validation Failed",
                errors=[{"resource": "Issue", "code": "missing_field", "field": "title"}],
            )
        number = next(self._numbers)
        issue: Issue = {
            "id": 1_000_000 + number,
            "number": number,
            "html_url": f"https://github.com/{repo}/issues/{number}",
            "url": f"{self.api_url}/repos/{repo}/issues/{number}",
            "title": str(body["title"]),
            "body": str(body.get("body") or ""),
            "labels": [{"name": str(name)} for name in body.get("labels") or []],
            "state": "open",
            "state_reason": None,
            "created_at": _now(),
            "closed_at": None,
        }
        self.issues(repo).append(issue)
        if self.delay:  # made, but the answer is slow: a crash test's window
            await asyncio.sleep(self.delay)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return web.Response(status=502, text="Server Error")
        return web.json_response(issue, status=201)

    async def _issue(self, request: web.Request) -> web.StreamResponse:
        if (refused := self._refuse(request)) is not None:
            return refused
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        issue = next((i for i in self.issues(repo) if str(i["number"]) == request.match_info["number"]), None)
        if issue is None:
            return _error(404, "Not Found")
        if request.method == "PATCH":
            body = await request.json()
            if body.get("state") not in (None, "open", "closed"):
                return _error(
                    422,
                    "Validation Failed",
                    errors=[{"resource": "Issue", "code": "invalid", "field": "state"}],
                )
            if body.get("state"):
                self.set_state(repo, issue["number"], body["state"])
                if body.get("state_reason"):
                    issue["state_reason"] = body["state_reason"]
        elif request.method != "GET":
            return _error(404, "Not Found")
        return web.json_response(issue)


def _error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    return web.json_response(
        {"message": message, "documentation_url": DOCS, "status": str(status), **extra},
        status=status,
        headers=headers,
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
