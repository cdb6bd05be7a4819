"""A schema-driven fuzzer (schemathesis) against `warroom serve`: every operation in the
OpenAPI document, with valid and invalid inputs, authenticated and not: the webhooks with the
alert token, the API with a write token made by `warroom token create`. No input may produce
a 500."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from bot.sim.server import SlackSimulator
from bot.store.db import Database
from tests.conftest import ALERT_TOKEN
from tests.e2e.helpers import environment, run_warroom
from tests.reliability.conftest import serving


async def fuzz(url: str, token: str, paths: str, tmp_path: Path) -> str:
    schemathesis = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert schemathesis, "schemathesis is a dev dependency"
    fuzzer = await asyncio.create_subprocess_exec(
        schemathesis,
        "run",
        url,
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "40",
        "--generation-deterministic",
        "--include-path-regex",
        paths,
        "--header",
        f"Authorization: Bearer {token}",
        "--report-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,  # its caches stay out of the checkout
    )
    out, _ = await asyncio.wait_for(fuzzer.communicate(), timeout=300)
    report = out.decode()
    assert fuzzer.returncode == 0, report[-3000:]
    return report


@pytest.mark.processes
async def test_no_input_makes_a_500(db: Database, sim: SlackSimulator, tmp_path: Path) -> None:
    config = tmp_path / "warroom.yaml"
    config.write_text("api: {docs: true, rate_limit: 100000}\n")
    env = environment(db, sim, WARROOM_CONFIG=str(config))
    code, token, err = await run_warroom(env, "token", "create", "fuzzer", "--scope", "write")
    assert code == 0, err
    async with serving(env, sim) as server:
        url = f"{server.http.base_url}/openapi.json"
        reports = [
            await fuzz(url, ALERT_TOKEN, "^/webhooks/", tmp_path),
            await fuzz(url, token.strip(), "^/api/", tmp_path),
        ]
    print("\n".join(line for report in reports for line in report.splitlines()[-12:]))
