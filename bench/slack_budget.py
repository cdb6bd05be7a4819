"""What spending from the Slack budget costs per Slack call.

PostgreSQL: `warroom_slack_take` (migration 0019), the statement every replica runs before
each Slack call, and the one that settles the call once answered, timed from the caller (two
round trips on the pool), one caller at a time and then from three pools at once (three
replicas), each on a key of its own or all on one key (one method, where the row lock makes
them queue). SQLite: the in-process budget, with the line query a job's call makes.

    python -m bench.slack_budget [--database sqlite|postgresql] [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from bench.harness import discard_database, fresh_database, summary
from bot import worker
from bot.slack.ratelimit import Calls, LocalCalls, SharedCalls
from bot.store import jobs
from bot.store.db import Database

LIMIT = 10**9  # every call granted: this measures the statement, not the waiting


async def timed(calls: Calls, key: str, count: int, ticket: worker.Ticket | None) -> list[float]:
    took = []
    for _ in range(count):
        started = time.perf_counter()
        turn = await calls.take(key, limit=LIMIT, keep=100, ticket=ticket)
        await calls.settle(key, turn.at)
        took.append((time.perf_counter() - started) * 1000)
    return took


async def run(kind: str, count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(kind, tmp)
        pools = [Database(url) for _ in range(3)]
        await pools[0].migrate()
        try:
            if kind == "sqlite":
                local = LocalCalls(period=60.0, line=jobs.WaitingLine(pools[0]))
                await timed(local, "slack:warm", 50, None)
                print(f"SQLite, outside a job:  {summary(await timed(local, 'slack:a', count, None))}")
                ticket = worker.Ticket(1, 4)
                print(f"SQLite, a job's call:   {summary(await timed(local, 'slack:b', count, ticket))}")
                return
            shared = [SharedCalls(pool, period=60.0) for pool in pools]
            await timed(shared[0], "slack:warm", 50, None)
            print(
                f"PostgreSQL, one caller:           {summary(await timed(shared[0], 'slack:a', count, None))}"
            )
            ticket = worker.Ticket(1, 4)
            print(
                f"PostgreSQL, one caller, a job:    {summary(await timed(shared[0], 'slack:b', count, ticket))}"
            )
            for label, keys in (
                ("three keys", ["slack:x", "slack:y", "slack:z"]),
                ("one key", ["slack:one"] * 3),
            ):
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(timed(s, key, count // 3, None) for s, key in zip(shared, keys, strict=True))
                )
                rate = 3 * (count // 3) / (time.perf_counter() - started)
                took = [ms for r in results for ms in r]
                print(f"PostgreSQL, three pools, {label}: {summary(took)}; {rate:.0f} calls/s")
        finally:
            for pool in pools[1:]:
                await pool.dispose()
            await discard_database(pools[0], kind)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(run(args.database, args.calls))


if __name__ == "__main__":
    main()
