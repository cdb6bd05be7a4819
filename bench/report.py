"""The MTTR report over 100,000 incidents (target < 1 s).

Measures ReportService.mttr, which is what `warroom report mttr`, `/incident report` and
GET /api/reports/mttr all call: the aggregation in the database plus the weekly or monthly
trend of the chart. Run by hand:

    python -m bench.report [--database sqlite|postgresql] [--incidents 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from bench.harness import discard_database, fresh_database, summary
from bot.services.reports import ReportService
from bot.store.db import Database
from bot.store.tables import Incident

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def rows(count: int) -> list[dict[str, object]]:
    """Three years of incidents; one in 7 never acknowledged, one in 11 still open, drills."""
    rng = random.Random(1)
    result = []
    for number in range(1, count + 1):
        started = NOW - timedelta(days=rng.uniform(0, 3 * 365))
        detected = started + timedelta(minutes=rng.uniform(0, 30))
        mitigated = detected + timedelta(minutes=rng.uniform(10, 300))
        resolved = None if number % 11 == 0 else mitigated + timedelta(minutes=rng.uniform(0, 600))
        result.append(
            {
                "number": number,
                "title": f"Incident {number}",
                "severity": rng.choice(["SEV1", "SEV2", "SEV3", "SEV4"]),
                "service": rng.choice(["api", "checkout", "search", "payments", None]),
                "status": "resolved" if resolved else "investigating",
                "reporter_id": "U0ALICE",
                "private": False,
                "drill": number % 50 == 0,
                "started_at": started,
                "detected_at": detected,
                "declared_at": detected,
                "acknowledged_at": None if number % 7 == 0 else detected + timedelta(minutes=3),
                "mitigated_at": mitigated,
                "resolved_at": resolved,
                "updated_at": NOW,
            }
        )
    return result


async def main(kind: str, incidents: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(fresh_database(kind, tmp))
        await db.migrate()
        data = rows(incidents)
        async with db.transaction() as session:
            for start in range(0, len(data), 5000):
                await session.execute(sa.insert(Incident), data[start : start + 5000])
        if kind == "postgresql":
            async with db.transaction() as session:
                await session.execute(sa.text("ANALYZE incident"))
        service = ReportService(db, ZoneInfo("Europe/Berlin"))
        for since, by in [(None, "severity"), (None, "month"), (timedelta(days=90), "service")]:
            timings = []
            for _ in range(runs):
                began = time.perf_counter()
                report = await service.mttr(since, by, now=NOW)
                timings.append((time.perf_counter() - began) * 1000)
            period = f"last {since.days} days" if since else "all time"
            print(
                f"{kind}: MTTR report over {incidents} incidents, {period}, by {by}"
                f" ({report.incidents} counted, {len(report.report.groups)} groups,"
                f" {len(report.trend.buckets)} {report.trend.unit}s): {summary(timings)}"
            )
        await discard_database(db, kind)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.database, args.incidents, args.runs))
