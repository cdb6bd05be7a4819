"""Jira Cloud as a follow-up tracker (REST v3, over httpx; the transport is injectable).

A ticket is an issue of `followups.jira.project` of type `followups.jira.issue_type`, its
description in Atlassian Document Format. It carries the label `warroom-followup-N`, how a
retry finds the issue an earlier attempt made (JQL on a label). Closing moves it through the
first transition into the *done* status category; reopening through the first one out of it.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from bot.integrations.trackers import Ticket, TicketDraft, TrackerError

TIMEOUT = 10.0


def label(followup: int) -> str:
    return f"warroom-followup-{followup}"


def adf(text: str) -> dict[str, Any]:
    """Plain lines as an Atlassian Document Format document, one paragraph each."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]} if line else {"type": "paragraph"}
        for line in text.splitlines()
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


class JiraTracker:
    name = "jira"

    def __init__(
        self,
        url: str,
        email: str,
        token: str,
        project: str,
        issue_type: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.project = project
        self.issue_type = issue_type
        self.site = url.rstrip("/")
        basic = base64.b64encode(f"{email}:{token}".encode()).decode()
        self.client = httpx.AsyncClient(
            base_url=self.site,
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
            timeout=TIMEOUT,
            transport=transport,
        )

    async def create(self, draft: TicketDraft) -> Ticket:
        fields = {
            "project": {"key": self.project},
            "issuetype": {"name": self.issue_type},
            "summary": draft.title[:255],
            "description": adf(draft.body),
            "labels": [label(draft.followup), *(x.replace(" ", "-") for x in draft.labels)],
        }
        made = await self._call("POST", "/rest/api/3/issue", json={"fields": fields})
        return Ticket(str(made["key"]), self._browse(str(made["key"])), True)

    async def find(self, followup: int) -> Ticket | None:
        jql = f'project = "{self.project}" AND labels = "{label(followup)}" ORDER BY created DESC'
        found = await self._call("POST", "/rest/api/3/search/jql", json={"jql": jql, "fields": ["status"]})
        issues = found.get("issues") or []
        return self._ticket(issues[0]) if issues else None

    async def get(self, key: str) -> Ticket:
        return self._ticket(await self._call("GET", f"/rest/api/3/issue/{key}", params={"fields": "status"}))

    async def set_open(self, key: str, is_open: bool, *, done: bool = True) -> Ticket:
        options = (await self._call("GET", f"/rest/api/3/issue/{key}/transitions"))["transitions"]
        wanted = next((t for t in options if (_category(t.get("to")) == "done") != is_open), None)
        if wanted is None:
            raise TrackerError("Jira", 409, f"{key} has no transition {'out of' if is_open else 'into'} done")
        await self._call(
            "POST", f"/rest/api/3/issue/{key}/transitions", json={"transition": {"id": wanted["id"]}}
        )
        return Ticket(key, self._browse(key), is_open)

    async def close(self) -> None:
        await self.client.aclose()

    def _browse(self, key: str) -> str:
        return f"{self.site}/browse/{key}"

    def _ticket(self, issue: dict[str, Any]) -> Ticket:
        key = str(issue["key"])
        status = (issue.get("fields") or {}).get("status")
        return Ticket(key, self._browse(key), _category(status) != "done")

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.client.request(method, path, **kwargs)
        if response.is_success:
            return response.json() if response.content else {}
        try:
            answer = response.json()
            message = "; ".join([*answer.get("errorMessages", []), *answer.get("errors", {}).values()])
        except (ValueError, AttributeError):
            message = response.reason_phrase
        wait = float(response.headers.get("retry-after") or 1) if response.status_code == 429 else None
        raise TrackerError("Jira", response.status_code, message or response.reason_phrase, wait=wait)


def _category(status: Any) -> str:
    """A status's category key: new, indeterminate or done."""
    if not isinstance(status, dict):
        return ""
    return str((status.get("statusCategory") or {}).get("key") or "")
