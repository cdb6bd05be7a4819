"""Reads for the status page and the availability figures. The status page reads only the
public record (public updates of incidents that are neither private nor drills); the
availability report reads every update of every incident but drills."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.config import WarroomConfig
from bot.domain.availability import AvailabilityReport, ImpactFacts, availability
from bot.domain.incident import Status
from bot.domain.status import Audience, ComponentState
from bot.domain.status_page import (
    HISTORY_DAYS,
    ComponentInfo,
    IncidentRecord,
    PageView,
    PublicUpdate,
    build_page,
)
from bot.store.db import Database
from bot.store.tables import Incident, StatusUpdate, utcnow

_I, _U = Incident.__table__.c, StatusUpdate.__table__.c  # type: ignore[attr-defined]
JOINED = StatusUpdate.__table__.join(Incident.__table__, _U.incident_number == _I.number)  # type: ignore[attr-defined]
PUBLIC_ROWS = (
    sa.select(
        _I.public_id,
        _I.public_title,
        _I.status,
        _I.service,
        _I.started_at,
        _I.resolved_at,
        _U.at,
        _U.status.label("update_status"),
        _U.message,
        _U.components,
        _U.final,
    )
    .select_from(JOINED)
    .where(
        _U.audience == Audience.PUBLIC.value,
        _I.public_id.is_not(None),
        sa.not_(_I.private),
        sa.not_(_I.drill),
    )
    .order_by(_U.at, _U.id)
)


class StatusPageReads:
    def __init__(
        self, db: Database, config: WarroomConfig, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.components = [ComponentInfo(c.spec, c.description) for c in config.status_page.components]

    async def page(self, now: datetime | None = None) -> PageView:
        now = now or self.clock()
        since = now - timedelta(days=HISTORY_DAYS + 1)
        stmt = PUBLIC_ROWS.where(sa.or_(_I.resolved_at.is_(None), _I.resolved_at >= since))
        records = await self._records(stmt)
        page = self.config.status_page
        return build_page(page.title, self.components, records, now, self.config.zone, page.past_days)

    async def incident(self, public_id: str) -> IncidentRecord | None:
        records = await self._records(PUBLIC_ROWS.where(_I.public_id == public_id))
        return records[0] if records else None

    async def version(self) -> tuple[Any, ...]:
        """Changes whenever anything the page shows may have: cheap to ask on every request."""
        async with self.db.sessions() as session:
            row = (
                await session.execute(
                    sa.select(sa.func.max(_U.id), sa.func.count(_U.id), sa.func.max(_I.updated_at))
                    .select_from(JOINED)
                    .where(_I.public_id.is_not(None))
                )
            ).one()
        return tuple(row)

    async def _records(self, stmt: sa.Select[Any]) -> list[IncidentRecord]:
        async with self.db.sessions() as session:
            rows = (await session.execute(stmt)).all()
        grouped: dict[str, list[Any]] = {}
        for row in rows:
            grouped.setdefault(row.public_id, []).append(row)
        return [
            IncidentRecord(
                public_id,
                group[0].public_title or "Service disruption",
                Status(group[0].status),
                group[0].service,
                group[0].started_at,
                group[0].resolved_at,
                [
                    PublicUpdate(
                        r.at,
                        Status(r.update_status),
                        r.message,
                        {name: ComponentState(s) for name, s in (r.components or {}).items()},
                        bool(r.final),
                    )
                    for r in group
                ],
            )
            for public_id, group in grouped.items()
        ]


class AvailabilityReads:
    """The availability figures per component: every update of every incident but drills."""

    def __init__(
        self, db: Database, config: WarroomConfig, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock

    async def report(
        self, since: timedelta, *, include_private: bool = True, now: datetime | None = None
    ) -> AvailabilityReport:
        """The figures of the period `since` long that ends now; private incidents count
        unless the reader may not see them (an API token of scope read)."""
        end = now or self.clock()
        start = end - since
        stmt = (
            sa.select(_I.number, _I.service, _I.started_at, _I.resolved_at, _U.at, _U.components)
            .select_from(JOINED)
            .where(
                sa.not_(_I.drill),
                sa.or_(_I.resolved_at.is_(None), _I.resolved_at >= start),
                _I.started_at < end,
            )
            .order_by(_U.at, _U.id)
        )
        if not include_private:
            stmt = stmt.where(sa.not_(_I.private))
        async with self.db.sessions() as session:
            rows = (await session.execute(stmt)).all()
        grouped: dict[int, list[Any]] = {}
        for row in rows:
            grouped.setdefault(row.number, []).append(row)
        facts = [
            ImpactFacts(
                g[0].service,
                g[0].started_at,
                g[0].resolved_at,
                [(r.at, {n: ComponentState(s) for n, s in (r.components or {}).items()}) for r in g],
            )
            for g in grouped.values()
        ]
        figures = [availability(c.spec, facts, start, end) for c in self.config.status_page.components]
        return AvailabilityReport(start, end, self.config.zone, figures)
