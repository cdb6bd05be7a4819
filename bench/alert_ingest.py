"""Alert ingestion throughput and latency, sustained.

Senders post Alertmanager webhooks (payload v4) of `--batch` alerts each, spread over
`--groups` alert groups (one service each), for `--seconds`. Every 5th delivery resolves
alerts it fired before. Afterwards the database is checked: every alert sent is stored exactly
once (0 lost) and each group has exactly one incident (0 duplicate incidents).

    python -m bench.alert_ingest [--database sqlite|postgresql] [--seconds 30] [--concurrency 8]
                                 [--batch 10] [--groups 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

import aiohttp
import sqlalchemy as sa

from bench.harness import Running, running_warroom, summary
from bot.store.db import Database

TOKEN = "bench-alert-token"


def payload(group: int, fingerprints: list[str], status: str) -> bytes:
    alerts = [
        {
            "status": status,
            "labels": {
                "alertname": f"Bench{group}",
                "service": f"svc-{group}",
                "instance": fp,
                "severity": "critical",
            },
            "annotations": {"summary": f"Bench alert {fp}"},
            "startsAt": "2026-11-21T10:00:00Z",
            "endsAt": "2026-11-21T10:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": fp,
        }
        for fp in fingerprints
    ]
    return json.dumps(
        {
            "version": "4",
            "groupKey": f"{{}}:{{service=svc-{group}}}",
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "warroom",
            "groupLabels": {"service": f"svc-{group}"},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": alerts,
        }
    ).encode()


async def run(env: Running, seconds: float, concurrency: int, batch: int, groups: int) -> dict[str, object]:
    latencies: list[float] = []
    finished: list[float] = []  # when each delivery was answered, to show whether the rate holds
    sent: set[str] = set()
    counter = 0
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(
        base_url=env.url, connector=aiohttp.TCPConnector(limit=concurrency)
    ) as http:

        async def sender(me: int) -> None:
            nonlocal counter
            rng = random.Random(me)
            fired: list[tuple[int, list[str]]] = []
            while time.monotonic() < deadline:
                counter += 1
                if fired and counter % 5 == 0:
                    group, fingerprints = fired.pop(rng.randrange(len(fired)))
                    body = payload(group, fingerprints, "resolved")
                else:
                    group = rng.randrange(groups)
                    fingerprints = [f"s{me}-n{counter}-{i}" for i in range(batch)]
                    fired.append((group, fingerprints))
                    sent.update(fingerprints)
                    body = payload(group, fingerprints, "firing")
                started = time.perf_counter()
                async with http.post("/webhooks/alertmanager", data=body, headers=headers) as response:
                    await response.read()
                    assert response.status == 200, response.status
                latencies.append((time.perf_counter() - started) * 1000)
                finished.append(time.monotonic())

        began = time.monotonic()
        await asyncio.gather(*(sender(i) for i in range(concurrency)))
        elapsed = time.monotonic() - began

    db = Database(env.database_url)
    async with db.sessions() as session:
        stored = int(await session.scalar(sa.text("SELECT count(*) FROM alert")) or 0)
        incidents = int(await session.scalar(sa.text("SELECT count(*) FROM incident")) or 0)
        services = int(await session.scalar(sa.text("SELECT count(DISTINCT service) FROM incident")) or 0)
    await db.dispose()
    deliveries = len(latencies)
    alerts = deliveries * batch
    return {
        "deliveries": deliveries,
        "alerts": alerts,
        "elapsed": elapsed,
        "windows": _per_window(finished, began, batch),
        "latencies": latencies,
        "lost": len(sent) - stored,
        "duplicate_incidents": incidents - services,
        "incidents": incidents,
    }


def _per_window(finished: list[float], began: float, batch: int, width: float = 5.0) -> list[int]:
    """Alerts per second in each `width`-second window of the run."""
    counts: dict[int, int] = {}
    for at in finished:
        window = int((at - began) // width)
        counts[window] = counts.get(window, 0) + 1
    return [round(counts.get(w, 0) * batch / width) for w in range(max(counts, default=-1) + 1)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=10, help="alerts per webhook delivery")
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--separate-worker", action="store_true")
    args = parser.parse_args()
    with running_warroom(
        args.database, separate_worker=args.separate_worker, extra_env={"ALERT_WEBHOOK_TOKEN": TOKEN}
    ) as env:
        result = asyncio.run(run(env, args.seconds, args.concurrency, args.batch, args.groups))
    rate = result["alerts"] / result["elapsed"]  # type: ignore[operator]
    print(
        f"alert ingestion, {args.database}, {args.seconds:.0f} s, {args.concurrency} senders x {args.batch} alerts/delivery: "
        f"{rate:.0f} alerts/s ({result['deliveries']} deliveries); delivery latency {summary(result['latencies'])}"  # type: ignore[arg-type]
    )
    print(f"alerts/s per 5 s window: {' '.join(str(r) for r in result['windows'])}")  # type: ignore[attr-defined]
    print(
        f"lost alerts: {result['lost']}; duplicate incidents: {result['duplicate_incidents']} "
        f"({result['incidents']} incidents for {args.groups} groups)"
    )


if __name__ == "__main__":
    main()
