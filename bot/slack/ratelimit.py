"""Slack's rate limits, kept on our side: a budget per Web API method that follows Slack's
tiers, so that an alert storm waits its turn instead of drawing 429s.

Slack counts per method and workspace in sliding minutes: Tier 1 allows about 1 call a
minute, Tier 2 20, Tier 3 50, Tier 4 100; chat.postMessage about one message a second per
channel. The budget is shaped the same way (bot/domain/budget.py): a window's whole allowance
at once when it is unspent, never more than it in any window.

Where the calls are counted: in the process on SQLite (`LocalCalls`); on PostgreSQL in one
table every replica spends from (`SharedCalls`, one statement per call, and one when it is
answered). A job that must wait a moment waits in place; one that must wait longer is given
the time reserved for it and released (worker.Postpone), in line behind the jobs of more
urgent incidents and older jobs.

A call is counted when it is granted, and counted again from when Slack answered it (it is
settled): Slack counted it in between, when it arrived. However long a call took to reach
Slack (a busy event loop, a slow network), no call Slack still counts has left our window,
so a window with room here has room at Slack.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple, Protocol

import aiohttp
import sqlalchemy as sa
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot import worker
from bot.domain.budget import INTERACTIVE, allowance, free_at, recent, window
from bot.store.db import Database

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
MAX_WAIT = 2.0  # seconds (of a 60 s minute) a call may wait in place; beyond, its job is released


def budget_of(method: str, channel: str | None) -> tuple[str, int]:
    """The budget a call spends from, and Slack's limit for it per minute."""
    if method == "chat.postMessage":
        return f"slack:{method}:{channel}", POST_PER_CHANNEL_PER_MINUTE
    return f"slack:{method}", PER_MINUTE[TIERS.get(method, 3)]


class Turn(NamedTuple):
    wait: float  # seconds until the call's turn; 0: it may go now, and is counted
    at: float  # when it was counted, on the clock of the calls' times


class Calls(Protocol):
    """Where the calls of the last window are counted."""

    async def take(self, key: str, *, limit: int, keep: int, ticket: worker.Ticket | None) -> Turn:
        """Record a call when the window has room for it (after the jobs waiting in line
        before `ticket`), else answer the seconds until its turn."""
        ...

    async def settle(self, key: str, at: float) -> None:
        """The call counted `at` was answered: it counts from now."""
        ...


class Line(Protocol):
    """The jobs waiting for a budget, in line (bot/store/jobs.py: WaitingLine)."""

    async def ahead(self, key: str, *, job: int, priority: int) -> int: ...

    async def served(self, key: str, *, job: int) -> None: ...


