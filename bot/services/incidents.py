"""Incident use cases. Each public method is one transaction: it applies the domain rules,
appends to the timeline and enqueues the Slack work that projects the change, then commits.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot import observability
from bot.config import WarroomConfig
from bot.domain import incident as rules
from bot.domain.incident import ACTIVE, COMMANDER, DomainError, Status
from bot.domain.runbooks import Facts, Step, matching
from bot.jobs import JobKind, home_queue, incident_queue, postmortem_queue, reminder_queue
from bot.runbook_files import RunbookFile, RunbookLibrary
from bot.services.access import Access
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import (
    AlertRecord,
    Incident,
    Job,
    PagerDutyPage,
    ProcessedEvent,
    RoleAssignment,
    RunbookRun,
    RunbookStep,
    TimelineEvent,
    utcnow,
)


class NotFound(DomainError):
    pass


PROJECTION_FIELDS = frozenset(
    {
        "channel_id",
        "channel_name",
        "summary_ts",
        "announcement_channel_id",
        "announcement_ts",
        "slack_topic",
        "alerts_ts",
        "postmortem_url",
    }
)


# Hot-path writes are Core statements built once and run with a parameter dict: no ORM unit
# of work and no per-call statement construction (together most of a declare's CPU time).
INSERT_INCIDENT = sa.insert(Incident.__table__).returning(Incident.__table__.c.number)  # type: ignore[attr-defined]
INSERT_TIMELINE_EVENT = sa.insert(TimelineEvent.__table__)  # type: ignore[attr-defined]
OPEN_PAGES = sa.select(sa.func.count()).where(
    PagerDutyPage.__table__.c.incident_number == sa.bindparam("n"),  # type: ignore[attr-defined]
    PagerDutyPage.__table__.c.resolved_at.is_(None),  # type: ignore[attr-defined]
)
CURRENT_COMMANDER = sa.select(RoleAssignment.__table__.c.user_id).where(  # type: ignore[attr-defined]
    RoleAssignment.__table__.c.incident_number == sa.bindparam("n"),  # type: ignore[attr-defined]
    RoleAssignment.__table__.c.role == "commander",  # type: ignore[attr-defined]
    RoleAssignment.__table__.c.ended_at.is_(None),  # type: ignore[attr-defined]
)
INSERT_ROLE_ASSIGNMENT = sa.insert(RoleAssignment.__table__)  # type: ignore[attr-defined]
INSERT_RUNBOOK_STEP = sa.insert(RunbookStep.__table__)  # type: ignore[attr-defined]


class IncidentService:
    def __init__(
        self,
        db: Database,
        config: WarroomConfig,
        *,
        notify: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
        pagerduty_routing_key: str | None = None,
        library: RunbookLibrary | None = None,
        access: Access | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.access = access or Access(config.access, _no_members, limits=config.limits)
        self.library = library or RunbookLibrary(
            None, roles=config.role_names, severities=config.severity_names
        )
        self.pagerduty_routing_key = pagerduty_routing_key  # for services without their own key
        self.notify = notify  # wakes the worker once new jobs are committed
        self.clock = clock

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
        if commander:
            rules.record_role(incident, "commander", self.config.role_names, now)
        return incident

    def runbooks_for(
        self, incident: Incident, labels: dict[str, str] | None = None, named: str | None = None
    ) -> list[tuple[RunbookFile, str]]:
        """The runbooks a new incident starts with, and why: the one its alert route names,
        then every runbook whose match rules hold."""
        files = self.library.load().runbooks  # one look at the directory per declare
        chosen = [(files[named], "route")] if named in files else []
        facts = Facts(incident.severity, incident.service, labels or {})
        for runbook in matching([f.runbook for f in files.values()], facts):
            if runbook.name != named:
                chosen.append((files[runbook.name], "match"))
        return chosen

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
            runbooks = self.runbooks_for(incident)
        incident.update_due_at = self._next_update_due(incident.severity, incident.declared_at)
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
        events = [self.timeline_row(number, "declared", reporter, declared, now)]
        if commander:
            # No echo or invite of its own: opening the channel invites and shows roles.
            text = await self._add_role(session, incident, "commander", commander, reporter, now)
            events.append(self.timeline_row(number, "role", reporter, text, now))
        await session.execute(INSERT_TIMELINE_EVENT, events)
        await jobs.enqueue(
            session, JobKind.SLACK_OPEN_CHANNEL, {"incident": number}, queue=incident_queue(number)
        )
        await self.start_runbooks(session, number, runbooks, reporter, now)
        await self._schedule_update_reminder(session, incident)
        mapped = self.config.pagerduty.services.get(incident.service or "")
        if mapped and mapped.escalation_policy and not incident.drill:  # a drill pages nobody
            await jobs.enqueue(
                session, JobKind.PAGERDUTY_ONCALL, {"incident": number}, queue=incident_queue(number)
            )
        return incident

    async def start_runbooks(
        self,
        session: AsyncSession,
        number: int,
        runbooks: list[tuple[RunbookFile, str]],
        actor: str,
        now: datetime,
    ) -> list[int]:
        """Start runbook runs in the caller's transaction: the definition as it is now (the
        incident keeps it when the file changes), a pending row per step, the checklist job
        and a reminder job per step with `remind_after`. Returns the run ids."""
        run_ids = []
        for file, source in runbooks:
            runbook = file.runbook
            run = RunbookRun(
                incident_number=number,
                name=runbook.name,
                version=runbook.version,
                definition=file.spec.definition(),
                source=source,
                attached_by=actor,
                attached_at=now,
            )
            session.add(run)
            await session.flush()
            assert run.id is not None
            run_ids.append(run.id)
            await session.execute(
                INSERT_RUNBOOK_STEP,
                [{"run_id": run.id, "step_id": s.id, "state": "pending"} for s in runbook.steps],
            )
            await self.append(
                session,
                number,
                "runbook",
                actor,
                f"Runbook *{runbook.name}* started (version {runbook.version}, {len(runbook.steps)} steps)",
                now,
            )
            await jobs.enqueue(
                session,
                JobKind.SLACK_SYNC_CHECKLIST,
                {"incident": number, "run": run.id},
                queue=incident_queue(number),
            )
            await self.schedule_step_reminders(session, run.id, runbook.steps, now)
        return run_ids

    async def schedule_step_reminders(
        self, session: AsyncSession, run_id: int, steps: Iterable[Step], start: datetime
    ) -> None:
        for step in steps:
            if step.remind_after is not None:
                await jobs.enqueue(
                    session,
                    JobKind.REMINDER_RUNBOOK_STEP,
                    {"run": run_id, "step": step.id},
                    queue=reminder_queue(f"step:{run_id}:{step.id}"),
                    run_at=start + step.remind_after,
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
        self.notify()
        return incident

    async def change_status(
        self, number: int, status: Status, actor: str, message: str | None = None, *, key: str | None = None
    ) -> Incident:
        """`key`: the timeline event's idempotency key (an API Idempotency-Key), so that the
        same request made twice changes the status once."""
        if status in (Status.RESOLVED, Status.CLOSED):
            await self._check_change(number, actor, "resolve" if status == Status.RESOLVED else "close")
        elif (await self.get(number)).status == Status.RESOLVED.value:
            await self._check_change(number, actor, "reopen")
        async with self.db.transaction() as session:
            incident = await self.lock(session, number)
            now = self.clock()
            change = rules.change_status(incident, status, now)
            text = f"Status {change.old.value} → {change.new.value}"
            if change.reopened:
                text = "Reopened: status resolved → investigating"
            if message:
                text += f": {message.strip()}"
            if status is Status.RESOLVED and message:
                incident.resolve_summary = message.strip()
            await self._changed(session, incident, "status", actor, text, now, key=key)
            await self._reset_update_reminder(session, incident, now)
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
        self.notify()
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
            incident = await self.lock(session, number)
            now = self.clock()
            old = rules.change_severity(incident, new, self.config.severity_names)
            await self._changed(session, incident, "severity", actor, f"Severity {old} → {new}", now)
            await self._reset_update_reminder(session, incident, now)
        self.notify()
        return incident

    async def assign_role(self, number: int, role: str, user: str, actor: str) -> Incident:
        if role.lower() == COMMANDER:  # whoever holds it may resolve: the same people may hand it out
            await self._check_change(number, actor, "hand out the commander role of")
        async with self.db.transaction() as session:
            incident = await self.lock(session, number)
            await self._assign(session, incident, role.lower(), user, actor, self.clock())
        self.notify()
        return incident

    async def add_note(self, number: int, text: str, actor: str, *, key: str | None = None) -> None:
        text = rules.clean_note(text)
        async with self.db.transaction() as session:
            await self.lock(session, number)
            key = await self.append(session, number, "note", actor, text, self.clock(), key=key)
            await self.echo(session, number, key)
        self.notify()

    async def record_pinned_message(
        self, number: int, *, channel: str, ts: str, author: str | None, text: str, pinned_by: str
    ) -> bool:
        """Put a pinned Slack message on the timeline at its original time, once."""
        key = f"pin:{channel}:{ts}"
        at = datetime.fromtimestamp(float(ts), tz=UTC)
        source = f"slack:{channel}:{ts}"
        try:
            async with self.db.transaction() as session:
                if await session.scalar(
                    sa.select(col(TimelineEvent.id)).where(col(TimelineEvent.idempotency_key) == key)
                ):
                    return False
                pinned = f"Pinned by <@{pinned_by}>: {text}" if author is None else text
                await self.append(
                    session, number, "pinned", author or pinned_by, pinned, at, key=key, source=source
                )
        except IntegrityError:
            return False
        return True

    async def page_user(self, number: int, user: str, actor: str) -> None:
        """Pull a person in: invite them and mention them in the channel."""
        async with self.db.transaction() as session:
            incident = await self.lock(session, number)
            rules.require_open(incident, "page anyone")
            key = await self.append(
                session, number, "page", actor, f"<@{user}> was paged into the incident", self.clock()
            )
            await self.echo(session, number, key)
            await jobs.enqueue(
                session,
                JobKind.SLACK_INVITE,
                {"incident": number, "users": [user]},
                queue=incident_queue(number),
            )
        self.notify()

    async def page_service(self, number: int, service: str, actor: str) -> None:
        """Page a service through PagerDuty's Events API v2 (a job), keyed to this incident."""
        service = service.strip().lower()
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,99}", service):
            raise DomainError(f"`{service[:40]}` is not a service name; page a service or mention a person.")
        dedup_key = f"warroom-{number}-{service}"
        async with self.db.transaction() as session:
            incident = await self.lock(session, number)
            rules.require_open(incident, "page anyone")
            if incident.drill:
                raise DomainError("This is a drill: it pages nobody. Mention a person to pull them in.")
            mapped = self.config.pagerduty.services.get(service)
            routing_key = (mapped.routing_key if mapped else None) or self.pagerduty_routing_key
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
            now = self.clock()
            page = PagerDutyPage(
                incident_number=number, service=service, dedup_key=dedup_key, paged_by=actor, paged_at=now
            )
            session.add(page)
            await session.flush()
            key = await self.append(session, number, "page", actor, f"Paged `{service}` in PagerDuty", now)
            await self.echo(session, number, key)
            payload = {"incident": number, "page": page.id, "routing_key": routing_key}
            await jobs.enqueue(session, JobKind.PAGERDUTY_TRIGGER, payload, queue=incident_queue(number))
        self.notify()

    async def add_responders(self, number: int, users: list[str], unknown: list[str], *, source: str) -> None:
        """People an integration says should respond: invited; the first becomes commander
        if nobody is; emails without a Slack account are noted on the timeline."""
        async with self.db.transaction() as session:
            incident = await self.lock(session, number)
            now = self.clock()
            if users:
                mentions = ", ".join(f"<@{u}>" for u in users)
                key = await self.append(session, number, "responders", None, f"{source}: {mentions}", now)
                await self.echo(session, number, key)
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
                await self.append(
                    session, number, "system", None, f"{source}: no Slack user for {', '.join(unknown)}", now
                )
            if not users and not unknown:
                await self.append(session, number, "system", None, f"{source}: nobody is on call", now)
        self.notify()

    async def remind_status_update(self, payload: dict[str, object]) -> None:
        """A scheduled job: no status update was posted within the severity's cadence, so the
        commander is reminded once, and again a cadence later while none comes."""
        number = int(str(payload["incident"]))
        due = datetime.fromisoformat(str(payload["due"]))
        async with self.db.transaction() as session:
            incident = await self.lock(session, number)
            if incident.update_due_at != due or Status(incident.status) not in ACTIVE:
                return  # an update came meanwhile (it scheduled its own reminder), or it is over
            every = self.config.severity(incident.severity).update_every
            if every is None:
                incident.update_due_at = None
                return
            commander = (await session.execute(CURRENT_COMMANDER, {"n": number})).scalar()
            whom = f"<@{commander}>" if commander else "Commander (nobody holds the role yet)"
            text = (
                f"{whom}: no status update for {_duration(every)}. "
                f"Post one with `{self.config.slash_command} status` or the Update status button."
            )
            now = self.clock()
            key = await self.append(session, number, "reminder", None, text, now)
            await self.echo(session, number, key)
            following = due + every
            while following <= now:  # the worker was down: do not fire once per missed period
                following += every
            incident.update_due_at = following
            await self._schedule_update_reminder(session, incident)
        self.notify()

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
                page.resolved_at = self.clock()

    async def add_system_note(self, number: int, text: str) -> None:
        """warroom's own remarks (a Slack update that failed for good, ...): timeline only."""
        async with self.db.transaction() as session:
            await self.append(session, number, "system", None, text, self.clock())

    async def record_projection(self, number: int, **fields: str) -> Incident:
        """Remember what was done in Slack (channel id, message ts, topic) for idempotency."""
        unknown = set(fields) - PROJECTION_FIELDS
        if unknown:
            raise ValueError(f"not projection fields: {sorted(unknown)}")
        async with self.db.transaction() as session:
            stmt = (
                sa.update(Incident).where(col(Incident.number) == number).values(fields).returning(Incident)
            )
            incident = (await session.execute(stmt)).scalar_one_or_none()
        if incident is None:
            raise NotFound(f"There is no incident #{number}.")
        observability.incident.set(number)  # what this request's log lines are about
        return incident

    async def request_pin(self, number: int, *, channel: str, ts: str, user: str, delivery: str) -> bool:
        """A :pushpin: reaction: fetching the message is Slack work, so it becomes a job."""
        return await self._once(
            delivery,
            JobKind.SLACK_RECORD_PIN,
            {"incident": number, "channel": channel, "ts": ts, "user": user},
            queue=incident_queue(number),
        )

    async def request_home(self, user: str, *, delivery: str) -> bool:
        return await self._once(delivery, JobKind.SLACK_PUBLISH_HOME, {"user": user}, queue=home_queue(user))

    # ----------------------------------------------------------------- queries

    async def _check_change(self, number: int, actor: str, what: str) -> None:
        """Checked before the transaction: it may ask Slack who is in a user group."""
        if self.config.access.restricted:
            commander = (await self.roles([number])).get(number, {}).get("commander")
            await self.access.check_change(actor, commander, what, number)

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

    # ----------------------------------------------------------------- internals

    async def lock(self, session: AsyncSession, number: int) -> Incident:
        stmt = sa.select(Incident).where(col(Incident.number) == number)
        if not self.db.is_sqlite:  # SQLite's BEGIN IMMEDIATE already serialises writers
            stmt = stmt.with_for_update()
        incident = (await session.execute(stmt)).scalar_one_or_none()
        if incident is None:
            raise NotFound(f"There is no incident #{number}.")
        return incident

    def _next_update_due(self, severity: str, after: datetime) -> datetime | None:
        every = self.config.severity(severity).update_every
        return after + every if every else None

    async def _reset_update_reminder(self, session: AsyncSession, incident: Incident, now: datetime) -> None:
        """A status update (or a new severity) restarts the clock of the update reminder."""
        active = Status(incident.status) in ACTIVE
        incident.update_due_at = self._next_update_due(incident.severity, now) if active else None
        await self._schedule_update_reminder(session, incident)

    async def _schedule_update_reminder(self, session: AsyncSession, incident: Incident) -> None:
        if incident.update_due_at is None:
            return
        due = incident.update_due_at.isoformat()
        await jobs.enqueue(
            session,
            JobKind.REMINDER_STATUS_UPDATE,
            {"incident": _number(incident), "due": due},
            queue=reminder_queue(f"update:{_number(incident)}:{due}"),
            run_at=incident.update_due_at,
        )

    async def _by_declare_key(self, session: AsyncSession, key: str) -> Incident | None:
        return (
            await session.execute(sa.select(Incident).where(col(Incident.declare_key) == key))
        ).scalar_one_or_none()

    async def _assign(
        self, session: AsyncSession, incident: Incident, role: str, user: str, actor: str, now: datetime
    ) -> None:
        number = _number(incident)
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
        await self._changed(session, incident, "role", actor, text, now)
        await jobs.enqueue(
            session, JobKind.SLACK_INVITE, {"incident": number, "users": [user]}, queue=incident_queue(number)
        )

    async def _add_role(
        self, session: AsyncSession, incident: Incident, role: str, user: str, actor: str, now: datetime
    ) -> str:
        """Record a new role holder (the caller checked the rules and ended the previous
        holder); returns the timeline text."""
        row = {
            "incident_number": _number(incident),
            "role": role,
            "user_id": user,
            "assigned_by": actor,
            "assigned_at": now,
        }
        await session.execute(INSERT_ROLE_ASSIGNMENT, row)
        return f"<@{user}> is now {role}"

    async def _changed(
        self,
        session: AsyncSession,
        incident: Incident,
        kind: str,
        actor: str,
        text: str,
        now: datetime,
        *,
        key: str | None = None,
    ) -> None:
        """Record a change on the timeline; echo it in the channel and refresh the summary."""
        number = _number(incident)
        incident.updated_at = now
        key = await self.append(session, number, kind, actor, text, now, key=key)
        await self.echo(session, number, key)
        await jobs.enqueue(
            session, JobKind.SLACK_SYNC_SUMMARY, {"incident": number}, queue=incident_queue(number)
        )

    async def echo(self, session: AsyncSession, number: int, event_key: str) -> None:
        await jobs.enqueue(
            session,
            JobKind.SLACK_ECHO,
            {"incident": number, "event_key": event_key},
            queue=incident_queue(number),
        )

    async def append(
        self,
        session: AsyncSession,
        number: int,
        kind: str,
        actor: str | None,
        text: str,
        at: datetime,
        *,
        key: str | None = None,
        source: str | None = None,
    ) -> str:
        """Append to the timeline; returns the event's idempotency key."""
        row = self.timeline_row(number, kind, actor, text, at, key=key, source=source)
        await session.execute(INSERT_TIMELINE_EVENT, row)
        return str(row["idempotency_key"])

    def timeline_row(
        self,
        number: int,
        kind: str,
        actor: str | None,
        text: str,
        at: datetime,
        *,
        key: str | None = None,
        source: str | None = None,
    ) -> dict[str, object]:
        return {
            "incident_number": number,
            "at": at,
            "recorded_at": self.clock(),
            "kind": kind,
            "actor": actor,
            "text": text,
            "source": source,
            "idempotency_key": key or f"{kind}:{uuid.uuid4()}",
        }

    async def _once(self, delivery: str, kind: str, payload: dict[str, object], *, queue: str) -> bool:
        """Enqueue a job for a delivery (a Slack event id) unless that delivery was handled."""
        try:
            async with self.db.transaction() as session:
                if await session.get(ProcessedEvent, delivery) is not None:
                    return False
                session.add(ProcessedEvent(key=delivery, processed_at=self.clock()))
                await jobs.enqueue(session, kind, dict(payload), queue=queue)
        except IntegrityError:
            return False
        self.notify()
        return True


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


