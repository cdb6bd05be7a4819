"""Runbook step actions: a Run (a click, a confirmed form, or a `run: auto` step becoming the
next step) renders what the step will send and commits it as an action_run row with its own
Idempotency-Key and the job that sends it; the job reports how it ended, which goes on the
timeline and the checklist, and marks the step done when it worked. In a drill a run is a dry
run: nothing is sent, the step is done, the timeline says what would have gone out.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.config import WarroomConfig
from bot.domain import runbooks as rules
from bot.domain.actions import (
    AUTO,
    ActionKind,
    BuiltinAction,
    HttpAction,
    Outcome,
    Prepared,
    RunState,
    builtin_line,
    prepare,
    runner,
)
from bot.domain.changes import Change, template_values
from bot.domain.incident import DomainError, require_open
from bot.domain.runbooks import Runbook, Step, StepRef, StepState
from bot.jobs import JobKind, action_queue, incident_queue
from bot.runbook_files import from_definition
from bot.services.access import Access
from bot.services.changes import step_facts
from bot.services.timeline import Timeline, current_roles, number_of
from bot.store import jobs
from bot.store.tables import ActionRun, Incident, RunbookRun, RunbookStep, TimelineEvent


@dataclass(frozen=True)
class Planned:
    """What Run would do now: the confirmation form shows it, and the submission must match it."""

    runbook: Runbook
    step: Step
    line: str  # one line: "POST https://..." or "set the status to monitoring"
    shown: str  # the whole request, secrets masked
    fingerprint: str
    dry_run: bool


class ActionService:
    def __init__(self, timeline: Timeline, config: WarroomConfig, access: Access) -> None:
        self.timeline = timeline
        self.db = timeline.db
        self.config = config
        self.access = access

    # ------------------------------------------------------------ asking for a run

    async def plan(self, ref: StepRef, user: str) -> Planned:
        """What Run would do now, if `user` may run it."""
        await self._may_run(ref, user)
        async with self.db.sessions() as session:
            _, runbook, step, incident = await self._step(session, ref)
            request, line = await self._render(session, incident, step)
        return Planned(
            runbook,
            step,
            line,
            _shown(request, line),
            _fingerprint(request),
            runbook.dry_runs(incident.drill),
        )

    async def run(self, ref: StepRef, user: str, *, fingerprint: str | None = None) -> None:
        """Run a step's action for `user` (a click, or the submitted confirmation form with the
        fingerprint of what it showed). The checklist shows it running."""
        await self._may_run(ref, user)
        async with self.db.transaction() as session:
            run, runbook, step, incident = await self._step(session, ref, lock=True)
            require_open(incident, "run runbook actions")
            if step.confirm and fingerprint is None:
                raise DomainError(f"*{step.title}* asks for confirmation: use its Run button.")
            request, _ = await self._render(session, incident, step)
            if fingerprint is not None and fingerprint != _fingerprint(request):
                raise DomainError(
                    f"What *{step.title}* would send has changed since the form opened: nothing was "
                    "sent. Click Run again to see it as it is now."
                )
            await self._runnable(session, run, step)
            await self._start(session, incident, run, runbook, step, user, self.timeline.clock())
        self.timeline.notify()

    async def auto(self, session: AsyncSession, incident: Incident, run: RunbookRun) -> None:
        """In the caller's transaction: if the runbook's next step runs by itself (`run: auto`,
        no confirm) and has not run yet, start it."""
        runbook = from_definition(run.definition, run.version)
        if not any(s.runs_by_itself for s in runbook.steps):
            return
        rows = await session.scalars(sa.select(RunbookStep).where(col(RunbookStep.run_id) == run.id))
        records = {r.step_id: rules.StepRecord(r.step_id, StepState(r.state)) for r in rows}
        facts, _ = await step_facts(session, incident, self.config.changes)
        pending = rules.progress(runbook, records, facts).pending
        if not pending or not pending[0][1].runs_by_itself:
            return
        step = pending[0][1]
        assert run.id is not None
        if (await latest_actions(session, run.id)).get(step.id) is None:
            await self._start(session, incident, run, runbook, step, AUTO, self.timeline.clock())

    # ------------------------------------------------------------ what the job reports

    async def get(self, action_id: int) -> ActionRun:
        async with self.db.sessions() as session:
            action = await session.get(ActionRun, action_id)
        if action is None:
            raise DomainError(f"There is no action run {action_id}.")
        return action

    async def attempt_failed(self, action_id: int, summary: str, attempts: int) -> None:
        """An attempt failed and will be retried: the checklist says so."""
        async with self.db.transaction() as session:
            action = await session.get(ActionRun, action_id)
            if action is None or action.state != RunState.RUNNING:
                return
            action.summary, action.attempts = summary[:500], attempts
            await _sync_checklist(session, action.incident_number, action.run_id)
        self.timeline.notify()

    async def finish(self, action_id: int, outcome: Outcome, attempts: int) -> None:
        """How a run ended, once (a retried job that finds it finished changes nothing)."""
        async with self.db.transaction() as session:
            action = await session.get(ActionRun, action_id)
            if action is None:
                return
            incident = await self.timeline.lock(session, action.incident_number)
            await session.refresh(action)
            if action.state != RunState.RUNNING:
                return
            run = await session.get(RunbookRun, action.run_id)
            assert run is not None
            runbook = from_definition(run.definition, run.version)
            step = runbook.step(action.step_id) or Step(action.step_id, action.step_id)
            action.attempts = attempts
            await self._record(session, incident, run, runbook, step, action, outcome, self.timeline.clock())
        self.timeline.notify()

    async def happened(self, action_id: int) -> bool:
        """Whether a built-in's change is on the timeline (an attempt that died after it)."""
        async with self.db.sessions() as session:
            found = await session.scalar(
                sa.select(col(TimelineEvent.id)).where(
                    col(TimelineEvent.idempotency_key) == builtin_key(action_id)
                )
            )
        return found is not None

    # ------------------------------------------------------------ internals

    async def _may_run(self, ref: StepRef, user: str) -> None:
        """Checked before the transaction: it may ask Slack who is in a user group."""
        async with self.db.sessions() as session:
            number = (await self._run_row(session, ref.run)).incident_number
            holders = (await current_roles(session, [number]))[number]
        await self.access.check_run(user, holders, number)

    async def _run_row(self, session: AsyncSession, run_id: int) -> RunbookRun:
        run = await session.get(RunbookRun, run_id)
        if run is None:
            raise DomainError("That runbook is no longer on record.")
        return run

    async def _step(
        self, session: AsyncSession, ref: StepRef, *, lock: bool = False
    ) -> tuple[RunbookRun, Runbook, Step, Incident]:
        run = await self._run_row(session, ref.run)
        if lock:
            incident = await self.timeline.lock(session, run.incident_number)
            await session.refresh(run)
        else:
            found = await session.get(Incident, run.incident_number)
            assert found is not None
            incident = found
        runbook = from_definition(run.definition, run.version)
        step = runbook.step(ref.step)
        if step is None:
            raise DomainError(
                f"*{runbook.name}* (version {run.version}) has no step `{ref.step[:64]}` any more."
            )
        if step.action is None:
            raise DomainError(f"*{step.title}* has no action to run: do it by hand and click Done.")
        return run, runbook, step, incident

    async def _runnable(self, session: AsyncSession, run: RunbookRun, step: Step) -> None:
        """A step runs once at a time, and not again once it worked or was finished."""
        assert run.id is not None
        row = (
            await session.execute(
                sa.select(RunbookStep).where(
                    col(RunbookStep.run_id) == run.id, col(RunbookStep.step_id) == step.id
                )
            )
        ).scalar_one_or_none()
        if row is not None and row.state != StepState.PENDING:
            raise DomainError(f"*{step.title}* is already {row.state} (by <@{row.finished_by}>).")
        latest = (await latest_actions(session, run.id)).get(step.id)
        if latest is not None and latest.state == RunState.RUNNING:
            raise DomainError(
                f"*{step.title}* is already running (started by {runner(latest.requested_by)})."
            )

    async def _render(
        self, session: AsyncSession, incident: Incident, step: Step
    ) -> tuple[dict[str, Any], str]:
        """What the step's action sends (or does) for this incident now, and it in one line."""
        facts, suspects = await step_facts(session, incident, self.config.changes)
        variables = step_variables(incident, dict(facts.labels), suspects)
        action = step.action
        if isinstance(action, HttpAction):
            prepared = prepare(action, lambda text, escape: rules.render(text, variables, escape))
            return {"kind": ActionKind.HTTP.value, **prepared.to_dict()}, prepared.line
        assert isinstance(action, BuiltinAction)
        # As typed: the channel's echo escapes timeline text (keeping mentions) as it does a note.
        text = rules.render(action.text, variables, lambda value: value)
        owner = None
        if action.owner:
            owner = (await current_roles(session, [number_of(incident)]))[number_of(incident)].get(
                action.owner
            )
        request = {"kind": action.kind.value, "text": text, "owner": owner, "priority": action.priority}
        return request, builtin_line(action, text)

    async def _start(
        self,
        session: AsyncSession,
        incident: Incident,
        run: RunbookRun,
        runbook: Runbook,
        step: Step,
        actor: str,
        now: datetime,
    ) -> ActionRun:
        request, line = await self._render(session, incident, step)
        assert run.id is not None
        action = ActionRun(
            run_id=run.id,
            step_id=step.id,
            incident_number=number_of(incident),
            kind=request["kind"],
            request=request,
            line=line[:500],
            idempotency_key=uuid.uuid4().hex,
            state=RunState.RUNNING.value,
            dry_run=runbook.dry_runs(incident.drill),
            requested_by=actor,
            requested_at=now,
        )
        session.add(action)
        await session.flush()
        assert action.id is not None
        if action.dry_run:
            outcome = Outcome(True, f"dry run (drill): would {_verb(request, line)}; nothing was sent")
            await self._record(session, incident, run, runbook, step, action, outcome, now)
            return action
        await jobs.enqueue(
            session,
            JobKind.RUNBOOK_ACTION,
            {"incident": action.incident_number, "action": action.id},
            queue=action_queue(action.id),
        )
        await _sync_checklist(session, action.incident_number, run.id)
        return action

    async def _record(
        self,
        session: AsyncSession,
        incident: Incident,
        run: RunbookRun,
        runbook: Runbook,
        step: Step,
        action: ActionRun,
        outcome: Outcome,
        now: datetime,
    ) -> None:
        action.state = (RunState.SUCCEEDED if outcome.ok else RunState.FAILED).value
        action.finished_at = now
        action.status_code, action.seconds = outcome.status, outcome.seconds
        action.summary, action.answer = outcome.summary[:500], outcome.answer or None
        text = f"Runbook *{runbook.name}*: {runner(action.requested_by)} ran *{step.title}* ({action.line}): "
        text += ("" if outcome.ok else ":x: failed: ") + outcome.summary
        if outcome.answer:
            text += "\nAnswer: `" + outcome.answer.replace("`", "'").replace("\n", " ") + "`"
        number = number_of(incident)
        key = await self.timeline.append(session, number, "action", action.requested_by, text, now)
        await self.timeline.echo(session, number, key)
        if outcome.ok:
            await session.execute(
                sa.update(RunbookStep)
                .where(
                    col(RunbookStep.run_id) == run.id,
                    col(RunbookStep.step_id) == step.id,
                    col(RunbookStep.state) == StepState.PENDING.value,
                )
                .values(state=StepState.DONE.value, finished_by=action.requested_by, finished_at=now)
            )
        assert run.id is not None
        await _sync_checklist(session, number, run.id)
        if outcome.ok:
            await session.flush()
            await self.auto(session, incident, run)


