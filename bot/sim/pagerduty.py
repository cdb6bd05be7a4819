"""A PagerDuty fake at the HTTP level, served through an httpx2 transport (the official client
insists on https:// base URLs): REST API v2 `GET /oncalls` and Events API v2
`POST /v2/enqueue`, with the response shapes the client expects. It records every request and
can be told to fail."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx2

API_URL = "https://api.pagerduty.fake"
EVENTS_URL = "https://events.pagerduty.fake"


class PagerDutyFake:
    def __init__(self, *, api_token: str = "pd-test-token") -> None:
        self.api_token = api_token
        self.oncalls: dict[str, list[dict[str, Any]]] = {}  # escalation policy id -> users by level
        self.events: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.fail_next = 0  # answer this many requests with 500
        self.lock = threading.Lock()

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self.handle)

    def on_call(self, policy: str, *users: tuple[str, str, str]) -> None:
        """Who is on call for an escalation policy: (id, name, email), first level first."""
        self.oncalls[policy] = [
            {"id": uid, "type": "user", "summary": name, "name": name, "email": email}
            for uid, name, email in users
        ]

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        with self.lock:
            self.requests.append((request.method, request.url.path))
            if self.fail_next > 0:
                self.fail_next -= 1
                return _json(500, {"error": {"message": "Internal error", "code": 2000}})
        if request.method == "GET" and request.url.path == "/oncalls":
            return self._oncalls(request)
        if request.method == "POST" and request.url.path == "/v2/enqueue":
            return self._enqueue(request)
        return _json(404, {"error": {"message": "Not Found", "code": 2100}})

    def _oncalls(self, request: httpx2.Request) -> httpx2.Response:
        if request.headers.get("Authorization") != f"Token token={self.api_token}":
            return _json(401, {"error": {"message": "Unauthorized", "code": 2006}})
        policies = request.url.params.get_list("escalation_policy_ids[]")
        entries = [
            {
                "escalation_policy": {"id": policy, "type": "escalation_policy_reference"},
                "escalation_level": level + 1,
                "schedule": None,
                "user": user,
                "start": None,
                "end": None,
            }
            for policy in policies
            for level, user in enumerate(self.oncalls.get(policy, []))
        ]
        return _json(200, {"oncalls": entries, "limit": 100, "offset": 0, "more": False, "total": None})

    def _enqueue(self, request: httpx2.Request) -> httpx2.Response:
        event = json.loads(request.content)
        if not event.get("routing_key") or event.get("event_action") not in (
            "trigger",
            "acknowledge",
            "resolve",
        ):
            return _json(400, {"status": "invalid event", "message": "Event object is invalid"})
        with self.lock:
            self.events.append(event)
        dedup_key = event.get("dedup_key") or "generated"
        return _json(202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key})


def _json(status: int, body: dict[str, Any]) -> httpx2.Response:
    """A streamed response, as from a real server: the client times the read, which an
    already-read response cannot give it."""
    return httpx2.Response(
        status,
        headers={"Content-Type": "application/json"},
        stream=httpx2.ByteStream(json.dumps(body).encode()),
    )
