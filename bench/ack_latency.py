"""Acknowledgement latency of /incident declare: 200 declares at concurrency 20.

Slack gives an app 3,000 ms to answer; warroom's target is p99 < 100 ms. The answer is sent
after the incident, its timeline and its Slack job are committed, so this measures the whole
write path, with the worker projecting earlier incidents into the simulator at the same time.

    python -m bench.ack_latency [--database sqlite|postgresql] [--count 200] [--concurrency 20]
                                [--separate-worker]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp

from bench.harness import SECRET, Running, running_warroom, summary
from bot.sim.driver import SlackDriver, signed_headers


async def run(env: Running, count: int, concurrency: int) -> list[float]:
    people = [env.sim.add_user(f"user{i}") for i in range(concurrency)]
    general = env.sim.add_channel("general")
    # The driver only builds and signs bodies here; aiohttp sends them (httpx's own overhead
    # at this concurrency would dominate what we want to measure).
    slack = SlackDriver(None, env.sim, SECRET)  # type: ignore[arg-type]
    bodies = [
        slack.command_body(people[i % concurrency], f"declare sev3 Bench incident {i}", general)
        for i in range(count)
    ]
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url=env.url, connector=connector) as http:

        async def declare(body: bytes) -> float:
            headers = signed_headers(SECRET, body, "application/x-www-form-urlencoded")
            started = time.perf_counter()
            async with http.post("/slack/events", data=body, headers=headers) as response:
                text = await response.text()
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status == 200 and "Declared" in text, text
            return elapsed

        # Warm-up: open the HTTP and database connections and fill their statement caches,
        # as a server that has been running for a while has.
        warm_up = [
            slack.command_body(people[0], f"declare sev4 warm-up {i}", general)
            for i in range(5 * concurrency)
        ]
        for start in range(0, len(warm_up), concurrency):
            await asyncio.gather(*(declare(b) for b in warm_up[start : start + concurrency]))
        # Start from a steady state: let the worker finish projecting the warm-up incidents.
        while env.sim.count("pins.add") < len(warm_up):  # noqa: ASYNC110 (simulator thread)
            await asyncio.sleep(0.05)
        queue = list(reversed(bodies))

        async def client() -> None:
            while queue:
                latencies.append(await declare(queue.pop()))

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--separate-worker", action="store_true", help="serve --no-worker plus warroom worker"
    )
    args = parser.parse_args()
    with running_warroom(args.database, separate_worker=args.separate_worker) as env:
        latencies = asyncio.run(run(env, args.count, args.concurrency))
    mode = "separate worker" if args.separate_worker else "worker in serve"
    print(
        f"ack latency, {args.count} declares at concurrency {args.concurrency}, {args.database}, {mode}: "
        f"{summary(latencies)}"
    )


if __name__ == "__main__":
    main()
