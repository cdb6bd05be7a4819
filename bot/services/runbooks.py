"""Runbook use cases: attach a runbook, walk its steps, remind, rehearse (drills).

Each public method is one transaction on the incident (locked, so two people clicking the
same step are served one after the other) and enqueues the checklist refresh it causes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.config import WarroomConfig
from bot.domain import runbooks as rules
from bot.domain.incident import ACTIVE, DomainError, Status, require_open
from bot.domain.runbooks import Facts, Progress, Runbook, Step, StepRecord, StepRef, StepState
from bot.jobs import JobKind, incident_queue
from bot.runbook_files import RunbookFile, from_definition
from bot.services.incidents import IncidentService, current_roles, first_alert_labels
from bot.store import jobs
from bot.store.tables import Incident, RunbookRun, RunbookStep, utcnow


@dataclass(frozen=True)
class Checklist:
    """Everything the checklist message shows."""

    incident: Incident
    run: RunbookRun
    runbook: Runbook
    progress: Progress
    roles: dict[str, str]
    variables: dict[str, Any]  # for step templates


@dataclass(frozen=True)
class Choice:
    runbook: Runbook
    running_version: str | None  # the version this incident runs, if it runs it


class RunbookService:
    def __init__(
        self,
        incidents: IncidentService,
        config: WarroomConfig,
        *,
        notify: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.incidents = incidents
        self.db = incidents.db
        self.library = incidents.library
        self.config = config
        self.notify = notify
        self.clock = clock

    # ------------------------------------------------------------ attach

    async def choices(self, number: int) -> list[Choice]:
        """Runbooks that match the incident, and those it already runs."""
        async with self.db.sessions() as session:
            incident = await self._incident(session, number)
            facts = await self._facts(session, incident)
            running = {r.name: r.version for r in await self._runs(session, number)}
        files = self.library.all()
        matched = {r.name for r in rules.matching([f.runbook for f in files], facts)}
        return [
            Choice(f.runbook, running.get(f.runbook.name))
            for f in files
            if f.runbook.name in matched or f.runbook.name in running
        ]

    async def attach(self, number: int, name: str, actor: str) -> str:
        """Start a runbook by name; if the incident runs an older version of it, move to the
        current one, keeping what was done (steps are known by id)."""
        file = self._file(name)
        async with self.db.transaction() as session:
            incident = await self.incidents.lock(session, number)
            require_open(incident, "start runbooks")
            run = (
                await session.execute(
                    sa.select(RunbookRun).where(
                        col(RunbookRun.incident_number) == number, col(RunbookRun.name) == file.runbook.name
                    )
                )
            ).scalar_one_or_none()
            now = self.clock()
            if run is None:
                await self.incidents.start_runbooks(session, number, [(file, "command")], actor, now)
                message = f"Started runbook *{file.runbook.name}*: the checklist is on its way."
            elif run.version == file.runbook.version:
                raise DomainError(
                    f"This incident already runs *{file.runbook.name}* (version {run.version})."
                )
            else:
                message = await self._upgrade(session, run, file, actor, now)
        self.notify()
        return message

    async def drill(self, name: str, actor: str) -> Incident:
        """Declare an exercise incident that runs one runbook: marked as a drill everywhere,
        it pages nobody and stays out of the metrics."""
        file = self._file(name)
        match = file.runbook.match
        severity = min(match.severities) if match.severities else None
        return await self.incidents.declare(
            title=file.runbook.name.replace("-", " ").replace("_", " "),
            reporter=actor,
            commander=actor,
            severity=severity,
            service=min(match.services) if match.services else None,
            drill=True,
            runbooks=[(file, "drill")],
        )

    # ------------------------------------------------------------ the walk

    async def step(self, ref: StepRef) -> tuple[Runbook, Step, StepRecord]:
        """The step a button points at, as the run knows it now (for the confirm modal)."""
        async with self.db.sessions() as session:
            run = await self._run(session, ref.run)
            runbook, step = self._step_of(run, ref)
            row = await self._step_row(session, run, step.id)
        return runbook, step, _record(row)

    async def incident_of(self, ref: StepRef) -> int:
        """The incident whose checklist a button belongs to."""
        async with self.db.sessions() as session:
            return (await self._run(session, ref.run)).incident_number

    async def take(self, ref: StepRef, user: str) -> None:
        async with self.db.transaction() as session:
            run, runbook, step, row = await self._locked_step(session, ref, "take runbook steps")
            rules.take(_record(row), step, user)
            now = self.clock()
            row.taken_by, row.taken_at = user, now
            await self._outcome(
                session, run, f"Runbook *{runbook.name}*: <@{user}> took *{step.title}*", user, now
            )
        self.notify()

    async def finish(self, ref: StepRef, user: str, state: StepState, reason: str | None = None) -> None:
        """Done or skipped (with a reason); a second click on a finished step changes nothing."""
        if state is StepState.SKIPPED:
            reason = rules.clean_skip_reason(reason)
        async with self.db.transaction() as session:
            run, runbook, step, row = await self._locked_step(session, ref, "work on runbook steps")
            rules.finish(_record(row), step, state)
            now = self.clock()
            row.state, row.finished_by, row.finished_at, row.skip_reason = state.value, user, now, reason
            text = f"Runbook *{runbook.name}*: *{step.title}* " + (
                "done" if state is StepState.DONE else f"skipped: {reason}"
            )
            await self._outcome(session, run, text, user, now)
        self.notify()

    async def checklist(self, run_id: int) -> Checklist:
        async with self.db.sessions() as session:
            run = await self._run(session, run_id)
            incident = await self._incident(session, run.incident_number)
            runbook = from_definition(run.definition, run.version)
            rows = await session.scalars(sa.select(RunbookStep).where(col(RunbookStep.run_id) == run_id))
            records = {row.step_id: _record(row) for row in rows}
            labels = await first_alert_labels(session, run.incident_number)
            roles = (await current_roles(session, [run.incident_number]))[run.incident_number]
        facts = Facts(incident.severity, incident.service, labels)
        return Checklist(
            incident,
            run,
            runbook,
            rules.progress(runbook, records, facts),
            roles,
            _variables(incident, labels),
        )

    async def record_checklist(self, run_id: int, ts: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                sa.update(RunbookRun).where(col(RunbookRun.id) == run_id).values(checklist_ts=ts)
            )

    async def runs(self, number: int) -> list[RunbookRun]:
        async with self.db.sessions() as session:
            return await self._runs(session, number)

    async def remind_step(self, payload: dict[str, Any]) -> None:
        """A scheduled job: a step still open after its `remind_after` gets one nudge."""
        async with self.db.transaction() as session:
            run = await session.get(RunbookRun, payload["run"])
            if run is None:
                return
            incident = await self.incidents.lock(session, run.incident_number)
            runbook = from_definition(run.definition, run.version)
            step = runbook.step(payload["step"])
            row = await self._step_row(session, run, payload["step"])
            if step is None or row is None or row.state != StepState.PENDING or row.reminded_at is not None:
                return  # done, skipped, reminded already, or gone in a newer version
            if Status(incident.status) not in ACTIVE:
                return
            facts = Facts(
                incident.severity, incident.service, await first_alert_labels(session, run.incident_number)
            )
            if not step.when.holds(facts):
                return
            now = self.clock()
            row.reminded_at = now
            roles = (await current_roles(session, [run.incident_number]))[run.incident_number]
            whom = row.taken_by or (roles.get(step.owner) if step.owner else None) or roles.get("commander")
            after = step.remind_after
            minutes = int(after.total_seconds() // 60) if after else 0
            text = (
                f"{f'<@{whom}>' if whom else 'Responders'}: *{step.title}* ({runbook.name}) "
                f"is not done after {minutes} minutes."
            )
            key = await self.incidents.append(session, run.incident_number, "reminder", None, text, now)
            await self.incidents.echo(session, run.incident_number, key)
        self.notify()

    # ------------------------------------------------------------ internals

    def _file(self, name: str) -> RunbookFile:
        file = self.library.get(name.strip().lower())
        if file is None:
            known = (
                ", ".join(f"`{f.runbook.name}`" for f in self.library.all()) or "none (RUNBOOKS_DIR is empty)"
            )
            raise DomainError(f"There is no runbook `{name.strip()[:64]}`. Runbooks: {known}.")
        return file

    async def _upgrade(
        self, session: AsyncSession, run: RunbookRun, file: RunbookFile, actor: str, now: datetime
    ) -> str:
        runbook = file.runbook
        old = from_definition(run.definition, run.version)
        old_version = run.version
        run.version, run.definition = runbook.version, file.spec.definition()
        known = {
            row.step_id
            for row in await session.scalars(sa.select(RunbookStep).where(col(RunbookStep.run_id) == run.id))
        }
        added = [s for s in runbook.steps if s.id not in known]
        if added:
            await session.execute(
                sa.insert(RunbookStep),
                [{"run_id": run.id, "step_id": s.id, "state": "pending"} for s in added],
            )
        removed = [s for s in old.steps if runbook.step(s.id) is None]
        assert run.id is not None
        await self.incidents.schedule_step_reminders(session, run.id, added, now)
        text = (
            f"Runbook *{runbook.name}* updated from version {old_version} to {runbook.version} "
            f"({len(added)} steps added, {len(removed)} removed; finished steps kept)"
        )
        await self._outcome(session, run, text, actor, now)
        return text + "."

    async def _locked_step(
        self, session: AsyncSession, ref: StepRef, action: str
    ) -> tuple[RunbookRun, Runbook, Step, RunbookStep]:
        run = await self._run(session, ref.run)
        incident = await self.incidents.lock(session, run.incident_number)
        require_open(incident, action)
        await session.refresh(run)  # as of the lock: a concurrent upgrade may have changed it
        runbook, step = self._step_of(run, ref)
        row = await self._step_row(session, run, step.id)
        if row is None:
            raise DomainError(f"*{step.title}* is not on record for this incident.")
        return run, runbook, step, row

    def _step_of(self, run: RunbookRun, ref: StepRef) -> tuple[Runbook, Step]:
        """The step by id in the version the incident runs now. A click on a checklist from
        an older version still counts if the step is still there (ids are stable)."""
        runbook = from_definition(run.definition, run.version)
        step = runbook.step(ref.step)
        if step is None:
            raise DomainError(
                f"This checklist is out of date: *{runbook.name}* is now version {run.version}, "
                f"which no longer has the step `{ref.step[:64]}`. Use the checklist as it is now."
            )
        return runbook, step

    async def _outcome(
        self, session: AsyncSession, run: RunbookRun, text: str, actor: str, now: datetime
    ) -> None:
        await self.incidents.append(session, run.incident_number, "runbook", actor, text, now)
        await jobs.enqueue(
            session,
            JobKind.SLACK_SYNC_CHECKLIST,
            {"incident": run.incident_number, "run": run.id},
            queue=incident_queue(run.incident_number),
        )

    async def _incident(self, session: AsyncSession, number: int) -> Incident:
        incident = await session.get(Incident, number)
        if incident is None:
            raise DomainError(f"There is no incident #{number}.")
        return incident

    async def _run(self, session: AsyncSession, run_id: int) -> RunbookRun:
        run = await session.get(RunbookRun, run_id)
        if run is None:
            raise DomainError("That runbook is no longer on record.")
        return run

    async def _runs(self, session: AsyncSession, number: int) -> list[RunbookRun]:
        stmt = (
            sa.select(RunbookRun)
            .where(col(RunbookRun.incident_number) == number)
            .order_by(col(RunbookRun.id))
        )
        return list(await session.scalars(stmt))

    async def _step_row(self, session: AsyncSession, run: RunbookRun, step_id: str) -> RunbookStep | None:
        stmt = sa.select(RunbookStep).where(
            col(RunbookStep.run_id) == run.id, col(RunbookStep.step_id) == step_id
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def _facts(self, session: AsyncSession, incident: Incident) -> Facts:
        assert incident.number is not None
        return Facts(incident.severity, incident.service, await first_alert_labels(session, incident.number))


def _record(row: RunbookStep | None) -> StepRecord:
    if row is None:
        return StepRecord("")
    return StepRecord(
        step_id=row.step_id,
        state=StepState(row.state),
        taken_by=row.taken_by,
        finished_by=row.finished_by,
        finished_at=row.finished_at,
        skip_reason=row.skip_reason,
    )


def _variables(incident: Incident, labels: dict[str, str]) -> dict[str, Any]:
    """Template variables; a value the incident lacks is left out, so it shows as <name>."""
    values = {
        "number": incident.number,
        "title": incident.title,
        "severity": incident.severity,
        "service": incident.service,
        "status": incident.status,
        "channel": f"#{incident.channel_name}" if incident.channel_name else None,
    }
    return {"incident": {k: v for k, v in values.items() if v is not None}, "labels": labels}
