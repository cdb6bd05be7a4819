"""Declares against a Slack that keeps its real rate limits (a 60-second minute: Tier 2
methods such as conversations.create and pins.add allow 20 calls in it), answering in 50 ms.
warroom's budget counts in the same real minute (SLACK_RATE_PERIOD=60).

quiet: ten declares within ten seconds (one a second) on a quiet workspace. Each channel
       should be ready (created, reporter invited, summary pinned) within 1 s of its declare.
storm: forty SEV4 incidents from an alert storm at once, then, once the storm has spent the
       minute's channel creations, a SEV1 declared by a person. The SEV1's channel should be
       ready within 2 s; the SEV4 channels follow at Slack's pace (about three minutes).

replicas: three `serve` processes on one PostgreSQL database, no SLACK_RATE_SHARE, and sixty
       declares by sixty people spread across them at once. The busiest minute of each Tier 2
       method at the simulator should hold at most 20 calls.

All count the 429s the simulator answered (there should be none).

    python -m bench.declare_burst [--database sqlite|postgresql] [--scenario quiet|storm|replicas]
                                  [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

from bench.harness import SECRET, Running, running_warroom, summary
from bot.sim.driver import SlackDriver, signed_headers

MINUTE = 60.0
ALERT_TOKEN = "bench-alert-token"
STORM = 40


def ready_at(env: Running, name: str, person: str) -> float | None:
    """When the channel called `name` became ready: the later of the simulator's answers to
    pins.add and to the reporter's invite (None while it is not)."""
    channel = env.sim.channel_named(name)
    if channel is None:
        return None
    with env.sim.lock:
        answers = {
            c.method: c.at
            for c in env.sim.calls
            if c.args.get("channel") == channel.id
            and not c.error
            and (c.method == "pins.add" or (c.method == "conversations.invite" and person in str(c.args)))
        }
    return max(answers.values()) if len(answers) == 2 else None


async def declare(
    http: aiohttp.ClientSession, slack: SlackDriver, person: str, channel: str, text: str
) -> float:
    body = slack.command_body(person, f"declare {text}", channel)
    started = time.monotonic()
    async with http.post(
        "/slack/events", data=body, headers=signed_headers(SECRET, body, "application/x-www-form-urlencoded")
    ) as response:
        assert response.status == 200, await response.text()
    return started


async def until_ready(env: Running, name: str, person: str, within: float) -> float:
    deadline = time.monotonic() + within
    while (at := ready_at(env, name, person)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} was not ready within {within:.0f} s")
        await asyncio.sleep(0.005)
    return at


async def until_pinned(env: Running, count: int, *, since: float, within: float) -> None:
    """Until `count` incident channels hold their pinned summary and the simulator has
    recorded every pin's answer (a pin shows on its channel 50 ms before that)."""

    def pinned() -> int:
        return sum(1 for c in env.sim.channels.values() if c.name.startswith("inc-") and c.pins)

    while pinned() < count or env.sim.count("pins.add") < count:
        if time.monotonic() - since > within:
            raise RuntimeError(f"only {pinned()} of {count} channels after {within:.0f} s")
        await asyncio.sleep(0.2)


async def quiet(env: Running) -> None:
    alice = env.sim.add_user("alice")
    general = env.sim.add_channel("general")
    slack = SlackDriver(None, env.sim, SECRET)  # type: ignore[arg-type]
    ready_ms: list[float] = []
    async with aiohttp.ClientSession(base_url=env.url) as http:
        first = time.monotonic()
        for number in range(1, 11):
            await asyncio.sleep(max(0.0, first + (number - 1) - time.monotonic()))  # one a second
            started = await declare(http, slack, alice, general, f"sev2 Quiet minute {number}")
            at = await until_ready(env, f"inc-{number}-quiet-minute-{number}", alice, within=MINUTE)
            ready_ms.append((at - started) * 1000)
        spread = time.monotonic() - first
    print(f"ten declares in {spread:.1f} s, declare -> channel ready: {summary(ready_ms)}")
    print("per declare: " + " · ".join(f"{ms:.0f}" for ms in ready_ms) + " ms")
    print(f"within 1 s: {sum(ms < 1000 for ms in ready_ms)}/10")


