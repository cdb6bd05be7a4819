"""Runbook use cases: attach a runbook, walk its steps, remind, rehearse (drills).

Each public method is one transaction on the incident (locked, so two people clicking the
same step are served one after the other) and enqueues the checklist refresh it causes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.config import WarroomConfig
from bot.domain import runbooks as rules
from bot.domain.changes import since_last
from bot.domain.incident import DomainError, require_open
from bot.domain.runbooks import Facts, Progress, Runbook, Step, StepRecord, StepRef, StepState
from bot.jobs import JobKind, incident_queue
from bot.runbook_files import RunbookFile, RunbookLibrary, from_definition
from bot.services.actions import ActionService, latest_actions, step_variables
from bot.services.changes import latest, step_facts
from bot.services.reminders import Reminders
from bot.services.timeline import Timeline, current_roles
from bot.store import jobs
from bot.store.tables import ActionRun, Incident, RunbookRun, RunbookStep


@dataclass(frozen=True)
class Checklist:
    """Everything the checklist message shows."""

    incident: Incident
    run: RunbookRun
    runbook: Runbook
    progress: Progress
    roles: dict[str, str]
    variables: dict[str, Any]  # for step templates
    actions: dict[str, ActionRun]  # the last run of each step's action


@dataclass(frozen=True)
class Choice:
    runbook: Runbook
    running_version: str | None  # the version this incident runs, if it runs it


INSERT_RUNBOOK_STEP = sa.insert(RunbookStep.__table__)  # type: ignore[attr-defined]


class RunbookService:
    def __init__(
        self,
        timeline: Timeline,
        reminders: Reminders,
        library: RunbookLibrary,
        config: WarroomConfig,
        actions: ActionService,
    ) -> None:
        self.timeline = timeline
        self.actions = actions
        self.reminders = reminders
        self.db = timeline.db
        self.library = library
        self.config = config
        self.notify = timeline.notify
        self.clock = timeline.clock

    # ------------------------------------------------------------ start

    async def runbooks_for(
        self,
        session: AsyncSession,
        incident: Incident,
        labels: dict[str, str] | None = None,
        named: str | None = None,
    ) -> list[tuple[RunbookFile, str]]:
        """The runbooks a new incident starts with, and why: the one its alert route names,
        then every runbook whose match rules hold."""
        files = self.library.load().runbooks  # one look at the directory per declare
        chosen = [(files[named], "route")] if named in files else []
        since = None
        if incident.service and any(f.runbook.match.changed_within for f in files.values()):
            found = await latest(session, incident.service, incident.started_at, self.config.changes)
            since = since_last(found, incident.started_at)
        facts = Facts(incident.severity, incident.service, labels or {}, since_change=since)
        for runbook in rules.matching([f.runbook for f in files.values()], facts):
            if runbook.name != named:
                chosen.append((files[runbook.name], "match"))
        return chosen

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
            steps = f"version {runbook.version}, {len(runbook.steps)} steps"
            await self.timeline.append(
                session, number, "runbook", actor, f"Runbook *{runbook.name}* started ({steps})", now
            )
            await jobs.enqueue(
                session,
                JobKind.SLACK_SYNC_CHECKLIST,
                {"incident": number, "run": run.id},
                queue=incident_queue(number),
            )
            await self.reminders.schedule_step_reminders(session, run.id, runbook.steps, now)
            incident = await session.get(Incident, number)
            assert incident is not None
            await self.actions.auto(session, incident, run)
        return run_ids

    def file(self, name: str) -> RunbookFile:
        """The runbook file of that name, or a refusal listing the runbooks there are."""
        file = self.library.get(name.strip().lower())
        if file is None:
            known = (
                ", ".join(f"`{f.runbook.name}`" for f in self.library.all()) or "none (RUNBOOKS_DIR is empty)"
            )
            raise DomainError(f"There is no runbook `{name.strip()[:64]}`. Runbooks: {known}.")
        return file

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
        file = self.file(name)
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
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
                await self.start_runbooks(session, number, [(file, "command")], actor, now)
                message = f"Started runbook *{file.runbook.name}*: the checklist is on its way."
            elif run.version == file.runbook.version:
                raise DomainError(
                    f"This incident already runs *{file.runbook.name}* (version {run.version})."
                )
            else:
                message = await self._upgrade(session, run, file, actor, now)
        self.notify()
        return message

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
            await session.flush()
            incident = await session.get(Incident, run.incident_number)
            assert incident is not None
            await self.actions.auto(session, incident, run)
        self.notify()

    async def checklist(self, run_id: int) -> Checklist:
        async with self.db.sessions() as session:
            run = await self._run(session, run_id)
            incident = await self._incident(session, run.incident_number)
            runbook = from_definition(run.definition, run.version)
            rows = await session.scalars(sa.select(RunbookStep).where(col(RunbookStep.run_id) == run_id))
            records = {row.step_id: _record(row) for row in rows}
            facts, suspects = await step_facts(session, incident, self.config.changes)
            roles = (await current_roles(session, [run.incident_number]))[run.incident_number]
            actions = await latest_actions(session, run_id)
        return Checklist(
            incident,
            run,
            runbook,
            rules.progress(runbook, records, facts),
            roles,
            step_variables(incident, dict(facts.labels), suspects),
            actions,
        )

    async def record_checklist(self, run_id: int, ts: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                sa.update(RunbookRun).where(col(RunbookRun.id) == run_id).values(checklist_ts=ts)
            )

    async def runs(self, number: int) -> list[RunbookRun]:
        async with self.db.sessions() as session:
            return await self._runs(session, number)

    # ------------------------------------------------------------ internals

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
        await self.reminders.schedule_step_reminders(session, run.id, added, now)
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
        incident = await self.timeline.lock(session, run.incident_number)
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
        await self.timeline.append(session, run.incident_number, "runbook", actor, text, now)
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
        facts, _ = await step_facts(session, incident, self.config.changes)
        return facts


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
