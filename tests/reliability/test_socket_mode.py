"""Slack over Socket Mode: a warroom that Slack cannot reach over HTTP (behind a firewall)
opens a WebSocket with its app token and gets its commands, clicks and events there. Run as
a real `warroom serve` process against the simulator's Socket Mode endpoint."""

from __future__ import annotations

import asyncio
import signal

import pytest
import sqlalchemy as sa
from sqlmodel import col

from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.slack_model import APP_TOKEN, Channel
from bot.store.db import Database
from bot.store.tables import RoleAssignment, TimelineEvent
from tests.conftest import People
from tests.e2e.helpers import environment
from tests.reliability.conftest import serving, settled, until


@pytest.mark.processes
async def test_commands_clicks_and_events_arrive_over_the_socket(
    db: Database, sim: SlackSimulator, people: People
) -> None:
    # No signing secret: nothing is accepted over HTTP, so all of it came through the socket.
    env = environment(db, sim, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="")
    async with serving(env, sim) as server:
        await until(lambda: sim.socket_connected, "warroom opens its socket")
        slack = SlackDriver(server.http, sim, "", socket=True)
        general = sim.channel_named("general")
        assert general is not None

        declared = await slack.command(people.alice, "declare sev3 Checkout is slow", general.id)
        assert "#1" in declared.json()["text"]
        channel = await _ready(sim)
        summary_ts = channel.pins[0]

        await slack.click(people.bob, channel.id, summary_ts, "take_commander")  # acknowledged, or it raises
        ts = sim.user_post(people.bob, channel.id, "Rolled back to v41")
        await slack.react(people.alice, channel.id, ts)
        await settled(db)

        async with db.sessions() as session:
            commanders = await session.scalars(
                sa.select(col(RoleAssignment.user_id)).where(col(RoleAssignment.role) == "commander")
            )
            kinds = list(
                await session.scalars(sa.select(col(TimelineEvent.kind)).order_by(col(TimelineEvent.id)))
            )
        assert list(commanders) == [people.alice, people.bob]
        assert kinds.count("pinned") == 1 and kinds[0] == "declared"
        assert sim.count("apps.connections.open") == 1
        metrics = (await server.http.get("/metrics")).text
        assert "warroom_slack_ack_seconds_count 3.0" in metrics  # timed like HTTP requests

        refused = await SlackDriver(server.http, sim, "any-secret").command(people.alice, "list", general.id)
        assert refused.status_code == 401  # the HTTP endpoint does not accept what it cannot verify

        server.process.send_signal(signal.SIGTERM)  # closes the socket on its way out
        # uvicorn shuts down, then re-raises the signal it caught: -SIGTERM is a clean exit.
        assert await asyncio.wait_for(server.process.wait(), 10) in (0, -signal.SIGTERM)
    assert not sim.socket_connected


async def _ready(sim: SlackSimulator) -> Channel:
    """Incident #1's channel, once its summary is pinned."""

    def channel() -> Channel | None:
        return next((c for c in sim.channels.values() if c.name.startswith("inc-1-")), None)

    await until(lambda: bool((found := channel()) and found.pins), "the incident channel is ready")
    found = channel()
    assert found is not None
    return found


@pytest.mark.processes
async def test_serve_starts_while_slack_is_down_and_connects_when_it_returns(
    db: Database, sim: SlackSimulator, people: People
) -> None:
    await sim.go_down()
    env = environment(db, sim, SLACK_APP_TOKEN=APP_TOKEN, SLACK_SIGNING_SECRET="")
    async with serving(env, sim) as server:  # up and answering /healthz without Slack
        incidents = await server.http.get("/api/incidents")
        assert incidents.status_code == 200 and not sim.socket_connected
        await sim.come_up()
        await until(lambda: sim.socket_connected, "warroom connects once Slack is back")
        general = sim.channel_named("general")
        assert general is not None
        declared = await SlackDriver(server.http, sim, "", socket=True).command(
            people.alice, "declare sev3 Queue backlog", general.id
        )
        assert "#1" in declared.json()["text"]
