"""The commands an operator runs: `warroom incident ...` without Slack, and `warroom worker`
as a process of its own that projects what was committed."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.sim.server import SlackSimulator
from bot.store.db import Database
from tests.conftest import People
from tests.e2e.helpers import environment, run_warroom


@pytest.mark.processes
async def test_incident_commands_work_without_slack(
    db: Database, sim: SlackSimulator, people: People
) -> None:
    await sim.go_down()  # Slack is unreachable: the database is the source of truth
    env = environment(db, sim)
    code, out, err = await run_warroom(
        env, "incident", "declare", "Disk full on db-3", "--sev", "sev2", "--commander", people.alice
    )
    assert code == 0, err
    assert out.strip() == "Declared #1 SEV2: Disk full on db-3"

    code, out, _ = await run_warroom(env, "incident", "list", "--json")
    listed: list[dict[str, Any]] = json.loads(out)
    assert [(i["number"], i["status"], i["channel_id"], i["roles"]) for i in listed] == [
        (1, "investigating", None, {"commander": people.alice})
    ]
    code, out, _ = await run_warroom(env, "incident", "show", "1")
    assert code == 0 and "#1 Disk full on db-3" in out and "Declared SEV2: Disk full on db-3" in out

    code, _, err = await run_warroom(env, "incident", "declare", "  ")
    assert code == 1 and "needs a title" in err and "Traceback" not in err
    code, _, err = await run_warroom(env, "incident", "show", "42")
    assert code == 1 and "There is no incident #42." in err


@pytest.mark.processes
async def test_a_separate_worker_process_projects_committed_incidents(
    db: Database, sim: SlackSimulator, people: People
) -> None:
    sim.add_channel("incidents")
    env = environment(db, sim)
    code, _, err = await run_warroom(env, "incident", "declare", "Queue backlog", "--commander", people.bob)
    assert code == 0, err
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "worker", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        for _ in range(200):
            channel = sim.channel_named("inc-1-queue-backlog")
            if channel is not None and channel.pins:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the worker did not open the channel")
        assert people.bob in channel.members
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err_bytes = await asyncio.wait_for(worker.communicate(), timeout=10)
    assert worker.returncode == 0, err_bytes.decode()
    code, out, _ = await run_warroom(env, "incident", "show", "1", "--json")
    assert json.loads(out)["channel_id"] == channel.id

    await asyncio.sleep(1.1)  # every job done so far is older than a second
    code, out, err = await run_warroom(env, "db", "prune", "--older-than", "1s")
    # The channel's job, and the declarer's name lookup if the worker got to it before SIGTERM.
    assert code == 0 and out.strip() in {f"deleted {n} finished jobs and 0 delivery ids" for n in (1, 2)}, err
    code, out, err = await run_warroom(env, "jobs", "list")
    # What waits is what the worker scheduled as it started: the weekly report and digest.
    waiting = out.strip().splitlines()
    assert code == 0 and [line.split()[1:3] for line in waiting] == [["pending", "report.scheduled"]] * 2, err
    code, _, err = await run_warroom(env, "db", "prune", "--older-than", "soon")
    assert code == 1 and "--older-than" in err and "Traceback" not in err


@pytest.mark.processes
async def test_serve_refuses_to_start_without_slack_credentials_or_with_a_bad_config(
    db: Database, sim: SlackSimulator, tmp_path: Path
) -> None:
    env = {**environment(db, sim), "SLACK_BOT_TOKEN": ""}
    code, _, err = await run_warroom(env, "serve", "--port", "0")
    assert code == 1 and "SLACK_BOT_TOKEN must be set" in err and "Traceback" not in err

    config = tmp_path / "warroom.yaml"
    config.write_text("default_severity: SEV9\n")
    code, _, err = await run_warroom(
        {**environment(db, sim), "WARROOM_CONFIG": str(config)}, "serve", "--port", "0"
    )
    assert code == 1 and f"{config}: default_severity: 'SEV9' is not one of" in err
