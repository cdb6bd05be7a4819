"""Post-mortem drafts and follow-ups.

A draft is rendered from what the database holds, stored as a new version (earlier versions
are kept), written to POSTMORTEM_DIR as Markdown and HTML, and uploaded into the incident
channel by a job, so a Slack outage delays the upload and loses nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.documents.postmortem import (
    ActionLine,
    AlertLine,
    Entry,
    FollowUpLine,
    PostmortemData,
    PostmortemRenderer,
    RoleSpan,
    RunbookSection,
    StepLine,
    UpdateLine,
    chart_file,
)
from bot.domain.actions import AUTO, AUTO_NAME, RunState, masked
from bot.domain.incident import DomainError
from bot.domain.people import mentioned
from bot.domain.reviews import ReviewState
from bot.domain.runbooks import Facts, StepState
from bot.domain.status import ComponentState
from bot.jobs import JobKind, incident_queue
from bot.runbook_files import from_definition
from bot.services.changes import ChangeService, step_facts
from bot.services.reports import ReportService
from bot.services.reviews import Reviews
from bot.services.timeline import NotFound, Timeline
from bot.store import jobs
from bot.store.tables import (
    ActionRun,
    AlertRecord,
    FollowUp,
    Incident,
    Postmortem,
    RoleAssignment,
    RunbookRun,
    RunbookStep,
    StatusUpdate,
    TimelineEvent,
)


class PostmortemService:
    def __init__(
        self,
        timeline: Timeline,
        renderer: PostmortemRenderer,
        directory: str | Path,
        reports: ReportService,
        reviews: Reviews,
        changes: ChangeService,
    ) -> None:
        self.timeline = timeline
        self.changes = changes
        self.reports = reports
        self.reviews = reviews
        self.db = timeline.db
        self.renderer = renderer
        self.directory = Path(directory)
        self.notify = timeline.notify
        self.clock = timeline.clock

    # ------------------------------------------------------------ drafts

    async def generate(self, number: int, actor: str) -> tuple[Postmortem, list[Path]]:
        """Render a new draft version, store it, write its files, schedule its upload."""
        async with self.db.sessions() as session:
            data = await self._gather(session, number)
        comparison = await self.reports.comparison(data.incident)
        data = replace(data, chart=await asyncio.to_thread(self.renderer.chart, data), comparison=comparison)
        for _ in range(3):  # two drafts of one incident at once: the loser takes the next number
            try:
                postmortem = await self._store(number, data, actor)
                break
            except IntegrityError:
                continue
        else:
            raise DomainError("Another post-mortem draft is being written right now; try again.")
        self.notify()
        return postmortem, self.write_files(postmortem)

    async def generate_job(self, payload: dict[str, object]) -> None:
        await self.generate(int(str(payload["incident"])), "warroom")

    def paths(self, postmortem: Postmortem) -> list[Path]:
        """Where a draft's Markdown, HTML and timeline picture are written."""
        stem = self.directory / f"incident-{postmortem.incident_number}-postmortem-v{postmortem.version}"
        paths = [stem.with_suffix(".md"), stem.with_suffix(".html")]
        if postmortem.chart:
            paths.append(self.directory / chart_file(postmortem.incident_number, postmortem.version))
        return paths

    def write_files(self, postmortem: Postmortem) -> list[Path]:
        self.directory.mkdir(parents=True, exist_ok=True)
        paths = self.paths(postmortem)
        paths[0].write_text(postmortem.markdown, encoding="utf-8")
        paths[1].write_text(postmortem.html, encoding="utf-8")
        if postmortem.chart:
            paths[2].write_bytes(postmortem.chart)
        return paths

    async def get(self, postmortem_id: int) -> Postmortem:
        async with self.db.sessions() as session:
            postmortem = await session.get(Postmortem, postmortem_id)
        if postmortem is None:
            raise NotFound(f"There is no post-mortem {postmortem_id}.")
        return postmortem

    async def versions(self, number: int) -> list[Postmortem]:
        stmt = (
            sa.select(Postmortem)
            .where(col(Postmortem.incident_number) == number)
            .order_by(col(Postmortem.version))
        )
        async with self.db.sessions() as session:
            return list(await session.scalars(stmt))

    async def record_upload(self, postmortem_id: int, file_id: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                sa.update(Postmortem).where(col(Postmortem.id) == postmortem_id).values(slack_file_id=file_id)
            )

    # ------------------------------------------------------------ internals

    async def _store(self, number: int, data: PostmortemData, actor: str) -> Postmortem:
        async with self.db.transaction() as session:
            incident = await self.timeline.lock(session, number)
            if incident.postmortem_state == ReviewState.PUBLISHED:
                raise DomainError(f"The post-mortem of #{number} is published; it is final.")
            latest = await session.scalar(
                sa.select(sa.func.max(Postmortem.version)).where(col(Postmortem.incident_number) == number)
            )
            version = (latest or 0) + 1
            markdown, html = self.renderer.render(replace(data, version=version))
            now = self.clock()
            postmortem = Postmortem(
                incident_number=number,
                version=version,
                markdown=markdown,
                html=html,
                chart=data.chart,
                created_by=actor,
                created_at=now,
            )
            session.add(postmortem)
            await session.flush()
            incident.postmortem_version = version
            await self.reviews.first_draft(session, incident, now)
            await self.timeline.append(
                session, number, "postmortem", actor, f"Post-mortem draft v{version} written", now
            )
            await jobs.enqueue(
                session,
                JobKind.SLACK_UPLOAD_POSTMORTEM,
                {"incident": number, "postmortem": postmortem.id},
                queue=incident_queue(number),
            )
        return postmortem

    async def _gather(self, session: AsyncSession, number: int) -> PostmortemData:
        incident = await session.get(Incident, number)
        if incident is None:
            raise NotFound(f"There is no incident #{number}.")
        now = self.clock()
        end_of_roles = incident.closed_at or incident.resolved_at or now
        assignments = await session.scalars(
            sa.select(RoleAssignment)
            .where(col(RoleAssignment.incident_number) == number)
            .order_by(col(RoleAssignment.assigned_at), col(RoleAssignment.id))
        )
        roles = [
            RoleSpan(
                a.role,
                a.user_id,
                a.assigned_at,
                a.ended_at,
                max(((a.ended_at or end_of_roles) - a.assigned_at).total_seconds(), 0.0),
            )
            for a in assignments
        ]
        alerts = [
            AlertLine(a.source, a.title, a.status, a.starts_at, a.ends_at)
            for a in await session.scalars(
                sa.select(AlertRecord)
                .where(col(AlertRecord.incident_number) == number)
                .order_by(col(AlertRecord.starts_at))
            )
        ]
        facts, _ = await step_facts(session, incident, self.changes.settings)
        runbooks = await _runbook_sections(session, number, facts)
        related = await self.changes.incident_changes(session, incident)
        timeline = await _timeline(session, number)
        followups = await _followups(session, number)
        updates = await _updates(session, number)
        people = [incident.reporter_id, *(r.user for r in roles), *(e.who for e in timeline)]
        people += [u.who for u in updates]
        people += [f.owner for f in followups] + [s.who for run in runbooks for s in run.steps]
        mentions = set().union(
            *(mentioned(e.text) for e in timeline), *(mentioned(f.text) for f in followups)
        )
        names = await self.timeline.people.names([*people, *mentions], session)
        return PostmortemData(
            incident,
            0,
            now,
            roles,
            alerts,
            runbooks,
            timeline,
            followups,
            names,
            changes_before=related.suspects,
            changes_during=related.during,
            cause=related.cause,
            lookback=self.changes.settings.lookback,
            updates=updates,
        )


