"""Command parsing, escaping and channel names."""

from __future__ import annotations

import re

import pytest

from bot.domain.incident import DomainError
from bot.slack.text import (
    channel_name,
    escape,
    escape_keeping_mentions,
    parse_declare,
    parse_user,
    split_command,
)

SEVERITIES = ["SEV1", "SEV2", "SEV3", "SEV4"]


def test_split_command() -> None:
    assert split_command("  STATUS identified  now ") == ("status", "identified  now")
    assert split_command("") == ("", "")
    assert split_command("list") == ("list", "")


def test_parse_declare() -> None:
    assert parse_declare("sev1 DB down", SEVERITIES) == ("SEV1", "DB down")
    assert parse_declare("SEV4", SEVERITIES) == ("SEV4", "")
    assert parse_declare("several users report errors", SEVERITIES) == (None, "several users report errors")
    with pytest.raises(DomainError, match="Unknown severity `sev7`"):
        parse_declare("sev7 DB down", SEVERITIES)


def test_parse_user() -> None:
    assert parse_user("<@U0123ABC|alice>") == "U0123ABC"
    assert parse_user("<@W0123ABC>") == "W0123ABC"
    for bad in ("alice", "@alice", "<#C123|general>", "<!here>"):
        with pytest.raises(DomainError, match="is not a Slack user"):
            parse_user(bad)


def test_escape() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("<@U123|alice> said hi", "<@U123> said hi"),
        ("see <#C42|ops>", "see <#C42>"),
        ("<https://grafana.example/d/1>", "<https://grafana.example/d/1>"),
        ("<https://evil.example|https://bank.example>", "<https://evil.example>"),
        (
            "<!channel> <!here> <!everyone> <!subteam^S1>",
            "&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt; &lt;!subteam^S1&gt;",
        ),
        ("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d"),
    ],
)
def test_escape_keeping_mentions(raw: str, shown: str) -> None:
    assert escape_keeping_mentions(raw) == shown


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Checkout is failing", "inc-7-checkout-is-failing"),
        ("DB: primary/replica LAG > 30s!!", "inc-7-db-primary-replica-lag-30s"),
        ("Ünïcödé ümlauts", "inc-7-unicode-umlauts"),
        ("日本語", "inc-7"),
        ("snake_case_service down", "inc-7-snake_case_service-down"),
    ],
)
def test_channel_names_follow_slack_rules(title: str, name: str) -> None:
    assert channel_name("inc", 7, title) == name


def test_channel_names_are_at_most_80_characters_even_with_suffixes() -> None:
    for attempt in range(12):
        name = channel_name("incident", 123456, "word " * 60, attempt=attempt)
        assert len(name) <= 80 and re.fullmatch(r"[a-z0-9_-]+", name) and not name.endswith("-")
    assert channel_name("inc", 3, "x", attempt=1) == "inc-3-x-2"
    assert channel_name("inc", 3, "x", drill=True) == "inc-3-drill-x"


def test_take_service() -> None:
    from bot.slack.text import take_service

    assert take_service("service:checkout Checkout is down") == ("checkout", "Checkout is down")
    assert take_service("Checkout is down service:api-v2") == ("api-v2", "Checkout is down")
    assert take_service("Checkout is down") == (None, "Checkout is down")
    with pytest.raises(DomainError, match="a service is 1-100 of"):
        take_service("service: Checkout")
