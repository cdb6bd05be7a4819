"""Slack calls that are safe to repeat: a job's later attempt finds what an earlier one did
(a message by its metadata, a file by its name, a channel warroom created) instead of doing
it again, and "already done" answers count as done. Also how the worker retries a failed
Slack call (`slack_failure`, composed into its policy by the composition root)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import worker
from bot.jobs import Handler, JobKind, incident_queue
from bot.slack.ids import Marker
from bot.store import jobs
from bot.store.db import Database
from bot.store.tables import utcnow

log = logging.getLogger(__name__)

# Slack errors that say "try again", as opposed to "this request is wrong".
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
# Slack errors that mean the wanted state already holds.
ALREADY_DONE = {"already_in_channel", "already_pinned", "already_reacted"}
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")


class ChannelNotReady(Exception):
    """The incident channel does not exist yet; try again shortly."""

    def __init__(self, number: int) -> None:
        super().__init__(f"incident #{number} has no channel yet")
        self.number = number


CHANNEL_SETTLE = 0.5  # seconds after the channel's job is due that a job waiting for it looks again


def waiting_for_channels(handlers: dict[str, Handler], db: Database) -> dict[str, Handler]:
    """Slack handlers that, when the incident's channel is still to be made, wait for the job
    making it (its reserved time, in a storm) instead of failing every two seconds. With no
    such job pending, ChannelNotReady is a failure like any other."""

    def waiting(handler: Handler) -> Handler:
        async def run(payload: dict[str, Any]) -> None:
            try:
                await handler(payload)
            except ChannelNotReady as exc:
                due = await jobs.first_due(db, incident_queue(exc.number), JobKind.SLACK_OPEN_CHANNEL)
                if due is None:
                    raise
                delay = max((due - utcnow()).total_seconds(), 0.0) + CHANNEL_SETTLE
                raise worker.Postpone(delay, f"the channel of #{exc.number}") from exc

        return run

    return {kind: waiting(handler) for kind, handler in handlers.items()}


def slack_failure(exc: BaseException) -> worker.Retry | None:
    """How the worker retries a failed Slack job (bot/worker.py composes the policy)."""
    if isinstance(exc, ChannelNotReady):
        return worker.Retry(after=2.0)
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        if status == 429:
            headers = exc.response.headers
            return worker.Retry(
                after=float(headers.get("Retry-After", headers.get("retry-after", 1))), limit=None
            )
        if status >= 500 or exc.response.get("error") in TRANSIENT_ERRORS:
            return worker.TRANSIENT
        return worker.OTHER
    if isinstance(exc, aiohttp.ClientError):
        return worker.TRANSIENT
    return None


async def all_of(*steps: Awaitable[Any]) -> None:
    """Run steps at once and wait for every one of them, then raise the first failure: a job
    must not be retried while a step of its previous attempt is still talking to Slack."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def marker(kind: Marker, **payload: Any) -> dict[str, Any]:
    """Message metadata that lets a retry recognise what an earlier attempt posted."""
    return {"event_type": kind, "event_payload": payload}


class SlackWriter:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._bot_user: str | None = None

    async def invite(self, channel: str, users: list[str]) -> None:
        """Invite people (an id that is not a person is left out; one stale id does not keep
        the others out)."""
        wanted = sorted({u for u in users if u and u[0] in "UW"})
        if not wanted:
            return
        try:
            await self.client.conversations_invite(channel=channel, users=",".join(wanted))
        except SlackApiError as exc:
            if error_of(exc) in ALREADY_DONE:
                return
            if error_of(exc) == "user_not_found" and len(wanted) > 1:
                for user in wanted:  # invite the others even if one id is stale
                    await self.invite(channel, [user])
                return
            if error_of(exc) == "user_not_found":
                log.warning("cannot invite %s to %s: unknown user", wanted[0], channel)
                return
            raise

    async def pin(self, channel: str, ts: str) -> None:
        try:
            await self.client.pins_add(channel=channel, timestamp=ts)
        except SlackApiError as exc:
            if error_of(exc) not in ALREADY_DONE:
                raise

    async def created_by_us_since(self, channel: dict[str, Any], since: datetime) -> bool:
        """Whether warroom created this channel after `since` (not an earlier installation
        with the same incident numbers)."""
        if self._bot_user is None:
            self._bot_user = str((await self.client.auth_test())["user_id"])
        created = float(channel.get("created") or 0)
        return channel.get("creator") == self._bot_user and created >= since.timestamp() - 60

    async def channel_named(self, name: str) -> dict[str, Any] | None:
        name = name.lstrip("#")
        cursor = None
        while True:
            page = await self.client.conversations_list(
                types="public_channel,private_channel", exclude_archived=True, limit=1000, cursor=cursor
            )
            channels: list[dict[str, Any]] = page.get("channels", [])
            for channel in channels:
                if channel.get("name") == name:
                    return dict(channel)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    async def channel_id(self, channel: str) -> str:
        """The id of a channel given by name (like the announcement channel) or id."""
        if CHANNEL_ID.fullmatch(channel):
            return channel
        found = await self.channel_named(channel)
        if found is None:
            raise LookupError(f"no channel named #{channel.lstrip('#')} (is warroom in it?)")
        return str(found["id"])

    async def recent(self, channel: str) -> tuple[str, list[dict[str, Any]]]:
        """A channel's id and its last 100 messages, newest first (with their metadata)."""
        if not CHANNEL_ID.fullmatch(channel):  # a name, like the announcement channel's
            found = await self.channel_named(channel)
            if found is None:
                return channel, []
            channel = found["id"]
        history = await self.client.conversations_history(
            channel=channel, include_all_metadata=True, limit=100
        )
        return channel, list(history.get("messages", []))

    async def posted_earlier(self, channel: str, marker: dict[str, Any]) -> tuple[str, str] | None:
        """The channel id and ts of a message an earlier attempt posted with this metadata."""
        channel, messages = await self.recent(channel)
        return next(((channel, str(m["ts"])) for m in messages if m.get("metadata") == marker), None)

    async def post_once(self, channel: str, marker: dict[str, Any], **message: Any) -> tuple[str, str]:
        """Post a message at most once; its channel id and ts. On a job's later attempt, an
        earlier attempt may have posted it before its process died: the marker (message
        metadata) finds it."""
        if worker.attempt.get() > 1 and (earlier := await self.posted_earlier(channel, marker)):
            return earlier
        response = await self.client.chat_postMessage(channel=channel, metadata=marker, **message)
        return str(response["channel"]), str(response["ts"])

    async def uploaded_earlier(self, channel: str, filename: str) -> dict[str, Any] | None:
        """On a job's later attempt: the file an earlier attempt shared in the channel, if any
        (file names are unique per draft version and per report request)."""
        if worker.attempt.get() == 1:
            return None
        _, messages = await self.recent(channel)
        shared = (dict(f) for m in messages for f in m.get("files", []))
        return next((f for f in shared if f.get("name") == filename), None)


def error_of(exc: SlackApiError) -> str:
    return str(exc.response.get("error", ""))
