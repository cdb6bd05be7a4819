"""Slack's rate limits, kept on our side: a budget per Web API method that follows Slack's
tiers, so that an alert storm spaces its calls out instead of drawing 429s.

Slack counts per method and workspace: Tier 1 allows about 1 call a minute, Tier 2 20,
Tier 3 50, Tier 4 100; chat.postMessage allows about one message a second per channel.
A call that would have to wait briefly waits; one that would wait longer raises SlowDown,
and the job is scheduled again for when the budget allows it (a job does not sit on its
lease while it waits). With several replicas each keeps its own budget: give each a share
(SLACK_RATE_SHARE).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
TIERS = {
    "auth.test": 4,
    "bookmarks.add": 2,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "conversations.archive": 2,
    "conversations.create": 2,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.invite": 3,
    "conversations.list": 2,
    "conversations.members": 4,
    "conversations.setTopic": 2,
    "files.completeUploadExternal": 4,
    "files.getUploadURLExternal": 4,
    "pins.add": 2,
    "reactions.add": 3,
    "usergroups.users.list": 2,
    "users.info": 4,
    "users.lookupByEmail": 3,
    "views.open": 4,
    "views.publish": 4,
    "views.update": 4,
}
POST_PER_CHANNEL_PER_MINUTE = 60  # chat.postMessage: about one a second in each channel
MAX_WAIT = 2.0  # seconds a call may wait in place; beyond that its job is rescheduled


class SlowDown(Exception):
    """The budget of a Slack method is spent for now; try again after `delay` seconds."""

    def __init__(self, method: str, delay: float) -> None:
        super().__init__(f"{method}: rate budget spent, next call in {delay:.1f}s")
        self.delay = delay


class Bucket:
    """A token bucket that never exceeds `per_period` calls in any window of `period`
    seconds (Slack counts in sliding minutes): a burst of a sixth of them, then the rest
    spaced evenly."""

    def __init__(self, per_period: float, period: float, clock: Callable[[], float]) -> None:
        self.capacity = max(1, int(per_period // 6))
        self.interval = period / max(per_period - self.capacity, 1)
        self.clock = clock
        self.free_at = clock() - self.capacity * self.interval  # starts full

    def wait(self) -> float:
        """Seconds until a token is free (0 when one is)."""
        now = self.clock()
        earliest = max(self.free_at, now - self.capacity * self.interval)
        return max(0.0, earliest + self.interval - now)

    def take(self) -> None:
        now = self.clock()
        self.free_at = max(self.free_at, now - self.capacity * self.interval) + self.interval


class SlackBudget:
    def __init__(
        self, *, period: float = 60.0, share: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.period = period  # the length of Slack's "minute": shortened only by tests
        self.share = share  # this process's part of the workspace's budget
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}

    def _bucket(self, key: str, per_minute: float) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(per_minute * self.share, self.period, self.clock)
        return bucket

    async def spend(self, method: str, channel: str | None = None) -> None:
        """Wait for the method's budget (briefly), or raise SlowDown."""
        buckets = [self._bucket(method, PER_MINUTE[TIERS.get(method, 3)])]
        if method == "chat.postMessage":
            buckets = [self._bucket(f"{method}:{channel}", POST_PER_CHANNEL_PER_MINUTE)]
        delay = max(bucket.wait() for bucket in buckets)
        if delay > MAX_WAIT * self.period / 60:
            raise SlowDown(method, delay)
        for bucket in buckets:
            bucket.take()
        if delay:
            await asyncio.sleep(delay)


class BudgetedWebClient(AsyncWebClient):
    """The Web API client the projector uses: every call spends from the budget first."""

    def __init__(self, *args: Any, budget: SlackBudget | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget or SlackBudget()

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        params = kwargs.get("json") or kwargs.get("params") or kwargs.get("data") or {}
        channel = params.get("channel") if isinstance(params, dict) else None
        await self.budget.spend(api_method, str(channel) if channel else None)
        return await super().api_call(api_method, **kwargs)
