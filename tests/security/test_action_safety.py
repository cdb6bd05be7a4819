"""Runbook actions are outbound requests that runbook authors and alert labels shape: their
secrets stay in memory, they reach only allowed hosts and public addresses (or allowed
networks), redirects do not carry them elsewhere, and an answer is read only so far."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpcore
import pytest
import sqlalchemy as sa

from bot.app import Warroom
from bot.config import WarroomConfig
from bot.domain.actions import Concrete, HostPolicy
from bot.integrations.guarded_http import GuardedBackend, GuardedClient, Refused
from bot.runbook_files import parse_file
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.target import TargetServer
from bot.store.tables import ActionRun
from tests.conftest import TABLES, People
from tests.e2e.helpers import incident_channel, rows, settle

SECRET = "tok-9f8e7d6c5b4a"
LOOPBACK = HostPolicy(("127.0.0.1",), (ipaddress.ip_network("127.0.0.1/32"),))


@pytest.fixture
async def target() -> AsyncIterator[TargetServer]:
    server = await TargetServer().start()
    yield server
    await server.stop()


def runbook(steps: str) -> str:
    return f"name: leaky\ndescription: Sends secrets.\nmatch:\n  services: [checkout]\nsteps:\n{steps}"


@pytest.fixture
def runbooks_dir(tmp_path: Path, target: TargetServer) -> str:
    directory = tmp_path / "runbooks"
    directory.mkdir()
    steps = f"""\
  - id: echo
    title: Call a target that echoes what it got
    action:
      http:
        url: "{target.url}/echo?token=${{DEPLOY_TOKEN}}"
        headers: {{Authorization: "Bearer ${{DEPLOY_TOKEN}}"}}
        json: {{token: "${{DEPLOY_TOKEN}}"}}
  - id: failing
    title: Call a target that fails
    action:
      http:
        url: "{target.url}/fail?token=${{DEPLOY_TOKEN}}"
        headers: {{Authorization: "Bearer ${{DEPLOY_TOKEN}}"}}
"""
    (directory / "leaky.yaml").write_text(runbook(steps))
    local = f"""\
name: local
description: Calls a name.
steps:
  - id: local
    title: Call a name that resolves to loopback
    action: {{http: {{url: "http://localhost:{target.port}/anything"}}}}
