"""`/incident catchup` for an incident with 10,000 timeline events (target < 200 ms).

Measures what the command does between receiving it and answering: the catch-up read (the
incident, its roles, its last status updates, its open runbook steps and follow-ups) and the
message text, through the real ASGI app as a signed slash command, and the read alone. Run
by hand:

    python -m bench.catchup [--database sqlite|postgresql] [--events 10000] [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import timedelta

import httpx

from bench.harness import discard_database, fresh_database, summary
from bot.app import build
from bot.config import Settings
from bot.services.catchup import catchup
from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.sim.slack_model import BOT_TOKEN

SECRET = "bench-secret"


async def main(kind: str, events: int, runs: int) -> None:
    sim = await SlackSimulator().start()
    general = sim.add_channel("general")
    sim.add_channel("incidents")
    alice = sim.add_user("alice")
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(kind, tmp)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_api_url=sim.api_url,
            database_url=url,
            runbooks_dir="runbooks",
            postmortem_dir=f"{tmp}/postmortems",
        )
        warroom = build(settings, run_worker=False)
        await warroom.db.migrate()
        await warroom.open_connections()
        transport = httpx.ASGITransport(app=warroom.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            slack = SlackDriver(http, sim, SECRET)
            await slack.command(alice, "declare sev2 Checkout API returns 500s", general)
            await warroom.worker.run_until_idle()
            incident = await warroom.queries.get(1)
            rows = [
                warroom.service.timeline.row(
                    1,
                    "status" if i % 50 == 0 else "note",
                    alice,
                    f"Entry {i}",
                    incident.declared_at + timedelta(seconds=i),
                )
                for i in range(events)
            ]
            async with warroom.db.transaction() as session:
                await warroom.service.timeline.insert(session, rows)
            channel = incident.channel_id or ""
            read, command = [], []
            for _ in range(runs):
                began = time.perf_counter()
                await catchup(warroom.db, 1, warroom.changes)
                read.append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                response = await slack.command(alice, "catchup", channel)
                command.append((time.perf_counter() - began) * 1000)
                assert "Catching up on #1" in response.json()["text"]
        print(f"{kind}: catch-up of an incident with {events} timeline events, {runs} runs")
        print(f"  signed /incident catchup, answered: {summary(command)}")
        print(f"  the catch-up read alone:            {summary(read)}")
        await warroom.close()
        await discard_database(warroom.db, kind)
    await sim.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.database, args.events, args.runs))
