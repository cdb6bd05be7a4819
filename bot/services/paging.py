"""Paging through PagerDuty: which routing key a service pages with, the page's bookkeeping
(one open page per service and incident, resolved with the incident), and the job that sends
it. The PagerDuty adapter (bot/integrations/pagerduty.py) only talks to PagerDuty."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlmodel import col

from bot.config import WarroomConfig
from bot.domain import incident as rules
from bot.domain.incident import DomainError
from bot.jobs import JobKind, TriggerJob, incident_queue
from bot.services.timeline import Timeline
from bot.store import jobs
from bot.store.tables import PagerDutyPage

SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
# Whether an incident has pages still open (resolving it resolves them).
OPEN_PAGES = sa.select(sa.func.count()).where(
    PagerDutyPage.__table__.c.incident_number == sa.bindparam("n"),  # type: ignore[attr-defined]
    PagerDutyPage.__table__.c.resolved_at.is_(None),  # type: ignore[attr-defined]
)


class Paging:
    def __init__(self, timeline: Timeline, config: WarroomConfig, default_routing_key: str | None) -> None:
        self.timeline = timeline
        self.db = timeline.db
        self.config = config
        self.default_routing_key = default_routing_key or None  # for services without their own key

    def routing_key(self, service: str) -> str | None:
        """The Events API key a service is paged with: its own, else PAGERDUTY_ROUTING_KEY."""
        mapped = self.config.pagerduty.services.get(service)
        return (mapped.routing_key if mapped else None) or self.default_routing_key

    async def page_service(self, number: int, service: str, actor: str, *, key: str | None = None) -> None:
        """Page a service through PagerDuty's Events API v2 (a job), keyed to this incident."""
        service = service.strip().lower()
        if not SERVICE_NAME.fullmatch(service):
            raise DomainError(f"`{service[:40]}` is not a service name; page a service or mention a person.")
        dedup_key = f"warroom-{number}-{service}"
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            rules.require_open(incident, "page anyone")
            if incident.drill:
                raise DomainError("This is a drill: it pages nobody. Mention a person to pull them in.")
            routing_key = self.routing_key(service)
            if not routing_key:
                raise DomainError(
                    f"There is no PagerDuty routing key for `{service}`: set pagerduty.services.{service}.routing_key "
                    "in warroom.yaml, or PAGERDUTY_ROUTING_KEY."
                )
            paged = await session.scalar(
                sa.select(col(PagerDutyPage.id)).where(
                    col(PagerDutyPage.dedup_key) == dedup_key, col(PagerDutyPage.resolved_at).is_(None)
                )
            )
            if paged:
                raise DomainError(f"`{service}` is already paged for this incident.")
            now = self.timeline.clock()
            page = PagerDutyPage(
                incident_number=number, service=service, dedup_key=dedup_key, paged_by=actor, paged_at=now
            )
            session.add(page)
            await session.flush()
            assert page.id is not None
            key = await self.timeline.append(
                session, number, "page", actor, f"Paged `{service}` in PagerDuty", now, key=key
            )
            await self.timeline.echo(session, number, key)
            payload: TriggerJob = {"incident": number, "page": page.id, "routing_key": routing_key}
            await jobs.enqueue(
                session, JobKind.PAGERDUTY_TRIGGER, dict(payload), queue=incident_queue(number)
            )
        self.timeline.notify()

    async def open_pages(self, number: int) -> list[PagerDutyPage]:
        stmt = sa.select(PagerDutyPage).where(
            col(PagerDutyPage.incident_number) == number, col(PagerDutyPage.resolved_at).is_(None)
        )
        async with self.db.sessions() as session:
            return list((await session.execute(stmt)).scalars())

    async def mark_page_resolved(self, page_id: int) -> None:
        async with self.db.transaction() as session:
            page = await session.get(PagerDutyPage, page_id)
            if page is not None and page.resolved_at is None:
                page.resolved_at = self.timeline.clock()
