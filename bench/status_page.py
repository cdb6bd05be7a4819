"""The status page with 50 components and a year of history (target p99 < 50 ms).

Measures GET /status, /status.json, /status/feed.atom and an incident page through the real
ASGI app (in process, no network): first every request after a change (nothing cached: the
query of the last 91 days, the uptime bars of 50 components and the rendering), then steady
traffic (the page view is kept until the database changes or a minute passes; each request
still asks the database whether anything changed). Run by hand:

    python -m bench.status_page [--database sqlite|postgresql] [--components 50] [--per-day 3] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import tempfile
import time
from datetime import timedelta

import httpx
import sqlalchemy as sa

from bench.harness import discard_database, fresh_database, summary
from bot.app import build
from bot.config import Settings, WarroomConfig
from bot.store.db import Database
from bot.store.tables import Incident, StatusUpdate, utcnow

STATES = ["degraded", "partial_outage", "major_outage"]


def config(components: int) -> WarroomConfig:
    return WarroomConfig.model_validate(
        {
            "status_page": {
                "title": "Bench status",
                "components": [
                    {"name": f"Component {n}", "services": [f"svc-{n}"], "slo": 99.9}
                    for n in range(components)
                ],
            }
        }
    )


def history(components: int, per_day: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """A year of public incidents, `per_day` a day, each with three public updates and an
    internal one; the last two still open."""
    rng = random.Random(7)
    now = utcnow()
    incidents: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    count = 365 * per_day
    for number in range(1, count + 1):
        started = now - timedelta(days=365) + timedelta(days=365 * number / (count + 1))
        lasted = timedelta(minutes=rng.uniform(5, 240))
        open_ = number > count - 2
        component = rng.randrange(components)
        incidents.append(
            {
                "number": number,
                "title": f"Internal title {number}",
                "severity": "SEV2",
                "status": "investigating" if open_ else "resolved",
                "service": f"svc-{component}",
                "reporter_id": "U0ALICE",
                "private": number % 25 == 0,
                "drill": number % 40 == 0,
                "public_id": f"p{number:06d}",
                "public_title": f"Problems with component {component}",
                "started_at": started,
                "detected_at": started,
                "declared_at": started,
                "resolved_at": None if open_ else started + lasted,
                "updated_at": started + lasted,
            }
        )
        name = f"Component {component}"
        steps = [
            (started + timedelta(minutes=2), "public", "investigating", {name: rng.choice(STATES)}),
            (started + timedelta(minutes=3), "internal", "investigating", {}),
            (started + lasted / 2, "public", "identified", {name: rng.choice(STATES)}),
        ]
        if not open_:
            steps.append((started + lasted, "public", "resolved", {name: "operational"}))
        for i, (at, audience, status, states) in enumerate(steps):
            updates.append(
                {
                    "incident_number": number,
                    "at": at,
                    "actor": "U0ALICE",
                    "message": f"Update {i} of incident {number}: what customers see and what we do about it.",
                    "audience": audience,
                    "status": status,
                    "components": states,
                    "final": i == len(steps) - 1 and not open_,
                    "event_key": f"update:{number}:{i}",
                }
            )
    return incidents, updates


async def timed(client: httpx.AsyncClient, path: str) -> float:
    began = time.perf_counter()
    response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return (time.perf_counter() - began) * 1000


async def main(kind: str, components: int, per_day: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(fresh_database(kind, tmp))
        await db.migrate()
        incidents, updates = history(components, per_day)
        async with db.transaction() as session:
            await session.execute(sa.insert(Incident), incidents)
            for start in range(0, len(updates), 5000):
                await session.execute(sa.insert(StatusUpdate), updates[start : start + 5000])
        if kind == "postgresql":
            async with db.transaction() as session:
                await session.execute(sa.text("ANALYZE incident"))
                await session.execute(sa.text("ANALYZE status_update"))
        settings = Settings(_env_file=None, database_url=db.url, slack_bot_token="xoxb-bench")  # type: ignore[call-arg]
        warroom = build(settings, config(components), run_worker=False, migrate=False)
        gc.freeze()  # as `serve` does once it has started (bot/app.py)
        transport = httpx.ASGITransport(app=warroom.http)
        async with httpx.AsyncClient(transport=transport, base_url="http://status.bench") as client:
            listed = (await client.get("/status.json")).json()
            incident = f"/status/incidents/{listed['incidents'][0]['id']}"
            print(
                f"{kind}: {components} components, {len(incidents)} incidents and {len(updates)} updates over a year; "
                f"/status is {len((await client.get('/status')).content) // 1024} KiB"
            )
            for path in ("/status", "/status.json", "/status/feed.atom", incident):
                cold = []
                for _ in range(max(requests // 10, 10)):
                    async with db.transaction() as session:  # a change: the next request renders again
                        await session.execute(
                            sa.update(Incident).where(Incident.number == 1).values(updated_at=utcnow())  # type: ignore[arg-type]
                        )
                    cold.append(await timed(client, path))
                warm = [await timed(client, path) for _ in range(requests)]
                print(f"  {path} after a change: {summary(cold)}")
                print(f"  {path} steady:         {summary(warm)}")
        await warroom.db.dispose()
        await discard_database(db, kind)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--components", type=int, default=50)
    parser.add_argument("--per-day", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.database, args.components, args.per_day, args.requests))
