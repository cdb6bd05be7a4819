"""Time from /incident declare to a ready channel, with Slack answering in 50 ms.

Ready means: channel created, reporter invited, summary posted and pinned. The target is
<= 180 ms, i.e. three sequential Slack round trips: create the channel; then invite, post,
set the topic and announce at once; then pin. Declares are sent one at a time, so this is
the latency a person sees, not a throughput figure.

    python -m bench.channel_ready [--database sqlite|postgresql] [--count 30] [--latency 0.05]
                                [--separate-worker]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp

from bench.harness import SECRET, Running, running_warroom, summary
from bot.sim.driver import SlackDriver, signed_headers


async def run(env: Running, count: int) -> tuple[list[float], list[int]]:
    alice = env.sim.add_user("alice")
    general = env.sim.add_channel("general")
    slack = SlackDriver(None, env.sim, SECRET)  # type: ignore[arg-type]
    ready_ms: list[float] = []
    invited_ok: list[int] = []
    async with aiohttp.ClientSession(base_url=env.url) as http:
        for number in range(1, count + 1):
            body = slack.command_body(alice, f"declare sev2 Ready bench {number}", general)
            headers = signed_headers(SECRET, body, "application/x-www-form-urlencoded")
            started = time.monotonic()
            async with http.post("/slack/events", data=body, headers=headers) as response:
                assert response.status == 200 and f"#{number}" in await response.text()
            name = f"inc-{number}-ready-bench-{number}"
            while (pinned_at := pin_answered(env, name)) is None:  # noqa: ASYNC110 (simulator thread)
                await asyncio.sleep(0.001)
            channel = env.sim.channel_named(name)
            assert channel is not None
            ready_ms.append((pinned_at - started) * 1000)
            invited_ok.append(int(alice in channel.members))
    return ready_ms, invited_ok


def pin_answered(env: Running, name: str) -> float | None:
    """When the simulator answered pins.add for the channel called `name`, if it has."""
    channel = env.sim.channel_named(name)
    if channel is None:
        return None
    with env.sim.lock:
        return next(
            (
                c.at
                for c in env.sim.calls
                if c.method == "pins.add" and c.args.get("channel") == channel.id and not c.error
            ),
            None,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument(
        "--latency", type=float, default=0.05, help="seconds the simulator adds to every call"
    )
    parser.add_argument(
        "--separate-worker", action="store_true", help="serve --no-worker plus warroom worker"
    )
    args = parser.parse_args()
    with running_warroom(args.database, latency=args.latency, separate_worker=args.separate_worker) as env:
        ready, invited = asyncio.run(run(env, args.count))
        calls = {
            m: env.sim.count(m)
            for m in (
                "conversations.create",
                "conversations.invite",
                "chat.postMessage",
                "conversations.setTopic",
                "pins.add",
            )
        }
    mode = "separate worker" if args.separate_worker else "worker in serve"
    print(
        f"declare -> channel ready, Slack latency {args.latency * 1000:.0f} ms, {args.database}, {mode}: {summary(ready)}"
    )
    print(f"reporter invited in {sum(invited)}/{len(invited)} channels; Slack calls: {calls}")


if __name__ == "__main__":
    main()