def builtin_key(action_id: int) -> str:
    """The timeline key of the change a built-in makes: how a retry knows it was made."""
    return f"action:{action_id}"


async def latest_actions(session: AsyncSession, run_id: int) -> dict[str, ActionRun]:
    """The last run of each step's action in a runbook run."""
    stmt = sa.select(ActionRun).where(col(ActionRun.run_id) == run_id).order_by(col(ActionRun.id))
    return {a.step_id: a for a in await session.scalars(stmt)}


async def _sync_checklist(session: AsyncSession, number: int, run_id: int) -> None:
    await jobs.enqueue(
        session,
        JobKind.SLACK_SYNC_CHECKLIST,
        {"incident": number, "run": run_id},
        queue=incident_queue(number),
    )


def step_variables(incident: Incident, labels: dict[str, str], suspects: list[Change]) -> dict[str, Any]:
    """Template variables of a step; a value the incident lacks is left out (shown as <name>)."""
    values = {
        "number": incident.number,
        "title": incident.title,
        "severity": incident.severity,
        "service": incident.service,
        "status": incident.status,
        "channel": f"#{incident.channel_name}" if incident.channel_name else None,
    }
    return {
        "incident": {k: v for k, v in values.items() if v is not None},
        "labels": labels,
        **template_values(suspects),
    }


def _fingerprint(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:16]


def _shown(request: dict[str, Any], line: str) -> str:
    if request["kind"] == ActionKind.HTTP.value:
        return Prepared.from_dict(request).shown()
    return line[0].upper() + line[1:]


def _verb(request: dict[str, Any], line: str) -> str:
    return f"send {line}" if request["kind"] == ActionKind.HTTP.value else line
