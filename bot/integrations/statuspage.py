"""Atlassian Statuspage as an outbound target (REST API v1 over httpx; the transport is
injectable). Each public update of a warroom incident becomes an incident update there: the
first creates the incident (marked with the incident's public id in its metadata), later
ones update it, the final one resolves it; component states follow. The job is idempotent:
a retry lists the unresolved incidents for its mark, and reads the incident's updates for a
body it already posted, before making anything again."""

from __future__ import annotations

from typing import Any

import httpx

from bot import worker
from bot.config import WarroomConfig
from bot.domain.incident import Status
from bot.domain.status import Audience, ComponentState
from bot.jobs import Handler, JobKind
from bot.services.bundle import Services
from bot.store.tables import StatusUpdate

TIMEOUT = 10.0
STATES = {
    ComponentState.OPERATIONAL: "operational",
    ComponentState.DEGRADED: "degraded_performance",
    ComponentState.PARTIAL_OUTAGE: "partial_outage",
    ComponentState.MAJOR_OUTAGE: "major_outage",
}


class StatuspageError(Exception):
    def __init__(self, status: int, message: str, *, wait: float | None = None) -> None:
        super().__init__(f"Statuspage answered {status}: {message}")
        self.status = status
        self.wait = wait

    @property
    def permanent(self) -> bool:
        return self.wait is None and self.status < 500 and self.status != 408


def statuspage_failure(exc: BaseException) -> worker.Retry | None:
    """Rate limits wait as long as asked; bad keys and refused requests fail at once."""
    if isinstance(exc, StatuspageError):
        if exc.wait is not None:
            return worker.Retry(after=exc.wait, limit=None)
        return worker.Retry(limit=1) if exc.permanent else worker.TRANSIENT
    return None


class Statuspage:
    def __init__(
        self, api_key: str, page_id: str, *, api_url: str, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.page = page_id
        self.client = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            headers={"Authorization": f"OAuth {api_key}", "User-Agent": "warroom"},
            timeout=TIMEOUT,
            transport=transport,
        )

    async def find(self, mark: str) -> dict[str, Any] | None:
        """The unresolved incident an earlier attempt made for this mark."""
        found = await self._call("GET", f"/pages/{self.page}/incidents/unresolved")
        return next(
            (i for i in found if (i.get("metadata") or {}).get("warroom", {}).get("id") == mark), None
        )

    async def create(self, mark: str, name: str, fields: dict[str, Any]) -> dict[str, Any]:
        body = {"incident": {"name": name, "metadata": {"warroom": {"id": mark}}, **fields}}
        made: dict[str, Any] = await self._call("POST", f"/pages/{self.page}/incidents", json=body)
        return made

    async def get(self, incident: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._call("GET", f"/pages/{self.page}/incidents/{incident}")
        return found

    async def update(self, incident: str, fields: dict[str, Any]) -> dict[str, Any]:
        made: dict[str, Any] = await self._call(
            "PATCH", f"/pages/{self.page}/incidents/{incident}", json={"incident": fields}
        )
        return made

    async def close(self) -> None:
        await self.client.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise StatuspageError(503, f"unreachable ({type(exc).__name__})") from None
        if response.is_success:
            return response.json()
        try:
            message = str(response.json().get("error") or response.reason_phrase)
        except ValueError:
            message = response.reason_phrase
        wait = None
        if response.status_code in (420, 429):
            wait = max(float(response.headers.get("retry-after") or 1), 1.0)
        raise StatuspageError(response.status_code, message, wait=wait)


class StatuspageJobs:
    def __init__(self, statuspage: Statuspage | None, services: Services, config: WarroomConfig) -> None:
        self.statuspage = statuspage
        self.queries = services.queries
        self.updates = services.updates
        self.ids = {c.name: c.statuspage_id for c in config.status_page.components if c.statuspage_id}

    def handlers(self) -> dict[str, Handler]:
        return {JobKind.STATUSPAGE_SYNC: self.sync}

    async def sync(self, payload: dict[str, Any]) -> None:
        """Post the incident's public updates that Statuspage has not got yet, in order."""
        if self.statuspage is None:
            return  # STATUSPAGE_API_KEY was unset since the job was made
        number = int(payload["incident"])
        incident = await self.queries.get(number)
        if incident.public_id is None or incident.private or incident.drill:
            return
        updates = [u for u in await self.updates.of_incident(number) if u.audience == Audience.PUBLIC]
        waiting = [u for u in updates if u.statuspage_update_id is None]
        if not waiting:
            return
        remote, retry = incident.statuspage_id, worker.attempt.get() > 1
        if remote is None and retry and (found := await self.statuspage.find(incident.public_id)):
            remote = str(found["id"])  # an attempt that died made it
            await self.updates.posted_to_statuspage(number, remote)
        if remote is None:
            first = waiting.pop(0)
            name = incident.public_title or "Service disruption"
            made = await self.statuspage.create(incident.public_id, name, self._fields(first))
            remote = str(made["id"])
            await self.updates.posted_to_statuspage(number, remote, first.id, _newest(made))
        elif retry:
            taken = {u.statuspage_update_id for u in updates}
            waiting = await self._adopt(number, waiting, await self.statuspage.get(remote), remote, taken)
        for update in waiting:
            made = await self.statuspage.update(remote, self._fields(update))
            await self.updates.posted_to_statuspage(number, remote, update.id, _newest(made))

    async def _adopt(
        self,
        number: int,
        waiting: list[StatusUpdate],
        current: dict[str, Any],
        remote: str,
        taken: set[str | None],
    ) -> list[StatusUpdate]:
        """Updates an attempt that died posted before it could say so, matched by their body
        (oldest first); what is left to post."""
        left = list(waiting)
        for remote_update in reversed(current.get("incident_updates") or []):
            remote_id = str(remote_update["id"])
            match = next((u for u in left if u.message == remote_update.get("body")), None)
            if remote_id in taken or match is None:
                continue
            await self.updates.posted_to_statuspage(number, remote, match.id, remote_id)
            left.remove(match)
        return left

    def _fields(self, update: StatusUpdate) -> dict[str, Any]:
        status = Status(update.status)
        fields: dict[str, Any] = {
            "status": "resolved" if status in (Status.RESOLVED, Status.CLOSED) else status.value,
            "body": update.message,
            "deliver_notifications": True,
        }
        components = {
            self.ids[name]: STATES[ComponentState(state)]
            for name, state in update.components.items()
            if name in self.ids
        }
        if components:
            fields["components"] = components
            fields["component_ids"] = list(components)
        return fields


def _newest(incident: dict[str, Any]) -> str:
    updates = incident.get("incident_updates") or []
    return str(updates[0]["id"]) if updates else ""
