"""The DORA report over 10,000 changes and 1,000 incidents (target < 1 s).

Measures DoraService.report, which `warroom report dora` and GET /api/reports/dora call:
reading the period's change events (each change sent as `started` then its outcome), folding
them into changes, and the figures of bot/domain/dora.py. Run by hand:

    python -m bench.dora [--database sqlite|postgresql] [--changes 10000] [--incidents 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench.harness import discard_database, fresh_database, summary
from bot.config import WarroomConfig
from bot.services.changes import ChangeService
from bot.services.dora import DoraService
from bot.services.timeline import Timeline
from bot.store.db import Database
from bot.store.tables import ChangeEvent, Incident

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SERVICES = ["api", "checkout", "search", "payments", "web", "auth", "cart", "billing"]


def events(count: int) -> list[dict[str, Any]]:
    """`count` changes over the last 90 days, each as two events: one in 12 failed, one in
    20 rolled back, one in 10 a config push, one in 8 in staging."""
    rng = random.Random(2)
    rows = []
    for n in range(count):
        started = NOW - timedelta(days=rng.uniform(0, 90))
        common = {
            "change_id": f"deploy-{n}",
            "service": rng.choice(SERVICES),
            "environment": "staging" if n % 8 == 0 else "production",
            "kind": "config" if n % 10 == 0 else "deploy",
            "summary": f"release {n}",
            "version": f"v1.{n}",
            "source": "webhook",
            "started_at": started,
            "recorded_at": started,
        }
        ending = "failed" if n % 12 == 0 else "rolled_back" if n % 20 == 0 else "succeeded"
        rows.append({**common, "status": "started", "finished_at": None})
        rows.append({**common, "status": ending, "finished_at": started + timedelta(minutes=6)})
    return rows


def incidents(count: int, changes: int) -> list[dict[str, object]]:
    """Incidents over the same 90 days; two in three caused by one of the changes."""
    rng = random.Random(3)
    rows = []
    for number in range(1, count + 1):
        started = NOW - timedelta(days=rng.uniform(0, 90))
        resolved = None if number % 9 == 0 else started + timedelta(minutes=rng.uniform(10, 600))
        rows.append(
            {
                "number": number,
                "title": f"Incident {number}",
                "severity": "SEV2",
                "status": "resolved" if resolved else "investigating",
                "reporter_id": "U0ALICE",
                "private": False,
                "drill": number % 40 == 0,
                "started_at": started,
                "detected_at": started,
                "declared_at": started,
                "resolved_at": resolved,
                "updated_at": NOW,
                "cause_change": f"deploy-{rng.randrange(changes)}" if number % 3 else None,
            }
        )
    return rows


async def main(kind: str, changes: int, count: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(fresh_database(kind, tmp))
        await db.migrate()
        rows = events(changes)
        async with db.transaction() as session:
            for start in range(0, len(rows), 5000):
                await session.execute(sa.insert(ChangeEvent), rows[start : start + 5000])
            await session.execute(sa.insert(Incident), incidents(count, changes))
        if kind == "postgresql":
            async with db.transaction() as session:
                await session.execute(sa.text("ANALYZE change_event"))
                await session.execute(sa.text("ANALYZE incident"))
        dora = DoraService(ChangeService(Timeline(db), WarroomConfig()), ZoneInfo("Europe/Berlin"))
        for by in (None, "service"):
            timings = []
            for _ in range(runs):
                began = time.perf_counter()
                report = await dora.report(timedelta(days=90), by, now=NOW)
                timings.append((time.perf_counter() - began) * 1000)
            overall = report.overall
            print(
                f"{kind}: DORA report over {changes} changes and {count} incidents, 90 days, by {by or 'nothing'}"
                f" ({overall.deployments} deployments, {overall.failed} caused an incident,"
                f" {overall.recovery.count} recoveries): {summary(timings)}"
            )
        await discard_database(db, kind)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.database, args.changes, args.incidents, args.runs))
