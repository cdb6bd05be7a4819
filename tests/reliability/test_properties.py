"""Property-based tests (hypothesis): whatever text people type and whatever JSON monitors
send, the parsers answer with a result or a clear refusal (DomainError, PayloadError), never
a crash; escaped text can never ping a channel or forge a link."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import parse_duration
from bot.domain.followups import parse_followup
from bot.domain.incident import DomainError
from bot.ingest import PayloadError, alertmanager, generic, grafana, pagerduty
from bot.slack.text import (
    CHANNEL_NAME_MAX,
    channel_name,
    escape,
    escape_keeping_mentions,
    parse_declare,
    parse_user,
    split_command,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SEVERITIES = ["SEV1", "SEV2", "SEV3", "SEV4"]
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Text as people type it: anything, with Slack's markup and whitespace over-represented.
slack_text = st.lists(
    st.one_of(
        st.text(max_size=20),
        st.sampled_from(
            [*"<>@!|&#*_~`\n\t ", "<!channel>", "<!subteam^S1>", "<@U123|bob>", "<#C1|x>", "sev2"]
        ),
    ),
    max_size=30,
).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)


@FAST
@given(slack_text)
def test_command_parsing_never_crashes(text: str) -> None:
    sub, rest = split_command(text)
    assert sub == sub.lower() and " " not in sub
    try:
        severity, _title = parse_declare(rest, SEVERITIES)
        assert severity is None or severity in SEVERITIES
    except DomainError as exc:
        assert "Unknown severity" in str(exc)
    try:
        assert re.fullmatch(r"[UW][A-Z0-9]+", parse_user(rest))
    except DomainError as exc:
        assert "is not a Slack user" in str(exc)
    try:
        request = parse_followup(text)
        assert request.owner is None or re.fullmatch(r"[UW][A-Z0-9]+", request.owner)
        assert request.priority in ("P1", "P2", "P3")
    except DomainError as exc:
        assert "give a day like" in str(exc)
    try:
        assert parse_duration(text).total_seconds() >= 0
    except ValueError as exc:
        assert "is not a duration" in str(exc)


@FAST
@given(slack_text)
def test_escaped_text_cannot_ping_or_forge_links(text: str) -> None:
    for escaped in (escape(text), escape_keeping_mentions(text)):
        assert "<!" not in escaped  # no <!channel>, <!here>, <!everyone>, <!subteam^...>
        for markup in re.findall(r"<([^>]*)>", escaped):
            assert re.fullmatch(r"@[UW][A-Z0-9]+|#C[A-Z0-9]+|https?://[^\s|>]+", markup), markup


@FAST
@given(st.text(max_size=200), st.integers(1, 10**9), st.booleans(), st.integers(0, 19))
def test_channel_names_follow_slacks_rules(title: str, number: int, drill: bool, attempt: int) -> None:
    name = channel_name("inc", number, title, drill=drill, attempt=attempt)
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name) and len(name) <= CHANNEL_NAME_MAX
    assert name.startswith(f"inc-{number}")


def parsers() -> list[Any]:
    return [
        lambda body: alertmanager.parse(body, now=NOW),
        lambda body: grafana.parse(body, now=NOW),
        lambda body: generic.parse(body, now=NOW),
        lambda body: pagerduty.parse(body, now=NOW),
        lambda body: pagerduty.note(body, now=NOW),
    ]


@FAST
@given(st.one_of(st.binary(max_size=500), json_values.map(lambda v: json.dumps(v).encode())))
def test_payload_parsers_refuse_garbage_clearly(body: bytes) -> None:
    for parse in parsers():
        try:
            parse(body)
        except PayloadError as exc:
            assert exc.field and exc.message


alert = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved", "pending", ""]),
        "labels": st.dictionaries(
            st.text(max_size=20), st.one_of(st.text(max_size=30), json_values), max_size=5
        ),
        "annotations": st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=3),
        "startsAt": st.one_of(st.just("2026-11-21T09:58:12.345678901Z"), st.text(max_size=30), json_values),
        "endsAt": st.one_of(st.just("0001-01-01T00:00:00Z"), st.text(max_size=30)),
        "fingerprint": st.one_of(st.text(max_size=20), json_values),
    }
)


@FAST
@given(
    st.fixed_dictionaries(
        {
            "version": st.sampled_from(["4", "3", 4]),
            "groupKey": st.one_of(st.text(max_size=50), json_values),
            "status": st.sampled_from(["firing", "resolved"]),
            "alerts": st.one_of(st.lists(alert, max_size=4), json_values),
            "title": st.text(max_size=40),
        }
    )
)
def test_alertmanager_shaped_payloads_parse_or_name_the_field(payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    for parse in (alertmanager.parse, grafana.parse):
        try:
            for parsed in parse(body, now=NOW):
                assert parsed.fingerprint and parsed.title and parsed.status in ("firing", "resolved")
        except PayloadError as exc:
            assert exc.field
