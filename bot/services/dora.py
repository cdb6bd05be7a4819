"""DORA figures over a period (definitions in bot/domain/dora.py): the changes and the
incidents that name one as their cause, read once, computed in the domain."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, tzinfo

import sqlalchemy as sa

from bot.domain.dora import CausedIncident, DoraReport, dora
from bot.domain.metrics import MAX_PERIOD
from bot.services.changes import ChangeService
from bot.store.tables import Incident, utcnow

INCIDENT = Incident.__table__.c  # type: ignore[attr-defined]


class DoraService:
    def __init__(self, changes: ChangeService, zone: tzinfo) -> None:
        self.changes = changes
        self.db = changes.db
        self.zone = zone

    async def report(
        self,
        since: timedelta,
        by: str | None = None,
        *,
        now: datetime | None = None,
        include_private: bool = False,
    ) -> DoraReport:
        end = now or utcnow()
        start = end - min(since, MAX_PERIOD)
        changes = await self.changes.deploys(start, end)
        async with self.db.sessions() as session:
            caused = sa.select(
                INCIDENT.number,
                INCIDENT.started_at,
                INCIDENT.resolved_at,
                INCIDENT.cause_change,
                INCIDENT.drill,
            ).where(
                INCIDENT.cause_change.is_not(None), INCIDENT.started_at >= start, INCIDENT.started_at <= end
            )
            if not include_private:
                caused = caused.where(INCIDENT.private.is_(False))
            incidents = [CausedIncident(*row) for row in await session.execute(caused)]
            causes = await session.scalars(
                sa.select(INCIDENT.cause_change)
                .where(INCIDENT.cause_change.is_not(None), INCIDENT.drill.is_(False))
                .distinct()
            )
            blamed = [c for c in causes if c]
        return await asyncio.to_thread(dora, changes, incidents, blamed, start, end, self.zone, by)
