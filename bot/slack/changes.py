"""The job that answers "what changed?" in a new incident's channel: one message listing its
service's changes from before it started, each with a Suspect button (when there are none,
the summary says so instead: a storm of incidents costs no extra Slack calls)."""

from __future__ import annotations

from typing import Any

from bot.config import WarroomConfig
from bot.jobs import Handler, JobKind
from bot.services.bundle import Services
from bot.slack import blocks
from bot.slack.ids import Marker
from bot.slack.projector import SlackProjector, channel_of
from bot.slack.writer import marker


class SlackChanges:
    def __init__(self, projector: SlackProjector, services: Services, config: WarroomConfig) -> None:
        self.writer = projector.writer
        self.queries = services.queries
        self.changes = services.changes
        self.config = config

    def handlers(self) -> dict[str, Handler]:
        return {JobKind.SLACK_POST_CHANGES: self.post_changes}

    async def post_changes(self, payload: dict[str, Any]) -> None:
        incident = await self.queries.get(payload["incident"])
        channel = channel_of(incident)
        found = await self.changes.for_incident(incident)
        if not found.suspects:
            return
        await self.writer.post_once(
            channel,
            marker(Marker.CHANGES, incident=incident.number),
            text=blocks.changes_text(incident, found),
            blocks=blocks.changes_blocks(incident, found, self.config.changes.lookback),
            unfurl_links=False,
        )
