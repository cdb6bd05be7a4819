"""Shared set-up for the benchmarks: the Slack simulator on a thread of its own, `warroom
serve` in a child process (as in production), and a signed Slack driver aimed at it."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.sim.server import SlackSimulator
from bot.sim.slack_model import BOT_TOKEN

SECRET = "bench-signing-secret"


@dataclass
class Running:
    sim: SlackSimulator
    url: str  # the first `serve`
    database_url: str
    urls: list[str]  # every `serve`, with replicas


def _die_with_parent() -> None:
    """Child processes get SIGTERM when the benchmark process dies, however it dies."""
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_database(kind: str, directory: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{Path(directory) / 'bench.db'}"
    name = f"warroom_bench_{os.getpid()}"
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'DROP DATABASE IF EXISTS "{name}"'], check=True
    )
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'CREATE DATABASE "{name}"'], check=True
    )
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


@contextmanager
def running_warroom(
    database: str,
    *,
    latency: float = 0.0,
    separate_worker: bool = False,
    extra_env: dict[str, str] | None = None,
    replicas: int = 1,
) -> Iterator[Running]:
    """`warroom serve` as a child process; with `separate_worker`, `serve --no-worker` plus
    `warroom worker` in a second process; with `replicas`, that many `serve` processes on one
    (PostgreSQL) database."""
    # The simulator shares this process with the load generator: switch threads promptly so
    # neither adds whole 5 ms GIL slices to the other's timings.
    sys.setswitchinterval(0.0005)
    sim = SlackSimulator(latency=latency).start_in_thread()
    sim.add_channel("incidents")
    ports = [free_port() for _ in range(replicas)]
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        database_url = fresh_database(database, tmp)
        # The load generator plays a few people declaring hundreds of incidents, far past
        # the per-person declare budget that protects a real workspace (warroom.yaml limits);
        # serve reads ./warroom.yaml from its working directory.
        (Path(tmp) / "warroom.yaml").write_text("limits: {declares_per_user: 1000000}\n")
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": sim.api_url,
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "warning",
            "SLACK_RATE_PERIOD": "0.1",  # load far beyond Slack's limits, against the simulator
            **(extra_env or {}),
        }
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        servers: list[subprocess.Popen[bytes]] = []
        worker = None
        try:
            for url, port in zip(urls, ports, strict=True):  # one after another: each migrates first
                serve = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)]
                command = [*serve, "--no-worker"] if separate_worker else serve
                servers.append(subprocess.Popen(command, env=env, cwd=tmp, preexec_fn=_die_with_parent))
                if separate_worker and worker is None:
                    worker = subprocess.Popen(
                        [sys.executable, "-m", "bot", "worker"], env=env, cwd=tmp, preexec_fn=_die_with_parent
                    )
                _wait_until_up(url, servers[-1])
            yield Running(sim, urls[0], database_url, urls)
        finally:
            for process in (*servers, worker):
                if process is not None:
                    process.terminate()
                    process.wait(10)
            sim.stop_thread()
            if database != "sqlite":
                drop_database(database_url)


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("warroom serve did not start")
        time.sleep(0.1)


async def discard_database(db: Any, kind: str) -> None:
    """Close a benchmark's database and, on PostgreSQL, drop it."""
    await db.dispose()
    if kind == "postgresql":
        drop_database(db.url)


def drop_database(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-qc",
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
        ],
        check=False,
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(values_ms: list[float]) -> str:
    return (
        f"n={len(values_ms)} p50={percentile(values_ms, 50):.1f} ms p90={percentile(values_ms, 90):.1f} ms "
        f"p99={percentile(values_ms, 99):.1f} ms max={max(values_ms):.1f} ms mean={statistics.fmean(values_ms):.1f} ms"
    )
