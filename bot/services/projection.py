"""What the Slack adapter reports back and asks for: the ids of what it made in Slack (so a
retry does not make it again), a pinned message for the timeline, a Slack event that needs
Slack work (a job, once per delivery), and warroom's own remarks."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot import observability
from bot.jobs import JobKind, home_queue, incident_queue
from bot.services.timeline import NotFound, Timeline
from bot.store.tables import Incident, TimelineEvent

PROJECTION_FIELDS = frozenset(
    {
        "channel_id",
        "channel_name",
        "summary_ts",
        "announcement_channel_id",
        "announcement_ts",
        "slack_topic",
        "alerts_ts",
        "postmortem_url",
    }
)


class Projection:
    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline

    async def record_pinned_message(
        self, number: int, *, channel: str, ts: str, author: str | None, text: str, pinned_by: str
    ) -> bool:
        """Put a pinned Slack message on the timeline at its original time, once."""
        key = f"pin:{channel}:{ts}"
        at = datetime.fromtimestamp(float(ts), tz=UTC)
        source = f"slack:{channel}:{ts}"
        try:
            async with self.timeline.db.transaction() as session:
                if await session.scalar(
                    sa.select(col(TimelineEvent.id)).where(col(TimelineEvent.idempotency_key) == key)
                ):
                    return False
                pinned = f"Pinned by <@{pinned_by}>: {text}" if author is None else text
                await self.timeline.append(
                    session, number, "pinned", author or pinned_by, pinned, at, key=key, source=source
                )
        except IntegrityError:
            return False
        return True

    async def add_system_note(self, number: int, text: str) -> None:
        """warroom's own remarks (a Slack update that failed for good, ...): timeline only."""
        async with self.timeline.db.transaction() as session:
            await self.timeline.append(session, number, "system", None, text, self.timeline.clock())

    async def record_projection(self, number: int, **fields: str) -> Incident:
        """Remember what was done in Slack (channel id, message ts, topic) for idempotency."""
        unknown = set(fields) - PROJECTION_FIELDS
        if unknown:
            raise ValueError(f"not projection fields: {sorted(unknown)}")
        async with self.timeline.db.transaction() as session:
            stmt = (
                sa.update(Incident).where(col(Incident.number) == number).values(fields).returning(Incident)
            )
            incident = (await session.execute(stmt)).scalar_one_or_none()
        if incident is None:
            raise NotFound(f"There is no incident #{number}.")
        observability.incident.set(number)  # what this request's log lines are about
        return incident

    async def request_pin(self, number: int, *, channel: str, ts: str, user: str, delivery: str) -> bool:
        """A :pushpin: reaction: fetching the message is Slack work, so it becomes a job."""
        return await self.timeline.once(
            delivery,
            JobKind.SLACK_RECORD_PIN,
            {"incident": number, "channel": channel, "ts": ts, "user": user},
            queue=incident_queue(number),
        )

    async def request_catchup(self, number: int, user: str, *, delivery: str) -> bool:
        """Someone joined the incident channel: show them the catch-up digest (a job)."""
        payload = {"incident": number, "user": user}
        return await self.timeline.once(
            delivery, JobKind.SLACK_CATCHUP, payload, queue=incident_queue(number)
        )

    async def request_home(self, user: str, *, delivery: str) -> bool:
        return await self.timeline.once(
            delivery, JobKind.SLACK_PUBLISH_HOME, {"user": user}, queue=home_queue(user)
        )

    # ----------------------------------------------------------------- queries
