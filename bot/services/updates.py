"""Stakeholder updates: what an incident tells the people outside its channel. One update is
one transaction: the timeline entry (echoed in the channel), the `status_update` row, a job
per stakeholder channel of the incident's severity, and for a public one the status page's
static copy and its Atlassian Statuspage incident. Resolving posts a final update."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.config import WarroomConfig
from bot.domain import incident as rules
from bot.domain.incident import DomainError
from bot.domain.status import (
    FINAL_MESSAGE,
    Audience,
    ComponentState,
    UpdateDraft,
    check_audience,
    clean_update,
    default_public_title,
    new_public_id,
    restored,
)
from bot.jobs import (
    STATUS_PAGE_QUEUE,
    JobKind,
    stakeholder_queue,
    statuspage_queue,
)
from bot.services.access import Access
from bot.services.reminders import Reminders
from bot.services.timeline import Timeline, current_roles, number_of
from bot.store import jobs
from bot.store.tables import Incident, StatusUpdate


@dataclass(frozen=True)
class Outlets:
    """Where public updates go besides the stakeholder channels (from the environment)."""

    static_copy: bool = False  # STATUS_PAGE_DIR is set
    statuspage: bool = False  # STATUSPAGE_API_KEY and STATUSPAGE_PAGE_ID are set


class Updates:
    def __init__(
        self,
        timeline: Timeline,
        reminders: Reminders,
        config: WarroomConfig,
        access: Access,
        outlets: Outlets,
    ) -> None:
        self.timeline = timeline
        self.db = timeline.db
        self.reminders = reminders
        self.config = config
        self.access = access
        self.outlets = outlets

    async def post(
        self, number: int, draft: UpdateDraft, actor: str, *, key: str | None = None
    ) -> StatusUpdate:
        """Send an update (`key`: its timeline entry's idempotency key, so that a retry of the
        same request sends it once)."""
        draft = clean_update(draft, self.config.status_page.names)
        async with self.db.sessions() as session:
            holders = (await current_roles(session, [number])).get(number, {})
        await self.access.check_update(actor, holders, number)
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            rules.require_open(incident, "send updates")
            if key and (earlier := await self._by_key(session, key)):
                return earlier
            check_audience(draft.audience, private=incident.private, number=number)
            update = await self.record(session, incident, draft, actor, self.timeline.clock(), key=key)
        self.timeline.notify()
        return update

    async def record(
        self,
        session: AsyncSession,
        incident: Incident,
        draft: UpdateDraft,
        actor: str,
        now: datetime,
        *,
        key: str | None = None,
        final: bool = False,
    ) -> StatusUpdate:
        """Store a checked update in the caller's transaction and enqueue where it goes."""
        number = number_of(incident)
        public = draft.audience is Audience.PUBLIC and not incident.private and not incident.drill
        if public and incident.public_id is None:
            incident.public_id = new_public_id()
            incident.public_title = draft.public_title or default_public_title(list(draft.components))
        elif public and draft.public_title:
            incident.public_title = draft.public_title
        text = update_text(draft, final=final, drill=incident.drill)
        event_key = await self.timeline.append(session, number, "update", actor, text, now, key=key)
        await self.timeline.echo(session, number, event_key)
        update = StatusUpdate(
            incident_number=number,
            at=now,
            actor=actor,
            message=draft.message,
            audience=draft.audience.value,
            status=incident.status,
            components={name: state.value for name, state in draft.components.items()},
            final=final,
            event_key=event_key,
        )
        session.add(update)
        await session.flush()
        assert update.id is not None
        incident.updated_at = now
        await self.reminders.reset_update_reminder(session, incident, now)
        if incident.drill or incident.private:
            return update  # a drill tells nobody; a private incident stays among its members
        for channel in self.config.stakeholder_channels(incident.severity):
            await jobs.enqueue(
                session,
                JobKind.SLACK_POST_UPDATE,
                {"incident": number, "update": update.id, "channel": channel},
                queue=stakeholder_queue(channel),
            )
        if public:
            await self.published(session, number)
        return update

    async def published(self, session: AsyncSession, number: int) -> None:
        """The status page changed: its static copy is written again, Statuspage follows."""
        if self.outlets.static_copy:
            await jobs.enqueue(session, JobKind.STATUS_PAGE_EXPORT, {}, queue=STATUS_PAGE_QUEUE)
        if self.outlets.statuspage:
            await jobs.enqueue(
                session, JobKind.STATUSPAGE_SYNC, {"incident": number}, queue=statuspage_queue(number)
            )

    async def final(
        self, session: AsyncSession, incident: Incident, actor: str, now: datetime, message: str | None
    ) -> StatusUpdate | None:
        """The update resolving posts (`message` None: the default one): every component
        still impaired is operational again. Posted when someone is listening: stakeholder
        channels for the severity, or a status page that showed the incident."""
        if not self.listened(incident):
            return None
        earlier = await self.of(session, number_of(incident))
        was_public = incident.public_id is not None
        draft = UpdateDraft(
            (message or FINAL_MESSAGE).strip() or FINAL_MESSAGE,
            Audience.PUBLIC if was_public else Audience.INTERNAL,
            restored(still_impaired(earlier)),
        )
        draft = clean_update(draft, self.config.status_page.names)
        return await self.record(session, incident, draft, actor, now, final=True)

    async def posted_to_statuspage(
        self, number: int, remote: str, update_id: int | None = None, remote_update: str | None = None
    ) -> None:
        """Remember the Statuspage incident made for this one, and which update it got."""
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            incident.statuspage_id = incident.statuspage_id or remote
            if update_id is not None and (row := await session.get(StatusUpdate, update_id)) is not None:
                row.statuspage_update_id = row.statuspage_update_id or remote_update

    def listened(self, incident: Incident) -> bool:
        """Whether anyone beyond the channel hears this incident's updates."""
        return incident.public_id is not None or bool(self.config.stakeholder_channels(incident.severity))

    async def of(self, session: AsyncSession, number: int) -> list[StatusUpdate]:
        rows = await session.scalars(
            sa.select(StatusUpdate)
            .where(col(StatusUpdate.incident_number) == number)
            .order_by(col(StatusUpdate.at), col(StatusUpdate.id))
        )
        return list(rows)

    async def of_incident(self, number: int) -> list[StatusUpdate]:
        async with self.db.sessions() as session:
            return await self.of(session, number)

    async def get(self, update_id: int) -> StatusUpdate:
        async with self.db.sessions() as session:
            update = await session.get(StatusUpdate, update_id)
        if update is None:
            raise DomainError(f"There is no update {update_id}.")
        return update

    async def current_states(self, number: int) -> dict[str, ComponentState]:
        """Each component's state as the incident's updates last named it."""
        async with self.db.sessions() as session:
            return latest_states(await self.of(session, number))

    async def _by_key(self, session: AsyncSession, key: str) -> StatusUpdate | None:
        return (
            await session.scalars(sa.select(StatusUpdate).where(col(StatusUpdate.event_key) == key))
        ).first()


def latest_states(updates: list[StatusUpdate]) -> dict[str, ComponentState]:
    states: dict[str, ComponentState] = {}
    for update in updates:
        states.update({name: ComponentState(state) for name, state in update.components.items()})
    return states


def still_impaired(updates: list[StatusUpdate]) -> list[str]:
    return [name for name, state in latest_states(updates).items() if state is not ComponentState.OPERATIONAL]


def update_text(draft: UpdateDraft, *, final: bool = False, drill: bool = False) -> str:
    """How the timeline (and so the channel and the post-mortem) records an update."""
    kind = "Final update" if final else "Update"
    audience = "public: stakeholders and the status page" if draft.audience is Audience.PUBLIC else "internal"
    if drill:
        audience = "drill: sent to nobody"
    states = "; ".join(f"{name}: {state.label.lower()}" for name, state in draft.components.items())
    return f"{kind} ({audience}): {draft.message}" + (f" [{states}]" if states else "")
