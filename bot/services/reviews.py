"""Post-mortems that get finished: each has a state (draft -> in review -> published), an
owner (the commander when the first draft is written, unless changed) and a due date (warroom.yaml
`postmortem.due_after`, per severity; drills have none). The owner is reminded before the due
date and each day it is overdue; publishing uploads the final version to the announcement
channel (a job) and records it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.config import WarroomConfig
from bot.domain.incident import DomainError
from bot.domain.metrics import format_duration
from bot.domain.reviews import ReviewState, check_review
from bot.jobs import JobKind, incident_queue, reminder_queue
from bot.services.timeline import CURRENT_COMMANDER, Timeline, number_of
from bot.store import jobs
from bot.store.tables import Incident, Postmortem

OVERDUE_EVERY = timedelta(days=1)  # at most one overdue reminder a day


class Reviews:
    def __init__(self, timeline: Timeline, config: WarroomConfig) -> None:
        self.timeline = timeline
        self.db = timeline.db
        self.config = config
        self.command = config.slash_command

    async def first_draft(self, session: AsyncSession, incident: Incident, now: datetime) -> None:
        """The first draft of an incident starts its review (in the caller's transaction)."""
        if incident.postmortem_state is not None:
            return
        number = number_of(incident)
        incident.postmortem_state = ReviewState.DRAFT
        incident.postmortem_owner = (await session.execute(CURRENT_COMMANDER, {"n": number})).scalar()
        if not incident.drill:
            incident.postmortem_due_at = now + self.config.postmortem.due(incident.severity)
            await self._schedule(session, incident, now)

    async def review(self, number: int, actor: str) -> Incident:
        return await self._move(number, ReviewState.IN_REVIEW, actor)

    async def publish(self, number: int, actor: str) -> Incident:
        return await self._move(number, ReviewState.PUBLISHED, actor)

    async def set_owner(self, number: int, owner: str, actor: str) -> Incident:
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            if incident.postmortem_state is None:
                raise DomainError(
                    f"There is no post-mortem draft yet: `{self.command} postmortem` writes one."
                )
            if incident.postmortem_state == ReviewState.PUBLISHED:
                raise DomainError("The post-mortem is published already; it has no owner to change.")
            incident.postmortem_owner = owner
            text = f"Post-mortem owner: <@{owner}>" + self._due_words(incident)
            await self.timeline.changed(session, incident, "postmortem", actor, text, self.timeline.clock())
        self.timeline.notify()
        return incident

    async def _move(self, number: int, wanted: ReviewState, actor: str) -> Incident:
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            state = ReviewState(incident.postmortem_state) if incident.postmortem_state else None
            check_review(state, wanted, self.command)
            now = self.timeline.clock()
            incident.postmortem_state = wanted
            version = incident.postmortem_version
            if wanted is ReviewState.PUBLISHED:
                incident.postmortem_published_at = now
                late = incident.postmortem_due_at is not None and now > incident.postmortem_due_at
                text = f"Post-mortem v{version} published" + (", late" if late else "")
                postmortem = await session.scalar(
                    sa.select(col(Postmortem.id)).where(
                        col(Postmortem.incident_number) == number, col(Postmortem.version) == version
                    )
                )
                await jobs.enqueue(
                    session,
                    JobKind.SLACK_PUBLISH_POSTMORTEM,
                    {"incident": number, "postmortem": postmortem},
                    queue=incident_queue(number),
                )
            else:
                text = f"Post-mortem v{version} is in review" + self._due_words(incident)
            await self.timeline.changed(session, incident, "postmortem", actor, text, now)
        self.timeline.notify()
        return incident

    def _due_words(self, incident: Incident) -> str:
        due = incident.postmortem_due_at
        return f" (due {due.astimezone(self.config.zone):%Y-%m-%d %H:%M %Z})" if due else ""

    # ------------------------------------------------------------ reminders

    async def _schedule(self, session: AsyncSession, incident: Incident, now: datetime) -> None:
        due = incident.postmortem_due_at
        assert due is not None
        number = number_of(incident)
        before = due - self.config.postmortem.remind_before
        for when, at in (("before", before), ("overdue", due)):
            if when == "before" and before <= now:
                continue
            await jobs.enqueue(
                session,
                JobKind.REMINDER_POSTMORTEM,
                {"incident": number, "due": due.isoformat(), "when": when},
                queue=reminder_queue(f"postmortem:{number}"),
                run_at=at,
            )

    async def remind(self, payload: dict[str, Any]) -> None:
        """A scheduled job: the owner is told the post-mortem is nearly due, or overdue (then
        again a day later while it stays unpublished). Quiet once it is published."""
        number, when = int(payload["incident"]), str(payload["when"])
        due = datetime.fromisoformat(str(payload["due"]))
        now = self.timeline.clock()
        try:
            async with self.db.transaction() as session:
                incident = await self.timeline.lock(session, number)
                if incident.postmortem_state == ReviewState.PUBLISHED or incident.postmortem_due_at != due:
                    return
                whom = f"<@{incident.postmortem_owner}>" if incident.postmortem_owner else "Commander"
                state = ReviewState(incident.postmortem_state or ReviewState.DRAFT).words
                if when == "before":
                    text = f"{whom}: the post-mortem of #{number} ({state}) is due in {format_duration((due - now).total_seconds())}."
                else:
                    text = f"{whom}: the post-mortem of #{number} ({state}) is overdue by {format_duration((now - due).total_seconds())}."
                text += f" `{self.command} postmortem review`, then `publish`, when it is ready."
                day = (now - due).days if when == "overdue" else -1
                key = f"postmortem-reminder:{number}:{due.isoformat()}:{when}:{day}"  # once, even retried
                await self.timeline.append(session, number, "reminder", None, text, now, key=key)
                await self.timeline.echo(session, number, key)
                if when == "overdue":
                    following = due + OVERDUE_EVERY * (day + 1)
                    await jobs.enqueue(
                        session,
                        JobKind.REMINDER_POSTMORTEM,
                        {"incident": number, "due": due.isoformat(), "when": "overdue"},
                        queue=reminder_queue(f"postmortem:{number}"),
                        run_at=following,
                    )
        except IntegrityError:
            return  # this reminder was given already (a retry after a crash)
        self.timeline.notify()

    # ------------------------------------------------------------ reads

    async def owned_by(self, user: str) -> list[Incident]:
        """The post-mortems a person owns that are not published, soonest due first."""
        stmt = (
            sa.select(Incident)
            .where(
                col(Incident.postmortem_owner) == user,
                col(Incident.postmortem_state).in_([ReviewState.DRAFT, ReviewState.IN_REVIEW]),
            )
            .order_by(col(Incident.postmortem_due_at).asc().nulls_last(), col(Incident.number))
            .limit(20)
        )
        async with self.db.sessions() as session:
            return list(await session.scalars(stmt))
