"""The job that brings a stakeholder update to one stakeholder channel: posted once (a retry
finds the message an earlier attempt posted, by its metadata)."""

from __future__ import annotations

from typing import Any

from bot.jobs import Handler, JobKind
from bot.services.bundle import Services
from bot.slack import blocks
from bot.slack.ids import Marker
from bot.slack.projector import SlackProjector
from bot.slack.writer import marker


class SlackUpdates:
    def __init__(self, projector: SlackProjector, services: Services) -> None:
        self.writer = projector.writer
        self.queries = services.queries
        self.updates = services.updates
        self.people = services.people

    def handlers(self) -> dict[str, Handler]:
        return {JobKind.SLACK_POST_UPDATE: self.post_update}

    async def post_update(self, payload: dict[str, Any]) -> None:
        update = await self.updates.get(payload["update"])
        incident = await self.queries.get(update.incident_number)
        author = (await self.people.names([update.actor])).name(update.actor)
        await self.writer.post_once(
            str(payload["channel"]),
            marker(Marker.UPDATE, update=update.id),
            text=blocks.stakeholder_text(incident, update),
            blocks=blocks.stakeholder_blocks(incident, update, author),
            unfurl_links=False,
        )
