"""The scheduled MTTR report (warroom.yaml `reports: {schedule: weekly, channel: incidents}`):
posted with its chart, so the figures come to people instead of waiting to be asked for.

Each period's report is one job. Whoever schedules it (every worker at start-up, and each
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
from bot.store.tables import Schedule, utcnow

SCHEDULE = Schedule.__table__  # type: ignore[attr-defined]
MTTR_REPORT = "mttr-report"


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

    @property
    def schedule(self) -> str:
        return self.config.reports.schedule

    async def ensure(self) -> bool:
        """Make sure the next report is scheduled (a worker starting); True if this call did."""
        if self.schedule == "off":
            return False
        async with self.db.transaction() as session:
            scheduled = await self._schedule_after(session, utcnow())
        if scheduled:
            self.notify()
        return scheduled

    async def run(self, payload: dict[str, Any]) -> None:
        """The period ended: post its report (a Slack job) and schedule the next one."""
        due = datetime.fromisoformat(str(payload["at"]))
        channel = self.config.reports.channel or self.config.announcement_channel
        since = period_before(due, self.schedule if self.schedule != "off" else "weekly", self.config.zone)
        async with self.db.transaction() as session:
            await jobs.enqueue(
                session,
                JobKind.SLACK_POST_REPORT,
                {
                    "channel": channel,
                    "since": since.total_seconds(),
                    "user": "warroom",
                    "response_url": None,
                    "id": f"scheduled-{due:%Y%m%d%H%M}",
                },
                queue=report_queue(channel),
            )
            if self.schedule != "off":
                await self._schedule_after(session, max(due, utcnow()))
        self.notify()

    async def _schedule_after(self, session: AsyncSession, after: datetime) -> bool:
        due = next_report(after, self.schedule, self.config.zone)
        claimed = await session.execute(
            self._claim, {"name": MTTR_REPORT, "period": due.isoformat(), "updated_at": utcnow()}
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return False  # another replica scheduled this period (or a later one)
        await jobs.enqueue(
            session,
            JobKind.REPORT_SCHEDULED,
            {"at": due.isoformat()},
            queue=f"schedule:{MTTR_REPORT}",
            run_at=due,
        )
        return True
