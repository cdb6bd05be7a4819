"""The follow-up tracker's jobs: make a follow-up's ticket (exactly one: a retry first looks
for the ticket an earlier attempt made, by the marker in its body), close or reopen it when
the follow-up changes in Slack, and reconcile tickets with follow-ups where no webhook came."""

from __future__ import annotations

from typing import Any

from bot import worker
from bot.config import WarroomConfig
from bot.domain.followups import FollowUpState
from bot.domain.people import Names
from bot.integrations.trackers import TicketDraft, Tracker, TrackerError
from bot.jobs import Handler, JobKind
from bot.services.bundle import Services
from bot.store.tables import FollowUp, Incident


class TrackerJobs:
    def __init__(self, tracker: Tracker | None, services: Services, config: WarroomConfig) -> None:
        self.tracker = tracker
        self.followups = services.followups
        self.queries = services.queries
        self.people = services.people
        self.config = config

    def handlers(self) -> dict[str, Handler]:
        return {
            JobKind.TRACKER_CREATE: self.create,
            JobKind.TRACKER_SYNC: self.sync,
            JobKind.TRACKER_RECONCILE: self.reconcile,
        }

    def _connected(self) -> Tracker:
        if self.tracker is None:  # the configuration changed since the job was made
            raise TrackerError("tracker", 400, "followups.tracker is none: no ticket to make")
        return self.tracker

    async def create(self, payload: dict[str, Any]) -> None:
        tracker = self._connected()
        item = await self.followups.get(payload["followup"])
        if item.ticket_key is not None or item.id is None:
            return
        ticket = await tracker.find(item.id) if worker.attempt.get() > 1 else None
        if ticket is None:
            incident = await self.queries.get(item.incident_number)
            names = await self.people.names([item.owner])
            ticket = await tracker.create(self._draft(item, incident, names))
        await self.followups.record_ticket(item.id, ticket.key, ticket.url)
        current = await self.followups.get(item.id)
        if current.state != FollowUpState.OPEN and ticket.open:  # closed in Slack meanwhile
            await tracker.set_open(ticket.key, False, done=current.state == FollowUpState.DONE)

    async def sync(self, payload: dict[str, Any]) -> None:
        tracker = self._connected()
        item = await self.followups.get(payload["followup"])
        if item.ticket_key is None:
            return  # its create job has not run yet; it closes the ticket if it must
        is_open = item.state == FollowUpState.OPEN
        ticket = await tracker.get(item.ticket_key)
        if ticket.open != is_open:
            await tracker.set_open(item.ticket_key, is_open, done=item.state == FollowUpState.DONE)

    async def reconcile(self, payload: dict[str, Any]) -> None:
        """Hourly: a ticket closed or reopened without a webhook reaching warroom."""
        tracker = self._connected()
        for item in await self.followups.tracked_items():
            assert item.ticket_key is not None
            ticket = await tracker.get(item.ticket_key)
            if ticket.open != (item.state == FollowUpState.OPEN):
                await self.followups.ticket_changed(item.ticket_key, ticket.open, f"{tracker.name}:reconcile")

    def _draft(self, item: FollowUp, incident: Incident, names: Names) -> TicketDraft:
        owner = names.name(item.owner) if item.owner else "nobody yet"
        due = f"{item.due_at:%Y-%m-%d}" if item.due_at else "none"
        links = []
        if incident.channel_id:
            links.append(f"- Incident channel: https://slack.com/app_redirect?channel={incident.channel_id}")
        if incident.postmortem_url:
            links.append(f"- Post-mortem: {incident.postmortem_url}")
        body = "\n".join(
            [
                f"A follow-up of incident #{incident.number}, *{incident.title}* ({incident.severity}).",
                "",
                f"- Priority: {item.priority}",
                f"- Owner in Slack: {owner}",
                f"- Due: {due}",
                *links,
                "",
                "Closing this issue marks the follow-up done in warroom; reopening it reopens it.",
            ]
        )
        labels = list(self._labels(incident))
        return TicketDraft(item.id or 0, item.text, body, labels)

    @staticmethod
    def _labels(incident: Incident) -> list[str]:
        """The incident's labels on its tickets (each adapter adds the configured ones)."""
        return [f"severity:{incident.severity}"] + (
            [f"service:{incident.service}"] if incident.service else []
        )
