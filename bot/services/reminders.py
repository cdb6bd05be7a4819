"""Reminders: the commander's status update when none came within the severity's cadence,
and a runbook step still open after its `remind_after`. Each is a job with a future run_at in
a queue of its own; when it comes due it looks at the database and stays quiet if the update
was posted or the step finished meanwhile."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.config import WarroomConfig
from bot.domain.incident import ACTIVE, COMMANDER, Status
from bot.domain.runbooks import Step, StepState
from bot.jobs import JobKind, reminder_queue
from bot.runbook_files import from_definition
from bot.services.changes import step_facts
from bot.services.timeline import CURRENT_COMMANDER, Timeline, current_roles, number_of
from bot.store import jobs
from bot.store.tables import Incident, RunbookRun, RunbookStep


class Reminders:
    def __init__(self, timeline: Timeline, config: WarroomConfig) -> None:
        self.timeline = timeline
        self.db = timeline.db
        self.config = config

    # ------------------------------------------------------------ status updates

    def next_update_due(self, severity: str, after: datetime) -> datetime | None:
        every = self.config.severity(severity).update_every
        return after + every if every else None

    async def reset_update_reminder(self, session: AsyncSession, incident: Incident, now: datetime) -> None:
        """A status update (or a new severity) restarts the clock of the update reminder."""
        active = Status(incident.status) in ACTIVE
        incident.update_due_at = self.next_update_due(incident.severity, now) if active else None
        await self.schedule_update_reminder(session, incident)

    async def schedule_update_reminder(self, session: AsyncSession, incident: Incident) -> None:
        if incident.update_due_at is None:
            return
        due = incident.update_due_at.isoformat()
        number = number_of(incident)
        await jobs.enqueue(
            session,
            JobKind.REMINDER_STATUS_UPDATE,
            {"incident": number, "due": due},
            queue=reminder_queue(f"update:{number}:{due}"),
            run_at=incident.update_due_at,
        )

    async def remind_status_update(self, payload: dict[str, Any]) -> None:
        """A scheduled job: no status update was posted within the severity's cadence, so the
        commander is reminded once, and again a cadence later while none comes."""
        number = int(str(payload["incident"]))
        due = datetime.fromisoformat(str(payload["due"]))
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
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
                f"Tell the stakeholders where things stand with `{self.config.slash_command} update`."
            )
            now = self.timeline.clock()
            key = await self.timeline.append(session, number, "reminder", None, text, now)
            await self.timeline.echo(session, number, key)
            following = due + every
            while following <= now:  # the worker was down: do not fire once per missed period
                following += every
            incident.update_due_at = following
            await self.schedule_update_reminder(session, incident)
        self.timeline.notify()

    # ------------------------------------------------------------ runbook steps

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

    async def remind_step(self, payload: dict[str, Any]) -> None:
        """A scheduled job: a step still open after its `remind_after` gets one nudge."""
        async with self.db.transaction() as session:
            run = await session.get(RunbookRun, payload["run"])
            if run is None:
                return
            incident = await self.timeline.lock(session, run.incident_number)
            runbook = from_definition(run.definition, run.version)
            step = runbook.step(payload["step"])
            row = (
                await session.execute(
                    sa.select(RunbookStep).where(
                        col(RunbookStep.run_id) == run.id, col(RunbookStep.step_id) == payload["step"]
                    )
                )
            ).scalar_one_or_none()
            if step is None or row is None or row.state != StepState.PENDING or row.reminded_at is not None:
                return  # done, skipped, reminded already, or gone in a newer version
            if Status(incident.status) not in ACTIVE:
                return
            facts, _ = await step_facts(session, incident, self.config.changes)
            if not step.when.holds(facts):
                return
            now = self.timeline.clock()
            row.reminded_at = now
            roles = (await current_roles(session, [run.incident_number]))[run.incident_number]
            whom = row.taken_by or (roles.get(step.owner) if step.owner else None) or roles.get(COMMANDER)
            after = step.remind_after
            minutes = int(after.total_seconds() // 60) if after else 0
            text = (
                f"{f'<@{whom}>' if whom else 'Responders'}: *{step.title}* ({runbook.name}) "
                f"is not done after {minutes} minutes."
            )
            key = await self.timeline.append(session, run.incident_number, "reminder", None, text, now)
            await self.timeline.echo(session, run.incident_number, key)
        self.timeline.notify()


def _duration(every: timedelta) -> str:
    minutes = int(every.total_seconds() // 60)
    if minutes % 60 == 0:
        return f"{minutes // 60} hour" + ("s" if minutes != 60 else "")
    return f"{minutes} minutes"
