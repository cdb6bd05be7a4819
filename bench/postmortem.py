"""Post-mortem draft for an incident with 10,000 timeline events (target < 1 s).

Measures PostmortemService.generate end to end: read everything the incident recorded, render
Markdown and HTML, store the new version, write both files. Run by hand:

    python -m bench.postmortem [--database sqlite|postgresql] [--events 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import timedelta

from bench.harness import discard_database, fresh_database, summary
from bot.config import Settings, WarroomConfig
from bot.services.bundle import build_services
from bot.services.timeline import INSERT_TIMELINE_EVENT
from bot.store.db import Database


async def main(kind: str, events: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(fresh_database(kind, tmp))
        await db.migrate()
        config = WarroomConfig()
        settings = Settings(_env_file=None, runbooks_dir="", postmortem_dir=f"{tmp}/postmortems")  # type: ignore[call-arg]
        services = build_services(settings, config, db)
        incident = await services.incidents.declare(
            title="Checkout API returns 500s", reporter="U0ALICE", commander="U0ALICE"
        )
        number = incident.number or 0
        start = incident.declared_at
        rows = [
            services.timeline.row(
                number,
                "note" if i % 3 else "alert",
                "U0BOB",
                f"Entry {i}: error rate at {i % 97}% *still* <high>",
                start + timedelta(seconds=i),
            )
            for i in range(events)
        ]
        async with db.transaction() as session:
            await session.execute(INSERT_TIMELINE_EVENT, rows)
        service = services.postmortems
        timings = []
        for _ in range(runs):
            began = time.perf_counter()
            draft, _ = await service.generate(number, "bench")
            timings.append((time.perf_counter() - began) * 1000)
        print(f"{kind}: post-mortem of {events} timeline events, {runs} runs: {summary(timings)}")
        print(
            f"  draft v{draft.version}: {len(draft.markdown) / 1e6:.1f} MB Markdown, {len(draft.html) / 1e6:.1f} MB HTML"
        )
        await discard_database(db, kind)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.database, args.events, args.runs))
