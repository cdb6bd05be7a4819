"""A rate budget shaped like Slack's: never more than `limit` calls in any sliding window of
`period` seconds, and all of them at once when the window is unspent.

Pure arithmetic over the times of the calls already made; where those times are kept (in the
process, or in PostgreSQL for every replica) is the caller's business (bot/slack/ratelimit.py).

Priority: work waits in line by urgency (1 is the most urgent severity; interactive calls and
work with no incident come first and last). Only the most urgent may spend a window's last
tenth: an alert storm of lesser incidents leaves room for the SEV1 declared next.
"""

from __future__ import annotations

from collections.abc import Sequence

URGENT = 1  # the most urgent severity's rank
INTERACTIVE = 0  # a call made for someone waiting on it, outside any job
UNRANKED = 100  # work that belongs to no incident (home tabs, reports, triage)
# A call counts from its grant and, once answered, from its answer (bot/slack/ratelimit.py),
# so its delay on the way to Slack is covered; what is left (Slack's clock against ours, a
# call still on its way) is covered by a window a little longer than Slack's: by 2% of it but
# at least half a second (never more than a tenth of a period shortened for tests).
MARGIN, LAG = 0.02, 0.5


def window(period: float) -> float:
    """How long a call counts against its budget."""
    return period + min(max(period * MARGIN, LAG), period / 10)


def allowance(limit: int, priority: int) -> int:
    """How many calls of a window's `limit` work of this priority may spend."""
    if priority <= URGENT:
        return limit
    return limit - limit // 10


def free_at(calls: Sequence[float], *, limit: int, period: float, now: float, ahead: int = 0) -> float:
    """When the next call may go, when `ahead` calls wait in line before it.

    `calls` are the times of the calls made in the last period, oldest first. Each caller in
    line takes the earliest time at which fewer than `limit` calls fall in the window ending
    then; the answer is the time left for the one after them (`now` when it may go at once).
    """
    limit, counts = max(limit, 1), window(period)
    times = [t for t in calls if t > now - counts]
    at = now
    for _ in range(ahead + 1):
        at = now if len(times) < limit else max(now, times[-limit] + counts)
        times.append(at)
    return at


def family(waiting_for: str) -> str:
    """What a job waits for, as few names as there are methods: the Slack method's budget
    (chat.postMessage's, not each channel's), or else its incident's channel being made."""
    if waiting_for.startswith("slack:"):
        return ":".join(waiting_for.split(":")[:2])
    return "incident channel"


def recent(calls: Sequence[float], *, period: float, now: float, keep: int) -> list[float]:
    """The calls that still count at `now` (at most `keep` of them, the newest)."""
    counts = window(period)
    return [t for t in calls if t > now - counts][-keep:]