async def _no_members(group: str) -> set[str]:
    return set()


async def current_roles(session: AsyncSession, numbers: list[int]) -> dict[int, dict[str, str]]:
    """Current role holders per incident, in the caller's session: {number: {role: user}}."""
    result: dict[int, dict[str, str]] = {n: {} for n in numbers}
    stmt = (
        sa.select(RoleAssignment)
        .where(col(RoleAssignment.incident_number).in_(numbers), col(RoleAssignment.ended_at).is_(None))
        .order_by(col(RoleAssignment.id))
    )
    for assignment in await session.scalars(stmt):
        result[assignment.incident_number][assignment.role] = assignment.user_id
    return result


async def first_alert_labels(session: AsyncSession, number: int) -> dict[str, str]:
    """The labels of an incident's first alert: what runbook conditions and templates see."""
    stmt = (
        sa.select(col(AlertRecord.labels))
        .where(col(AlertRecord.incident_number) == number)
        .order_by(col(AlertRecord.id))
        .limit(1)
    )
    return dict(await session.scalar(stmt) or {})


def _duration(every: timedelta) -> str:
    minutes = int(every.total_seconds() // 60)
    if minutes % 60 == 0:
        return f"{minutes // 60} hour" + ("s" if minutes != 60 else "")
    return f"{minutes} minutes"


def _number(incident: Incident) -> int:
    assert incident.number is not None, "incident not flushed yet"
    return incident.number
