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
from bot.jobs import JobKind, reminder_queue, tracker_queue
from bot.services.timeline import NotFound, Timeline, first_time
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
            await self._tracker_job(session, JobKind.TRACKER_CREATE, item)
        self.timeline.notify()
        return item

    @property
    def tracked(self) -> bool:
        return self.config.followups.tracker != "none"

    async def _tracker_job(self, session: AsyncSession, kind: JobKind, item: FollowUp) -> None:
        if self.tracked:
            payload = {"incident": item.incident_number, "followup": item.id}
            await jobs.enqueue(session, kind, payload, queue=tracker_queue(item.id or 0))

    async def close(
        self,
        followup_id: int,
        state: FollowUpState,
        actor: str,
        *,
        number: int | None = None,
        from_tracker: str | None = None,
    ) -> FollowUp:
        """Done, won't do, or open again. `number`: the incident it must belong to (a button
        acts only on the incident of the channel it was clicked in). `from_tracker`: the ticket
        changed upstream (its key), so the tracker is not told again."""
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
            if from_tracker:
                text += f" ({from_tracker} {'reopened' if state is FollowUpState.OPEN else 'closed'} in the tracker)"
            key = await self.timeline.append(session, item.incident_number, "followup", actor, text, now)
            await self.timeline.echo(session, item.incident_number, key)
            if state is FollowUpState.OPEN and item.due_at is not None:
                await self._schedule(session, item, max(item.due_at, now))
            if not from_tracker:
                await self._tracker_job(session, JobKind.TRACKER_SYNC, item)
        self.timeline.notify()
        return item

    async def get(self, followup_id: int) -> FollowUp:
        async with self.db.sessions() as session:
            item = await session.get(FollowUp, followup_id)
        if item is None:
            raise NotFound(f"There is no follow-up {followup_id}.")
        return item

    async def record_ticket(self, followup_id: int, key: str, url: str) -> None:
        """The tracker made the follow-up's ticket: remember it, and say so on the timeline."""
        async with self.db.transaction() as session:
            item = await session.get(FollowUp, followup_id)
            if item is None or item.ticket_key is not None:
                return
            await self.timeline.lock(session, item.incident_number)
            item.ticket_key, item.ticket_url = key, url
            text = f"Follow-up ticket {key}: {item.text}"
            await self.timeline.append(
                session, item.incident_number, "followup", "warroom", text, self.timeline.clock()
            )

    async def ticket_changed(
        self, key: str, is_open: bool, actor: str, *, delivery: str | None = None
    ) -> bool:
        """The ticket was closed or reopened in the tracker (a webhook, or the reconcile job):
        the follow-up follows, once per delivery. False when nothing changed."""
        async with self.db.sessions() as session:
            item = await session.scalar(sa.select(FollowUp).where(col(FollowUp.ticket_key) == key))
        if item is None or item.id is None:
            return False
        if is_open == (item.state == FollowUpState.OPEN):
            return False
        if delivery is not None:
            async with self.db.transaction() as session:
                try:
                    if not await first_time(session, delivery, self.timeline.clock()):
                        return False
                except IntegrityError:
                    return False
        wanted = FollowUpState.OPEN if is_open else FollowUpState.DONE
        await self.close(item.id, wanted, actor, from_tracker=key)
        return True

    async def tracked_items(self, *, limit: int = 200) -> list[FollowUp]:
        """Follow-ups with a ticket, newest first (what the reconcile job compares)."""
        stmt = (
            sa.select(FollowUp)
            .where(col(FollowUp.ticket_key).is_not(None))
            .order_by(col(FollowUp.id).desc())
            .limit(limit)
        )
        async with self.db.sessions() as session:
            return list(await session.scalars(stmt))

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
                if self.config.followups.quiet_weekends and now.astimezone(self.config.zone).weekday() >= 5:
                    await self._schedule(session, item, item.due_at + OVERDUE_EVERY * (day + 1))
                    return  # quiet on Saturdays and Sundays: the next day's job speaks
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
