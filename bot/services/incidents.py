"""Incident use cases. Each public method is one transaction: it applies the domain rules,
appends to the timeline and enqueues the Slack work that projects the change, then commits.
Reads are in queries.py; the toolkit every service shares (lock, append, echo) in
timeline.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot import observability
from bot.config import WarroomConfig
from bot.domain import incident as rules
from bot.domain.incident import COMMANDER, DomainError, Status
from bot.jobs import JobKind, incident_queue, postmortem_queue
from bot.runbook_files import RunbookFile
from bot.services.access import Access
from bot.services.paging import OPEN_PAGES
from bot.services.queries import IncidentQueries
from bot.services.reminders import Reminders
from bot.services.runbooks import RunbookService
from bot.services.timeline import (
    CURRENT_COMMANDER,
    INSERT_ROLE_ASSIGNMENT,
    Timeline,
    number_of,
)
from bot.services.updates import Updates
from bot.store import jobs
from bot.store.tables import Incident, RoleAssignment, RunbookRun

# Hot-path writes are Core statements built once and run with a parameter dict: no ORM unit
# of work and no per-call statement construction (together most of a declare's CPU time).
INSERT_INCIDENT = sa.insert(Incident.__table__).returning(Incident.__table__.c.number)  # type: ignore[attr-defined]


class IncidentService:
    def __init__(
        self,
        timeline: Timeline,
        queries: IncidentQueries,
        reminders: Reminders,
        runbooks: RunbookService,
        config: WarroomConfig,
        updates: Updates,
        *,
        access: Access | None = None,
    ) -> None:
        self.timeline = timeline
        self.updates = updates
        self.queries = queries
        self.reminders = reminders
        self.runbooks = runbooks
        self.db = timeline.db
        self.clock = timeline.clock
        self.config = config
        self.access = access or Access(config.access, _no_members, limits=config.limits)

    # ----------------------------------------------------------------- commands

    def new_incident(
        self,
        *,
        title: str,
        reporter: str,
        severity: str | None = None,
        commander: str | None = None,
        description: str | None = None,
        declare_key: str | None = None,
        service: str | None = None,
        started_at: datetime | None = None,
        drill: bool = False,
        private: bool = False,
    ) -> Incident:
        """Check and build an incident to declare (not stored yet)."""
        now = self.clock()
        incident = Incident(
            title=rules.clean_title(title),
            severity=rules.parse_severity(
                severity or self.config.default_severity, self.config.severity_names
            ),
            status=Status.INVESTIGATING.value,
            description=(description or "").strip() or None,
            service=service,
            reporter_id=reporter,
            declare_key=declare_key,
            drill=drill,
            private=private,
            started_at=min(started_at or now, now),
            detected_at=min(started_at or now, now),
            declared_at=now,
            updated_at=now,
        )
        incident.priority = rules.rank(incident.severity, self.config.severity_names)
        if commander:
            rules.record_role(incident, "commander", self.config.role_names, now)
        return incident

    async def insert_declared(
        self,
        session: AsyncSession,
        incident: Incident,
        commander: str | None,
        runbooks: list[tuple[RunbookFile, str]] | None = None,
    ) -> Incident:
        """Store a new incident, its first timeline entries, its runbooks and the job that
        opens its channel, in the caller's transaction. `runbooks` defaults to the ones whose
        match rules hold."""
        if runbooks is None:
            runbooks = await self.runbooks.runbooks_for(session, incident)
        incident.update_due_at = self.reminders.next_update_due(incident.severity, incident.declared_at)
        number = await session.scalar(INSERT_INCIDENT, incident.model_dump(exclude={"number"}))
        assert number is not None
        incident.number = number
        observability.incident.set(number)
        now, reporter = incident.declared_at, incident.reporter_id
        declared = (
            f"Declared drill: {incident.title} ({incident.severity})"
            if incident.drill
            else f"Declared {incident.severity}: {incident.title}"
        )
        events = [self.timeline.row(number, "declared", reporter, declared, now)]
        if commander:
            # No echo or invite of its own: opening the channel invites and shows roles.
            text = await self._add_role(session, incident, "commander", commander, reporter, now)
            events.append(self.timeline.row(number, "role", reporter, text, now))
        await self.timeline.insert(session, events)
        await jobs.enqueue(
            session, JobKind.SLACK_OPEN_CHANNEL, {"incident": number}, queue=incident_queue(number)
        )
        if incident.service:  # what changed to it before it broke: one message, after the summary
            await jobs.enqueue(
                session, JobKind.SLACK_POST_CHANGES, {"incident": number}, queue=incident_queue(number)
            )
        await self.runbooks.start_runbooks(session, number, runbooks, reporter, now)
        await self.reminders.schedule_update_reminder(session, incident)
        mapped = self.config.pagerduty.services.get(incident.service or "")
        if mapped and mapped.escalation_policy and not incident.drill:  # a drill pages nobody
            await jobs.enqueue(
                session, JobKind.PAGERDUTY_ONCALL, {"incident": number}, queue=incident_queue(number)
            )
        return incident

    async def declare_in(
        self,
        session: AsyncSession,
        *,
        labels: dict[str, str],
        runbook: str | None,
        commander: str | None = None,
        **fields: Any,
    ) -> Incident:
        """Declare in the caller's transaction (an alert, a triage click): the runbook the
        alert's route names and those whose match rules hold for its labels start with it."""
        incident = self.new_incident(commander=commander, **fields)
        runbooks = await self.runbooks.runbooks_for(session, incident, labels, runbook)
        return await self.insert_declared(session, incident, commander, runbooks)

    async def declare_drill(self, name: str, actor: str) -> Incident:
        """Declare an exercise incident that runs one runbook: marked as a drill everywhere,
        it pages nobody and stays out of the metrics."""
        file = self.runbooks.file(name)
        match = file.runbook.match
        return await self.declare(
            title=file.runbook.name.replace("-", " ").replace("_", " "),
            reporter=actor,
            commander=actor,
            severity=min(match.severities) if match.severities else None,
            service=min(match.services) if match.services else None,
            drill=True,
            runbooks=[(file, "drill")],
        )

    async def declare(
        self,
        *,
        commander: str | None = None,
        runbooks: list[tuple[RunbookFile, str]] | None = None,
        **fields: Any,
    ) -> Incident:
        """Declare an incident (`fields` as for `new_incident`) in one transaction."""
        await self.access.check_declare(str(fields.get("reporter", "")))
        incident = self.new_incident(commander=commander, **fields)
        declare_key = incident.declare_key
        try:
            async with self.db.transaction() as session:
                if declare_key and (existing := await self._by_declare_key(session, declare_key)):
                    return existing
                await self.insert_declared(session, incident, commander, runbooks)
        except IntegrityError:
            # The same modal submitted twice at once: the other request declared it.
            if declare_key:
                async with self.db.sessions() as session:
                    if existing := await self._by_declare_key(session, declare_key):
                        return existing
            raise
        self.timeline.notify()
        return incident

    async def change_status(
        self,
        number: int,
        status: Status,
        actor: str,
        message: str | None = None,
        *,
        key: str | None = None,
        final_update: str | bool = True,
    ) -> Incident:
        """`key`: the timeline event's idempotency key (an API Idempotency-Key), so that the
        same request made twice changes the status once. Resolving posts a final update to
        the stakeholders (`final_update`: True, its text, or False for none)."""
        if status in (Status.RESOLVED, Status.CLOSED):
            await self._check_change(number, actor, "resolve" if status == Status.RESOLVED else "close")
        elif self.config.access.restricted and (await self.queries.get(number)).status == Status.RESOLVED:
            await self._check_change(number, actor, "reopen")
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            now = self.clock()
            change = rules.change_status(incident, status, now)
            text = change.text(message)
            if status is Status.RESOLVED and message:
                incident.resolve_summary = message.strip()
            await self.timeline.changed(session, incident, "status", actor, text, now, key=key)
            await self.reminders.reset_update_reminder(session, incident, now)
            if status is Status.RESOLVED and final_update is not False:
                final = final_update if isinstance(final_update, str) else None
                await self.updates.final(session, incident, actor, now, final)
            if status is Status.CLOSED:
                # The post-mortem draft writes itself, and checklists lose their buttons.
                await jobs.enqueue(
                    session, JobKind.POSTMORTEM_GENERATE, {"incident": number}, queue=postmortem_queue(number)
                )
                for run_id in await session.scalars(
                    sa.select(col(RunbookRun.id)).where(col(RunbookRun.incident_number) == number)
                ):
                    await jobs.enqueue(
                        session,
                        JobKind.SLACK_SYNC_CHECKLIST,
                        {"incident": number, "run": run_id},
                        queue=incident_queue(number),
                    )
            if status is Status.RESOLVED and await session.scalar(OPEN_PAGES, {"n": number}):
                await jobs.enqueue(
                    session, JobKind.PAGERDUTY_RESOLVE, {"incident": number}, queue=incident_queue(number)
                )
        self.timeline.notify()
        return incident

    async def resolve(
        self, number: int, actor: str, summary: str | None = None, *, key: str | None = None
    ) -> Incident:
        return await self.change_status(number, Status.RESOLVED, actor, summary, key=key)

    async def close(self, number: int, actor: str) -> Incident:
        return await self.change_status(number, Status.CLOSED, actor)

    async def change_severity(self, number: int, severity: str, actor: str) -> Incident:
        new = rules.parse_severity(severity, self.config.severity_names)
        await self._check_change(number, actor, "change the severity of")
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            now = self.clock()
            old = rules.change_severity(incident, new, self.config.severity_names)
            incident.priority = rules.rank(new, self.config.severity_names)
            await jobs.reprioritise(session, number, incident.priority)
            await self.timeline.changed(session, incident, "severity", actor, f"Severity {old} → {new}", now)
            await self.reminders.reset_update_reminder(session, incident, now)
        self.timeline.notify()
        return incident

    async def assign_role(self, number: int, role: str, user: str, actor: str) -> Incident:
        if role.lower() == COMMANDER:  # whoever holds it may resolve: the same people may hand it out
            await self._check_change(number, actor, "hand out the commander role of")
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            await self._assign(session, incident, role.lower(), user, actor, self.clock())
        self.timeline.notify()
        return incident

    async def add_note(self, number: int, text: str, actor: str, *, key: str | None = None) -> None:
        text = rules.clean_note(text)
        async with self.db.transaction() as session:
            await self.timeline.lock(session, number)
            key = await self.timeline.append(session, number, "note", actor, text, self.clock(), key=key)
            await self.timeline.echo(session, number, key)
        self.timeline.notify()

    async def page_user(self, number: int, user: str, actor: str) -> None:
        """Pull a person in: invite them and mention them in the channel."""
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            rules.require_open(incident, "page anyone")
            key = await self.timeline.append(
                session, number, "page", actor, f"<@{user}> was paged into the incident", self.clock()
            )
            await self.timeline.echo(session, number, key)
            await jobs.enqueue(
                session,
                JobKind.SLACK_INVITE,
                {"incident": number, "users": [user]},
                queue=incident_queue(number),
            )
        self.timeline.notify()

    async def add_responders(self, number: int, users: list[str], unknown: list[str], *, source: str) -> None:
        """People an integration says should respond: invited; the first becomes commander
        if nobody is; emails without a Slack account are noted on the timeline."""
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            now = self.clock()
            if users:
                mentions = ", ".join(f"<@{u}>" for u in users)
                key = await self.timeline.append(
                    session, number, "responders", None, f"{source}: {mentions}", now
                )
                await self.timeline.echo(session, number, key)
                await jobs.enqueue(
                    session,
                    JobKind.SLACK_INVITE,
                    {"incident": number, "users": users},
                    queue=incident_queue(number),
                )
                roles = (await session.execute(CURRENT_COMMANDER, {"n": number})).first()
                if roles is None and incident.status != Status.CLOSED:
                    await self._assign(session, incident, "commander", users[0], "warroom", now)
            if unknown:
                await self.timeline.append(
                    session, number, "system", None, f"{source}: no Slack user for {', '.join(unknown)}", now
                )
            if not users and not unknown:
                await self.timeline.append(
                    session, number, "system", None, f"{source}: nobody is on call", now
                )
        self.timeline.notify()

    async def _check_change(self, number: int, actor: str, what: str) -> None:
        """Checked before the transaction: it may ask Slack who is in a user group."""
        if self.config.access.restricted:
            commander = (await self.queries.roles([number])).get(number, {}).get("commander")
            await self.access.check_change(actor, commander, what, number)

    # ----------------------------------------------------------------- internals

    async def _by_declare_key(self, session: AsyncSession, key: str) -> Incident | None:
        return (
            await session.execute(sa.select(Incident).where(col(Incident.declare_key) == key))
        ).scalar_one_or_none()

    async def _assign(
        self, session: AsyncSession, incident: Incident, role: str, user: str, actor: str, now: datetime
    ) -> None:
        number = number_of(incident)
        current = (
            await session.execute(
                sa.select(RoleAssignment).where(
                    col(RoleAssignment.incident_number) == number,
                    col(RoleAssignment.role) == role,
                    col(RoleAssignment.ended_at).is_(None),
                )
            )
        ).scalar_one_or_none()
        if current is not None and current.user_id == user:
            raise DomainError(f"<@{user}> is already the {role}.")
        rules.record_role(incident, role, self.config.role_names, now)
        if current is not None:
            current.ended_at = now
        text = await self._add_role(session, incident, role, user, actor, now)
        await self.timeline.changed(session, incident, "role", actor, text, now)
        await jobs.enqueue(
            session, JobKind.SLACK_INVITE, {"incident": number, "users": [user]}, queue=incident_queue(number)
        )

    async def _add_role(
        self, session: AsyncSession, incident: Incident, role: str, user: str, actor: str, now: datetime
    ) -> str:
        """Record a new role holder (the caller checked the rules and ended the previous
        holder); returns the timeline text."""
        row = {
            "incident_number": number_of(incident),
            "role": role,
            "user_id": user,
            "assigned_by": actor,
            "assigned_at": now,
        }
        await session.execute(INSERT_ROLE_ASSIGNMENT, row)
        return f"<@{user}> is now {role}"


async def _no_members(group: str) -> set[str]:
    return set()
