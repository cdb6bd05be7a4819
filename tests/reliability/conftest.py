"""The reliability suite: every scenario asserts exact counts of what exists afterwards
(incidents, channels, messages, timeline events, job runs). The in-process fixtures of the
end-to-end tests are shared; `serving` runs `warroom serve` as a real process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import sqlalchemy as sa
from sqlmodel import col

from bot.sim.driver import SlackDriver
from bot.sim.server import SlackSimulator
from bot.store.db import Database
from bot.store.tables import Incident, TimelineEvent, utcnow
from bot.store.work_tables import Job
from tests.conftest import SIGNING_SECRET
from tests.e2e.conftest import declared, general  # noqa: F401 (fixtures)


@dataclass(frozen=True)
class Census:
    """What exists, counted: the database and the simulated Slack."""

    incidents: int
    timeline: Counter[str]  # events by kind
    job_attempts: int
    jobs_failed: int
    channels: int  # incident channels
    messages: dict[str, int]  # messages per incident channel name
    pins: dict[str, int]
    announcements: int


async def census(db: Database, sim: SlackSimulator, *, prefix: str = "inc-") -> Census:
    async with db.sessions() as session:
        incidents = await session.scalar(sa.select(sa.func.count()).select_from(Incident))
        kinds = Counter(str(k) for k in await session.scalars(sa.select(col(TimelineEvent.kind))))
        attempts = await session.scalar(sa.select(sa.func.coalesce(sa.func.sum(col(Job.attempts)), 0)))
        failed = await session.scalar(
            sa.select(sa.func.count()).select_from(Job).where(col(Job.failed_at).is_not(None))
        )
    channels = [c for c in sim.channels.values() if c.name.startswith(prefix)]
    announce = sim.channel_named("incidents")
    return Census(
        incidents=incidents or 0,
        timeline=kinds,
        job_attempts=int(attempts or 0),
        jobs_failed=failed or 0,
        channels=len(channels),
        messages={c.name: len(c.messages) for c in channels},
        pins={c.name: len(c.pins) for c in channels},
        announcements=len(announce.messages) if announce else 0,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: asyncio.subprocess.Process
    http: httpx.AsyncClient
    slack: SlackDriver

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, whatever it was in the middle of."""
        self.process.kill()
        await self.process.wait()


@contextlib.asynccontextmanager
async def serving(env: dict[str, str], sim: SlackSimulator) -> AsyncIterator[Server]:
    """`warroom serve` in a process of its own, answering on a free port."""
    port = free_port()
    # Its log goes to WARROOM_SERVE_LOG when set (to see why a scenario failed).
    log = open(os.environ.get("WARROOM_SERVE_LOG", os.devnull), "ab")  # noqa: ASYNC230, SIM115 (once, at start; the child keeps its own copy)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        stdout=log,
        stderr=log,
    )
    log.close()  # the child has its own copy
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        try:
            await until(lambda: process.returncode is None, "the server stays up", probe=http)
            yield Server(process, http, SlackDriver(http, sim, SIGNING_SECRET))
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 15)
            if process.returncode is None:
                process.kill()
                await process.wait()


async def until(
    condition: Callable[[], bool], what: str, *, within: float = 30, probe: httpx.AsyncClient | None = None
) -> None:
    """Wait for `condition` (and, with `probe`, for the server to answer /healthz)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        ready = condition()
        if ready and probe is not None:
            try:
                ready = (await probe.get("/healthz")).status_code == 200
            except httpx.TransportError:
                ready = False
        if ready:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


async def settled(db: Database, *, within: float = 60) -> None:
    """Wait until no job is left to run (done or failed for good), as the servers run them.
    Jobs scheduled for later (a status update reminder, a post-mortem due in days, the hourly
    tracker reconcile) are not left to run now; one due within seconds is waited for."""
    soon = utcnow() + timedelta(seconds=30)
    pending = (
        sa.select(sa.func.count())
        .select_from(Job)
        .where(col(Job.done_at).is_(None), col(Job.failed_at).is_(None), col(Job.run_at) < soon)
    )
    for _ in range(int(within / 0.1)):
        async with db.sessions() as session:
            if not await session.scalar(pending):
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"jobs still pending after {within} s")