async def storm(env: Running) -> None:
    carol = env.sim.add_user("carol")
    general = env.sim.add_channel("general")
    slack = SlackDriver(None, env.sim, SECRET)  # type: ignore[arg-type]
    alerts = [
        json.dumps(
            {
                "title": f"Disk full on db-{i}",
                "status": "firing",
                "dedup_key": f"disk-{i}",
                "severity": "SEV4",
            }
        )
        for i in range(STORM)
    ]
    headers = {"Authorization": f"Bearer {ALERT_TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(base_url=env.url) as http:
        began = time.monotonic()

        async def send(alert: str) -> None:
            async with http.post("/webhooks/generic", data=alert, headers=headers) as response:
                assert response.status == 200, await response.text()

        await asyncio.gather(*(send(alert) for alert in alerts))
        while env.sim.count("conversations.create", ok=True) < 18:  # noqa: ASYNC110 (simulator thread)
            await asyncio.sleep(0.01)
        spent = time.monotonic() - began
        started = await declare(http, slack, carol, general, "sev1 Payments are down")
        sev1 = f"inc-{STORM + 1}-payments-are-down"
        at = await until_ready(env, sev1, carol, within=MINUTE)
        print(
            f"storm of {STORM} SEV4s spent the minute's channel creations in {spent:.1f} s; "
            f"the SEV1 declared then had its channel ready in {(at - started) * 1000:.0f} ms"
        )

        await until_pinned(env, STORM + 1, since=began, within=5 * MINUTE)
    with env.sim.lock:
        pinned = sorted(c.at - began for c in env.sim.calls if c.method == "pins.add" and not c.error)
    minutes = [sum(1 for t in pinned if m * MINUTE <= t < (m + 1) * MINUTE) for m in range(4)]
    print(
        f"{len(pinned)} summaries pinned; in each minute since the storm: {minutes} "
        f"(the last at {pinned[-1]:.1f} s)"
    )


async def replicas(env: Running, count: int = 60) -> None:
    people = [env.sim.add_user(f"responder{i}") for i in range(count)]
    general = env.sim.add_channel("general")
    slack = SlackDriver(None, env.sim, SECRET)  # type: ignore[arg-type]
    sessions = [aiohttp.ClientSession(base_url=url) for url in env.urls]
    try:
        began = time.monotonic()
        await asyncio.gather(
            *(
                declare(sessions[i % len(sessions)], slack, person, general, f"sev2 Shard {i} is down")
                for i, person in enumerate(people)
            )
        )
        await until_pinned(env, count, since=began, within=6 * MINUTE)
        took = time.monotonic() - began
    finally:
        for session in sessions:
            await session.close()
    busiest = {
        method: env.sim.busiest(method, MINUTE)
        for method in ("conversations.create", "conversations.setTopic", "pins.add", "conversations.invite")
    }
    print(f"{count} declares over {len(env.urls)} replicas: every channel ready after {took:.1f} s")
    print(f"the busiest minute of each method at the simulator: {busiest} (Tier 2: 20, Tier 3: 50)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--scenario", choices=["quiet", "storm", "replicas"], default="quiet")
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds the simulator adds to every call"
    )
    args = parser.parse_args()
    env_vars = {"SLACK_RATE_PERIOD": str(MINUTE), "ALERT_WEBHOOK_TOKEN": ALERT_TOKEN}
    if args.scenario == "replicas":  # three processes under PostgreSQL's default 100 connections
        env_vars["DATABASE_POOL_SIZE"] = "20"
    if args.scenario == "replicas" and args.database != "postgresql":
        parser.error("replicas share a PostgreSQL database: --database postgresql")
    scenarios = {"quiet": quiet, "storm": storm, "replicas": replicas}
    count = 3 if args.scenario == "replicas" else 1
    with running_warroom(args.database, latency=args.latency, extra_env=env_vars, replicas=count) as env:
        env.sim.rate_period = MINUTE  # the simulator enforces Slack's limits, and counts
        asyncio.run(scenarios[args.scenario](env))
        limited = [c.method for c in env.sim.calls if c.status == 429]
    print(
        f"{args.database}, Slack latency {args.latency * 1000:.0f} ms: {len(limited)} answers 429 {sorted(set(limited))}"
    )


if __name__ == "__main__":
    main()
