"""The rules of runbook actions, without I/O: rendering, secrets, hosts and addresses, what an
answer means; and what `warroom runbooks validate` says about actions."""

from __future__ import annotations

import ipaddress
import textwrap
from datetime import UTC, datetime

import pytest

from bot.domain.actions import (
    HostPolicy,
    HttpAction,
    MissingSecret,
    Prepared,
    Verdict,
    expand,
    fill,
    masked,
    prepare,
    redact,
    retry_after,
    verdict,
)
from bot.domain.runbooks import render
from bot.runbook_files import parse_file

POLICY = HostPolicy(("deploy.example.com", "*.internal.example.com"), (ipaddress.ip_network("10.20.0.0/16"),))


def renderer(variables: dict[str, object]):
    return lambda text, escape: render(text, variables, escape)


def test_a_request_is_rendered_with_values_that_cannot_change_its_shape_or_name_secrets() -> None:
    action = HttpAction(
        "POST",
        "https://deploy.example.com/rollback/{{ labels.app }}?token=${TOKEN}",
        headers=(("Authorization", "Bearer ${TOKEN}"), ("X-App", "{{ labels.app }}")),
        json={"reason": "{{ labels.app }}", "n": 3},
    )
    hostile = "a/../b?x=1\r\nX-Evil: ${AWS_SECRET}"
    prepared = prepare(action, renderer({"labels": {"app": hostile}}))
    assert prepared.url.startswith(
        "https://deploy.example.com/rollback/a%2F..%2Fb%3Fx%3D1%0D%0AX-Evil%3A%20%24%7BAWS_SECRET%7D"
    )
    assert dict(prepared.headers)["X-App"] == "a/../b?x=1  X-Evil: $${AWS_SECRET}"
    concrete = fill(prepared, {"TOKEN": "t0k", "AWS_SECRET": "never"}, "key-1")
    assert "never" not in str(concrete) and concrete.secrets == frozenset({"t0k"})
    assert dict(concrete.headers)["X-App"] == "a/../b?x=1  X-Evil: ${AWS_SECRET}"  # literally
    assert concrete.body == b'{"reason": "a/../b?x=1\\r\\nX-Evil: ${AWS_SECRET}", "n": 3}'
    assert ("Idempotency-Key", "key-1") in concrete.headers
    assert Prepared.from_dict(prepared.to_dict()) == prepared
    assert "Bearer [secret TOKEN]" in prepared.shown() and "t0k" not in prepared.shown()


def test_secrets_expand_from_the_environment_and_a_missing_one_is_named() -> None:
    used: set[str] = set()
    assert expand("a ${X} $$ b $5", {"X": "1"}, used) == "a 1 $ b $5" and used == {"1"}
    with pytest.raises(MissingSecret, match="`Y` is not set in warroom's environment"):
        expand("${Y}", {}, set())
    assert masked("Bearer ${X}, $$5") == "Bearer [secret X], $5"


def test_redaction_takes_out_every_form_a_secret_may_come_back_in() -> None:
    secret = 'p@ss w/rd"'
    echoed = f'raw {secret} url p%40ss%20w%2Frd%22 form p%40ss+w%2Frd%22 json p@ss w/rd\\"'
    assert redact(echoed, [secret]) == "raw [redacted] url [redacted] form [redacted] json [redacted]"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://deploy.example.com/x", None),
        ("https://a.b.internal.example.com/x", None),
        ("https://evil.com/x", "evil.com is not in actions.allowed_hosts"),
        ("https://internal.example.com/x", "internal.example.com is not in actions.allowed_hosts"),
        ("ftp://deploy.example.com/x", "the URL must start with http:// or https:// and name a host"),
        ("https://u:p@deploy.example.com/", "credentials go in a header (`${NAME}`), not in the URL"),
    ],
)
def test_hosts_must_be_allowed(url: str, problem: str | None) -> None:
    assert POLICY.url_problem(url) == problem


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("93.184.216.34", None),
        ("10.20.3.4", None),  # its network is listed
        ("10.0.0.1", "private"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "internal"),
        ("0.0.0.0", "private"),
    ],
)
def test_addresses_that_are_not_public_need_their_network_listed(address: str, problem: str | None) -> None:
    found = POLICY.address_problem(address)
    assert (found is None) if problem is None else (found is not None and f"a {problem} address" in found)