class LocalCalls:
    """The calls of this process (SQLite: one process serves); `line` orders the waiting jobs."""

    def __init__(
        self, *, period: float, line: Line | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.period = period
        self.line = line
        self.clock = clock
        self._calls: dict[str, list[float]] = {}

    async def take(self, key: str, *, limit: int, keep: int, ticket: worker.Ticket | None) -> Turn:
        ahead = 0
        if self.line and ticket:
            ahead = await self.line.ahead(key, job=ticket.job, priority=ticket.priority)
        now = self.clock()  # from here on nothing awaits: a check and its call are one step
        calls = self._calls[key] = recent(self._calls.get(key, []), period=self.period, now=now, keep=keep)
        at = free_at(calls, limit=limit, period=self.period, now=now, ahead=ahead)
        if at > now:
            return Turn(at - now, now)
        calls.append(now)
        del calls[:-keep]
        if self.line and ticket and ticket.waiting_for == key:
            await self.line.served(key, job=ticket.job)
        return Turn(0.0, now)

    async def settle(self, key: str, at: float) -> None:
        calls = self._calls.get(key, [])
        if at in calls:
            calls.remove(at)
            calls.append(self.clock())  # the newest: no call is answered before it is counted


TAKE = sa.text("SELECT * FROM warroom_slack_take(:key, :limit, :keep, :window, :job, :priority)")
SETTLE = sa.text(
    "UPDATE slack_budget SET calls = ARRAY(SELECT c FROM unnest(array_replace(calls, "
    "CAST(:at AS double precision), extract(epoch FROM clock_timestamp()))) AS c ORDER BY c) "
    "WHERE key = :key AND CAST(:at AS double precision) = ANY(calls)"
)


class SharedCalls:
    """The calls of every replica, in PostgreSQL (migration 0019): one statement per call,
    which locks the key's row for as long as it runs (autocommit)."""

    def __init__(self, db: Database, *, period: float) -> None:
        self.db = db
        self.period = period

    async def take(self, key: str, *, limit: int, keep: int, ticket: worker.Ticket | None) -> Turn:
        params = {
            "key": key,
            "limit": limit,
            "keep": keep,
            "window": window(self.period),
            "job": ticket.job if ticket else None,
            "priority": ticket.priority if ticket else INTERACTIVE,
        }
        async with self.db.sessions() as session:
            row = (await session.execute(TAKE, params)).one()
        if row.granted:
            return Turn(0.0, row.now)
        at = free_at(row.calls, limit=limit, period=self.period, now=row.now, ahead=row.ahead)
        return Turn(max(float(at - row.now), 0.001), row.now)

    async def settle(self, key: str, at: float) -> None:
        async with self.db.sessions() as session:
            await session.execute(SETTLE, {"key": key, "at": at})


class SlackBudget:
    def __init__(self, calls: Calls | None = None, *, period: float = 60.0, share: float = 1.0) -> None:
        self.period = period  # the length of Slack's "minute": shortened only by tests
        self.share = share  # the part of Slack's limits warroom may spend (all replicas together)
        self.calls = calls or LocalCalls(period=period)

    @contextlib.asynccontextmanager
    async def spending(self, method: str, channel: str | None = None) -> AsyncIterator[None]:
        """Wait for the method's budget (briefly), or postpone the running job to its turn;
        the call made inside is settled once it is answered (or has failed)."""
        key, per_minute = budget_of(method, channel)
        ticket = worker.ticket.get()
        whole = max(1, int(per_minute * self.share))
        limit = allowance(whole, ticket.priority if ticket else INTERACTIVE)
        while (turn := await self.calls.take(key, limit=limit, keep=whole, ticket=ticket)).wait > 0:
            if turn.wait > MAX_WAIT * self.period / 60:
                raise worker.Postpone(turn.wait, key)
            await asyncio.sleep(turn.wait)
        try:
            yield
        finally:
            await self.calls.settle(key, turn.at)


# The connection errors slack_sdk would retry at once, unseen by the budget: here the retry
# spends from it like any call.
RESENT = (aiohttp.ServerConnectionError, aiohttp.ClientOSError)


class BudgetedWebClient(AsyncWebClient):
    """The Web API client the projector uses: every call spends from the budget first, and
    every call sent is one the budget counted (a dropped connection is sent again once)."""

    def __init__(self, *args: Any, budget: SlackBudget | None = None, **kwargs: Any) -> None:
        kwargs["retry_handlers"] = []  # slack_sdk's own retries would go unseen by the budget
        super().__init__(*args, **kwargs)
        self.budget = budget or SlackBudget()

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        params = kwargs.get("json") or kwargs.get("params") or kwargs.get("data") or {}
        channel = str(params["channel"]) if isinstance(params, dict) and params.get("channel") else None
        try:
            return await self._sent(api_method, channel, kwargs)
        except RESENT:  # sent again once, as slack_sdk would; but counted
            return await self._sent(api_method, channel, kwargs)

    async def _sent(self, api_method: str, channel: str | None, kwargs: dict[str, Any]) -> AsyncSlackResponse:
        async with self.budget.spending(api_method, channel):
            return await super().api_call(api_method, **kwargs)
