"""Linear as a follow-up tracker (GraphQL, over httpx; the transport is injectable).

A ticket is an issue of the team `followups.linear.team` (its key); its key is the issue's
identifier (`OPS-12`). Its description ends with a marker, how a retry finds the issue an
earlier attempt made (a `description contains` filter, answered from Linear's database, so a
fresh issue is found at once). Closing moves it to the team's first `completed` state (or
`canceled` for won't do); reopening, to its first `unstarted` one.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.integrations.trackers import Ticket, TicketDraft, TrackerError

TIMEOUT = 10.0
ISSUE_FIELDS = "id identifier url state { type }"
OPEN_TYPES = {"triage", "backlog", "unstarted", "started"}


def marker(followup: int) -> str:
    return f"warroom:followup:{followup}"


class LinearTracker:
    name = "linear"

    def __init__(
        self,
        api_key: str,
        team: str,
        *,
        api_url: str = "https://api.linear.app/graphql",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.team = team
        self.api_url = api_url
        self.client = httpx.AsyncClient(
            headers={"Authorization": api_key, "Content-Type": "application/json"},
            timeout=TIMEOUT,
            transport=transport,
        )
        self._team: dict[str, Any] | None = None  # id and workflow states, asked once

    async def create(self, draft: TicketDraft) -> Ticket:
        team = await self._team_of()
        description = f"{draft.body}\n\n`{marker(draft.followup)}`\n"
        made = await self._query(
            f"mutation($input: IssueCreateInput!) {{ issueCreate(input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }} }}",
            {"input": {"teamId": team["id"], "title": draft.title[:255], "description": description}},
        )
        return _ticket(made["issueCreate"]["issue"])

    async def find(self, followup: int) -> Ticket | None:
        found = await self._query(
            f"query($team: String!, $marker: String!) {{ issues(filter: {{ team: {{ key: {{ eq: $team }} }}, "
            f"description: {{ contains: $marker }} }}, first: 1) {{ nodes {{ {ISSUE_FIELDS} }} }} }}",
            {"team": self.team, "marker": marker(followup)},
        )
        nodes = found["issues"]["nodes"]
        return _ticket(nodes[0]) if nodes else None

    async def get(self, key: str) -> Ticket:
        found = await self._query(
            f"query($id: String!) {{ issue(id: $id) {{ {ISSUE_FIELDS} }} }}", {"id": key}
        )
        return _ticket(found["issue"])

    async def set_open(self, key: str, is_open: bool, *, done: bool = True) -> Ticket:
        team = await self._team_of()
        wanted = "unstarted" if is_open else ("completed" if done else "canceled")
        state = next((s for s in team["states"]["nodes"] if s["type"] == wanted), None)
        if state is None:
            raise TrackerError("Linear", 409, f"team {self.team} has no {wanted} state")
        changed = await self._query(
            f"mutation($id: String!, $input: IssueUpdateInput!) {{ issueUpdate(id: $id, input: $input) "
            f"{{ success issue {{ {ISSUE_FIELDS} }} }} }}",
            {"id": key, "input": {"stateId": state["id"]}},
        )
        return _ticket(changed["issueUpdate"]["issue"])

    async def close(self) -> None:
        await self.client.aclose()

    async def _team_of(self) -> dict[str, Any]:
        if self._team is None:
            found = await self._query(
                "query($key: String!) { teams(filter: { key: { eq: $key } }) "
                "{ nodes { id key states { nodes { id type } } } } }",
                {"key": self.team},
            )
            nodes = found["teams"]["nodes"]
            if not nodes:
                raise TrackerError("Linear", 404, f"no team with the key {self.team}")
            self._team = nodes[0]
        return self._team

    async def _query(self, query: str, variables: dict[str, Any]) -> Any:
        response = await self.client.post(self.api_url, json={"query": query, "variables": variables})
        try:
            answer = response.json()
        except ValueError:
            raise TrackerError("Linear", response.status_code, response.reason_phrase) from None
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if response.is_success and not errors:
            return answer["data"]
        first = (errors or [{}])[0]
        code = str((first.get("extensions") or {}).get("code") or "")
        if code == "RATELIMITED" or response.status_code == 429:
            reset = float(response.headers.get("retry-after") or 1)
            raise TrackerError(
                "Linear", 429, str(first.get("message") or "rate limited"), wait=max(reset, 1.0)
            )
        status = (
            401
            if code == "AUTHENTICATION_ERROR"
            else (response.status_code if not response.is_success else 400)
        )
        raise TrackerError("Linear", status, str(first.get("message") or response.reason_phrase))


def _ticket(issue: dict[str, Any]) -> Ticket:
    state = (issue.get("state") or {}).get("type")
    return Ticket(str(issue["identifier"]), str(issue.get("url") or ""), state in OPEN_TYPES)