"""
    (directory / "local.yaml").write_text(local)
    return str(directory)


@pytest.fixture
def config() -> WarroomConfig:
    actions = {"allowed_hosts": ["127.0.0.1", "localhost"], "allowed_networks": ["127.0.0.1/32"]}
    return WarroomConfig.model_validate({"actions": actions})


async def everything_stored(warroom: Warroom) -> str:
    """Every row of every table, as text."""
    found = []
    async with warroom.db.sessions() as session:
        for table in TABLES:
            found += [str(tuple(row)) for row in await session.execute(sa.text(f"SELECT * FROM {table}"))]
    return "\n".join(found)


async def test_a_secret_in_a_header_and_the_url_appears_nowhere(
    warroom: Warroom,
    slack: SlackDriver,
    sim: SlackSimulator,
    people: People,
    target: TargetServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", SECRET)
    caplog.set_level(logging.DEBUG)
    general = sim.channel_named("general")
    assert general is not None
    await slack.command(people.alice, "declare sev2 service:checkout Checkout is failing", general.id)
    await settle(warroom)
    channel = await incident_channel(warroom, sim, 1)
    [message] = [m for m in channel.messages if str(m.get("text", "")).startswith("Runbook ")]
    await slack.click(people.alice, channel.id, str(message["ts"]), "runbook_run:echo")
    await settle(warroom)
    target.answers = [(500, {})] * 4
    [message] = [m for m in channel.messages if str(m.get("text", "")).startswith("Runbook ")]
    await slack.click(people.alice, channel.id, str(message["ts"]), "runbook_run:failing")
    await settle(warroom, horizon=timedelta(seconds=30))

    # The target got it (in the URL, the header and the body) and echoed it back.
    assert all(SECRET in r.path and SECRET in r.headers["Authorization"] for r in target.requests)
    assert len(target.requests) == 5
    echo, failing = await rows(warroom, ActionRun)
    assert (echo.state, failing.state) == ("succeeded", "failed")
    assert "[redacted]" in str(echo.answer) and "after 4 attempts" in str(failing.summary)
    stored = await everything_stored(warroom)
    assert "[redacted]" in stored and "${DEPLOY_TOKEN}" in stored
    assert SECRET not in stored  # timeline, action runs, job errors: every table
    slack_saw = json.dumps([c.messages for c in sim.channels.values()]) + json.dumps(sim.responses)
    slack_saw += json.dumps(list(sim.views.values()))
    assert "Answer:" in slack_saw and SECRET not in slack_saw
    assert caplog.records and SECRET not in caplog.text


@pytest.mark.parametrize(
    "config", [WarroomConfig.model_validate({"actions": {"allowed_hosts": ["localhost"]}})]
)
async def test_a_host_that_resolves_to_loopback_is_refused_at_run_time(
    warroom: Warroom, slack: SlackDriver, sim: SlackSimulator, people: People, target: TargetServer
) -> None:
    """`localhost` is an allowed host, and validates; but it resolves to loopback, whose
    network is not listed: refused when it runs, and nothing is sent."""
    general = sim.channel_named("general")
    assert general is not None
    await slack.command(people.alice, "declare sev2 service:checkout Checkout is failing", general.id)
    await settle(warroom)
    channel = await incident_channel(warroom, sim, 1)
    await slack.command(people.alice, "runbook local", channel.id)
    await settle(warroom)
    [message] = [m for m in channel.messages if str(m.get("text", "")).startswith("Runbook local")]
    await slack.click(people.alice, channel.id, str(message["ts"]), "runbook_run:local")
    await settle(warroom)
    [action] = await rows(warroom, ActionRun)
    assert action.state == "failed"
    assert str(action.summary).startswith("refused: localhost resolves to ")
    assert "address; list its network in actions.allowed_networks" in str(action.summary)
    assert target.requests == []


@pytest.mark.parametrize(
    ("address", "kind"),
    [("127.0.0.1", "loopback"), ("169.254.169.254", "link-local"), ("10.0.0.1", "private")],
)
def test_internal_addresses_are_refused_by_validate_unless_their_network_is_listed(
    address: str, kind: str
) -> None:
    content = runbook(
        f'  - id: call\n    title: Call it\n    action: {{http: {{url: "http://{address}/x"}}}}\n'
    )
    parsed, problems = parse_file(
        "r.yaml", content.encode(), roles=[], severities=[], policy=HostPolicy((address,), ())
    )
    assert parsed is None
    assert [str(p) for p in problems] == [
        f"r.yaml:8: steps.0.action.http.url: {address} is a {kind} address; "
        "list its network in actions.allowed_networks to allow it"
    ]
    allowed = HostPolicy((address,), (ipaddress.ip_network(f"{address}/32"),))
    assert parse_file("r.yaml", content.encode(), roles=[], severities=[], policy=allowed)[1] == []
    unlisted = parse_file(
        "r.yaml", content.encode(), roles=[], severities=[], policy=HostPolicy(("example.com",), ())
    )
    assert "is not in actions.allowed_hosts" in str(unlisted[1][0])


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "169.254.169.254", "10.0.0.1", "[::1]", "[::ffff:127.0.0.1]"]
)
async def test_internal_addresses_are_refused_at_run_time(address: str, target: TargetServer) -> None:
    client = GuardedClient(HostPolicy(("*",), ()), max_answer_bytes=65536)
    port = target.port if address == "127.0.0.1" else 80
    with pytest.raises(Refused, match="address; list its network"):
        await client.send(Concrete("POST", f"http://{address}:{port}/x", [], b"{}", frozenset()), 5)
    assert target.requests == []


async def test_an_address_connected_to_is_checked_again(target: TargetServer) -> None:
    """DNS rebinding: the name resolved to a public address, but the connection landed on
    loopback (a resolver that changed its mind, a NAT). The address reached is refused."""

    class Elsewhere(httpcore.AnyIOBackend):
        async def connect_tcp(self, host: str, port: int, **kwargs: object) -> httpcore.AsyncNetworkStream:  # type: ignore[override]
            return await super().connect_tcp("127.0.0.1", target.port, **kwargs)  # type: ignore[arg-type]

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    client = GuardedClient(HostPolicy(("deploy.example.com",), ()), max_answer_bytes=65536)
    client.backend = GuardedBackend(client.policy, public, Elsewhere())
    with pytest.raises(
        Refused, match=r"deploy\.example\.com connected to 127\.0\.0\.1 is a loopback address"
    ):
        await client.send(Concrete("GET", "http://deploy.example.com/x", [], None, frozenset()), 5)
    await asyncio.sleep(0.1)
    assert target.requests == []


async def test_a_redirect_to_another_host_is_not_followed(target: TargetServer) -> None:
    client = GuardedClient(LOOPBACK, max_answer_bytes=65536)
    away = await client.send(
        Concrete(
            "GET", f"{target.url}/redirect?to=http://elsewhere.example.com/steal", [], None, frozenset()
        ),
        5,
    )
    assert (away.status, away.redirect) == (302, "elsewhere.example.com")
    here = await client.send(Concrete("POST", f"{target.url}/redirect?to=/landed", [], b"{}", frozenset()), 5)
    assert (here.status, here.redirect) == (200, None)
    assert [r.path for r in target.requests] == [
        "/redirect?to=http://elsewhere.example.com/steal",
        "/redirect?to=/landed",
        "/landed",
    ]


async def test_a_ten_megabyte_answer_is_cut_not_read_whole(target: TargetServer) -> None:
    size = 10 * 1024 * 1024
    client = GuardedClient(LOOPBACK, max_answer_bytes=65536)
    answer = await client.send(Concrete("GET", f"{target.url}/big?bytes={size}", [], None, frozenset()), 10)
    assert answer.cut and len(answer.text) == 65536 and answer.status == 200
    await asyncio.sleep(0.2)
    assert target.sent < size / 2  # the client hung up: most of it was never sent
