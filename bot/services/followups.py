"""Follow-ups that close: the work an incident leaves behind, each with an owner, a priority, a
due date (warroom.yaml `followups.due_after` by severity unless asked for) and a state (open,
done, won't do). Every change lands on the incident's timeline. The owner is reminded in the
incident channel when it comes due and each day it is overdue, until it is closed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.config import WarroomConfig
from bot.domain.followups import TITLE_MAX, FollowUpRequest, FollowUpState, due_at
from bot.domain.incident import DomainError
from bot.domain.metrics import format_duration
from bot.domain.text import storable
from bot.jobs import JobKind, reminder_queue
from bot.services.timeline import NotFound, Timeline
from bot.store import jobs
from bot.store.tables import FollowUp, Incident

OVERDUE_EVERY = timedelta(days=1)


class Followups:
    def __init__(self, timeline: Timeline, config: WarroomConfig) -> None:
        self.timeline = timeline
        self.db = timeline.db
        self.config = config
        self.command = config.slash_command

    async def add(
        self, number: int, request: FollowUpRequest, actor: str, *, key: str | None = None
    ) -> FollowUp:
        title = " ".join(storable(request.title).split())
        if not title:
            raise DomainError(
                f"What is the follow-up? `{self.command} followup Add an alert on queue depth @owner p1 due:14d`."
            )
        if len(title) > TITLE_MAX:
            raise DomainError(f"That follow-up is {len(title)} characters long; keep it under {TITLE_MAX}.")
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            now = self.timeline.clock()
            wanted = request.due or self.config.followups.due(incident.severity)
            item = FollowUp(
                incident_number=number,
                text=title,
                owner=request.owner,
                priority=request.priority,
                due_at=due_at(wanted, now, self.config.zone),
                created_by=actor,
                created_at=now,
            )
            session.add(item)
            await session.flush()
            whose = f", owner <@{request.owner}>" if request.owner else ""
            text = f"Follow-up ({item.priority}{whose}, due {self._day(item.due_at)}): {title}"
            key = await self.timeline.append(session, number, "followup", actor, text, now, key=key)
            await self.timeline.echo(session, number, key)
            await self._schedule(session, item, item.due_at)
        self.timeline.notify()
        return item

    async def close(
        self, followup_id: int, state: FollowUpState, actor: str, *, number: int | None = None
    ) -> FollowUp:
        """Done, won't do, or open again. `number`: the incident it must belong to (a button
        acts only on the incident of the channel it was clicked in)."""
        async with self.db.transaction() as session:
            item = await session.get(FollowUp, followup_id)
            if item is None or (number is not None and item.incident_number != number):
                raise NotFound(f"There is no follow-up {followup_id} in this incident.")
            await self.timeline.lock(session, item.incident_number)
            await session.refresh(item)
            if item.state == state:
                return item  # a second click: nothing more to do
            now = self.timeline.clock()
            item.state = state
            item.done_at, item.closed_by = (None, None) if state is FollowUpState.OPEN else (now, actor)
            text = f"Follow-up {state.words}: {item.text}"
            key = await self.timeline.append(session, item.incident_number, "followup", actor, text, now)
            await self.timeline.echo(session, item.incident_number, key)
            if state is FollowUpState.OPEN and item.due_at is not None:
                await self._schedule(session, item, max(item.due_at, now))
        self.timeline.notify()
        return item

    async def of_incident(self, number: int) -> list[FollowUp]:
        stmt = sa.select(FollowUp).where(col(FollowUp.incident_number) == number).order_by(col(FollowUp.id))
        async with self.db.sessions() as session:
            return list(await session.scalars(stmt))

    async def owned_by(self, user: str, *, limit: int = 20) -> list[FollowUp]:
        """A person's open follow-ups, overdue (soonest due) first."""
        stmt = (
            sa.select(FollowUp)
            .where(col(FollowUp.owner) == user, col(FollowUp.state) == FollowUpState.OPEN)
            .order_by(col(FollowUp.due_at).asc().nulls_last(), col(FollowUp.id))
            .limit(limit)
        )
        async with self.db.sessions() as session:
            return list(await session.scalars(stmt))

    async def overdue(self, now: datetime, *, limit: int = 40) -> list[tuple[FollowUp, Incident]]:
        """Open follow-ups past their due date, most overdue first, of public incidents (the
        digest goes to the announcement channel)."""
        stmt = (
            sa.select(FollowUp, Incident)
            .join(Incident, col(Incident.number) == col(FollowUp.incident_number))
            .where(
                col(FollowUp.state) == FollowUpState.OPEN,
                col(FollowUp.due_at) < now,
                col(Incident.private).is_(False),
            )
            .order_by(col(FollowUp.due_at), col(FollowUp.id))
            .limit(limit)
        )
        async with self.db.sessions() as session:
            return [(item, incident) for item, incident in await session.execute(stmt)]

    # ------------------------------------------------------------ reminders

    async def _schedule(self, session: AsyncSession, item: FollowUp, at: datetime | None) -> None:
        if at is None:
            return
        await jobs.enqueue(
            session,
            JobKind.REMINDER_FOLLOWUP,
            {"followup": item.id, "due": item.due_at.isoformat() if item.due_at else ""},
            queue=reminder_queue(f"followup:{item.id}"),
            run_at=at,
        )

    async def remind(self, payload: dict[str, Any]) -> None:
        """A scheduled job: the follow-up came due, or is still overdue a day later. Quiet once
        it is closed or its due date changed; at most one reminder a day."""
        now = self.timeline.clock()
        try:
            async with self.db.transaction() as session:
                item = await session.get(FollowUp, payload["followup"])
                if item is None or item.state != FollowUpState.OPEN or item.due_at is None:
                    return
                if item.due_at.isoformat() != payload["due"]:
                    return
                number = item.incident_number
                await self.timeline.lock(session, number)
                day = max((now - item.due_at).days, 0)
                whom = f"<@{item.owner}>" if item.owner else "Nobody owns it yet"
                late = now - item.due_at
                when = (
                    "is due now"
                    if late < timedelta(hours=1)
                    else f"is overdue by {format_duration(late.total_seconds())}"
                )
                text = (
                    f"{whom}: follow-up ({item.priority}) {when}: {item.text}. "
                    f"`{self.command} followups` marks it done or won't do."
                )
                key = f"followup-reminder:{item.id}:{payload['due']}:{day}"  # once a day, even retried
                await self.timeline.append(session, number, "reminder", None, text, now, key=key)
                await self.timeline.echo(session, number, key)
                await self._schedule(session, item, item.due_at + OVERDUE_EVERY * (day + 1))
        except IntegrityError:
            return
        self.timeline.notify()

    def _day(self, at: datetime | None) -> str:
        return f"{at.astimezone(self.config.zone):%Y-%m-%d}" if at else "whenever"
