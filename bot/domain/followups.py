"""Follow-ups: the work an incident leaves behind. Pure: parsing what a person typed, the
states, and how a follow-up stands against its due date."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum

from bot.domain.incident import DomainError
from bot.domain.people import MENTION

TITLE_MAX = 500
PRIORITIES = ("P1", "P2", "P3")
DEFAULT_PRIORITY = "P2"
_PRIORITY = re.compile(r"[pP]([123])")
_DUE = re.compile(r"due:(\S*)", re.IGNORECASE)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DELAY = re.compile(r"(\d{1,4})([dw])")


class FollowUpState(StrEnum):
    OPEN = "open"
    DONE = "done"
    WONT_DO = "wont_do"

    @property
    def words(self) -> str:
        return {"open": "open", "done": "done", "wont_do": "won't do"}[self.value]


@dataclass(frozen=True)
class FollowUpRequest:
    """What `followup TITLE [@owner] [p1] [due:2026-12-24|due:7d]` asks for."""

    title: str
    owner: str | None = None
    priority: str = DEFAULT_PRIORITY
    due: date | timedelta | None = None  # a day, or a delay from now; None: the severity's default


def parse_followup(text: str) -> FollowUpRequest:
    """Options come last, in any order: `@owner`, `p1`..`p3`, `due:2026-12-24` or `due:7d`
    (days or weeks). Whatever precedes them is the title."""
    words = text.split()
    owner, priority, due = None, DEFAULT_PRIORITY, None
    while words:
        word = words[-1]
        if (mention := MENTION.fullmatch(word)) and owner is None:
            owner = mention.group(1)
        elif (level := _PRIORITY.fullmatch(word)) and priority == DEFAULT_PRIORITY:
            priority = f"P{level.group(1)}"
        elif (when := _DUE.fullmatch(word)) and due is None:
            due = _due(when.group(1))
        else:
            break
        words.pop()
    return FollowUpRequest(" ".join(words), owner, priority, due)


def _due(value: str) -> date | timedelta:
    if day := _DATE.fullmatch(value):
        try:
            return date(int(day.group(1)), int(day.group(2)), int(day.group(3)))
        except ValueError:
            pass
    elif delay := _DELAY.fullmatch(value.lower()):
        return timedelta(days=int(delay.group(1)) * (7 if delay.group(2) == "w" else 1))
    raise DomainError(
        f"`due:{value[:20]}`: give a day like `due:2026-12-24` or a delay like `due:7d` or `due:2w`."
    )


def due_at(due: date | timedelta, now: datetime, zone: tzinfo) -> datetime:
    """When a follow-up asked for with `due` is due: the end of that day in warroom's zone,
    or `now` plus the delay. A day in the past is refused."""
    if isinstance(due, timedelta):
        return now + due
    end = datetime.combine(due + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    if end <= now:
        raise DomainError(f"`due:{due.isoformat()}` is in the past.")
    return end


def standing(state: str, due: datetime | None, closed_at: datetime | None, now: datetime) -> str:
    """done_on_time, done_late, wont_do, open_overdue or open (for reports and lists)."""
    if state == FollowUpState.WONT_DO:
        return "wont_do"
    if state == FollowUpState.DONE:
        return "done_late" if due and closed_at and closed_at > due else "done_on_time"
    return "open_overdue" if due and due < now else "open"
