"""The job catalog (bot/jobs.py) and the retry policy the worker composes from the
adapters' classifiers."""

from __future__ import annotations

import httpx2
import pytest
from pagerduty.errors import ServerHttpError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.app import Warroom
from bot.config import ConfigError
from bot.integrations.pagerduty import pagerduty_failure
from bot.jobs import JobKind, check_handlers
from bot.slack.ratelimit import SlowDown
from bot.slack.writer import ChannelNotReady, slack_failure
from bot.worker import MAX_OTHER_ATTEMPTS, MAX_TRANSIENT_ATTEMPTS, composed

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


def test_rate_limits_are_waited_out_and_never_given_up() -> None:
    assert policy(SlowDown("chat.postMessage", 1.5), 1000) == 1.5
    assert policy(slack_error(429, "ratelimited", {"Retry-After": "7"}), 1000) == 7.0


def test_slack_down_is_retried_for_hours_a_wrong_request_a_few_times() -> None:
    down = slack_error(503, "service_unavailable")
    assert policy(down, 1) is not None and policy(down, MAX_TRANSIENT_ATTEMPTS) is None
    wrong = slack_error(200, "channel_not_found")
    assert policy(wrong, MAX_OTHER_ATTEMPTS - 1) is not None and policy(wrong, MAX_OTHER_ATTEMPTS) is None
    assert policy(ChannelNotReady(), 3) == 2.0 and policy(ChannelNotReady(), MAX_TRANSIENT_ATTEMPTS) is None


def test_pagerduty_and_network_failures_are_transient_anything_else_is_not() -> None:
    unreachable = httpx2.ConnectError("refused")
    server = ServerHttpError("boom", httpx2.Response(502))
    for exc in (unreachable, server, TimeoutError(), ConnectionResetError()):
        assert policy(exc, MAX_TRANSIENT_ATTEMPTS - 1) is not None, exc
        assert policy(exc, MAX_TRANSIENT_ATTEMPTS) is None, exc
    assert policy(ValueError("a bug"), MAX_OTHER_ATTEMPTS) is None
    backoff = policy(ValueError("a bug"), 2)
    assert backoff is not None and 1.6 <= backoff <= 2.4
