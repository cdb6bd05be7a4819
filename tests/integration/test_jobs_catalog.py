"""The job catalog (bot/jobs.py) and the retry policy the worker composes from the
adapters' classifiers."""

from __future__ import annotations

import httpx2
import pytest
import sqlalchemy as sa
from pagerduty.errors import ServerHttpError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.app import Warroom
from bot.config import ConfigError
from bot.integrations.pagerduty import pagerduty_failure
from bot.jobs import PAYLOADS, JobKind, check_handlers
from bot.sim.driver import SlackDriver
from bot.slack.writer import ChannelNotReady, slack_failure
from bot.store.work_tables import Job
from bot.worker import MAX_OTHER_ATTEMPTS, MAX_TRANSIENT_ATTEMPTS, composed
from tests.conftest import People
from tests.e2e.conftest import Declared, declared, general
from tests.e2e.helpers import settle

__all__ = ["declared", "general"]

policy = composed(slack_failure, pagerduty_failure)


def slack_error(status: int, error: str, headers: dict[str, str] | None = None) -> SlackApiError:
    response = AsyncSlackResponse(
        client=AsyncWebClient(),
        http_verb="POST",
        api_url="https://slack.example/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError(error, response)


def test_every_kind_has_a_handler_and_a_missing_one_stops_start_up(warroom: Warroom) -> None:
    handlers = dict(warroom.worker.handlers)
    check_handlers(handlers)
    assert set(handlers) == {kind.value for kind in JobKind}
    del handlers[JobKind.SLACK_TRIAGE]
    with pytest.raises(ConfigError, match=r"^job kind slack\.triage has no handler$"):
        check_handlers(handlers)
    with pytest.raises(ConfigError, match=r"slack\.typo, which is not a JobKind"):
        check_handlers({**warroom.worker.handlers, "slack.typo": handlers[JobKind.SLACK_ECHO]})


async def test_every_payload_a_service_enqueues_has_the_keys_its_kind_declares(
    warroom: Warroom, slack: SlackDriver, people: People, declared: Declared
) -> None:
    channel = declared.channel.id
    await slack.command(people.alice, "note Rolling back", channel)
    await slack.command(people.alice, "sev 1", channel)
    await slack.command(people.alice, "resolve Rolled back", channel)
    await slack.command(people.alice, "close", channel)
    await settle(warroom)
    async with warroom.db.sessions() as session:
        queued = list(await session.scalars(sa.select(Job)))
    kinds = {job.kind for job in queued}
    assert kinds >= {JobKind.SLACK_OPEN_CHANNEL, JobKind.SLACK_ECHO, JobKind.REMINDER_STATUS_UPDATE}
    for job in queued:
        assert set(job.payload) == set(PAYLOADS[JobKind(job.kind)].__annotations__), job.kind
    assert set(PAYLOADS) == set(JobKind)


def test_slack_rate_limits_are_waited_out_and_never_given_up() -> None:
    assert policy(slack_error(429, "ratelimited", {"Retry-After": "7"}), 1000) == 7.0


def test_slack_down_is_retried_for_hours_a_wrong_request_a_few_times() -> None:
    down = slack_error(503, "service_unavailable")
    assert policy(down, 1) is not None and policy(down, MAX_TRANSIENT_ATTEMPTS) is None
    wrong = slack_error(200, "channel_not_found")
    assert policy(wrong, MAX_OTHER_ATTEMPTS - 1) is not None and policy(wrong, MAX_OTHER_ATTEMPTS) is None
    assert policy(ChannelNotReady(1), 3) == 2.0 and policy(ChannelNotReady(1), MAX_TRANSIENT_ATTEMPTS) is None


def test_pagerduty_and_network_failures_are_transient_anything_else_is_not() -> None:
    unreachable = httpx2.ConnectError("refused")
    server = ServerHttpError("boom", httpx2.Response(502))
    for exc in (unreachable, server, TimeoutError(), ConnectionResetError()):
        assert policy(exc, MAX_TRANSIENT_ATTEMPTS - 1) is not None, exc
        assert policy(exc, MAX_TRANSIENT_ATTEMPTS) is None, exc
    assert policy(ValueError("a bug"), MAX_OTHER_ATTEMPTS) is None
    backoff = policy(ValueError("a bug"), 2)
    assert backoff is not None and 1.6 <= backoff <= 2.4
