"""The incident in one message, for someone arriving late: `/incident catchup`, and what
anyone who joins an incident channel is shown. Built from the database alone, in a handful of
indexed reads whatever the length of the timeline (bench/catchup.py)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col

from bot.domain.followups import FollowUpState
from bot.domain.runbooks import StepState
from bot.runbook_files import from_definition
from bot.services.changes import ChangeService, IncidentChanges, step_facts
from bot.services.timeline import NotFound, current_roles
from bot.store.db import Database
from bot.store.tables import FollowUp, Incident, RunbookRun, RunbookStep, TimelineEvent

UPDATES_SHOWN = 3


@dataclass(frozen=True)
class OpenStep:
    runbook: str
    position: int
    title: str
    owner_role: str | None
    taken_by: str | None


@dataclass(frozen=True)
class Catchup:
    incident: Incident
    roles: dict[str, str]
    updates: list[TimelineEvent]  # the last status updates, newest first
    steps: list[OpenStep]  # steps that apply and are not done or skipped
    followups: list[FollowUp]  # not done yet
    changes: IncidentChanges  # before it started, and while open


async def catchup(db: Database, number: int, changes: ChangeService) -> Catchup:
    async with db.sessions() as session:
        incident = await session.get(Incident, number)
        if incident is None:
            raise NotFound(f"There is no incident #{number}.")
        roles = (await current_roles(session, [number]))[number]
        updates = list(
            await session.scalars(
                sa.select(TimelineEvent)
                .where(col(TimelineEvent.incident_number) == number, col(TimelineEvent.kind) == "status")
                .order_by(col(TimelineEvent.at).desc(), col(TimelineEvent.id).desc())
                .limit(UPDATES_SHOWN)
            )
        )
        facts, _ = await step_facts(session, incident, changes.settings)
        related = await changes.incident_changes(session, incident)
        steps: list[OpenStep] = []
        runs = await session.scalars(
            sa.select(RunbookRun)
            .where(col(RunbookRun.incident_number) == number)
            .order_by(col(RunbookRun.id))
        )
        for run in runs:
            rows = {
                r.step_id: r
                for r in await session.scalars(
                    sa.select(RunbookStep).where(col(RunbookStep.run_id) == run.id)
                )
            }
            for position, step in enumerate(from_definition(run.definition, run.version).steps, start=1):
                row = rows.get(step.id)
                if (row is None or row.state == StepState.PENDING) and step.when.holds(facts):
                    taken = row.taken_by if row else None
                    steps.append(OpenStep(run.name, position, step.title, step.owner, taken))
        followups = list(
            await session.scalars(
                sa.select(FollowUp)
                .where(col(FollowUp.incident_number) == number, col(FollowUp.state) == FollowUpState.OPEN)
                .order_by(col(FollowUp.id))
            )
        )
    return Catchup(incident, roles, updates, steps, followups, related)
