"""What warroom posts on a schedule, so the figures come to people instead of waiting to be
asked for: the MTTR report with its chart (warroom.yaml `reports: {schedule: weekly, channel:
incidents}`) and the digest of overdue follow-ups (`followups.digest: weekly`, Mondays).

Each period's posting is one job. Whoever schedules it (every worker at start-up, and each
report for the next one) first claims the period in the `schedule` table with a conditional
upsert, in the same transaction as the job: however many replicas run, one job per period.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import WarroomConfig
from bot.domain.schedule import next_report, period_before
from bot.jobs import JobKind, report_queue
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import utcnow
from bot.store.work_tables import Schedule

SCHEDULE = Schedule.__table__  # type: ignore[attr-defined]
MTTR_REPORT = "mttr-report"
FOLLOWUP_DIGEST = "followup-digest"
TRACKER_RECONCILE = "tracker-reconcile"  # tickets changed where no webhook reached warroom


class ScheduledReports:
    def __init__(
        self, db: Database, config: WarroomConfig, *, notify: Callable[[], None] = lambda: None
    ) -> None:
        self.db = db
        self.config = config
        self.notify = notify
        insert = sqlite.insert if db.is_sqlite else postgresql.insert
        statement = insert(SCHEDULE)
        self._claim = statement.on_conflict_do_update(
            index_elements=["name"],
            set_={"period": statement.excluded.period, "updated_at": statement.excluded.updated_at},
            where=SCHEDULE.c.period < statement.excluded.period,
        )

    def schedule(self, name: str) -> str:
        """daily, weekly, monthly or off."""
        if name == FOLLOWUP_DIGEST:
            return self.config.followups.digest
        if name == TRACKER_RECONCILE:
            return "off" if self.config.followups.tracker == "none" else "hourly"
        return self.config.reports.schedule

    async def ensure(self) -> bool:
        """Make sure each schedule's next posting is scheduled (a worker starting); True if
        this call scheduled one."""
        scheduled = False
        async with self.db.transaction() as session:
            for name in (MTTR_REPORT, FOLLOWUP_DIGEST, TRACKER_RECONCILE):
                if self.schedule(name) != "off":
                    scheduled |= await self._schedule_after(session, name, utcnow())
        if scheduled:
            self.notify()
        return scheduled

    async def run(self, payload: dict[str, Any]) -> None:
        """The period ended: post (a Slack job) and schedule the next one."""
        due = datetime.fromisoformat(str(payload["at"]))
        name = str(payload.get("name") or MTTR_REPORT)
        channel = self.config.announcement_channel
        async with self.db.transaction() as session:
            if name == MTTR_REPORT:
                channel = self.config.reports.channel or channel
                schedule = self.schedule(name) if self.schedule(name) != "off" else "weekly"
                since = period_before(due, schedule, self.config.zone)
                report = {
                    "channel": channel,
                    "since": since.total_seconds(),
                    "user": "warroom",
                    "response_url": None,
                    "id": f"scheduled-{due:%Y%m%d%H%M}",
                }
                await jobs.enqueue(session, JobKind.SLACK_POST_REPORT, report, queue=report_queue(channel))
            elif name == TRACKER_RECONCILE:
                check = {"at": due.isoformat(), "name": name}
                await jobs.enqueue(session, JobKind.TRACKER_RECONCILE, check, queue=f"schedule-run:{name}")
            else:
                digest = {"at": due.isoformat(), "name": name}
                await jobs.enqueue(
                    session, JobKind.SLACK_FOLLOWUP_DIGEST, digest, queue=report_queue(channel)
                )
            if self.schedule(name) != "off":
                await self._schedule_after(session, name, max(due, utcnow()))
        self.notify()

    async def _schedule_after(self, session: AsyncSession, name: str, after: datetime) -> bool:
        due = next_report(after, self.schedule(name), self.config.zone)
        claimed = await session.execute(
            self._claim, {"name": name, "period": due.isoformat(), "updated_at": utcnow()}
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return False  # another replica scheduled this period (or a later one)
        await jobs.enqueue(
            session,
            JobKind.REPORT_SCHEDULED,
            {"at": due.isoformat(), "name": name},
            queue=f"schedule:{name}",
            run_at=due,
        )
        return True
