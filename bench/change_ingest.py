"""Change ingestion throughput and latency, sustained: `POST /webhooks/changes`.

CI senders post deploys over `--services` services for `--seconds`: each deploy as two
events, `started` then `succeeded` (the same id), `--batch` events per delivery (1: one JSON
object each, as a CI job sends them; more: a JSON array, as a relay or Argo CD batches them).
Five of the services have an incident open (declared by an alert first), so their changes also
land on a timeline and in Slack, flagged by the freeze. Afterwards the database is checked:
every event sent is stored exactly once.

    python -m bench.change_ingest [--database sqlite|postgresql] [--seconds 20] [--concurrency 16]
                                  [--services 200] [--batch 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import sqlalchemy as sa

from bench.alert_ingest import payload as alert_payload
from bench.harness import Running, running_warroom, summary
from bot.store.db import Database

TOKEN = "bench-change-token"
BURNING = 5  # services with an open incident


def change(n: int, service: int, status: str) -> dict[str, object]:
    at = datetime.now(UTC) - timedelta(seconds=1)
    return {
        "id": f"deploy-{n}",
        "service": f"svc-{service}",
        "summary": f"svc-{service} v1.{n}",
        "version": f"v1.{n}",
        "author": "ci@example.com",
        "url": f"https://ci.example.com/runs/{n}",
        "status": status,
        "started_at": at.isoformat(),
        "finished_at": at.isoformat() if status != "started" else None,
    }


async def run(env: Running, seconds: float, concurrency: int, services: int, batch: int) -> dict[str, object]:
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    counter = events = 0
    async with aiohttp.ClientSession(
        base_url=env.url, connector=aiohttp.TCPConnector(limit=concurrency)
    ) as http:
        for group in range(BURNING):  # alerts for svc-0..4 declare an incident on each
            body = alert_payload(group, [f"burning-{group}"], "firing")
            async with http.post("/webhooks/alertmanager", data=body, headers=headers) as response:
                assert response.status == 200, await response.text()
        deadline = time.monotonic() + seconds

        async def sender() -> None:
            nonlocal counter, events
            while time.monotonic() < deadline:
                numbers = list(range(counter + 1, counter + 1 + max(batch // 2, 1)))
                counter += len(numbers)
                for status in ("started", "succeeded"):
                    sent = [change(n, n % services, status) for n in numbers]
                    body = json.dumps(sent if batch > 1 else sent[0]).encode()
                    started = time.perf_counter()
                    async with http.post("/webhooks/changes", data=body, headers=headers) as response:
                        answer = await response.json()
                        assert response.status == 200, answer
                        assert answer["recorded"] == (len(sent) if batch > 1 else True), answer
                    latencies.append((time.perf_counter() - started) * 1000)
                    events += len(sent)

        began = time.monotonic()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.monotonic() - began

    db = Database(env.database_url)
    async with db.sessions() as session:
        stored = int(await session.scalar(sa.text("SELECT count(*) FROM change_event")) or 0)
        timeline = int(
            await session.scalar(sa.text("SELECT count(*) FROM timeline_event WHERE kind = 'change'")) or 0
        )
    await db.dispose()
    return {
        "events": events,
        "deliveries": len(latencies),
        "elapsed": elapsed,
        "latencies": latencies,
        "stored": stored,
        "timeline": timeline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--batch", type=int, default=10, help="events per delivery (1: a JSON object each)")
    args = parser.parse_args()
    with running_warroom(args.database, extra_env={"ALERT_WEBHOOK_TOKEN": TOKEN}) as env:
        result = asyncio.run(run(env, args.seconds, args.concurrency, args.services, args.batch))
    rate = result["events"] / result["elapsed"]  # type: ignore[operator]
    print(
        f"change ingestion, {args.database}, {args.seconds:.0f} s, {args.concurrency} senders x {args.batch} events: "
        f"{rate:.0f} events/s ({result['deliveries']} deliveries); delivery latency {summary(result['latencies'])}"  # type: ignore[arg-type]
    )
    lost = result["events"] - result["stored"]  # type: ignore[operator]
    print(
        f"events sent {result['events']}, stored {result['stored']} (lost {lost}); on a timeline: {result['timeline']}"
    )


if __name__ == "__main__":
    main()
