"""Small helpers for end-to-end tests: run pending jobs, find the incident channel."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from bot.app import Warroom
from bot.sim.server import Channel, SlackSimulator
from bot.store.tables import Incident, Job, TimelineEvent


async def settle(warroom: Warroom, *, horizon: timedelta = timedelta(0)) -> int:
    """Run every job that is due (within `horizon`), as the worker would."""
    return await warroom.worker.run_until_idle(horizon=horizon)


async def incident_channel(warroom: Warroom, sim: SlackSimulator, number: int) -> Channel:
    incident = await warroom.service.get(number)
    assert incident.channel_id, f"incident #{number} has no channel"
    return sim.channels[incident.channel_id]


async def rows(warroom: Warroom, table: type, *where: sa.ColumnElement[bool]) -> list:
    async with warroom.db.sessions() as session:
        return list((await session.execute(sa.select(table).where(*where))).scalars())


async def timeline_kinds(warroom: Warroom, number: int) -> list[str]:
    return [e.kind for e in await warroom.service.timeline(number)]


async def count(warroom: Warroom, table: type) -> int:
    async with warroom.db.sessions() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


__all__ = [
    "Incident",
    "Job",
    "TimelineEvent",
    "count",
    "incident_channel",
    "rows",
    "settle",
    "timeline_kinds",
]
