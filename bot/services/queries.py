"""Reading incidents: one incident, a channel's, lists, roles, timelines, who may see what.
Reads take no lock and change nothing; every use case that writes is elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col

from bot.config import WarroomConfig
from bot.domain.incident import ACTIVE, DomainError, Status
from bot.services.people import People
from bot.services.timeline import NotFound, current_roles
from bot.store.db import Database
from bot.store.tables import Incident, RoleAssignment, TimelineEvent
from bot.store.work_tables import Job


@dataclass(frozen=True)
class Holder:
    """Who holds a role: the Slack id, and how a document names them."""

    user: str
    name: str


class IncidentQueries:
    def __init__(self, db: Database, config: WarroomConfig, people: People | None = None) -> None:
        self.db = db
        self.config = config
        self.people = people or People(db)

    async def health_counts(self) -> tuple[int, int, int]:
        """Jobs pending, jobs failed for good, incidents not resolved: for /metrics."""
        pending = (
            sa.select(sa.func.count())
            .select_from(Job)
            .where(col(Job.done_at).is_(None), col(Job.failed_at).is_(None))
        )
        failed = sa.select(sa.func.count()).select_from(Job).where(col(Job.failed_at).is_not(None))
        unresolved = (
            sa.select(sa.func.count()).select_from(Incident).where(col(Incident.status).in_(sorted(ACTIVE)))
        )
        async with self.db.sessions() as session:
            return (
                await session.scalar(pending) or 0,
                await session.scalar(failed) or 0,
                await session.scalar(unresolved) or 0,
            )

    async def get(self, number: int) -> Incident:
        async with self.db.sessions() as session:
            incident = await session.get(Incident, number)
        if incident is None:
            raise NotFound(f"There is no incident #{number}.")
        return incident

    async def acted_on(self, number: int, viewer: str, channel: str | None) -> Incident:
        """The incident a click or form submission names, if it may act on it: a button acts
        only on the incident of the channel it was clicked in, and nobody acts on an incident
        they may not see (it is "not there" for them)."""
        incident = await self.get(number)
        if not await self.may_see(incident, viewer):
            raise NotFound(f"There is no incident #{number}.")
        if channel is not None and incident.channel_id != channel:
            raise DomainError(
                f"That button does not belong to this channel: nothing was changed on #{number}."
            )
        return incident

    async def by_channel(self, channel_id: str) -> Incident | None:
        async with self.db.sessions() as session:
            return (
                await session.execute(sa.select(Incident).where(col(Incident.channel_id) == channel_id))
            ).scalar_one_or_none()

    async def list_incidents(
        self, *, open_only: bool = True, limit: int = 100, viewer: str | None = None
    ) -> list[Incident]:
        """Newest first. With a `viewer`, private incidents only if they are a member; the
        operator's command line passes none and sees everything."""
        stmt = sa.select(Incident).order_by(col(Incident.number).desc()).limit(limit)
        if open_only:
            stmt = stmt.where(col(Incident.status) != Status.CLOSED.value)
        if viewer is not None:
            stmt = stmt.where(visible_to(viewer, self.config.access.admins))
        async with self.db.sessions() as session:
            return list((await session.execute(stmt)).scalars())

    async def may_see(self, incident: Incident, viewer: str) -> bool:
        stmt = sa.select(col(Incident.number)).where(
            col(Incident.number) == incident.number, visible_to(viewer, self.config.access.admins)
        )
        async with self.db.sessions() as session:
            return await session.scalar(stmt) is not None

    async def roles(self, numbers: list[int]) -> dict[int, dict[str, str]]:
        """Current role holders per incident: {number: {role: user}}."""
        if not numbers:
            return {}
        async with self.db.sessions() as session:
            return await current_roles(session, numbers)

    async def named_roles(self, numbers: list[int]) -> dict[int, dict[str, Holder]]:
        """Current role holders with their names (for readers outside Slack)."""
        roles = await self.roles(numbers)
        names = await self.people.names(user for held in roles.values() for user in held.values())
        return {
            n: {role: Holder(user, names[user]) for role, user in held.items()} for n, held in roles.items()
        }

    async def role_history(self, number: int) -> list[RoleAssignment]:
        stmt = (
            sa.select(RoleAssignment)
            .where(col(RoleAssignment.incident_number) == number)
            .order_by(col(RoleAssignment.id))
        )
        async with self.db.sessions() as session:
            return list((await session.execute(stmt)).scalars())

    async def timeline(
        self, number: int, *, offset: int = 0, limit: int | None = None
    ) -> list[TimelineEvent]:
        """In time order; a page of it with `offset` and `limit`."""
        stmt = (
            sa.select(TimelineEvent)
            .where(col(TimelineEvent.incident_number) == number)
            .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
            .offset(offset)
            .limit(limit)
        )
        async with self.db.sessions() as session:
            return list((await session.execute(stmt)).scalars())

    async def event_by_key(self, key: str) -> TimelineEvent | None:
        stmt = sa.select(TimelineEvent).where(col(TimelineEvent.idempotency_key) == key)
        async with self.db.sessions() as session:
            return (await session.execute(stmt)).scalar_one_or_none()


def visible_to(viewer: str, admins: list[str]) -> sa.ColumnElement[bool]:
    """Public incidents, and private ones the viewer belongs to: who declared it, who held or
    holds a role in it, and admins. (The same people warroom invites to its channel.)"""
    if viewer in admins:
        return sa.true()
    held_a_role = sa.select(col(RoleAssignment.incident_number)).where(col(RoleAssignment.user_id) == viewer)
    return sa.or_(
        col(Incident.private).is_(False),
        col(Incident.reporter_id) == viewer,
        col(Incident.number).in_(held_a_role),
    )
