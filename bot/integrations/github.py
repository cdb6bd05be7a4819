"""GitHub Issues as a follow-up tracker (REST, over httpx; the transport is injectable).

A ticket is an issue of `followups.github.repo`, labelled `followups.github.labels`; its key is
`owner/repo#number`. `find` lists the repository's issues with those labels, newest first, and
looks for the marker in their bodies: unlike search, the listing is up to date the moment an
issue is made, which is what a retry after a crash needs.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from bot.integrations.trackers import Ticket, TicketDraft, TrackerError

API_VERSION = "2022-11-28"
TIMEOUT = 10.0


class GitHubTracker:
    name = "github"

    def __init__(
        self,
        token: str,
        repo: str,
        labels: list[str],
        *,
        api_url: str = "https://api.github.com",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.repo = repo
        self.labels = labels
        self.client = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "warroom",
            },
            timeout=TIMEOUT,
            transport=transport,
        )

    async def create(self, draft: TicketDraft) -> Ticket:
        body = f"{draft.body}\n\n{marker(draft.followup)}\n"
        issue = await self._call(
            "POST",
            f"/repos/{self.repo}/issues",
            json={"title": draft.title[:256], "body": body, "labels": [*self.labels, *draft.labels]},
        )
        return self._ticket(issue)

    async def find(self, followup: int) -> Ticket | None:
        params = {
            "state": "all",
            "labels": ",".join(self.labels),
            "sort": "created",
            "direction": "desc",
            "per_page": "100",
        }
        issues = await self._call("GET", f"/repos/{self.repo}/issues", params=params)
        found = next((i for i in issues if marker(followup) in str(i.get("body") or "")), None)
        return self._ticket(found) if found else None

    async def get(self, key: str) -> Ticket:
        return self._ticket(await self._call("GET", f"/repos/{self.repo}/issues/{_number(key)}"))

    async def set_open(self, key: str, is_open: bool, *, done: bool = True) -> Ticket:
        change = (
            {"state": "open", "state_reason": "reopened"}
            if is_open
            else {
                "state": "closed",
                "state_reason": "completed" if done else "not_planned",
            }
        )
        return self._ticket(
            await self._call("PATCH", f"/repos/{self.repo}/issues/{_number(key)}", json=change)
        )

    async def close(self) -> None:
        await self.client.aclose()

    def _ticket(self, issue: dict[str, Any]) -> Ticket:
        return Ticket(
            f"{self.repo}#{issue['number']}", str(issue.get("html_url") or ""), issue.get("state") == "open"
        )

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, **kwargs)
        if response.is_success:
            return response.json()
        try:
            message = str(response.json().get("message") or response.reason_phrase)
        except ValueError:
            message = response.reason_phrase
        raise TrackerError("GitHub", response.status_code, message, wait=_wait(response))


def _wait(response: httpx.Response) -> float | None:
    """Seconds a rate-limited answer asks for: `retry-after`, or until `x-ratelimit-reset`
    when no requests remain (GitHub answers 403 or 429 for either)."""
    if response.status_code not in (403, 429):
        return None
    if retry := response.headers.get("retry-after"):
        return max(float(retry), 1.0)
    if response.headers.get("x-ratelimit-remaining") == "0":
        reset = float(response.headers.get("x-ratelimit-reset") or 0)
        return max(reset - time.time(), 1.0)
    return None


def marker(followup: int) -> str:
    """The line an issue's body carries so that warroom recognises its issue."""
    return f"<!-- warroom:followup:{followup} -->"


def _number(key: str) -> str:
    return key.rpartition("#")[2]