def test_what_an_answer_means() -> None:
    assert verdict(200, ()) is Verdict.OK and verdict(204, ()) is Verdict.OK
    assert verdict(202, (200,)) is Verdict.FAIL and verdict(404, ()) is Verdict.FAIL
    assert verdict(None, ()) is Verdict.RETRY and verdict(429, ()) is Verdict.RETRY
    assert verdict(503, ()) is Verdict.RETRY and verdict(503, (503,)) is Verdict.OK
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert retry_after("7", now) == 7.0
    assert retry_after("Wed, 02 Dec 2026 12:00:30 GMT", now) == 30.0
    assert retry_after("soon", now) is None and retry_after(None, now) is None


def parse(text: str, policy: HostPolicy = POLICY, environ: dict[str, str] | None = None) -> list[str]:
    body = "name: acts\ndescription: Actions.\nsteps:\n" + textwrap.indent(textwrap.dedent(text), "  ")
    _, problems = parse_file(
        "acts.yaml", body.encode(), roles=["commander"], severities=["SEV1"], policy=policy, environ=environ
    )
    return [str(p) for p in problems]


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (
            '- {id: a, title: A, action: {http: {url: "https://evil.com/x"}}}',
            "acts.yaml:4: steps.0.action.http.url: evil.com is not in actions.allowed_hosts",
        ),
        (
            '- {id: a, title: A, action: {http: {url: "https://{{ labels.host }}/x"}}}',
            "acts.yaml:4: steps.0.action.http.url: write the host out (https://host/...); only the path may be a template",
        ),
        (
            '- {id: a, title: A, action: {http: {url: "https://deploy.example.com/{{ incident.nope }}"}}}',
            "acts.yaml:4: steps.0.action.http.url: unknown template variable `incident.nope`",
        ),
        (
            '- {id: a, title: A, action: {http: {url: "https://deploy.example.com/", headers: {X: "${SLACK_BOT_TOKEN}"}}}}',
            "acts.yaml:4: steps.0.action: `${SLACK_BOT_TOKEN}` is one of warroom's own settings, not for runbooks",
        ),
        (
            '- {id: a, title: A, action: {http: {url: "https://deploy.example.com/", retries: 3}}}',
            "acts.yaml:4: steps.0.action.http.retries: Extra inputs are not permitted",
        ),
        (
            '- {id: a, title: A, action: {http: {url: "https://deploy.example.com/", timeout: 5m}}}',
            "acts.yaml:4: steps.0.action.http.timeout: must be between 1s and 60s",
        ),
        (
            "- {id: a, title: A, action: {status: fixed}}",
            "acts.yaml:4: steps.0.action.status: unknown status 'fixed'",
        ),
        (
            "- {id: a, title: A, action: {note: hi, status: monitoring}}",
            "acts.yaml:4: steps.0.action: an action is exactly one of http, status, page, followup, update or note (this one has status, note)",
        ),
        (
            "- {id: a, title: A, action: {followup: {title: x, owner: janitor}}}",
            "acts.yaml:4: steps.0.action.followup.owner: unknown role `janitor`",
        ),
        ("- {id: a, title: A, run: auto}", "acts.yaml:4: steps.0: run: auto needs an action to run"),
    ],
)
def test_validate_explains_what_is_wrong_with_an_action(step: str, expected: str) -> None:
    problems = parse(step)
    assert any(p.startswith(expected) for p in problems), problems


def test_a_secret_not_set_here_is_a_warning_and_the_runbook_still_loads() -> None:
    step = '- {id: a, title: A, action: {http: {url: "https://deploy.example.com/", headers: {A: "${DEPLOY_TOKEN}"}}}}'
    assert parse(step, environ={"DEPLOY_TOKEN": "x"}) == []
    assert parse(step, environ={}) == [
        "acts.yaml:4: warning: steps.0.action: `${DEPLOY_TOKEN}` is not set here; the action fails until it is"
    ]
