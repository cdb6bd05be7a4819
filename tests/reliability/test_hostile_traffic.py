"""Finding 10 and the flood of issue 12, against `warroom serve` as a real process: a flood
of unsigned 10 MiB bodies, hundreds of connections that send nothing (or their headers a
byte at a time), a body trickled into /slack/events. A signed declare is acknowledged within
3 s all the while, its channel is made (the worker does not wait for the trickle), and the
silent connections are closed by the server."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest

from bot.sim.server import SlackSimulator
from bot.store.db import Database
from tests.conftest import People
from tests.e2e.helpers import environment
from tests.reliability.conftest import serving, until

HALF_OPEN = 400
FLOODERS = 8
FLOOD_SECONDS = 6.0
TEN_MIB = 10 * 1024 * 1024


async def half_open(port: int, partial: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if partial:
        writer.write(partial)
        await writer.drain()
    return reader, writer


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    with contextlib.suppress(ConnectionError):
        return await asyncio.wait_for(reader.read(), 8) == b""
    return True


async def flood(base_url: str, stop: float) -> int:
    """Unsigned 10 MiB bodies, as fast as the server takes them, until `stop`."""
    sent = 0
    body = b"x" * TEN_MIB
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        while time.monotonic() < stop:
            with contextlib.suppress(httpx.HTTPError):
                await client.post("/slack/events", content=body, headers={"Content-Type": "application/json"})
            sent += 1
    return sent


@pytest.mark.processes
async def test_a_signed_declare_is_acknowledged_through_a_flood(
    db: Database, sim: SlackSimulator, people: People
) -> None:
    general = sim.channel_named("general")
    assert general is not None
    async with serving(environment(db, sim, REQUEST_TIMEOUT="2"), sim) as server:
        port = int(server.http.base_url.port or 0)
        silent = [await half_open(port, b"") for _ in range(HALF_OPEN // 2)]
        slowloris = [
            await half_open(port, b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")
            for _ in range(HALF_OPEN // 2)
        ]
        trickle_reader, trickle = await half_open(
            port,
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000\r\n\r\n{",
        )
        stop = time.monotonic() + FLOOD_SECONDS
        flooding = [asyncio.create_task(flood(str(server.http.base_url), stop)) for _ in range(FLOODERS)]
        await asyncio.sleep(1)

        acks = []
        for i in range(3):
            began = time.monotonic()
            answer = await server.slack.command(people.alice, f"declare sev2 Real incident {i}", general.id)
            acks.append(time.monotonic() - began)
            assert answer.status_code == 200 and "Declared" in answer.json()["text"]
            await asyncio.sleep(0.5)
        # The worker made the channels while the flood and the trickle went on.
        await until(lambda: sum(c.name.startswith("inc-") for c in sim.channels.values()) == 3, "channels")
        sent = sum(await asyncio.gather(*flooding))

        cut_off = await asyncio.wait_for(trickle_reader.read(200), 8)  # the body did not arrive within 2 s
        assert cut_off.startswith(b"HTTP/1.1 408"), cut_off
        trickle.close()
        closed = await asyncio.gather(*(closed_by_server(r) for r, _ in silent + slowloris))
        for _, writer in silent + slowloris:
            writer.close()
        assert all(closed)
        print(f"flood: {sent} unsigned 10 MiB bodies, {HALF_OPEN} silent connections; acks {acks}")
        assert max(acks) < 3.0, acks
        assert (await server.http.get("/healthz")).status_code == 200
