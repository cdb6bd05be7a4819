"""When the scheduled MTTR report is due: 09:00 in warroom's time zone, every day, every
Monday, or on the first of every month. Pure date arithmetic."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

POST_AT = time(9, 0)  # a report people read at the start of their day


def next_report(after: datetime, schedule: str, zone: tzinfo) -> datetime:
    """The first posting time strictly after `after` (UTC); `hourly`: the next full hour."""
    if schedule == "hourly":
        return after.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    local = after.astimezone(zone)
    day = local.date()
    for _ in range(62):
        due = datetime.combine(day, POST_AT, tzinfo=zone)
        if due > local and _on_schedule(day.weekday(), day.day, schedule):
            return due.astimezone(after.tzinfo)
        day += timedelta(days=1)
    raise ValueError(f"no posting day for schedule {schedule!r}")


def period_before(due: datetime, schedule: str, zone: tzinfo) -> timedelta:
    """How far back the report posted at `due` looks: the day, week or month that just ended."""
    if schedule == "daily":
        return timedelta(days=1)
    if schedule == "weekly":
        return timedelta(days=7)
    local = due.astimezone(zone)
    previous_month = (local.replace(day=1) - timedelta(days=1)).replace(day=1)
    return local - previous_month.replace(hour=local.hour, minute=local.minute)


def _on_schedule(weekday: int, day_of_month: int, schedule: str) -> bool:
    return {"daily": True, "weekly": weekday == 0, "monthly": day_of_month == 1}[schedule]