async def _updates(session: AsyncSession, number: int) -> list[UpdateLine]:
    rows = await session.scalars(
        sa.select(StatusUpdate)
        .where(col(StatusUpdate.incident_number) == number)
        .order_by(col(StatusUpdate.at), col(StatusUpdate.id))
    )
    return [
        UpdateLine(
            u.at,
            u.actor,
            u.audience,
            u.message,
            "; ".join(
                f"{name}: {ComponentState(state).label.lower()}" for name, state in u.components.items()
            ),
            u.final,
        )
        for u in rows
    ]


async def _timeline(session: AsyncSession, number: int) -> list[Entry]:
    events = await session.execute(
        sa.select(
            col(TimelineEvent.at),
            col(TimelineEvent.actor),
            col(TimelineEvent.kind),
            col(TimelineEvent.text),
        )
        .where(col(TimelineEvent.incident_number) == number)
        .order_by(col(TimelineEvent.at), col(TimelineEvent.id))
    )
    return [Entry(at, actor, kind, text) for at, actor, kind, text in events]


async def _followups(session: AsyncSession, number: int) -> list[FollowUpLine]:
    return [
        FollowUpLine(f.text, f.owner, f.created_at, f.priority, f.state, f.due_at, f.ticket_key)
        for f in await session.scalars(
            sa.select(FollowUp).where(col(FollowUp.incident_number) == number).order_by(col(FollowUp.id))
        )
    ]


async def _runbook_sections(session: AsyncSession, number: int, facts: Facts) -> list[RunbookSection]:
    """Each runbook the incident ran, step by step: what was done, skipped, or not reached
    (and whether a step that was not reached applied at all)."""
    sections = []
    for run in await session.scalars(
        sa.select(RunbookRun).where(col(RunbookRun.incident_number) == number).order_by(col(RunbookRun.id))
    ):
        runbook = from_definition(run.definition, run.version)
        rows = {
            r.step_id: r
            for r in await session.scalars(sa.select(RunbookStep).where(col(RunbookStep.run_id) == run.id))
        }
        ran: dict[str, list[ActionLine]] = {}
        for action in await session.scalars(
            sa.select(ActionRun).where(col(ActionRun.run_id) == run.id).order_by(col(ActionRun.id))
        ):
            ran.setdefault(action.step_id, []).append(_action_line(action))
        steps = []
        for position, step in enumerate(runbook.steps, start=1):
            row = rows.get(step.id)
            actions = tuple(ran.get(step.id, []))
            if row is not None and row.state != StepState.PENDING:
                steps.append(
                    StepLine(
                        position,
                        step.title,
                        row.state,
                        row.finished_by,
                        row.finished_at,
                        row.skip_reason,
                        actions,
                    )
                )
            else:
                outcome = "not reached" if step.when.holds(facts) else "not applicable"
                steps.append(
                    StepLine(position, step.title, outcome, row.taken_by if row else None, actions=actions)
                )
        sections.append(RunbookSection(run.name, run.version, steps))
    return sections


def _action_line(action: ActionRun) -> ActionLine:
    if action.state == RunState.RUNNING:
        result = "still running when this was written"
    else:
        result = f"{action.state}: {action.summary or ''}".rstrip(": ")
    answer = (action.answer or "").replace("`", "'").replace("\n", " ") or None
    return ActionLine(
        masked(action.line),
        AUTO_NAME if action.requested_by == AUTO else action.requested_by,
        action.requested_at,
        result,
        answer,
    )
